// navigator (as workerd has it), queueMicrotask and self.

class Navigator {
  constructor(token) {
    if (token !== INTERNAL) throw new TypeError('Illegal constructor');
  }

  get userAgent() {
    return 'Cloudflare-Workers';
  }

  // workerd answers 1: a script must not size thread pools from the host.
  get hardwareConcurrency() {
    return 1;
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
