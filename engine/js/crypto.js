// crypto (W3C WebCrypto, as workerd exposes it): getRandomValues,
// randomUUID, and crypto.subtle with digest (SHA-1/256/384/512, and MD5 as
// on Workers) and HMAC
// (importKey, exportKey, generateKey, sign, verify), plus workerd's
// crypto.subtle.timingSafeEqual. The primitives are natives over OpenSSL:
// native.getRandomValues(view), native.digest(name, bytes) -> ArrayBuffer,
// native.hmac(hash, key, data) -> ArrayBuffer.

// Lower-cased name -> the standard's spelling.
const CRYPTO_HASHES = {
  __proto__: null, 'sha-1': 'SHA-1', 'sha-256': 'SHA-256', 'sha-384': 'SHA-384', 'sha-512': 'SHA-512',
};
// digest() also takes MD5, as Workers' does (never for HMAC).
const CRYPTO_DIGESTS = { __proto__: null, ...CRYPTO_HASHES, md5: 'MD5' };
const CRYPTO_HASH_BLOCK_BITS = { 'SHA-1': 512, 'SHA-256': 512, 'SHA-384': 1024, 'SHA-512': 1024 };
const CRYPTO_HMAC_JWK_ALG = { 'SHA-1': 'HS1', 'SHA-256': 'HS256', 'SHA-384': 'HS384', 'SHA-512': 'HS512' };
const CRYPTO_KEY_USAGES = ['encrypt', 'decrypt', 'sign', 'verify', 'deriveKey', 'deriveBits', 'wrapKey', 'unwrapKey'];
const CRYPTO_INTEGER_ARRAYS = ['Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array',
  'Uint32Array', 'BigInt64Array', 'BigUint64Array'];

// Until the engine provides a primitive, calls that need it fail clearly.
function cryptoNative(name) {
  const primitive = native[name];
  if (typeof primitive !== 'function') {
    throw new DOMException(`crypto: native.${name} is not available in this build`, 'NotSupportedError');
  }
  return primitive;
}

function cryptoBytes(value, what) {
  if (isArrayBuffer(value) || ArrayBuffer.isView(value)) return copyBytes(value);
  throw new TypeError(`${what} must be an ArrayBuffer or an ArrayBufferView`);
}

function cryptoRandomBytes(length) {
  const bytes = new Uint8Array(length);
  cryptoNative('getRandomValues')(bytes);
  return bytes;
}

// Constant time in the length: every byte is looked at, whatever differs.
function cryptoEqual(a, b) {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i] ^ b[i];
  return difference === 0;
}

function cryptoError(message, name) {
  return new DOMException(message, name);
}

// WebCrypto's "normalize an algorithm": a name or an object with one;
// names are matched without regard to case. supported: name -> canonical.
function cryptoAlgorithm(algorithm, supported) {
  const object = typeof algorithm === 'string' ? { name: algorithm } : algorithm;
  if (!isObject(object)) throw new TypeError('The algorithm must be a string or an object with a name');
  if (object.name === undefined) throw new TypeError('The algorithm object must have a name');
  const name = supported[toDOMString(object.name).toLowerCase()];
  if (name === undefined) throw cryptoError(`Unrecognized or unsupported algorithm: ${toDOMString(object.name)}`, 'NotSupportedError');
  return { object, name };
}

function cryptoHash(value) {
  if (value === undefined) throw new TypeError('The algorithm needs a hash');
  return cryptoAlgorithm(value, CRYPTO_HASHES).name;
}

const CRYPTO_HMAC = { __proto__: null, hmac: 'HMAC' };

// HmacImportParams / HmacKeyGenParams: { hash, length? }
function cryptoHmacParams(algorithm) {
  const { object } = cryptoAlgorithm(algorithm, CRYPTO_HMAC);
  const hash = cryptoHash(object.hash);
  let length;
  if (object.length !== undefined) {
    length = Number(object.length);
    if (!Number.isFinite(length)) throw new TypeError('HMAC length must be a number');
    length = Math.trunc(length) >>> 0;
  }
  return { hash, length };
}

