#!/usr/bin/perl
# Issue 15, Node.js compatibility: behind the nodejs_compat flag (or
# nodejs_compat_v2) in the upload metadata, node:buffer, events, util,
# async_hooks, assert, path, url, string_decoder, process, timers, crypto,
# stream and the rest wrangler's preset leaves to the runtime import (bare
# names too); Buffer, process, global and setImmediate are globals from a
# 2024-09-23 date; process.env holds the text bindings from 2025-04-01;
# AsyncLocalStorage follows await, timers, microtasks and streams. Without
# the flag the import fails at start-up as on Cloudflare. Hostile cases: the
# modules hand no native to tampered prototypes, a huge Buffer meets the
# memory limit, a start-up CPU limit may stop module loading anywhere.
# Each module's core behaviour is checked by JavaScript next to it;
# t/29-nodejs-compat-wrangler.t runs a real wrangler bundle.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP qw(decode_json);
use File::Temp ();

# The crypto checks' one request runs the RFC scrypt and PBKDF2 vectors in
# the interpreter of a new isolate: 40-70 ms of CPU on a loaded machine,
# past the 50 ms default. This file checks behaviour, not that limit.
my $t = Dispatch::Test->new(
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch api $script; } },
    http   => 'dispatch_cpu_limit 1s;',
);
my ($T, $F) = (JSON::PP::true, JSON::PP::false);
my $COMPAT = '{"compatibility_date":"2025-09-01","compatibility_flags":["nodejs_compat"]}';

# run_checks with upload metadata: the script's results() checks, as JSON.
sub node_checks {
    my ($name, $code, %o) = @_;
    $t->put_script('api', $name, $Dispatch::Test::RESULTS_JS . $code, metadata => $o{metadata} // $COMPAT);
    my $r = $t->get("/t/$name");
    is $r->{status}, 200, "the $name checks ran" or diag $r->{content};
    return eval { decode_json($r->{content}) } || {};
}

my $got = node_checks('buffer', q{
    import { Buffer } from 'node:buffer';
    import * as bufferModule from 'buffer';
    export default { fetch: () => results({
      utf8hex: () => Buffer.from('héllo').toString('hex'),
      base64: () => Buffer.from('aGk=', 'base64').toString(),
      base64url: () => [Buffer.from([0xfb, 0xff]).toString('base64url'), Buffer.from('-_8', 'base64url').toString('hex')],
      concat: () => { const b = Buffer.concat([Buffer.from('ab'), new Uint8Array([99])]); return [b.toString(), b.length, Buffer.isBuffer(b), b instanceof Uint8Array]; },
      ints: () => { const b = Buffer.alloc(8); b.writeUInt32BE(0xdeadbeef, 0); b.writeInt16LE(-2, 4); return [b.readUInt32BE(0), b.readInt16LE(4), b.toString('hex')]; },
      sliceShares: () => { const b = Buffer.from('abc'); const s = b.subarray(1); s[0] = 0x42; return b.toString(); },
      compare: () => [Buffer.compare(Buffer.from('a'), Buffer.from('b')), Buffer.from('a').equals(Buffer.from('a'))],
      json: () => JSON.stringify(Buffer.from('A')),
      sameModule: () => bufferModule.Buffer === Buffer && bufferModule.default.Buffer === Buffer,
      kMaxLength: () => typeof bufferModule.kMaxLength,
      isUtf8: () => [bufferModule.isUtf8(Buffer.from('é')), bufferModule.isUtf8(new Uint8Array([0xff]))],
      // Node's per-encoding methods, which libraries (busboy) call directly
      slices: () => { const b = Buffer.from([0x68, 0xe9, 0x21]); return [b.latin1Slice(0, 2), b.hexSlice(1), b.base64Slice(), b.asciiSlice(0, 1), b.utf8Slice(0, 1)]; },
      writes: () => { const b = Buffer.alloc(6); const n = [b.latin1Write('\u00e9a', 0), b.hexWrite('ff00', 2), b.utf8Write('Z', 4, 1)]; return [n, b.toString('hex')]; },
    }) };
});
is $got->{utf8hex}, '68c3a96c6c6f', 'Buffer.from(string) is UTF-8, toString("hex")';
is $got->{base64}, 'hi', 'base64 decodes';
is_deeply $got->{base64url}, ['-_8', 'fbff'], 'base64url both ways';
is_deeply $got->{concat}, ['abc', 3, $T, $T], 'Buffer.concat, isBuffer, a Uint8Array';
is_deeply $got->{slices}, ["h\x{e9}", 'e921', 'aOkh', 'h', 'h'], 'Buffer latin1Slice, hexSlice, base64Slice, asciiSlice, utf8Slice';
is_deeply $got->{writes}, [[2, 2, 1], 'e961ff005a00'], 'Buffer latin1Write, hexWrite, utf8Write';
is_deeply $got->{ints}, [0xdeadbeef, -2, 'deadbeeffeff0000'], 'integer reads and writes, both byte orders';
is $got->{sliceShares}, 'aBc', 'subarray shares the bytes';
is_deeply $got->{compare}, [-1, $T], 'compare and equals';
is $got->{json}, '{"type":"Buffer","data":[65]}', 'toJSON as Node';
is $got->{sameModule}, $T, 'bare "buffer" is node:buffer, named and default exports';
is $got->{kMaxLength}, 'number', 'kMaxLength exported';
is_deeply $got->{isUtf8}, [$T, $F], 'isUtf8';


# ---- Cloudflare's node:buffer page, verbatim ----
# developers.cloudflare.com/workers/runtime-apis/nodejs/buffer/
$t->put_script('api', 'cfbuffer', q{
import { Buffer } from 'node:buffer';
const buf = Buffer.from('hello world', 'utf8');
console.log(buf.toString('hex'));
// Prints: 68656c6c6f20776f726c64
console.log(buf.toString('base64'));
// Prints: aGVsbG8gd29ybGQ=
export default {
  fetch() {
    const response = new Response(Buffer.from("hello world"));
    return response;
  }
};
}, metadata => $COMPAT);
my $r = $t->get('/t/cfbuffer');
is $r->{content}, 'hello world', "Cloudflare's example: a Response of a Buffer";
ok $t->wait_for(sub { $t->error_log =~ /68656c6c6f20776f726c64/ && $t->error_log =~ /aGVsbG8gd29ybGQ=/ }),
    "Cloudflare's example: hex and base64 print what the page says";

$got = node_checks('events', q{
    import EventEmitter, { once } from 'node:events';
    import * as events from 'events';
    export default { fetch: () => results({
      emit: () => { const e = new EventEmitter(); const seen = []; e.on('x', (a, b) => seen.push(a + b)); e.once('x', () => seen.push('once')); e.emit('x', 1, 2); e.emit('x', 3, 4); return [seen, e.listenerCount('x')]; },
      error: () => { const e = new EventEmitter(); try { e.emit('error', new Error('boom')); return 'no throw'; } catch (err) { return err.message; } },
      onceAwait: async () => { const e = new EventEmitter(); setTimeout(() => e.emit('ready', 42), 1); const [v] = await once(e, 'ready'); return v; },
      named: () => events.EventEmitter === EventEmitter && events.default === EventEmitter,
      subclass: () => { class My extends EventEmitter {} const m = new My(); let got; m.on('a', (v) => { got = v; }); m.emit('a', 'sub'); return got; },
      remove: () => { const e = new EventEmitter(); const f = () => {}; e.on('x', f); e.off('x', f); return e.listenerCount('x'); },
    }) };
});
is_deeply $got->{emit}, [[3, 'once', 7], 1], 'on, once, emit with arguments, listenerCount';
is $got->{error}, 'boom', 'an unhandled error event throws';
is $got->{onceAwait}, 42, 'events.once resolves with the arguments';
is $got->{named}, $T, 'EventEmitter is the default and a named export, bare "events" the same';
is $got->{subclass}, 'sub', 'EventEmitter subclasses';
is $got->{remove}, 0, 'off removes a listener';

$got = node_checks('util', q{
    import * as util from 'node:util';
    import { promisify, inspect, types } from 'util';
    export default { fetch: () => results({
      format: () => util.format('%s=%d %j %%', 'a', 42, { b: 1 }),
      formatExtra: () => util.format('x', 1, 'y'),
      inspect: () => inspect({ a: [1, 'two', { c: null }], m: new Map([[1, 2]]) }),
      promisify: async () => promisify((x, cb) => setTimeout(() => cb(null, x * 2), 1))(21),
      promisifyTimer: async () => promisify(setTimeout)(1, 'later'),
      promisifyError: async () => { try { await promisify((cb) => cb(new Error('nope')))(); } catch (e) { return e.message; } },
      types: () => [types.isPromise(Promise.resolve()), types.isDate(new Date()), types.isUint8Array(new Uint8Array(1)), types.isRegExp({})],
      deep: () => [util.isDeepStrictEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }), util.isDeepStrictEqual([1], ['1'])],
      inherits: () => { function A() {} A.prototype.hi = () => 'hi'; function B() {} util.inherits(B, A); return [new B().hi(), B.super_ === A]; },
      encoder: () => new util.TextEncoder().encode('é').length,
    }) };
});
is $got->{format}, 'a=42 {"b":1} %', 'util.format %s %d %j %%';
is $got->{formatExtra}, 'x 1 y', 'util.format appends extra arguments';
is $got->{inspect}, "{ a: [ 1, 'two', { c: null } ], m: Map(1) { 1 => 2 } }", 'util.inspect renders as Node';
is $got->{promisify}, 42, 'util.promisify resolves';
is $got->{promisifyTimer}, 'later', 'util.promisify(setTimeout) resolves with its value after the delay, as Node';
is $got->{promisifyError}, 'nope', 'util.promisify rejects with the callback error';
is_deeply $got->{types}, [$T, $T, $T, $F], 'util.types';
is_deeply $got->{deep}, [$T, $F], 'util.isDeepStrictEqual';
is_deeply $got->{inherits}, ['hi', $T], 'util.inherits';
is $got->{encoder}, 2, 'util.TextEncoder';

