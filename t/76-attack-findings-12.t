#!/usr/bin/perl
# Attack round 14: a battery written from README.md alone, by a hostile
# tenant, a hostile uploader and a hostile HTTP client. Each case asserts
# what the README promises and failed on the commit it was found on
# (9311cbd).
#
# Found and fixed:
# - A script of many modules ended the worker. V8 instantiates a module
#   graph in one call that never looks at a stop request, and compiles each
#   module it reaches through the engine's resolve callback: a main module
#   that imports 200,000 empty modules (4.6 MB of imports, inside
#   dispatch_script_max_size) ran seconds past dispatch_startup_cpu_limit
#   until dispatch_hang_timeout ended the worker. Now the next
#   module fails once a limit stopped the run, the instantiation unwinds,
#   and the request answers 503 exceeded_cpu.
# - WebAssembly was recompiled where no limit sees it. V8 tiers a hot Wasm
#   function up to TurboFan on the platform's background thread: a request
#   that called an uploaded 6 MB function (2M additions) once answered in
#   milliseconds, then that thread spent about 7 s of CPU on it and the
#   worker's RSS rose to 800 MB (300 MB kept), under a 128m memory limit
#   that had charged the module 30 MB; each distinct module again. Now
#   Wasm stays on Liftoff, compiled as the module is made, on the
#   isolate's thread, under its limits.
# - WebAssembly functions were not charged. A module's code was charged
#   five times its wire size, but V8 keeps a code object, a jump-table slot
#   and metadata for every function however small: 1 MB of 250,000 empty
#   functions took 85 MB of the worker's memory under a 64m
#   dispatch_memory_limit, charged 5 MB, and each isolate of such a module
#   (a script each, or a namespace's worth) as much again, unseen by
#   dispatch_worker_memory. Now each function is charged 512 bytes more.
# - structuredClone and MessagePort.postMessage called what a tenant can
#   replace (README: replaced intrinsics change only the script's own
#   code): Map.prototype.set/get/has, the Map and Set iterators' next,
#   Object.keys and hasOwn, Array.prototype.some, ArrayBuffer.prototype.slice,
#   the typed-array and RegExp getters, a Symbol.hasInstance put on Headers,
#   and a setter on Object.prototype (a clone's properties were assigned,
#   so an own "__proto__" key set the clone's prototype instead). The
#   service-worker format's fetch listeners were an ordinary array (slice,
#   includes, push, Reflect.apply looked up at call time). Now both walk
#   with intrinsics captured as the built-ins load, and define properties.
# - One request could take Redis down for every tenant. Redis makes each
#   reply whole as it runs the command, and a script's KV gets all went out
#   at once: 1000 get()s of a 25 MiB value (KV's documented limits) grew the
#   shared Redis past 20 GB in seconds, and it answered no one (scripts,
#   KV, the management API, on every node) for over a minute. Now at most 8
#   KV operations of an isolate are in flight; the rest wait in the engine
#   (and are not sent once their request is over).
# - (t/26-event-source.t) EventSource failed for good on a fetcher of the
#   script's own whose Response was made from a string (bytes until asked).
#   And it scanned a line's text again from its start at every piece: an
#   upstream sending a 4 MB line in 4 KiB pieces cost the reader seconds of
#   CPU (503 exceeded_cpu, an offence of the tenant's).
#   And an upstream's `retry: 99999999999999999999` became a timer that
#   fired at once (the native cast 1e20 ms to an integer): a reconnection
#   loop until the CPU limit. Timers are capped at 2^31 - 1 ms natively.
# - request.url could be a URL that new URL() refuses. nginx lets through a
#   Host whose port is none ("h:99999", "h:8x") and bytes the URL Standard
#   refuses in a host ("<", ">", "^", "|", a stray "]"): every router that
#   reads new URL(request.url) threw for such a client (500). Now such a
#   host is answered 400 before the script runs, as round 13's were.
#
# Tried and held (no test kept): structuredClone and postMessage of proxies
# with 3e6 keys, cycles, 1e6-deep nesting (RangeError, or the CPU limit),
# sparse arrays of length 2^32-1, typed arrays over a grown (detached)
# WebAssembly.Memory, getters that post again; 5e6 messages queued on an
# unstarted port; ports ping-ponging in ctx.waitUntil; unhandledrejection
# listeners that reject again (200 a round, and from timers); reportError
# and rejections of a Proxy whose every trap throws; EventSource.from a
# stream of one endless line, retry: 0; 3000 sendBeacon()s; URLPattern of
# 2000 wildcards and inputs of 4 MB; HKDF with 8 MiB of info (OpenSSL
# refuses past 32 KiB), Ed25519/ECDSA/HMAC sign of 50 MiB; node:crypto
# generateKeyPairSync RSA 8192 x 20 at the top level and 16384, GCM/CTR
# finals over 80 MiB, a GCM IV of 8 MiB, junk PEM/DER/JWK keys, RSA JWKs of
# 32768 bits and 16000-byte exponents, Buffer xWrite/xSlice at junk
# offsets; options.limits of NaN, -1, 1e308, 2^53, getters, proxies and
# BigInts; 1M tiny Wasm modules' worth of wasm: fields, 1M Wasm functions
# (refused by the charge now), 200k types, 1M globals; 100k-byte hosts
# through IDNA; auth_request, mirror and SSI subrequests into a dispatch
# location with bodies. All held (the worker lives, a limit or an
# exception answers).
#
# Found, not fixed:
# - V8 compiles hot JavaScript with TurboFan on the same background thread,
#   uncharged: 24 functions of 1000 statements made hot across 12 requests
#   of ~50 ms cost the worker 1.2 s more of CPU afterwards (about twice the
#   tenant's charged time; JavaScript functions past 60 KB of bytecode are
#   never optimized, so each compile is bounded).
# - A Wasm module's globals cost V8 about 40 bytes each beside the charge:
#   1M globals (5 MB, charged 25 MB) took 35-40 MB.
# - Each script can still have 8 x 25 MiB of KV answers pending in Redis;
#   a tenant with many scripts multiplies it (README: client-output-buffer-limit).
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Hostile;
use POSIX ();

