// Helpers shared by the built-ins. The build concatenates every file in
// engine/js into one function body, so these bindings are visible to the later
// files but never to tenant code: only defineGlobal() touches globalThis.

// ---- Intrinsics captured before any tenant code runs ----
//
// Tenant code later runs in this same context and may replace any property of
// any built-in object or of globalThis (Array.prototype.push,
// Array.prototype[Symbol.iterator], RegExp.prototype.exec, Function.prototype.call,
// a setter on Object.prototype['0'], globalThis.Uint8Array, ...). Whatever a
// built-in calls through such an object, the tenant receives: `this`, the
// arguments, and through them internal state (a Headers' list, the output
// handed to the engine, the INTERNAL token, the `native` functions). So on
// every path between the engine and the tenant (building the incoming
// Request, turning the Response into what the engine sends, body reading, KV,
// timers, console -> native.log, the byte helpers below) the built-ins
//  - call only the bindings captured here, never a method looked up on an
//    object at call time;
//  - never use for...of, spread or array destructuring on their own arrays
//    (each calls Array.prototype[Symbol.iterator]): index loops instead;
//  - never run a regular expression through String.prototype.replace/match or
//    RegExp.prototype.test/[Symbol.replace], which look up `exec` at call time:
//    RegExpPrototypeExec on a regexp of their own is called directly;
//  - keep their own growing lists in null-prototype arrays (listNew): an
//    assignment `list[i] = v` or a push on an ordinary array is a [[Set]] that
//    runs any setter a tenant put on Array.prototype or Object.prototype for
//    that index, handing it v. With no prototype there is nothing to find, and
//    a stray method call throws instead of reaching tenant code.
// Array literals ([a, b]) and object literals define their properties and
// consult no prototype; template literals and `+` call toString/valueOf only
// on tenant values. Private fields and `#x in obj` brand checks are safe.

// Shadows the globals of the same names for every built-in file: a tenant that
// assigns globalThis.Uint8Array or globalThis.TypeError changes only its own code.
const {
  Array, ArrayBuffer, DataView, Date, Error, JSON, Map, Math, Number, Object, Promise,
  RangeError, Reflect, Set, String, Symbol, TypeError, Uint8Array,
} = globalThis;

const FunctionPrototypeCall = Function.prototype.call;
// uncurryThis(Array.prototype.sort)(list, compare) is list.sort(compare) with
// the sort captured now: a bound `call` whose target and bound `this` are fixed.
const uncurryThis = Function.prototype.bind.bind(FunctionPrototypeCall);

// ---- The request path's bindings, declared together ----
//
// Every binding of the built-ins that a closure reads is a slot of ONE
// context (the whole bundle is one function, embed_js.cmake), numbered in
// declaration order. A request into a cold isolate reads each slot it uses
// from memory: declared here, next to each other, the ones every request
// reads share a few cache lines instead of one line each across a context
// of ~900 slots. Only what the request path reads belongs here; the files
// that own them assign the `let`s.

// (fn, thisArg, ...args): fn.call(thisArg, ...args) with the intrinsic call,
// and no array of the arguments to make (as ReflectApply needs).
const FunctionPrototypeCallOn = uncurryThis(FunctionPrototypeCall);
const StringPrototypeCharCodeAt = uncurryThis(String.prototype.charCodeAt);
// Handed by built-in code to constructors whose internal form tenants must not
// reach (Request's "fields are filled in afterwards" form, KVNamespace, ...).
// Never pass it to super(): a tenant can change a class's [[Prototype]], and
// with it the constructor super() calls.
const INTERNAL = Symbol('internal');
let executionContextId = 0; // dispatch.js: the request the next ExecutionContext is made for
let ExecutionContext; // dispatch.js: the class of fetch()'s ctx
let responseOutput; // response.js: (request id, value) -> true once a Response is handed to the engine (native.respond), false for anything else; TypeError if unsendable
// What a Request's or Response's body is once it was read through the
// mixin, or moved to another Request: it is used (body.js).
const BODY_READ = Symbol('body read');
// The Content-Type a string body gives (Fetch's "extract a body").
const RESPONSE_TEXT_TYPE = 'text/plain;charset=UTF-8';
// What responseOutput sends for the two types a body gives most, as
// constants: no string made per request, none for the engine to flatten.
const RESPONSE_TEXT_HEADER = `content-type\0${RESPONSE_TEXT_TYPE}\0`;
const RESPONSE_JSON_TYPE = 'application/json';
const RESPONSE_JSON_HEADER = `content-type\0${RESPONSE_JSON_TYPE}\0`;