$got = node_checks('assert', q{
    import assert, { strictEqual, deepStrictEqual, AssertionError } from 'node:assert';
    import strict from 'node:assert/strict';
    const thrown = (fn) => { try { fn(); return 'no throw'; } catch (e) { return [e.name, e.code, e instanceof AssertionError]; } };
    export default { fetch: () => results({
      passes: () => { assert(true); assert.ok(1); strictEqual(1, 1); deepStrictEqual({ a: [1] }, { a: [1] }); assert.equal(1, '1'); return 'ok'; },
      strictFails: () => thrown(() => strictEqual(1, '1')),
      deepFails: () => thrown(() => deepStrictEqual({ a: 1 }, { a: 2 })),
      okFails: () => thrown(() => assert(false)),
      message: () => { try { assert.strictEqual(1, 2, 'custom words'); } catch (e) { return e.message; } },
      throws: () => { assert.throws(() => { throw new TypeError('bad'); }, TypeError); assert.throws(() => { throw new Error('xyz'); }, /xyz/); return 'ok'; },
      throwsMissing: () => thrown(() => assert.throws(() => {})),
      rejects: async () => { await assert.rejects(Promise.reject(new Error('r')), { message: 'r' }); return 'ok'; },
      strictMode: () => thrown(() => strict.equal(1, '1')),
    }) };
});
is $got->{passes}, 'ok', 'assert, ok, strictEqual, deepStrictEqual, equal pass';
is_deeply $got->{strictFails}, ['AssertionError', 'ERR_ASSERTION', $T], 'strictEqual throws an AssertionError';
is_deeply $got->{deepFails}, ['AssertionError', 'ERR_ASSERTION', $T], 'deepStrictEqual fails on a difference';
is_deeply $got->{okFails}, ['AssertionError', 'ERR_ASSERTION', $T], 'assert(false) fails';
is $got->{message}, 'custom words', 'the message given is the message';
is $got->{throws}, 'ok', 'assert.throws with a class and a RegExp';
is_deeply $got->{throwsMissing}, ['AssertionError', 'ERR_ASSERTION', $T], 'assert.throws fails when nothing throws';
is $got->{rejects}, 'ok', 'assert.rejects';
is_deeply $got->{strictMode}, ['AssertionError', 'ERR_ASSERTION', $T], 'node:assert/strict equal is strict';

$got = node_checks('pathurl', q{
    import path from 'node:path';
    import { join } from 'path';
    import * as url from 'node:url';
    import { StringDecoder } from 'node:string_decoder';
    export default { fetch: () => results({
      join: () => [path.join('/a/b', '../c', './d.txt'), join('a', 'b')],
      parts: () => [path.basename('/x/y/file.tar.gz', '.gz'), path.extname('f.txt'), path.dirname('/x/y/z'), path.isAbsolute('/a')],
      resolve: () => path.resolve('/a/b', 'c'),
      normalize: () => path.normalize('/a//b/../c/.'),
      parse: () => path.parse('/home/u/file.txt'),
      sep: () => [path.sep, path.posix === path],
      fileURL: () => [url.fileURLToPath('file:///tmp/a%20b'), url.pathToFileURL('/tmp/a b').href],
      urlClass: () => new url.URL('https://example.com/p?q=1').searchParams.get('q') + (url.URLSearchParams === URLSearchParams),
      format: () => url.format({ protocol: 'https', hostname: 'example.com', pathname: '/x', query: { a: '1' } }),
      legacyParse: () => { const u = url.parse('https://user@example.com:8080/p/a?x=1#h', true); return [u.host, u.pathname, u.query.x, u.hash]; },
      decoder: () => { const d = new StringDecoder('utf8'); const e = new TextEncoder().encode('€'); return [d.write(e.subarray(0, 1)), d.write(e.subarray(1)), d.end()]; },
    }) };
});
is_deeply $got->{join}, ['/a/c/d.txt', 'a/b'], 'path.join';
is_deeply $got->{parts}, ['file.tar', '.txt', '/x/y', $T], 'basename, extname, dirname, isAbsolute';
is $got->{resolve}, '/a/b/c', 'path.resolve';
is $got->{normalize}, '/a/c', 'path.normalize';
is_deeply $got->{parse}, { root => '/', dir => '/home/u', base => 'file.txt', ext => '.txt', name => 'file' }, 'path.parse';
is_deeply $got->{sep}, ['/', $T], 'path.sep, path.posix';
is_deeply $got->{fileURL}, ['/tmp/a b', 'file:///tmp/a%20b'], 'fileURLToPath, pathToFileURL';
is $got->{urlClass}, '1true', 'node:url URL and URLSearchParams are the globals';
is $got->{format}, 'https://example.com/x?a=1', 'url.format of an object';
is_deeply $got->{legacyParse}, ['example.com:8080', '/p/a', '1', '#h'], 'url.parse with the query parsed';
is_deeply $got->{decoder}, ['', "\x{20ac}", ''], 'StringDecoder holds a split UTF-8 character';


$got = node_checks('processtimers', q{
    import process, { nextTick, env } from 'node:process';
    import { setImmediate, setTimeout as nodeSetTimeout } from 'node:timers';
    import { setTimeout as sleep } from 'node:timers/promises';
    export default { fetch: () => results({
      order: async () => {
        const order = [];
        setTimeout(() => order.push('timeout'), 0);
        setImmediate(() => order.push('immediate'));
        nextTick((a) => order.push(`tick ${a}`), 'arg');
        order.push('sync');
        await new Promise((resolve) => nodeSetTimeout(resolve, 5));
        return order;
      },
      sleep: async () => sleep(2, 'slept'),
      fields: () => [typeof process.version, process.platform, typeof process.hrtime.bigint(), typeof env, nextTick === process.nextTick],
      emitter: () => { let got; process.once('custom', (v) => { got = v; }); process.emit('custom', 'heard'); return got; },
      builtin: () => [process.getBuiltinModule('node:buffer').Buffer === globalThis.Buffer, process.getBuiltinModule('test'), process.getBuiltinModule('../x'),
        process.getBuiltinModule('node:' + 'b'.repeat(5e7)), process.getBuiltinModule({ toString: () => 'buffer' })],
      exit: () => process.exit(0),
      globals: () => [typeof Buffer, globalThis.process === process, global === globalThis, typeof setImmediate, typeof clearImmediate],
    }) };
});
is_deeply $got->{order}, ['sync', 'tick arg', 'timeout', 'immediate'], 'nextTick before timers; setImmediate after a 0 ms timeout';
is $got->{sleep}, 'slept', 'timers/promises setTimeout resolves with its value';
is_deeply $got->{fields}, ['string', 'linux', 'bigint', 'object', $T], 'process fields as Workers has them';
is $got->{emitter}, 'heard', 'process is an EventEmitter';
is_deeply $got->{builtin}, [$T, undef, undef, undef, undef], 'process.getBuiltinModule: a module there is, undefined otherwise (a huge name, a non-string)';
like $got->{exit}, qr/^threw Error: process.exit\(\) is not supported/, 'process.exit throws, the worker goes on';
is_deeply $got->{globals}, ['function', $T, $T, 'function', 'function'], 'Buffer, process, global, setImmediate and clearImmediate are globals with a 2024-09-23 or later date';

# process.env: the text bindings and secrets, from a 2025-04-01 date on (or
# nodejs_compat_populate_process_env); empty before.
my $bindings = q("bindings":[{"type":"plain_text","name":"GREETING","text":"hello"},
  {"type":"secret_text","name":"TOKEN","text":"s3cr3t"},{"type":"json","name":"CONF","json":{"a":1}}]);
my $envjs = q{
    import { env } from 'node:process';
    export default { fetch: () => results({ env: () => env, global: () => typeof globalThis.Buffer }) };
};
$got = node_checks('env', $envjs, metadata => qq({"compatibility_date":"2025-04-01","compatibility_flags":["nodejs_compat"],$bindings}));
is_deeply $got->{env}, { GREETING => 'hello', TOKEN => 's3cr3t' }, 'process.env holds the text bindings and secrets';
$got = node_checks('envold', $envjs, metadata => qq({"compatibility_date":"2024-01-01","compatibility_flags":["nodejs_compat"],$bindings}));
is_deeply $got->{env}, {}, 'before 2025-04-01 process.env is empty';
is $got->{global}, 'undefined', 'before 2024-09-23 Buffer is no global';
$got = node_checks('envflag', $envjs, metadata => qq({"compatibility_date":"2024-01-01","compatibility_flags":["nodejs_compat_v2","nodejs_compat_populate_process_env"],$bindings}));
is_deeply $got->{env}, { GREETING => 'hello', TOKEN => 's3cr3t' }, 'nodejs_compat_populate_process_env fills it at any date';
is $got->{global}, 'function', 'nodejs_compat_v2 makes Buffer a global';