my $t = hostile_server(budget => 100);

# WebAssembly's binary format: an unsigned LEB128 integer, a section
my $leb = sub { my ($n) = @_; my $o = ''; do { my $b = $n & 0x7f; $n >>= 7; $o .= chr($n ? $b | 0x80 : $b) } while $n; $o };
my $section = sub { my ($id, $payload) = @_; chr($id) . $leb->(length $payload) . $payload };

# ---- a module graph of 200,000 modules --------------------------------------
{
    # empty modules: 4.6 MB of imports, inside dispatch_script_max_size
    my $N = 200_000;
    my @modules = map { ("module:m$_.js", '') } 1 .. $N;
    my $imports = join('', map { "import './m$_.js';\n" } 1 .. $N);
    hostile_case($t, 'a main module importing 200000 modules is stopped by the startup CPU limit',
        script => 'many-modules',
        setup => sub {
            my ($t, $slug) = @_;
            $t->put_script('tenants', $slug,
                           $imports . 'export default { fetch() { return new Response("started") } };', @modules);
        },
        expect => [[503, qr/^exceeded_cpu\b/]], within => 10);
}

# ---- a hot WebAssembly function of 6 MB --------------------------------------
{
    # (func (export "f") (param i32) (result i32) local.get 0 (i32.const 1 i32.add) x 2M)
    my $body = "\0\x20\0" . ("\x41\x01\x6a" x 2_000_000) . "\x0b";
    my $wasm = "\0asm\x01\0\0\0"
        . $section->(1, "\x01\x60\x01\x7f\x01\x7f") . $section->(3, "\x01\x00")
        . $section->(7, "\x01\x01f\x00\x00") . $section->(10, "\x01" . $leb->(length $body) . $body);
    my $stat = sub {    # (CPU seconds, peak RSS in kB) of the one worker
        my ($pid) = $t->worker_pids;
        open my $s, '<', "/proc/$pid/stat" or return (0, 0);
        my @f = split ' ', scalar <$s>;
        open my $st, '<', "/proc/$pid/status" or return (0, 0);
        my ($hwm) = map { /^VmHWM:\s+(\d+)/ ? $1 : () } <$st>;
        return (($f[13] + $f[14]) / POSIX::sysconf(POSIX::_SC_CLK_TCK()), $hwm);
    };
    hostile_case($t, 'a hot 6 MB WebAssembly function costs the worker nothing after its request',
        script => 'hot-wasm', fields => { 'wasm:big.wasm' => $wasm },
        js => q{import mod from './big.wasm';
export default { fetch() {
  const { exports } = new WebAssembly.Instance(mod, {});
  let s = 0;
  for (let i = 0; i < 3; i++) s += exports.f(i);
  return new Response(String(s));
} };},
        expect => [[200, '6000003']],
        check => sub {
            my ($r, $t, $slug) = @_;
            # a few more requests: V8 counts a function hot by the code it ran
            raw_request($t, "/t/$slug", timeout => 10) for 1 .. 5;
            my ($cpu0) = $stat->();
            sleep 3;
            my ($cpu, $hwm) = $stat->();
            cmp_ok $cpu - $cpu0, '<', 0.5, 'the worker spends no CPU on the module once it answered (V8 tiered it up in the background)';
            cmp_ok $hwm, '<', 256 * 1024, 'and its peak RSS stays under 256 MB (the module is charged 30 MB)';
        });
}

