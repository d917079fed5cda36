#!/usr/bin/perl
# Issue 15, WebCrypto keys: generateKey and exportKey for EC, Ed25519,
# X25519 and RSA keys; ECDH and X25519 key agreement; RSA signatures and
# RSA-OAEP; AES-CTR and AES-KW; wrapKey/unwrapKey; CryptoKey usages and
# extractability enforced; RSA key generation bounded and stopped by the
# request's CPU limit. Known answers are in t/27 (Wycheproof, RFCs), round
# trips against Node and openssl in t/29; hostile key material is in
# t/28's second half: each gets the DOMException WebCrypto names, never a
# crash.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Time::HiRes qw(time);
use JSON::PP ();

my $t = Dispatch::Test->new(
    workers => 1,
    server  => q{
        location ~ ^/t/(?<script>[^/]*) { dispatch_cpu_limit 10s; dispatch api $script; }
        location ~ ^/tight/(?<script>[^/]*) { dispatch_cpu_limit 300ms; dispatch api $script; }
    },
);
my @workers = $t->worker_pids;

my $COMMON = q{
    const enc = new TextEncoder();
    const hex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('');
    const RSA = (name, modulusLength = 2048) => ({ name, modulusLength, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' });
    const errorName = async (promise) => { try { await promise; return 'resolved'; } catch (e) { return e.name; } };
};

# ---- generateKey and exportKey ----
my $got = $t->run_checks('api', 'keys', $COMMON . q{
    export default { fetch: () => results({
      ecdsaGenerateExport: async () => {
        const out = [];
        for (const [namedCurve, hash, size] of [['P-256', 'SHA-256', 32], ['P-384', 'SHA-384', 48], ['P-521', 'SHA-512', 66]]) {
          const alg = { name: 'ECDSA', namedCurve };
          const { publicKey, privateKey } = await crypto.subtle.generateKey(alg, true, ['sign', 'verify']);
          const raw = await crypto.subtle.exportKey('raw', publicKey);
          const jwk = await crypto.subtle.exportKey('jwk', privateKey);
          const fromJwk = await crypto.subtle.importKey('jwk', jwk, alg, false, ['sign']);
          const fromP8 = await crypto.subtle.importKey('pkcs8', await crypto.subtle.exportKey('pkcs8', privateKey), alg, false, ['sign']);
          const fromSpki = await crypto.subtle.importKey('spki', await crypto.subtle.exportKey('spki', publicKey), alg, false, ['verify']);
          const fromRaw = await crypto.subtle.importKey('raw', raw, alg, false, ['verify']);
          const msg = enc.encode(namedCurve);
          const a = await crypto.subtle.sign({ name: 'ECDSA', hash }, fromJwk, msg);
          const b = await crypto.subtle.sign({ name: 'ECDSA', hash }, fromP8, msg);
          out.push([raw.byteLength === 1 + 2 * size, jwk.kty, jwk.crv, jwk.d.length === Math.ceil(size * 4 / 3),
            await crypto.subtle.verify({ name: 'ECDSA', hash }, fromSpki, a, msg),
            await crypto.subtle.verify({ name: 'ECDSA', hash }, fromRaw, b, msg)].join());
        }
        return out;
      },
      generatedUsages: async () => {
        const { publicKey, privateKey } = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify', 'sign']);
        return [publicKey.type, publicKey.usages.join(), publicKey.extractable, privateKey.type, privateKey.usages.join(),
          privateKey.extractable, await errorName(crypto.subtle.exportKey('pkcs8', privateKey)),
          (await crypto.subtle.exportKey('spki', publicKey)).byteLength];
      },
      generateNeedsPrivateUsage: () => crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']),
      generateWrongUsage: () => crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'encrypt']),
      exportMismatch: async () => {
        const { publicKey, privateKey } = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
        return [await errorName(crypto.subtle.exportKey('spki', privateKey)), await errorName(crypto.subtle.exportKey('pkcs8', publicKey)),
          await errorName(crypto.subtle.exportKey('raw', privateKey))];
      },
      ed25519: async () => {
        const { publicKey, privateKey } = await crypto.subtle.generateKey('Ed25519', true, ['sign', 'verify']);
        const msg = enc.encode('ed');
        const sig = await crypto.subtle.sign('Ed25519', privateKey, msg);
        const jwk = await crypto.subtle.exportKey('jwk', privateKey);
        const again = await crypto.subtle.importKey('jwk', jwk, 'Ed25519', false, ['sign']);
        const raw = await crypto.subtle.exportKey('raw', publicKey);
        return [sig.byteLength, raw.byteLength, jwk.kty, jwk.crv, jwk.alg, hex(await crypto.subtle.sign('Ed25519', again, msg)) === hex(sig),
          await crypto.subtle.verify('Ed25519', publicKey, sig, msg), await crypto.subtle.verify('Ed25519', publicKey, sig, enc.encode('other'))];
      },
      nodeEd25519: async () => {
        // Workers' older name: the algorithm and namedCurve are both NODE-ED25519.
        const alg = { name: 'NODE-ED25519', namedCurve: 'NODE-ED25519' };
        const { publicKey, privateKey } = await crypto.subtle.generateKey(alg, true, ['sign', 'verify']);
        const sig = await crypto.subtle.sign(alg, privateKey, enc.encode('n'));
        const asEd = await crypto.subtle.importKey('raw', await crypto.subtle.exportKey('raw', publicKey), 'Ed25519', false, ['verify']);
        return [publicKey.algorithm.name, publicKey.algorithm.namedCurve, await crypto.subtle.verify(alg, publicKey, sig, enc.encode('n')),
          await crypto.subtle.verify('Ed25519', asEd, sig, enc.encode('n')),
          await errorName(crypto.subtle.generateKey({ name: 'NODE-ED25519' }, true, ['sign']))];
      },
      rsaGenerate: async () => {
        const out = [];
        for (const name of ['RSASSA-PKCS1-v1_5', 'RSA-PSS']) {
          const { publicKey, privateKey } = await crypto.subtle.generateKey(RSA(name), true, ['sign', 'verify']);
          const params = { name, saltLength: 32 };
          const sig = await crypto.subtle.sign(params, privateKey, enc.encode('rsa'));
          const jwk = await crypto.subtle.exportKey('jwk', privateKey);
          const pubJwk = await crypto.subtle.exportKey('jwk', publicKey);
          const fromJwk = await crypto.subtle.importKey('jwk', pubJwk, { name, hash: 'SHA-256' }, false, ['verify']);
          out.push([sig.byteLength, jwk.alg, Object.keys(jwk).filter((k) => k.length <= 2).sort().join(''), pubJwk.d === undefined,
            publicKey.algorithm.modulusLength, Array.from(publicKey.algorithm.publicExponent).join('.'), publicKey.algorithm.hash.name,
            await crypto.subtle.verify(params, fromJwk, sig, enc.encode('rsa')),
            await crypto.subtle.verify(params, fromJwk, sig, enc.encode('RSA'))].join());
        }
        return out;
      },
      rsaPssSaltMatters: async () => {
        const { publicKey, privateKey } = await crypto.subtle.generateKey(RSA('RSA-PSS'), false, ['sign', 'verify']);
        const sig = await crypto.subtle.sign({ name: 'RSA-PSS', saltLength: 20 }, privateKey, enc.encode('s'));
        return [await crypto.subtle.verify({ name: 'RSA-PSS', saltLength: 20 }, publicKey, sig, enc.encode('s')),
          await crypto.subtle.verify({ name: 'RSA-PSS', saltLength: 32 }, publicKey, sig, enc.encode('s'))];
      },
      rsaOaep: async () => {
        const { publicKey, privateKey } = await crypto.subtle.generateKey(RSA('RSA-OAEP'), true, ['encrypt', 'decrypt']);
        const label = enc.encode('label');
        const ct = await crypto.subtle.encrypt({ name: 'RSA-OAEP', label }, publicKey, enc.encode('secret'));
        const pt = new TextDecoder().decode(await crypto.subtle.decrypt({ name: 'RSA-OAEP', label }, privateKey, ct));
        return [ct.byteLength, pt, (await crypto.subtle.exportKey('jwk', publicKey)).alg, publicKey.usages.join(), privateKey.usages.join(),
          await errorName(crypto.subtle.decrypt({ name: 'RSA-OAEP' }, privateKey, ct)),
          await errorName(crypto.subtle.encrypt({ name: 'RSA-OAEP' }, publicKey, new Uint8Array(300)))];
      },
      rsaBounds: async () => [
        await errorName(crypto.subtle.generateKey(RSA('RSA-OAEP', 512), true, ['encrypt', 'decrypt'])),
        await errorName(crypto.subtle.generateKey(RSA('RSA-OAEP', 1028 + 1), true, ['encrypt', 'decrypt'])),
        await errorName(crypto.subtle.generateKey(RSA('RSA-OAEP', 16384), true, ['encrypt', 'decrypt'])),
        await errorName(crypto.subtle.generateKey({ ...RSA('RSA-OAEP'), publicExponent: new Uint8Array([17]) }, true, ['encrypt', 'decrypt'])),
        await errorName(crypto.subtle.generateKey({ ...RSA('RSA-OAEP'), modulusLength: 2 ** 40 }, true, ['encrypt', 'decrypt'])),
        (await crypto.subtle.generateKey({ ...RSA('RSA-OAEP', 1024), publicExponent: new Uint8Array([3]) }, true, ['encrypt', 'decrypt'])).publicKey.algorithm.modulusLength,
      ],
    }) };
});
is_deeply $got->{ecdsaGenerateExport}, ['true,EC,P-256,true,true,true', 'true,EC,P-384,true,true,true', 'true,EC,P-521,true,true,true'],
    'ECDSA generateKey on each curve: raw, spki, pkcs8 and jwk export, imported back, sign and verify';
