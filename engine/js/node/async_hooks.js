// node:async_hooks: AsyncLocalStorage and AsyncResource, as Workers has
// them. The current frame (a frozen Map of storage -> store) rides in the
// context's continuation-preserved data, which V8 carries into every promise
// reaction made while it is set (await, then, queueMicrotask, so
// process.nextTick and node:stream's callbacks); setTimeout and setInterval
// capture and restore it themselves (engine/js/timers.js). The engine keeps
// the request's id beside it and starts every turn without a frame.
'use strict';

const EMPTY = Object.freeze(new Map());

function currentFrame() {
  return internals.getFrame() ?? EMPTY;
}

function runInFrame(frame, fn, thisArg, args) {
  const previous = internals.getFrame();
  internals.setFrame(frame === EMPTY ? undefined : frame);
  try {
    return Reflect.apply(fn, thisArg, args);
  } finally {
    internals.setFrame(previous);
  }
}

function withStore(frame, storage, store) {
  const next = new Map(frame);
  next.set(storage, store);
  return Object.freeze(next);
}

class AsyncLocalStorage {
  #enabled = true;

  run(store, callback, ...args) {
    if (typeof callback !== 'function') throw new TypeError('The "callback" argument must be a function');
    this.#enabled = true;
    return runInFrame(withStore(currentFrame(), this, store), callback, undefined, args);
  }

  exit(callback, ...args) {
    if (typeof callback !== 'function') throw new TypeError('The "callback" argument must be a function');
    const next = new Map(currentFrame());
    next.delete(this);
    return runInFrame(Object.freeze(next), callback, undefined, args);
  }

  getStore() {
    if (!this.#enabled) return undefined;
    return currentFrame().get(this);
  }

  // Until the current turn ends (each turn of a request starts with none).
  enterWith(store) {
    this.#enabled = true;
    internals.setFrame(withStore(currentFrame(), this, store));
  }

  disable() {
    this.#enabled = false;
  }

  static bind(fn) {
    return AsyncResource.bind(fn);
  }

  static snapshot() {
    const frame = currentFrame();
    return (fn, ...args) => runInFrame(frame, fn, undefined, args);
  }
}

class AsyncResource {
  #frame;

  constructor(type, options) {
    if (typeof type !== 'string') throw new TypeError('The "type" argument must be of type string');
    this.type = type;
    this.#frame = currentFrame();
  }

  runInAsyncScope(fn, thisArg, ...args) {
    return runInFrame(this.#frame, fn, thisArg, args);
  }

  bind(fn, thisArg) {
    if (typeof fn !== 'function') throw new TypeError('The "fn" argument must be of type function');
    const resource = this;
    const bound = function (...args) {
      return resource.runInAsyncScope(fn, thisArg === undefined ? this : thisArg, ...args);
    };
    Object.defineProperty(bound, 'length', { value: fn.length, configurable: true });
    Object.defineProperty(bound, 'asyncResource', { value: this, configurable: true, enumerable: true });
    return bound;
  }

  static bind(fn, type, thisArg) {
    return new AsyncResource(type || fn.name || 'bound-anonymous-fn').bind(fn, thisArg);
  }

  emitDestroy() {
    return this;
  }

  asyncId() {
    return 0;
  }

  triggerAsyncId() {
    return 0;
  }
}

function createHook() {
  return { enable() { return this; }, disable() { return this; } };
}

module.exports = {
  AsyncLocalStorage,
  AsyncResource,
  createHook,
  executionAsyncId: () => 0,
  triggerAsyncId: () => 0,
  executionAsyncResource: () => ({}),
};
