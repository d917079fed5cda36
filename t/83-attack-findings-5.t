#!/usr/bin/perl
# Findings of a fifth attack (branch attack), on what was merged on the
# day of WebCrypto, request.cf, dynamic import() and the cordons: a hostile
# tenant who has read README.md and SPEC.md. Each case asserts what the
# README promises and failed on the commit it was found on, unless it says
# it pins a defence that held.
#
# Tried and held (no test kept): a 128M-character rope handed to every other
# native that takes a string (env.NS.get, KV get/put, fetch, URL, Headers,
# TextEncoder, Response, console.log, JSON.parse, btoa, JWK import, args,
# cf, method); AES-GCM with a 129-byte IV over 4 MiB (0.08 s); a digest or
# an Ed25519/ECDSA signature over 60 MiB (exceeded_cpu, the worker lives);
# import() of the module itself during its top-level await; KV keys with
# braces (the hash tag is the namespace's, before the key); admin paths
# with percent-encoded '/' or '..' (one name, refused by its syntax);
# CryptoKey forgery (private fields) and prototype tampering (t/39).
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Hostile;
use Dispatch::Admin;
use MIME::Base64 qw(encode_base64);

my $t = hostile_server(budget => 100);
my $logpos = 0;

# A real 4096-bit RSA key (PKCS#8 DER, base64), made for this run.
my $pkcs8 = `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -outform DER`;
length($pkcs8) > 1000 or BAIL_OUT('openssl genpkey made no RSA key');
my $pkcs8_b64 = encode_base64($pkcs8, '');

# ---------------------------------------------------------------------------
# 1. An RSA private key is checked with cheap arithmetic on import, but its
# public exponent was not bounded: e + k (p-1)(q-1) for a large k passes
# every check (e d = 1 mod p-1 and q-1 still holds) and OpenSSL uses e in
# each private operation (blinding, and the check of the CRT result). A
# 128000-bit e made one 2048-bit signature take 1.2 s of CPU in one native
# call (8 s at 4096 bits): the watchdog cannot stop it and the worker was
# killed by dispatch_hang_timeout. Now a DataError, as for any exponent of
# more than 64 bits (OpenSSL's own bound for moduli past 3072 bits).
my $huge_e_js = <<'JS';
const b64 = s => Uint8Array.from(atob(s), c => c.charCodeAt(0));
const fromB64url = s => b64(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - s.length % 4) % 4));
const toB64url = bytes => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const big = s => BigInt('0x' + Array.from(fromB64url(s), x => x.toString(16).padStart(2, '0')).join(''));
const bytesOf = n => { let h = n.toString(16); if (h.length % 2) h = '0' + h;
  return Uint8Array.from(h.match(/../g), x => parseInt(x, 16)); };
const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
export default { async fetch() {
  const key = await crypto.subtle.importKey('pkcs8', b64('PKCS8'), alg, true, ['sign']);
  const jwk = await crypto.subtle.exportKey('jwk', key);
  const phi = (big(jwk.p) - 1n) * (big(jwk.q) - 1n);
  // e' = e + k phi: the same key for every check the import makes
  const e = big(jwk.e) + ((1n << 127000n) / phi) * phi;
  let bytes = bytesOf(e);
  let s = ''; for (let i = 0; i < bytes.length; i += 4096) s += String.fromCharCode(...bytes.subarray(i, i + 4096));
  jwk.e = btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  let forged;
  try { forged = await crypto.subtle.importKey('jwk', jwk, alg, false, ['sign']); }
  catch (err) { return new Response('refused ' + err.name); }
  await crypto.subtle.sign(alg, forged, new Uint8Array(8));
  return new Response('signed');
} };
JS
$huge_e_js =~ s/PKCS8/$pkcs8_b64/;
hostile_case($t, 'an RSA private key with a huge public exponent is refused on import',
    js => $huge_e_js,
    expect => [[200, 'refused DataError']],
    timeout => 20);