# ---- structured clones with the intrinsics replaced --------------------------
hostile_case($t, 'structuredClone and postMessage call nothing a tenant replaced',
    script => 'clone-tampered',
    js => q{export default { async fetch() {
  const value = { a: new Map([[1, { b: 2 }]]), s: new Set(['x']), buf: new Uint8Array([1, 2, 3]), d: new DataView(new ArrayBuffer(4)),
    re: /x/gi, err: new TypeError('boom'), list: [1, , 3], file: new File(['hi'], 'f.txt') };
  Object.defineProperty(value, '__proto__', { value: { own: true }, enumerable: true, configurable: true, writable: true });
  const calls = [];
  const define = Object.defineProperty, getDescriptor = Object.getOwnPropertyDescriptor;
  const spy = (object, key) => {
    const d = getDescriptor(object, key);
    if (d.get) define(object, key, { get() { calls.push(key); return d.get.call(this); }, configurable: true });
    else object[key] = function (...args) { calls.push(key); return d.value.apply(this, args); };
  };
  const mapIterator = Object.getPrototypeOf(new Map().entries()), setIterator = Object.getPrototypeOf(new Set().values());
  const typedArray = Object.getPrototypeOf(Uint8Array.prototype);
  for (const [object, key] of [[Map.prototype, 'set'], [Map.prototype, 'get'], [Map.prototype, 'has'], [Set.prototype, 'add'],
    [mapIterator, 'next'], [setIterator, 'next'], [Object, 'keys'], [Object, 'hasOwn'], [Object, 'defineProperty'],
    [ArrayBuffer.prototype, 'slice'], [Array.prototype, 'some'], [RegExp.prototype, 'flags'], [typedArray, 'buffer'],
    [typedArray, 'length'], [DataView.prototype, 'byteLength'], [File.prototype, 'name']]) spy(object, key);
  define(Object.prototype, 'b', { set(v) { calls.push('setter b'); }, configurable: true });
  define(Headers, Symbol.hasInstance, { value() { calls.push('hasInstance'); return false; } });
  const c = structuredClone(value);
  new MessageChannel().port1.postMessage(value);
  const seen = calls.slice();
  delete Object.prototype.b;
  return Response.json({ seen, clone: [c.a.get(1).b, c.s.has('x'), c.buf[2], c.re.flags, c.err.message, c.list.length, 1 in c.list,
    c.file.name, Object.getPrototypeOf(c) === Object.prototype, getDescriptor(c, '__proto__').value.own] });
} };},
    expect => [[200, '{"seen":[],"clone":[2,true,3,"gi","boom",3,false,"f.txt",true,true]}']]);

$t->put_script('tenants', 'sw-tampered', q{
  let log = '';
  for (const key of ['slice', 'includes', 'push', 'indexOf', 'splice']) {
    const original = Array.prototype[key];
    Array.prototype[key] = function (...args) { log += key + ' '; return Reflect.apply(original, this, args); };
  }
  const apply = Reflect.apply;
  Reflect.apply = function (...args) { log += 'Reflect.apply '; return apply(...args); };
  addEventListener('fetch', (event) => event.respondWith(new Response('called: ' + log)));
  removeEventListener('fetch', () => {});
}, format => 'service-worker');
hostile_case($t, 'a service worker\'s fetch listeners are kept and called without its replaced Array methods',
    script => 'sw-tampered', expect => [[200, 'called: ']]);

