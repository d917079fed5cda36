// DOMException (WebIDL), Event, CustomEvent and EventTarget (WHATWG DOM).
// There is no tree: every dispatch is at the target, so capture only takes
// part in a listener's identity, as the standard says for a lone target.

// ---- DOMException ----

// The names that have a legacy code, in code order (IndexSizeError is 1);
// the others have code 0.
const DOM_EXCEPTION_CODES = [
  'IndexSizeError', 'DOMStringSizeError', 'HierarchyRequestError', 'WrongDocumentError',
  'InvalidCharacterError', 'NoDataAllowedError', 'NoModificationAllowedError', 'NotFoundError',
  'NotSupportedError', 'InUseAttributeError', 'InvalidStateError', 'SyntaxError',
  'InvalidModificationError', 'NamespaceError', 'InvalidAccessError', 'ValidationError',
  'TypeMismatchError', 'SecurityError', 'NetworkError', 'AbortError',
  'URLMismatchError', 'QuotaExceededError', 'TimeoutError', 'InvalidNodeTypeError',
  'DataCloneError',
];

let domExceptionIs; // (value) -> true for a DOMException (brand check)

// Its prototype chain runs through Error.prototype and instances carry a
// stack, as in browsers and workerd; name, message and code are getters.
class DOMException extends Error {
  #name;
  #message;

  // new DOMException(message, name) or, as Node and newer WebIDL allow,
  // new DOMException(message, { name, cause }).
  constructor(message = undefined, options = undefined) {
    super();
    this.#message = message === undefined ? '' : toDOMString(message);
    if (isObject(options)) {
      this.#name = options.name === undefined ? 'Error' : toDOMString(options.name);
      if ('cause' in options) {
        Object.defineProperty(this, 'cause', {
          value: options.cause, writable: true, configurable: true, enumerable: false,
        });
      }
    } else {
      this.#name = options === undefined ? 'Error' : toDOMString(options);
    }
  }

  get name() {
    return this.#name;
  }

  get message() {
    return this.#message;
  }