is_deeply $got->{generatedUsages}, ['public', 'verify', JSON::PP::true, 'private', 'sign', JSON::PP::false, 'InvalidAccessError', 91],
    'a generated pair: each key has its own usages, the public key is always extractable, the private one as asked';
like $got->{generateNeedsPrivateUsage}, qr/^threw SyntaxError/, 'generateKey with no usage for the private key: SyntaxError';
like $got->{generateWrongUsage}, qr/^threw SyntaxError/, 'generateKey with a usage the algorithm lacks: SyntaxError';
is_deeply $got->{exportMismatch}, [('InvalidAccessError') x 3], 'spki of a private key, pkcs8 of a public one, raw of a private one: InvalidAccessError';
is_deeply $got->{ed25519}, [64, 32, 'OKP', 'Ed25519', 'EdDSA', JSON::PP::true, JSON::PP::true, JSON::PP::false],
    'Ed25519: generateKey, sign (deterministic through a JWK round trip), verify';
is_deeply $got->{nodeEd25519}, ['NODE-ED25519', 'NODE-ED25519', JSON::PP::true, JSON::PP::true, 'NotSupportedError'],
    'NODE-ED25519 (Workers): the same signatures as Ed25519; without its namedCurve NotSupportedError';
is_deeply $got->{rsaGenerate}, ['256,RS256,ddpdqenpqqi,true,2048,1.0.1,SHA-256,true,false', '256,PS256,ddpdqenpqqi,true,2048,1.0.1,SHA-256,true,false'],
    'RSASSA-PKCS1-v1_5 and RSA-PSS: generateKey, every JWK member, verify through a JWK public key';
