// node:crypto's asymmetric half, loaded by node/crypto.js when first used
// (not a module of its own: node:crypto hands it what it shares):
// KeyObjects of RSA, EC (P-256/P-384/P-521), Ed25519 and X25519 keys from
// PEM, DER or JWK, held as DER (pkcs8 or spki) the engine's OpenSSL checked;
// Sign/Verify and sign/verify; generateKeyPair; createCipheriv and
// createDecipheriv (AES in GCM, CBC and CTR) - all on crypto.subtle's
// primitives, called synchronously.
'use strict';

module.exports = function cryptoKeys(shared) {
  const { Buffer, KeyObject, PublicKeyObject, PrivateKeyObject, keyState, codedError, hashOf, toBytes, encoded, later,
    hmacKeyBytes } = shared;

  // The engine's key kinds: Node's asymmetricKeyType, the curve's name, an
  // ECDSA signature's half in bytes, the JWK's kty and crv.
  const KEY_KINDS = {
    __proto__: null,
    RSA: { type: 'rsa', kty: 'RSA' },
    'P-256': { type: 'ec', curve: 'prime256v1', half: 32, kty: 'EC' },
    'P-384': { type: 'ec', curve: 'secp384r1', half: 48, kty: 'EC' },
    'P-521': { type: 'ec', curve: 'secp521r1', half: 66, kty: 'EC' },
    Ed25519: { type: 'ed25519', kty: 'OKP' },
    X25519: { type: 'x25519', kty: 'OKP' },
  };
  const RSA_JWK = ['n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi'];

  function unsupportedKey(message) {
    return codedError(Error, message, 'ERR_OSSL_UNSUPPORTED');
  }

  // DER: a tag-length-value, and reading one at `at` of `bytes`.
  function derTlv(tag, body) {
    const n = body.length;
    const head = n < 0x80 ? [tag, n] : n < 0x100 ? [tag, 0x81, n] : n < 0x10000 ? [tag, 0x82, n >> 8, n & 0xff]
      : [tag, 0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
    return Buffer.concat([Buffer.from(head), body]);
  }

  function derRead(bytes, at, tag) {
    if (at + 2 > bytes.length || bytes[at] !== tag) throw unsupportedKey('The key data is not valid DER');
    let length = bytes[at + 1];
    let start = at + 2;
    if (length & 0x80) {
      const count = length & 0x7f;
      if (count < 1 || count > 3 || start + count > bytes.length) throw unsupportedKey('The key data is not valid DER');
      length = 0;
      for (let i = 0; i < count; i++) length = length * 256 + bytes[start + i];
      start += count;
    }
    if (start + length > bytes.length) throw unsupportedKey('The key data is not valid DER');
    return { start, end: start + length };
  }

  const OID_RSA = Buffer.from('06092a864886f70d0101010500', 'hex');    // rsaEncryption, NULL
  const OID_EC = Buffer.from('06072a8648ce3d0201', 'hex');             // id-ecPublicKey
  const VERSION_0 = Buffer.from('020100', 'hex');

  // PKCS#1 and SEC1 keys wrapped as PKCS#8 or SPKI, and back.
  function pkcs1PrivateToPkcs8(der) {
    return derTlv(0x30, Buffer.concat([VERSION_0, derTlv(0x30, OID_RSA), derTlv(0x04, der)]));
  }

  function pkcs1PublicToSpki(der) {
    return derTlv(0x30, Buffer.concat([derTlv(0x30, OID_RSA), derTlv(0x03, Buffer.concat([Buffer.from([0]), der]))]));
  }

  function sec1ToPkcs8(der) {
    // ECPrivateKey: SEQUENCE { version, privateKey OCTET STRING, [0] parameters (the curve's OID), [1] publicKey }
    const outer = derRead(der, 0, 0x30);
    const version = derRead(der, outer.start, 0x02);
    const secret = derRead(der, version.end, 0x04);
    if (secret.end >= outer.end || der[secret.end] !== 0xa0) throw unsupportedKey('An EC private key without its curve is not supported');
    const params = derRead(der, secret.end, 0xa0);
    const curve = der.subarray(params.start, params.end);
    return derTlv(0x30, Buffer.concat([VERSION_0, derTlv(0x30, Buffer.concat([OID_EC, curve])), derTlv(0x04, der)]));
  }

  function pkcs8ToPkcs1(der) {
    const outer = derRead(der, 0, 0x30);
    const version = derRead(der, outer.start, 0x02);
    const algorithm = derRead(der, version.end, 0x30);
    const inner = derRead(der, algorithm.end, 0x04);
    return der.subarray(inner.start, inner.end);
  }

  function spkiToPkcs1(der) {
    const outer = derRead(der, 0, 0x30);
    const algorithm = derRead(der, outer.start, 0x30);
    const bits = derRead(der, algorithm.end, 0x03);
    return der.subarray(bits.start + 1, bits.end);
  }

  function pemDecode(text) {
    const match = /-----BEGIN ([A-Z0-9 ]+)-----([^-]*)-----END \1-----/.exec(text);
    if (match === null) throw unsupportedKey('error:1E08010C:DECODER routines::unsupported');
    if (/Proc-Type:|DEK-Info:/.test(match[2])) throw unsupportedKey('Encrypted PEM keys are not supported');
    return { label: match[1], der: Buffer.from(match[2].replace(/\s+/g, ''), 'base64') };
  }

  function pemEncode(label, der) {
    const b64 = Buffer.from(der).toString('base64');
    let body = '';
    for (let i = 0; i < b64.length; i += 64) body += `${b64.slice(i, i + 64)}\n`;
    return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
  }

  // The key kind a PKCS#8 or SPKI names in its AlgorithmIdentifier (the
  // algorithm's OID, and an EC key's curve), or undefined.
  const KEY_OIDS = {
    __proto__: null,
    '2a864886f70d010101': 'RSA',
    '2a8648ce3d0201/2a8648ce3d030107': 'P-256',
    '2a8648ce3d0201/2b81040022': 'P-384',
    '2a8648ce3d0201/2b81040023': 'P-521',
    '2b6570': 'Ed25519',
    '2b656e': 'X25519',
  };

  function kindOfDer(format, der) {
    const outer = derRead(der, 0, 0x30);
    const algorithm = derRead(der, format === 'pkcs8' ? derRead(der, outer.start, 0x02).end : outer.start, 0x30);
    const oid = derRead(der, algorithm.start, 0x06);
    let name = Buffer.from(der.subarray(oid.start, oid.end)).toString('hex');
    if (name === '2a8648ce3d0201' && oid.end < algorithm.end && der[oid.end] === 0x06) {
      const curve = derRead(der, oid.end, 0x06);
      name += `/${Buffer.from(der.subarray(curve.start, curve.end)).toString('hex')}`;
    }
    return KEY_OIDS[name];
  }

  // DER of `format` (pkcs8 or spki) checked by the engine: the key's kind and
  // its normalized DER.
  function importDer(format, der) {
    const kind = kindOfDer(format, der);
    const out = kind === undefined ? null : internals.keyImport(format, kind, der);
    if (out === null) {
      throw unsupportedKey(`The key data is not a supported ${format === 'pkcs8' ? 'private' : 'public'} key (RSA, EC P-256/P-384/P-521, Ed25519, X25519)`);
    }
    return { kind, der: new Uint8Array(out) };
  }

  function importJwk(jwk, wantPrivate) {
    if (jwk === null || typeof jwk !== 'object') throw codedError(TypeError, 'The "key.key" property must be of type object', 'ERR_INVALID_ARG_TYPE');
    const b = (name) => (jwk[name] === undefined ? undefined : Buffer.from(String(jwk[name]), 'base64url'));
    let kind;
    let parts;
    if (jwk.kty === 'RSA') {
      kind = 'RSA';
      parts = RSA_JWK.slice(0, wantPrivate ? 8 : 2).map(b);
    } else if ((jwk.kty === 'EC' || jwk.kty === 'OKP') && KEY_KINDS[jwk.crv] !== undefined && KEY_KINDS[jwk.crv].kty === jwk.kty) {
      kind = jwk.crv;
      parts = jwk.kty === 'EC' ? [b('x'), b('y'), wantPrivate ? b('d') : undefined] : [b('x'), wantPrivate ? b('d') : undefined];
    } else {
      throw codedError(TypeError, 'Invalid JWK: an RSA, EC (P-256, P-384, P-521) or OKP (Ed25519, X25519) key is supported', 'ERR_CRYPTO_INVALID_JWK');
    }
    if (parts.some((part, i) => part === undefined && !(kind !== 'RSA' && !wantPrivate && i === parts.length - 1))) {
      throw codedError(TypeError, `Invalid JWK ${wantPrivate ? 'private' : 'public'} key`, 'ERR_CRYPTO_INVALID_JWK');
    }
    const der = internals.keyImportJwk(kind, parts);
    if (der === null) throw codedError(TypeError, `Invalid JWK ${kind} key`, 'ERR_CRYPTO_INVALID_JWK');
    return { kind, der: new Uint8Array(der) };
  }

  // createPrivateKey/createPublicKey's argument: PEM text, or { key, format, type }.
  function keyInput(input) {
    if (typeof input === 'string' || ArrayBuffer.isView(input) || input instanceof ArrayBuffer) return { key: input, format: 'pem' };
    if (input === null || typeof input !== 'object') {
      throw codedError(TypeError, 'The "key" argument must be of type string or an instance of ArrayBuffer, Buffer, TypedArray, DataView or Object', 'ERR_INVALID_ARG_TYPE');
    }
    if (input.passphrase !== undefined) throw unsupportedKey('Encrypted keys (a passphrase) are not supported');
    return { key: input.key, format: input.format === undefined ? 'pem' : input.format, type: input.type, encoding: input.encoding };
  }

  function derOf(key, encoding) {
    return Buffer.from(typeof key === 'string' ? Buffer.from(key, encoding) : toBytes(key, undefined, 'key'));
  }

  function privateKeyOf(input) {
    const { key, format, type, encoding } = keyInput(input);
    if (format === 'jwk') return importJwk(key, true);
    let der;
    if (format === 'pem') {
      const pem = pemDecode(typeof key === 'string' ? key : Buffer.from(toBytes(key, undefined, 'key')).toString('latin1'));
      if (pem.label === 'PRIVATE KEY') der = pem.der;
      else if (pem.label === 'RSA PRIVATE KEY') der = pkcs1PrivateToPkcs8(pem.der);
      else if (pem.label === 'EC PRIVATE KEY') der = sec1ToPkcs8(pem.der);
      else throw unsupportedKey(`A PEM ${pem.label} is not a private key this runtime reads (PKCS#8, PKCS#1, SEC1; not encrypted)`);
    } else if (format === 'der') {
      const bytes = derOf(key, encoding);
      der = type === 'pkcs1' ? pkcs1PrivateToPkcs8(bytes) : type === 'sec1' ? sec1ToPkcs8(bytes) : bytes;
      if (type !== 'pkcs8' && type !== 'pkcs1' && type !== 'sec1') {
        throw codedError(TypeError, `The property 'key.type' must be one of: 'pkcs1', 'pkcs8', 'sec1'. Received '${type}'`, 'ERR_INVALID_ARG_VALUE');
      }
    } else {
      throw codedError(TypeError, `The property 'key.format' must be one of: 'pem', 'der', 'jwk'. Received '${format}'`, 'ERR_INVALID_ARG_VALUE');
    }
    return importDer('pkcs8', der);
  }

  // The public half of a private key's DER (the engine's JWK parts, public ones only).
  function publicOfPrivate(kind, der) {
    const parts = keyParts(der, true);
    const publicParts = kind === 'RSA' ? parts.slice(0, 2) : KEY_KINDS[kind].kty === 'EC' ? [parts[0], parts[1], undefined] : [parts[0], undefined];
    return new Uint8Array(internals.keyImportJwk(kind, publicParts));
  }

  function keyParts(der, isPrivate) {
    const parts = internals.keyExport('jwk', der, isPrivate);
    if (parts === null) throw unsupportedKey('The key could not be read');
    return parts.map((part) => new Uint8Array(part));
  }

  function publicKeyOf(input) {
    if (input instanceof KeyObject) {
      const { type, kind, bytes } = keyState(input);
      if (type === 'secret') throw codedError(TypeError, 'Invalid key object type secret, expected private.', 'ERR_CRYPTO_INVALID_KEY_OBJECT_TYPE');
      return { kind, der: type === 'private' ? publicOfPrivate(kind, bytes) : bytes };
    }
    const { key, format, type, encoding } = keyInput(input);
    if (format === 'jwk') return importJwk(key, false);
    if (format === 'pem') {
      const pem = pemDecode(typeof key === 'string' ? key : Buffer.from(toBytes(key, undefined, 'key')).toString('latin1'));
      if (pem.label === 'PUBLIC KEY') return importDer('spki', pem.der);
      if (pem.label === 'RSA PUBLIC KEY') return importDer('spki', pkcs1PublicToSpki(pem.der));
      const priv = privateKeyOf(input);
      return { kind: priv.kind, der: publicOfPrivate(priv.kind, priv.der) };
    }
    if (format === 'der' && (type === 'spki' || type === 'pkcs1')) {
      const bytes = derOf(key, encoding);
      return importDer('spki', type === 'pkcs1' ? pkcs1PublicToSpki(bytes) : bytes);
    }
    if (format === 'der') {
      const priv = privateKeyOf(input);
      return { kind: priv.kind, der: publicOfPrivate(priv.kind, priv.der) };
    }
    throw codedError(TypeError, `The property 'key.format' must be one of: 'pem', 'der', 'jwk'. Received '${format}'`, 'ERR_INVALID_ARG_VALUE');
  }

  function createPrivateKey(key) {
    if (key instanceof KeyObject) throw codedError(TypeError, 'The "key" argument must not be a KeyObject', 'ERR_INVALID_ARG_TYPE');
    const { kind, der } = privateKeyOf(key);
    return new PrivateKeyObject('private', der, kind);
  }

  function createPublicKey(key) {
    const { kind, der } = publicKeyOf(key);
    return new PublicKeyObject('public', der, kind);
  }

  function exportAsymmetric(type, kind, der, options) {
    if (options === null || typeof options !== 'object') {
      throw codedError(TypeError, 'The "options" argument must be of type object.', 'ERR_INVALID_ARG_TYPE');
    }
    const { format } = options;
    if (format === 'jwk') {
      const parts = keyParts(der, type === 'private').map((part) => Buffer.from(part).toString('base64url'));
      const spec = KEY_KINDS[kind];
      if (kind === 'RSA') {
        const jwk = { kty: 'RSA' };
        parts.forEach((part, i) => { jwk[RSA_JWK[i]] = part; });
        return jwk;
      }
      const jwk = { kty: spec.kty, crv: kind, x: parts[0] };
      if (spec.kty === 'EC') jwk.y = parts[1];
      if (type === 'private') jwk.d = parts[spec.kty === 'EC' ? 2 : 1];
      return jwk;
    }
    if (options.cipher !== undefined) throw unsupportedKey('Encrypted key export is not supported');
    const wanted = options.type;
    let out;
    let label;
    if (type === 'public' && wanted === 'spki') [out, label] = [der, 'PUBLIC KEY'];
    else if (type === 'private' && wanted === 'pkcs8') [out, label] = [der, 'PRIVATE KEY'];
    else if (kind === 'RSA' && wanted === 'pkcs1') {
      [out, label] = type === 'private' ? [pkcs8ToPkcs1(der), 'RSA PRIVATE KEY'] : [spkiToPkcs1(der), 'RSA PUBLIC KEY'];
    } else {
      throw codedError(TypeError, `A ${type} ${KEY_KINDS[kind].type} key cannot be exported as ${wanted}`, 'ERR_INVALID_ARG_VALUE');
    }
    if (format === 'pem') return pemEncode(label, out);
    if (format === 'der') return Buffer.from(out);
    throw codedError(TypeError, `The property 'options.format' must be one of: 'pem', 'der', 'jwk'. Received '${format}'`, 'ERR_INVALID_ARG_VALUE');
  }

  // --- Signatures: createSign/createVerify and the one-shot sign/verify.
  const RSA_PKCS1_PSS_PADDING = 6;
  const RSA_PSS_SALTLEN_DIGEST = -1;
  const RSA_PSS_SALTLEN_MAX_SIGN = -2;
  const RSA_PSS_SALTLEN_AUTO = -2;

  function signHash(algorithm) {
    if (algorithm === undefined || algorithm === null) return undefined;
    const name = String(algorithm).toLowerCase().replace(/^(rsa-|ecdsa-with-)/, '');
    const [hash] = hashOf(name);
    if (hash === 'MD5') throw codedError(Error, 'MD5 signatures are not supported', 'ERR_OSSL_UNSUPPORTED');
    return hash;
  }

  // The key argument of sign()/verify(): a KeyObject, or what createPrivateKey
  // or createPublicKey take, with padding, saltLength and dsaEncoding beside.
  function signingKey(input, wantPrivate) {
    let state;
    if (input instanceof KeyObject) state = keyState(input);
    else if (input !== null && typeof input === 'object' && input.key instanceof KeyObject) state = keyState(input.key);
    if (state !== undefined && state.type === 'secret') {
      throw codedError(TypeError, `Invalid key object type secret, expected ${wantPrivate ? 'private' : 'public'}.`, 'ERR_CRYPTO_INVALID_KEY_OBJECT_TYPE');
    }
    let kind;
    let der;
    if (state !== undefined && (wantPrivate ? state.type === 'private' : state.type === 'public')) {
      ({ kind, bytes: der } = state);
    } else if (state !== undefined && !wantPrivate) {
      kind = state.kind;
      der = publicOfPrivate(state.kind, state.bytes);
    } else if (state !== undefined) {
      throw codedError(TypeError, 'Invalid key object type public, expected private.', 'ERR_CRYPTO_INVALID_KEY_OBJECT_TYPE');
    } else {
      ({ kind, der } = wantPrivate ? privateKeyOf(input) : publicKeyOf(input));
    }
    const options = input !== null && typeof input === 'object' && !(input instanceof KeyObject) && !ArrayBuffer.isView(input) ? input : {};
    return { kind, der, padding: options.padding, saltLength: options.saltLength, dsaEncoding: options.dsaEncoding ?? 'der' };
  }

  const HASH_BYTES = { __proto__: null, 'SHA-1': 20, 'SHA-256': 32, 'SHA-384': 48, 'SHA-512': 64 };

  function pssSalt(key, hash, wantPrivate) {
    const salt = key.saltLength ?? (wantPrivate ? RSA_PSS_SALTLEN_MAX_SIGN : RSA_PSS_SALTLEN_AUTO);
    if (salt === RSA_PSS_SALTLEN_DIGEST) return HASH_BYTES[hash];
    if (salt === RSA_PSS_SALTLEN_MAX_SIGN) {
      const bits = keyParts(key.der, wantPrivate)[0].length * 8;
      return Math.max(0, Math.ceil((bits - 1) / 8) - HASH_BYTES[hash] - 2);
    }
    if (!Number.isInteger(salt) || salt < 0) throw codedError(RangeError, 'The "saltLength" must be a non-negative integer', 'ERR_OUT_OF_RANGE');
    return salt;
  }

  // r || s (each the curve's size) to a DER ECDSA-Sig-Value, and back (null if malformed).
  function ecdsaToDer(raw) {
    const half = raw.length / 2;
    const int = (bytes) => {
      let i = 0;
      while (i < bytes.length - 1 && bytes[i] === 0) i++;
      const trimmed = bytes.subarray(i);
      return derTlv(0x02, trimmed[0] & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : Buffer.from(trimmed));
    };
    return derTlv(0x30, Buffer.concat([int(raw.subarray(0, half)), int(raw.subarray(half))]));
  }

  function ecdsaFromDer(der, half) {
    try {
      const seq = derRead(der, 0, 0x30);
      if (seq.end !== der.length) return null;
      const r = derRead(der, seq.start, 0x02);
      const s = derRead(der, r.end, 0x02);
      if (s.end !== seq.end) return null;
      const out = new Uint8Array(2 * half);
      for (const [{ start, end }, at] of [[r, 0], [s, half]]) {
        let from = start;
        while (from < end - 1 && der[from] === 0) from++;
        if (end - from > half) return null;
        out.set(der.subarray(from, end), at + half - (end - from));
      }
      return out;
    } catch {
      return null;
    }
  }

  function signWith(hash, data, key) {
    let signature;
    if (key.kind === 'RSA') {
      const pss = key.padding === RSA_PKCS1_PSS_PADDING;
      signature = internals.pkeySign(pss ? 'RSA-PSS' : 'RSASSA-PKCS1-v1_5', hash ?? 'SHA-256', key.der, data, pss ? pssSalt(key, hash ?? 'SHA-256', true) : 0);
    } else if (key.kind === 'Ed25519') {
      if (hash !== undefined) throw codedError(Error, 'Ed25519 signs without a digest: pass null as the algorithm', 'ERR_OSSL_INVALID_DIGEST');
      signature = internals.pkeySign('Ed25519', undefined, key.der, data, 0);
    } else if (KEY_KINDS[key.kind].half !== undefined) {
      const raw = internals.ecdsaSign(hash ?? 'SHA-256', key.der, data);
      signature = raw === null ? null : key.dsaEncoding === 'ieee-p1363' ? raw : ecdsaToDer(new Uint8Array(raw));
    } else {
      throw codedError(Error, `A ${KEY_KINDS[key.kind].type} key cannot sign`, 'ERR_OSSL_OPERATION_NOT_SUPPORTED');
    }
    if (signature === null) throw codedError(Error, 'The signature could not be made', 'ERR_OSSL_SIGN_FAILED');
    return Buffer.from(signature);
  }

  function verifyWith(hash, data, key, signature) {
    let ok;
    if (key.kind === 'RSA') {
      const pss = key.padding === RSA_PKCS1_PSS_PADDING;
      ok = internals.pkeyVerify(pss ? 'RSA-PSS' : 'RSASSA-PKCS1-v1_5', hash ?? 'SHA-256', key.der, signature, data, pss ? pssSalt(key, hash ?? 'SHA-256', false) : 0);
    } else if (key.kind === 'Ed25519') {
      if (hash !== undefined) throw codedError(Error, 'Ed25519 verifies without a digest: pass null as the algorithm', 'ERR_OSSL_INVALID_DIGEST');
      ok = internals.pkeyVerify('Ed25519', undefined, key.der, signature, data, 0);
    } else if (KEY_KINDS[key.kind].half !== undefined) {
      const raw = key.dsaEncoding === 'ieee-p1363' ? signature : ecdsaFromDer(signature, KEY_KINDS[key.kind].half);
      ok = raw === null ? false : internals.ecdsaVerify(hash ?? 'SHA-256', key.der, raw, data);
    } else {
      throw codedError(Error, `A ${KEY_KINDS[key.kind].type} key cannot verify`, 'ERR_OSSL_OPERATION_NOT_SUPPORTED');
    }
    return ok === true;
  }

  // What Sign and Verify share: the hash and the data given to update().
  let signingInput;

  class Signing {
    #hash;
    #chunks = [];

    constructor(algorithm) {
      this.#hash = signHash(algorithm);
    }

    update(data, inputEncoding) {
      this.#chunks.push(Buffer.from(toBytes(data, inputEncoding, 'data')));
      return this;
    }

    static {
      signingInput = (signing) => [signing.#hash, Buffer.concat(signing.#chunks)];
    }
  }

  class Sign extends Signing {
    sign(privateKey, outputEncoding) {
      const [hash, data] = signingInput(this);
      return encoded(signWith(hash, data, signingKey(privateKey, true)), outputEncoding);
    }
  }

  class Verify extends Signing {
    verify(publicKey, signature, signatureEncoding) {
      const [hash, data] = signingInput(this);
      return verifyWith(hash, data, signingKey(publicKey, false), toBytes(signature, signatureEncoding, 'signature'));
    }
  }

  function sign(algorithm, data, key, callback) {
    const work = () => signWith(signHash(algorithm), toBytes(data, undefined, 'data'), signingKey(key, true));
    if (callback === undefined) return work();
    return later(callback, work);
  }

  function verify(algorithm, data, key, signature, callback) {
    const work = () => verifyWith(signHash(algorithm), toBytes(data, undefined, 'data'), signingKey(key, false), toBytes(signature, undefined, 'signature'));
    if (callback === undefined) return work();
    return later(callback, work);
  }

  // --- Key pairs: generateKeyPairSync / generateKeyPair (RSA, EC, Ed25519, X25519).
  const CURVE_NAMES = {
    __proto__: null, 'P-256': 'P-256', prime256v1: 'P-256', secp256r1: 'P-256', 'P-384': 'P-384', secp384r1: 'P-384',
    'P-521': 'P-521', secp521r1: 'P-521',
  };

  function generateKeyPairSync(type, options = {}) {
    let kind;
    let bits = 0;
    let exponent = 0;
    if (type === 'rsa') {
      kind = 'RSA';
      bits = options.modulusLength;
      exponent = options.publicExponent ?? 65537;
      if (!Number.isInteger(bits) || bits < 1024 || bits > 8192 || bits % 8 !== 0) {
        throw codedError(RangeError, 'The "options.modulusLength" must be a multiple of 8 from 1024 to 8192 here', 'ERR_OUT_OF_RANGE');
      }
      if (exponent !== 3 && exponent !== 65537) throw codedError(RangeError, 'The "options.publicExponent" must be 3 or 65537 here', 'ERR_OUT_OF_RANGE');
    } else if (type === 'ec') {
      kind = CURVE_NAMES[options.namedCurve];
      if (kind === undefined) throw codedError(TypeError, `Invalid EC curve name ${options.namedCurve}: P-256, P-384 or P-521`, 'ERR_CRYPTO_INVALID_CURVE');
    } else if (type === 'ed25519' || type === 'x25519') {
      kind = type === 'ed25519' ? 'Ed25519' : 'X25519';
    } else {
      throw codedError(TypeError, `The argument 'type' must be a supported key type: rsa, ec, ed25519 or x25519. Received '${type}'`, 'ERR_INVALID_ARG_VALUE');
    }
    const pair = internals.keyGenerate(kind, bits, exponent);
    if (pair === null) throw codedError(Error, 'Key generation failed', 'ERR_OSSL_KEYGEN_FAILED');
    const publicKey = new PublicKeyObject('public', new Uint8Array(pair[1]), kind);
    const privateKey = new PrivateKeyObject('private', new Uint8Array(pair[0]), kind);
    return {
      publicKey: options.publicKeyEncoding ? publicKey.export(options.publicKeyEncoding) : publicKey,
      privateKey: options.privateKeyEncoding ? privateKey.export(options.privateKeyEncoding) : privateKey,
    };
  }

  // The callback gets (error, publicKey, privateKey), as Node's.
  function generateKeyPair(type, options, callback) {
    if (typeof options === 'function') [options, callback] = [undefined, options];
    if (typeof callback !== 'function') throw codedError(TypeError, 'The "callback" argument must be of type function', 'ERR_INVALID_ARG_TYPE');
    later((error, pair) => (error ? callback(error) : callback(null, pair.publicKey, pair.privateKey)), () => generateKeyPairSync(type, options));
  }

  // --- Ciphers: createCipheriv/createDecipheriv for AES in GCM, CBC (PKCS#7
  // padding) and CTR, on crypto.subtle's AES. The data is enciphered at
  // final(): update() keeps it and answers an empty piece, so update()s and
  // final() together give what Node's give.
  const CIPHERS = { __proto__: null };
  for (const bits of [128, 192, 256]) {
    for (const mode of ['gcm', 'cbc', 'ctr']) CIPHERS[`aes-${bits}-${mode}`] = { keyBytes: bits / 8, mode };
  }

  class Cipheriv {
    #encrypt;
    #mode;
    #key;
    #iv;
    #chunks = [];
    #aad = new Uint8Array(0);
    #tagBytes;
    #tag;
    #done = false;

    constructor(encrypt, algorithm, key, iv, options) {
      const spec = CIPHERS[String(algorithm).toLowerCase()];
      if (spec === undefined) throw codedError(TypeError, `Unknown cipher: ${algorithm} (AES in GCM, CBC or CTR mode here)`, 'ERR_CRYPTO_UNKNOWN_CIPHER');
      const keyBytes = key instanceof KeyObject ? hmacKeyBytes(key) : toBytes(key, undefined, 'key');
      if (keyBytes.byteLength !== spec.keyBytes) throw codedError(RangeError, 'Invalid key length', 'ERR_CRYPTO_INVALID_KEYLEN');
      const ivBytes = toBytes(iv, undefined, 'iv');
      if (spec.mode === 'gcm' ? ivBytes.byteLength === 0 : ivBytes.byteLength !== 16) {
        throw codedError(TypeError, 'Invalid initialization vector', 'ERR_CRYPTO_INVALID_IV');
      }
      this.#tagBytes = options?.authTagLength ?? 16;
      if (spec.mode === 'gcm' && ![4, 8, 12, 13, 14, 15, 16].includes(this.#tagBytes)) {
        throw codedError(TypeError, `Invalid authentication tag length: ${this.#tagBytes}`, 'ERR_CRYPTO_INVALID_AUTH_TAG');
      }
      this.#encrypt = encrypt;
      this.#mode = spec.mode;
      this.#key = Uint8Array.from(new Uint8Array(keyBytes.buffer, keyBytes.byteOffset, keyBytes.byteLength));
      this.#iv = Uint8Array.from(new Uint8Array(ivBytes.buffer, ivBytes.byteOffset, ivBytes.byteLength));
    }

    update(data, inputEncoding, outputEncoding) {
      if (this.#done) throw codedError(Error, 'Unsupported state', 'ERR_CRYPTO_INVALID_STATE');
      this.#chunks.push(Buffer.from(toBytes(data, inputEncoding, 'data')));
      return encoded(new Uint8Array(0), outputEncoding);
    }

    final(outputEncoding) {
      if (this.#done) throw codedError(Error, 'Unsupported state', 'ERR_CRYPTO_INVALID_STATE');
      this.#done = true;
      const data = Buffer.concat(this.#chunks);
      this.#chunks = [];
      let out;
      if (this.#mode === 'ctr') {
        out = internals.aesCtr(this.#key, this.#iv, data);
      } else if (this.#mode === 'cbc') {
        out = internals.aesCbc(this.#encrypt, this.#key, this.#iv, data);
        if (out === null) throw codedError(Error, 'error:1C800064:Provider routines::bad decrypt', 'ERR_OSSL_BAD_DECRYPT');
      } else if (this.#encrypt) {
        const sealed = new Uint8Array(internals.aesGcm(true, this.#key, this.#iv, this.#aad, data, this.#tagBytes));
        this.#tag = Buffer.from(sealed.subarray(sealed.length - this.#tagBytes));
        out = sealed.subarray(0, sealed.length - this.#tagBytes);
      } else {
        if (this.#tag === undefined) throw codedError(Error, 'Unsupported state or unable to authenticate data', 'ERR_CRYPTO_INVALID_STATE');
        out = internals.aesGcm(false, this.#key, this.#iv, this.#aad, Buffer.concat([data, this.#tag]), this.#tag.length);
        if (out === null) throw codedError(Error, 'Unsupported state or unable to authenticate data', 'ERR_CRYPTO_INVALID_STATE');
      }
      if (out === null) throw codedError(Error, 'The data could not be enciphered', 'ERR_CRYPTO_INVALID_STATE');
      return encoded(new Uint8Array(out), outputEncoding);
    }

    setAAD(buffer) {
      if (this.#mode !== 'gcm' || this.#chunks.length > 0 || this.#done) throw codedError(Error, 'Unsupported state', 'ERR_CRYPTO_INVALID_STATE');
      this.#aad = Uint8Array.from(toBytes(buffer, undefined, 'buffer'));
      return this;
    }

    getAuthTag() {
      if (this.#mode !== 'gcm' || !this.#encrypt || this.#tag === undefined) {
        throw codedError(Error, 'Invalid state for operation getAuthTag', 'ERR_CRYPTO_INVALID_STATE');
      }
      return Buffer.from(this.#tag);
    }

    setAuthTag(tag) {
      const bytes = toBytes(tag, undefined, 'buffer');
      if (this.#mode !== 'gcm' || this.#encrypt || this.#done) throw codedError(Error, 'Invalid state for operation setAuthTag', 'ERR_CRYPTO_INVALID_STATE');
      if (![4, 8, 12, 13, 14, 15, 16].includes(bytes.byteLength)) {
        throw codedError(TypeError, `Invalid authentication tag length: ${bytes.byteLength}`, 'ERR_CRYPTO_INVALID_AUTH_TAG');
      }
      this.#tag = Buffer.from(bytes);
      return this;
    }

    setAutoPadding(autoPadding = true) {
      if (!autoPadding) throw codedError(Error, 'Ciphers without padding are not supported here', 'ERR_METHOD_NOT_IMPLEMENTED');
      return this;
    }
  }

  // Not the default derived constructor: see SecretKeyObject (crypto.js).
  class Decipheriv extends Cipheriv {
    constructor(encrypt, algorithm, key, iv, options) { super(encrypt, algorithm, key, iv, options); }
  }

  function createCipheriv(algorithm, key, iv, options) {
    return new Cipheriv(true, algorithm, key, iv, options);
  }

  function createDecipheriv(algorithm, key, iv, options) {
    return new Decipheriv(false, algorithm, key, iv, options);
  }

  function details(type, kind, der) {
    if (kind === 'RSA') {
      const [n, e] = keyParts(der, type === 'private');
      let bits = n.length * 8;
      for (let i = 0; i < n.length && n[i] === 0; i++) bits -= 8;
      return { modulusLength: bits, publicExponent: BigInt(`0x${Buffer.from(e).toString('hex')}`) };
    }
    const curve = KEY_KINDS[kind].curve;
    return curve === undefined ? {} : { namedCurve: curve };
  }

  return {
    KEY_KINDS, details, exportAsymmetric, createPrivateKey, createPublicKey,
    createSign: (algorithm) => new Sign(algorithm),
    createVerify: (algorithm) => new Verify(algorithm),
    sign, verify, generateKeyPair, generateKeyPairSync, createCipheriv, createDecipheriv,
    getCiphers: () => Object.keys(CIPHERS),
    getCipherInfo: (name) => {
      const spec = CIPHERS[String(name).toLowerCase()];
      return spec === undefined ? undefined : { name: String(name).toLowerCase(), blockSize: spec.mode === 'cbc' ? 16 : 1,
        ivLength: spec.mode === 'gcm' ? 12 : 16, keyLength: spec.keyBytes, mode: spec.mode };
    },
  };
};
