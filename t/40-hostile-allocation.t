#!/usr/bin/perl
# Hostile tenants that allocate: dispatch_memory_limit (README "Isolates and
# limits", SPEC 2 and 6) must hold against every shape of allocation a
# tenant or a client controls, and none of them may take the worker down.
#
# The contract each case pins:
# - a single buffer whose size the tenant controls and that does not fit the
#   isolate's remaining budget is refused with a RangeError the script can
#   catch (the script then answers e.name), or, if the allocation goes
#   through and the budget is exceeded, the request answers 503
#   "exceeded_memory"; an uncaught exception answers 500 "exception";
# - growing the heap past the limit answers 503 "exceeded_memory";
# - a request body larger than the budget answers 413 "exceeded_memory"
#   before the script runs;
# - always: the worker process survives, the error log has no alert, and a
#   good tenant answers 200 right after (Dispatch::Hostile).
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Hostile;

my $MEMORY    = [503, "exceeded_memory\n"];
my $EXCEPTION = [500, "exception\n"];
my $CPU       = [503, "exceeded_cpu\n"];
my $RANGE     = [200, 'RangeError'];

# The handler runs BODY; a throw answers the exception's name.
sub catching {
    my ($body) = @_;
    return qq{
        export default {
          async fetch(request, env) {
            try { $body } catch (e) { return new Response(e.name); }
          }
        };
    };
}

# The handler runs BODY; nothing catches.
sub uncaught {
    my ($body) = @_;
    return qq{ export default { async fetch(request, env) { $body } }; };
}

# ---------------------------------------------------------------------------
# the default limit (128m); CPU is generous so that memory is what stops them

my $t = hostile_server(
    budget => 100,
    http   => "dispatch_cpu_limit 10s;\n    client_max_body_size 64m;",
);

# buffers the runtime allocates at a size the tenant chose

hostile_case($t, 'TextEncoder.encode of 70M two-byte-in-UTF-8 characters is refused with a RangeError',
    js     => catching(q{
        const bytes = new TextEncoder().encode('\u00e9'.repeat(70e6));   // 140 MB of UTF-8
        return new Response('encoded ' + bytes.length);
    }),
    expect => [$RANGE, $MEMORY]);

hostile_case($t, 'new Response of 70M characters of U+00E9, uncaught, does not kill the worker',
    js     => uncaught(q{ return new Response('\u00e9'.repeat(70e6)); }),
    expect => [$EXCEPTION, $MEMORY]);

hostile_case($t, 'new Response of 70M characters of U+00E9 is a RangeError the script can catch',
    js     => catching(q{
        const response = new Response('\u00e9'.repeat(70e6));
        return new Response('built ' + (await response.arrayBuffer()).byteLength);
    }),
    expect => [$RANGE, $MEMORY]);

hostile_case($t, 'a Blob of 200 parts of 1 MB (one 200 MB buffer) is refused with a RangeError',
    js     => catching(q{
        const part = new Uint8Array(1 << 20);
        const blob = new Blob(new Array(200).fill(part));
        return new Response('blob ' + (await blob.arrayBuffer()).byteLength);
    }),
    expect => [$RANGE, $MEMORY]);

hostile_case($t, 'new ArrayBuffer(2**31) is a RangeError the script can catch',
    js     => catching(q{ const b = new ArrayBuffer(2 ** 31); return new Response('allocated ' + b.byteLength); }),
    expect => [$RANGE]);

hostile_case($t, 'two Uint8Array(100e6) kept alive answer 503 exceeded_memory',
    js     => uncaught(q{
        const a = new Uint8Array(100e6).fill(1);
        const b = new Uint8Array(100e6).fill(2);
        return new Response('kept ' + (a[5] + b[5]));
    }),
    expect => [$MEMORY]);

hostile_case($t, 'many small ArrayBuffers past the limit answer 503 exceeded_memory',
    js     => uncaught(q{ const keep = []; for (;;) keep.push(new ArrayBuffer(1024)); }),
    expect => [$MEMORY]);