  get code() {
    return DOM_EXCEPTION_CODES.indexOf(this.#name) + 1;
  }

  // The legacy code constants. WebIDL makes them read-only data properties;
  // getters in the class body cost nothing when an isolate starts, where
  // fifty defineProperty calls would.
  static get INDEX_SIZE_ERR() { return 1; }
  get INDEX_SIZE_ERR() { return 1; }
  static get DOMSTRING_SIZE_ERR() { return 2; }
  get DOMSTRING_SIZE_ERR() { return 2; }
  static get HIERARCHY_REQUEST_ERR() { return 3; }
  get HIERARCHY_REQUEST_ERR() { return 3; }
  static get WRONG_DOCUMENT_ERR() { return 4; }
  get WRONG_DOCUMENT_ERR() { return 4; }
  static get INVALID_CHARACTER_ERR() { return 5; }
  get INVALID_CHARACTER_ERR() { return 5; }
  static get NO_DATA_ALLOWED_ERR() { return 6; }
  get NO_DATA_ALLOWED_ERR() { return 6; }
  static get NO_MODIFICATION_ALLOWED_ERR() { return 7; }
  get NO_MODIFICATION_ALLOWED_ERR() { return 7; }
  static get NOT_FOUND_ERR() { return 8; }
  get NOT_FOUND_ERR() { return 8; }
  static get NOT_SUPPORTED_ERR() { return 9; }
  get NOT_SUPPORTED_ERR() { return 9; }
  static get INUSE_ATTRIBUTE_ERR() { return 10; }
  get INUSE_ATTRIBUTE_ERR() { return 10; }
  static get INVALID_STATE_ERR() { return 11; }
  get INVALID_STATE_ERR() { return 11; }
  static get SYNTAX_ERR() { return 12; }
  get SYNTAX_ERR() { return 12; }
  static get INVALID_MODIFICATION_ERR() { return 13; }
  get INVALID_MODIFICATION_ERR() { return 13; }
  static get NAMESPACE_ERR() { return 14; }
  get NAMESPACE_ERR() { return 14; }
  static get INVALID_ACCESS_ERR() { return 15; }
  get INVALID_ACCESS_ERR() { return 15; }
  static get VALIDATION_ERR() { return 16; }
  get VALIDATION_ERR() { return 16; }
  static get TYPE_MISMATCH_ERR() { return 17; }
  get TYPE_MISMATCH_ERR() { return 17; }
  static get SECURITY_ERR() { return 18; }
  get SECURITY_ERR() { return 18; }
  static get NETWORK_ERR() { return 19; }
  get NETWORK_ERR() { return 19; }
  static get ABORT_ERR() { return 20; }
  get ABORT_ERR() { return 20; }
  static get URL_MISMATCH_ERR() { return 21; }
  get URL_MISMATCH_ERR() { return 21; }
  static get QUOTA_EXCEEDED_ERR() { return 22; }
  get QUOTA_EXCEEDED_ERR() { return 22; }
  static get TIMEOUT_ERR() { return 23; }
  get TIMEOUT_ERR() { return 23; }
  static get INVALID_NODE_TYPE_ERR() { return 24; }
  get INVALID_NODE_TYPE_ERR() { return 24; }
  static get DATA_CLONE_ERR() { return 25; }
  get DATA_CLONE_ERR() { return 25; }

  static {
    domExceptionIs = (value) => isObject(value) && #name in value;
  }
}

setToStringTag(DOMException.prototype, 'DOMException');
defineGlobal('DOMException', DOMException);

// ---- Event ----

const EVENT_NONE = 0;
const EVENT_AT_TARGET = 2;

// Internal access for EventTarget and the built-ins that fire events.
let eventIs; // (value) -> true for an Event (brand check)
let eventBeginDispatch; // (event, target) -> false if the event is being dispatched or not initialised
let eventEndDispatch; // (event) -> void
let eventSetCurrentTarget; // (event, target or null) -> void
let eventInPassiveListener; // (event, boolean) -> void
let eventStoppedImmediately; // (event) -> boolean
let eventType; // (event) -> its type, never through a getter a tenant can replace
let eventCanceled; // (event) -> whether its default was prevented, likewise

class Event {
  #type;
  #bubbles;
  #cancelable;
  #composed;
  #timeStamp = DateNow();
  #target = null;
  #currentTarget = null;
  #phase = EVENT_NONE;
  #canceled = false;
  #stop = false;
  #stopImmediate = false;
  #dispatching = false;
  #passive = false;

  constructor(type, init = undefined) {
    requireArgs(arguments.length, 1, 'Event');
    this.#type = toDOMString(type);
    const { bubbles = false, cancelable = false, composed = false } = toDictionary(init, 'Event');
    this.#bubbles = Boolean(bubbles);
    this.#cancelable = Boolean(cancelable);
    this.#composed = Boolean(composed);
  }

  get type() {
    return this.#type;
  }

  get target() {
    return this.#target;
  }

  get srcElement() {
    return this.#target;
  }

  get currentTarget() {
    return this.#currentTarget;
  }

  composedPath() {
    return this.#currentTarget === null ? [] : [this.#currentTarget];
  }

  get eventPhase() {
    return this.#phase;
  }

  stopPropagation() {
    this.#stop = true;
  }

  get cancelBubble() {
    return this.#stop;
  }

  set cancelBubble(value) {
    if (value) this.#stop = true;
  }

  stopImmediatePropagation() {
    this.#stop = true;
    this.#stopImmediate = true;
  }

  get bubbles() {
    return this.#bubbles;
  }

  get cancelable() {
    return this.#cancelable;
  }

  get returnValue() {
    return !this.#canceled;
  }

