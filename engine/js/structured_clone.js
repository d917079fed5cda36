// structuredClone (HTML's StructuredSerialize + StructuredDeserialize in
// one walk). Transferring is not supported: an ArrayBuffer cannot be
// detached from JavaScript here.

// The intrinsics the walk needs, looked up on first use rather than when an
// isolate starts.
let cloneIntrinsics = null;

function cloneGetter(prototype, key) {
  return Object.getOwnPropertyDescriptor(prototype, key).get;
}

function cloneSetup() {
  if (cloneIntrinsics === null) {
    cloneIntrinsics = {
      errorTypes: new Map([
        ['Error', Error], ['EvalError', EvalError], ['RangeError', RangeError], ['ReferenceError', ReferenceError],
        ['SyntaxError', SyntaxError], ['TypeError', TypeError], ['URIError', URIError],
      ]),
      typedArrays: {
        Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array,
        Float64Array, BigInt64Array, BigUint64Array,
      },
      typedArrayTag: cloneGetter(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag),
      mapSize: cloneGetter(Map.prototype, 'size'),
      setSize: cloneGetter(Set.prototype, 'size'),
      regExpSource: cloneGetter(RegExp.prototype, 'source'),
      dataViewBuffer: cloneGetter(DataView.prototype, 'buffer'),
    };
  }
  return cloneIntrinsics;
}

// Calls a built-in method on value; true if value has the internal slot it needs.
function cloneHasSlot(method, value) {
  try {
    Reflect.apply(method, value, []);
    return true;
  } catch {
    return false;
  }
}

function cloneFailure(what) {
  return new DOMException(`${what} could not be cloned.`, 'DataCloneError');
}

// The built-in classes that are not serialisable, as in browsers and workerd.
function cloneRefused(value) {
  const refused = [Headers, Request, Response, FormData, URL, URLSearchParams, EventTarget, Event, AbortController,
    TextEncoder, TextDecoder, Crypto, SubtleCrypto, Promise, WeakMap, WeakSet];
  return refused.some((cls) => value instanceof cls);
}

function cloneEnumerableOwn(value, clone, memory) {
  for (const key of Object.keys(value)) {
    if (Object.hasOwn(value, key)) clone[key] = cloneValue(value[key], memory);
  }
}

function cloneValue(value, memory) {
  const {
    errorTypes, typedArrays, typedArrayTag, mapSize, setSize, regExpSource, dataViewBuffer,
  } = cloneSetup();
  const type = typeof value;
  if (type === 'symbol') throw cloneFailure(String(value));
  if (type === 'function') throw cloneFailure(`${String(value.name) ? `function ${value.name}` : 'A function'}`);
  if (type !== 'object' || value === null) return value;
  if (memory.has(value)) return memory.get(value);

  let clone;
  if (cloneHasSlot(Boolean.prototype.valueOf, value)) clone = Object(Reflect.apply(Boolean.prototype.valueOf, value, []));
  else if (cloneHasSlot(Number.prototype.valueOf, value)) clone = Object(Reflect.apply(Number.prototype.valueOf, value, []));
  else if (cloneHasSlot(String.prototype.valueOf, value)) clone = Object(Reflect.apply(String.prototype.valueOf, value, []));
  else if (cloneHasSlot(BigInt.prototype.valueOf, value)) clone = Object(Reflect.apply(BigInt.prototype.valueOf, value, []));
  else if (cloneHasSlot(Symbol.prototype.valueOf, value)) throw cloneFailure('A Symbol object');
  else if (cloneHasSlot(Date.prototype.getTime, value)) clone = new Date(Reflect.apply(Date.prototype.getTime, value, []));
  else if (value !== RegExp.prototype && cloneHasSlot(regExpSource, value)) {
    clone = new RegExp(Reflect.apply(regExpSource, value, []), value.flags);
  } else if (isArrayBuffer(value)) clone = value.slice(0);
  else if (ArrayBuffer.isView(value)) {
    const tag = Reflect.apply(typedArrayTag, value, []);
    const buffer = cloneValue(tag === undefined ? Reflect.apply(dataViewBuffer, value, []) : value.buffer, memory);
    clone = tag === undefined ? new DataView(buffer, value.byteOffset, value.byteLength)
      : new typedArrays[tag](buffer, value.byteOffset, value.length);
  } else if (cloneHasSlot(mapSize, value)) {
    clone = new Map();
    memory.set(value, clone);
    // The entries are taken first, as the standard does, then cloned.
    for (const [k, v] of [...Map.prototype.entries.call(value)]) clone.set(cloneValue(k, memory), cloneValue(v, memory));
    return clone;
  } else if (cloneHasSlot(setSize, value)) {
    clone = new Set();
    memory.set(value, clone);
    for (const v of [...Set.prototype.values.call(value)]) clone.add(cloneValue(v, memory));
    return clone;
  } else if (fileIs(value)) {
    clone = fileCreate(blobBytes(value), value.name, value.type, value.lastModified);
  } else if (blobIs(value)) {
    clone = blobCreate(blobBytes(value), value.type);
  } else if (cryptoKeyIs(value)) {
    clone = cryptoKeyClone(value);
  } else if (domExceptionIs(value)) {
    clone = new DOMException(value.message, value.name);
    cloneStack(value, clone);
  } else if (Object.prototype.toString.call(value) === '[object Error]' && !cloneRefused(value)) {
    const name = `${value.name}`;
    const Type = errorTypes.get(name) ?? Error;
    clone = Object.hasOwn(value, 'message') ? new Type(`${value.message}`) : new Type();
    memory.set(value, clone);
    cloneStack(value, clone);
    if (Object.hasOwn(value, 'cause')) {
      Object.defineProperty(clone, 'cause', {
        value: cloneValue(value.cause, memory), writable: true, configurable: true, enumerable: false,
      });
    }
    return clone;
  } else if (cloneRefused(value)) {
    throw cloneFailure(`${Object.prototype.toString.call(value).slice(8, -1)} object`);
  } else if (Array.isArray(value)) {
    clone = new Array(value.length);
    memory.set(value, clone);
    cloneEnumerableOwn(value, clone, memory);
    return clone;
  } else {
    clone = {};
    memory.set(value, clone);
    cloneEnumerableOwn(value, clone, memory);
    return clone;
  }
  memory.set(value, clone);
  return clone;
}

function cloneStack(from, to) {
  const descriptor = Object.getOwnPropertyDescriptor(from, 'stack');
  const stack = descriptor === undefined ? undefined : 'value' in descriptor ? descriptor.value : from.stack;
  if (typeof stack === 'string') {
    Object.defineProperty(to, 'stack', { value: stack, writable: true, configurable: true, enumerable: false });
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