$got = node_checks('crypto', q{
    import crypto, { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
    export default { fetch: () => results({
      sha256: () => createHash('sha256').update('abc').digest('hex'),
      chunks: () => createHash('sha1').update('a').update(new TextEncoder().encode('bc')).digest('base64'),
      md5: () => createHash('md5').update('').digest('hex'),
      sha512buf: () => createHash('sha512').update('abc').digest().length,
      // RFC 4231 test case 2
      hmac: () => createHmac('sha256', 'Jefe').update('what do ya want for nothing?').digest('hex'),
      // RFC 4231 test case 6: a key longer than the block
      hmacLongKey: () => createHmac('sha512', Buffer.alloc(131, 0xaa)).update('Test Using Larger Than Block-Size Key - Hash Key First').digest('hex').slice(0, 32),
      random: () => { const a = randomBytes(32); const b = randomBytes(32); return [a.length, a.equals(b), Buffer.isBuffer(a)]; },
      uuid: () => /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(crypto.randomUUID()),
      safeEqual: () => [timingSafeEqual(Buffer.from('abc'), Buffer.from('abc')), timingSafeEqual(Buffer.from('abc'), Buffer.from('abd'))],
      safeEqualLength: () => timingSafeEqual(Buffer.from('a'), Buffer.from('ab')),
      // RFC 6070 test case 2; RFC 5869 test case 1
      pbkdf2: () => crypto.pbkdf2Sync('password', 'salt', 2, 20, 'sha1').toString('hex'),
      pbkdf2Callback: () => new Promise((resolve) => crypto.pbkdf2('password', 'salt', 2, 20, 'sha1', (err, key) => resolve(key.toString('hex')))),
      pbkdf2Bomb: () => crypto.pbkdf2Sync('p', 's', 1e7, 32, 'sha256'),
      // RFC 7914 12's first vector; the second's inputs with a smaller N and p (its own would take more than
      // the CPU limit here, as would the defaults N 16384, r 8: t/09-workers-frameworks-3.t runs better-auth's
      // N 16384, r 16) and others, as Node.js derives them
      scrypt: () => [crypto.scryptSync('', '', 64, { N: 16, r: 1, p: 1 }).toString('hex'),
        crypto.scryptSync('password', 'NaCl', 64, { cost: 128, blockSize: 8, parallelization: 2 }).toString('hex'),
        crypto.scryptSync('pw', 'salt', 16, { N: 64, r: 2, p: 3 }).toString('hex')],
      scryptCallback: () => new Promise((resolve) => crypto.scrypt('pleaseletmein', 'SodiumChloride', 16, { N: 256, r: 4 },
        (err, key) => resolve(key.toString('hex')))),
      scryptMaxmem: () => crypto.scryptSync('p', 's', 16, { N: 16384, r: 16 }),
      scryptNotPow2: () => crypto.scryptSync('p', 's', 16, { N: 1000 }),
      keylenTooLong: () => [() => crypto.pbkdf2Sync('p', 's', 1, 2 ** 31, 'sha256'), () => crypto.scryptSync('p', 's', 2 ** 31),
        () => crypto.scryptSync('p', 's', 16, { N: 2, r: 2 ** 15, p: 2 ** 14, maxmem: 2 ** 53 })].map((f) => {
        try { f(); return 'derived'; } catch (e) { return `${e.name} ${e.code}`; }
      }),
      hkdf: () => Buffer.from(crypto.hkdfSync('sha256', Buffer.from('0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b', 'hex'),
        Buffer.from('000102030405060708090a0b0c', 'hex'), Buffer.from('f0f1f2f3f4f5f6f7f8f9', 'hex'), 42)).toString('hex'),
      webcrypto: () => [crypto.webcrypto === globalThis.crypto, crypto.subtle === globalThis.crypto.subtle],
      unknown: () => createHash('whirlpool'),
      twice: () => { const h = createHash('sha256'); h.digest(); return h.digest(); },
    }) };
});
is $got->{sha256}, 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', 'createHash sha256 (FIPS 180-2 "abc")';
is $got->{chunks}, 'qZk+NkcGgWq6PiVxeFDCbJzQ2J0=', 'createHash sha1 over string and bytes chunks, base64';
is $got->{md5}, 'd41d8cd98f00b204e9800998ecf8427e', 'createHash md5';
is $got->{sha512buf}, 64, 'digest() without an encoding is a Buffer';
is $got->{hmac}, '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843', 'createHmac, RFC 4231 case 2';
is $got->{hmacLongKey}, '80b24263c7c1a3ebb71493c1dd7be8b4', 'createHmac with a key longer than the block, RFC 4231 case 6';
is_deeply $got->{random}, [32, $F, $T], 'randomBytes';
is $got->{uuid}, $T, 'randomUUID is a v4 UUID';
is_deeply $got->{safeEqual}, [$T, $F], 'timingSafeEqual';
like $got->{safeEqualLength}, qr/^threw RangeError/, 'timingSafeEqual refuses different lengths';
is $got->{pbkdf2}, 'ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957', 'pbkdf2Sync, RFC 6070 case 2';
is $got->{pbkdf2Callback}, 'ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957', 'pbkdf2 with a callback';
like $got->{pbkdf2Bomb}, qr/^threw RangeError: PBKDF2 takes at most 100,000 iterations/, 'pbkdf2Sync refuses more than 100,000 iterations';
is_deeply $got->{scrypt}, ['77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906',
    '3d05c3e2dedbef87fbbfd16b4e113417682c705c7425fe489ccf1b4bbfec09b87b866c391ef94e01ce78bcc1b00afb10428f62c0ddd99612773e044203f0ddb5',
    '7fe3eecc7e41f91d1481c3c35fe925c0'], 'scryptSync: RFC 7914 vector 1, and what Node.js derives';
is $got->{scryptCallback}, 'bd499e2b93befa5d36aa904036764479', 'scrypt with options and a callback';
like $got->{scryptMaxmem}, qr/^threw RangeError: Invalid scrypt params: memory limit exceeded/,
    'scrypt past maxmem (32 MiB by default) is refused, as in Node.js';
like $got->{scryptNotPow2}, qr/^threw RangeError: Invalid scrypt params: N must be a power of 2/, 'scrypt wants N a power of 2';
is_deeply $got->{keylenTooLong}, ['RangeError ERR_OUT_OF_RANGE', 'RangeError ERR_OUT_OF_RANGE', 'RangeError ERR_CRYPTO_INVALID_SCRYPT_PARAMS'],
    'a key longer than 2^31 - 1 bytes (or scrypt blocks that long) is a RangeError, as in Node.js, not a TypeError of the native';
is $got->{hkdf}, '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865', 'hkdfSync, RFC 5869 case 1';
is_deeply $got->{webcrypto}, [$T, $T], 'webcrypto and subtle are the global crypto';
like $got->{unknown}, qr/Digest method not supported/, 'an unknown hash is refused';
like $got->{twice}, qr/Digest already called/, 'a hash digests once';

$got = node_checks('crypto-keys', q{
    import crypto from 'node:crypto';
    export default { fetch: () => results({
      // a secret KeyObject (what jsonwebtoken makes of an HS256 secret), and createHmac taking one
      secretKey: () => { const k = crypto.createSecretKey(Buffer.from('Jefe')); return [k.type, k.symmetricKeySize, k instanceof crypto.KeyObject,
        k.export().toString(), k.export({ format: 'jwk' }), k.equals(crypto.createSecretKey('Jefe', 'utf8')), k.equals(crypto.createSecretKey('Jeff', 'utf8'))]; },
      secretKeyCopies: () => { const b = Buffer.from('Jefe'); const k = crypto.createSecretKey(b); b.fill(0); return k.export().toString(); },
      hmacKeyObject: () => crypto.createHmac('sha256', crypto.createSecretKey(Buffer.from('Jefe'))).update('what do ya want for nothing?').digest('hex'),
      notImplemented: () => crypto.publicEncrypt('key', Buffer.from('data')),
      // the key classes are made without Array.prototype[Symbol.iterator]
      // (a default derived constructor passes its arguments through it)
      keyClassesIterate: () => {
        const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
        const spki = publicKey.export({ format: 'pem', type: 'spki' });
        const pkcs8 = privateKey.export({ format: 'pem', type: 'pkcs8' });
        const iterator = Array.prototype[Symbol.iterator];
        const seen = [];
        Array.prototype[Symbol.iterator] = function () { seen.push(this.length); return iterator.call(this); };
        try {
          crypto.createSecretKey(Buffer.from('Jefe'));
          crypto.createPublicKey(spki);
          crypto.createPrivateKey(pkcs8);
          crypto.createDecipheriv('aes-128-cbc', Buffer.alloc(16), Buffer.alloc(16));
        } finally {
          Array.prototype[Symbol.iterator] = iterator;
        }
        return seen;
      },
    }) };
});
is_deeply $got->{secretKey}, ['secret', 4, $T, 'Jefe', { kty => 'oct', k => 'SmVmZQ' }, $T, $F],
    'createSecretKey: a KeyObject of type secret, its size, export() as bytes and as a JWK, equals()';
is $got->{secretKeyCopies}, 'Jefe', 'createSecretKey copies the bytes it is given';
is $got->{hmacKeyObject}, '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843', 'createHmac with a secret KeyObject, RFC 4231 case 2';
like $got->{notImplemented}, qr/^threw Error: node:crypto publicEncrypt\(\) is not implemented/, 'public-key encryption is not implemented: publicEncrypt throws';
is_deeply $got->{keyClassesIterate}, [],
    'secret, public and private KeyObjects and a Decipheriv are made without calling a replaced Array.prototype[Symbol.iterator]';

# Asymmetric KeyObjects and signatures, against keys and signatures openssl
# makes: PKCS#1 v1.5 and Ed25519 signatures are deterministic (the same
# bytes as openssl's), ECDSA and PSS ones are checked with openssl.
{
    my $dir = File::Temp::tempdir('dispatch-keys-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $openssl = sub { my $out = `openssl @_ 2>&1`; die "openssl @_: $out" if $?; $out };
    $openssl->("genrsa -traditional -out $dir/rsa1.pem 2048");
    $openssl->("pkcs8 -topk8 -nocrypt -in $dir/rsa1.pem -out $dir/rsa8.pem");
    $openssl->("ecparam -name prime256v1 -genkey -noout -out $dir/ec.pem");
    $openssl->("genpkey -algorithm ed25519 -out $dir/ed.pem");
    $openssl->("pkey -in $dir/$_.pem -pubout -out $dir/$_.pub") for qw(rsa1 ec ed);
    my %pem = map { my $f = $_; $f =~ tr/./_/; ($f => do { local $/; open my $fh, '<', "$dir/$_" or die; <$fh> }) }
        qw(rsa1.pem rsa8.pem ec.pem ed.pem rsa1.pub ec.pub ed.pub);
    open my $fh, '>', "$dir/msg" or die;
    print {$fh} 'signed message';
    close $fh;
    my $hex = sub { unpack 'H*', $_[0] };
    my $want_rsa = $hex->($openssl->("dgst -sha256 -sign $dir/rsa1.pem $dir/msg"));
    my $want_ed = $hex->($openssl->("pkeyutl -sign -rawin -inkey $dir/ed.pem -in $dir/msg"));
    $got = node_checks('crypto-rsa', 'const PEM = ' . JSON::PP->new->canonical->encode(\%pem) . q{;
    import crypto from 'node:crypto';
    const msg = Buffer.from('signed message');
    export default { fetch: () => results({
      rsaKey: () => { const k = crypto.createPrivateKey(PEM.rsa1_pem); const d = k.asymmetricKeyDetails;
        return [k.type, k.asymmetricKeyType, d.modulusLength, String(d.publicExponent), k instanceof crypto.KeyObject]; },
      pkcs1IsPkcs8: () => crypto.createPrivateKey(PEM.rsa1_pem).equals(crypto.createPrivateKey(PEM.rsa8_pem)),
      pemRoundTrip: () => [crypto.createPrivateKey(PEM.rsa8_pem).export({ type: 'pkcs8', format: 'pem' }) === PEM.rsa8_pem,
        crypto.createPublicKey(PEM.rsa1_pub).export({ type: 'spki', format: 'pem' }) === PEM.rsa1_pub,
        crypto.createPrivateKey(PEM.rsa8_pem).export({ type: 'pkcs1', format: 'pem' }) === PEM.rsa1_pem],
      rsaSign: () => crypto.createSign('RSA-SHA256').update('signed ').update('message').sign(PEM.rsa1_pem, 'hex'),
      rsaVerify: () => [crypto.createVerify('sha256').update(msg).verify(PEM.rsa1_pub, crypto.sign('sha256', msg, PEM.rsa8_pem)),
        crypto.verify('sha256', Buffer.from('another message'), PEM.rsa1_pub, crypto.sign('sha256', msg, PEM.rsa8_pem))],
      pss: () => crypto.sign('sha256', msg, { key: PEM.rsa8_pem, padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
        saltLength: crypto.constants.RSA_PSS_SALTLEN_DIGEST }).toString('hex'),
    }) };
});
    my $rsa = $got;
    $got = node_checks('crypto-ec-ed25519', 'const PEM = ' . JSON::PP->new->canonical->encode(\%pem) . q{;
    import crypto from 'node:crypto';
    const msg = Buffer.from('signed message');
    export default { fetch: () => results({
      publicOfPrivate: () => [crypto.createPublicKey(PEM.ec_pem).equals(crypto.createPublicKey(PEM.ec_pub)),
        crypto.createPublicKey(crypto.createPrivateKey(PEM.ed_pem)).equals(crypto.createPublicKey(PEM.ed_pub))],
      ecKey: () => { const k = crypto.createPrivateKey(PEM.ec_pem); return [k.asymmetricKeyType, k.asymmetricKeyDetails.namedCurve]; },
      jwk: () => { const jwk = crypto.createPublicKey(PEM.ec_pub).export({ format: 'jwk' });
        return [jwk.kty, jwk.crv, crypto.createPublicKey({ key: jwk, format: 'jwk' }).equals(crypto.createPublicKey(PEM.ec_pub))]; },
      ecdsa: () => crypto.sign('sha256', msg, PEM.ec_pem).toString('hex'),
      ecdsaP1363: () => { const sig = crypto.sign('sha256', msg, { key: PEM.ec_pem, dsaEncoding: 'ieee-p1363' });
        return [sig.length, crypto.verify('sha256', msg, { key: PEM.ec_pub, dsaEncoding: 'ieee-p1363' }, sig),
                crypto.verify('sha256', msg, PEM.ec_pub, sig)]; },
      ed25519: () => crypto.sign(null, msg, crypto.createPrivateKey(PEM.ed_pem)).toString('hex'),
      ed25519Verify: () => crypto.verify(null, msg, PEM.ed_pub, crypto.sign(null, msg, PEM.ed_pem)),
      notAKey: () => crypto.createPrivateKey('just a secret'),
      publicForPrivate: () => crypto.createSign('sha256').update(msg).sign(crypto.createPublicKey(PEM.ec_pub)),
      hmacWithPrivate: () => crypto.createHmac('sha256', crypto.createPrivateKey(PEM.ec_pem)),
    }) };
});
    $got = { %$got, %$rsa };
    is_deeply $got->{rsaKey}, ['private', 'rsa', 2048, '65537', $T], 'createPrivateKey: a PKCS#1 PEM, its type and details';
    is $got->{pkcs1IsPkcs8}, $T, 'the same key from PKCS#1 and PKCS#8 PEM';
    is_deeply $got->{pemRoundTrip}, [$T, $T, $T], 'export() as PKCS#8, SPKI and PKCS#1 PEM gives openssl\'s text';
    is_deeply $got->{publicOfPrivate}, [$T, $T], 'createPublicKey derives the public key of a private one (SEC1 PEM, Ed25519 KeyObject)';
    is_deeply $got->{ecKey}, ['ec', 'prime256v1'], 'an EC key\'s type and curve';
    is_deeply $got->{jwk}, ['EC', 'P-256', $T], 'a public key to a JWK and back';
    is $got->{rsaSign}, $want_rsa, 'createSign RSA-SHA256 over two updates: the signature openssl makes';
    is_deeply $got->{rsaVerify}, [$T, $F], 'createVerify and verify: true for the message, false for another';
    my $check = sub {
        my ($sig_hex, @opts) = @_;
        open my $s, '>', "$dir/sig" or die;
        print {$s} pack 'H*', $sig_hex // '';
        close $s;
        my $out = `openssl dgst -sha256 @opts -signature $dir/sig $dir/msg 2>&1`;
        return $out =~ /Verified OK/ ? 1 : diag $out;
    };
    ok $check->($got->{pss}, "-verify $dir/rsa1.pub -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32"),
        'an RSA-PSS signature openssl verifies' or diag $got->{pss};
    ok $check->($got->{ecdsa}, "-verify $dir/ec.pub"), 'an ECDSA signature (DER) openssl verifies' or diag $got->{ecdsa};
    is_deeply $got->{ecdsaP1363}, [64, $T, $F], 'dsaEncoding ieee-p1363: r || s, verified only as such';
    is $got->{ed25519}, $want_ed, 'an Ed25519 signature: the one openssl makes';
    is $got->{ed25519Verify}, $T, 'and it verifies';
    like $got->{notAKey}, qr/^threw Error: .*DECODER routines::unsupported/, 'text that is not PEM is not a private key';
    like $got->{publicForPrivate}, qr/^threw TypeError: Invalid key object type public, expected private/, 'a public KeyObject does not sign';
    like $got->{hmacWithPrivate}, qr/^threw TypeError: Invalid key object type private, expected secret/, 'createHmac refuses a private KeyObject';
}

# AES ciphers: GCM against the GCM specification's test case 14, CBC and
# CTR against openssl enc; generated key pairs sign and verify.
{
    my $dir = File::Temp::tempdir('dispatch-ciphers-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    open my $fh, '>', "$dir/msg" or die;
    print {$fh} 'attack at dawn, bring snacks';
    close $fh;
    my %want = map {
        my ($mode, $bits) = @$_;
        ("$mode$bits" => unpack 'H*', scalar `openssl enc -aes-$bits-$mode -K ${\ ('2b' x ($bits / 8))} -iv ${\ ('0f' x 16)} -in $dir/msg`)
    } ['cbc', 128], ['cbc', 256], ['ctr', 256];
    $got = node_checks('crypto-ciphers', q{
    import crypto from 'node:crypto';
    const key = (bits) => Buffer.alloc(bits / 8, 0x2b);
    const iv = Buffer.alloc(16, 0x0f);
    const msg = 'attack at dawn, bring snacks';
    const enc = (alg, bits) => { const c = crypto.createCipheriv(alg, key(bits), iv); return c.update(msg, 'utf8', 'hex') + c.final('hex'); };
    const dec = (alg, bits, hex) => { const d = crypto.createDecipheriv(alg, key(bits), iv); return d.update(hex, 'hex', 'utf8') + d.final('utf8'); };
    export default { fetch: () => results({
      gcmCase14: () => { const c = crypto.createCipheriv('aes-256-gcm', Buffer.alloc(32), Buffer.alloc(12));
        const out = Buffer.concat([c.update(Buffer.alloc(16)), c.final()]); return [out.toString('hex'), c.getAuthTag().toString('hex')]; },
      gcmRoundTrip: () => { const k = crypto.randomBytes(32), n = crypto.randomBytes(12);
        const c = crypto.createCipheriv('aes-256-gcm', k, n).setAAD(Buffer.from('header'));
        const sealed = Buffer.concat([c.update('sealed words', 'utf8'), c.final()]); const tag = c.getAuthTag();
        const open = (aad, t) => { const d = crypto.createDecipheriv('aes-256-gcm', k, n); d.setAAD(Buffer.from(aad)); d.setAuthTag(t);
          return d.update(sealed, undefined, 'utf8') + d.final('utf8'); };
        let wrong; try { open('header', Buffer.alloc(16)); } catch (e) { wrong = e.message; }
        let otherAad; try { open('other', tag); } catch (e) { otherAad = e.message; }
        return [open('header', tag), wrong, otherAad]; },
      cbc128: () => enc('aes-128-cbc', 128),
      cbc256: () => enc('AES-256-CBC', 256),
      ctr256: () => enc('aes-256-ctr', 256),
      decrypts: () => [dec('aes-128-cbc', 128, enc('aes-128-cbc', 128)), dec('aes-256-ctr', 256, enc('aes-256-ctr', 256))],
      badKeyLength: () => crypto.createCipheriv('aes-256-cbc', Buffer.alloc(16), iv),
      unknownCipher: () => crypto.createCipheriv('des-ede3-cbc', Buffer.alloc(24), Buffer.alloc(8)),
      secretKeyObject: () => { const c = crypto.createCipheriv('aes-128-cbc', crypto.createSecretKey(key(128)), iv); return c.update(msg, 'utf8', 'hex') + c.final('hex'); },
      ecPair: () => { const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
        return [publicKey.type, privateKey.asymmetricKeyDetails.namedCurve, crypto.verify('sha256', Buffer.from(msg), publicKey, crypto.sign('sha256', Buffer.from(msg), privateKey))]; },
      edPem: () => { const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519', {
          publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
        return [publicKey.split('\n')[0], privateKey.split('\n')[0], crypto.verify(null, Buffer.from(msg), publicKey, crypto.sign(null, Buffer.from(msg), privateKey))]; },
      callback: () => new Promise((resolve) => crypto.generateKeyPair('x25519', {}, (err, pub, priv) => resolve([err, pub.asymmetricKeyType, priv.type]))),
    }) };
});
    is_deeply $got->{gcmCase14}, ['cea7403d4d606b6e074ec5d3baf39d18', 'd0d1c8a799996bf0265b98b5d48ab919'],
        'createCipheriv aes-256-gcm: the GCM specification\'s test case 14, with getAuthTag';
    is_deeply $got->{gcmRoundTrip}, ['sealed words', 'Unsupported state or unable to authenticate data', 'Unsupported state or unable to authenticate data'],
        'createDecipheriv aes-256-gcm opens with the tag and AAD, refuses a wrong tag or AAD';
    is $got->{$_}, $want{$_}, "createCipheriv $_: what openssl enc makes" for qw(cbc128 cbc256 ctr256);
    is_deeply $got->{decrypts}, ['attack at dawn, bring snacks', 'attack at dawn, bring snacks'], 'createDecipheriv CBC and CTR';
    like $got->{badKeyLength}, qr/^threw RangeError: Invalid key length/, 'a key of the wrong length is refused';
    like $got->{unknownCipher}, qr/^threw TypeError: Unknown cipher: des-ede3-cbc/, 'a cipher that is not here is refused';
    is $got->{secretKeyObject}, $want{cbc128}, 'a secret KeyObject as the cipher key';
    is_deeply $got->{ecPair}, ['public', 'prime256v1', $T], 'generateKeyPairSync ec: a pair that signs and verifies';
    is_deeply $got->{edPem}, ['-----BEGIN PUBLIC KEY-----', '-----BEGIN PRIVATE KEY-----', $T], 'generateKeyPairSync ed25519 with PEM encodings';
    is_deeply $got->{callback}, [undef, 'x25519', 'private'], 'generateKeyPair with a callback';
}

# Names of Node's modules that bundles import (a missing one fails the link):
# the small helpers, as Node's behave.
$got = node_checks('node-helpers', q{
    import { addAbortSignal, isDestroyed, isWritable, getDefaultHighWaterMark, PassThrough, compose } from 'node:stream';
    import { EventEmitter, addAbortListener, getMaxListeners } from 'node:events';
    import { styleText, aborted, types } from 'node:util';
    import { hash, getCurves, getCipherInfo } from 'node:crypto';
    import { codes } from 'node:zlib';
    import { NOTFOUND } from 'node:dns';
    import { toNamespacedPath } from 'node:path';
    export default { fetch: () => results({
      abortSignal: () => { const c = new AbortController(); const s = addAbortSignal(c.signal, new PassThrough());
        const before = [isDestroyed(s), isWritable(s)]; c.abort(); return [...before, isDestroyed(s), isWritable(s)]; },
      abortError: () => new Promise((resolve) => { const c = new AbortController(); const s = addAbortSignal(c.signal, new PassThrough());
        s.on('error', (e) => resolve([e.name, e.code])); c.abort(); }),
      highWaterMark: () => [getDefaultHighWaterMark(false), getDefaultHighWaterMark(true)],
      compose: () => compose(),
      abortListener: () => { const c = new AbortController(); let calls = 0; const d = addAbortListener(c.signal, () => calls++);
        const c2 = new AbortController(); let calls2 = 0; addAbortListener(c2.signal, () => calls2++)[Symbol.dispose]();
        c.abort(); c2.abort(); return [calls, calls2, getMaxListeners(new EventEmitter())]; },
      styleText: () => [styleText('red', 'x'), styleText(['bold', 'underline'], 'x')],
      badStyle: () => styleText('sparkly', 'x'),
      aborted: async () => { const c = new AbortController(); const p = aborted(c.signal, {}); c.abort(); await p; return 'resolved'; },
      types: () => [types.isArgumentsObject((function () { return arguments; })()), types.isArgumentsObject([]), types.isBigIntObject(Object(1n)), types.isBigIntObject(1n)],
      hash: () => hash('sha256', 'abc'),
      curves: () => getCurves().includes('prime256v1'),
      cipherInfo: () => { const i = getCipherInfo('aes-256-gcm'); return [i.keyLength, i.ivLength, i.mode]; },
      zlibCodes: () => [codes.Z_DATA_ERROR, codes[-3]],
      dns: () => NOTFOUND,
      namespaced: () => toNamespacedPath('/a/b'),
    }) };
});
is_deeply $got->{abortSignal}, [$F, $T, $T, $F], 'stream.addAbortSignal destroys the stream on abort; isDestroyed, isWritable';
is_deeply $got->{abortError}, ['AbortError', 'ABORT_ERR'], 'with an AbortError';
is_deeply $got->{highWaterMark}, [16384, 16], 'stream.getDefaultHighWaterMark (Node 20\'s)';
like $got->{compose}, qr/^threw Error: node:stream compose\(\) is not implemented/, 'stream.compose is not implemented';
is_deeply $got->{abortListener}, [1, 0, 10], 'events.addAbortListener (its dispose removes it), getMaxListeners';
is_deeply $got->{styleText}, ["\e[31mx\e[39m", "\e[1m\e[4mx\e[24m\e[22m"], 'util.styleText: the SGR codes of inspect.colors';
like $got->{badStyle}, qr/^threw TypeError: The argument 'format' must be one of/, 'util.styleText refuses an unknown style';
is $got->{aborted}, 'resolved', 'util.aborted resolves on abort';
is_deeply $got->{types}, [$T, $F, $T, $F], 'util.types.isArgumentsObject, isBigIntObject';
is $got->{hash}, 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', 'crypto.hash';
is $got->{curves}, $T, 'crypto.getCurves';
is_deeply $got->{cipherInfo}, [32, 12, 'gcm'], 'crypto.getCipherInfo';
is_deeply $got->{zlibCodes}, [-3, 'Z_DATA_ERROR'], 'zlib.codes both ways';
is $got->{dns}, 'ENOTFOUND', 'dns error codes';
is $got->{namespaced}, '/a/b', 'path.toNamespacedPath';

# The stream state getters of newer Nodes (streams 3 has not), and Buffer's
# newer names.
$got = node_checks('stream-state', q{
    import { PassThrough, Writable, Readable } from 'node:stream';
    import { Buffer } from 'node:buffer';
    const seen = (s) => [s.readableEnded, s.writableEnded, s.writableFinished];
    export default { fetch: () => results({
      ends: async () => { const p = new PassThrough(); const states = [seen(p)]; p.end('x'); states.push(seen(p)); p.resume();
        await new Promise((resolve) => p.on('end', resolve)); await new Promise((resolve) => setTimeout(resolve, 1)); states.push(seen(p)); return states; },
      modes: () => { const w = new Writable({ objectMode: true, write(c, e, cb) { cb(); } }); w.cork();
        const r = new Readable({ read() {}, encoding: 'utf8' });
        return [w.writableObjectMode, w.writableCorked, w.writableNeedDrain, r.readableObjectMode, r.readableEncoding, new PassThrough({ readableObjectMode: true }).readableObjectMode]; },
      aborted: () => { const r = new Readable({ read() {} }); const before = r.readableAborted; r.destroy(); return [before, r.readableAborted]; },
      copyBytesFrom: () => [...Buffer.copyBytesFrom(new Uint16Array([1, 2, 3]), 1, 1)],
      bigUint: () => { const b = Buffer.alloc(8); b.writeBigUint64BE(258n); return [String(b.readBigUint64BE()), String(b.readBigUint64LE(0) > 0n)]; },
    }) };
});
is_deeply $got->{ends}, [[$F, $F, $F], [$F, $T, $F], [$T, $T, $T]], 'readableEnded, writableEnded, writableFinished follow the stream';
is_deeply $got->{modes}, [$T, 1, $F, $F, 'utf8', $T], 'writableObjectMode, writableCorked, writableNeedDrain, readableObjectMode, readableEncoding';
is_deeply $got->{aborted}, [$F, $T], 'readableAborted after destroy()';
is_deeply $got->{copyBytesFrom}, [2, 0], 'Buffer.copyBytesFrom copies the elements\' bytes';
is_deeply $got->{bigUint}, ['258', 'true'], 'Buffer readBigUint64BE/writeBigUint64BE, the lower-case spellings';

$got = node_checks('stream', q{
    import { Readable, Writable, Transform, PassThrough, Duplex, pipeline, finished } from 'node:stream';
    import { pipeline as pipelineP } from 'node:stream/promises';
    const collect = () => { const out = []; return [out, new Writable({ write(chunk, enc, cb) { out.push(String(chunk)); cb(); } })]; };
    export default { fetch: () => results({
      fromIter: async () => { const out = []; for await (const c of Readable.from(['a', 'b', 'c'])) out.push(c); return out; },
      transform: async () => {
        const [out, sink] = collect();
        const upper = new Transform({ transform(chunk, enc, cb) { cb(null, String(chunk).toUpperCase()); } });
        await pipelineP(Readable.from(['x', 'y']), upper, new PassThrough(), sink);
        return out;
      },
      callbackPipeline: () => new Promise((resolve) => {
        const [out, sink] = collect();
        pipeline(Readable.from(['p']), sink, (err) => resolve([err === undefined || err === null, out]));
      }),
      pushRead: async () => {
        let n = 0;
        const r = new Readable({ read() { n++; this.push(n <= 3 ? `n${n}` : null); } });
        const out = [];
        r.on('data', (c) => out.push(String(c)));
        await new Promise((resolve) => finished(r, resolve));
        return out;
      },
      errorPropagates: async () => {
        const bad = new Transform({ transform(chunk, enc, cb) { cb(new Error('transform failed')); } });
        try { await pipelineP(Readable.from(['z']), bad, collect()[1]); return 'no error'; } catch (e) { return e.message; }
      },
      generators: async () => {
        let out = '';
        await pipelineP(function* () { yield 'g'; yield 'h'; }, async function* (source) { for await (const c of source) yield String(c).toUpperCase(); },
          new PassThrough(), async function* (source) { for await (const c of source) out += c; });
        return out;
      },
      generatorThrows: async () => {
        try {
          await pipelineP(Readable.from(['q']), async function* (source) { for await (const c of source) throw new Error(`bad ${c}`); }, new PassThrough());
          return 'no error';
        } catch (e) { return e.message; }
      },
      toWeb: async () => new Response(Readable.toWeb(Readable.from(['to', 'web']))).text(),
      fromWeb: async () => { const out = []; for await (const c of Readable.fromWeb(new Response('from web').body)) out.push(c); return [out.every((c) => Buffer.isBuffer(c)), Buffer.concat(out).toString()]; },
      writableToWeb: async () => {
        const [out, sink] = collect();
        const writer = Writable.toWeb(sink).getWriter();
        await writer.write(new TextEncoder().encode('w1'));
        await writer.write(new TextEncoder().encode('w2'));
        await writer.close();
        return out;
      },
      writableFromWeb: async () => {
        const { readable, writable } = new TransformStream();
        const text = new Response(readable).text();
        await pipelineP(Readable.from(['f', 'w']), Writable.fromWeb(writable));
        return text;
      },
      duplex: () => typeof Duplex === 'function' && new Duplex({ read() {}, write(c, e, cb) { cb(); } }).writable,
    }) };
});
is_deeply $got->{fromIter}, ['a', 'b', 'c'], 'Readable.from and async iteration';
is_deeply $got->{transform}, ['X', 'Y'], 'stream/promises pipeline through a Transform and a PassThrough';
is_deeply $got->{callbackPipeline}, [$T, ['p']], 'pipeline with a callback';
is_deeply $got->{pushRead}, ['n1', 'n2', 'n3'], 'a Readable with read() and push(), finished()';
is $got->{errorPropagates}, 'transform failed', 'an error in a pipeline rejects it';
is $got->{generators}, 'GH', 'pipeline stages that are generator functions, first, middle and last';
is $got->{generatorThrows}, 'bad q', 'an error thrown in a generator stage rejects the pipeline';
is $got->{toWeb}, 'toweb', 'Readable.toWeb makes a Response body';
is_deeply $got->{fromWeb}, [$T, 'from web'], 'Readable.fromWeb reads a Response body as Buffers';
is_deeply $got->{writableToWeb}, ['w1', 'w2'], 'Writable.toWeb';
is $got->{writableFromWeb}, 'fw', 'Writable.fromWeb into a TransformStream';
is $got->{duplex}, $T, 'Duplex';

# ---- AsyncLocalStorage ----
$got = node_checks('als', q{
    import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
    import { Readable } from 'node:stream';
    const als = new AsyncLocalStorage();
    export default { fetch: () => results({
      sync: () => [als.run('s', () => als.getStore()), als.getStore()],
      await: () => als.run('await', async () => { await null; await new Promise((r) => setTimeout(r, 1)); return als.getStore(); }),
      timeout: () => als.run('timer', () => new Promise((resolve) => setTimeout(() => resolve(als.getStore()), 1))),
      interval: () => als.run('interval', () => new Promise((resolve) => { const id = setInterval(() => { clearInterval(id); resolve(als.getStore()); }, 1); })),
      microtask: () => als.run('micro', () => new Promise((resolve) => queueMicrotask(() => resolve(als.getStore())))),
      nested: () => als.run('outer', () => [als.run('inner', () => als.getStore()), als.getStore()]),
      concurrent: async () => Promise.all(['a', 'b', 'c'].map((v, i) => als.run(v, async () => {
        await new Promise((r) => setTimeout(r, 3 - i));
        return als.getStore();
      }))),
      webStream: () => als.run('web', async () => {
        const stores = [];
        let pulls = 0;
        const stream = new ReadableStream({ pull(controller) { stores.push(als.getStore()); controller.enqueue('x'); if (++pulls === 2) controller.close(); } });
        const reader = stream.getReader();
        while (!(await reader.read()).done) stores.push(`after read: ${als.getStore()}`);
        return stores;
      }),
      nodeStream: () => als.run('node', () => new Promise((resolve) => {
        const stores = [];
        const r = Readable.from(['a', 'b']);
        r.on('data', () => stores.push(als.getStore()));
        r.on('end', () => resolve(stores));
      })),
      resource: () => { const bound = als.run('bound', () => AsyncResource.bind(() => als.getStore())); return [bound(), als.getStore()]; },
      exit: () => als.run('x', () => als.exit(() => als.getStore())),
      outside: () => als.getStore(),
    }) };
});
is_deeply $got->{sync}, ['s', undef], 'run gives its store, and none after';
is $got->{await}, 'await', 'the store survives await';
is $got->{timeout}, 'timer', 'the store survives setTimeout';
is $got->{interval}, 'interval', 'the store survives setInterval';
is $got->{microtask}, 'micro', 'the store survives queueMicrotask';
is_deeply $got->{nested}, ['inner', 'outer'], 'nested runs';
is_deeply $got->{concurrent}, ['a', 'b', 'c'], 'concurrent runs keep their own stores';
is_deeply $got->{webStream}, ['web', 'after read: web', 'web', 'after read: web'], 'the store in a ReadableStream pull and after each read';
is_deeply $got->{nodeStream}, ['node', 'node'], "the store in a node stream's data events";
is_deeply $got->{resource}, ['bound', undef], 'AsyncResource.bind keeps the store it was made in';
is $got->{exit}, undef, 'exit runs without the store';
is $got->{outside}, undef, 'a later request sees no store';


# node:zlib on the engine's zlib; the inputs were made by Python's gzip and zlib.
$got = node_checks('zlib', q{
    import zlib, { gzipSync, gunzipSync, inflateSync, inflateRawSync, unzipSync, createGzip, createGunzip } from 'node:zlib';
    import { Readable, Writable } from 'node:stream';
    import { pipeline } from 'node:stream/promises';
    import { promisify } from 'node:util';
    const b64 = (s) => Buffer.from(s, 'base64');
    export default { fetch: () => results({
      gunzip: () => gunzipSync(b64('H4sIAAAAAAACA8tIzcnJV0ivyiwAABlq0t8KAAAA')).toString(),
      inflate: () => inflateSync(b64('eJzLSM3JyVeoyslMAgAVlQPm')).toString(),
      inflateRaw: () => inflateRawSync(b64('y0jNyclXKEosBwA=')).toString(),
      unzip: () => [unzipSync(b64('H4sIAAAAAAACA8tIzcnJV0ivyiwAABlq0t8KAAAA')).toString(), unzipSync(b64('eJzLSM3JyVeoyslMAgAVlQPm')).toString()],
      roundTrip: () => { const big = 'abc'.repeat(5000); const z = gzipSync(big); return [z[0] === 0x1f && z[1] === 0x8b, z.length < 200, gunzipSync(z).toString() === big]; },
      deflateRoundTrip: () => zlib.inflateSync(zlib.deflateSync(Buffer.from('round'))).toString() + zlib.inflateRawSync(zlib.deflateRawSync('raw')).toString(),
      callback: () => new Promise((resolve) => zlib.gzip('cb', (err, z) => zlib.gunzip(z, (err2, out) => resolve(String(out))))),
      promisified: async () => String(await promisify(zlib.inflate)(await promisify(zlib.deflate)('prom'))),
      streams: async () => {
        const out = [];
        await pipeline(Readable.from(['str', 'eam', 's'.repeat(10000)]), createGzip(), createGunzip(),
          new Writable({ write(c, e, cb) { out.push(c); cb(); } }));
        const text = Buffer.concat(out).toString();
        return [text.slice(0, 6), text.length];
      },
      corrupt: () => { try { gunzipSync(Buffer.from('not gzip at all')); return 'no error'; } catch (e) { return [e.code, e instanceof Error]; } },
      truncated: () => { try { gunzipSync(b64('H4sIAAAAAAACA8tIzcnJV0ivyiwAAB')); return 'no error'; } catch (e) { return e.code; } },
    }) };
});
is $got->{gunzip}, 'hello gzip', 'gunzipSync of gzip made by Python';
is $got->{inflate}, 'hello zlib', 'inflateSync of zlib.compress';
is $got->{inflateRaw}, 'hello raw', 'inflateRawSync of raw deflate';
is_deeply $got->{unzip}, ['hello gzip', 'hello zlib'], 'unzipSync tells gzip from zlib';
is_deeply $got->{roundTrip}, [$T, $T, $T], 'gzipSync compresses, gunzipSync gives it back';
is $got->{deflateRoundTrip}, 'roundraw', 'deflate and deflateRaw round trips';
is $got->{callback}, 'cb', 'gzip and gunzip with callbacks';
is $got->{promisified}, 'prom', 'util.promisify(zlib.deflate/inflate)';
is_deeply $got->{streams}, ['stream', 10006], 'createGzip and createGunzip in a pipeline';
is_deeply $got->{corrupt}, ['Z_DATA_ERROR', $T], 'corrupt data is a Z_DATA_ERROR';
is $got->{truncated}, 'Z_DATA_ERROR', 'truncated data is a Z_DATA_ERROR';

# A gzip bomb (150 MB of zeros in about 150 KB) meets the memory limit
# (CPU is generous here so that memory is what stops it).
{
    require IO::Compress::Gzip;
    my $zeros = "\0" x 150_000_000;
    my $bomb;
    IO::Compress::Gzip::gzip(\$zeros => \$bomb) or die 'gzip';
    undef $zeros;
    my $roomy = Dispatch::Test->new(
        server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch api $script; } },
        http   => "dispatch_cpu_limit 10s;\n    client_max_body_size 8m;",
    );
    $roomy->put_script('api', 'zlibbomb', q{
        import { gunzipSync } from 'node:zlib';
        export default { async fetch(request) {
          try { return new Response('inflated ' + gunzipSync(new Uint8Array(await request.arrayBuffer())).length); }
          catch (e) { return new Response(e.name); }
        } };
    }, metadata => $COMPAT);
    my $r = $roomy->request('POST', '/t/zlibbomb', content => $bomb, timeout => 60);
    ok $r->{content} eq 'RangeError' || "$r->{status} $r->{content}" eq "503 exceeded_memory\n",
        'gunzipSync of a 150 MB bomb is a RangeError or 503 exceeded_memory' or diag "$r->{status} $r->{content}";
    $roomy->put_script('api', 'small', q{ export default { fetch() { return new Response('still here'); } }; });
    is $roomy->get('/t/small')->{content}, 'still here', 'and the worker goes on serving';
    is scalar($roomy->error_log_alerts), 0, 'without a crash' or diag join "\n", $roomy->error_log_alerts;
}

# The rest of what wrangler's preset leaves to the runtime: small real
# modules, and those not implemented here, which link and throw when called.
$got = node_checks('others', q{
    import { parse, stringify } from 'node:querystring';
    import os from 'node:os';
    import { text, json } from 'node:stream/consumers';
    import { ReadableStream as WebReadable } from 'node:stream/web';
    import LegacyReadable from '_stream_readable';
    import { Readable } from 'node:stream';
    import sys from 'node:sys';
    import util from 'node:util';
    import { isIP, createServer } from 'node:net';
    import { brotliCompressSync } from 'node:zlib';
    import { lookup } from 'node:dns';
    import { createRequire } from 'node:module';
    import win32 from 'node:path/win32';
    export default { fetch: () => results({
      querystring: () => [parse('a=1&b=x%20y&a=2&c'), stringify({ q: 'a b', n: [1, 2] })],
      os: () => [os.platform(), os.EOL, os.tmpdir()],
      consumers: async () => [await text(Readable.from(['ab', 'c'])), (await json(new Response('{"k":1}').body)).k],
      web: () => WebReadable === ReadableStream,
      legacy: () => LegacyReadable === Readable && sys === util,
      isIP: () => [isIP('10.0.0.1'), isIP('::1'), isIP('nope')],
      brotli: () => brotliCompressSync('x'),
      brotliCode: () => { try { brotliCompressSync('x'); } catch (e) { return e.code; } },
      createServer: () => createServer(),
      dns: () => lookup('example.com'),
      require: () => createRequire('/x'),
      win32: () => win32.join('a', 'b'),
      notAModule: () => [process.getBuiltinModule('node:unimplemented'), process.getBuiltinModule('node/buffer.js'), typeof process.getBuiltinModule('zlib').gzip],
    }) };
});
is_deeply $got->{querystring}, [{ a => ['1', '2'], b => 'x y', c => '' }, 'q=a%20b&n=1&n=2'], 'querystring parse and stringify';
is_deeply $got->{os}, ['linux', "\n", '/tmp'], 'node:os answers as Workers';
is_deeply $got->{consumers}, ['abc', 1], 'stream/consumers text and json, of node and web streams';
is $got->{web}, $T, 'stream/web is the global streams';
is $got->{legacy}, $T, '_stream_readable and sys are their modern modules';
is_deeply $got->{isIP}, [4, 6, 0], 'net.isIP';
like $got->{brotli}, qr/^threw Error: node:zlib brotliCompressSync\(\) is not implemented in this runtime/, 'what is not implemented links, and throws when called';
is $got->{brotliCode}, 'ERR_METHOD_NOT_IMPLEMENTED', 'with the code workerd uses';
like $got->{createServer}, qr/node:net createServer\(\) is not implemented/, 'node:net createServer throws (its sockets are t/62-sockets-node-net)';
like $got->{dns}, qr/node:dns lookup\(\) is not implemented/, 'node:dns lookup throws';
like $got->{require}, qr/node:module createRequire\(\) is not implemented/, 'node:module createRequire throws';
like $got->{win32}, qr/node:path\/win32 join\(\) is not implemented/, 'path/win32 throws';
is_deeply $got->{notAModule}, [undef, undef, 'function'], 'getBuiltinModule knows only the modules, not the files behind them';

# ---- without the flag ----
for my $case (['node:buffer', 'noflag'], ['events', 'noflagbare'], ['node:async_hooks', 'noflagdate']) {
    my ($module, $name) = @$case;
    my $meta = $name eq 'noflagdate' ? '{"compatibility_date":"2025-09-01"}' : '{}';
    $t->put_script('api', $name, qq{ import x from '$module'; export default { fetch() { return new Response('ran'); } }; },
                   metadata => $meta);
    my $r = $t->get("/t/$name");
    is $r->{status}, 500, "without nodejs_compat, importing $module fails the request";
    ok $t->wait_for(sub { $t->error_log =~ /"api\/$name": the script failed to start: Error: No such module "\Q$module\E": Node.js built-in modules need the nodejs_compat compatibility flag/ }),
        "and the error log says $module needs nodejs_compat";
}
# nodejs_als alone (what Sentry's Workers SDK documents): node:async_hooks,
# and no other module, no globals.
$t->put_script('api', 'alsonly', q{
    import { AsyncLocalStorage } from 'node:async_hooks';
    const als = new AsyncLocalStorage();
    export default { fetch() {
      return als.run('kept', async () => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        return new Response([als.getStore(), typeof Buffer, typeof process].join());
      });
    } };
}, metadata => '{"compatibility_date":"2025-09-01","compatibility_flags":["nodejs_als"]}');
is $t->get('/t/alsonly')->{content}, 'kept,undefined,undefined', 'nodejs_als: AsyncLocalStorage across a timer, without the globals';
$t->put_script('api', 'alsbuffer', q{ import 'node:buffer'; export default { fetch() { return new Response('ran'); } }; },
               metadata => '{"compatibility_date":"2025-09-01","compatibility_flags":["nodejs_als"]}');