function cryptoUsages(usages) {
  if (!isObject(usages) || typeof usages[Symbol.iterator] !== 'function') {
    throw new TypeError('keyUsages must be a sequence of strings');
  }
  const list = [];
  for (const usage of usages) {
    const value = toDOMString(usage);
    if (!CRYPTO_KEY_USAGES.includes(value)) throw new TypeError(`'${value}' is not a valid key usage`);
    if (!list.includes(value)) list.push(value);
  }
  return list;
}

function cryptoHmacUsages(usages) {
  for (const usage of usages) {
    if (usage !== 'sign' && usage !== 'verify') {
      throw cryptoError(`HMAC keys can only be used to sign and verify, not to ${usage}`, 'SyntaxError');
    }
  }
  if (usages.length === 0) throw cryptoError('A secret key needs at least one usage', 'SyntaxError');
}

let cryptoKeyCreate; // (material Uint8Array, hash, length, extractable, usages) -> an HMAC CryptoKey
let cryptoKeyInternals; // (key) -> { material, name, hash, length, extractable, usages }; TypeError if not a CryptoKey
let cryptoKeyIs; // (value) -> brand check

// What a key does is decided by its internal slots; algorithm and usages
// hand tenants copies, so changing those objects changes nothing.
class CryptoKey {
  #internals;
  #algorithm;
  #usages;

  constructor(token) {
    if (token !== INTERNAL) throw new TypeError('Illegal constructor');
  }

  get type() {
    void this.#internals;
    return 'secret';
  }

  get extractable() {
    return this.#internals.extractable;
  }

  get algorithm() {
    return this.#algorithm;
  }

  get usages() {
    return this.#usages;
  }