// A short ASCII string (a body like "hello", a header, a small JSON text)
// is encoded here, with no call into the engine: V8 keeps a typed array of
// up to 64 bytes inside its heap, where the memory budget counts it like
// any object. Anything else goes to the engine, which charges the buffer.
const UTF8_INLINE_MAX = 64;
function utf8Encode(string) {
  if (typeof string === 'string' && string.length <= UTF8_INLINE_MAX) {
    const n = string.length;
    const bytes = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const c = StringPrototypeCharCodeAt(string, i);
      if (c >= 0x80) return native.encodeUtf8(string);
      bytes[i] = c;
    }
    return bytes;
  }
  return native.encodeUtf8(string);
}

const ReflectApply = Reflect.apply;
const ReflectOwnKeys = Reflect.ownKeys;
const ReflectGetOwnPropertyDescriptor = Reflect.getOwnPropertyDescriptor;
const ObjectDefineProperty = Object.defineProperty;
const ObjectFreeze = Object.freeze;
// Late: see lateStep below.
let ObjectHasOwn = Object.hasOwn;
const ObjectSetPrototypeOf = Object.setPrototypeOf;
const ObjectGetOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
const ArrayIsArray = Array.isArray;
const ArrayPrototypeIncludes = uncurryThis(Array.prototype.includes);
const ArrayPrototypeSlice = uncurryThis(Array.prototype.slice);
const ArrayPrototypeSort = uncurryThis(Array.prototype.sort);
const StringPrototypeIndexOf = uncurryThis(String.prototype.indexOf);
const StringPrototypePadStart = uncurryThis(String.prototype.padStart);
const StringPrototypeSlice = uncurryThis(String.prototype.slice);
const StringPrototypeToLowerCase = uncurryThis(String.prototype.toLowerCase);
const StringPrototypeToUpperCase = uncurryThis(String.prototype.toUpperCase);
const NumberPrototypeToString = uncurryThis(Number.prototype.toString);
const NumberIsFinite = Number.isFinite;
const NumberIsInteger = Number.isInteger;
const NumberParseInt = Number.parseInt;
const MathFloor = Math.floor;
const MathMax = Math.max;
const MathMin = Math.min;
const MathRandom = Math.random;
const MathTrunc = Math.trunc;
const DateNow = Date.now;
const JSONParse = JSON.parse;
const JSONStringify = JSON.stringify;
// Only ever on the built-ins' own regexps (see above); returns the match or null.
const RegExpPrototypeExec = uncurryThis(RegExp.prototype.exec);
const SymbolIterator = Symbol.iterator;
const SymbolAsyncIterator = Symbol.asyncIterator;
const ObjectIsExtensible = Object.isExtensible;
// Promise.resolve and Promise.reject with the captured Promise as `this`.
const PromiseResolve = Promise.resolve.bind(Promise);
const PromiseReject = Promise.reject.bind(Promise);
const SymbolToStringTag = Symbol.toStringTag;
const ArrayBufferIsView = ArrayBuffer.isView;
const ArrayBufferPrototypeGetByteLength = uncurryThis(
  ObjectGetOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength').get);
const ArrayBufferPrototypeSlice = uncurryThis(ArrayBuffer.prototype.slice);
const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype);
const typedArrayGetter = (name) => uncurryThis(ObjectGetOwnPropertyDescriptor(TypedArrayPrototype, name).get);
const TypedArrayPrototypeGetBuffer = typedArrayGetter('buffer');
const TypedArrayPrototypeGetByteLength = typedArrayGetter('byteLength');
const TypedArrayPrototypeGetByteOffset = typedArrayGetter('byteOffset');
const TypedArrayPrototypeGetLength = typedArrayGetter('length');
// The name ('Uint8Array', ...) of a typed array, undefined for anything else; never throws.
const TypedArrayPrototypeGetSymbolToStringTag = typedArrayGetter(SymbolToStringTag);
const TypedArrayPrototypeSet = uncurryThis(TypedArrayPrototype.set);
const TypedArrayPrototypeSubarray = uncurryThis(TypedArrayPrototype.subarray);
const dataViewGetter = (name) => uncurryThis(ObjectGetOwnPropertyDescriptor(DataView.prototype, name).get);
const DataViewPrototypeGetBuffer = dataViewGetter('buffer');
const DataViewPrototypeGetByteLength = dataViewGetter('byteLength');
const DataViewPrototypeGetByteOffset = dataViewGetter('byteOffset');

// A list the built-ins own: an array with no prototype (see above). Read it
// with list[i] and list.length, grow it with listPush, hand a tenant a copy
// made by listToArray.
function listNew() {
  return ObjectSetPrototypeOf([], null);
}