is $t->get('/t/alsbuffer')->{status}, 500, 'nodejs_als: node:buffer is still refused';
ok $t->wait_for(sub { $t->error_log =~ /"api\/alsbuffer": the script failed to start: Error: No such module "node:buffer": Node.js built-in modules need the nodejs_compat compatibility flag/ }),
    'and the error log says it needs nodejs_compat';
like $t->error_log, qr/"api\/noflagdate": .*need the nodejs_compat compatibility flag \(or nodejs_als, for node:async_hooks alone\)/,
    'without either flag, node:async_hooks names both';
# From a 2026-08-04 date Workers has it on by default; no_nodejs_compat turns it off.
$t->put_script('api', 'bydate', q{ import { Buffer } from 'buffer'; export default { fetch() { return new Response(Buffer.from('on').toString('hex') + typeof setImmediate); } }; },
               metadata => '{"compatibility_date":"2026-08-04"}');
is $t->get('/t/bydate')->{content}, '6f6efunction', 'a 2026-08-04 date turns nodejs_compat on without the flag, globals too';
$t->put_script('api', 'optout', q{ import { Buffer } from 'buffer'; export default { fetch() { return new Response('ran'); } }; },
               metadata => '{"compatibility_date":"2026-08-04","compatibility_flags":["no_nodejs_compat"]}');
