// structuredClone (HTML's StructuredSerialize + StructuredDeserialize in
// one walk). Transferring is not supported: an ArrayBuffer cannot be
// detached from JavaScript here.

// The intrinsics the walk needs, captured as the built-ins load (before any
// tenant code): the walk calls nothing a tenant can replace (a Map's
// set, a Map iterator's next, Object.keys, Function.prototype.call, a
// getter of ArrayBuffer.prototype or of a typed array), only the tenant's
// own getters and proxies in what it clones, as the standard reads them.
const cloneGetter = (prototype, key) => uncurryThis(ObjectGetOwnPropertyDescriptor(prototype, key).get);
const CLONE_ERROR_TYPES = {
  __proto__: null, Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError,
};
const CLONE_TYPED_ARRAYS = {
  __proto__: null, Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
};
const CloneBooleanValueOf = Boolean.prototype.valueOf;
const CloneNumberValueOf = Number.prototype.valueOf;
const CloneStringValueOf = String.prototype.valueOf;
const CloneBigIntValueOf = BigInt.prototype.valueOf;
const CloneSymbolValueOf = Symbol.prototype.valueOf;
const CloneDateGetTime = Date.prototype.getTime;
const CloneRegExp = RegExp;
const CloneRegExpPrototype = RegExp.prototype;
const CloneRegExpSource = ObjectGetOwnPropertyDescriptor(RegExp.prototype, 'source').get;
const CloneRegExpFlags = cloneGetter(RegExp.prototype, 'flags');
const CloneMapSize = ObjectGetOwnPropertyDescriptor(Map.prototype, 'size').get;
const CloneMapForEach = uncurryThis(Map.prototype.forEach);
const CloneMapGet = uncurryThis(Map.prototype.get);
const CloneMapSet = uncurryThis(Map.prototype.set);
const CloneSetSize = ObjectGetOwnPropertyDescriptor(Set.prototype, 'size').get;
const CloneSetForEach = uncurryThis(Set.prototype.forEach);
const CloneSetAdd = uncurryThis(Set.prototype.add);
const CloneObjectKeys = Object.keys;
const CloneObjectToString = uncurryThis(Object.prototype.toString);
const CloneHasInstance = Function.prototype[Symbol.hasInstance];
const CloneWeakMap = WeakMap;
const CloneWeakSet = WeakSet;
const CloneFileName = cloneGetter(File.prototype, 'name');
const CloneFileLastModified = cloneGetter(File.prototype, 'lastModified');
const CloneDOMExceptionName = cloneGetter(DOMException.prototype, 'name');
const CloneDOMExceptionMessage = cloneGetter(DOMException.prototype, 'message');

// Calls a built-in method on value; true if value has the internal slot it needs.
function cloneHasSlot(method, value) {
  try {
    ReflectApply(method, value, []);
    return true;
  } catch {
    return false;
  }
}

function cloneFailure(what) {
  return new DOMException(`${what} could not be cloned.`, 'DataCloneError');
}

// The built-in classes that are not serialisable, as in browsers and workerd
// (instanceof as the language defines it, without a Symbol.hasInstance a
// tenant may have given one of them).
function cloneRefused(value) {
  const refused = [Headers, Request, Response, FormData, URL, URLSearchParams, EventTarget, Event, AbortController,
    TextEncoder, TextDecoder, Crypto, SubtleCrypto, Promise, CloneWeakMap, CloneWeakSet];
  for (let i = 0; i < refused.length; i++) {
    if (ReflectApply(CloneHasInstance, refused[i], [value])) return true;
  }
  return false;
}

// A property of a clone, defined (not assigned: no setter a tenant put on
// Object.prototype or Array.prototype runs, and "__proto__" is a key).
function cloneDefine(clone, key, value) {
  ObjectDefineProperty(clone, key, {
    __proto__: null, value, writable: true, enumerable: true, configurable: true,
  });
}

function cloneEnumerableOwn(value, clone, memory) {
  const keys = CloneObjectKeys(value);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    if (ObjectHasOwn(value, key)) cloneDefine(clone, key, cloneValue(value[key], memory));
  }
}

// A Map's entries or a Set's values, taken before any is cloned (as the
// standard does), without the iterator a tenant can replace.
function cloneEntries(forEach, value) {
  const list = listNew();
  forEach(value, (item, key) => {
    listPush(list, key);
    listPush(list, item);
  });
  return list;
}

