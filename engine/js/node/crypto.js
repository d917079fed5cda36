// node:crypto, the part Workers scripts use most: createHash and createHmac
// (MD5, SHA-1, SHA-256, SHA-384, SHA-512, synchronous, on the engine's
// OpenSSL digests), KeyObjects (secret ones from createSecretKey, as
// jsonwebtoken makes of an HS256 secret; RSA, EC, Ed25519 and X25519 public
// and private ones from PEM, DER or JWK), Sign/Verify and sign/verify,
// randomBytes/randomFillSync/randomInt/randomUUID, timingSafeEqual,
// getRandomValues, and webcrypto/subtle (the global crypto). HMAC is built
// here on the digests (RFC 2104), so it is synchronous too; signatures are
// crypto.subtle's primitives, called synchronously, as are generateKeyPair
// and createCipheriv/createDecipheriv (AES in GCM, CBC and CTR modes).
// Secret key generation, other ciphers, public-key encryption, scrypt and
// Diffie-Hellman are not implemented: their names are there (a bundle that
// imports them links) and throw when called.
'use strict';
const { Buffer } = require('node:buffer');
const unimplemented = require('node/unimplemented.js');

const HASHES = {
  __proto__: null,
  md5: ['MD5', 64], sha1: ['SHA-1', 64], sha256: ['SHA-256', 64],
  sha384: ['SHA-384', 128], sha512: ['SHA-512', 128],
};

function hashOf(algorithm) {
  const name = typeof algorithm === 'string' ? algorithm.toLowerCase().replace(/-/g, '') : '';
  const hash = HASHES[name];
  if (hash === undefined) {
    const error = new Error(`Digest method not supported: ${algorithm}`);
    error.code = 'ERR_CRYPTO_INVALID_DIGEST';
    throw error;
  }
  return hash;
}

function toBytes(data, encoding, what) {
  if (typeof data === 'string') return Buffer.from(data, encoding);
  if (ArrayBuffer.isView(data)) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new TypeError(`The "${what}" argument must be of type string or an instance of Buffer, TypedArray, DataView or ArrayBuffer`);
}

function encoded(bytes, encoding) {
  const buffer = Buffer.from(bytes);
  return encoding === undefined || encoding === 'buffer' ? buffer : buffer.toString(encoding);
}

class Hash {
  #handle;
  #done = false;

  constructor(algorithm) {
    this.#handle = internals.digestCreate(hashOf(algorithm)[0]);
  }

