// node:crypto, the part Workers scripts use most: createHash and createHmac
// (MD5, SHA-1, SHA-256, SHA-384, SHA-512, synchronous, on the engine's
// OpenSSL digests), KeyObjects (secret ones from createSecretKey, as
// jsonwebtoken makes of an HS256 secret; RSA, EC, Ed25519 and X25519 public
// and private ones from PEM, DER or JWK), Sign/Verify and sign/verify,
// randomBytes/randomFillSync/randomInt/randomUUID, timingSafeEqual,
// getRandomValues, pbkdf2, hkdf and scrypt, and webcrypto/subtle (the global crypto). HMAC is built
// here on the digests (RFC 2104), so it is synchronous too; signatures are
// crypto.subtle's primitives, called synchronously, as are generateKeyPair
// and createCipheriv/createDecipheriv (AES in GCM, CBC and CTR modes).
// Secret key generation, other ciphers, public-key encryption and
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

// Explicit constructors: V8 10.2's default derived constructor passes its
// arguments on through Array.prototype[Symbol.iterator], which the tenant
// may have replaced.
class SecretKeyObject extends KeyObject {
  constructor(type, bytes, kind) { super(type, bytes, kind); }
}
class PublicKeyObject extends KeyObject {
  constructor(type, bytes, kind) { super(type, bytes, kind); }
}
class PrivateKeyObject extends KeyObject {
  constructor(type, bytes, kind) { super(type, bytes, kind); }
}

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

// Node.js's bound on a derived key's length (an int), as its RangeError.
const MAX_KEYLEN = 2147483647;

function checkKeylen(keylen) {
  if (!Number.isInteger(keylen) || keylen < 0) throw new RangeError('The "keylen" argument must be a non-negative integer');
  if (keylen > MAX_KEYLEN) {
    throw codedError(RangeError, `The value of "keylen" is out of range. It must be >= 0 && <= ${MAX_KEYLEN}. Received ${keylen}`,
      'ERR_OUT_OF_RANGE');
  }
}

