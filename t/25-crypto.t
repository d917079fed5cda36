#!/usr/bin/perl
# SPEC 5 (issue 4): crypto.getRandomValues, crypto.randomUUID and
# crypto.subtle (digest: SHA-1/256/384/512; HMAC: importKey raw/jwk, sign,
# verify, exportKey, generateKey; workerd's timingSafeEqual) as the W3C
# WebCrypto standard defines them and Cloudflare Workers exposes them.
# Digests and MACs are checked against Perl's Digest::SHA.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP qw(decode_json encode_json);
use Digest::SHA qw(sha1_hex sha256_hex sha384_hex sha512_hex hmac_sha1_hex hmac_sha256_hex hmac_sha384_hex
    hmac_sha512_hex hmac_sha256);
use MIME::Base64 qw(encode_base64 decode_base64);

my $t = Dispatch::Test->new(
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch api $script; } },
);

my $CHECKS = q{
    const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');
    const utf8 = (text) => new TextEncoder().encode(text);
};

sub run_checks {
    my ($name, $code, %req) = @_;
    return $t->run_checks('api', $name, $CHECKS . $code, %req);
}
my ($T, $F) = (JSON::PP::true, JSON::PP::false);

# ---- getRandomValues and randomUUID ----

my $got = run_checks('random', q{
    export default { fetch: () => results({
      sameArray: () => { const a = new Uint8Array(16); return crypto.getRandomValues(a) === a; },
      fills: () => { const a = crypto.getRandomValues(new Uint8Array(64)); return a.some((b) => b !== 0); },
      differs: () => hex(crypto.getRandomValues(new Uint8Array(16))) !== hex(crypto.getRandomValues(new Uint8Array(16))),
      integerTypes: () => [Int8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, BigInt64Array, BigUint64Array]
        .map((T) => crypto.getRandomValues(new T(4)).length),
      float: () => crypto.getRandomValues(new Float64Array(2)),
      dataView: () => crypto.getRandomValues(new DataView(new ArrayBuffer(4))),
      plainArray: () => crypto.getRandomValues([1, 2, 3]),
      max: () => crypto.getRandomValues(new Uint8Array(65536)).length,
      tooBig: () => { try { crypto.getRandomValues(new Uint32Array(16385)); } catch (e) { return [e instanceof DOMException, e.name, e.code]; } return 'no error'; },
      detached: () => { const { getRandomValues } = crypto; return getRandomValues.call(crypto, new Uint8Array(2)).length; },
      uuid: () => crypto.randomUUID(),
      uuidsDiffer: () => new Set(Array.from({ length: 200 }, () => crypto.randomUUID())).size,
      shapes: () => [Object.prototype.toString.call(crypto), Object.prototype.toString.call(crypto.subtle),
        crypto instanceof Crypto, crypto.subtle instanceof SubtleCrypto],
      noConstructor: () => new Crypto(),
    }) };
});
is $got->{sameArray}, $T, 'getRandomValues() fills the array it is given and returns it';
is $got->{fills}, $T, 'the bytes are not all zero';
is $got->{differs}, $T, 'two calls differ';
is_deeply $got->{integerTypes}, [(4) x 8], 'every integer typed array is accepted';
like $got->{float}, qr/^threw TypeError/, 'a Float64Array is a TypeError';
like $got->{dataView}, qr/^threw TypeError/, 'a DataView is a TypeError';
like $got->{plainArray}, qr/^threw TypeError/, 'a plain array is a TypeError';
is $got->{max}, 65536, '65,536 bytes at once is allowed';
is_deeply $got->{tooBig}, [$T, 'QuotaExceededError', 22], 'more than 65,536 bytes is a QuotaExceededError DOMException';
is $got->{detached}, 2, 'getRandomValues works called through a reference';
like $got->{uuid}, qr/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'randomUUID() is a version 4 UUID';
is $got->{uuidsDiffer}, 200, '200 UUIDs are all different';
is_deeply $got->{shapes}, ['[object Crypto]', '[object SubtleCrypto]', $T, $T], 'crypto is a Crypto, crypto.subtle a SubtleCrypto';
like $got->{noConstructor}, qr/^threw TypeError/, 'Crypto cannot be constructed';

# ---- digest ----