  update(data, inputEncoding) {
    if (this.#done) throw Object.assign(new Error('Digest already called'), { code: 'ERR_CRYPTO_HASH_FINALIZED' });
    internals.digestUpdate(this.#handle, toBytes(data, inputEncoding, 'data'));
    return this;
  }

  digest(encoding) {
    if (this.#done) throw Object.assign(new Error('Digest already called'), { code: 'ERR_CRYPTO_HASH_FINALIZED' });
    this.#done = true;
    return encoded(internals.digestFinish(this.#handle), encoding);
  }
}

// --- KeyObject: secret keys (createSecretKey, as jsonwebtoken makes of an
// HS256 secret) and asymmetric ones (createPrivateKey, createPublicKey:
// RSA, EC on P-256/P-384/P-521, Ed25519, X25519), held as DER (pkcs8 or
// spki) the engine's OpenSSL checked. `keyState` reads what one holds.
let keyState;

function codedError(Type, message, code) {
  const error = new Type(message);
  error.code = code;
  return error;
}

class KeyObject {
  #type;
  #bytes;
  #kind;

  constructor(type, bytes, kind) {
    if ((type !== 'secret' && type !== 'public' && type !== 'private') || !(bytes instanceof Uint8Array)) {
      throw codedError(TypeError, `The argument 'type' is invalid. Received '${type}'`, 'ERR_INVALID_ARG_VALUE');
    }
    this.#type = type;
    this.#bytes = Uint8Array.from(bytes);
    this.#kind = type === 'secret' ? undefined : kind;
  }

  get type() { return this.#type; }
  get symmetricKeySize() { return this.#type === 'secret' ? this.#bytes.length : undefined; }
  get asymmetricKeyType() { return this.#kind === undefined ? undefined : keys().KEY_KINDS[this.#kind].type; }
  get asymmetricKeyDetails() { return this.#kind === undefined ? undefined : keys().details(this.#type, this.#kind, this.#bytes); }

  export(options) {
    const format = options === undefined || options === null ? undefined : options.format;
    if (this.#type === 'secret') {
      if (format === 'jwk') return { kty: 'oct', k: Buffer.from(this.#bytes).toString('base64url') };
      if (format !== undefined && format !== 'buffer') {
        throw codedError(TypeError, `The property 'options.format' must be one of: undefined, 'buffer', 'jwk'. Received '${format}'`, 'ERR_INVALID_ARG_VALUE');
      }
      return Buffer.from(this.#bytes);
    }
    return keys().exportAsymmetric(this.#type, this.#kind, this.#bytes, options);
  }

  equals(otherKeyObject) {
    if (!(otherKeyObject instanceof KeyObject)) {
      throw codedError(TypeError, 'The "otherKeyObject" argument must be an instance of KeyObject', 'ERR_INVALID_ARG_TYPE');
    }
    const other = otherKeyObject.#bytes;
    return otherKeyObject.#type === this.#type && other.length === this.#bytes.length && timingSafeEqual(other, this.#bytes);
  }

  get [Symbol.toStringTag]() { return 'KeyObject'; }

  static {
    keyState = (key) => (#bytes in key ? { type: key.#type, bytes: key.#bytes, kind: key.#kind } : undefined);
  }
}

class SecretKeyObject extends KeyObject {}
class PublicKeyObject extends KeyObject {}
class PrivateKeyObject extends KeyObject {}

// Asymmetric keys, signatures, key pairs and ciphers (node/crypto_keys.js),
// loaded when first used: most scripts that import node:crypto hash, and the
// import of a module its size costs every cold start.
let keysModule;
function keys() {
  keysModule ??= require('node/crypto_keys.js')({
    Buffer, KeyObject, PublicKeyObject, PrivateKeyObject, keyState, codedError, hashOf, toBytes, encoded, later, hmacKeyBytes,
  });
  return keysModule;
}

function createSecretKey(key, encoding) {
  if (key instanceof KeyObject) {
    throw codedError(TypeError, 'The "key" argument must be of type string or an instance of ArrayBuffer, Buffer, TypedArray or DataView', 'ERR_INVALID_ARG_TYPE');
  }
  const bytes = toBytes(key, encoding, 'key');
  return new SecretKeyObject('secret', new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

// createHmac's key: a secret KeyObject's bytes, or the bytes of a string or buffer.
function hmacKeyBytes(key) {
  if (!(key instanceof KeyObject)) return toBytes(key, undefined, 'key');
  const state = keyState(key);
  if (state === undefined || state.type !== 'secret') {
    throw codedError(TypeError, `Invalid key object type ${key.type}, expected secret.`, 'ERR_CRYPTO_INVALID_KEY_OBJECT_TYPE');
  }
  return state.bytes;
}

class Hmac {
  #inner;
  #outerKey;
  #name;
  #done = false;

  constructor(algorithm, key) {
    const [name, blockSize] = hashOf(algorithm);
    let material = hmacKeyBytes(key);
    if (material.byteLength > blockSize) {
      const h = internals.digestCreate(name);
      internals.digestUpdate(h, material);
      material = new Uint8Array(internals.digestFinish(h));
    }
    const bytes = new Uint8Array(material.buffer, material.byteOffset, material.byteLength);
    const inner = new Uint8Array(blockSize).fill(0x36);
    const outer = new Uint8Array(blockSize).fill(0x5c);
    for (let i = 0; i < bytes.length; i++) {
      inner[i] ^= bytes[i];
      outer[i] ^= bytes[i];
    }
    this.#name = name;
    this.#outerKey = outer;
    this.#inner = internals.digestCreate(name);
    internals.digestUpdate(this.#inner, inner);
  }

  update(data, inputEncoding) {
    if (this.#done) throw Object.assign(new Error('Digest already called'), { code: 'ERR_CRYPTO_HASH_FINALIZED' });
    internals.digestUpdate(this.#inner, toBytes(data, inputEncoding, 'data'));
    return this;
  }

  digest(encoding) {
    if (this.#done) throw Object.assign(new Error('Digest already called'), { code: 'ERR_CRYPTO_HASH_FINALIZED' });
    this.#done = true;
    const innerHash = internals.digestFinish(this.#inner);
    const outer = internals.digestCreate(this.#name);
    internals.digestUpdate(outer, this.#outerKey);
    internals.digestUpdate(outer, innerHash);
    return encoded(internals.digestFinish(outer), encoding);
  }
}

function randomFillSync(view, offset = 0, size) {
  if (!ArrayBuffer.isView(view) && !(view instanceof ArrayBuffer)) {
    throw new TypeError('The "buf" argument must be an ArrayBuffer or ArrayBufferView');
  }
  const all = view instanceof ArrayBuffer ? new Uint8Array(view)
    : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  const end = size === undefined ? all.length : offset + size;
  if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(end) || end > all.length || end < offset) {
    throw new RangeError('The "offset" or "size" argument is out of range');
  }
  // At most 64 KiB per native call (WebCrypto's quota).
  for (let at = offset; at < end; at += 65536) {
    internals.randomFill(all.subarray(at, Math.min(at + 65536, end)));
  }
  return view;
}

function randomBytes(size, callback) {
  if (!Number.isInteger(size) || size < 0 || size > 2 ** 31 - 1) {
    throw new RangeError('The "size" argument must be an integer from 0 to 2147483647');
  }
  const bytes = randomFillSync(Buffer.alloc(size));
  if (typeof callback === 'function') {
    queueMicrotask(() => callback(null, bytes));
    return undefined;
  }
  return bytes;
}

function randomInt(min, max, callback) {
  if (max === undefined || typeof max === 'function') {
    callback = max;
    max = min;
    min = 0;
  }
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || max <= min || max - min > 2 ** 48) {
    throw new RangeError('randomInt takes safe integers min < max, at most 2^48 apart');
  }
  const range = max - min;
  const limit = 2 ** 48 - (2 ** 48 % range);
  let n;
  do {
    const b = randomFillSync(new Uint8Array(6));
    n = ((b[0] * 256 + b[1]) * 256 + b[2]) * 2 ** 24 + ((b[3] * 256 + b[4]) * 256 + b[5]);
  } while (n >= limit);
  const value = min + (n % range);
  if (typeof callback === 'function') {
    queueMicrotask(() => callback(null, value));
    return undefined;
  }
  return value;
}

function timingSafeEqual(a, b) {
  if (!ArrayBuffer.isView(a) && !(a instanceof ArrayBuffer)) throw new TypeError('The "buf1" argument must be an ArrayBuffer or ArrayBufferView');
  if (!ArrayBuffer.isView(b) && !(b instanceof ArrayBuffer)) throw new TypeError('The "buf2" argument must be an ArrayBuffer or ArrayBufferView');
  const x = a instanceof ArrayBuffer ? new Uint8Array(a) : new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if (x.length !== y.length) {
    const error = new RangeError('Input buffers must have the same byte length');
    error.code = 'ERR_CRYPTO_TIMING_SAFE_EQUAL_LENGTH';
    throw error;
  }
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i] ^ y[i];
  return diff === 0;
}

function pbkdf2Sync(password, salt, iterations, keylen, digest) {
  if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError('The "iterations" argument must be a positive integer');
  if (iterations > 100000) throw new RangeError('PBKDF2 takes at most 100,000 iterations here, as on Workers');
  if (!Number.isInteger(keylen) || keylen < 0) throw new RangeError('The "keylen" argument must be a non-negative integer');
  const [name] = hashOf(digest);
  const out = internals.pbkdf2(name, toBytes(password, undefined, 'password'), toBytes(salt, undefined, 'salt'), iterations, keylen);
  if (out === null) throw new Error('PBKDF2 failed');
  return Buffer.from(out);
}

function hkdfSync(digest, key, salt, info, keylen) {
  if (!Number.isInteger(keylen) || keylen < 0) throw new RangeError('The "keylen" argument must be a non-negative integer');
  const [name] = hashOf(digest);
  const out = internals.hkdf(name, toBytes(key, undefined, 'key'), toBytes(salt, undefined, 'salt'), toBytes(info, undefined, 'info'), keylen);
  if (out === null) throw new RangeError('The "keylen" argument is too large for this digest');
  return out;
}

// The callback forms: the work is done now (as the sync one), the callback later.
function later(callback, work) {
  if (typeof callback !== 'function') throw new TypeError('The "callback" argument must be of type function');
  let result;
  let error = null;
  try {
    result = work();
  } catch (e) {
    error = e;
  }
  queueMicrotask(() => (error ? callback(error) : callback(null, result)));
}

const webcrypto = globalThis.crypto;

module.exports = {
  createHash: (algorithm) => new Hash(algorithm),
  createHmac: (algorithm, key) => new Hmac(algorithm, key),
  Hash,
  Hmac,
  getHashes: () => ['md5', 'sha1', 'sha256', 'sha384', 'sha512'],
  randomBytes,
  randomFillSync,
  randomFill: (buf, ...rest) => {
    const callback = rest.pop();
    randomFillSync(buf, ...rest);
    queueMicrotask(() => callback(null, buf));
  },
  randomInt,
  pbkdf2Sync,
  pbkdf2: (password, salt, iterations, keylen, digest, callback) =>
    later(callback, () => pbkdf2Sync(password, salt, iterations, keylen, digest)),
  hkdfSync,
  hkdf: (digest, key, salt, info, keylen, callback) =>
    later(callback, () => hkdfSync(digest, key, salt, info, keylen)),
  randomUUID: () => webcrypto.randomUUID(),
  getRandomValues: (view) => webcrypto.getRandomValues(view),
  timingSafeEqual,
  KeyObject,
  createSecretKey,
  createPrivateKey: (key) => keys().createPrivateKey(key),
  createPublicKey: (key) => keys().createPublicKey(key),
  createSign: (algorithm) => keys().createSign(algorithm),
  createVerify: (algorithm) => keys().createVerify(algorithm),
  // new Sign(...) and the like make the real object (their class is node/crypto_keys.js's)
  Sign: function Sign(algorithm) { return keys().createSign(algorithm); },
  Verify: function Verify(algorithm) { return keys().createVerify(algorithm); },
  sign: (...args) => keys().sign(...args),
  verify: (...args) => keys().verify(...args),
  webcrypto,
  subtle: webcrypto.subtle,
  constants: { RSA_PKCS1_PADDING: 1, RSA_PKCS1_PSS_PADDING: 6, RSA_PSS_SALTLEN_DIGEST: -1, RSA_PSS_SALTLEN_MAX_SIGN: -2, RSA_PSS_SALTLEN_AUTO: -2 },
  generateKeyPair: (...args) => keys().generateKeyPair(...args),
  generateKeyPairSync: (type, options) => keys().generateKeyPairSync(type, options),
  createCipheriv: (algorithm, key, iv, options) => keys().createCipheriv(algorithm, key, iv, options),
  createDecipheriv: (algorithm, key, iv, options) => keys().createDecipheriv(algorithm, key, iv, options),
  Cipheriv: function Cipheriv(algorithm, key, iv, options) { return keys().createCipheriv(algorithm, key, iv, options); },
  Decipheriv: function Decipheriv(algorithm, key, iv, options) { return keys().createDecipheriv(algorithm, key, iv, options); },
  getCiphers: () => keys().getCiphers(),
  getCipherInfo: (name) => keys().getCipherInfo(name),
  getCurves: () => ['prime256v1', 'secp384r1', 'secp521r1'],
  getFips: () => 0,
  hash: (algorithm, data, outputEncoding = 'hex') => new Hash(algorithm).update(data).digest(outputEncoding),
  ...unimplemented('crypto', [
    'generateKey', 'generateKeySync',
    'publicEncrypt', 'privateDecrypt', 'privateEncrypt', 'publicDecrypt', 'scrypt', 'scryptSync', 'createECDH',
    'createDiffieHellman', 'getDiffieHellman', 'diffieHellman', 'createDiffieHellmanGroup', 'DiffieHellman',
    'DiffieHellmanGroup', 'ECDH', 'X509Certificate', 'Certificate', 'checkPrime', 'checkPrimeSync', 'generatePrime',
    'generatePrimeSync', 'setFips', 'setEngine', 'secureHeapUsed']),
};
