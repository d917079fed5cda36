// navigator (as workerd has it), queueMicrotask and self.

class Navigator {
  constructor(token) {
    if (token !== INTERNAL) throw new TypeError('Illegal constructor');
  }

  get userAgent() {
    return 'Cloudflare-Workers';
  }

  // As workerd's (enable_navigator_language, on by default since 2025):
  // the runtime's language, not a client's (Accept-Language is the request's).
  get language() {
    return 'en';
  }

  // workerd answers 1: a script must not size thread pools from the host.
  get hardwareConcurrency() {
    return 1;
  }

  // A POST of data to url that nobody waits for (as workerd's): an outbound
  // fetch() of the request, counted like any, kept going after the response
  // as ctx.waitUntil() keeps work. true once it is started.
  sendBeacon(url, data = undefined) {
    requireArgs(arguments.length, 1, 'navigator.sendBeacon');
    const init = data === undefined || data === null ? { __proto__: null, method: 'POST' }
      : { __proto__: null, method: 'POST', body: data };
    const sent = streamInternal(fetch(toUSVString(url), init));
    streamMarkHandled(sent);
    native.waitUntilNow(sent);
    return true;
  }
}

setToStringTag(Navigator.prototype, 'Navigator');
defineGlobal('Navigator', Navigator);
defineGlobal('navigator', new Navigator(INTERNAL));

// V8 has microtasks but no global to queue one; a resolved promise's
// reaction is one. An exception in the callback is logged, as HTML's
// "report the exception" does, and does not reject anything.
function queueMicrotask(callback) {
  requireArgs(arguments.length, 1, 'queueMicrotask');
  if (typeof callback !== 'function') throw new TypeError('queueMicrotask: the callback must be a function');
  // Captured: a tenant's Promise.resolve or then would be handed the task.
  NativeStreamPromiseThen(PromiseResolve(), () => {
    try {
      callback();
    } catch (error) {
      consoleEmit('error', ['Uncaught (in queueMicrotask)', error]);
    }
  });
}

if (typeof globalThis.queueMicrotask !== 'function') defineGlobal('queueMicrotask', queueMicrotask);
if (globalThis.self === undefined) defineGlobal('self', globalThis);
