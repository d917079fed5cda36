// crypto (W3C WebCrypto, as workerd exposes it): getRandomValues,
// randomUUID, and crypto.subtle with digest (SHA-1/256/384/512, and MD5 as
// on Workers), HMAC, PBKDF2, HKDF, AES-GCM/CBC/CTR/KW, ECDSA and ECDH
// (P-256/384/521), Ed25519 (and Workers' NODE-ED25519), X25519,
// RSASSA-PKCS1-v1_5, RSA-PSS and RSA-OAEP; importKey/exportKey in raw,
// pkcs8, spki and jwk, generateKey, wrapKey/unwrapKey, plus workerd's
// crypto.subtle.timingSafeEqual. The primitives are natives over OpenSSL 3
// (api/crypto.cc); they return null where the operation fails, and this file
// names the error. An asymmetric key's material is its DER (spki for a
// public key, pkcs8 for a private one), as the natives made it.

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

// Data up to this size is digested in one native call (a few ms at most).
const CRYPTO_DIGEST_ONE_CALL = 4 << 20;

// Until the engine provides a primitive, calls that need it fail clearly.
function cryptoNative(name) {
  const primitive = native[name];
  if (typeof primitive !== 'function') {
    throw new DOMException(`crypto: native.${name} is not available in this build`, 'NotSupportedError');
  }
  return primitive;
}

function cryptoBytes(value, what) {
  if (isArrayBuffer(value) || ArrayBufferIsView(value)) return copyBytes(value);
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
  'aes-ctr': 'AES-CTR', 'aes-kw': 'AES-KW', ecdsa: 'ECDSA', ecdh: 'ECDH', ed25519: 'Ed25519',
  'node-ed25519': 'NODE-ED25519', x25519: 'X25519', 'rsassa-pkcs1-v1_5': 'RSASSA-PKCS1-v1_5', 'rsa-pss': 'RSA-PSS',
  'rsa-oaep': 'RSA-OAEP',
};
// The usages a key of each kind may have: secret keys, or [public, private].
const CRYPTO_ALLOWED_USAGES = {
  __proto__: null,
  HMAC: ['sign', 'verify'],
  PBKDF2: ['deriveKey', 'deriveBits'],
  HKDF: ['deriveKey', 'deriveBits'],
  'AES-GCM': ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'],
  'AES-CBC': ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'],
  'AES-CTR': ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'],
  'AES-KW': ['wrapKey', 'unwrapKey'],
};
const CRYPTO_AES_JWK_ALG = {
  __proto__: null, 'AES-GCM': 'GCM', 'AES-CBC': 'CBC', 'AES-CTR': 'CTR', 'AES-KW': 'KW',
};
// Asymmetric algorithms: the usages of their public and private keys, and
// the JWK "use" their keys carry.
const CRYPTO_ASYMMETRIC = {
  __proto__: null,
  ECDSA: { public: ['verify'], private: ['sign'], use: 'sig' },
  ECDH: { public: [], private: ['deriveKey', 'deriveBits'], use: 'enc' },
  Ed25519: { public: ['verify'], private: ['sign'], use: 'sig' },
  'NODE-ED25519': { public: ['verify'], private: ['sign'], use: 'sig' },
  X25519: { public: [], private: ['deriveKey', 'deriveBits'], use: 'enc' },
  'RSASSA-PKCS1-v1_5': { public: ['verify'], private: ['sign'], use: 'sig' },
  'RSA-PSS': { public: ['verify'], private: ['sign'], use: 'sig' },
  'RSA-OAEP': { public: ['encrypt', 'wrapKey'], private: ['decrypt', 'unwrapKey'], use: 'enc' },
};
// The JWK "alg" of an RSA key: by algorithm, then hash.
const CRYPTO_RSA_JWK_ALG = {
  __proto__: null,
  'RSASSA-PKCS1-v1_5': { 'SHA-1': 'RS1', 'SHA-256': 'RS256', 'SHA-384': 'RS384', 'SHA-512': 'RS512' },
  'RSA-PSS': { 'SHA-1': 'PS1', 'SHA-256': 'PS256', 'SHA-384': 'PS384', 'SHA-512': 'PS512' },
  'RSA-OAEP': { 'SHA-1': 'RSA-OAEP', 'SHA-256': 'RSA-OAEP-256', 'SHA-384': 'RSA-OAEP-384', 'SHA-512': 'RSA-OAEP-512' },
};
// Members of an RSA JWK, in the order keyImportJwk/keyExport take them.
const CRYPTO_RSA_JWK_MEMBERS = ['n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi'];
// RSA key generation: what Workers' BoringSSL makes, bounded so one call
// stays within a request's CPU budget (it gives up when that runs out).
const CRYPTO_RSA_MIN_BITS = 1024;
const CRYPTO_RSA_MAX_BITS = 8192;
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