  static {
    cryptoKeyCreate = (material, hash, length, extractable, usages) => {
      const key = new CryptoKey(INTERNAL);
      // In the standard's order, whatever order they were asked for in.
      const ordered = CRYPTO_KEY_USAGES.filter((usage) => usages.includes(usage));
      key.#internals = { material, name: 'HMAC', hash, length, extractable: Boolean(extractable), usages: ordered };
      key.#algorithm = { name: 'HMAC', length, hash: { name: hash } };
      key.#usages = [...ordered];
      return key;
    };
    cryptoKeyIs = (value) => isObject(value) && #internals in value;
    cryptoKeyInternals = (key) => {
      if (!cryptoKeyIs(key)) throw new TypeError('The key must be a CryptoKey');
      return key.#internals;
    };
    registerInspector('CryptoKey', (value) => {
      if (!(#internals in value)) return undefined;
      const { extractable, usages } = value.#internals;
      return { type: 'secret', extractable, algorithm: value.#algorithm, usages };
    });
  }
}

setToStringTag(CryptoKey.prototype, 'CryptoKey');
defineGlobal('CryptoKey', CryptoKey);

// The key for sign() or verify(): an HMAC key allowed to do usage.
function cryptoKeyFor(algorithm, key, usage) {
  const { name } = cryptoAlgorithm(algorithm, CRYPTO_HMAC);
  const internals = cryptoKeyInternals(key);
  if (internals.name !== name) {
    throw cryptoError(`The key is for ${internals.name}, not ${name}`, 'InvalidAccessError');
  }
  if (!internals.usages.includes(usage)) throw cryptoError(`The key may not be used to ${usage}`, 'InvalidAccessError');
  return internals;
}

function cryptoImportJwk(jwk, hash, usages, extractable) {
  if (!isObject(jwk)) throw new TypeError('A JWK must be an object');
  if (jwk.kty !== 'oct') throw cryptoError('An HMAC JWK must have kty "oct"', 'DataError');
  if (typeof jwk.k !== 'string') throw cryptoError('The JWK has no "k"', 'DataError');
  const material = base64Decode(jwk.k, true);
  if (material === null) throw cryptoError('The JWK "k" is not base64url', 'DataError');
  if (jwk.alg !== undefined && jwk.alg !== CRYPTO_HMAC_JWK_ALG[hash]) {
    throw cryptoError(`The JWK "alg" ${jwk.alg} does not match the hash ${hash}`, 'DataError');
  }
  if (usages.length > 0 && jwk.use !== undefined && jwk.use !== 'sig') {
    throw cryptoError('The JWK "use" must be "sig"', 'DataError');
  }
  if (jwk.key_ops !== undefined) {
    if (!Array.isArray(jwk.key_ops)) throw cryptoError('The JWK "key_ops" must be an array', 'DataError');
    for (const usage of usages) {
      if (!jwk.key_ops.includes(usage)) throw cryptoError(`The JWK "key_ops" does not allow ${usage}`, 'DataError');
    }
  }
  if (jwk.ext === false && extractable) throw cryptoError('The JWK is not extractable', 'DataError');
  return material;
}

function cryptoUnsupported(what) {
  return Promise.reject(cryptoError(`crypto.subtle.${what}() is not supported here (only digest and HMAC are)`,
    'NotSupportedError'));
}

class SubtleCrypto {
  constructor(token) {
    if (token !== INTERNAL) throw new TypeError('Illegal constructor');
  }

  async digest(algorithm, data) {
    requireArgs(arguments.length, 2, 'SubtleCrypto.digest');
    const { name } = cryptoAlgorithm(algorithm, CRYPTO_DIGESTS);
    const bytes = cryptoBytes(data, 'digest: the data');
    return cryptoNative('digest')(name, bytes);
  }

  async importKey(format, keyData, algorithm, extractable, keyUsages) {
    requireArgs(arguments.length, 5, 'SubtleCrypto.importKey');
    const kind = toDOMString(format);
    if (!['raw', 'pkcs8', 'spki', 'jwk'].includes(kind)) throw new TypeError(`'${kind}' is not a valid key format`);
    const usages = cryptoUsages(keyUsages);
    const { hash, length } = cryptoHmacParams(algorithm);
    cryptoHmacUsages(usages);
    let material;
    if (kind === 'raw') material = cryptoBytes(keyData, 'importKey: the key data');
    else if (kind === 'jwk') material = cryptoImportJwk(keyData, hash, usages, Boolean(extractable));
    else throw cryptoError(`HMAC keys cannot be imported as ${kind}`, 'NotSupportedError');
    const bits = material.length * 8;
    if (bits === 0) throw cryptoError('An HMAC key cannot be empty', 'DataError');
    if (length !== undefined && (length > bits || length <= bits - 8)) {
      throw cryptoError(`The HMAC length ${length} does not match the key's ${bits} bits`, 'DataError');
    }
    return cryptoKeyCreate(material, hash, length ?? bits, extractable, usages);
  }

  async exportKey(format, key) {
    requireArgs(arguments.length, 2, 'SubtleCrypto.exportKey');
    const kind = toDOMString(format);
    if (!['raw', 'pkcs8', 'spki', 'jwk'].includes(kind)) throw new TypeError(`'${kind}' is not a valid key format`);
    const { material, hash, extractable, usages } = cryptoKeyInternals(key);
    if (!extractable) throw cryptoError('The key is not extractable', 'InvalidAccessError');
    if (kind === 'raw') return copyBytes(material).buffer;
    if (kind === 'jwk') {
      return {
        kty: 'oct', k: base64Encode(material, true), alg: CRYPTO_HMAC_JWK_ALG[hash], key_ops: [...usages], ext: true,
      };
    }
    throw cryptoError(`HMAC keys cannot be exported as ${kind}`, 'NotSupportedError');
  }

  async generateKey(algorithm, extractable, keyUsages) {
    requireArgs(arguments.length, 3, 'SubtleCrypto.generateKey');
    const usages = cryptoUsages(keyUsages);
    const { hash, length = CRYPTO_HASH_BLOCK_BITS[hash] } = cryptoHmacParams(algorithm);
    cryptoHmacUsages(usages);
    if (length === 0) throw cryptoError('An HMAC key cannot be empty', 'OperationError');
    const material = cryptoRandomBytes(Math.ceil(length / 8));
    if (length % 8 !== 0) material[material.length - 1] &= (0xFF << (8 - (length % 8))) & 0xFF;
    return cryptoKeyCreate(material, hash, length, extractable, usages);
  }

  async sign(algorithm, key, data) {
    requireArgs(arguments.length, 3, 'SubtleCrypto.sign');
    const bytes = cryptoBytes(data, 'sign: the data');
    const { material, hash } = cryptoKeyFor(algorithm, key, 'sign');
    return cryptoNative('hmac')(hash, material, bytes);
  }

  async verify(algorithm, key, signature, data) {
    requireArgs(arguments.length, 4, 'SubtleCrypto.verify');
    const expected = cryptoBytes(signature, 'verify: the signature');
    const bytes = cryptoBytes(data, 'verify: the data');
    const { material, hash } = cryptoKeyFor(algorithm, key, 'verify');
    const mac = new Uint8Array(cryptoNative('hmac')(hash, material, bytes));
    return cryptoEqual(mac, expected);
  }

  encrypt() {
    return cryptoUnsupported('encrypt');
  }

  decrypt() {
    return cryptoUnsupported('decrypt');
  }

  deriveBits() {
    return cryptoUnsupported('deriveBits');
  }

  deriveKey() {
    return cryptoUnsupported('deriveKey');
  }

  wrapKey() {
    return cryptoUnsupported('wrapKey');
  }

  unwrapKey() {
    return cryptoUnsupported('unwrapKey');
  }

  // workerd's extension: compares two buffers of the same length in constant time.
  timingSafeEqual(a, b) {
    requireArgs(arguments.length, 2, 'SubtleCrypto.timingSafeEqual');
    const left = viewBytes(cryptoBytesView(a));
    const right = viewBytes(cryptoBytesView(b));
    if (left.length !== right.length) throw new TypeError('Input buffers must have the same byte length.');
    return cryptoEqual(left, right);
  }
}

function cryptoBytesView(value) {
  if (isArrayBuffer(value) || ArrayBuffer.isView(value)) return value;
  throw new TypeError('timingSafeEqual: the arguments must be ArrayBuffers or ArrayBufferViews');
}

setToStringTag(SubtleCrypto.prototype, 'SubtleCrypto');
defineGlobal('SubtleCrypto', SubtleCrypto);

class Crypto {
  #subtle = new SubtleCrypto(INTERNAL);

  constructor(token) {
    if (token !== INTERNAL) throw new TypeError('Illegal constructor');
  }

  get subtle() {
    return this.#subtle;
  }

  getRandomValues(array) {
    requireArgs(arguments.length, 1, 'Crypto.getRandomValues');
    const tag = ArrayBuffer.isView(array) ? Reflect.apply(cloneSetup().typedArrayTag, array, []) : undefined;
    if (!CRYPTO_INTEGER_ARRAYS.includes(tag)) {
      throw new TypeError('getRandomValues() only accepts an integer typed array');
    }
    if (array.byteLength > 65536) {
      throw new DOMException(`The ArrayBufferView's byte length (${array.byteLength}) exceeds the number of bytes `
        + 'of entropy available via this API (65536).', 'QuotaExceededError');
    }
    cryptoNative('getRandomValues')(array);
    return array;
  }

  randomUUID() {
    void this.#subtle; // brand check
    const bytes = cryptoRandomBytes(16);
    bytes[6] = (bytes[6] & 0x0F) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3F) | 0x80; // variant 10
    let hex = '';
    for (let i = 0; i < 16; i++) hex += (bytes[i] + 0x100).toString(16).slice(1);
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
}

setToStringTag(Crypto.prototype, 'Crypto');
defineGlobal('Crypto', Crypto);
defineGlobal('crypto', new Crypto(INTERNAL));