function pbkdf2Sync(password, salt, iterations, keylen, digest) {
  if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError('The "iterations" argument must be a positive integer');
  if (iterations > 100000) throw new RangeError('PBKDF2 takes at most 100,000 iterations here, as on Workers');
  checkKeylen(keylen);
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

// scrypt (RFC 7914) on pbkdf2Sync (HMAC-SHA-256, one iteration): Salsa20/8
// over 32-bit words, the N blocks of ROMix in one Uint32Array (128 * N * r
// bytes; maxmem bounds them with B as OpenSSL counts, 32 MiB by default, as
// in Node.js).
function scryptParams(options) {
  const pick = (a, b, fallback) => {
    if (options[a] !== undefined && options[b] !== undefined) {
      throw codedError(TypeError, `The "${a}" and "${b}" options are mutually exclusive`, 'ERR_INCOMPATIBLE_OPTION_PAIR');
    }
    return options[a] ?? options[b] ?? fallback;
  };
  const N = pick('N', 'cost', 16384);
  const r = pick('r', 'blockSize', 8);
  const p = pick('p', 'parallelization', 1);
  const maxmem = options.maxmem ?? 32 << 20;
  const invalid = (why) => codedError(RangeError, `Invalid scrypt params: ${why}`, 'ERR_CRYPTO_INVALID_SCRYPT_PARAMS');
  if (!Number.isInteger(N) || N < 2 || (N & (N - 1)) !== 0) throw invalid('N must be a power of 2 greater than 1');
  if (!Number.isInteger(r) || r < 1 || !Number.isInteger(p) || p < 1 || r * p >= 2 ** 30) throw invalid('r and p must be positive, r * p < 2^30');
  // the first PBKDF2 derives 128 * r * p bytes: a key length Node.js bounds too
  if (128 * r * p > MAX_KEYLEN) throw invalid('128 * r * p must be at most 2^31 - 1');
  if (128 * r * (N + 2 + p) > maxmem) throw invalid('memory limit exceeded');
  return { N, r, p };
}

// out[o..o+16) = Salsa20/8(a[ai..ai+16) ^ b[bi..bi+16)), in locals, the
// rotations written out (RFC 7914 3).
function xorSalsa8(a, ai, b, bi, out, o) {
  const y0 = a[ai] ^ b[bi], y1 = a[ai + 1] ^ b[bi + 1], y2 = a[ai + 2] ^ b[bi + 2], y3 = a[ai + 3] ^ b[bi + 3];
  const y4 = a[ai + 4] ^ b[bi + 4], y5 = a[ai + 5] ^ b[bi + 5], y6 = a[ai + 6] ^ b[bi + 6], y7 = a[ai + 7] ^ b[bi + 7];
  const y8 = a[ai + 8] ^ b[bi + 8], y9 = a[ai + 9] ^ b[bi + 9], y10 = a[ai + 10] ^ b[bi + 10], y11 = a[ai + 11] ^ b[bi + 11];
  const y12 = a[ai + 12] ^ b[bi + 12], y13 = a[ai + 13] ^ b[bi + 13], y14 = a[ai + 14] ^ b[bi + 14], y15 = a[ai + 15] ^ b[bi + 15];
  let x0 = y0, x1 = y1, x2 = y2, x3 = y3, x4 = y4, x5 = y5, x6 = y6, x7 = y7;
  let x8 = y8, x9 = y9, x10 = y10, x11 = y11, x12 = y12, x13 = y13, x14 = y14, x15 = y15;
  let t;
  for (let i = 0; i < 8; i += 2) {
    x4 ^= (t = (x0 + x12) | 0, (t << 7) | (t >>> 25)); x8 ^= (t = (x4 + x0) | 0, (t << 9) | (t >>> 23));
    x12 ^= (t = (x8 + x4) | 0, (t << 13) | (t >>> 19)); x0 ^= (t = (x12 + x8) | 0, (t << 18) | (t >>> 14));
    x9 ^= (t = (x5 + x1) | 0, (t << 7) | (t >>> 25)); x13 ^= (t = (x9 + x5) | 0, (t << 9) | (t >>> 23));
    x1 ^= (t = (x13 + x9) | 0, (t << 13) | (t >>> 19)); x5 ^= (t = (x1 + x13) | 0, (t << 18) | (t >>> 14));
    x14 ^= (t = (x10 + x6) | 0, (t << 7) | (t >>> 25)); x2 ^= (t = (x14 + x10) | 0, (t << 9) | (t >>> 23));
    x6 ^= (t = (x2 + x14) | 0, (t << 13) | (t >>> 19)); x10 ^= (t = (x6 + x2) | 0, (t << 18) | (t >>> 14));
    x3 ^= (t = (x15 + x11) | 0, (t << 7) | (t >>> 25)); x7 ^= (t = (x3 + x15) | 0, (t << 9) | (t >>> 23));
    x11 ^= (t = (x7 + x3) | 0, (t << 13) | (t >>> 19)); x15 ^= (t = (x11 + x7) | 0, (t << 18) | (t >>> 14));
    x1 ^= (t = (x0 + x3) | 0, (t << 7) | (t >>> 25)); x2 ^= (t = (x1 + x0) | 0, (t << 9) | (t >>> 23));
    x3 ^= (t = (x2 + x1) | 0, (t << 13) | (t >>> 19)); x0 ^= (t = (x3 + x2) | 0, (t << 18) | (t >>> 14));
    x6 ^= (t = (x5 + x4) | 0, (t << 7) | (t >>> 25)); x7 ^= (t = (x6 + x5) | 0, (t << 9) | (t >>> 23));
    x4 ^= (t = (x7 + x6) | 0, (t << 13) | (t >>> 19)); x5 ^= (t = (x4 + x7) | 0, (t << 18) | (t >>> 14));
    x11 ^= (t = (x10 + x9) | 0, (t << 7) | (t >>> 25)); x8 ^= (t = (x11 + x10) | 0, (t << 9) | (t >>> 23));
    x9 ^= (t = (x8 + x11) | 0, (t << 13) | (t >>> 19)); x10 ^= (t = (x9 + x8) | 0, (t << 18) | (t >>> 14));
    x12 ^= (t = (x15 + x14) | 0, (t << 7) | (t >>> 25)); x13 ^= (t = (x12 + x15) | 0, (t << 9) | (t >>> 23));
    x14 ^= (t = (x13 + x12) | 0, (t << 13) | (t >>> 19)); x15 ^= (t = (x14 + x13) | 0, (t << 18) | (t >>> 14));
  }
  out[o] = y0 + x0; out[o + 1] = y1 + x1; out[o + 2] = y2 + x2; out[o + 3] = y3 + x3;
  out[o + 4] = y4 + x4; out[o + 5] = y5 + x5; out[o + 6] = y6 + x6; out[o + 7] = y7 + x7;
  out[o + 8] = y8 + x8; out[o + 9] = y9 + x9; out[o + 10] = y10 + x10; out[o + 11] = y11 + x11;
  out[o + 12] = y12 + x12; out[o + 13] = y13 + x13; out[o + 14] = y14 + x14; out[o + 15] = y15 + x15;
}

// BlockMix (RFC 7914 4) of the 2r blocks of X into out: Y_i = H(Y_i-1 ^ X_i)
// from Y_-1 = X_2r-1, the even ones to the first half, the odd to the second.
function blockMix(X, out, r) {
  let prev = X;
  let p = (2 * r - 1) * 16;
  for (let i = 0; i < 2 * r; i++) {
    const o = ((i & 1) === 0 ? i >> 1 : r + (i >> 1)) * 16;
    xorSalsa8(prev, p, X, i * 16, out, o);
    prev = out;
    p = o;
  }
}

// ROMix (RFC 7914 5) of the 128 * r bytes at `at`, in place; index loops
// only (no typed array method a script may have replaced).
function roMix(bytes, at, N, r) {
  const words = 32 * r;
  let X = new Uint32Array(words);
  let Y = new Uint32Array(words);
  for (let i = 0, b = at; i < words; i++, b += 4) {
    X[i] = bytes[b] | (bytes[b + 1] << 8) | (bytes[b + 2] << 16) | (bytes[b + 3] << 24);
  }
  const V = new Uint32Array(words * N);
  for (let i = 0; i < N; i++) {
    for (let k = 0, v = i * words; k < words; k++) V[v + k] = X[k];
    blockMix(X, Y, r);
    [X, Y] = [Y, X];
  }
  for (let i = 0; i < N; i++) {
    const j = (X[(2 * r - 1) * 16] & (N - 1)) * words;
    for (let k = 0; k < words; k++) X[k] ^= V[j + k];
    blockMix(X, Y, r);
    [X, Y] = [Y, X];
  }
  for (let i = 0, b = at; i < words; i++, b += 4) {
    bytes[b] = X[i]; bytes[b + 1] = X[i] >>> 8; bytes[b + 2] = X[i] >>> 16; bytes[b + 3] = X[i] >>> 24;
  }
}

function scryptSync(password, salt, keylen, options = {}) {
  checkKeylen(keylen);
  const { N, r, p } = scryptParams(options ?? {});
  const secret = toBytes(password, undefined, 'password');
  const B = pbkdf2Sync(secret, toBytes(salt, undefined, 'salt'), 1, 128 * r * p, 'sha256');
  for (let i = 0; i < p; i++) roMix(B, 128 * r * i, N, r);
  return pbkdf2Sync(secret, B, 1, keylen, 'sha256');
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
  scryptSync,
  scrypt: (password, salt, keylen, options, callback) => (typeof options === 'function'
    ? later(options, () => scryptSync(password, salt, keylen))
    : later(callback, () => scryptSync(password, salt, keylen, options))),
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
    'publicEncrypt', 'privateDecrypt', 'privateEncrypt', 'publicDecrypt', 'createECDH',
    'createDiffieHellman', 'getDiffieHellman', 'diffieHellman', 'createDiffieHellmanGroup', 'DiffieHellman',
    'DiffieHellmanGroup', 'ECDH', 'X509Certificate', 'Certificate', 'checkPrime', 'checkPrimeSync', 'generatePrime',
    'generatePrimeSync', 'setFips', 'setEngine', 'secureHeapUsed']),
};
