#!/usr/bin/perl
# WebCrypto round trips against references on this machine: Node's
# crypto.webcrypto (another implementation, on its own OpenSSL build) and the
# openssl command. Node makes keys, signatures and ciphertexts the engine
# must accept; the engine makes keys, signatures, ciphertexts and shared
# secrets Node and openssl must accept: ECDSA P-256/384/521, Ed25519,
# RSASSA-PKCS1-v1_5, RSA-PSS, RSA-OAEP, ECDH, X25519, AES-CTR and AES-KW,
# keys crossing as spki, pkcs8, raw and jwk.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP qw(decode_json encode_json);
use File::Temp qw(tempdir);

my $node = `sh -c "command -v node"`;
chomp $node;
plan skip_all => 'no node command' unless $node;
my $dir = tempdir(CLEANUP => 1);

my $t = Dispatch::Test->new(
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch_cpu_limit 20s; dispatch api $script; } },
);

# Node's half, run twice: "make" writes its keys (private ones to a file
# only it reads back) and what the engine must accept; "check" reads the
# engine's answer and says which of its outputs Node accepts.
my $NODE = q{
const { webcrypto: { subtle }, createPublicKey, verify: nodeVerify } = require('crypto');
const fs = require('fs');
const [mode, stateFile, inFile] = process.argv.slice(2);
const b = (x) => Buffer.from(x).toString('hex');
const u = (h) => new Uint8Array(Buffer.from(h, 'hex'));
const msg = new TextEncoder().encode('made by node');
const RSA = (name) => ({ name, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' });
const SIGNERS = {
  'P-256': [{ name: 'ECDSA', namedCurve: 'P-256' }, { name: 'ECDSA', hash: 'SHA-256' }],
  'P-384': [{ name: 'ECDSA', namedCurve: 'P-384' }, { name: 'ECDSA', hash: 'SHA-384' }],
  'P-521': [{ name: 'ECDSA', namedCurve: 'P-521' }, { name: 'ECDSA', hash: 'SHA-512' }],
  Ed25519: [{ name: 'Ed25519' }, { name: 'Ed25519' }],
  RS256: [RSA('RSASSA-PKCS1-v1_5'), { name: 'RSASSA-PKCS1-v1_5' }],
  PS256: [RSA('RSA-PSS'), { name: 'RSA-PSS', saltLength: 32 }],
};
(async () => {
  if (mode === 'make') {
    const out = { signed: {}, oaep: null, agree: {}, aes: {} };
    const state = { agree: {}, oaep: null };
    let i = 0;
    for (const [label, [gen, params]] of Object.entries(SIGNERS)) {
      const { publicKey, privateKey } = await subtle.generateKey(gen, true, ['sign', 'verify']);
      const format = i++ % 2 ? 'jwk' : 'spki';
      const exported = await subtle.exportKey(format, publicKey);
      out.signed[label] = { gen, params, format, key: format === 'jwk' ? exported : b(exported),
        pkcs8: b(await subtle.exportKey('pkcs8', privateKey)), sig: b(await subtle.sign(params, privateKey, msg)) };
    }
    const oaep = await subtle.generateKey(RSA('RSA-OAEP'), true, ['encrypt', 'decrypt']);
    state.oaep = await subtle.exportKey('jwk', oaep.privateKey);
    out.oaep = { spki: b(await subtle.exportKey('spki', oaep.publicKey)),
      pkcs8: b(await subtle.exportKey('pkcs8', oaep.privateKey)),
      ct: b(await subtle.encrypt({ name: 'RSA-OAEP', label: msg }, oaep.publicKey, new TextEncoder().encode('node secret'))) };
    for (const [label, gen] of [['P-256', { name: 'ECDH', namedCurve: 'P-256' }], ['P-521', { name: 'ECDH', namedCurve: 'P-521' }], ['X25519', { name: 'X25519' }]]) {
      const pair = await subtle.generateKey(gen, true, ['deriveBits']);
      state.agree[label] = { gen, jwk: await subtle.exportKey('jwk', pair.privateKey) };
      out.agree[label] = { gen, raw: b(await subtle.exportKey('raw', pair.publicKey)) };
    }
    const ctrKey = await subtle.generateKey({ name: 'AES-CTR', length: 256 }, true, ['encrypt', 'decrypt']);
    const counter = new Uint8Array(16).fill(0xfe);
    out.aes.ctr = { jwk: await subtle.exportKey('jwk', ctrKey), counter: b(counter),
      ct: b(await subtle.encrypt({ name: 'AES-CTR', counter, length: 16 }, ctrKey, new Uint8Array(1000).fill(7))) };
    const kek = await subtle.generateKey({ name: 'AES-KW', length: 192 }, true, ['wrapKey']);
    const hmac = await subtle.importKey('raw', u('00112233445566778899aabbccddeeff0123456789abcdef'), { name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
    out.aes.kw = { kek: b(await subtle.exportKey('raw', kek)), wrapped: b(await subtle.wrapKey('raw', hmac, kek, 'AES-KW')) };
    fs.writeFileSync(stateFile, JSON.stringify(state));
    process.stdout.write(JSON.stringify(out));
    return;
  }
  const state = JSON.parse(fs.readFileSync(stateFile));
  const engine = JSON.parse(fs.readFileSync(inFile));
  const verdict = {};
  const engineMsg = new TextEncoder().encode('made by the engine');
  for (const [label, e] of Object.entries(engine.signed)) {
    const [gen, params] = SIGNERS[label];
    const key = e.format === 'jwk' ? await subtle.importKey('jwk', e.key, gen, false, ['verify'])
      : await subtle.importKey(e.format, u(e.key), gen, false, ['verify']);
    verdict[`verify ${label}`] = await subtle.verify(params, key, u(e.sig), engineMsg);
    // The engine's private key, exported as pkcs8, signs in Node; the engine's public key checks it.
    const priv = await subtle.importKey('pkcs8', u(e.pkcs8), gen, false, ['sign']);
    verdict[`pkcs8 ${label}`] = await subtle.verify(params, key, await subtle.sign(params, priv, engineMsg), engineMsg);
  }
  const oaepKey = await subtle.importKey('jwk', state.oaep, RSA('RSA-OAEP'), false, ['decrypt']);
  verdict.oaep = new TextDecoder().decode(await subtle.decrypt({ name: 'RSA-OAEP', label: engineMsg }, oaepKey, u(engine.oaep)));
  for (const [label, e] of Object.entries(engine.agree)) {
    const priv = await subtle.importKey('jwk', state.agree[label].jwk, state.agree[label].gen, false, ['deriveBits']);
    const pub = await subtle.importKey(e.format, e.format === 'jwk' ? e.key : u(e.key), state.agree[label].gen, false, []);
    const bits = label === 'X25519' ? 256 : label === 'P-521' ? 528 : 256;
    verdict[`agree ${label}`] = b(await subtle.deriveBits({ name: state.agree[label].gen.name, public: pub }, priv, bits)) === e.secret;
  }
  process.stdout.write(JSON.stringify(verdict));
})().catch((e) => { process.stdout.write(JSON.stringify({ error: String(e && e.stack) })); });
};
open my $nf, '>', "$dir/node.js" or die; print $nf $NODE; close $nf;

my $made = `node $dir/node.js make $dir/state.json`;
my $node_out = eval { decode_json($made) } or BAIL_OUT("node make failed: $made");

# The engine's half: accept what Node made, then make its own.
$t->put_script('api', 'interop', q{
    const NODE = } . encode_json($node_out) . q{;
    const hex = (x) => Array.from(new Uint8Array(x), (v) => v.toString(16).padStart(2, '0')).join('');
    const u = (h) => { const o = new Uint8Array(h.length / 2); for (let i = 0; i < o.length; i++) o[i] = parseInt(h.substr(2 * i, 2), 16); return o; };
    const enc = new TextEncoder();
    const nodeMsg = enc.encode('made by node');
    const engineMsg = enc.encode('made by the engine');
    export default { async fetch() {
      const accepted = {};
      const mine = { signed: {}, agree: {} };
      let i = 0;
      for (const [label, n] of Object.entries(NODE.signed)) {
        // JSON turned Node's publicExponent into an object.
        if (n.gen.publicExponent) n.gen.publicExponent = new Uint8Array([1, 0, 1]);
        const key = n.format === 'jwk' ? await crypto.subtle.importKey('jwk', n.key, n.gen, false, ['verify'])
          : await crypto.subtle.importKey('spki', u(n.key), n.gen, false, ['verify']);
        const nodePriv = await crypto.subtle.importKey('pkcs8', u(n.pkcs8), n.gen, false, ['sign']);
        accepted[`verify ${label}`] = await crypto.subtle.verify(n.params, key, u(n.sig), nodeMsg);
        accepted[`pkcs8 ${label}`] = await crypto.subtle.verify(n.params, key, await crypto.subtle.sign(n.params, nodePriv, nodeMsg), nodeMsg);
        const { publicKey, privateKey } = await crypto.subtle.generateKey(n.gen, true, ['sign', 'verify']);
        const format = i++ % 2 ? 'spki' : 'jwk';
        const exported = await crypto.subtle.exportKey(format, publicKey);
        mine.signed[label] = { format, key: format === 'jwk' ? exported : hex(exported),
          pkcs8: hex(await crypto.subtle.exportKey('pkcs8', privateKey)), sig: hex(await crypto.subtle.sign(n.params, privateKey, engineMsg)) };
      }
      const oaepGen = { name: 'RSA-OAEP', hash: 'SHA-256' };
      const oaepPriv = await crypto.subtle.importKey('pkcs8', u(NODE.oaep.pkcs8), oaepGen, false, ['decrypt']);
      accepted.oaep = new TextDecoder().decode(await crypto.subtle.decrypt({ name: 'RSA-OAEP', label: nodeMsg }, oaepPriv, u(NODE.oaep.ct)));
      const oaepPub = await crypto.subtle.importKey('spki', u(NODE.oaep.spki), oaepGen, false, ['encrypt']);
      mine.oaep = hex(await crypto.subtle.encrypt({ name: 'RSA-OAEP', label: engineMsg }, oaepPub, enc.encode('engine secret')));
      for (const [label, n] of Object.entries(NODE.agree)) {
        const pub = await crypto.subtle.importKey('raw', u(n.raw), n.gen, false, []);
        const pair = await crypto.subtle.generateKey(n.gen, true, ['deriveBits']);
        const format = label === 'P-256' ? 'spki' : label === 'P-521' ? 'jwk' : 'raw';
        const exported = await crypto.subtle.exportKey(format, pair.publicKey);
        mine.agree[label] = { format, key: format === 'jwk' ? exported : hex(exported),
          secret: hex(await crypto.subtle.deriveBits({ name: n.gen.name, public: pub }, pair.privateKey, null)) };
      }
      const ctrKey = await crypto.subtle.importKey('jwk', NODE.aes.ctr.jwk, 'AES-CTR', false, ['decrypt']);
      const plain = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-CTR', counter: u(NODE.aes.ctr.counter), length: 16 }, ctrKey, u(NODE.aes.ctr.ct)));
      accepted.ctr = plain.length === 1000 && plain.every((v) => v === 7);
      const kek = await crypto.subtle.importKey('raw', u(NODE.aes.kw.kek), 'AES-KW', false, ['unwrapKey']);
      const hmac = await crypto.subtle.unwrapKey('raw', u(NODE.aes.kw.wrapped), kek, 'AES-KW', { name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
      accepted.kw = hex(await crypto.subtle.exportKey('raw', hmac));
      return Response.json({ accepted, mine });
    } };
});
my $r = $t->request('GET', '/t/interop');
is $r->{status}, 200, 'the engine ran its half' or diag $r->{content};
my $engine = eval { decode_json($r->{content}) } || {};
my $accepted = $engine->{accepted} || {};
for my $label (qw(P-256 P-384 P-521 Ed25519 RS256 PS256)) {
    my $format = $node_out->{signed}{$label}{format};
    is $accepted->{"verify $label"}, JSON::PP::true, "$label: Node's signature verifies in the engine (Node's public key as $format)";
    is $accepted->{"pkcs8 $label"}, JSON::PP::true, "$label: Node's private key imports as pkcs8 and signs in the engine";
}
is $accepted->{oaep}, 'node secret', 'RSA-OAEP: the engine decrypts what Node encrypted with a label (Node\'s key as pkcs8)';
is $accepted->{ctr}, JSON::PP::true, 'AES-CTR: the engine decrypts Node\'s 1000 bytes, the 16-bit counter wrapping (JWK key)';
is $accepted->{kw}, '00112233445566778899aabbccddeeff0123456789abcdef', 'AES-KW: the engine unwraps the key Node wrapped';

open my $ef, '>', "$dir/engine.json" or die; print $ef encode_json($engine->{mine} || {}); close $ef;
my $checked = `node $dir/node.js check $dir/state.json $dir/engine.json`;
my $verdict = eval { decode_json($checked) } || { error => $checked };
diag $verdict->{error} if $verdict->{error};
for my $label (qw(P-256 P-384 P-521 Ed25519 RS256 PS256)) {
    my $format = $engine->{mine}{signed}{$label}{format} // '?';
    is $verdict->{"verify $label"}, JSON::PP::true, "$label: the engine's signature verifies in Node (the engine's public key as $format)";
    is $verdict->{"pkcs8 $label"}, JSON::PP::true, "$label: the engine's private key, as pkcs8, imports and signs in Node";
}
is $verdict->{oaep}, 'engine secret', 'RSA-OAEP: Node decrypts what the engine encrypted to Node\'s spki key';
for my $label (qw(P-256 P-521 X25519)) {
    my $format = $engine->{mine}{agree}{$label}{format} // '?';
    is $verdict->{"agree $label"}, JSON::PP::true, "$label: Node derives the engine's shared secret (the engine's public key as $format)";
}

# ---- openssl: RSA and Ed25519 signatures both ways, as PEM files ----
SKIP: {
    my $openssl = `sh -c "command -v openssl"`;
    chomp $openssl;
    skip 'no openssl command', 4 unless $openssl;
    system("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out $dir/rsa.pem 2>/dev/null") == 0 or die;
    system("openssl genpkey -algorithm ED25519 -out $dir/ed.pem 2>/dev/null") == 0 or die;
    open my $m, '>', "$dir/msg" or die; print $m 'made by openssl'; close $m;
    system("openssl dgst -sha256 -sign $dir/rsa.pem -out $dir/rsa.sig $dir/msg") == 0 or die;
    system("openssl pkeyutl -sign -rawin -inkey $dir/ed.pem -in $dir/msg -out $dir/ed.sig 2>/dev/null") == 0 or die;
    my %hex;
    for my $name (qw(rsa ed)) {
        $hex{"${name}_spki"} = unpack 'H*', `openssl pkey -in $dir/$name.pem -pubout -outform DER 2>/dev/null`;
        $hex{"${name}_sig"} = do { open my $fh, '<:raw', "$dir/$name.sig" or die; local $/; unpack 'H*', <$fh> };
    }
    $t->put_script('api', 'openssl', q{
        const K = } . encode_json(\%hex) . q{;
        const hex = (x) => Array.from(new Uint8Array(x), (v) => v.toString(16).padStart(2, '0')).join('');
        const u = (h) => { const o = new Uint8Array(h.length / 2); for (let i = 0; i < o.length; i++) o[i] = parseInt(h.substr(2 * i, 2), 16); return o; };
        const enc = new TextEncoder();
        export default { async fetch() {
          const rsaAlg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
          const rsaPub = await crypto.subtle.importKey('spki', u(K.rsa_spki), rsaAlg, false, ['verify']);
          const edPub = await crypto.subtle.importKey('spki', u(K.ed_spki), 'Ed25519', false, ['verify']);
          const rsa = await crypto.subtle.generateKey({ ...rsaAlg, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) }, true, ['sign']);
          const ed = await crypto.subtle.generateKey('Ed25519', true, ['sign']);
          return Response.json({
            rsaOk: await crypto.subtle.verify(rsaAlg, rsaPub, u(K.rsa_sig), enc.encode('made by openssl')),
            edOk: await crypto.subtle.verify('Ed25519', edPub, u(K.ed_sig), enc.encode('made by openssl')),
            rsaSpki: hex(await crypto.subtle.exportKey('spki', rsa.publicKey)),
            rsaSig: hex(await crypto.subtle.sign(rsaAlg, rsa.privateKey, enc.encode('made by the engine'))),
            edSpki: hex(await crypto.subtle.exportKey('spki', ed.publicKey)),
            edSig: hex(await crypto.subtle.sign('Ed25519', ed.privateKey, enc.encode('made by the engine'))),
          });
        } };
    });
    my $o = $t->request('GET', '/t/openssl');
    my $g = eval { decode_json($o->{content}) } || {};
    is_deeply [$g->{rsaOk}, $g->{edOk}], [JSON::PP::true, JSON::PP::true], 'openssl\'s RSASSA-PKCS1-v1_5 and Ed25519 signatures verify in the engine'
        or diag $o->{content};
    open my $m2, '>', "$dir/msg2" or die; print $m2 'made by the engine'; close $m2;
    for my $name (qw(rsa ed)) {
        open my $k, '>:raw', "$dir/engine-$name.der" or die; print $k pack('H*', $g->{"${name}Spki"} // ''); close $k;
        open my $s, '>:raw', "$dir/engine-$name.sig" or die; print $s pack('H*', $g->{"${name}Sig"} // ''); close $s;
    }
    like `openssl dgst -sha256 -verify $dir/engine-rsa.der -keyform DER -signature $dir/engine-rsa.sig $dir/msg2 2>&1`, qr/Verified OK/,
        'openssl verifies the engine\'s RSASSA-PKCS1-v1_5 signature with its exported spki';
    like `openssl pkeyutl -verify -rawin -pubin -keyform DER -inkey $dir/engine-ed.der -in $dir/msg2 -sigfile $dir/engine-ed.sig 2>&1`,
        qr/Signature Verified Successfully/, 'openssl verifies the engine\'s Ed25519 signature with its exported spki';
}

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
done_testing;
