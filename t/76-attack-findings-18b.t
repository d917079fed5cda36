#!/usr/bin/perl
# Attack round 19's finding not fixed then (t/76-attack-findings-17.t):
# JSON.stringify of a value holding a big typed array below its top level
# ([new Uint8Array(1e7)], from a toJSON or a replacer; Response.json too)
# listed and wrote its elements in V8 calls no stop request reached (20 s,
# then the last resort ended the worker). Each typed array V8 is about to
# write, at any depth, is sized by the CPU time left now, whenever the
# isolate's buffers hold more bytes than could be written in it.
#
# And a Proxy with no ownKeys trap around a Uint8Array(1e7) (Object.keys(p),
# JSON.stringify([p])), whose target's keys V8 listed in one call (the last
# resort): the runtime's Proxy handler (t/76-attack-findings-17.t) sizes a
# typed array target's indices by the CPU time left first.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Hostile;
use JSON::PP qw(decode_json);

# The default memory limit (128m) and CPU limit.
my $t = hostile_server(budget => 60);

my %nested = (
    'in an array'     => q{JSON.stringify([big])},
    'in an object'    => q{JSON.stringify({ a: { b: big } })},
    'through toJSON'  => q{JSON.stringify({ a: { toJSON: () => big } })},
    'via a replacer'  => q{JSON.stringify({ a: 1 }, (k, v) => (k === 'a' ? big : v))},
    'in Response.json' => q{Response.json({ a: [big] })},
    'from a BigInt toJSON' => q{BigInt.prototype.toJSON = () => big; JSON.stringify({ a: 1n })},
    'past replaced intrinsics' => q{Reflect.apply = () => 0; Array.isArray = () => true; JSON.stringify([big])},
);
for my $how (sort keys %nested) {
    hostile_case($t, "a Uint8Array(1e7) $how is refused",
        js => qq{
            export default { fetch() {
              const big = new Uint8Array(1e7);
              try { $nested{$how}; return new Response('written'); } catch (e) { return new Response(e.name); }
            } };
        },
        # before: the worker ended by the last resort
        expect => [[200, 'RangeError'], [503, qr/^exceeded_cpu/]],
        within => 2);
}

# The built-ins' own JSON of a tenant's values: KV metadata, a dispatch
# namespace's args (their JSON.stringify was V8's, unguarded).
hostile_case($t, 'a Uint8Array(1e7) in KV put() metadata is refused',
    js => q{
        export default { async fetch(request, env) {
          const big = new Uint8Array(1e7);
          try { await env.KV.put('k', 'v', { metadata: [big] }); return new Response('written'); } catch (e) { return new Response(e.name); }
        } };
    },
    fields => { metadata => '{"bindings":[{"type":"kv_namespace","name":"KV","namespace_id":"kv18b"}]}' },
    expect => [[200, 'RangeError'], [503, qr/^exceeded_cpu/]],
    within => 2);
hostile_case($t, "a Uint8Array(1e7) in a dispatch namespace's args is refused",
    js => q{
        export default { async fetch(request, env) {
          const big = new Uint8Array(1e7);
          try { env.NS.get('nobody', { a: [big] }); return new Response('written'); } catch (e) { return new Response(e.name); }
        } };
    },
    fields => { metadata => '{"bindings":[{"type":"dispatch_namespace","name":"NS","namespace":"tenants"}]}' },
    expect => [[200, 'RangeError'], [503, qr/^exceeded_cpu/]],
    within => 2);

for my $how ('Object.keys(p)', 'JSON.stringify([p])', 'Reflect.ownKeys(p)') {
    hostile_case($t, "$how of a trapless Proxy around a Uint8Array(1e7) is refused",
        js => qq{
            export default { fetch() {
              const p = new Proxy(new Uint8Array(1e7), {});
              const small = Object.keys(new Proxy(new Uint8Array(3), {})).join();
              try { $how; return new Response('listed'); } catch (e) { return new Response(small + ' ' + e.name); }
            } };
        },
        # before: the worker ended by the last resort
        expect => [[200, '0,1,2 RangeError'], [503, qr/^exceeded_cpu/]],
        within => 2);
}

hostile_case($t, 'a Uint8Array over a WebAssembly memory of 10 MB in an array is refused',
    js => q{
        export default { fetch() {
          const memory = new WebAssembly.Memory({ initial: 1 });
          memory.grow(159);
          try { JSON.stringify([new Uint8Array(memory.buffer)]); return new Response('written'); } catch (e) { return new Response(e.name); }
        } };
    },
    expect => [[200, 'RangeError'], [503, qr/^exceeded_cpu/]],
    within => 2);

