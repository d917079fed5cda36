// The global scope as Workers has it: globalThis is a
// ServiceWorkerGlobalScope, which is a WorkerGlobalScope, which is an
// EventTarget. Libraries find their runtime by it (`self instanceof
// WorkerGlobalScope`), and module Workers listen on it too
// (addEventListener('error', ...)). reportError() fires an ErrorEvent at
// it and, unless a listener cancels that, logs the error as uncaught.
//
// The global object has no private field of EventTarget's, so the three
// methods are its own properties, working on a target of the runtime's. In
// the service-worker format, service_worker.js keeps 'fetch' listeners to
// itself and hands the rest here.

class WorkerGlobalScope extends EventTarget {
  constructor() {
    throw new TypeError('Illegal constructor');
  }
}
setToStringTag(WorkerGlobalScope.prototype, 'WorkerGlobalScope');

class ServiceWorkerGlobalScope extends WorkerGlobalScope {
  constructor() {
    throw new TypeError('Illegal constructor');
  }
}
setToStringTag(ServiceWorkerGlobalScope.prototype, 'ServiceWorkerGlobalScope');

ObjectSetPrototypeOf(globalThis, ServiceWorkerGlobalScope.prototype);
defineGlobal('WorkerGlobalScope', WorkerGlobalScope);
defineGlobal('ServiceWorkerGlobalScope', ServiceWorkerGlobalScope);

const globalEventTarget = new EventTarget();
const EventTargetPrototypeAddEventListener = EventTarget.prototype.addEventListener;
const EventTargetPrototypeRemoveEventListener = EventTarget.prototype.removeEventListener;
const EventTargetPrototypeDispatchEvent = EventTarget.prototype.dispatchEvent;

defineGlobal('addEventListener', function addEventListener(type, listener) {
  return ReflectApply(EventTargetPrototypeAddEventListener, globalEventTarget, arguments);
});
defineGlobal('removeEventListener', function removeEventListener(type, listener) {
  return ReflectApply(EventTargetPrototypeRemoveEventListener, globalEventTarget, arguments);
});
defineGlobal('dispatchEvent', function dispatchEvent(event) {
  return ReflectApply(EventTargetPrototypeDispatchEvent, globalEventTarget, arguments);
});

// Fires event at the global scope: true when a listener cancelled it. A
// listener that throws is logged, not thrown.
function cancelledAtGlobalScope(event) {
  try {
    return !eventTargetDispatch(globalEventTarget, event);
  } catch (thrown) {
    consoleEmit('error', [`Uncaught (in a listener for '${eventType(event)}')`, thrown]);
    return false;
  }
}

// An error nothing caught: an 'error' event at the global scope, then (not
// cancelled) a line in the error log, as an uncaught exception makes one.
// A listener that throws is itself reported in the log, not thrown here.
function reportUncaught(error) {
  const message = isObject(error) && error instanceof Error ? consoleErrorText(error) : consoleRender(error);
  const event = new (moreEvents().ErrorEvent)('error', { __proto__: null, message, error, cancelable: true });
  if (!cancelledAtGlobalScope(event)) consoleEmit('error', ['Uncaught', error]);
}

defineGlobal('reportError', function reportError(error) {
  requireArgs(arguments.length, 1, 'reportError');
  reportUncaught(error);
});

// A promise rejected with no handler by the end of a turn's microtasks
// (the engine hands each over): an 'unhandledrejection' event at the
// global scope and, unless a listener cancels it, a line in the error log,
// as Workers writes one. With no promise: how many more the engine only
// counted in that turn.
function reportRejection(promise, reason, dropped) {
  if (promise === undefined) {
    consoleEmit('error', [`${dropped} more promises were rejected with no handler in this turn`]);
    return;
  }
  const event = new (moreEvents().PromiseRejectionEvent)('unhandledrejection', {
    __proto__: null, promise, reason, cancelable: true,
  });
  if (!cancelledAtGlobalScope(event)) consoleEmit('error', ['Uncaught (in promise)', reason]);
}
