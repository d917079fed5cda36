// node:timers: the global timers, and setImmediate (a timer of 0 ms here,
// as Workers makes it) with the AsyncLocalStorage frame kept like theirs.
'use strict';

function setImmediate(callback, ...args) {
  if (typeof callback !== 'function') {
    throw new TypeError('The "callback" argument must be of type function');
  }
  return setTimeout(callback, 0, ...args);
}

function clearImmediate(id) {
  clearTimeout(id);
}

module.exports = {
  setTimeout: (...args) => setTimeout(...args),
  clearTimeout: (id) => clearTimeout(id),
  setInterval: (...args) => setInterval(...args),
  clearInterval: (id) => clearInterval(id),
  setImmediate,
  clearImmediate,
};
Object.defineProperty(module.exports, 'promises', {
  enumerable: true,
  get: () => require('node:timers/promises'),
});
