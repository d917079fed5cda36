// node:console, as Node's and Workers': the global console's methods and
// Console, whose instances write where the global console does (the
// streams it is given are not written: there is no stdout to reach).
'use strict';
const target = globalThis.console;
const methods = ['log', 'info', 'warn', 'error', 'debug', 'trace', 'dir', 'dirxml', 'table', 'time', 'timeEnd',
  'timeLog', 'group', 'groupCollapsed', 'groupEnd', 'count', 'countReset', 'assert', 'clear',
  'profile', 'profileEnd', 'timeStamp'];
const out = {};
for (const name of methods) {
  out[name] = (...args) => (typeof target[name] === 'function' ? target[name](...args) : undefined);
}

function Console() {
  if (!new.target) return new Console();
  Object.assign(this, out);
}
out.Console = Console;
module.exports = out;