is $t->get('/t/optout')->{status}, 500, 'no_nodejs_compat turns it off again';
$t->put_script('api', 'nov2', q{ import 'node:buffer'; export default { fetch() { return new Response(typeof Buffer); } }; },
               metadata => '{"compatibility_date":"2025-09-01","compatibility_flags":["nodejs_compat","no_nodejs_compat_v2"]}');
is $t->get('/t/nov2')->{content}, 'undefined', 'no_nodejs_compat_v2 keeps Buffer off the globals';
$t->put_script('api', 'noglobals', q{ export default { fetch() { return new Response([typeof Buffer, typeof process, typeof global, typeof setImmediate].join()); } }; },
               metadata => '{"compatibility_date":"2025-09-01"}');
is $t->get('/t/noglobals')->{content}, 'undefined,undefined,undefined,undefined', 'without the flag, no Buffer, process, global or setImmediate';
# An uploaded module named like a Node.js module wins over the bare name.
$t->put_script('api', 'ownmodule', q{ import { x } from 'buffer'; export default { fetch() { return new Response(x); } }; },
               'module:buffer' => q{export const x = 'mine';}, metadata => $COMPAT);
is $t->get('/t/ownmodule')->{content}, 'mine', "the script's own module \"buffer\" wins over the bare name";