is_deeply $got->{rsaPssSaltMatters}, [JSON::PP::true, JSON::PP::false], 'RSA-PSS: the salt length is checked';
is_deeply $got->{rsaOaep}, [256, 'secret', 'RSA-OAEP-256', 'encrypt', 'decrypt', 'OperationError', 'OperationError'],
    'RSA-OAEP: encrypt and decrypt with a label; a wrong label or too much data: OperationError';
is_deeply $got->{rsaBounds}, [('OperationError') x 4, 'TypeError', 1024],
    'RSA generateKey: 512, 1029 and 16384 bits or exponent 17 are OperationError, 2^40 bits TypeError; 1024 bits with exponent 3 works';

# ---- key agreement ----
$got = $t->run_checks('api', 'agree', $COMMON . q{
    export default { fetch: () => results({
      ecdh: async () => {
        const out = [];
        for (const [namedCurve, bits] of [['P-256', 256], ['P-384', 384], ['P-521', 528]]) {
          const a = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve }, true, ['deriveBits', 'deriveKey']);
          const b = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve }, true, ['deriveBits']);
          const ab = await crypto.subtle.deriveBits({ name: 'ECDH', public: b.publicKey }, a.privateKey, null);
          const ba = await crypto.subtle.deriveBits({ name: 'ECDH', public: a.publicKey }, b.privateKey, bits);
          const short = await crypto.subtle.deriveBits({ name: 'ECDH', public: a.publicKey }, b.privateKey, 100);
          const key = await crypto.subtle.deriveKey({ name: 'ECDH', public: b.publicKey }, a.privateKey, { name: 'AES-GCM', length: 128 }, true, ['encrypt']);
          const mask = (new Uint8Array(ab)[12] & 0xf0).toString(16).padStart(2, '0');
          out.push([ab.byteLength * 8, hex(ab) === hex(ba), hex(short) === hex(ab).slice(0, 24) + mask,
            hex(await crypto.subtle.exportKey('raw', key)) === hex(ab).slice(0, 32),
            await errorName(crypto.subtle.deriveBits({ name: 'ECDH', public: a.publicKey }, b.privateKey, bits + 8))].join());
        }
        return out;
      },
      x25519: async () => {
        const a = await crypto.subtle.generateKey('X25519', true, ['deriveBits', 'deriveKey']);
        const b = await crypto.subtle.generateKey({ name: 'X25519' }, true, ['deriveBits']);
        const ab = await crypto.subtle.deriveBits({ name: 'X25519', public: b.publicKey }, a.privateKey, 256);
        const ba = await crypto.subtle.deriveBits({ name: 'X25519', public: a.publicKey }, b.privateKey, 256);
        const hkdf = await crypto.subtle.deriveKey({ name: 'X25519', public: b.publicKey }, a.privateKey, 'HKDF', false, ['deriveBits']);
        const jwk = await crypto.subtle.exportKey('jwk', a.privateKey);
        return [hex(ab) === hex(ba), ab.byteLength, hkdf.algorithm.name, jwk.kty, jwk.crv, jwk.alg, a.publicKey.usages.length,
          await errorName(crypto.subtle.deriveBits({ name: 'X25519', public: b.publicKey }, a.privateKey, 264))];
      },
      ecdhOtherCurve: async () => {
        const a = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']);
        const b = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-384' }, false, ['deriveBits']);
        return crypto.subtle.deriveBits({ name: 'ECDH', public: b.publicKey }, a.privateKey, 128);
      },
      ecdhEcdsaPublic: async () => {
        const a = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']);
        const b = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
        return crypto.subtle.deriveBits({ name: 'ECDH', public: b.publicKey }, a.privateKey, 128);
      },
      ecdhPrivateAsPublic: async () => {
        const a = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']);
        return crypto.subtle.deriveBits({ name: 'ECDH', public: a.privateKey }, a.privateKey, 128);
      },
      ecdhPublicNotAKey: async () => {
        const a = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']);
        return crypto.subtle.deriveBits({ name: 'ECDH', public: { type: 'public', algorithm: { name: 'ECDH' } } }, a.privateKey, 128);
      },
      x25519EcdhPublic: async () => {
        const a = await crypto.subtle.generateKey('X25519', false, ['deriveBits']);
        const b = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']);
        return crypto.subtle.deriveBits({ name: 'X25519', public: b.publicKey }, a.privateKey, 128);
      },
      deriveBitsNeedsUsage: async () => {
        const a = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveKey']);
        return crypto.subtle.deriveBits({ name: 'ECDH', public: a.publicKey }, a.privateKey, 128);
      },
    }) };
});
is_deeply $got->{ecdh}, ['256,true,true,true,OperationError', '384,true,true,true,OperationError', '528,true,true,true,OperationError'],
    'ECDH on each curve: both sides derive the same secret; a shorter length is its first bits; deriveKey takes its start; more bits than it holds: OperationError';