my $text = "The quick brown fox \x{e9}\x{1f98a}";
my $bytes = $text;
utf8::encode($bytes);
$got = run_checks('digest', q{
    const text = 'The quick brown fox \u00e9\u{1F98A}';
    export default { fetch: () => results({
      sha1: async () => hex(await crypto.subtle.digest('SHA-1', utf8(text))),
      sha256: async () => hex(await crypto.subtle.digest('SHA-256', utf8(text))),
      sha384: async () => hex(await crypto.subtle.digest('SHA-384', utf8(text))),
      sha512: async () => hex(await crypto.subtle.digest('SHA-512', utf8(text))),
      empty: async () => hex(await crypto.subtle.digest('SHA-256', new Uint8Array(0))),
      arrayBufferOut: async () => (await crypto.subtle.digest('SHA-256', utf8('x'))) instanceof ArrayBuffer,
      spellings: async () => [hex(await crypto.subtle.digest({ name: 'sha-256' }, utf8('x'))) === hex(await crypto.subtle.digest('SHA-256', utf8('x')))],
      bufferIn: async () => hex(await crypto.subtle.digest('SHA-1', utf8('abc').buffer)),
      dataViewIn: async () => hex(await crypto.subtle.digest('SHA-1', new DataView(utf8('xabcx').buffer, 1, 3))),
      copiesInput: async () => { const data = utf8('abc'); const p = crypto.subtle.digest('SHA-1', data); data[0] = 0; return hex(await p); },
      unknown: () => crypto.subtle.digest('MD4', utf8('x')),
      stringData: () => crypto.subtle.digest('SHA-256', 'text'),
      rejectsNotThrows: () => { const p = crypto.subtle.digest('nope', utf8('x')); p.catch(() => {}); return p instanceof Promise; },
    }) };
});
is $got->{sha1}, sha1_hex($bytes), 'SHA-1 digest matches Digest::SHA';
is $got->{sha256}, sha256_hex($bytes), 'SHA-256 digest matches';
is $got->{sha384}, sha384_hex($bytes), 'SHA-384 digest matches';
is $got->{sha512}, sha512_hex($bytes), 'SHA-512 digest matches';
is $got->{empty}, sha256_hex(''), 'the digest of nothing';
is $got->{arrayBufferOut}, $T, 'digest() resolves to an ArrayBuffer';
is_deeply $got->{spellings}, [$T], 'an algorithm may be an object and its name any case';
is $got->{bufferIn}, sha1_hex('abc'), 'an ArrayBuffer is accepted';
is $got->{dataViewIn}, sha1_hex('abc'), 'a DataView window is accepted';
is $got->{copiesInput}, sha1_hex('abc'), 'the data is copied when digest() is called';
like $got->{unknown}, qr/^threw NotSupportedError/, 'an unknown algorithm rejects with NotSupportedError';
like $got->{stringData}, qr/^threw TypeError/, 'a string is not data: TypeError';
is $got->{rejectsNotThrows}, $T, 'errors reject the promise rather than throw';

# ---- HMAC ----