hostile_case($t, 'a small view of a big buffer is written, nested, as before',
    js => q{
        export default { fetch() {
          const buffer = new ArrayBuffer(1e7);
          const small = new Uint8Array(buffer, 0, 3);
          small.set([1, 2, 3]);
          return new Response(JSON.stringify({ a: [small], b: { toJSON: () => small.subarray(1) } }));
        } };
    },
    expect => [[200, '{"a":[{"0":1,"1":2,"2":3}],"b":{"0":2,"1":3}}']],
    within => 1);

# The guard's replacer is used only while the isolate's buffers are big:
# the same values, written with and without a 10 MB buffer held, give
# V8's answers (the first) byte for byte, errors and calls in V8's order.
subtest 'JSON.stringify with and without a big buffer held answers alike' => sub {
    $t->put_script('tenants', 'equivalence', q{
      export default { fetch() {
        const run = () => {
          const log = [];
          const out = {};
          const t = (n, f) => { try { out[n] = f(); } catch (e) { out[n] = `${e.name}: ${e.message}`; } };
          const getters = () => ({
            get a() { log.push('a'); return { get c() { log.push('c'); return [1, { get d() { log.push('d'); return 2; } }]; } }; },
            2: 'two', 1: 'one', get b() { log.push('b'); return undefined; },
          });
          t('getters', () => JSON.stringify(getters()));
          t('indent', () => JSON.stringify({ a: [1, { b: [] }, {}], c: 'x' }, null, 2));
          t('indentString', () => JSON.stringify([{ a: 1 }], undefined, '--'));
          t('indentObject', () => JSON.stringify([1], null, new Number(3)));
          t('toJSON', () => JSON.stringify({ d: new Date(0), x: { toJSON(k) { return `k=${k}`; } }, y: [{ toJSON: () => undefined }] }));
          t('replacerFn', () => JSON.stringify({ a: 1, b: [2, 3], c: 'x' }, function (k, v) { log.push(`${k}:${typeof this}`); return typeof v === 'number' ? v * 10 : v; }));
          t('replacerDrops', () => JSON.stringify([1, 2], () => undefined));
          t('replacerArray', () => JSON.stringify({ a: 1, b: { a: 2, c: 3 }, 1: 4 }, ['a', 1, new String('b')]));
          t('replacerThrows', () => JSON.stringify({ a: 1 }, () => { throw new SyntaxError('mine'); }));
          t('notAReplacer', () => JSON.stringify({ a: 1 }, 5, 1));
          t('cycle', () => { const o = { x: { y: [] } }; o.x.y.push(o); return JSON.stringify(o); });
          t('bigint', () => JSON.stringify({ a: 1n }));
          t('bigintReplacer', () => JSON.stringify({ a: 1n }, (k, v) => (typeof v === 'bigint' ? `${v}` : v)));
          t('wrappers', () => JSON.stringify([new String('s'), new Number(1), new Boolean(false), Object(Symbol('s'))]));
          t('specials', () => JSON.stringify([NaN, -0, Infinity, undefined, () => 1, Symbol('x'), null, '\u2028\ud800"\\\\']));
          t('typed', () => JSON.stringify([new Float64Array([1.5, -0]), new Int8Array(0), new DataView(new ArrayBuffer(2))]));
          t('proxy', () => JSON.stringify(new Proxy([1, 2], {}), null, 1));
          t('top', () => [JSON.stringify(undefined), JSON.stringify(() => 1), JSON.stringify('x'), JSON.stringify(new Uint8Array([7]))]);
          t('shape', () => [JSON.stringify.name, JSON.stringify.length, String(JSON.stringify)]);
          t('deep', () => { let v = 0; for (let i = 0; i < 2000; i++) v = [v]; return JSON.stringify(v).length; });
          out.log = log;
          return out;
        };
        const before = run();
        const keep = new ArrayBuffer(1e7);
        const held = run();
        return Response.json({ before, held, kept: keep.byteLength });
      } };
    });
    my $r = $t->get('/t/equivalence');
    is $r->{status}, 200, 'answers' or diag $r->{content}, grep { /exception/ } split /\n/, $t->error_log;
    my $got = eval { decode_json($r->{content}) } || {};
    is_deeply $got->{held}, $got->{before}, 'the same answers, the same calls, in the same order';
    is_deeply [ @{ $got->{before} }{qw(getters replacerFn bigint)} ],
        ['{"1":"one","2":"two","a":{"c":[1,{"d":2}]}}', '{"a":10,"b":[20,30],"c":"x"}',
         'TypeError: Do not know how to serialize a BigInt'], "V8's answers" or diag $r->{content};
    is_deeply $got->{before}{log}, [qw(a c d b), ':object', 'a:object', 'b:object', '0:object', '1:object', 'c:object'],
        'getters and the replacer called once each, in order' or diag explain $got->{before}{log};
    like $got->{held}{cycle}, qr/^TypeError: Converting circular structure to JSON/, 'a cycle is a TypeError';
};

done_testing;