function listPush(list, value) {
  list[list.length] = value;
}

// An ordinary array with the list's elements. Array.prototype.slice on an
// array without a constructor makes a plain Array and defines its elements,
// so no setter a tenant installed runs.
function listToArray(list) {
  return ArrayPrototypeSlice(list);
}

// ---- What V8 adds to a context after the built-ins ran ----
//
// Made from the startup snapshot (startup_snapshot.h), a context gets some
// intrinsics from V8 only as it is deserialized, after the built-ins ran in
// it: in V8 10.2, Object.hasOwn, the at/findLast/findLastIndex methods of
// arrays and typed arrays, String.prototype.at, Atomics,
// Error.stackTraceLimit and WebAssembly. A step that captures or guards one
// of those is done at once when it is there, else kept and done by
// lateStart(), which the engine calls in every isolate made from the
// snapshot before any tenant code runs. step() returns whether it found
// what it needed.
const LATE_STEPS = listNew();
function lateStep(step) {
  if (!step()) listPush(LATE_STEPS, step);
}
function lateStart() {
  for (let i = 0; i < LATE_STEPS.length; i++) LATE_STEPS[i]();
}
lateStep(() => {
  ObjectHasOwn = Object.hasOwn;
  return ObjectHasOwn !== undefined;
});


function defineGlobal(name, value) {
  ObjectDefineProperty(globalThis, name, {
    value, writable: true, configurable: true, enumerable: false,
  });
}

// A global made on first use (read or assigned): until then an accessor,
// then a data property as defineGlobal makes it.
function lazyGlobal(name, load) {
  ObjectDefineProperty(globalThis, name, {
    configurable: true,
    enumerable: false,
    get() {
      const value = load();
      defineGlobal(name, value);
      return value;
    },
    set(value) {
      defineGlobal(name, value);
    },
  });
}

function setToStringTag(target, tag) {
  ObjectDefineProperty(target, SymbolToStringTag, { value: tag, configurable: true });
}

// ---- WebIDL-style argument conversions ----

function isObject(value) {
  return (typeof value === 'object' && value !== null) || typeof value === 'function';
}

function requireArgs(count, required, what) {
  if (count < required) {
    throw new TypeError(`${what}: ${required} argument${required > 1 ? 's' : ''} required, but only ${count} present`);
  }
}

// A template literal, unlike String(), throws a TypeError for symbols, as WebIDL does.
function toDOMString(value) {
  return typeof value === 'string' ? value : `${value}`;
}

const SURROGATE = /[\uD800-\uDFFF]/;

// Lone surrogates become U+FFFD; strings without surrogates (nearly all) are
// returned as they are after one scan.
function toUSVString(value) {
  const string = toDOMString(value);
  if (RegExpPrototypeExec(SURROGATE, string) === null) return string;
  let out = '';
  for (let i = 0; i < string.length; i++) {
    const c = StringPrototypeCharCodeAt(string, i);
    if (c >= 0xD800 && c <= 0xDBFF && i + 1 < string.length) {
      const d = StringPrototypeCharCodeAt(string, i + 1);
      if (d >= 0xDC00 && d <= 0xDFFF) {
        out += StringPrototypeSlice(string, i, i + 2);
        i++;
        continue;
      }
    }
    out += c >= 0xD800 && c <= 0xDFFF ? '\uFFFD' : string[i];
  }
  return out;
}

const NOT_LATIN1 = /[^\0-\xFF]/;

function toByteString(value) {
  const string = toDOMString(value);
  if (RegExpPrototypeExec(NOT_LATIN1, string) !== null) {
    throw new TypeError('Cannot convert a string with characters above U+00FF to a ByteString');
  }
  return string;
}

// unsigned short: NaN and infinities become 0, the rest wraps modulo 2^16.
function toUnsignedShort(value) {
  const number = +value;
  if (!NumberIsFinite(number)) return 0;
  const wrapped = MathTrunc(number) % 65536;
  return wrapped < 0 ? wrapped + 65536 : wrapped + 0;
}

// Dictionaries: undefined and null mean "empty", other primitives are errors.
// The empty one has no prototype: reading its members with their defaults
// finds no getter a tenant put on Object.prototype, as WebIDL reads none.
const EMPTY_DICTIONARY = ObjectFreeze({ __proto__: null });
function toDictionary(value, what) {
  if (value === undefined || value === null) return EMPTY_DICTIONARY;
  if (!isObject(value)) throw new TypeError(`${what}: the init argument must be an object`);
  return value;
}