// A key's algorithm dictionary, made from its slots.
function cryptoKeyAlgorithm(internals) {
  const { name } = internals;
  if (name === 'HMAC') return { name, length: internals.length, hash: { name: internals.hash } };
  if (CRYPTO_AES_JWK_ALG[name] !== undefined) return { name, length: internals.length };
  if (name === 'ECDSA' || name === 'ECDH' || name === 'NODE-ED25519') return { name, namedCurve: internals.namedCurve };
  if (CRYPTO_RSA_JWK_ALG[name] !== undefined) {
    return {
      name, modulusLength: internals.modulusLength, publicExponent: copyBytes(internals.publicExponent),
      hash: { name: internals.hash },
    };
  }
  return { name };
}

// What a key does is decided by its internal slots ({ type, name, material,
// hash, length, namedCurve, kind, modulusLength, publicExponent, extractable,
// usages }); algorithm and usages hand
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
    cryptoKeyCreate = (internals) => {
      const key = new CryptoKey(INTERNAL);
      // In the standard's order, whatever order they were asked for in.
      const ordered = listNew();
      for (let i = 0; i < CRYPTO_KEY_USAGES.length; i++) {
        if (ArrayPrototypeIncludes(internals.usages, CRYPTO_KEY_USAGES[i])) listPush(ordered, CRYPTO_KEY_USAGES[i]);
      }
      internals.usages = ordered;
      internals.extractable = Boolean(internals.extractable);
      key.#internals = internals;
      key.#algorithm = cryptoKeyAlgorithm(internals);
      key.#usages = listToArray(ordered);
      return key;
    };
    cryptoKeyIs = (value) => isObject(value) && #internals in value;
    cryptoKeyClone = (key) => {
      // From the slots: the tenant may have changed the key.algorithm it was handed.
      const internals = { __proto__: null, ...key.#internals };
      internals.material = copyBytes(internals.material);
      internals.usages = listToArray(internals.usages);
      return cryptoKeyCreate(internals);
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
    __proto__: null, type: 'secret', name, material, length: TypedArrayPrototypeGetLength(material) * 8, extractable, usages,
  };
  if (name === 'HMAC') {
    internals.hash = extra.hash;
    internals.length = extra.length;
  }
  return cryptoKeyCreate(internals);
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
  // AES-GCM, AES-CBC, AES-CTR, AES-KW
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

// The native's kind of key for an asymmetric algorithm: its curve for EC,
// 'Ed25519', 'X25519' or 'RSA'; and the namedCurve slot.
function cryptoAsymmetricKind(name, object) {
  if (name === 'ECDSA' || name === 'ECDH') {
    const curve = toDOMString(object.namedCurve);
    if (CRYPTO_CURVES[curve] === undefined) throw cryptoError(`Unsupported curve: ${curve}`, 'NotSupportedError');
    return { kind: curve, namedCurve: curve };
  }
  if (name === 'NODE-ED25519') {
    // Workers' older spelling of Ed25519.
    if (object.namedCurve !== 'NODE-ED25519') throw cryptoError('NODE-ED25519 needs namedCurve "NODE-ED25519"', 'NotSupportedError');
    return { kind: 'Ed25519', namedCurve: 'NODE-ED25519' };
  }
  if (name === 'Ed25519' || name === 'X25519') return { kind: name, namedCurve: undefined };
  return { kind: 'RSA', namedCurve: undefined };
}

// The RSA slots of a key from its DER: modulusLength and publicExponent.
function cryptoRsaSlots(internals) {
  const parts = cryptoNative('keyExport')('jwk', internals.material, internals.type === 'private');
  if (parts === null) throw cryptoError('The RSA key could not be read', 'DataError');
  const n = new Uint8Array(parts[0]);
  let bits = TypedArrayPrototypeGetLength(n) * 8;
  for (let top = n[0]; bits > 0 && top < 0x80; top <<= 1) bits--;
  internals.modulusLength = bits;
  internals.publicExponent = new Uint8Array(parts[1]);
}

function cryptoAsymmetricKey(type, name, der, hash, kind, namedCurve, extractable, usages) {
  const internals = {
    __proto__: null, type, name, material: new Uint8Array(der), hash, kind, namedCurve, extractable, usages,
  };
  if (kind === 'RSA') cryptoRsaSlots(internals);
  return cryptoKeyCreate(internals);
}

// The JWK "alg" a key of this algorithm carries, undefined for none.
function cryptoAsymmetricJwkAlg(name, namedCurve, hash) {
  if (name === 'ECDSA') return CRYPTO_ECDSA_JWK_ALG[namedCurve];
  if (name === 'Ed25519' || name === 'NODE-ED25519') return 'EdDSA';
  if (CRYPTO_RSA_JWK_ALG[name] !== undefined) return CRYPTO_RSA_JWK_ALG[name][hash];
  return undefined;
}

function cryptoImportAsymmetric(format, keyData, name, object, extractable, usages) {
  const spec = CRYPTO_ASYMMETRIC[name];
  const { kind, namedCurve } = cryptoAsymmetricKind(name, object);
  const hash = kind === 'RSA' ? cryptoHash(object.hash) : undefined;
  let der;
  let type;
  if (format === 'jwk') {
    const jwk = keyData;
    if (!isObject(jwk)) throw new TypeError('A JWK must be an object');
    type = jwk.d === undefined ? 'public' : 'private';
    cryptoCheckUsages(name, usages, spec[type], type === 'private');
    const alg = cryptoAsymmetricJwkAlg(name, namedCurve, hash);
    const parts = listNew();
    if (kind === 'RSA') {
      cryptoJwkCommon(jwk, 'RSA', alg, spec.use, usages, extractable);
      const count = type === 'private' ? 8 : 2;
      for (let i = 0; i < count; i++) listPush(parts, cryptoJwkBytes(jwk, CRYPTO_RSA_JWK_MEMBERS[i]));
    } else if (CRYPTO_CURVES[kind] !== undefined) {
      cryptoJwkCommon(jwk, 'EC', alg, spec.use, usages, extractable);
      if (jwk.crv !== kind) throw cryptoError(`The JWK "crv" does not match ${kind}`, 'DataError');
      listPush(parts, cryptoJwkBytes(jwk, 'x'));
      listPush(parts, cryptoJwkBytes(jwk, 'y'));
      listPush(parts, type === 'private' ? cryptoJwkBytes(jwk, 'd') : undefined);
    } else {
      // An Ed25519 JWK may say "alg": "EdDSA" or "Ed25519".
      cryptoJwkCommon(jwk, 'OKP', alg === 'EdDSA' && jwk.alg === 'Ed25519' ? 'Ed25519' : alg, spec.use, usages, extractable);
      if (jwk.crv !== kind) throw cryptoError(`The JWK "crv" must be ${kind}`, 'DataError');
      listPush(parts, cryptoJwkBytes(jwk, 'x'));
      listPush(parts, type === 'private' ? cryptoJwkBytes(jwk, 'd') : undefined);
    }
    der = cryptoNative('keyImportJwk')(kind, listToArray(parts));
  } else {
    if (format === 'raw' && kind === 'RSA') throw cryptoError('RSA keys cannot be imported as raw', 'NotSupportedError');
    type = format === 'pkcs8' ? 'private' : 'public';
    cryptoCheckUsages(name, usages, spec[type], type === 'private');
    der = cryptoNative('keyImport')(format, kind, cryptoBytes(keyData, 'importKey: the key data'));
  }
  if (der === null) throw cryptoError(`The key data is not a valid ${kind} ${type} key`, 'DataError');
  return cryptoAsymmetricKey(type, name, der, hash, kind, namedCurve, extractable, usages);
}

// The usages of usages that are allowed.
function cryptoUsagesWithin(usages, allowed) {
  const list = listNew();
  for (let i = 0; i < usages.length; i++) if (ArrayPrototypeIncludes(allowed, usages[i])) listPush(list, usages[i]);
  return list;
}

// RSA's publicExponent: big-endian bytes; 3 or 65537, as the native makes.
function cryptoPublicExponent(value) {
  const bytes = cryptoBytes(value, 'publicExponent');
  let exponent = 0;
  for (let i = 0; i < TypedArrayPrototypeGetLength(bytes); i++) {
    exponent = exponent * 256 + bytes[i];
    if (exponent > 65537) break;
  }
  if (exponent !== 3 && exponent !== 65537) throw cryptoError('The RSA publicExponent must be 3 or 65537', 'OperationError');
  return exponent;
}

function cryptoGenerateAsymmetric(name, object, extractable, usages) {
  const spec = CRYPTO_ASYMMETRIC[name];
  const { kind, namedCurve } = cryptoAsymmetricKind(name, object);
  let hash;
  let bits = 0;
  let exponent = 0;
  if (kind === 'RSA') {
    hash = cryptoHash(object.hash);
    bits = cryptoUnsignedLong(object.modulusLength, 'modulusLength');
    exponent = cryptoPublicExponent(object.publicExponent);
    if (bits < CRYPTO_RSA_MIN_BITS || bits > CRYPTO_RSA_MAX_BITS || bits % 8 !== 0) {
      throw cryptoError(`The RSA modulusLength must be a multiple of 8 from ${CRYPTO_RSA_MIN_BITS} to ${CRYPTO_RSA_MAX_BITS}`,
        'OperationError');
    }
  }
  const both = listNew();
  for (let i = 0; i < spec.public.length; i++) listPush(both, spec.public[i]);
  for (let i = 0; i < spec.private.length; i++) listPush(both, spec.private[i]);
  cryptoCheckUsages(name, usages, both, false);
  const privateUsages = cryptoUsagesWithin(usages, spec.private);
  if (privateUsages.length === 0) throw cryptoError('The private key needs at least one usage', 'SyntaxError');
  const pair = cryptoNative('keyGenerate')(kind, bits, exponent, native.cpuLeftMs());
  if (pair === null) throw cryptoError(`${name}: key generation failed`, 'OperationError');
  return {
    publicKey: cryptoAsymmetricKey('public', name, pair[1], hash, kind, namedCurve, true, cryptoUsagesWithin(usages, spec.public)),
    privateKey: cryptoAsymmetricKey('private', name, pair[0], hash, kind, namedCurve, extractable, privateUsages),
  };
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
  if (CRYPTO_AES_JWK_ALG[name] !== undefined) {
    const length = cryptoUnsignedLong(object.length, 'AES length');
    cryptoAesLength(length, 'OperationError');
    return cryptoSecretKey(name, cryptoRandomBytes(length / 8), extractable, usages);
  }
  throw cryptoError(`crypto.subtle.generateKey() does not support ${name}`, 'NotSupportedError');
}

// deriveBits for PBKDF2 and HKDF; length in bits, a multiple of 8.
function cryptoDeriveBits(object, name, internals, length) {
  if (name === 'ECDH' || name === 'X25519') return cryptoDeriveShared(object, name, internals, length);
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

// ECDH and X25519: the shared secret with algorithm.public, cut to length
// bits (all of it when length is null).
function cryptoDeriveShared(object, name, internals, length) {
  const peer = object.public;
  if (!cryptoKeyIs(peer)) throw new TypeError(`${name} needs a public CryptoKey as "public"`);
  const other = cryptoKeyInternals(peer);
  if (other.type !== 'public') throw cryptoError(`${name}: "public" must be a public key`, 'InvalidAccessError');
  if (other.name !== name || other.kind !== internals.kind) {
    throw cryptoError(`${name}: "public" must be a ${name} key on the same curve`, 'InvalidAccessError');
  }
  const secret = cryptoNative('deriveShared')(internals.material, other.material);
  if (secret === null) throw cryptoError(`${name}: no shared secret with that public key`, 'OperationError');
  if (length === null || length === undefined) return secret;
  const bytes = new Uint8Array(secret);
  if (length > TypedArrayPrototypeGetLength(bytes) * 8) {
    throw cryptoError(`${name}: ${length} bits is more than the shared secret holds`, 'OperationError');
  }
  const out = copyBytes(TypedArrayPrototypeSubarray(bytes, 0, MathFloor((length + 7) / 8)));
  if (length % 8 !== 0) out[TypedArrayPrototypeGetLength(out) - 1] &= (0xFF << (8 - (length % 8))) & 0xFF;
  return TypedArrayPrototypeGetBuffer(out);
}

// The length, in bits, a key of derivedKeyAlgorithm needs.
function cryptoDerivedKeyLength(name, object) {
  if (CRYPTO_AES_JWK_ALG[name] !== undefined) {
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
  let result;
  if (name === 'AES-CTR') {
    const counter = cryptoBytes(object.counter, 'AES-CTR: the counter');
    const length = cryptoUnsignedLong(object.length, 'AES-CTR length');
    if (TypedArrayPrototypeGetLength(counter) !== 16) throw cryptoError('The AES-CTR counter must be 16 bytes', 'OperationError');
    if (length === 0 || length > 128) throw cryptoError('The AES-CTR length must be 1 to 128 bits', 'OperationError');
    result = cryptoNative('aesCtr')(internals.material, counter, length, bytes);
  } else if (name === 'AES-CBC') {
    const iv = cryptoBytes(object.iv, `${name}: the iv`);
    if (TypedArrayPrototypeGetLength(iv) !== 16) throw cryptoError('The AES-CBC iv must be 16 bytes', 'OperationError');
    result = cryptoNative('aesCbc')(encrypt, internals.material, iv, bytes);
  } else {
    const iv = cryptoBytes(object.iv, `${name}: the iv`);
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

// encrypt() and decrypt(), and the halves of wrapKey()/unwrapKey() (usage
// says which the key must allow).
function cryptoCipher(encrypt, algorithm, key, bytes, usage) {
  const { object, name } = cryptoAlgorithm(algorithm, CRYPTO_ALGORITHMS);
  if (name === 'AES-KW' && usage !== 'wrapKey' && usage !== 'unwrapKey') {
    throw cryptoError('AES-KW can only wrap and unwrap keys', 'NotSupportedError');
  }
  const internals = cryptoKeyFor(name, key, usage);
  if (name === 'AES-KW') {
    const result = cryptoNative('aesKw')(encrypt, internals.material, bytes);
    if (result === null) throw cryptoError(`AES-KW: the key could not be ${encrypt ? 'wrapped' : 'unwrapped'}`, 'OperationError');
    return result;
  }
  if (name === 'RSA-OAEP') {
    const label = object.label === undefined ? new Uint8Array(0) : cryptoBytes(object.label, 'RSA-OAEP: the label');
    const result = cryptoNative('rsaOaep')(encrypt, internals.hash, internals.material, label, bytes);
    if (result === null) throw cryptoError(`RSA-OAEP: the data could not be ${encrypt ? 'encrypted' : 'decrypted'}`, 'OperationError');
    return result;
  }
  if (CRYPTO_AES_JWK_ALG[name] === undefined) throw cryptoError(`${name} cannot ${usage}`, 'NotSupportedError');
  return cryptoAes(encrypt, object, name, internals, bytes);
}

const CRYPTO_KEY_FORMATS = ['raw', 'pkcs8', 'spki', 'jwk'];

function cryptoFormat(format) {
  const kind = toDOMString(format);
  if (!ArrayPrototypeIncludes(CRYPTO_KEY_FORMATS, kind)) throw new TypeError(`'${kind}' is not a valid key format`);
  return kind;
}

function cryptoImport(kind, keyData, algorithm, extractable, keyUsages) {
  const { object, name } = cryptoAlgorithm(algorithm, CRYPTO_ALGORITHMS);
  const usages = cryptoUsages(keyUsages);
  if (CRYPTO_ASYMMETRIC[name] !== undefined) return cryptoImportAsymmetric(kind, keyData, name, object, Boolean(extractable), usages);
  return cryptoImportSecret(kind, keyData, name, object, Boolean(extractable), usages);
}

// exportKey(): an ArrayBuffer, or a JWK object.
function cryptoExport(kind, key) {
  const internals = cryptoKeyInternals(key);
  const { type, name, material, hash, extractable, usages } = internals;
  if (!extractable) throw cryptoError('The key is not extractable', 'InvalidAccessError');
  if (CRYPTO_ASYMMETRIC[name] !== undefined) return cryptoExportAsymmetric(kind, internals);
  if (kind === 'raw') {
    if (name === 'PBKDF2' || name === 'HKDF') throw cryptoError(`${name} keys cannot be exported`, 'NotSupportedError');
    return exactBuffer(copyBytes(material));
  }
  if (kind === 'jwk' && (name === 'HMAC' || CRYPTO_AES_JWK_ALG[name] !== undefined)) {
    const alg = name === 'HMAC' ? CRYPTO_HMAC_JWK_ALG[hash] : `A${TypedArrayPrototypeGetLength(material) * 8}${CRYPTO_AES_JWK_ALG[name]}`;
    return { kty: 'oct', k: base64Encode(material, true), alg, key_ops: listToArray(usages), ext: true };
  }
  throw cryptoError(`${name} ${type} keys cannot be exported as ${kind}`, 'NotSupportedError');
}

function cryptoExportAsymmetric(kind, internals) {
  const { type, name, material, hash, namedCurve, usages } = internals;
  const keyKind = internals.kind;
  if (kind === 'spki' || kind === 'pkcs8') {
    if ((kind === 'spki') !== (type === 'public')) throw cryptoError(`A ${type} key cannot be exported as ${kind}`, 'InvalidAccessError');
    return exactBuffer(copyBytes(material));
  }
  if (kind === 'raw') {
    if (type !== 'public') throw cryptoError('Only a public key can be exported as raw', 'InvalidAccessError');
    if (keyKind === 'RSA') throw cryptoError('RSA keys cannot be exported as raw', 'NotSupportedError');
    const raw = cryptoNative('keyExport')('raw', material, false);
    if (raw === null) throw cryptoError('The key could not be exported', 'OperationError');
    return raw;
  }
  const parts = cryptoNative('keyExport')('jwk', material, type === 'private');
  if (parts === null) throw cryptoError('The key could not be exported', 'OperationError');
  const part = (i) => base64Encode(new Uint8Array(parts[i]), true);
  let jwk;
  if (keyKind === 'RSA') {
    jwk = { kty: 'RSA' };
    for (let i = 0; i < parts.length; i++) jwk[CRYPTO_RSA_JWK_MEMBERS[i]] = part(i);
  } else if (CRYPTO_CURVES[keyKind] !== undefined) {
    jwk = { kty: 'EC', crv: keyKind, x: part(0), y: part(1) };
    if (type === 'private') jwk.d = part(2);
  } else {
    jwk = { kty: 'OKP', crv: keyKind, x: part(0) };
    if (type === 'private') jwk.d = part(1);
  }
  const alg = cryptoAsymmetricJwkAlg(name, namedCurve, hash);
  if (alg !== undefined) jwk.alg = alg;
  jwk.key_ops = listToArray(usages);
  jwk.ext = true;
  return jwk;
}

// wrapKey()/unwrapKey() carry a JWK as its JSON in UTF-8; AES-KW needs a
// multiple of 8 bytes, so the JSON is padded with spaces (JSON ignores them).
function cryptoJwkToBytes(jwk, pad) {
  let json = JSONStringify(jwk);
  if (pad) while (json.length % 8 !== 0) json += ' ';
  return utf8Encode(json);
}

function cryptoJwkFromBytes(bytes) {
  try {
    const jwk = parseTenantJson(utf8Decode(new Uint8Array(bytes)));
    if (isObject(jwk)) return jwk;
  } catch {
    // not JSON: below
  }
  throw cryptoError('The unwrapped data is not a JWK', 'DataError');
}

class SubtleCrypto {
  constructor(token) {
    if (token !== INTERNAL) throw new TypeError('Illegal constructor');
  }

  async digest(algorithm, data) {
    requireArgs(arguments.length, 2, 'SubtleCrypto.digest');
    const { name } = cryptoAlgorithm(algorithm, CRYPTO_DIGESTS);
    if (!isArrayBuffer(data) && !ArrayBufferIsView(data)) {
      throw new TypeError('digest: the data must be an ArrayBuffer or an ArrayBufferView');
    }
    // A view, not a copy: the pieces below are hashed before any of the
    // script's code runs again (and a copy of a huge buffer is itself one
    // long call the CPU limit cannot stop).
    const bytes = viewBytes(data);
    if (TypedArrayPrototypeGetLength(bytes) <= CRYPTO_DIGEST_ONE_CALL) return cryptoNative('digest')(name, bytes);
    // A long one in pieces, one native call each (digestUpdate takes at most
    // 4 MiB): one call over 60 MiB held the worker 0.7 s where the CPU limit
    // cannot stop it; this loop is JavaScript, which it can.
    const handle = cryptoNative('digestCreate')(name);
    const update = cryptoNative('digestUpdate');
    for (let at = 0; at !== -1;) at = update(handle, bytes, at);
    return cryptoNative('digestFinish')(handle);
  }

  async importKey(format, keyData, algorithm, extractable, keyUsages) {
    requireArgs(arguments.length, 5, 'SubtleCrypto.importKey');
    return cryptoImport(cryptoFormat(format), keyData, algorithm, extractable, keyUsages);
  }

  async exportKey(format, key) {
    requireArgs(arguments.length, 2, 'SubtleCrypto.exportKey');
    return cryptoExport(cryptoFormat(format), key);
  }

  async generateKey(algorithm, extractable, keyUsages) {
    requireArgs(arguments.length, 3, 'SubtleCrypto.generateKey');
    const { object, name } = cryptoAlgorithm(algorithm, CRYPTO_ALGORITHMS);
    const usages = cryptoUsages(keyUsages);
    if (CRYPTO_ASYMMETRIC[name] !== undefined) return cryptoGenerateAsymmetric(name, object, Boolean(extractable), usages);
    return cryptoGenerateSecret(name, object, Boolean(extractable), usages);
  }

  async sign(algorithm, key, data) {
    requireArgs(arguments.length, 3, 'SubtleCrypto.sign');
    const { object, name } = cryptoAlgorithm(algorithm, CRYPTO_ALGORITHMS);
    const bytes = cryptoBytes(data, 'sign: the data');
    const internals = cryptoKeyFor(name, key, 'sign');
    let signature;
    if (name === 'HMAC') return cryptoNative('hmac')(internals.hash, internals.material, bytes);
    if (name === 'ECDSA') {
      signature = cryptoNative('ecdsaSign')(cryptoHash(object.hash), internals.material, bytes);
    } else if (internals.kind === 'Ed25519' || internals.kind === 'RSA') {
      const salt = name === 'RSA-PSS' ? cryptoUnsignedLong(object.saltLength, 'saltLength') : 0;
      if (name === 'RSA-OAEP') throw cryptoError('RSA-OAEP cannot sign', 'NotSupportedError');
      signature = cryptoNative('pkeySign')(internals.kind === 'RSA' ? name : 'Ed25519', internals.hash, internals.material, bytes,
        MathMin(salt, 65536));
    } else {
      throw cryptoError(`${name} cannot sign`, 'NotSupportedError');
    }
    if (signature === null) throw cryptoError(`${name} signing failed`, 'OperationError');
    return signature;
  }

  async verify(algorithm, key, signature, data) {
    requireArgs(arguments.length, 4, 'SubtleCrypto.verify');
    const { object, name } = cryptoAlgorithm(algorithm, CRYPTO_ALGORITHMS);
    const expected = cryptoBytes(signature, 'verify: the signature');
    const bytes = cryptoBytes(data, 'verify: the data');
    const internals = cryptoKeyFor(name, key, 'verify');
    let ok;
    if (name === 'HMAC') {
      const mac = new Uint8Array(cryptoNative('hmac')(internals.hash, internals.material, bytes));
      return cryptoEqual(mac, expected);
    }
    if (name === 'ECDSA') {
      ok = cryptoNative('ecdsaVerify')(cryptoHash(object.hash), internals.material, expected, bytes);
    } else if (internals.kind === 'Ed25519' || internals.kind === 'RSA') {
      const salt = name === 'RSA-PSS' ? cryptoUnsignedLong(object.saltLength, 'saltLength') : 0;
      if (name === 'RSA-OAEP') throw cryptoError('RSA-OAEP cannot verify', 'NotSupportedError');
      ok = cryptoNative('pkeyVerify')(internals.kind === 'RSA' ? name : 'Ed25519', internals.hash, internals.material, expected,
        bytes, MathMin(salt, 65536));
    } else {
      throw cryptoError(`${name} cannot verify`, 'NotSupportedError');
    }
    if (ok === null) throw cryptoError(`The ${name} key could not be read`, 'OperationError');
    return ok;
  }

  async encrypt(algorithm, key, data) {
    requireArgs(arguments.length, 3, 'SubtleCrypto.encrypt');
    return cryptoCipher(true, algorithm, key, cryptoBytes(data, 'encrypt: the data'), 'encrypt');
  }

  async decrypt(algorithm, key, data) {
    requireArgs(arguments.length, 3, 'SubtleCrypto.decrypt');
    return cryptoCipher(false, algorithm, key, cryptoBytes(data, 'decrypt: the data'), 'decrypt');
  }

  async deriveBits(algorithm, baseKey, length) {
    requireArgs(arguments.length, 2, 'SubtleCrypto.deriveBits');
    const { object, name } = cryptoAlgorithm(algorithm, CRYPTO_ALGORITHMS);
    const bits = length === undefined || length === null ? null : cryptoUnsignedLong(length, 'length');
    const internals = cryptoKeyFor(name, baseKey, 'deriveBits');
    if (name !== 'PBKDF2' && name !== 'HKDF' && name !== 'ECDH' && name !== 'X25519') {
      throw cryptoError(`${name} cannot derive bits`, 'NotSupportedError');
    }
    return cryptoDeriveBits(object, name, internals, bits);
  }

  async deriveKey(algorithm, baseKey, derivedKeyAlgorithm, extractable, keyUsages) {
    requireArgs(arguments.length, 5, 'SubtleCrypto.deriveKey');
    const { object, name } = cryptoAlgorithm(algorithm, CRYPTO_ALGORITHMS);
    const derived = cryptoAlgorithm(derivedKeyAlgorithm, CRYPTO_ALGORITHMS);
    const usages = cryptoUsages(keyUsages);
    const internals = cryptoKeyFor(name, baseKey, 'deriveKey');
    if (name !== 'PBKDF2' && name !== 'HKDF' && name !== 'ECDH' && name !== 'X25519') {
      throw cryptoError(`${name} cannot derive keys`, 'NotSupportedError');
    }
    const length = cryptoDerivedKeyLength(derived.name, derived.object);
    const bits = cryptoDeriveBits(object, name, internals, length);
    return cryptoImportSecret('raw', bits, derived.name, derived.object, Boolean(extractable), usages);
  }

  async wrapKey(format, key, wrappingKey, wrapAlgorithm) {
    requireArgs(arguments.length, 4, 'SubtleCrypto.wrapKey');
    const kind = cryptoFormat(format);
    const { name } = cryptoAlgorithm(wrapAlgorithm, CRYPTO_ALGORITHMS);
    cryptoKeyFor(name, wrappingKey, 'wrapKey');
    const exported = cryptoExport(kind, key);
    const bytes = kind === 'jwk' ? cryptoJwkToBytes(exported, name === 'AES-KW') : new Uint8Array(exported);
    return cryptoCipher(true, wrapAlgorithm, wrappingKey, bytes, 'wrapKey');
  }

  async unwrapKey(format, wrappedKey, unwrappingKey, unwrapAlgorithm, unwrappedKeyAlgorithm, extractable, keyUsages) {
    requireArgs(arguments.length, 7, 'SubtleCrypto.unwrapKey');
    const kind = cryptoFormat(format);
    const wrapped = cryptoBytes(wrappedKey, 'unwrapKey: the wrapped key');
    cryptoAlgorithm(unwrappedKeyAlgorithm, CRYPTO_ALGORITHMS);
    const bytes = cryptoCipher(false, unwrapAlgorithm, unwrappingKey, wrapped, 'unwrapKey');
    const keyData = kind === 'jwk' ? cryptoJwkFromBytes(bytes) : bytes;
    return cryptoImport(kind, keyData, unwrappedKeyAlgorithm, extractable, keyUsages);
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
  if (isArrayBuffer(value) || ArrayBufferIsView(value)) return value;
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
    // Captured getters only: a tenant's %TypedArray%.prototype getters or
    // Array.prototype.includes must not decide what is filled.
    const tag = TypedArrayPrototypeGetSymbolToStringTag(array);
    if (!ArrayPrototypeIncludes(CRYPTO_INTEGER_ARRAYS, tag)) {
      throw new TypeError('getRandomValues() only accepts an integer typed array');
    }
    const byteLength = TypedArrayPrototypeGetByteLength(array);
    if (byteLength > 65536) {
      throw new DOMException(`The ArrayBufferView's byte length (${byteLength}) exceeds the number of bytes `
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
    for (let i = 0; i < 16; i++) hex += StringPrototypeSlice(NumberPrototypeToString(bytes[i] + 0x100, 16), 1);
    return `${StringPrototypeSlice(hex, 0, 8)}-${StringPrototypeSlice(hex, 8, 12)}-${StringPrototypeSlice(hex, 12, 16)}-`
      + `${StringPrototypeSlice(hex, 16, 20)}-${StringPrototypeSlice(hex, 20)}`;
  }
}

setToStringTag(Crypto.prototype, 'Crypto');
defineGlobal('Crypto', Crypto);
defineGlobal('crypto', new Crypto(INTERNAL));
