// node:timers/promises: setTimeout, setImmediate and setInterval as
// promises (an AbortSignal in options cancels them).
'use strict';

function abortError(signal) {
  const error = new Error('The operation was aborted');
  error.name = 'AbortError';
  error.code = 'ABORT_ERR';
  error.cause = signal.reason;
  return error;
}

function delayed(ms, value, options = {}) {
  const signal = options && options.signal;
  if (signal && signal.aborted) return Promise.reject(abortError(signal));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(id);
      reject(abortError(signal));
    };
    const id = setTimeout(() => {
      if (signal) signal.removeEventListener('abort', onAbort);
      resolve(value);
    }, ms);
    if (signal) signal.addEventListener('abort', onAbort, { once: true });
  });
}

async function* setIntervalIterator(ms, value, options = {}) {
  while (true) yield await delayed(ms, value, options);
}

module.exports = {
  setTimeout: (ms, value, options) => delayed(ms, value, options),
  setImmediate: (value, options) => delayed(0, value, options),
  setInterval: (ms, value, options) => setIntervalIterator(ms, value, options),
  scheduler: {
    wait: (ms, options) => delayed(ms, undefined, options),
    yield: () => delayed(0),
  },
};
