// crypto (W3C WebCrypto, as workerd exposes it): getRandomValues,
// randomUUID, and crypto.subtle with digest (SHA-1/256/384/512, and MD5 as
// on Workers), HMAC, PBKDF2 and HKDF (deriveBits, deriveKey), AES-GCM and
// AES-CBC (encrypt, decrypt; raw and jwk keys), ECDSA P-256/384/521 (sign,
// verify; spki, pkcs8, jwk and raw public keys), plus workerd's
// crypto.subtle.timingSafeEqual. The primitives are natives over OpenSSL 3
// (api/crypto.cc): native.getRandomValues, digest, hmac, pbkdf2, hkdf,
// aesCbc, aesGcm, ecImport, ecImportJwk, ecdsaSign, ecdsaVerify; they
// return null where the operation fails, and this file names the error.

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
  const length = TypedArrayPrototypeGetLength(a);
  if (length !== TypedArrayPrototypeGetLength(b)) return false;
  let difference = 0;
  for (let i = 0; i < length; i++) difference |= a[i] ^ b[i];
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
  const name = supported[StringPrototypeToLowerCase(toDOMString(object.name))];
  if (name === undefined) throw cryptoError(`Unrecognized or unsupported algorithm: ${toDOMString(object.name)}`, 'NotSupportedError');
  return { object, name };
}

function cryptoHash(value) {
  if (value === undefined) throw new TypeError('The algorithm needs a hash');
  return cryptoAlgorithm(value, CRYPTO_HASHES).name;
}

