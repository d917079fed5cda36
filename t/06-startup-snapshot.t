#!/usr/bin/perl
# Issue 18: each worker makes a V8 startup snapshot of the built-ins at
# start (dispatch_startup_snapshot, on by default) and every isolate starts
# from it. Nothing a tenant does in its isolate reaches another one, each
# isolate has its own random state, what V8 adds to a context only as it
# deserializes it (WebAssembly, Array.prototype.findLast, Atomics,
# Object.hasOwn) is guarded and locked down as before, and the answers are
# the same with the snapshot off.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP qw(decode_json);

my $LOC = q{ location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; } };
my $t = Dispatch::Test->new(workers => 1, http => 'dispatch_memory_limit 64m;', server => $LOC);

sub body { my ($path) = @_; my $r = $t->get($path); return $r->{status} == 200 ? $r->{content} : "status $r->{status}: $r->{content}" }

like $t->error_log, qr/\[info\].*startup snapshot of the built-ins: \d+ KB, made in \d+ ms/,
    'the worker made its startup snapshot at start';
unlike $t->error_log, qr/no startup snapshot/, 'and did not fall back';

# ---- tenants apart ----

# A changes globals, built-in objects and prototypes; B looks for them.
$t->put_script('tenants', 'a', q{
    globalThis.leak = 'from a';
    URL.prototype.leak = 'from a';
    Response.prototype.text = async function () { return 'tampered by a'; };
    Headers.prototype.get = () => 'tampered by a';
    Object.defineProperty(Object.prototype, 'leaked', { get() { return 'a'; }, configurable: true });
    Array.prototype.push = function () { throw new Error('push tampered by a'); };
    JSON.stringify = () => '"tampered by a"';
    Math.random = () => 4;
    export default { fetch() { return new Response(`a ${globalThis.leak} ${URL.prototype.leak}`); } };
});
$t->put_script('tenants', 'b', q{
    export default {
      async fetch(request) {
        const seen = [typeof globalThis.leak, typeof URL.prototype.leak, typeof new URL('http://x/').leak,
          await new Response('body').text(), new Headers({ h: 'v' }).get('h'),
          Object.getOwnPropertyDescriptor(Object.prototype, 'leaked') === undefined,
          JSON.stringify({ k: [1] }), typeof Math.random(), Math.random() !== 4,
          request.headers.get('x-probe')];
        const list = []; list.push('pushed');
        return new Response(seen.concat(list).join(' '));
      }
    };
});
is body('/t/a'), 'a from a from a', 'tenant A sees its own changes to globals and built-ins';
is $t->get('/t/b', headers => { 'X-Probe' => 'p' })->{content},
    'undefined undefined undefined body v true {"k":[1]} number true p pushed',
    'tenant B, started after A from the same snapshot, sees none of them';

# A's next isolate (a new version) starts clean too.
$t->put_script('tenants', 'a', q{
    export default { fetch() { return new Response(`a2 ${typeof globalThis.leak} ${typeof URL.prototype.leak} ${JSON.stringify([1])}`); } };
});
$t->publish('tenants', 'a');
# (the worker hears of the change through Redis: a request sent at once
# may still find the old version)
my $a2 = '';
ok $t->wait_for(sub { ($a2 = body('/t/a')) =~ /^a2 / }, timeout => 5), "A's next version serves once its change is published";
is $a2, 'a2 undefined undefined [1]', "A's next version starts from the snapshot, not from A's old state";

# ---- random state per isolate ----

my $RANDOM = q{
    const first = Math.random();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    export default { fetch() { return new Response(first + ' ' + Array.from(bytes).join(',')); } };
};
my (%math, %crypto);
for my $i (1 .. 6) {
    $t->put_script('tenants', "r$i", $RANDOM);
    my ($m, $c) = split / /, body("/t/r$i");
    $math{$m}++;
    $crypto{$c}++;
}
is scalar(keys %math), 6, 'the first Math.random() of six fresh isolates: six different values';
is scalar(keys %crypto), 6, 'crypto.getRandomValues in six fresh isolates: six different values';
$t->put_script('tenants', 'r1', $RANDOM . "\n// v2\n");
$t->publish('tenants', 'r1');
my ($m) = split / /, body('/t/r1');
ok !$math{$m}, "a new isolate of the same script does not repeat its predecessor's Math.random()";

# ---- what V8 adds only as it deserializes the context ----

