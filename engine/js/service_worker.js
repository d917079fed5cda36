// The service-worker format: addEventListener('fetch', e => e.respondWith(...)).
// The engine calls installServiceWorker() before running such a script; it
// returns an object shaped like a module's default export, so invoke()
// serves both formats the same way.

class FetchEvent {
  #request;
  #ctx;
  #responded = false;
  #response;

  constructor(token, request, ctx) {
    if (token !== INTERNAL) throw new TypeError('Illegal constructor');
    this.#request = request;
    this.#ctx = ctx;
  }

  get type() {
    return 'fetch';
  }

  get request() {
    return this.#request;
  }

  respondWith(response) {
    if (this.#responded) throw new TypeError('respondWith() was already called');
    this.#responded = true;
    this.#response = response;
  }

  waitUntil(promise) {
    this.#ctx.waitUntil(promise);
  }

  passThroughOnException() {
    this.#ctx.passThroughOnException();
  }

  static responseOf(event) {
    return event.#responded ? { response: event.#response } : null;
  }
}
setToStringTag(FetchEvent.prototype, 'FetchEvent');
defineGlobal('FetchEvent', FetchEvent);

function installServiceWorker() {
  // The script's 'fetch' listeners: a list of the runtime's, walked by
  // index, so no Array.prototype method a tenant replaced is called on it.
  let listeners = listNew();

  // 'fetch' listeners are the script's handler; other types go to the
  // global scope's target (global_scope.js).
  defineGlobal('addEventListener', function addEventListener(type, listener) {
    if (toDOMString(type) !== 'fetch') {
      return ReflectApply(EventTargetPrototypeAddEventListener, globalEventTarget, arguments);
    }
    if (listener == null) return undefined;
    if (!ArrayPrototypeIncludes(listeners, listener)) listPush(listeners, listener);
    return undefined;
  });
  defineGlobal('removeEventListener', function removeEventListener(type, listener) {
    if (toDOMString(type) !== 'fetch') {
      return ReflectApply(EventTargetPrototypeRemoveEventListener, globalEventTarget, arguments);
    }
    const kept = listNew();
    for (let i = 0; i < listeners.length; i++) if (listeners[i] !== listener) listPush(kept, listeners[i]);
    listeners = kept;
    return undefined;
  });

  return {
    fetch(request, env, ctx) {
      if (listeners.length === 0) {
        throw new TypeError('the script added no "fetch" event listener');
      }
      const event = new FetchEvent(INTERNAL, request, ctx);
      const called = listToArray(listeners);
      for (let i = 0; i < called.length; i++) {
        const listener = called[i];
        if (typeof listener === 'function') {
          ReflectApply(listener, globalThis, [event]);
        } else {
          listener.handleEvent(event);
        }
        if (FetchEvent.responseOf(event)) break;
      }
      const responded = FetchEvent.responseOf(event);
      if (!responded) throw new TypeError('no "fetch" listener called respondWith()');
      return responded.response;
    },
  };
}