my $key = 'key for the tests';
$got = run_checks('hmac', q{
    const raw = utf8('key for the tests');
    const message = utf8('message to sign');
    const importRaw = (hash, usages = ['sign', 'verify'], extractable = false) =>
      crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash }, extractable, usages);
    export default { fetch: () => results({
      sha1: async () => hex(await crypto.subtle.sign('HMAC', await importRaw('SHA-1'), message)),
      sha256: async () => hex(await crypto.subtle.sign('HMAC', await importRaw('SHA-256'), message)),
      sha384: async () => hex(await crypto.subtle.sign({ name: 'HMAC' }, await importRaw({ name: 'SHA-384' }), message)),
      sha512: async () => hex(await crypto.subtle.sign('hmac', await importRaw('sha-512'), message)),
      key: async () => {
        const k = await importRaw('SHA-256', ['verify', 'sign']);
        return [k.type, k.extractable, k.algorithm, k.usages, Object.prototype.toString.call(k), k instanceof CryptoKey];
      },
      verify: async () => {
        const k = await importRaw('SHA-256');
        const mac = await crypto.subtle.sign('HMAC', k, message);
        const bad = new Uint8Array(mac).slice(); bad[0] ^= 1;
        return [await crypto.subtle.verify('HMAC', k, mac, message), await crypto.subtle.verify('HMAC', k, bad, message),
          await crypto.subtle.verify('HMAC', k, mac, utf8('other message')), await crypto.subtle.verify('HMAC', k, mac.slice(0, 16), message)];
      },
      signOnlyVerify: async () => crypto.subtle.verify('HMAC', await importRaw('SHA-256', ['sign']), new Uint8Array(32), message),
      verifyOnlySign: async () => crypto.subtle.sign('HMAC', await importRaw('SHA-256', ['verify']), message),
      wrongAlgorithm: async () => crypto.subtle.sign('RSAES-PKCS1-v1_5', await importRaw('SHA-256'), message),
      badUsage: () => importRaw('SHA-256', ['encrypt']),
      unknownUsage: () => importRaw('SHA-256', ['fly']),
      noUsages: () => importRaw('SHA-256', []),
      noHash: () => crypto.subtle.importKey('raw', raw, { name: 'HMAC' }, false, ['sign']),
      badHash: () => importRaw('SHA-3'),
      emptyKey: () => crypto.subtle.importKey('raw', new Uint8Array(0), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']),
      lengthMismatch: () => crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256', length: 64 }, false, ['sign']),
      otherFormat: () => crypto.subtle.importKey('spki', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']),
      otherAlgorithm: () => crypto.subtle.importKey('raw', raw, { name: 'RSAES-PKCS1-v1_5' }, false, ['encrypt']),
      exportRaw: async () => hex(await crypto.subtle.exportKey('raw', await importRaw('SHA-256', ['sign'], true))),
      exportJwk: async () => crypto.subtle.exportKey('jwk', await importRaw('SHA-384', ['sign'], true)),
      exportNotExtractable: async () => crypto.subtle.exportKey('raw', await importRaw('SHA-256')),
      jwk: async () => {
        const k = await crypto.subtle.importKey('jwk', { kty: 'oct', k: 'a2V5IGZvciB0aGUgdGVzdHM', alg: 'HS256', ext: true, key_ops: ['sign', 'verify'] },
          { name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
        return [hex(await crypto.subtle.sign('HMAC', k, message)), k.algorithm.length];
      },
      jwkWrongAlg: () => crypto.subtle.importKey('jwk', { kty: 'oct', k: 'a2V5', alg: 'HS512' }, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']),
      jwkWrongKty: () => crypto.subtle.importKey('jwk', { kty: 'RSA', k: 'a2V5' }, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']),
      jwkOps: () => crypto.subtle.importKey('jwk', { kty: 'oct', k: 'a2V5', key_ops: ['verify'] }, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']),
      jwkNotExtractable: () => crypto.subtle.importKey('jwk', { kty: 'oct', k: 'a2V5', ext: false }, { name: 'HMAC', hash: 'SHA-256' }, true, ['sign']),
      generate: async () => {
        const k = await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-512' }, true, ['sign', 'verify']);
        const mac = await crypto.subtle.sign('HMAC', k, message);
        return [k.algorithm.length, (await crypto.subtle.exportKey('raw', k)).byteLength, await crypto.subtle.verify('HMAC', k, mac, message)];
      },
      tamper: async () => {
        const k = await importRaw('SHA-256', ['verify']);
        k.algorithm.hash.name = 'SHA-1';
        k.usages.push('sign');
        try { await crypto.subtle.sign('HMAC', k, message); return 'signed'; } catch (e) { return e.name; }
      },
      noKeyConstructor: () => new CryptoKey(),
      notAKey: () => crypto.subtle.sign('HMAC', { type: 'secret' }, message),
      timingSafeEqual: () => [crypto.subtle.timingSafeEqual(utf8('abc'), utf8('abc')), crypto.subtle.timingSafeEqual(utf8('abc'), utf8('abd')),
        crypto.subtle.timingSafeEqual(utf8('abc').buffer, new Uint8Array([97, 98, 99]))],
      timingSafeEqualLengths: () => crypto.subtle.timingSafeEqual(utf8('abc'), utf8('ab')),
      wrapNotAKey: () => crypto.subtle.wrapKey('raw', null, null, { name: 'AES-KW' }),
    }) };
});
my $msg = 'message to sign';
is $got->{sha1}, hmac_sha1_hex($msg, $key), 'HMAC SHA-1 matches Digest::SHA';
is $got->{sha256}, hmac_sha256_hex($msg, $key), 'HMAC SHA-256 matches';
is $got->{sha384}, hmac_sha384_hex($msg, $key), 'HMAC SHA-384 matches (algorithm and hash as objects)';
is $got->{sha512}, hmac_sha512_hex($msg, $key), 'HMAC SHA-512 matches (names in any case)';
is_deeply $got->{key}, ['secret', $F, { name => 'HMAC', length => 8 * length($key), hash => { name => 'SHA-256' } },
    ['sign', 'verify'], '[object CryptoKey]', $T], 'a CryptoKey: type, extractable, algorithm, usages in standard order';
is_deeply $got->{verify}, [$T, $F, $F, $F], 'verify(): true for the MAC; false for a changed MAC, other data or a short MAC';
like $got->{signOnlyVerify}, qr/^threw InvalidAccessError/, 'verify() with a key not for verifying: InvalidAccessError';
like $got->{verifyOnlySign}, qr/^threw InvalidAccessError/, 'sign() with a key not for signing: InvalidAccessError';
like $got->{wrongAlgorithm}, qr/^threw NotSupportedError/, 'sign() with an algorithm we lack: NotSupportedError';
like $got->{badUsage}, qr/^threw SyntaxError/, 'an HMAC key for encrypt: SyntaxError';
like $got->{unknownUsage}, qr/^threw TypeError/, 'a usage that does not exist: TypeError';
like $got->{noUsages}, qr/^threw SyntaxError/, 'a secret key without usages: SyntaxError';
like $got->{noHash}, qr/^threw TypeError/, 'HMAC without a hash: TypeError';
like $got->{badHash}, qr/^threw NotSupportedError/, 'an unknown hash: NotSupportedError';
like $got->{emptyKey}, qr/^threw DataError/, 'an empty key: DataError';
like $got->{lengthMismatch}, qr/^threw DataError/, 'a length that does not match the key: DataError';
like $got->{otherFormat}, qr/^threw NotSupportedError/, 'HMAC from spki: NotSupportedError';
like $got->{otherAlgorithm}, qr/^threw NotSupportedError/, 'an algorithm not here (RSAES-PKCS1-v1_5, as on Workers): NotSupportedError';
is $got->{exportRaw}, unpack('H*', $key), 'exportKey("raw") of an extractable key gives the key bytes';
(my $k64 = encode_base64($key, '')) =~ tr{+/=}{-_}d;
is_deeply $got->{exportJwk}, { kty => 'oct', k => $k64, alg => 'HS384', key_ops => ['sign'], ext => $T },
    'exportKey("jwk") gives an oct JWK with base64url k';
like $got->{exportNotExtractable}, qr/^threw InvalidAccessError/, 'exporting a key that is not extractable: InvalidAccessError';
is_deeply $got->{jwk}, [hmac_sha256_hex($msg, $key), 8 * length($key)], 'a JWK key signs as the raw key does';
like $got->{jwkWrongAlg}, qr/^threw DataError/, 'a JWK whose alg does not match the hash: DataError';
like $got->{jwkWrongKty}, qr/^threw DataError/, 'a JWK that is not kty oct: DataError';
like $got->{jwkOps}, qr/^threw DataError/, 'a JWK whose key_ops lack a usage: DataError';
like $got->{jwkNotExtractable}, qr/^threw DataError/, 'an ext:false JWK imported as extractable: DataError';
is_deeply $got->{generate}, [1024, 128, $T], 'generateKey(): an HMAC key of the hash\'s block size that signs and verifies';
is $got->{tamper}, 'InvalidAccessError', 'changing key.algorithm or key.usages changes nothing the key does';
like $got->{noKeyConstructor}, qr/^threw TypeError/, 'CryptoKey cannot be constructed';
like $got->{notAKey}, qr/^threw TypeError/, 'a key that is not a CryptoKey: TypeError';
is_deeply $got->{timingSafeEqual}, [$T, $F, $T], 'crypto.subtle.timingSafeEqual() compares buffers and views (a Workers extension)';
like $got->{timingSafeEqualLengths}, qr/^threw TypeError/, 'timingSafeEqual() of different lengths: TypeError';
like $got->{wrapNotAKey}, qr/^threw TypeError/, 'wrapKey() of something that is not a CryptoKey: TypeError';

# ---- a GitHub-style webhook: X-Hub-Signature-256 checked with HMAC ----

my $secret = 'It\'s a Secret to Everybody';
$t->put_script('api', 'webhook', q{
    const SECRET = "It's a Secret to Everybody";
    const encoder = new TextEncoder();
    let keyPromise; // imported once per isolate, reused by later requests

    function fromHex(hex) {
      if (!/^([0-9a-f]{2})*$/i.test(hex)) return null;
      return Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16));
    }

    export default {
      async fetch(request) {
        if (request.method !== 'POST') return new Response('POST only\n', { status: 405 });
        const header = request.headers.get('X-Hub-Signature-256') ?? '';
        const signature = header.startsWith('sha256=') ? fromHex(header.slice(7)) : null;
        if (signature === null) return new Response('missing signature\n', { status: 401 });
        keyPromise ??= crypto.subtle.importKey('raw', encoder.encode(SECRET), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
        const body = await request.arrayBuffer();
        if (!await crypto.subtle.verify('HMAC', await keyPromise, signature, body)) {
          return new Response('bad signature\n', { status: 401 });
        }
        const event = JSON.parse(new TextDecoder().decode(body));
        return Response.json({ event: request.headers.get('X-GitHub-Event'), action: event.action, repo: event.repository.full_name });
      },
    };
});
my $event = encode_json({ action => 'opened', repository => { full_name => "octo/caf\x{e9}" } });
my $sign = sub { 'sha256=' . hmac_sha256_hex($_[0], $secret) };
my $r = $t->request('POST', '/t/webhook', content => $event,
    headers => { 'X-Hub-Signature-256' => $sign->($event), 'X-GitHub-Event' => 'issues', 'Content-Type' => 'application/json' });
is $r->{status}, 200, 'webhook: a correctly signed delivery is accepted';
is_deeply decode_json($r->{content}), { event => 'issues', action => 'opened', repo => "octo/caf\x{e9}" }, 'webhook: and read';
$r = $t->request('POST', '/t/webhook', content => $event,
    headers => { 'X-Hub-Signature-256' => $sign->($event), 'X-GitHub-Event' => 'issues' });
is $r->{status}, 200, 'webhook: the imported key is reused by the next request';
$r = $t->request('POST', '/t/webhook', content => "$event ", headers => { 'X-Hub-Signature-256' => $sign->($event) });
is $r->{status}, 401, 'webhook: a body changed by one byte is refused';
$r = $t->request('POST', '/t/webhook', content => $event, headers => { 'X-Hub-Signature-256' => 'sha256=' . hmac_sha256_hex($event, 'wrong') });
is $r->{status}, 401, 'webhook: a signature made with another secret is refused';
$r = $t->request('POST', '/t/webhook', content => $event);
is $r->{status}, 401, 'webhook: no signature is refused';
is $r->{content}, "missing signature\n", 'webhook: and says so';

# ---- a JWT (HS256) issued by the tenant, checked by Perl ----

$t->put_script('api', 'jwt', q{
    const b64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    const enc = new TextEncoder();
    export default {
      async fetch(request) {
        const sub = new URL(request.url).searchParams.get('sub');
        const key = await crypto.subtle.importKey('raw', enc.encode('jwt secret'), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
        const head = b64url(enc.encode(JSON.stringify({ alg: 'HS256', typ: 'JWT' })));
        const body = b64url(enc.encode(JSON.stringify({ sub, jti: crypto.randomUUID() })));
        const sig = new Uint8Array(await crypto.subtle.sign('HMAC', key, enc.encode(`${head}.${body}`)));
        return new Response(`${head}.${body}.${b64url(sig)}`);
      },
    };
});
$r = $t->get('/t/jwt?sub=alice');
my ($h, $p, $s) = split /\./, $r->{content};
(my $expected = encode_base64(hmac_sha256("$h.$p", 'jwt secret'), '')) =~ tr{+/=}{-_}d;
is $s, $expected, 'JWT: the HS256 signature checks out in Perl';
(my $payload = $p) =~ tr{-_}{+/};
is decode_json(decode_base64($payload))->{sub}, 'alice', 'JWT: the payload carries the claims';

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
done_testing;