my $LATE = q{
    export default {
      async fetch() {
        const out = {};
        const probe = (name, f) => { try { out[name] = f(); } catch (e) { out[name] = `${e.constructor.name}`; } };
        probe('findLast', () => Array.prototype.findLast.call({ length: 2 ** 53 - 1 }, () => false));
        probe('findLastIndex', () => Array.prototype.findLastIndex.call({ length: 2 ** 53 - 1 }, () => false));
        probe('atomicsWait', () => typeof Atomics.wait);
        probe('atomicsWaitAsync', () => typeof Atomics.waitAsync);
        probe('sharedArrayBuffer', () => typeof SharedArrayBuffer);
        probe('weakRef', () => typeof WeakRef);
        probe('hasOwn', () => Object.hasOwn({ k: 1 }, 'k'));
        probe('at', () => [1, 2, 3].at(-1));
        // the memory guard charges each WebAssembly.Memory: 2 x 40 MB do not fit 64m
        const kept = [];
        probe('wasmMemory', () => { for (let i = 0; i < 2; i++) kept.push(new WebAssembly.Memory({ initial: 640 })); return kept.length; });
        probe('wasmCompile', () => new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])) && 'compiled');
        probe('eval', () => eval('1'));
        probe('newFunction', () => new Function('return 1')());
        // the Headers inspector of console.log reads through Object.hasOwn as captured
        probe('consoleHeaders', () => { console.log(new Headers([['a', '1'], ['a', '2']])); return 'logged'; });
        return Response.json(out);
      }
    };
};
$t->put_script('tenants', 'late', $LATE);
my $late = decode_json(body('/t/late') =~ s/^status.*//sr || '{}');
is_deeply $late, {
    findLast => 'RangeError', findLastIndex => 'RangeError', atomicsWait => 'undefined',
    atomicsWaitAsync => 'undefined', sharedArrayBuffer => 'undefined', weakRef => 'undefined',
    hasOwn => JSON::PP::true, at => 3, wasmMemory => 'RangeError', wasmCompile => 'CompileError',
    eval => 'EvalError', newFunction => 'EvalError', consoleHeaders => 'logged',
}, 'what V8 adds after deserializing is guarded and locked down as in an isolate made without the snapshot';

# ---- the same answers with the snapshot off ----

my @SCRIPTS = (
    [ globals => q{ export default { fetch() { return new Response(Object.getOwnPropertyNames(globalThis).sort().join(',')); } }; } ],
    [ apis => q{
        export default {
          async fetch(request) {
            const url = new URL('https://user:pw@example.com:8443/a/../b?q=1&q=2#frag');
            const h = new Headers([['B', '2'], ['a', '1']]);
            const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode('abc')));
            const clone = structuredClone({ d: new Date(0), m: new Map([[1, { s: new Set([2]) }]]) });
            const body = await new Response(new Blob(['x', 'y'])).text();
            const stream = await new Response(new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('s')); c.close(); } })).text();
            return Response.json({ href: url.href, search: [...url.searchParams], headers: [...h],
              digest: Array.from(digest.slice(0, 4)), clone: [clone.d.getTime(), clone.m.get(1).s.has(2)],
              body, stream, fn: String(Array.prototype.findLast).slice(0, 30), method: request.method });
          }
        };
    } ],
    [ failing => q{ export default { fetch() { null.x; } }; } ],
    [ late => $LATE ],
);
my %on;
for my $s (@SCRIPTS) {
    $t->put_script('tenants', "same-$s->[0]", $s->[1]);
    my $r = $t->get("/t/same-$s->[0]");
    $on{ $s->[0] } = "$r->{status} $r->{content}";
}
is scalar($t->error_log_alerts), 0, 'no alerts or crashes with the snapshot on' or diag join "\n", $t->error_log_alerts;
$t->stop;

my $off = Dispatch::Test->new(workers => 1, http => "dispatch_memory_limit 64m;\ndispatch_startup_snapshot off;", server => $LOC);
unlike $off->error_log, qr/startup snapshot of the built-ins/, 'dispatch_startup_snapshot off: no snapshot is made';
for my $s (@SCRIPTS) {
    $off->put_script('tenants', "same-$s->[0]", $s->[1]);
    my $r = $off->get("/t/same-$s->[0]");
    is "$r->{status} $r->{content}", $on{ $s->[0] }, "script $s->[0]: the same answer with the snapshot off and on";
}
is scalar($off->error_log_alerts), 0, 'no alerts or crashes with the snapshot off' or diag join "\n", $off->error_log_alerts;
$off->stop;

done_testing;