# (a guard refuses what the memory limit cannot hold, before V8's own limit)
hostile_case($t, "'x'.repeat(2**29) is a catchable RangeError",
    js     => uncaught(q{
        try { return new Response('made ' + 'x'.repeat(2 ** 29).length); }
        catch (e) { return new Response(e.name); }
    }),
    expect => [$RANGE]);

# the heap, grown in different shapes

# Array.prototype.fill and Array.from over dictionary-mode lengths run in
# C++ loops no termination reaches: a guard refuses them up front.
hostile_case($t, 'new Array(6e7).fill(1.5) (480 MB) is refused before it runs (RangeError: 500 uncaught) or stopped (503 exceeded_memory) within 30 s',
    js     => uncaught(q{ const a = new Array(6e7).fill(1.5); return new Response('filled ' + a.length); }),
    expect => [$EXCEPTION, $MEMORY],
    within => 30);

hostile_case($t, 'new Array(6e7).fill(1.5) throws a RangeError the script can catch, and the isolate lives on',
    js     => catching(q{ const a = new Array(6e7).fill(1.5); return new Response('filled ' + a.length); }),
    expect => [$RANGE]);

hostile_case($t, 'Array.from({length: 1e8}) is refused before it runs (RangeError: 500 uncaught) or stopped (503 exceeded_memory)',
    js     => uncaught(q{ const a = Array.from({ length: 1e8 }); return new Response('made ' + a.length); }),
    expect => [$EXCEPTION, $MEMORY]);

hostile_case($t, 'new Array(1.3e8), holey, then filled is refused before it runs (RangeError: 500 uncaught) or stopped (503 exceeded_memory)',
    js     => uncaught(q{
        const a = new Array(1.3e8);
        a.fill(0.5);
        return new Response('filled ' + a.length);
    }),
    expect => [$EXCEPTION, $MEMORY]);

hostile_case($t, 'a loop of string concatenations kept alive answers 503 exceeded_memory',
    js     => uncaught(q{
        const keep = [];
        for (let i = 0; ; i++) {
          let s = '';
          for (let j = 0; j < 1000; j++) s += String(i * 1000 + j).padStart(1000, 'z');
          keep.push(s);
        }
    }),
    expect => [$MEMORY]);

# (a guard refuses a length the memory limit cannot hold: 500 uncaught)
hostile_case($t, "String.prototype.padEnd to near V8's maximum length, flattened, is refused or stopped",
    # padEnd alone builds a cheap rope; reading a character flattens it into
    # one 512 MB string
    js     => uncaught(q{
        const s = 'x'.padEnd(2 ** 29 - 100, 'y');
        return new Response('padded ' + s.charCodeAt(s.length - 1));
    }),
    expect => [$EXCEPTION, $MEMORY]);

hostile_case($t, 'JSON.stringify of a huge structure answers 503 exceeded_memory or 500',
    js     => uncaught(q{
        const row = new Array(1e5).fill('x'.repeat(100));     // 10 MB of JSON, shared
        const text = JSON.stringify(new Array(1000).fill(row));  // 10 GB of JSON
        return new Response('length ' + text.length);
    }),
    expect => [$MEMORY, $EXCEPTION]);

# structuredClone is slow enough per element that the CPU limit may come first
hostile_case($t, 'structuredClone of a huge object, kept, answers 503 exceeded_memory or exceeded_cpu, or 500',
    js     => uncaught(q{
        const big = Array.from({ length: 5e5 }, (_, i) => ({ i, s: 'v' + i }));
        const keep = globalThis.keep = [];
        for (;;) keep.push(structuredClone(big));
    }),
    expect => [$MEMORY, $CPU, $EXCEPTION]);

hostile_case($t, 'a Map grown without end answers 503 exceeded_memory',
    js     => uncaught(q{ const m = new Map(); for (let i = 0; ; i++) m.set(i, { i }); }),
    expect => [$MEMORY]);