is_deeply $got->{x25519}, [JSON::PP::true, 32, 'HKDF', 'OKP', 'X25519', undef, 0, 'OperationError'],
    'X25519: generateKey, both sides agree, deriveKey to HKDF, OKP JWK export; 264 bits: OperationError';
like $got->{ecdhOtherCurve}, qr/^threw InvalidAccessError/, 'ECDH with a public key on another curve: InvalidAccessError';
like $got->{ecdhEcdsaPublic}, qr/^threw InvalidAccessError/, 'ECDH with an ECDSA public key: InvalidAccessError';
like $got->{ecdhPrivateAsPublic}, qr/^threw InvalidAccessError/, 'ECDH with a private key as "public": InvalidAccessError';
like $got->{ecdhPublicNotAKey}, qr/^threw TypeError/, 'ECDH with a look-alike object as "public": TypeError';
like $got->{x25519EcdhPublic}, qr/^threw InvalidAccessError/, 'X25519 with an ECDH public key: InvalidAccessError';
like $got->{deriveBitsNeedsUsage}, qr/^threw InvalidAccessError/, 'deriveBits with a deriveKey-only ECDH key: InvalidAccessError';

# ---- AES-CTR, AES-KW, wrapKey and unwrapKey ----
$got = $t->run_checks('api', 'wrap', $COMMON . q{
    const counter = (low) => { const c = new Uint8Array(16).fill(0xab); c[15] = low; return c; };
    export default { fetch: () => results({
      ctrWraps: async () => {
        // With length 8 the counter's last byte counts and wraps; the other 15 stay.
        const key = await crypto.subtle.importKey('raw', new Uint8Array(16).fill(7), 'AES-CTR', true, ['encrypt', 'decrypt']);
        const two = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-CTR', counter: counter(0xff), length: 8 }, key, new Uint8Array(32)));
        const atZero = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-CTR', counter: counter(0x00), length: 8 }, key, new Uint8Array(16)));
        const jwk = await crypto.subtle.exportKey('jwk', key);
        return [hex(two.subarray(16)) === hex(atZero), jwk.alg, key.algorithm.length];
      },
      ctrReuse: async () => {
        // length 1: two counter blocks in all; a third would reuse the first.
        const key = await crypto.subtle.importKey('raw', new Uint8Array(16), 'AES-CTR', false, ['encrypt']);
        return [(await crypto.subtle.encrypt({ name: 'AES-CTR', counter: counter(0), length: 1 }, key, new Uint8Array(32))).byteLength,
          await errorName(crypto.subtle.encrypt({ name: 'AES-CTR', counter: counter(0), length: 1 }, key, new Uint8Array(33))),
          await errorName(crypto.subtle.encrypt({ name: 'AES-CTR', counter: counter(0), length: 0 }, key, new Uint8Array(1))),
          await errorName(crypto.subtle.encrypt({ name: 'AES-CTR', counter: new Uint8Array(8), length: 64 }, key, new Uint8Array(1)))];
      },
      kwEncrypt: async () => {
        const key = await crypto.subtle.generateKey({ name: 'AES-KW', length: 256 }, true, ['wrapKey', 'unwrapKey']);
        return [(await crypto.subtle.exportKey('jwk', key)).alg, await errorName(crypto.subtle.encrypt({ name: 'AES-KW' }, key, new Uint8Array(16))),
          await errorName(crypto.subtle.generateKey({ name: 'AES-KW', length: 256 }, true, ['encrypt']))];
      },
      wrapEachWay: async () => {
        const out = {};
        const ec = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
        const rsa = await crypto.subtle.generateKey(RSA('RSA-OAEP'), true, ['wrapKey', 'unwrapKey']);
        const hmac = await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
        const wrappers = {
          'AES-GCM': [await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['wrapKey', 'unwrapKey']), { name: 'AES-GCM', iv: new Uint8Array(12) }],
          'AES-CBC': [await crypto.subtle.generateKey({ name: 'AES-CBC', length: 128 }, false, ['wrapKey', 'unwrapKey']), { name: 'AES-CBC', iv: new Uint8Array(16) }],
          'AES-CTR': [await crypto.subtle.generateKey({ name: 'AES-CTR', length: 128 }, false, ['wrapKey', 'unwrapKey']), { name: 'AES-CTR', counter: new Uint8Array(16), length: 64 }],
          'AES-KW': [await crypto.subtle.generateKey({ name: 'AES-KW', length: 128 }, false, ['wrapKey', 'unwrapKey']), 'AES-KW'],
        };
        const msg = enc.encode('wrapped');
        for (const [name, [key, params]] of Object.entries(wrappers)) {
          const results = [];
          for (const format of ['pkcs8', 'jwk']) {
            // AES-KW takes multiples of 8 bytes: a P-256 PKCS#8 is 138 (a JWK's JSON is padded with spaces).
            if (name === 'AES-KW' && format === 'pkcs8') { results.push(await errorName(crypto.subtle.wrapKey(format, ec.privateKey, key, params))); continue; }
            const wrapped = await crypto.subtle.wrapKey(format, ec.privateKey, key, params);
            const back = await crypto.subtle.unwrapKey(format, wrapped, key, params, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
            const sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, back, msg);
            results.push(await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, ec.publicKey, sig, msg) && !back.extractable);
          }
          out[name] = results.join();
        }
        const wrapped = await crypto.subtle.wrapKey('raw', hmac, rsa.publicKey, { name: 'RSA-OAEP' });
        const back = await crypto.subtle.unwrapKey('raw', wrapped, rsa.privateKey, { name: 'RSA-OAEP' }, { name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
        out['RSA-OAEP'] = hex(await crypto.subtle.exportKey('raw', back)) === hex(await crypto.subtle.exportKey('raw', hmac));
        return out;
      },
      wrapNeedsUsage: async () => {
        const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 128 }, false, ['encrypt']);
        const hmac = await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
        return crypto.subtle.wrapKey('raw', hmac, key, { name: 'AES-GCM', iv: new Uint8Array(12) });
      },
      unwrapNeedsUsage: async () => {
        const key = await crypto.subtle.generateKey({ name: 'AES-KW', length: 128 }, false, ['wrapKey']);
        const hmac = await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
        const wrapped = await crypto.subtle.wrapKey('raw', hmac, key, 'AES-KW');
        return crypto.subtle.unwrapKey('raw', wrapped, key, 'AES-KW', { name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
      },
      wrapNotExtractable: async () => {
        const key = await crypto.subtle.generateKey({ name: 'AES-KW', length: 128 }, false, ['wrapKey']);
        const hmac = await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
        return crypto.subtle.wrapKey('raw', hmac, key, 'AES-KW');
      },
      unwrapTampered: async () => {
        const key = await crypto.subtle.generateKey({ name: 'AES-KW', length: 128 }, false, ['wrapKey', 'unwrapKey']);
        const hmac = await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
        const wrapped = new Uint8Array(await crypto.subtle.wrapKey('raw', hmac, key, 'AES-KW'));
        wrapped[5] ^= 1;
        return crypto.subtle.unwrapKey('raw', wrapped, key, 'AES-KW', { name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
      },
      unwrapNotJson: async () => {
        const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 128 }, false, ['encrypt', 'unwrapKey']);
        const iv = new Uint8Array(12);
        const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, enc.encode('[not json'));
        return crypto.subtle.unwrapKey('jwk', sealed, key, { name: 'AES-GCM', iv }, { name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
      },
      structuredCloneKeys: async () => {
        // A clone has the same slots: it signs, verifies and describes itself as the original.
        const rsa = await crypto.subtle.generateKey(RSA('RSA-PSS', 1024), false, ['sign', 'verify']);
        const ed = await crypto.subtle.generateKey('Ed25519', true, ['sign', 'verify']);
        const [rsaPriv, rsaPub, edPriv] = structuredClone([rsa.privateKey, rsa.publicKey, ed.privateKey]);
        const msg = enc.encode('cloned');
        const sig = await crypto.subtle.sign({ name: 'RSA-PSS', saltLength: 32 }, rsaPriv, msg);
        return [rsaPriv instanceof CryptoKey, rsaPriv.extractable, rsaPub.algorithm.modulusLength, rsaPub.algorithm.hash.name,
          await crypto.subtle.verify({ name: 'RSA-PSS', saltLength: 32 }, rsa.publicKey, sig, msg),
          hex(await crypto.subtle.sign('Ed25519', edPriv, msg)) === hex(await crypto.subtle.sign('Ed25519', ed.privateKey, msg)),
          (await crypto.subtle.exportKey('jwk', edPriv)).d === (await crypto.subtle.exportKey('jwk', ed.privateKey)).d];
      },
      nonExtractableEverywhere: async () => {
        const out = [];
        for (const [alg, usages] of [[{ name: 'ECDSA', namedCurve: 'P-384' }, ['sign', 'verify']], ['Ed25519', ['sign', 'verify']],
          ['X25519', ['deriveBits']], [RSA('RSA-PSS', 1024), ['sign', 'verify']]]) {
          const { privateKey } = await crypto.subtle.generateKey(alg, false, usages);
          for (const format of ['pkcs8', 'jwk']) out.push(await errorName(crypto.subtle.exportKey(format, privateKey)));
        }
        return [...new Set(out)];
      },
    }) };
});
is_deeply $got->{ctrWraps}, [JSON::PP::true, 'A128CTR', 128], 'AES-CTR: the counter\'s low length bits wrap to zero, the rest stay';
is_deeply $got->{ctrReuse}, [32, 'OperationError', 'OperationError', 'OperationError'],
    'AES-CTR: data that would reuse a counter block, length 0, or an 8-byte counter: OperationError';
is_deeply $got->{kwEncrypt}, ['A256KW', 'NotSupportedError', 'SyntaxError'], 'AES-KW keys only wrap and unwrap';
is_deeply $got->{wrapEachWay}, { 'AES-GCM' => 'true,true', 'AES-CBC' => 'true,true', 'AES-CTR' => 'true,true', 'AES-KW' => 'OperationError,true',
    'RSA-OAEP' => JSON::PP::true }, 'wrapKey/unwrapKey with AES-GCM, AES-CBC, AES-CTR (pkcs8 and jwk), AES-KW (jwk; 138 bytes of pkcs8: OperationError), RSA-OAEP (raw)';
like $got->{wrapNeedsUsage}, qr/^threw InvalidAccessError/, 'wrapKey with a key without "wrapKey": InvalidAccessError';
like $got->{unwrapNeedsUsage}, qr/^threw InvalidAccessError/, 'unwrapKey with a key without "unwrapKey": InvalidAccessError';
like $got->{wrapNotExtractable}, qr/^threw InvalidAccessError/, 'wrapping a key that is not extractable: InvalidAccessError';
like $got->{unwrapTampered}, qr/^threw OperationError/, 'unwrapping tampered AES-KW data: OperationError';
like $got->{unwrapNotJson}, qr/^threw DataError/, 'unwrapping a "jwk" that is not JSON: DataError';
is_deeply $got->{structuredCloneKeys}, [JSON::PP::true, JSON::PP::false, 1024, 'SHA-256', JSON::PP::true, JSON::PP::true, JSON::PP::true],
    'structuredClone of RSA and Ed25519 keys: the clones keep their algorithm, extractability and key';
is_deeply $got->{nonExtractableEverywhere}, ['InvalidAccessError'], 'no private key that is not extractable exports, as pkcs8 or jwk';

# ---- hostile key material and parameters: a DOMException, never a crash ----
$got = $t->run_checks('api', 'hostile-keys', $COMMON . q{
    const b64url = (u8) => { let s = ''; for (let i = 0; i < u8.length; i += 4096) s += String.fromCharCode(...u8.subarray(i, i + 4096)); return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''); };
    const ECDSA = { name: 'ECDSA', namedCurve: 'P-256' };
    const PSS = { name: 'RSA-PSS', hash: 'SHA-256' };
    // A public RSA JWK of about `bits` bits: n need not be a real modulus to be parsed.
    const rsaJwk = (bytes) => { const n = new Uint8Array(bytes).fill(0xc3); n[bytes - 1] |= 1; return { kty: 'RSA', n: b64url(n), e: 'AQAB' }; };
    // DER nested `depth` deep with indefinite lengths: 30 80 ... 00 00.
    const nested = (depth) => { const d = new Uint8Array(depth * 4); for (let i = 0; i < depth; i++) { d[2 * i] = 0x30; d[2 * i + 1] = 0x80; } return d; };
    let good;
    const goodKeys = async () => good ??= {
      ec: await crypto.subtle.generateKey(ECDSA, true, ['sign', 'verify']),
      rsa: await crypto.subtle.generateKey(RSA('RSA-PSS', 1024), true, ['sign', 'verify']),
    };
    export default { fetch: () => results({
      rsaJwkLargestModulus: async () => (await crypto.subtle.importKey('jwk', rsaJwk(1024), PSS, false, ['verify'])).algorithm.modulusLength,
      rsaJwkHugeModulus: () => errorName(crypto.subtle.importKey('jwk', rsaJwk(1032), PSS, false, ['verify'])),
      rsaJwkMegabyteModulus: () => errorName(crypto.subtle.importKey('jwk', rsaJwk(1 << 20), PSS, false, ['verify'])),
      rsaJwkNotBase64: () => errorName(crypto.subtle.importKey('jwk', { kty: 'RSA', n: 'a+b/c', e: 'AQAB' }, PSS, false, ['verify'])),
      rsaJwkNumberMember: () => errorName(crypto.subtle.importKey('jwk', { kty: 'RSA', n: 12345, e: 'AQAB' }, PSS, false, ['verify'])),
      rsaJwkMadeUpPrivate: async () => {
        // Parts that do not agree (p as large as n): refused at import, before a signature could cost a second.
        const big = (n) => { const a = new Uint8Array(n).fill(0xa5); a[0] |= 0x80; a[n - 1] |= 1; return b64url(a); };
        const jwk = { kty: 'RSA', n: big(1024), e: 'AQAB', d: big(1024), p: big(1024), q: big(1024), dp: big(1024), dq: big(1024), qi: big(1024) };
        const real = await crypto.subtle.exportKey('jwk', (await goodKeys()).rsa.privateKey);
        return [await errorName(crypto.subtle.importKey('jwk', jwk, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign'])),
          await errorName(crypto.subtle.importKey('jwk', { ...real, dp: real.dq }, PSS, false, ['sign'])),
          await errorName(crypto.subtle.importKey('jwk', { ...real, alg: undefined }, PSS, false, ['sign']))];
      },
      rsaJwkPrivateMissingPrimes: async () => {
        const jwk = await crypto.subtle.exportKey('jwk', (await goodKeys()).rsa.privateKey);
        delete jwk.p; delete jwk.dq;
        return errorName(crypto.subtle.importKey('jwk', jwk, PSS, false, ['sign']));
      },
      rsaJwkWrongAlg: async () => {
        const jwk = await crypto.subtle.exportKey('jwk', (await goodKeys()).rsa.publicKey);
        return errorName(crypto.subtle.importKey('jwk', { ...jwk, alg: 'RS256' }, PSS, false, ['verify']));
      },
      ecJwkMissingY: () => errorName(crypto.subtle.importKey('jwk', { kty: 'EC', crv: 'P-256', x: 'A'.repeat(43) }, ECDSA, false, ['verify'])),
      ecJwkOffCurve: () => errorName(crypto.subtle.importKey('jwk', { kty: 'EC', crv: 'P-256', x: 'A'.repeat(43), y: 'B'.repeat(43) }, ECDSA, false, ['verify'])),
      ecJwkPrivateNotMatching: async () => {
        const a = await crypto.subtle.exportKey('jwk', (await goodKeys()).ec.privateKey);
        const b = await crypto.subtle.exportKey('jwk', (await crypto.subtle.generateKey(ECDSA, true, ['sign'])).privateKey);
        return errorName(crypto.subtle.importKey('jwk', { ...a, d: b.d }, ECDSA, false, ['sign']));
      },
      okpJwkWrongCrv: () => errorName(crypto.subtle.importKey('jwk', { kty: 'OKP', crv: 'X25519', x: 'A'.repeat(43) }, 'Ed25519', false, ['verify'])),
      okpJwkShortX: () => errorName(crypto.subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519', x: 'AAAA' }, 'Ed25519', false, ['verify'])),
      okpJwkHugeD: () => errorName(crypto.subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519', x: 'A'.repeat(43), d: 'A'.repeat(4 << 20) }, 'Ed25519', false, ['sign'])),
      jwkNotAnObject: () => errorName(crypto.subtle.importKey('jwk', '{"kty":"EC"}', ECDSA, false, ['verify'])),
      truncatedPkcs8: async () => {
        const p8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', (await goodKeys()).rsa.privateKey));
        const out = [];
        for (const cut of [1, 10, p8.length >> 1, p8.length - 1]) out.push(await errorName(crypto.subtle.importKey('pkcs8', p8.subarray(0, cut), PSS, false, ['sign'])));
        return [...new Set(out)];
      },
      truncatedSpki: async () => {
        const spki = new Uint8Array(await crypto.subtle.exportKey('spki', (await goodKeys()).ec.publicKey));
        const out = [];
        for (const cut of [2, 20, spki.length - 1]) out.push(await errorName(crypto.subtle.importKey('spki', spki.subarray(0, cut), ECDSA, false, ['verify'])));
        return [...new Set(out)];
      },
      trailingBytes: async () => {
        const spki = new Uint8Array(await crypto.subtle.exportKey('spki', (await goodKeys()).ec.publicKey));
        const longer = new Uint8Array(spki.length + 1); longer.set(spki);
        return errorName(crypto.subtle.importKey('spki', longer, ECDSA, false, ['verify']));
      },
      nestedBomb: async () => [await errorName(crypto.subtle.importKey('spki', nested(4000), PSS, false, ['verify'])),
        await errorName(crypto.subtle.importKey('pkcs8', nested(4000), 'Ed25519', false, ['sign']))],
      megabyteDer: () => errorName(crypto.subtle.importKey('pkcs8', new Uint8Array(1 << 20).fill(0x30), PSS, false, ['sign'])),
      spkiOfAnotherAlgorithm: async () => {
        // An EC key offered as RSA, an RSA key as Ed25519.
        const ec = await crypto.subtle.exportKey('spki', (await goodKeys()).ec.publicKey);
        const rsa = await crypto.subtle.exportKey('spki', (await goodKeys()).rsa.publicKey);
        return [await errorName(crypto.subtle.importKey('spki', ec, PSS, false, ['verify'])),
          await errorName(crypto.subtle.importKey('spki', rsa, 'Ed25519', false, ['verify'])),
          await errorName(crypto.subtle.importKey('spki', ec, { name: 'ECDSA', namedCurve: 'P-384' }, false, ['verify']))];
      },
      rawRsa: () => errorName(crypto.subtle.importKey('raw', new Uint8Array(256), PSS, false, ['verify'])),
      rawPrivateUsage: () => errorName(crypto.subtle.importKey('raw', new Uint8Array(32), 'X25519', false, ['deriveBits'])),
      lengthBombs: async () => {
        const { ec, rsa } = await goodKeys();
        const ecdh = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']);
        const hkdf = await crypto.subtle.importKey('raw', new Uint8Array(16), 'HKDF', false, ['deriveBits']);
        return [await errorName(crypto.subtle.deriveBits({ name: 'ECDH', public: ecdh.publicKey }, ecdh.privateKey, 2 ** 32 - 1)),
          await errorName(crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: new Uint8Array(0) }, hkdf, 2 ** 32 - 8)),
          await errorName(crypto.subtle.sign({ name: 'RSA-PSS', saltLength: 2 ** 32 - 1 }, rsa.privateKey, new Uint8Array(1))),
          await errorName(crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, ec.publicKey, new Uint8Array(1)))];
      },
      aesKwGarbage: async () => {
        const kek = await crypto.subtle.importKey('raw', new Uint8Array(16), 'AES-KW', false, ['unwrapKey']);
        const out = [];
        for (const size of [0, 8, 17, 1 << 16]) {
          out.push(await errorName(crypto.subtle.unwrapKey('raw', new Uint8Array(size), kek, 'AES-KW', { name: 'AES-GCM' }, true, ['encrypt'])));
        }
        return [...new Set(out)];
      },
      gcmLongIvBomb: async () => {
        // IVs past 128 bytes take the engine's own GCM, bounded to 4 MiB of IV, AAD and data.
        const key = await crypto.subtle.importKey('raw', new Uint8Array(16), 'AES-GCM', false, ['encrypt', 'decrypt']);
        const iv = new Uint8Array(200).fill(9);
        const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, enc.encode('long iv'));
        return [new TextDecoder().decode(await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, key, sealed)),
          await errorName(crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, new Uint8Array(4 << 20))),
          await errorName(crypto.subtle.encrypt({ name: 'AES-GCM', iv: new Uint8Array(5 << 20) }, key, new Uint8Array(1)))];
      },
      stillWorks: async () => {
        const { ec } = await goodKeys();
        const sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, ec.privateKey, enc.encode('after'));
        return crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, ec.publicKey, sig, enc.encode('after'));
      },
    }) };
});
is $got->{rsaJwkLargestModulus}, 8192, 'an RSA JWK of 8192 bits imports';
is $got->{rsaJwkHugeModulus}, 'DataError', 'an RSA JWK of 8256 bits (past the 8192 the engine takes): DataError';
is $got->{rsaJwkMegabyteModulus}, 'DataError', 'an RSA JWK with a megabyte modulus: DataError';
is $got->{rsaJwkNotBase64}, 'DataError', 'an RSA JWK whose n is not base64url: DataError';
is $got->{rsaJwkNumberMember}, 'DataError', 'an RSA JWK whose n is a number: DataError';
is_deeply $got->{rsaJwkMadeUpPrivate}, ['DataError', 'DataError', 'resolved'],
    'RSA private JWKs whose parts disagree (8192-bit p and q; dp swapped with dq): DataError; the real one imports';
