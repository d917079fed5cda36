// node:events: Debian's node-events (Node's EventEmitter as a package),
// plus the helpers of Node's module that package has not.
'use strict';
const EventEmitter = require('events/events.js');

EventEmitter.errorMonitor = Symbol.for('events.errorMonitor');
EventEmitter.captureRejectionSymbol = Symbol.for('nodejs.rejection');
EventEmitter.captureRejections = false;

EventEmitter.getEventListeners = function getEventListeners(emitter, name) {
  if (typeof emitter.listeners === 'function') return emitter.listeners(name);
  throw new TypeError('getEventListeners: not an EventEmitter');
};

EventEmitter.setMaxListeners = function setMaxListeners(n = 10, ...emitters) {
  if (emitters.length === 0) {
    EventEmitter.defaultMaxListeners = n;
    return;
  }
  for (const emitter of emitters) {
    if (typeof emitter.setMaxListeners === 'function') emitter.setMaxListeners(n);
  }
};

EventEmitter.listenerCount = function listenerCount(emitter, name) {
  return emitter.listenerCount(name);
};

// events.on(emitter, name): an async iterator of the arguments of each event.
EventEmitter.on = function on(emitter, name) {
  const queued = [];
  const waiting = [];
  let failure = null;
  let done = false;
  const onEvent = (...args) => {
    if (waiting.length > 0) waiting.shift().resolve({ value: args, done: false });
    else queued.push(args);
  };
  const onError = (error) => {
    done = true;
    if (waiting.length > 0) waiting.shift().reject(error);
    else failure = error;
    stop();
  };
  const stop = () => {
    emitter.removeListener(name, onEvent);
    if (name !== 'error') emitter.removeListener('error', onError);
  };
  emitter.on(name, onEvent);
  if (name !== 'error') emitter.on('error', onError);
  return {
    next() {
      if (queued.length > 0) return Promise.resolve({ value: queued.shift(), done: false });
      if (failure !== null) {
        const error = failure;
        failure = null;
        return Promise.reject(error);
      }
      if (done) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
    return() {
      done = true;
      stop();
      for (const w of waiting.splice(0)) w.resolve({ value: undefined, done: true });
      return Promise.resolve({ value: undefined, done: true });
    },
    throw(error) {
      onError(error);
      return Promise.reject(error);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
};

EventEmitter.getMaxListeners = function getMaxListeners(emitterOrTarget) {
  if (typeof emitterOrTarget.getMaxListeners === 'function') return emitterOrTarget.getMaxListeners();
  return EventEmitter.defaultMaxListeners;
};

// Calls listener once when signal aborts (at once if it has); the answer's
// Symbol.dispose removes it.
EventEmitter.addAbortListener = function addAbortListener(signal, listener) {
  if (signal === undefined || typeof signal.addEventListener !== 'function') {
    throw new TypeError('The "signal" argument must be an instance of AbortSignal');
  }
  if (typeof listener !== 'function') throw new TypeError('The "listener" argument must be of type function');
  const remove = () => signal.removeEventListener('abort', listener);
  if (signal.aborted) queueMicrotask(() => listener());
  else signal.addEventListener('abort', listener, { once: true });
  return { __proto__: null, [Symbol.dispose]: remove };
};

module.exports = EventEmitter;