// (sequence<sequence<T>> or record<T, T>) -> fresh list (listNew) of [key, value].
// A sequence is iterated with the iterators the tenant's own values provide,
// as WebIDL requires; the built-in's own arrays are not.
function toPairs(init, convert, what) {
  const pairs = listNew();
  const iterator = init[SymbolIterator];
  if (iterator !== undefined && iterator !== null) {
    if (typeof iterator !== 'function') throw new TypeError(`${what}: init is not iterable`);
    for (const item of init) {
      if (!isObject(item)) throw new TypeError(`${what}: each init entry must be a [name, value] pair`);
      const pair = [...item];
      if (pair.length !== 2) throw new TypeError(`${what}: each init entry must be a [name, value] pair`);
      listPush(pairs, [convert(pair[0]), convert(pair[1])]);
    }
    return pairs;
  }
  const keys = ReflectOwnKeys(init);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const descriptor = ReflectGetOwnPropertyDescriptor(init, key);
    if (descriptor !== undefined && descriptor.enumerable) listPush(pairs, [convert(key), convert(init[key])]);
  }
  return pairs;
}

const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function isHttpToken(string) {
  return RegExpPrototypeExec(HTTP_TOKEN, string) !== null;
}

// ---- bytes ----

function isArrayBuffer(value) {
  if (!isObject(value)) return false;
  try {
    ArrayBufferPrototypeGetByteLength(value);
    return true;
  } catch {
    return false;
  }
}

// A Uint8Array over exactly the given ArrayBuffer or view's bytes (no copy).
// Reads the view through the captured getters: a tenant's getter on
// %TypedArray%.prototype must neither see the engine's buffers nor move the window.
function viewBytes(source) {
  if (!ArrayBufferIsView(source)) return new Uint8Array(source);
  if (TypedArrayPrototypeGetSymbolToStringTag(source) !== undefined) {
    return new Uint8Array(TypedArrayPrototypeGetBuffer(source), TypedArrayPrototypeGetByteOffset(source),
      TypedArrayPrototypeGetByteLength(source));
  }
  return new Uint8Array(DataViewPrototypeGetBuffer(source), DataViewPrototypeGetByteOffset(source),
    DataViewPrototypeGetByteLength(source));
}

// A fresh Uint8Array with its own buffer holding a copy of the bytes.
function copyBytes(source) {
  const view = viewBytes(source);
  const copy = new Uint8Array(TypedArrayPrototypeGetLength(view));
  TypedArrayPrototypeSet(copy, view);
  return copy;
}

// bytes (a Uint8Array) without a copy when it spans its whole buffer.
function isWholeBuffer(bytes) {
  return TypedArrayPrototypeGetByteOffset(bytes) === 0
    && TypedArrayPrototypeGetByteLength(bytes) === ArrayBufferPrototypeGetByteLength(TypedArrayPrototypeGetBuffer(bytes));
}

// The ArrayBuffer behind bytes, copied only if bytes is a window onto a larger one.
function exactBuffer(bytes) {
  return TypedArrayPrototypeGetBuffer(isWholeBuffer(bytes) ? bytes : copyBytes(bytes));
}


// Does not strip a BOM; callers that want WHATWG "UTF-8 decode" do that.
function utf8Decode(bytes) {
  return native.decodeUtf8(bytes);
}

// ---- WebIDL iterable<K, V> ----

const IteratorPrototype = Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]()));

// Returns make(source, kind): an iterator over source(), a list of [key, value]
// re-read on every step so that, as WebIDL requires, it sees later changes.
function iteratorFactory(tag) {
  class ListIterator {
    #source;
    #kind;
    #index = 0;

    constructor(source, kind) {
      this.#source = source;
      this.#kind = kind;
    }

    next() {
      const list = this.#source(); // internal: read by index, never iterated
      if (this.#index >= list.length) return { value: undefined, done: true };
      const pair = list[this.#index++];
      const key = pair[0];
      const value = pair[1];
      const result = this.#kind === 'keys' ? key : this.#kind === 'values' ? value : [key, value];
      return { value: result, done: false };
    }
  }
  Object.setPrototypeOf(ListIterator.prototype, IteratorPrototype);
  delete ListIterator.prototype.constructor;
  setToStringTag(ListIterator.prototype, tag);
  return (source, kind) => new ListIterator(source, kind);
}

// WebIDL makes @@iterator the same function object as entries().
function defineIterable(cls) {
  ObjectDefineProperty(cls.prototype, SymbolIterator, {
    value: cls.prototype.entries, writable: true, configurable: true, enumerable: false,
  });
}