is $got->{rsaJwkPrivateMissingPrimes}, 'DataError', 'a private RSA JWK without p and dq: DataError';
is $got->{rsaJwkWrongAlg}, 'DataError', 'an RS256 JWK imported for RSA-PSS: DataError';
is $got->{ecJwkMissingY}, 'DataError', 'an EC JWK without y: DataError';
is $got->{ecJwkOffCurve}, 'DataError', 'an EC JWK whose point is off the curve: DataError';
is $got->{ecJwkPrivateNotMatching}, 'DataError', 'an EC JWK whose d is not the private key of x, y: DataError';
is $got->{okpJwkWrongCrv}, 'DataError', 'an X25519 JWK imported as Ed25519: DataError';
is $got->{okpJwkShortX}, 'DataError', 'an Ed25519 JWK with a 3-byte x: DataError';
is $got->{okpJwkHugeD}, 'DataError', 'an Ed25519 JWK with a 3 MB d: DataError';
is $got->{jwkNotAnObject}, 'TypeError', 'a JWK that is a string: TypeError';
is_deeply $got->{truncatedPkcs8}, ['DataError'], 'an RSA PKCS#8 cut anywhere: DataError';
is_deeply $got->{truncatedSpki}, ['DataError'], 'an EC SPKI cut anywhere: DataError';
is $got->{trailingBytes}, 'DataError', 'an SPKI with a byte after it: DataError';
is_deeply $got->{nestedBomb}, ['DataError', 'DataError'], 'DER nested 4000 deep: DataError';
is $got->{megabyteDer}, 'DataError', 'a megabyte of DER: DataError';
is_deeply $got->{spkiOfAnotherAlgorithm}, ['DataError', 'DataError', 'DataError'],
    'an SPKI of another algorithm or curve than the one asked for: DataError';
