// Helpers shared by the built-ins. The build concatenates every file in
// engine/js into one function body, so these bindings are visible to the later
// files but never to tenant code: only defineGlobal() touches globalThis.

// Handed by built-in code to constructors whose internal form tenants must not
// reach (Body, and Request's "fields are filled in afterwards" form).
const INTERNAL = Symbol('internal');

function defineGlobal(name, value) {
  Object.defineProperty(globalThis, name, {
    value, writable: true, configurable: true, enumerable: false,
  });
}

function setToStringTag(target, tag) {
  Object.defineProperty(target, Symbol.toStringTag, { value: tag, configurable: true });
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

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function toUSVString(value) {
  return toDOMString(value).replace(LONE_SURROGATE, '\uFFFD');
}

function toByteString(value) {
  const string = toDOMString(value);
  if (/[^\0-\xFF]/.test(string)) {
    throw new TypeError('Cannot convert a string with characters above U+00FF to a ByteString');
  }
  return string;
}

// unsigned short: NaN and infinities become 0, the rest wraps modulo 2^16.
function toUnsignedShort(value) {
  const number = +value;
  if (!Number.isFinite(number)) return 0;
  const wrapped = Math.trunc(number) % 65536;
  return wrapped < 0 ? wrapped + 65536 : wrapped + 0;
}

// Dictionaries: undefined and null mean "empty", other primitives are errors.
function toDictionary(value, what) {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) throw new TypeError(`${what}: the init argument must be an object`);
  return value;
}

// (sequence<sequence<T>> or record<T, T>) -> fresh array of [key, value].
function toPairs(init, convert, what) {
  const pairs = [];
  const iterator = init[Symbol.iterator];
  if (iterator !== undefined && iterator !== null) {
    if (typeof iterator !== 'function') throw new TypeError(`${what}: init is not iterable`);
    for (const item of init) {
      if (!isObject(item)) throw new TypeError(`${what}: each init entry must be a [name, value] pair`);
      const pair = [...item];
      if (pair.length !== 2) throw new TypeError(`${what}: each init entry must be a [name, value] pair`);
      pairs.push([convert(pair[0]), convert(pair[1])]);
    }
    return pairs;
  }
  for (const key of Reflect.ownKeys(init)) {
    const descriptor = Reflect.getOwnPropertyDescriptor(init, key);
    if (descriptor !== undefined && descriptor.enumerable) pairs.push([convert(key), convert(init[key])]);
  }
  return pairs;
}

const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

// ---- bytes ----

const arrayBufferByteLength = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength').get;

function isArrayBuffer(value) {
  if (!isObject(value)) return false;
  try {
    Reflect.apply(arrayBufferByteLength, value, []);
    return true;
  } catch {
    return false;
  }
}

// A Uint8Array over exactly the given ArrayBuffer or view's bytes (no copy).
function viewBytes(source) {
  return ArrayBuffer.isView(source)
    ? new Uint8Array(source.buffer, source.byteOffset, source.byteLength)
    : new Uint8Array(source);
}

// A fresh Uint8Array with its own buffer holding a copy of the bytes.
function copyBytes(source) {
  return new Uint8Array(viewBytes(source));
}

// The ArrayBuffer behind bytes, copied only if bytes is a window onto a larger one.
function exactBuffer(bytes) {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? bytes.buffer
    : copyBytes(bytes).buffer;
}

function utf8Encode(string) {
  return native.encodeUtf8(string);
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
      const list = this.#source();
      if (this.#index >= list.length) return { value: undefined, done: true };
      const [key, value] = list[this.#index++];
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
  Object.defineProperty(cls.prototype, Symbol.iterator, {
    value: cls.prototype.entries, writable: true, configurable: true, enumerable: false,
  });
}