# ---------------------------------------------------------------------------
# 2. AES-KW (RFC 3394) costs six AES calls per 8 bytes, each through
# OpenSSL's generic block path: unwrapping 1 MiB took 1.3 s of CPU in one
# native call (16 MiB: 12 s) on a loaded test machine, and unwrapKey takes
# any length a tenant hands it. Now data past 64 KiB (far above any key
# WebCrypto exports: an 8192-bit RSA key in JWK is under 7 KiB) is an
# OperationError before OpenSSL is asked.
hostile_case($t, 'AES-KW unwrapKey of 32 MiB is refused at once',
    js => q{
        export default { async fetch() {
          const kek = await crypto.subtle.importKey('raw', new Uint8Array(16), 'AES-KW', false, ['unwrapKey']);
          const t0 = Date.now();
          try {
            await crypto.subtle.unwrapKey('raw', new Uint8Array(32 << 20), kek, 'AES-KW',
                                          { name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
          } catch (err) { return new Response('refused ' + err.name); }
          return new Response('unwrapped');
        } };
    },
    expect => [[200, 'refused OperationError']],
    timeout => 20);

hostile_case($t, 'AES-KW still wraps and unwraps a key',
    js => q{
        export default { async fetch() {
          const kek = await crypto.subtle.generateKey({ name: 'AES-KW', length: 256 }, false, ['wrapKey', 'unwrapKey']);
          const raw = crypto.getRandomValues(new Uint8Array(64));
          const key = await crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
          const wrapped = await crypto.subtle.wrapKey('raw', key, kek, 'AES-KW');
          const back = await crypto.subtle.unwrapKey('raw', wrapped, kek, 'AES-KW',
                                                     { name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
          const again = new Uint8Array(await crypto.subtle.exportKey('raw', back));
          return new Response(wrapped.byteLength + ' ' + again.every((b, i) => b === raw[i]));
        } };
    },
    expect => [[200, '72 true']]);

# ---------------------------------------------------------------------------
# 3. A router's args and request.cf cross a dispatch as JSON of up to 1 MiB,
# and the TARGET parses them (and freezes cf) in its own request, on its own
# CPU limit: 1 MiB of "[[],[],...]" (340000 arrays, cheap for the router to
# build once at its top level) or of "[0,0,...]" stopped the target's
# isolate with exceeded_cpu, failing every request it had in flight and
# counting toward its penalty box: one tenant made another hit its limits.
# Now a JSON of a dispatch holds at most 10000 values; past that the
# caller's fetch() throws a TypeError and the target is never started.
$t->put_script('victims', 'victim', q{
    export default { fetch(req, env) {
      const n = x => Array.isArray(x) ? x.length : typeof x;
      return new Response('victim ' + n(req.cf) + ' ' + n(env.big));
    } };
});
my $ns_binding = '{"bindings":[{"type":"dispatch_namespace","name":"V","namespace":"victims"}]}';
my $victim_spared = sub {
    my ($r, $t) = @_;
    unlike substr($t->error_log, $logpos), qr/"victims\/victim": stopped/,
        'the target was not stopped for what its caller sent';
};
for my $case (['a cf of 340000 arrays', '[]', q{env.V.get('victim').fetch(new Request('http://x/', { cf: big }))}],
              ['a cf of 520000 numbers', '0', q{env.V.get('victim').fetch(new Request('http://x/', { cf: big }))}],
              ['args of 340000 arrays', '[]', q{env.V.get('victim', { big }).fetch(new Request('http://x/'))}]) {
    my ($what, $item, $call) = @$case;
    my $n = $what =~ /(\d+)/ ? $1 : die;
    hostile_case($t, "$what refused in the caller, not charged to the target",
        setup => sub { $logpos = length $_[0]->error_log },
        js => q{
            const big = []; for (let i = 0; i < COUNT; i++) big.push(ITEM);
            export default { async fetch(req, env) {
              try { await CALL; }
              catch (err) { return new Response(err.name + ': ' + err.message); }
              return new Response('sent');
            } };
        } =~ s/CALL/$call/r =~ s/COUNT/$n/r =~ s/ITEM/$item/r,
        fields => { metadata => $ns_binding },
        expect => [[200, qr/^TypeError: .*more than 10000 values as JSON/]],
        check => $victim_spared);
}

hostile_case($t, 'args and a cf of 4000 arrays each still cross a dispatch',
    setup => sub { $logpos = length $_[0]->error_log },
    js => q{
        const big = []; for (let i = 0; i < 4000; i++) big.push(['a']);
        export default { async fetch(req, env) {
          const r = await env.V.get('victim', { big }).fetch(new Request('http://x/', { cf: big }));
          return new Response(await r.text());
        } };
    },
    fields => { metadata => $ns_binding },
    expect => [[200, 'victim 4000 4000']],
    check => $victim_spared);

# ---------------------------------------------------------------------------
# 4. import() took any specifier: a 128M-character one, a rope of eleven
# doublings that costs the heap almost nothing, was flattened, copied to
# UTF-8, split into path parts and quoted twice into error messages outside
# the isolate's budget, all in one turn the watchdog could not stop: the
# worker ran past dispatch_hang_timeout and exited. Now a specifier of more
# than 1024 characters is a TypeError before anything reads it.
hostile_case($t, 'import() of a 128M-character specifier rejects at once',
    js => q{
        export default { async fetch() {
          let s = './' + 'a'.repeat(1 << 16);
          for (let i = 0; i < 11; i++) s = s + s;
          try { await import(s); } catch (err) { return new Response(err.name + ': ' + err.message); }
          return new Response('imported');
        } };
    },
    expect => [[200, 'TypeError: import(): a module specifier is at most 1024 characters']],
    timeout => 20);

hostile_case($t, 'import() of a 1008-character specifier still loads the module',
    js => q{
        export default { async fetch() {
          const m = await import('./' + 'x/../'.repeat(200) + 'lib.js');
          return new Response(m.name);
        } };
    },
    fields => { 'module:lib.js' => q{export const name = 'lib';} },
    expect => [[200, 'lib']]);

# ---------------------------------------------------------------------------
# 5. PBKDF2 was bounded by iterations x output blocks (32 blocks at 100000
# iterations), not by what it costs: 32 SHA-512 blocks at 100000
# iterations (6.4M compression calls), or 200 SHA-256 blocks at one
# iteration over a 16 MiB salt (hashed once per block), ran in one native
# call past dispatch_hang_timeout and the worker exited. Now the cost in
# compression calls, salt included, is bounded (four blocks at the most
# iterations): a RangeError before OpenSSL runs.
for my $case (['32 SHA-512 blocks at 100000 iterations', q{{ name: 'PBKDF2', hash: 'SHA-512', salt: new Uint8Array(16), iterations: 100000 }, key, 512 * 32}],
              ['200 SHA-256 blocks over a 16 MiB salt', q{{ name: 'PBKDF2', hash: 'SHA-256', salt: new Uint8Array(16 << 20), iterations: 1 }, key, 256 * 200}]) {
    my ($what, $args) = @$case;
    hostile_case($t, "PBKDF2 of $what is refused before it runs",
        js => q{
            export default { async fetch() {
              const key = await crypto.subtle.importKey('raw', new Uint8Array(8), 'PBKDF2', false, ['deriveBits']);
              try { await crypto.subtle.deriveBits(ARGS); } catch (err) { return new Response('refused ' + err.name); }
              return new Response('derived');
            } };
        } =~ s/ARGS/$args/r,
        expect => [[200, 'refused RangeError']],
        timeout => 20);
}

# ---------------------------------------------------------------------------
# 6. A renamed namespace keeps its KV data under its old name (README), and
# a namespace made later under that old name -- explicitly or by an upload
# into it -- took the old name as its KV name too: its scripts read and
# wrote the renamed namespace's data (a platform that gives a freed name to
# another customer hands it the first one's KV). The rename now records who
# holds the KV name (a delete, whose KV data stays, too), and a namespace
# made under a held name gets a KV name of its own (under its prefix, as a
# tier's Redis ACL user allows).
{
    my $a = admin_server();
    my $kv_js = q{
        export default { async fetch(req, env) {
          const put = new URL(req.url).searchParams.get('put');
          if (put) { await env.STORE.put('k', put); return new Response('stored'); }
          return new Response(String(await env.STORE.get('k')));
        } };
    };
    my $up = sub {
        my ($ns, $name) = @_;
        envelope_ok(curl_upload($a, $ns, $name,
            metadata => { main_module => 'worker.js',
                          bindings => [{ type => 'kv_namespace', name => 'STORE', namespace_id => 'store' }] },
            files => [[ 'worker.js', 'worker.js', 'application/javascript+module', $kv_js ]]),
            "upload $ns/$name");
    };
    my $reads = sub { $a->get("/t/$_[0]")->{content} };
    envelope_ok(api($a, POST => '', json => { name => 'acme' }), 'create acme');
    $up->('acme', 'app');
    is $a->get('/t/acme/app?put=acme-private')->{content}, 'stored', 'acme stores a value in its KV';
    envelope_ok(api($a, PUT => '/acme', json => { name => 'acme-old' }), 'rename acme to acme-old');
    is $reads->('acme-old/app'), 'acme-private', 'the renamed namespace keeps its KV data';

    envelope_ok(api($a, POST => '', json => { name => 'acme' }), 'create a new acme');
    $up->('acme', 'spy');
    is $reads->('acme/spy'), 'null', "a namespace created under a renamed one's old name reads none of its KV";

    envelope_ok(api($a, DELETE => '/acme'), 'delete the new acme');
    $up->('acme', 'spy2');
    is $reads->('acme/spy2'), 'null', "nor one an upload makes under that name";

    envelope_ok(api($a, DELETE => '/acme'), 'delete it too');
    envelope_ok(api($a, PUT => '/acme-old', json => { name => 'acme' }), 'rename acme-old back to acme');
    $up->('acme', 'again');
    is $reads->('acme/again'), 'acme-private', 'renamed back, its scripts share its KV data as before';

    # The same after a delete (whose KV data stays, for the platform to delete).
    envelope_ok(api($a, DELETE => '/acme'), 'delete acme');
    $up->('acme', 'after-delete');
    is $reads->('acme/after-delete'), 'null', 'a namespace made under a deleted one\'s name reads none of its KV';
    $a->stop;
}

done_testing();