# ---- hostile ----
$got = node_checks('tamper', q{
    // Whatever the modules call through what a tenant can replace is
    // recorded: nothing of the engine's may show up.
    const seen = [];
    const record = (v) => { seen[seen.length] = v; };
    const apply = Reflect.apply;
    const originals = [];
    const spy = (target, key) => {
      const original = target[key];
      originals.push([target, key, original]);
      target[key] = function (...args) {
        record(this);
        for (let i = 0; i < args.length; i++) record(args[i]);
        return apply(original, this, args);
      };
    };
    // The engine's natives are C++ functions without a name; the loader's
    // internals are named for their keys.
    const fnSource = Function.prototype.toString;
    const INTERNAL = /^(getFrame|setFrame|digestCreate|digestUpdate|digestFinish|randomFill|pbkdf2|hkdf|env|builtin)$/;
    const engineOwned = (v) => {
      if (typeof v === 'function') {
        return INTERNAL.test(v.name) || (v.name === '' && /\[native code\]/.test(apply(fnSource, v, [])));
      }
      if (v && typeof v === 'object') {
        try { return 'nodeSource' in v || 'setTimer' in v || 'getFrame' in v || 'setContinuation' in v; } catch { return false; }
      }
      return false;
    };
    export default { fetch: async () => {
      spy(Function.prototype, 'call');
      spy(Function.prototype, 'apply');
      spy(Reflect, 'apply');
      spy(Object, 'assign');
      spy(Object, 'defineProperty');
      spy(Map.prototype, 'set');
      spy(Array.prototype, 'push');
      const { AsyncLocalStorage } = process.getBuiltinModule('node:async_hooks');
      const crypto = process.getBuiltinModule('crypto');
      const als = new AsyncLocalStorage();
      const store = await als.run('t', async () => { await null; return new Promise((r) => setTimeout(() => r(als.getStore()), 1)); });
      const hash = crypto.createHmac('sha256', 'k').update('v').digest('hex');
      const derived = crypto.pbkdf2Sync('p', 's', 1, 8, 'sha256').length;
      const { Readable, PassThrough } = process.getBuiltinModule('node:stream');
      const { pipeline } = process.getBuiltinModule('node:stream/promises');
      await pipeline(Readable.from(['a', 'b']), new PassThrough(), new PassThrough());
      for (const [target, key, original] of originals) target[key] = original;
      const leaked = seen.filter(engineOwned).length;
      const recorded = seen.length;
      return results({
        store: () => store, hash: () => hash.length + derived, leaked: () => leaked, recorded: () => recorded > 50,
        detector: () => [engineOwned(function getFrame() {}), engineOwned(() => {}), engineOwned(Array.prototype.push)],
      });
    } };
});
is $got->{store}, 't', 'with every prototype method spied on, AsyncLocalStorage still works';
is $got->{hash}, 72, 'and createHmac and pbkdf2Sync';
is_deeply $got->{detector}, [$T, $F, $F], 'the check below tells the loader\'s functions from the tenant\'s and V8\'s';
is $got->{recorded}, $T, 'the spies saw the calls the modules made';
is $got->{leaked}, 0, 'and no native nor the internals reached tenant code';