is $got->{rawRsa}, 'NotSupportedError', 'raw RSA keys: NotSupportedError';
is $got->{rawPrivateUsage}, 'SyntaxError', 'a raw (public) X25519 key for deriveBits: SyntaxError';
is_deeply $got->{lengthBombs}, ['OperationError', 'OperationError', 'OperationError', 'InvalidAccessError'],
    'ECDH and HKDF asked for 2^32 bits, an RSA-PSS salt of 2^32 bytes: OperationError; signing with a public key: InvalidAccessError';
is_deeply $got->{aesKwGarbage}, ['OperationError'], 'AES-KW unwrapping 0, 8, 17 or 65536 bytes of zeros: OperationError';
is_deeply $got->{gcmLongIvBomb}, ['long iv', 'OperationError', 'OperationError'],
    'AES-GCM with a 200-byte IV round trips; 4 MiB of data or a 5 MiB IV with it: OperationError';
is $got->{stillWorks}, JSON::PP::true, 'the isolate still signs and verifies after all that';

# ---- RSA key generation counts against the CPU limit and is stopped by it ----
# A script is stopped a few times in a row here; each size gets a copy of
# its own so no throttling (t/48) comes between.
$t->put_script('api', "keygen-loop-$_", q{
    export default { async fetch(request) {
      const bits = Number(new URL(request.url).searchParams.get('bits'));
      const alg = { name: 'RSASSA-PKCS1-v1_5', modulusLength: bits, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
      for (;;) await crypto.subtle.generateKey(alg, false, ['sign']);
    } };
}) for 4096, 8192;
$t->put_script('api', 'hello', q{ export default { fetch: () => new Response('hello') }; });
for my $bits (4096, 8192) {
    my $t0 = time;
    my $r = $t->get("/tight/keygen-loop-$bits?bits=$bits", timeout => 60);
    my $elapsed = time - $t0;
    is $r->{status}, 503, "a script looping on RSA-$bits generateKey under a 300ms CPU limit: 503";
    is $r->{content}, "exceeded_cpu\n", "RSA-$bits: named exceeded_cpu, key generation counted against the CPU budget";
    # Without the keygen callback an 8192-bit key runs on for seconds past the limit and the
    # watchdog's last resort ends the worker.
    cmp_ok $elapsed, '<', 5, "RSA-$bits: stopped within 5 s";
    is_deeply [ $t->worker_pids ], \@workers, "RSA-$bits: the worker process survives";
    is $t->get('/t/hello')->{content}, 'hello', "RSA-$bits: and serves the next request";
}

# Key generation that runs out of the request's CPU time stops the run as
# the CPU limit does: nothing the script can catch (a RangeError it could
# catch before raced the watchdog, and answered in its place).
$t->put_script('api', 'keygen-catch', q{
    export default { async fetch() {
      const alg = { name: 'RSASSA-PKCS1-v1_5', modulusLength: 4096, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
      for (;;) {
        try { await crypto.subtle.generateKey(alg, false, ['sign']); }
        catch (e) { return new Response(`caught ${e.name}: ${e.message}`); }
      }
    } };
});
for my $round (1 .. 3) {
    my $r = $t->get('/tight/keygen-catch', timeout => 60);
    is "$r->{status} $r->{content}", "503 exceeded_cpu\n",
        "round $round: key generation past the CPU limit is not an error the script catches: 503 exceeded_cpu";
}

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
done_testing;