  set returnValue(value) {
    if (!value && this.#cancelable && !this.#passive) this.#canceled = true;
  }

  preventDefault() {
    if (this.#cancelable && !this.#passive) this.#canceled = true;
  }

  get defaultPrevented() {
    return this.#canceled;
  }

  get composed() {
    return this.#composed;
  }

  get isTrusted() {
    void this.#type; // brand check; tenant-made events are never trusted
    return false;
  }

  get timeStamp() {
    return this.#timeStamp;
  }

  // The phase constants, as getters (see DOMException's).
  static get NONE() { return 0; }
  get NONE() { return 0; }
  static get CAPTURING_PHASE() { return 1; }
  get CAPTURING_PHASE() { return 1; }
  static get AT_TARGET() { return 2; }
  get AT_TARGET() { return 2; }
  static get BUBBLING_PHASE() { return 3; }
  get BUBBLING_PHASE() { return 3; }

  static {
    eventIs = (value) => isObject(value) && #type in value;
    eventBeginDispatch = (event, target) => {
      if (event.#dispatching) return false;
      event.#dispatching = true;
      event.#target = target;
      event.#currentTarget = target;
      event.#phase = EVENT_AT_TARGET;
      return true;
    };
    eventEndDispatch = (event) => {
      event.#dispatching = false;
      event.#currentTarget = null;
      event.#phase = EVENT_NONE;
      event.#stop = false;
      event.#stopImmediate = false;
      event.#passive = false;
    };
    eventSetCurrentTarget = (event, target) => {
      event.#currentTarget = target;
    };
    eventInPassiveListener = (event, passive) => {
      event.#passive = passive;
    };
    eventStoppedImmediately = (event) => event.#stopImmediate;
    eventType = (event) => event.#type;
    eventCanceled = (event) => event.#canceled;
    registerInspector('Event', (value) => {
      if (!(#type in value)) return undefined;
      return { type: value.#type, defaultPrevented: value.#canceled, timeStamp: value.#timeStamp };
    });
  }
}

setToStringTag(Event.prototype, 'Event');
defineGlobal('Event', Event);

class CustomEvent extends Event {
  #detail;

  constructor(type, init = undefined) {
    requireArgs(arguments.length, 1, 'CustomEvent');
    super(type, init);
    const { detail = null } = toDictionary(init, 'CustomEvent');
    this.#detail = detail;
  }

  get detail() {
    return this.#detail;
  }
}
setToStringTag(CustomEvent.prototype, 'CustomEvent');
defineGlobal('CustomEvent', CustomEvent);

// The other event interfaces Workers has as globals. Libraries construct and
// dispatch them on their own targets, or test for them; the runtime fires
// ErrorEvent, PromiseRejectionEvent and MessageEvent (global_scope.js,
// message_channel.js). Made on first use in an isolate (lazyGlobal, or
// moreEvents() inside the built-ins): classes an isolate never uses cost
// its cold start nothing.
let moreEventClasses = null;
function moreEvents() {
  if (moreEventClasses !== null) return moreEventClasses;
  // WebIDL unsigned long: modulo 2^32, NaN and the infinities 0.
  function toUnsignedLong(value) {
    return Number(value) >>> 0;
  }

  class ExtendableEvent extends Event {
    constructor(type, init = undefined) {
      requireArgs(arguments.length, 1, 'ExtendableEvent');
      super(type, init);
    }

    // Only an event the runtime dispatches can be extended, and the runtime
    // dispatches none of this class (fetch events go through ctx.waitUntil).
    waitUntil(promise) {
      if (!eventIs(this)) throw new TypeError('Illegal invocation');
      throw new DOMException('waitUntil() can only be called on an event the runtime dispatched',
        'InvalidStateError');
    }
  }

  class ErrorEvent extends Event {
    #message;
    #filename;
    #lineno;
    #colno;
    #error;

    constructor(type, init = undefined) {
      requireArgs(arguments.length, 1, 'ErrorEvent');
      super(type, init);
      const { message = '', filename = '', lineno = 0, colno = 0, error = undefined } = toDictionary(init, 'ErrorEvent');
      this.#message = toDOMString(message);
      this.#filename = toUSVString(filename);
      this.#lineno = toUnsignedLong(lineno);
      this.#colno = toUnsignedLong(colno);
      this.#error = error;
    }

    get message() {
      return this.#message;
    }

    get filename() {
      return this.#filename;
    }

    get lineno() {
      return this.#lineno;
    }

    get colno() {
      return this.#colno;
    }

    get error() {
      return this.#error;
    }
  }

  class MessageEvent extends Event {
    #data;
    #origin;
    #lastEventId;
    #source;
    #ports;

    constructor(type, init = undefined) {
      requireArgs(arguments.length, 1, 'MessageEvent');
      super(type, init);
      const { data = null, origin = '', lastEventId = '', source = null, ports = undefined } = toDictionary(init, 'MessageEvent');
      this.#data = data;
      this.#origin = toUSVString(origin);
      this.#lastEventId = toDOMString(lastEventId);
      if (source !== null && !isObject(source)) throw new TypeError('MessageEvent: source must be an object or null');
      this.#source = source;
      const list = listNew();
      if (ports !== undefined) {
        if (!isObject(ports) || typeof ports[SymbolIterator] !== 'function') {
          throw new TypeError('MessageEvent: ports must be a sequence');
        }
        for (const port of ports) listPush(list, port);
      }
      this.#ports = ObjectFreeze(listToArray(list));
    }

    get data() {
      return this.#data;
    }

    get origin() {
      return this.#origin;
    }

    get lastEventId() {
      return this.#lastEventId;
    }

    get source() {
      return this.#source;
    }

    get ports() {
      return this.#ports;
    }
  }

  class PromiseRejectionEvent extends Event {
    #promise;
    #reason;

    constructor(type, init) {
      requireArgs(arguments.length, 2, 'PromiseRejectionEvent');
      super(type, init);
      const { promise, reason = undefined } = toDictionary(init, 'PromiseRejectionEvent');
      if (!isObject(promise)) throw new TypeError('PromiseRejectionEvent: init.promise must be an object');
      this.#promise = promise;
      this.#reason = reason;
    }

    get promise() {
      return this.#promise;
    }

    get reason() {
      return this.#reason;
    }
  }
  setToStringTag(ExtendableEvent.prototype, 'ExtendableEvent');
  setToStringTag(ErrorEvent.prototype, 'ErrorEvent');
  setToStringTag(MessageEvent.prototype, 'MessageEvent');
  setToStringTag(PromiseRejectionEvent.prototype, 'PromiseRejectionEvent');
  moreEventClasses = { __proto__: null, ExtendableEvent, ErrorEvent, MessageEvent, PromiseRejectionEvent };
  return moreEventClasses;
}
lazyGlobal('ExtendableEvent', () => moreEvents().ExtendableEvent);
lazyGlobal('ErrorEvent', () => moreEvents().ErrorEvent);
lazyGlobal('MessageEvent', () => moreEvents().MessageEvent);
lazyGlobal('PromiseRejectionEvent', () => moreEvents().PromiseRejectionEvent);

// ---- EventTarget ----

function eventListenerOptions(options, what) {
  if (typeof options === 'boolean' || !isObject(options)) {
    return { capture: Boolean(options), once: false, passive: false, signal: undefined };
  }
  const { capture = false, once = false, passive = false, signal = undefined } = options;
  if (signal !== undefined && !abortSignalIs(signal)) {
    throw new TypeError(`${what}: options.signal must be an AbortSignal`);
  }
  return { capture: Boolean(capture), once: Boolean(once), passive: Boolean(passive), signal };
}

// Its listener lists are the built-ins' own: kept in a Map and lists
// (listNew) walked by index through captured intrinsics, so a tenant that
// replaces Map.prototype.get, Array.prototype methods or the iterator is
// never handed them, and events the runtime fires (an AbortSignal's abort)
// reach their listeners whatever it replaced.
const MapPrototypeGet = uncurryThis(Map.prototype.get);
const MapPrototypeSet = uncurryThis(Map.prototype.set);
const MapPrototypeDelete = uncurryThis(Map.prototype.delete);

let eventTargetAddListener; // (target, type, callback) -> as addEventListener, with no options
let eventTargetDispatch; // (target, event) -> as dispatchEvent, never through a method a tenant can replace

class EventTarget {
  // type -> list of { callback, capture, once, passive, removed }, in the order added
  #listeners = new Map();

  addEventListener(type, callback, options = undefined) {
    requireArgs(arguments.length, 2, 'EventTarget.addEventListener');
    const name = toDOMString(type);
    const { capture, once, passive, signal } = eventListenerOptions(options, 'addEventListener');
    this.#add(name, callback, capture, once, passive, signal);
  }

  #add(name, callback, capture, once, passive, signal) {
    if (callback === null || callback === undefined) return;
    if (!isObject(callback)) throw new TypeError('addEventListener: the listener must be a function or an object');
    if (signal !== undefined && abortSignalAborted(signal)) return;
    let list = MapPrototypeGet(this.#listeners, name);
    if (list === undefined) {
      list = listNew();
      MapPrototypeSet(this.#listeners, name, list);
    }
    for (let i = 0; i < list.length; i++) {
      if (list[i].callback === callback && list[i].capture === capture) return;
    }
    const entry = { __proto__: null, callback, capture, once, passive, removed: false };
    listPush(list, entry);
    if (signal !== undefined) abortSignalAddAlgorithm(signal, () => this.#remove(name, entry));
  }

  removeEventListener(type, callback, options = undefined) {
    requireArgs(arguments.length, 2, 'EventTarget.removeEventListener');
    const name = toDOMString(type);
    const capture = typeof options === 'boolean' || !isObject(options) ? Boolean(options) : Boolean(options.capture);
    const list = MapPrototypeGet(this.#listeners, name);
    if (list === undefined) return;
    for (let i = 0; i < list.length; i++) {
      if (list[i].callback === callback && list[i].capture === capture) {
        this.#remove(name, list[i]);
        return;
      }
    }
  }

  // As in workerd, an exception thrown by a listener stops the dispatch and
  // comes out of dispatchEvent() (the DOM standard reports it and carries on).
  dispatchEvent(event) {
    requireArgs(arguments.length, 1, 'EventTarget.dispatchEvent');
    return this.#dispatch(event);
  }

  #dispatch(event) {
    if (!eventIs(event)) {
      throw new TypeError('dispatchEvent: the argument must be an Event');
    }
    if (!eventBeginDispatch(event, this)) {
      throw new DOMException('The event is already being dispatched.', 'InvalidStateError');
    }
    try {
      const type = eventType(event);
      const list = MapPrototypeGet(this.#listeners, type);
      if (list !== undefined) {
        // A copy: listeners added while it runs are not called this time.
        const entries = listNew();
        for (let i = 0; i < list.length; i++) listPush(entries, list[i]);
        for (let i = 0; i < entries.length; i++) {
          const entry = entries[i];
          if (entry.removed) continue;
          if (entry.once) this.#remove(type, entry);
          eventInPassiveListener(event, entry.passive);
          const callback = entry.callback;
          if (typeof callback === 'function') {
            ReflectApply(callback, this, [event]);
          } else {
            const handleEvent = callback.handleEvent;
            if (typeof handleEvent !== 'function') {
              throw new TypeError('the event listener object has no handleEvent() method');
            }
            ReflectApply(handleEvent, callback, [event]);
          }
          eventInPassiveListener(event, false);
          if (eventStoppedImmediately(event)) break;
        }
      }
    } finally {
      eventEndDispatch(event);
    }
    return !eventCanceled(event);
  }

  #remove(type, entry) {
    entry.removed = true;
    const list = MapPrototypeGet(this.#listeners, type);
    if (list === undefined) return;
    let at = -1;
    for (let i = 0; i < list.length; i++) {
      if (list[i] === entry) {
        at = i;
        break;
      }
    }
    if (at < 0) return;
    for (let i = at; i + 1 < list.length; i++) list[i] = list[i + 1];
    list.length -= 1;
    if (list.length === 0) MapPrototypeDelete(this.#listeners, type);
  }

  static {
    eventTargetAddListener = (target, type, callback) => target.#add(type, callback, false, false, false, undefined);
    eventTargetDispatch = (target, event) => target.#dispatch(event);
  }
}

setToStringTag(EventTarget.prototype, 'EventTarget');

// The event handler attributes (HTML's onopen, onmessage, ...) of target:
// get(type) is the attribute, null when unset; set(type, value) makes it a
// handler (an object) or null. One listener per type, added when the
// attribute is first given a handler, calls whatever it holds then.
function eventHandlerAttributes(target) {
  const values = { __proto__: null };
  const added = { __proto__: null };
  return {
    __proto__: null,
    get: (type) => values[type] ?? null,
    set: (type, value) => {
      const handler = isObject(value) ? value : null;
      values[type] = handler;
      if (handler === null || added[type] === true) return;
      added[type] = true;
      eventTargetAddListener(target, type, (event) => {
        const current = values[type];
        if (typeof current === 'function') ReflectApply(current, target, [event]);
      });
    },
  };
}
defineGlobal('EventTarget', EventTarget);