$t->put_script('api', 'hugebuffer', q{
    import { Buffer } from 'node:buffer';
    export default { fetch() {
      const a = Buffer.alloc(100e6);
      const b = Buffer.allocUnsafe(100e6);
      return new Response('kept ' + (a.length + b.length));
    } };
}, metadata => $COMPAT);
$r = $t->get('/t/hugebuffer');
is "$r->{status} $r->{content}", "503 exceeded_memory\n", 'two Buffer.alloc(100e6) kept alive answer 503 exceeded_memory';
$t->put_script('api', 'toobig', q{
    import { Buffer } from 'node:buffer';
    export default { fetch() { try { Buffer.alloc(2 ** 31 - 1); return new Response('allocated'); } catch (e) { return new Response(e.name); } } };
}, metadata => $COMPAT);
is $t->get('/t/toobig')->{content}, 'RangeError', 'a Buffer larger than the whole budget is a RangeError the script can catch';
is $t->get('/t/cfbuffer')->{content}, 'hello world', 'the worker goes on serving';


# Loading modules is start-up work: a CPU limit that stops it anywhere (in
# the loader, a module's top level, the synthetic module's export) fails
# that script cleanly, never the worker.
{
    my $tight = Dispatch::Test->new(
        server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch api $script; } },
        http   => 'dispatch_startup_cpu_limit 4ms;',
    );
    my @modules = qw(buffer events stream util crypto async_hooks assert url string_decoder path);
    my %answers;
    for my $i (1 .. 12) {
        $tight->put_script('api', "load$i", join('', map { "import * as m$_ from 'node:$_';\n" } @modules)
            . 'export default { fetch() { return new Response("ok"); } };', metadata => $COMPAT);
        my $r = $tight->get("/t/load$i");
        $answers{"$r->{status} $r->{content}"}++;
    }
    my @odd = grep { $_ ne '200 ok' && $_ ne "503 exceeded_cpu\n" } keys %answers;
    is_deeply \@odd, [], 'ten modules under a 4 ms start-up limit: each script answers 200 or 503 exceeded_cpu'
        or diag explain \%answers;
    is scalar($tight->error_log_alerts), 0, 'and the worker never crashed'
        or diag join '', grep { !/\[(notice|info)\]/ } split /^/, $tight->error_log;
}

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
done_testing;