// Every algorithm crypto.subtle knows, lower-cased -> the standard's spelling.
const CRYPTO_ALGORITHMS = {
  __proto__: null, hmac: 'HMAC', pbkdf2: 'PBKDF2', hkdf: 'HKDF', 'aes-gcm': 'AES-GCM', 'aes-cbc': 'AES-CBC',
  ecdsa: 'ECDSA',
};
// The usages a key of each kind may have: secret keys, or [public, private].
const CRYPTO_ALLOWED_USAGES = {
  __proto__: null,
  HMAC: ['sign', 'verify'],
  PBKDF2: ['deriveKey', 'deriveBits'],
  HKDF: ['deriveKey', 'deriveBits'],
  'AES-GCM': ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'],
  'AES-CBC': ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'],
};
const CRYPTO_AES_JWK_ALG = { __proto__: null, 'AES-GCM': 'GCM', 'AES-CBC': 'CBC' };
const CRYPTO_CURVES = { __proto__: null, 'P-256': 32, 'P-384': 48, 'P-521': 66 };
const CRYPTO_ECDSA_JWK_ALG = { __proto__: null, 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' };
const CRYPTO_GCM_TAG_BITS = [32, 64, 96, 104, 112, 120, 128];
// As Workers bounds it: a PBKDF2 call runs to its end inside one native call.
const CRYPTO_PBKDF2_MAX_ITERATIONS = 100000;

// HmacImportParams / HmacKeyGenParams: { hash, length? }
function cryptoHmacParams(object) {
  const hash = cryptoHash(object.hash);
  let length;
  if (object.length !== undefined) {
    length = Number(object.length);
    if (!NumberIsFinite(length)) throw new TypeError('HMAC length must be a number');
    length = MathTrunc(length) >>> 0;
  }
  return { hash, length };
}

// [EnforceRange] unsigned long
function cryptoUnsignedLong(value, what) {
  const number = Number(value);
  if (!NumberIsFinite(number) || MathTrunc(number) < 0 || MathTrunc(number) > 0xFFFFFFFF) {
    throw new TypeError(`${what} must be an unsigned long`);
  }
  return MathTrunc(number);
}

function cryptoUsages(usages) {
  if (!isObject(usages) || typeof usages[SymbolIterator] !== 'function') {
    throw new TypeError('keyUsages must be a sequence of strings');
  }
  const list = listNew();
  for (const usage of usages) { // the tenant's own iterable
    const value = toDOMString(usage);
    if (!ArrayPrototypeIncludes(CRYPTO_KEY_USAGES, value)) throw new TypeError(`'${value}' is not a valid key usage`);
    if (!ArrayPrototypeIncludes(list, value)) listPush(list, value);
  }
  return list;
}

// Every usage must be one of allowed; a secret or private key needs one.
function cryptoCheckUsages(name, usages, allowed, required) {
  for (let i = 0; i < usages.length; i++) {
    if (!ArrayPrototypeIncludes(allowed, usages[i])) {
      throw cryptoError(`${name} keys cannot be used to ${usages[i]}`, 'SyntaxError');
    }
  }
  if (required && usages.length === 0) throw cryptoError('A secret or private key needs at least one usage', 'SyntaxError');
}

let cryptoKeyCreate; // (internals, algorithm) -> a CryptoKey
let cryptoKeyInternals; // (key) -> internals; TypeError if not a CryptoKey
let cryptoKeyIs; // (value) -> brand check
let cryptoKeyClone; // (key) -> a CryptoKey with the same slots (structured clone)

// What a key does is decided by its internal slots ({ type, name, material,
// hash, length, namedCurve, extractable, usages }); algorithm and usages hand
// tenants copies, so changing those objects changes nothing. material is the
// raw secret, or the DER (spki, pkcs8) of an EC key.
class CryptoKey {
  #internals;
  #algorithm;
  #usages;

  constructor(token) {
    if (token !== INTERNAL) throw new TypeError('Illegal constructor');
  }

  get type() {
    return this.#internals.type;
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
    cryptoKeyCreate = (internals, algorithm) => {
      const key = new CryptoKey(INTERNAL);
      // In the standard's order, whatever order they were asked for in.
      const ordered = listNew();
      for (let i = 0; i < CRYPTO_KEY_USAGES.length; i++) {
        if (ArrayPrototypeIncludes(internals.usages, CRYPTO_KEY_USAGES[i])) listPush(ordered, CRYPTO_KEY_USAGES[i]);
      }
      internals.usages = ordered;
      internals.extractable = Boolean(internals.extractable);
      key.#internals = internals;
      key.#algorithm = algorithm;
      key.#usages = listToArray(ordered);
      return key;
    };
    cryptoKeyIs = (value) => isObject(value) && #internals in value;
    cryptoKeyClone = (key) => {
      const { type, name, material, hash, length, namedCurve, extractable, usages } = key.#internals;
      // From the slots: the tenant may have changed the key.algorithm it was handed.
      let copy = { name };
      if (name === 'HMAC') copy = { name, length, hash: { name: hash } };
      else if (name === 'AES-GCM' || name === 'AES-CBC') copy = { name, length };
      else if (name === 'ECDSA') copy = { name, namedCurve };
      return cryptoKeyCreate({
        type, name, material: copyBytes(material), hash, length, namedCurve, extractable, usages: listToArray(usages),
      }, copy);
    };
    cryptoKeyInternals = (key) => {
      if (!cryptoKeyIs(key)) throw new TypeError('The key must be a CryptoKey');
      return key.#internals;
    };
    registerInspector('CryptoKey', (value) => {
      if (!(#internals in value)) return undefined;
      const { type, extractable, usages } = value.#internals;
      return { type, extractable, algorithm: value.#algorithm, usages: listToArray(usages) };
    });
  }
}

setToStringTag(CryptoKey.prototype, 'CryptoKey');
defineGlobal('CryptoKey', CryptoKey);

function cryptoSecretKey(name, material, extractable, usages, extra) {
  const internals = {
    type: 'secret', name, material, hash: undefined, length: TypedArrayPrototypeGetLength(material) * 8, namedCurve: undefined, extractable, usages,
  };
  let algorithm;
  if (name === 'HMAC') {
    internals.hash = extra.hash;
    internals.length = extra.length;
    algorithm = { name, length: extra.length, hash: { name: extra.hash } };
  } else if (name === 'AES-GCM' || name === 'AES-CBC') {
    algorithm = { name, length: TypedArrayPrototypeGetLength(material) * 8 };
  } else {
    algorithm = { name };
  }
  return cryptoKeyCreate(internals, algorithm);
}

// The key for an operation: one of algorithm's name allowed to do usage.
function cryptoKeyFor(name, key, usage) {
  const internals = cryptoKeyInternals(key);
  if (internals.name !== name) {
    throw cryptoError(`The key is for ${internals.name}, not ${name}`, 'InvalidAccessError');
  }
  if (!ArrayPrototypeIncludes(internals.usages, usage)) {
    throw cryptoError(`The key may not be used to ${usage}`, 'InvalidAccessError');
  }
  return internals;
}

// A JWK member holding base64url bytes.
function cryptoJwkBytes(jwk, member) {
  const value = jwk[member];
  if (typeof value !== 'string') throw cryptoError(`The JWK has no "${member}"`, 'DataError');
  const bytes = base64Decode(value, true);
  if (bytes === null) throw cryptoError(`The JWK "${member}" is not base64url`, 'DataError');
  return bytes;
}

// The checks every JWK import makes: kty, alg, use, key_ops, ext.
function cryptoJwkCommon(jwk, kty, alg, use, usages, extractable) {
  if (!isObject(jwk)) throw new TypeError('A JWK must be an object');
  if (jwk.kty !== kty) throw cryptoError(`The JWK must have kty "${kty}"`, 'DataError');
  const jwkAlg = jwk.alg;
  if (jwkAlg !== undefined && alg !== undefined && jwkAlg !== alg) {
    throw cryptoError(`The JWK "alg" ${toDOMString(jwkAlg)} does not match ${alg}`, 'DataError');
  }
  if (usages.length > 0 && jwk.use !== undefined && jwk.use !== use) {
    throw cryptoError(`The JWK "use" must be "${use}"`, 'DataError');
  }
  const ops = jwk.key_ops;
  if (ops !== undefined) {
    if (!ArrayIsArray(ops)) throw cryptoError('The JWK "key_ops" must be an array', 'DataError');
    for (let i = 0; i < usages.length; i++) {
      if (!ArrayPrototypeIncludes(ops, usages[i])) throw cryptoError(`The JWK "key_ops" does not allow ${usages[i]}`, 'DataError');
    }
  }
  if (jwk.ext === false && extractable) throw cryptoError('The JWK is not extractable', 'DataError');
}

function cryptoAesLength(bits, error) {
  if (bits !== 128 && bits !== 192 && bits !== 256) throw cryptoError('AES keys are 128, 192 or 256 bits', error);
}

function cryptoImportSecret(kind, keyData, name, object, extractable, usages) {
  cryptoCheckUsages(name, usages, CRYPTO_ALLOWED_USAGES[name], true);
  let material;
  if (name === 'PBKDF2' || name === 'HKDF') {
    if (kind !== 'raw') throw cryptoError(`${name} keys can only be imported as raw`, 'NotSupportedError');
    if (extractable) throw cryptoError(`${name} keys cannot be extractable`, 'SyntaxError');
    return cryptoSecretKey(name, cryptoBytes(keyData, 'importKey: the key data'), false, usages);
  }
  if (name === 'HMAC') {
    const { hash, length } = cryptoHmacParams(object);
    if (kind === 'raw') {
      material = cryptoBytes(keyData, 'importKey: the key data');
    } else if (kind === 'jwk') {
      cryptoJwkCommon(keyData, 'oct', CRYPTO_HMAC_JWK_ALG[hash], 'sig', usages, extractable);
      material = cryptoJwkBytes(keyData, 'k');
    } else {
      throw cryptoError(`HMAC keys cannot be imported as ${kind}`, 'NotSupportedError');
    }
    const bits = TypedArrayPrototypeGetLength(material) * 8;
    if (bits === 0) throw cryptoError('An HMAC key cannot be empty', 'DataError');
    if (length !== undefined && (length > bits || length <= bits - 8)) {
      throw cryptoError(`The HMAC length ${length} does not match the key's ${bits} bits`, 'DataError');
    }
    return cryptoSecretKey(name, material, extractable, usages, { hash, length: length ?? bits });
  }
  // AES-GCM, AES-CBC
  if (kind === 'raw') {
    material = cryptoBytes(keyData, 'importKey: the key data');
    cryptoAesLength(TypedArrayPrototypeGetLength(material) * 8, 'DataError');
  } else if (kind === 'jwk') {
    cryptoJwkCommon(keyData, 'oct', undefined, 'enc', usages, extractable);
    material = cryptoJwkBytes(keyData, 'k');
    cryptoAesLength(TypedArrayPrototypeGetLength(material) * 8, 'DataError');
    const alg = keyData.alg;
    if (alg !== undefined && alg !== `A${TypedArrayPrototypeGetLength(material) * 8}${CRYPTO_AES_JWK_ALG[name]}`) {
      throw cryptoError(`The JWK "alg" ${toDOMString(alg)} does not match the key`, 'DataError');
    }
  } else {
    throw cryptoError(`${name} keys cannot be imported as ${kind}`, 'NotSupportedError');
  }
  return cryptoSecretKey(name, material, extractable, usages);
}

function cryptoNamedCurve(object) {
  const curve = toDOMString(object.namedCurve);
  if (CRYPTO_CURVES[curve] === undefined) throw cryptoError(`Unsupported curve: ${curve}`, 'NotSupportedError');
  return curve;
}

function cryptoImportEc(kind, keyData, name, object, extractable, usages) {
  const namedCurve = cryptoNamedCurve(object);
  let der;
  let type;
  if (kind === 'jwk') {
    const jwk = keyData;
    cryptoJwkCommon(jwk, 'EC', CRYPTO_ECDSA_JWK_ALG[namedCurve], 'sig', usages, extractable);
    if (jwk.crv !== namedCurve) throw cryptoError(`The JWK "crv" does not match ${namedCurve}`, 'DataError');
    const x = cryptoJwkBytes(jwk, 'x');
    const y = cryptoJwkBytes(jwk, 'y');
    const d = jwk.d === undefined ? undefined : cryptoJwkBytes(jwk, 'd');
    type = d === undefined ? 'public' : 'private';
    der = cryptoNative('ecImportJwk')(namedCurve, x, y, d);
  } else if (kind === 'spki' || kind === 'raw' || kind === 'pkcs8') {
    type = kind === 'pkcs8' ? 'private' : 'public';
    der = cryptoNative('ecImport')(kind, namedCurve, cryptoBytes(keyData, 'importKey: the key data'));
  }
  if (der === null) throw cryptoError(`The key data is not a valid ${namedCurve} ${type} key`, 'DataError');
  cryptoCheckUsages(name, usages, type === 'public' ? ['verify'] : ['sign'], type === 'private');
  return cryptoKeyCreate({
    type, name, material: new Uint8Array(der), hash: undefined, length: undefined, namedCurve, extractable, usages,
  }, { name, namedCurve });
}

function cryptoGenerateSecret(name, object, extractable, usages) {
  cryptoCheckUsages(name, usages, CRYPTO_ALLOWED_USAGES[name] ?? listNew(), true);
  if (name === 'HMAC') {
    const { hash, length = CRYPTO_HASH_BLOCK_BITS[hash] } = cryptoHmacParams(object);
    if (length === 0) throw cryptoError('An HMAC key cannot be empty', 'OperationError');
    const material = cryptoRandomBytes(MathFloor((length + 7) / 8));
    if (length % 8 !== 0) material[TypedArrayPrototypeGetLength(material) - 1] &= (0xFF << (8 - (length % 8))) & 0xFF;
    return cryptoSecretKey(name, material, extractable, usages, { hash, length });
  }
  if (name === 'AES-GCM' || name === 'AES-CBC') {
    const length = cryptoUnsignedLong(object.length, 'AES length');
    cryptoAesLength(length, 'OperationError');
    return cryptoSecretKey(name, cryptoRandomBytes(length / 8), extractable, usages);
  }
  throw cryptoError(`crypto.subtle.generateKey() does not support ${name} here`, 'NotSupportedError');
}

// deriveBits for PBKDF2 and HKDF; length in bits, a multiple of 8.
function cryptoDeriveBits(object, name, internals, length) {
  if (length === null || length === undefined) throw cryptoError(`${name} needs a length`, 'OperationError');
  if (length % 8 !== 0) throw cryptoError(`${name}: the length must be a multiple of 8`, 'OperationError');
  const hash = cryptoHash(object.hash);
  const salt = cryptoBytes(object.salt, `${name}: the salt`);
  let bits;
  if (name === 'PBKDF2') {
    const iterations = cryptoUnsignedLong(object.iterations, 'PBKDF2 iterations');
    if (iterations === 0) throw cryptoError('PBKDF2 needs at least one iteration', 'OperationError');
    if (iterations > CRYPTO_PBKDF2_MAX_ITERATIONS) {
      throw cryptoError(`PBKDF2 iteration counts above ${CRYPTO_PBKDF2_MAX_ITERATIONS} are not supported `
        + `(requested ${iterations}).`, 'NotSupportedError');
    }
    bits = cryptoNative('pbkdf2')(hash, internals.material, salt, iterations, length / 8);
  } else {
    const info = cryptoBytes(object.info, 'HKDF: the info');
    bits = cryptoNative('hkdf')(hash, internals.material, salt, info, length / 8);
  }
  if (bits === null) throw cryptoError(`${name} cannot derive ${length} bits`, 'OperationError');
  return bits;
}

// The length, in bits, a key of derivedKeyAlgorithm needs.
function cryptoDerivedKeyLength(name, object) {
  if (name === 'AES-GCM' || name === 'AES-CBC') {
    const length = cryptoUnsignedLong(object.length, 'AES length');
    cryptoAesLength(length, 'OperationError');
    return length;
  }
  if (name === 'HMAC') {
    const { hash, length } = cryptoHmacParams(object);
    if (length === 0) throw cryptoError('An HMAC key cannot be empty', 'OperationError');
    return length ?? CRYPTO_HASH_BLOCK_BITS[hash];
  }
  if (name === 'PBKDF2' || name === 'HKDF') return null;
  throw cryptoError(`deriveKey() cannot make ${name} keys`, 'NotSupportedError');
}

function cryptoAes(encrypt, object, name, internals, bytes) {
  const iv = cryptoBytes(object.iv, `${name}: the iv`);
  let result;
  if (name === 'AES-CBC') {
    if (TypedArrayPrototypeGetLength(iv) !== 16) throw cryptoError('The AES-CBC iv must be 16 bytes', 'OperationError');
    result = cryptoNative('aesCbc')(encrypt, internals.material, iv, bytes);
  } else {
    const aad = object.additionalData === undefined ? new Uint8Array(0)
      : cryptoBytes(object.additionalData, 'AES-GCM: the additionalData');
    const tagLength = object.tagLength === undefined ? 128 : cryptoUnsignedLong(object.tagLength, 'tagLength');
    if (!ArrayPrototypeIncludes(CRYPTO_GCM_TAG_BITS, tagLength)) {
      throw cryptoError(`${tagLength} is not a valid AES-GCM tag length`, 'OperationError');
    }
    if (TypedArrayPrototypeGetLength(iv) === 0) throw cryptoError('The AES-GCM iv cannot be empty', 'OperationError');
    if (!encrypt && TypedArrayPrototypeGetLength(bytes) < tagLength / 8) throw cryptoError('The data is shorter than the tag', 'OperationError');
    result = cryptoNative('aesGcm')(encrypt, internals.material, iv, aad, bytes, tagLength / 8);
  }
  if (result === null) throw cryptoError(`${name}: the data could not be ${encrypt ? 'encrypted' : 'decrypted'}`, 'OperationError');
  return result;
}

// encrypt() and decrypt()
function cryptoCipher(encrypt, algorithm, key, data) {
  const usage = encrypt ? 'encrypt' : 'decrypt';
  const { object, name } = cryptoAlgorithm(algorithm, CRYPTO_ALGORITHMS);
  const bytes = cryptoBytes(data, `${usage}: the data`);
  const internals = cryptoKeyFor(name, key, usage);
  if (name !== 'AES-GCM' && name !== 'AES-CBC') throw cryptoError(`${name} cannot ${usage}`, 'NotSupportedError');
  return cryptoAes(encrypt, object, name, internals, bytes);
}

function cryptoUnsupported(what) {
  return PromiseReject(cryptoError(`crypto.subtle.${what}() is not supported here yet`, 'NotSupportedError'));
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
    if (!ArrayPrototypeIncludes(['raw', 'pkcs8', 'spki', 'jwk'], kind)) throw new TypeError(`'${kind}' is not a valid key format`);
    const { object, name } = cryptoAlgorithm(algorithm, CRYPTO_ALGORITHMS);
    const usages = cryptoUsages(keyUsages);
    if (name === 'ECDSA') return cryptoImportEc(kind, keyData, name, object, Boolean(extractable), usages);
    return cryptoImportSecret(kind, keyData, name, object, Boolean(extractable), usages);
  }

  async exportKey(format, key) {
    requireArgs(arguments.length, 2, 'SubtleCrypto.exportKey');
    const kind = toDOMString(format);
    if (!ArrayPrototypeIncludes(['raw', 'pkcs8', 'spki', 'jwk'], kind)) throw new TypeError(`'${kind}' is not a valid key format`);
    const { type, name, material, hash, extractable, usages } = cryptoKeyInternals(key);
    if (!extractable) throw cryptoError('The key is not extractable', 'InvalidAccessError');
    if (name === 'ECDSA') {
      if ((kind === 'spki' && type === 'public') || (kind === 'pkcs8' && type === 'private')) {
        return exactBuffer(copyBytes(material));
      }
      throw cryptoError(`ECDSA ${type} keys cannot be exported as ${kind} here yet`, 'NotSupportedError');
    }
    if (kind === 'raw') return exactBuffer(copyBytes(material));
    if (kind === 'jwk') {
      const alg = name === 'HMAC' ? CRYPTO_HMAC_JWK_ALG[hash] : `A${TypedArrayPrototypeGetLength(material) * 8}${CRYPTO_AES_JWK_ALG[name]}`;
      return { kty: 'oct', k: base64Encode(material, true), alg, key_ops: listToArray(usages), ext: true };
    }
    throw cryptoError(`${name} keys cannot be exported as ${kind}`, 'NotSupportedError');
  }

  async generateKey(algorithm, extractable, keyUsages) {
    requireArgs(arguments.length, 3, 'SubtleCrypto.generateKey');
    const { object, name } = cryptoAlgorithm(algorithm, CRYPTO_ALGORITHMS);
    const usages = cryptoUsages(keyUsages);
    return cryptoGenerateSecret(name, object, extractable, usages);
  }

  async sign(algorithm, key, data) {
    requireArgs(arguments.length, 3, 'SubtleCrypto.sign');
    const { object, name } = cryptoAlgorithm(algorithm, CRYPTO_ALGORITHMS);
    const bytes = cryptoBytes(data, 'sign: the data');
    const internals = cryptoKeyFor(name, key, 'sign');
    if (name === 'HMAC') return cryptoNative('hmac')(internals.hash, internals.material, bytes);
    if (name === 'ECDSA') {
      const signature = cryptoNative('ecdsaSign')(cryptoHash(object.hash), internals.material, bytes);
      if (signature === null) throw cryptoError('ECDSA signing failed', 'OperationError');
      return signature;
    }
    throw cryptoError(`${name} cannot sign`, 'NotSupportedError');
  }

  async verify(algorithm, key, signature, data) {
    requireArgs(arguments.length, 4, 'SubtleCrypto.verify');
    const { object, name } = cryptoAlgorithm(algorithm, CRYPTO_ALGORITHMS);
    const expected = cryptoBytes(signature, 'verify: the signature');
    const bytes = cryptoBytes(data, 'verify: the data');
    const internals = cryptoKeyFor(name, key, 'verify');
    if (name === 'HMAC') {
      const mac = new Uint8Array(cryptoNative('hmac')(internals.hash, internals.material, bytes));
      return cryptoEqual(mac, expected);
    }
    if (name === 'ECDSA') {
      const ok = cryptoNative('ecdsaVerify')(cryptoHash(object.hash), internals.material, expected, bytes);
      if (ok === null) throw cryptoError('The ECDSA key could not be read', 'OperationError');
      return ok;
    }
    throw cryptoError(`${name} cannot verify`, 'NotSupportedError');
  }

  async encrypt(algorithm, key, data) {
    requireArgs(arguments.length, 3, 'SubtleCrypto.encrypt');
    return cryptoCipher(true, algorithm, key, data);
  }

  async decrypt(algorithm, key, data) {
    requireArgs(arguments.length, 3, 'SubtleCrypto.decrypt');
    return cryptoCipher(false, algorithm, key, data);
  }

  async deriveBits(algorithm, baseKey, length) {
    requireArgs(arguments.length, 2, 'SubtleCrypto.deriveBits');
    const { object, name } = cryptoAlgorithm(algorithm, CRYPTO_ALGORITHMS);
    const bits = length === undefined || length === null ? null : cryptoUnsignedLong(length, 'length');
    const internals = cryptoKeyFor(name, baseKey, 'deriveBits');
    if (name !== 'PBKDF2' && name !== 'HKDF') throw cryptoError(`${name} cannot derive bits`, 'NotSupportedError');
    return cryptoDeriveBits(object, name, internals, bits);
  }

  async deriveKey(algorithm, baseKey, derivedKeyAlgorithm, extractable, keyUsages) {
    requireArgs(arguments.length, 5, 'SubtleCrypto.deriveKey');
    const { object, name } = cryptoAlgorithm(algorithm, CRYPTO_ALGORITHMS);
    const derived = cryptoAlgorithm(derivedKeyAlgorithm, CRYPTO_ALGORITHMS);
    const usages = cryptoUsages(keyUsages);
    const internals = cryptoKeyFor(name, baseKey, 'deriveKey');
    if (name !== 'PBKDF2' && name !== 'HKDF') throw cryptoError(`${name} cannot derive keys`, 'NotSupportedError');
    const length = cryptoDerivedKeyLength(derived.name, derived.object);
    const bits = cryptoDeriveBits(object, name, internals, length);
    return cryptoImportSecret('raw', bits, derived.name, derived.object, Boolean(extractable), usages);
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
    if (TypedArrayPrototypeGetLength(left) !== TypedArrayPrototypeGetLength(right)) throw new TypeError('Input buffers must have the same byte length.');
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