function cloneValue(value, memory) {
  const type = typeof value;
  if (type === 'symbol') throw cloneFailure(String(value));
  if (type === 'function') throw cloneFailure(`${String(value.name) ? `function ${value.name}` : 'A function'}`);
  if (type !== 'object' || value === null) return value;
  const seen = CloneMapGet(memory, value);
  if (seen !== undefined) return seen;

  let clone;
  if (cloneHasSlot(CloneBooleanValueOf, value)) clone = Object(ReflectApply(CloneBooleanValueOf, value, []));
  else if (cloneHasSlot(CloneNumberValueOf, value)) clone = Object(ReflectApply(CloneNumberValueOf, value, []));
  else if (cloneHasSlot(CloneStringValueOf, value)) clone = Object(ReflectApply(CloneStringValueOf, value, []));
  else if (cloneHasSlot(CloneBigIntValueOf, value)) clone = Object(ReflectApply(CloneBigIntValueOf, value, []));
  else if (cloneHasSlot(CloneSymbolValueOf, value)) throw cloneFailure('A Symbol object');
  else if (cloneHasSlot(CloneDateGetTime, value)) clone = new Date(ReflectApply(CloneDateGetTime, value, []));
  else if (value !== CloneRegExpPrototype && cloneHasSlot(CloneRegExpSource, value)) {
    clone = new CloneRegExp(ReflectApply(CloneRegExpSource, value, []), CloneRegExpFlags(value));
  } else if (isArrayBuffer(value)) clone = ArrayBufferPrototypeSlice(value, 0);
  else if (ArrayBufferIsView(value)) {
    const tag = TypedArrayPrototypeGetSymbolToStringTag(value);
    if (tag === undefined) {
      const buffer = cloneValue(DataViewPrototypeGetBuffer(value), memory);
      clone = new DataView(buffer, DataViewPrototypeGetByteOffset(value), DataViewPrototypeGetByteLength(value));
    } else {
      const buffer = cloneValue(TypedArrayPrototypeGetBuffer(value), memory);
      clone = new CLONE_TYPED_ARRAYS[tag](buffer, TypedArrayPrototypeGetByteOffset(value),
        TypedArrayPrototypeGetLength(value));
    }
  } else if (cloneHasSlot(CloneMapSize, value)) {
    clone = new Map();
    CloneMapSet(memory, value, clone);
    const entries = cloneEntries(CloneMapForEach, value);
    for (let i = 0; i < entries.length; i += 2) {
      CloneMapSet(clone, cloneValue(entries[i], memory), cloneValue(entries[i + 1], memory));
    }
    return clone;
  } else if (cloneHasSlot(CloneSetSize, value)) {
    clone = new Set();
    CloneMapSet(memory, value, clone);
    const values = cloneEntries(CloneSetForEach, value);
    for (let i = 1; i < values.length; i += 2) CloneSetAdd(clone, cloneValue(values[i], memory));
    return clone;
  } else if (fileIs(value)) {
    clone = fileCreate(blobBytes(value), CloneFileName(value), blobTypeOf(value), CloneFileLastModified(value));
  } else if (blobIs(value)) {
    clone = blobCreate(blobBytes(value), blobTypeOf(value));
  } else if (cryptoKeyIs(value)) {
    clone = cryptoKeyClone(value);
  } else if (domExceptionIs(value)) {
    clone = new DOMException(CloneDOMExceptionMessage(value), CloneDOMExceptionName(value));
    cloneStack(value, clone);
  } else if (CloneObjectToString(value) === '[object Error]' && !cloneRefused(value)) {
    const name = `${value.name}`;
    const Type = CLONE_ERROR_TYPES[name] ?? Error;
    clone = ObjectHasOwn(value, 'message') ? new Type(`${value.message}`) : new Type();
    CloneMapSet(memory, value, clone);
    cloneStack(value, clone);
    if (ObjectHasOwn(value, 'cause')) {
      ObjectDefineProperty(clone, 'cause', {
        __proto__: null, value: cloneValue(value.cause, memory), writable: true, configurable: true, enumerable: false,
      });
    }
    return clone;
  } else if (cloneRefused(value)) {
    throw cloneFailure(`${StringPrototypeSlice(CloneObjectToString(value), 8, -1)} object`);
  } else if (ArrayIsArray(value)) {
    clone = new Array(value.length);
    CloneMapSet(memory, value, clone);
    cloneEnumerableOwn(value, clone, memory);
    return clone;
  } else {
    clone = {};
    CloneMapSet(memory, value, clone);
    cloneEnumerableOwn(value, clone, memory);
    return clone;
  }
  CloneMapSet(memory, value, clone);
  return clone;
}

function cloneStack(from, to) {
  const descriptor = ObjectGetOwnPropertyDescriptor(from, 'stack');
  const stack = descriptor === undefined ? undefined : 'value' in descriptor ? descriptor.value : from.stack;
  if (typeof stack === 'string') {
    ObjectDefineProperty(to, 'stack', { __proto__: null, value: stack, writable: true, configurable: true, enumerable: false });
  }
}

function structuredClone(value, options = undefined) {
  requireArgs(arguments.length, 1, 'structuredClone');
  const { transfer = undefined } = toDictionary(options, 'structuredClone');
  if (transfer !== undefined) {
    if (!isObject(transfer) || typeof transfer[Symbol.iterator] !== 'function') {
      throw new TypeError('structuredClone: options.transfer must be a sequence');
    }
    if ([...transfer].length > 0) {
      throw new DOMException('structuredClone: transferring objects is not supported; leave out the transfer option '
        + 'to copy them instead.', 'DataCloneError');
    }
  }
  return cloneValue(value, new Map());
}

defineGlobal('structuredClone', structuredClone);