# ---- many concurrent KV reads of a large value ----------------------------------
{
    # CPU enough for the script to take all 100 answers (1 GB of copies)
    my $k = Dispatch::Test->new(workers => 1, server => $Dispatch::Hostile::LOC, http => 'dispatch_cpu_limit 20s;');
    my $meta = '{"bindings":[{"type":"kv_namespace","name":"KV","namespace_id":"big"}]}';
    $k->put_script('tenants', 'seed', q{export default { async fetch(req, env) {
  await env.KV.put('v', new Uint8Array(10 << 20));
  return new Response('seeded');
} };}, metadata => $meta);
    $k->put_script('tenants', 'fanout', q{export default { async fetch(req, env) {
  const reads = [];
  for (let i = 0; i < 100; i++) reads.push(env.KV.get('v', 'arrayBuffer').then((v) => v.byteLength, (e) => e.name));
  const sizes = await Promise.all(reads);
  return new Response(String(sizes.filter((n) => n === 10 << 20).length));
} };}, metadata => $meta);
    is $k->get('/t/seed')->{content}, 'seeded', 'a 10 MiB KV value is stored';
    my $peak = sub { my ($p) = $k->redis('INFO', 'memory') =~ /used_memory_peak:(\d+)/; $p };
    my $before = $peak->();
    my $r = $k->get('/t/fanout', timeout => 60);
    # (all 100 here when the machine is idle; under load a read may meet
    # the dispatch_redis timeout, as any KV call may)
    like "$r->{status} $r->{content}", qr/^200 [1-9]\d*$/, '100 concurrent KV reads of a 10 MiB value are answered';
    my $grew = ($peak->() - $before) / 1048576;
    cmp_ok $grew, '<', 160, sprintf('and Redis grew %.0f MB for them (a GB when all were sent at once)', $grew);
}

# ---- a Host request.url cannot hold -------------------------------------------
{
    $t->put_script('tenants', 'url-host', q{export default { fetch(req) { return new Response(new URL(req.url).host); } };});
    my %want = ('h:8080' => '200 h:8080', 'h:' => '200 h', '[::1]:81' => '200 [::1]:81', 'H.example' => '200 h.example');
    $want{$_} = '400' for 'h:99999', 'h:8x', 'h:80:80', 'h<x', 'h>x', 'h^x', 'h|x', 'h]', '[::1]x';
    for my $host (sort keys %want) {
        my $r = raw_request($t, { path => '/t/url-host', host => $host }, timeout => 10);
        my $got = $r->{status} == 200 ? "200 $r->{content}" : "$r->{status}";
        is $got, $want{$host}, "Host: $host: " . ($want{$host} eq '400' ? 'answered 400, request.url could not hold it' : 'request.url has it');
    }
}

# ---- a WebAssembly module of 250,000 empty functions -------------------------
{
    my $u = Dispatch::Test->new(workers => 1, server => $Dispatch::Hostile::LOC,
                                http => 'dispatch_memory_limit 64m;');
    my $n = 250_000;    # (func) x 250,000: 1 MB
    my $wasm = "\0asm\x01\0\0\0" . $section->(1, "\x01\x60\x00\x00")
        . $section->(3, $leb->($n) . ("\x00" x $n)) . $section->(10, $leb->($n) . ("\x02\x00\x0b" x $n));
    $u->put_script('tenants', 'funcs', q{import mod from './f.wasm';
export default { fetch() { return new Response('compiled') } };}, 'wasm:f.wasm' => $wasm);
    my $rss = sub {
        my ($pid) = $u->worker_pids;
        open my $s, '<', "/proc/$pid/status" or return 0;
        my ($kb) = map { /^VmRSS:\s+(\d+)/ ? $1 : () } <$s>;
        return $kb;
    };
    $u->get('/t/warm');    # the worker's own start
    my $before = $rss->();
    my $r = $u->get('/t/funcs', timeout => 30);
    isnt $r->{content}, 'compiled', 'a 1 MB Wasm module of 250,000 functions does not fit a 64m isolate';
    like $u->error_log, qr/its compiled code \(\d+ bytes\) does not fit dispatch_memory_limit/, 'the error log says why';
    cmp_ok $rss->() - $before, '<', 48 * 1024, 'and the worker did not take 85 MB for it';
}

done_testing();