hostile_case($t, 'a Set grown without end answers 503 exceeded_memory',
    js     => uncaught(q{ const s = new Set(); for (let i = 0; ; i++) s.add('member-' + i); }),
    expect => [$MEMORY]);

hostile_case($t, 'nested arrays grown without end answer 503 exceeded_memory',
    js     => uncaught(q{
        // kept from a global: a chain only a dead local holds is garbage
        const root = globalThis.root = [];
        let cur = root;
        for (;;) { const next = [new Array(100).fill(1.5)]; cur.push(next); cur = next; }
    }),
    expect => [$MEMORY]);

$t->stop;

# ---------------------------------------------------------------------------
# a small limit (16m): bodies and stored values bigger than the whole budget

$t = hostile_server(
    http => "dispatch_memory_limit 16m;\n    dispatch_cpu_limit 10s;\n    client_max_body_size 64m;",
);

# an innocent script with a per-isolate counter: it tells whether its
# isolate was recreated (n back at 1) or its handler ran (n counted twice)
my $COUNTER = q{
    let n = 0;
    export default {
      async fetch(request) {
        n++;
        const body = await request.arrayBuffer();
        return new Response('n=' + n + ' body=' + body.byteLength);
      }
    };
};

# The body streams: the script runs, and reading 20 MB whole into 16m is a
# RangeError (uncaught here: 500) before a byte is read.
hostile_case($t, 'a 20 MB POST read whole by a script limited to 16m is a RangeError, not a dead isolate',
    js      => $COUNTER,
    setup   => sub {
        my ($t, $slug) = @_;
        my $r = raw_request($t, "/t/$slug", timeout => 10);
        is "$r->{status} $r->{content}", '200 n=1 body=0', 'the script counts its first request';
    },
    request => { method => 'POST', content => 'a' x 20e6 },
    expect  => [[500, "exception\n"]],
    check   => sub {
        my ($r, $t, $slug) = @_;
        like $t->error_log, qr/RangeError: Cannot allocate 20000000 bytes/, 'the error log says why';
        my $next = raw_request($t, "/t/$slug", timeout => 10);
        is "$next->{status} $next->{content}", '200 n=3 body=0',
            'the next small request sees its state untouched: same isolate';
    });

hostile_case($t, 'clones of a 6 MB request body read past the budget are refused',
    js      => catching(q{
        const keep = [];
        for (let i = 0; i < 10; i++) keep.push(await request.clone().arrayBuffer());
        return new Response('kept ' + keep.length);
    }),
    request => { method => 'POST', content => 'b' x 6e6 },
    expect  => [$RANGE, $MEMORY, [413, "exceeded_memory\n"]]);

# a value of 20 MB, written as the KV encoding of the README stores it
my $KV = '{"bindings":[{"type":"kv_namespace","name":"KV","namespace_id":"big"}]}';
sub big_value { $_[0]->redis('HSET', 'dispatch:kv:{tenants/big}:v:huge', 'v', 'c' x 20e6) }

for my $type (qw(arrayBuffer text)) {
    hostile_case($t, "KV get of a 20 MB value as $type is refused with a RangeError",
        js     => catching(qq{
            const v = await env.KV.get('huge', '$type');
            return new Response('got ' + (v && (v.byteLength ?? v.length)));
        }),
        fields => { metadata => $KV },
        setup  => \&big_value,
        expect => [$RANGE, $MEMORY]);
}

hostile_case($t, 'crypto results (exported keys) kept past the budget are refused',
    js     => catching(q{
        const key = await crypto.subtle.importKey('raw', new Uint8Array(5 << 20),
          { name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
        const keep = [];
        for (let i = 0; i < 10; i++) keep.push(await crypto.subtle.exportKey('raw', key));
        return new Response('exported ' + keep.length);
    }),
    expect => [$RANGE, $MEMORY]);

$t->stop;
done_testing;
