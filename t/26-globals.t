#!/usr/bin/perl
# SPEC 5 (issue 4): the Workers globals: structuredClone (HTML), console
# (every method, into nginx's error log at a matching level), navigator,
# queueMicrotask and self; and the list of globals SPEC 5 names.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP qw(decode_json);

my $t = Dispatch::Test->new(
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch api $script; } },
);

sub run_checks {
    my ($name, $code, %req) = @_;
    return $t->run_checks('api', $name, $code, %req);
}
my ($T, $F) = (JSON::PP::true, JSON::PP::false);

# ---- the globals ----

my @functions = qw(Request Response Headers URL URLSearchParams TextEncoder TextDecoder atob btoa structuredClone
    setTimeout clearTimeout setInterval clearInterval queueMicrotask AbortController AbortSignal Event EventTarget
    CustomEvent FormData Blob File DOMException Crypto SubtleCrypto CryptoKey);
my $got = run_checks('globals', q{
    export default { fetch: () => results({
      types: () => Object.fromEntries(['Request', 'Response', 'Headers', 'URL', 'URLSearchParams', 'TextEncoder', 'TextDecoder',
        'atob', 'btoa', 'structuredClone', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'queueMicrotask',
        'AbortController', 'AbortSignal', 'Event', 'EventTarget', 'CustomEvent', 'FormData', 'Blob', 'File', 'DOMException',
        'Crypto', 'SubtleCrypto', 'CryptoKey', 'crypto', 'console', 'navigator', 'self'].map((n) => [n, typeof globalThis[n]])),
      self: () => self === globalThis,
      userAgent: () => navigator.userAgent,
      hardwareConcurrency: () => navigator.hardwareConcurrency,
      navigatorTag: () => Object.prototype.toString.call(navigator),
      notEnumerable: () => Object.keys(globalThis).filter((k) => ['crypto', 'Blob', 'structuredClone', 'navigator'].includes(k)),
      microtaskOrder: async () => {
        const order = [];
        setTimeout(() => order.push('timer'), 0);
        Promise.resolve().then(() => order.push('promise'));
        queueMicrotask(() => order.push('microtask'));
        order.push('sync');
        await new Promise((resolve) => setTimeout(resolve, 5));
        return order;
      },
      microtaskNeedsFunction: () => queueMicrotask('code'),
      microtaskThrows: async () => {
        queueMicrotask(() => { throw new Error('thrown in a microtask 5521'); });
        await new Promise((resolve) => setTimeout(resolve, 1));
        return 'carried on';
      },
    }) };
});
is_deeply $got->{types}, { (map { $_ => 'function' } @functions), crypto => 'object', console => 'object',
    navigator => 'object', self => 'object' }, 'the SPEC 5 globals of this issue exist';
is $got->{self}, $T, 'self is globalThis';
is $got->{userAgent}, 'Cloudflare-Workers', 'navigator.userAgent is "Cloudflare-Workers", as on Workers';
is $got->{hardwareConcurrency}, 1, 'navigator.hardwareConcurrency is 1, as on Workers';
is $got->{navigatorTag}, '[object Navigator]', 'navigator is a Navigator';
is_deeply $got->{notEnumerable}, [], 'the built-in globals are not enumerable';
is_deeply $got->{microtaskOrder}, ['sync', 'promise', 'microtask', 'timer'], 'queueMicrotask() runs after the current code, before timers';
like $got->{microtaskNeedsFunction}, qr/^threw TypeError/, 'queueMicrotask() needs a function';
is $got->{microtaskThrows}, 'carried on', 'an exception in a microtask does not fail the request';
ok $t->wait_for(sub { $t->error_log =~ /\[error\] .*"api\/globals": console: Uncaught \(in queueMicrotask\) Error: thrown in a microtask 5521/ }),
    'it is reported in the error log';

# ---- structuredClone ----

$got = run_checks('clone', q{
    export default { fetch: () => results({
      primitives: () => [1, 'two', true, null, 1.5, -0].map((v) => structuredClone(v)).concat([Object.is(structuredClone(-0), -0), structuredClone(10n) === 10n, structuredClone(undefined) === undefined, Number.isNaN(structuredClone(NaN))]),
      deep: () => { const o = { a: { b: [1, { c: 'd' }] } }; const c = structuredClone(o); c.a.b[1].c = 'changed'; return [o.a.b[1].c, c.a.b[1].c]; },
      cycle: () => { const o = { name: 'root' }; o.self = o; o.list = [o]; const c = structuredClone(o); return [c !== o, c.self === c, c.list[0] === c]; },
      shared: () => { const inner = {}; const c = structuredClone({ a: inner, b: inner }); return c.a === c.b; },
      date: () => { const c = structuredClone(new Date(1700000000000)); return [c instanceof Date, c.getTime()]; },
      regexp: () => { const r = /a+b/gi; r.lastIndex = 3; const c = structuredClone(r); return [c instanceof RegExp, c.source, c.flags, c.lastIndex]; },
      map: () => { const k = { key: 1 }; const c = structuredClone(new Map([[k, 'v'], ['x', k]])); const [[ck, v], [, cv]] = c; return [c instanceof Map, v, ck === cv, ck !== k]; },
      set: () => { const c = structuredClone(new Set([1, 'a', 1])); return [c instanceof Set, [...c]]; },
      arrayBuffer: () => { const b = new Uint8Array([1, 2, 3]).buffer; const c = structuredClone(b); new Uint8Array(b)[0] = 9; return [c instanceof ArrayBuffer, Array.from(new Uint8Array(c))]; },
      typedArrays: () => { const c = structuredClone([new Int16Array([-1, 2]), new Float64Array([0.5]), new BigInt64Array([-3n])]); return [c[0] instanceof Int16Array, Array.from(c[0]), c[1][0], String(c[2][0])]; },
      view: () => { const buf = new ArrayBuffer(8); const c = structuredClone({ a: new Uint8Array(buf, 2, 4), d: new DataView(buf, 1, 2) }); return [c.a.buffer === c.d.buffer, c.a.byteOffset, c.a.length, c.d instanceof DataView, c.d.byteLength, c.a.buffer.byteLength]; },
      errors: () => {
        const e = new RangeError('out of range', { cause: 'why' });
        const c = structuredClone(e);
        const custom = structuredClone(Object.assign(new Error('m'), { name: 'MyError' }));
        return [c instanceof RangeError, c.message, c.cause, typeof c.stack, custom.constructor.name, custom.message];
      },
      domException: () => { const c = structuredClone(new DOMException('gone', 'NotFoundError')); return [c instanceof DOMException, c.name, c.message, c.code]; },
      boxed: () => { const c = structuredClone([new Number(3), new String('s'), new Boolean(false)]); return [typeof c[0], c[0] + 0, String(c[1]), c[2].valueOf()]; },
      arrays: () => { const a = [1, , 3]; a.extra = 'x'; const c = structuredClone(a); return [c.length, 1 in c, c.extra]; },
      classInstance: () => { class Point { constructor() { this.x = 1; } get double() { return 2; } } const c = structuredClone(new Point()); return [c instanceof Point, c.x, Object.getPrototypeOf(c) === Object.prototype]; },
      getters: () => { let calls = 0; const c = structuredClone({ get v() { calls++; return 'got'; } }); return [c.v, calls, typeof Object.getOwnPropertyDescriptor(c, 'v').get]; },
      symbolKeys: () => Object.getOwnPropertySymbols(structuredClone({ [Symbol('k')]: 1 })).length,
      blob: async () => { const f = new File(['file body'], 'f.txt', { type: 'text/plain', lastModified: 5 }); const c = structuredClone({ f, b: new Blob(['blob']) }); return [c.f instanceof File, c.f !== f, c.f.name, c.f.type, c.f.lastModified, await c.f.text(), await c.b.text()]; },
      cryptoKey: async () => {
        const k = await crypto.subtle.importKey('raw', new Uint8Array([1, 2, 3]), { name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
        const c = structuredClone(k);
        const same = async (key) => Array.from(new Uint8Array(await crypto.subtle.sign('HMAC', key, new Uint8Array([0])))).join();
        return [c instanceof CryptoKey, c !== k, c.algorithm.hash.name, await same(c) === await same(k)];
      },
      func: () => structuredClone({ f() {} }),
      symbol: () => structuredClone(Symbol('s')),
      errorName: () => { try { structuredClone(() => {}); } catch (e) { return [e instanceof DOMException, e.name, e.code]; } return 'no error'; },
      headers: () => structuredClone(new Headers()),
      request: () => structuredClone(new Request('https://x.test')),
      weakMap: () => structuredClone(new WeakMap()),
      promise: () => structuredClone(Promise.resolve()),
      transfer: () => { const b = new ArrayBuffer(1); return structuredClone(b, { transfer: [b] }); },
      emptyTransfer: () => structuredClone({ a: 1 }, { transfer: [] }),
      noArgument: () => structuredClone(),
    }) };
});
is_deeply $got->{primitives}, [1, 'two', $T, undef, 1.5, 0, $T, $T, $T, $T], 'primitives clone as themselves (BigInt, -0, NaN, undefined included)';
is_deeply $got->{deep}, ['d', 'changed'], 'objects and arrays are copied deeply';
is_deeply $got->{cycle}, [$T, $T, $T], 'cycles are kept';
is $got->{shared}, $T, 'an object reached twice is cloned once';
is_deeply $got->{date}, [$T, 1700000000000], 'Date';
is_deeply $got->{regexp}, [$T, 'a+b', 'gi', 0], 'RegExp: source and flags (lastIndex is not kept)';
is_deeply $got->{map}, [$T, 'v', $T, $T], 'Map, keys and values cloned, shared ones once';
is_deeply $got->{set}, [$T, [1, 'a']], 'Set';
is_deeply $got->{arrayBuffer}, [$T, [1, 2, 3]], 'ArrayBuffer is copied';
is_deeply $got->{typedArrays}, [$T, [-1, 2], 0.5, '-3'], 'typed arrays keep their type and values';
is_deeply $got->{view}, [$T, 2, 4, $T, 2, 8], 'views onto one buffer still share one (cloned) buffer, offsets kept';
is_deeply $got->{errors}, [$T, 'out of range', 'why', 'string', 'Error', 'm'],
    'errors keep type, message, cause and stack; an unknown name becomes Error';
is_deeply $got->{domException}, [$T, 'NotFoundError', 'gone', 8], 'DOMException is cloneable';
is_deeply $got->{boxed}, ['object', 3, 's', $F], 'boxed primitives stay boxed';
is_deeply $got->{arrays}, [3, $F, 'x'], 'arrays keep length, holes and extra properties';
is_deeply $got->{classInstance}, [$F, 1, $T], 'a class instance becomes a plain object with its own properties';
is_deeply $got->{getters}, ['got', 1, 'undefined'], 'getters are called once and become data properties';
is $got->{symbolKeys}, 0, 'symbol-keyed properties are left out';
is_deeply $got->{blob}, [$T, $T, 'f.txt', 'text/plain', 5, 'file body', 'blob'], 'Blob and File clone with their contents';
is_deeply $got->{cryptoKey}, [$T, $T, 'SHA-256', $T], 'a CryptoKey clones into a key that signs the same';
like $got->{func}, qr/^threw DataCloneError/, 'a function is a DataCloneError';
like $got->{symbol}, qr/^threw DataCloneError/, 'a symbol is a DataCloneError';
is_deeply $got->{errorName}, [$T, 'DataCloneError', 25], 'DataCloneError is a DOMException with code 25';
like $got->{headers}, qr/^threw DataCloneError/, 'Headers is a DataCloneError';
like $got->{request}, qr/^threw DataCloneError/, 'Request is a DataCloneError';
like $got->{weakMap}, qr/^threw DataCloneError/, 'WeakMap is a DataCloneError';
like $got->{promise}, qr/^threw DataCloneError/, 'a Promise is a DataCloneError';
like $got->{transfer}, qr/^threw DataCloneError: structuredClone: transferring objects is not supported/,
    'transfer is not supported here, and the error says so';
is_deeply $got->{emptyTransfer}, { a => 1 }, 'an empty transfer list is fine';
like $got->{noArgument}, qr/^threw TypeError/, 'structuredClone() needs an argument';

# ---- console: every method, into the error log ----

$t->put_script('api', 'console', q{
    export default {
      fetch() {
        console.log('log-line %s=%d', 'n', 42, { nested: [1, 'two'] });
        console.info('info-line');
        console.debug('debug-line');
        console.warn('warn-line');
        console.error('error-line', new TypeError('bad thing'));
        console.assert(1 === 1, 'assert-passes');
        console.assert(1 === 2, 'assert-fails %s', 'here');
        console.dir({ dir: 'line' });
        console.dirxml('dirxml-line');
        console.group('group-outer');
        console.log('in-one-group');
        console.group();
        console.log('in-two-groups');
        console.groupEnd();
        console.groupCollapsed('group-collapsed');
        console.groupEnd();
        console.groupEnd();
        console.groupEnd();
        console.log('after-groups');
        console.count('counter'); console.count('counter'); console.countReset('counter'); console.count('counter');
        console.count();
        console.countReset('never-counted');
        console.time('timer'); console.timeLog('timer', 'timelog-extra'); console.timeEnd('timer');
        console.timeEnd('timer');
        console.table([{ a: 1, b: 'x' }, { a: 2 }]);
        console.table('table-not-an-object');
        (function traced() { console.trace('trace-line'); })();
        console.log('control\nchars\ttab');
        return new Response('logged');
      },
    };
});
is $t->get('/t/console')->{content}, 'logged', 'console: a tenant using every method answers';
ok $t->wait_for(sub { $t->error_log =~ /trace-line/ }), 'console: the lines reach the error log';
my @lines = map { /\[(\w+)\] \d+#\d+: (?:\*\d+ )?dispatch "api\/console": console: (.*?)(?:, request_id: [0-9a-f]{32})?(?:, client: [^,]+, server: .*)?$/ ? "[$1] $2" : () } split /\n/, $t->error_log;
my %has = map { $_ => 1 } @lines;
my $line = sub { my ($want, $name) = @_; ok $has{$want}, "console: $name" or diag "wanted: $want\n", join "\n", @lines };
$line->('[info] log-line n=42 {"nested":[1,"two"]}', 'log at info, with %s/%d substitution and objects rendered');
$line->('[info] info-line', 'info at info');
ok !(grep { /debug-line/ } @lines), 'console: debug goes to nginx\'s debug level (not in an info log)';
$line->('[warn] warn-line', 'warn at warn');
$line->('[error] error-line TypeError: bad thing', 'error at error, an Error shown as name: message');
ok !(grep { /assert-passes/ } @lines), 'console: assert() with a true condition logs nothing';
$line->('[error] Assertion failed: assert-fails here', 'assert() with a false condition logs at error');
$line->('[info] {"dir":"line"}', 'dir');
$line->('[info] dirxml-line', 'dirxml');
$line->('[info] group-outer', 'group() logs its label');
$line->('[info]   in-one-group', 'inside a group lines are indented by two spaces');
$line->('[info]     in-two-groups', 'nested groups indent further');
$line->('[info]   group-collapsed', 'groupCollapsed() is a group');
$line->('[info] after-groups', 'groupEnd() undoes the indentation (extra groupEnd() is harmless)');
is_deeply [grep { /counter|default:/ } @lines], ['[info] counter: 1', '[info] counter: 2', '[info] counter: 1', '[info] default: 1'],
    'console: count() counts per label, countReset() starts again, the default label is "default"';
$line->("[warn] Count for 'never-counted' does not exist", 'countReset() of an unknown label warns');
ok((grep { /^\[info\] timer: \d+ms timelog-extra$/ } @lines), 'console: timeLog() logs the time so far and its data');
ok((grep { /^\[info\] timer: \d+ms$/ } @lines), 'console: timeEnd() logs the time');
$line->("[warn] Timer 'timer' does not exist", 'timeEnd() of an ended timer warns');
my @table = grep { /^\[info\] [┌│├└]/ } @lines;
is_deeply \@table, [
    '[info] ┌─────────┬───┬─────┐',
    '[info] │ (index) │ a │ b   │',
    '[info] ├─────────┼───┼─────┤',
    '[info] │ 0       │ 1 │ "x" │',
    '[info] │ 1       │ 2 │     │',
    '[info] └─────────┴───┴─────┘',
], 'console: table() draws a table, one log line per row (simplified from Node\'s)';
$line->('[info] table-not-an-object', 'table() of a primitive logs it');
ok((grep { /^\[info\] Trace: trace-line; at traced \(worker\.js:\d+:\d+\); at Object\.fetch \(worker\.js:\d+:\d+\)/ } @lines),
    'console: trace() logs the message and the tenant\'s stack on one line') or diag join "\n", grep { /Trace/ } @lines;
$line->('[info] control\nchars	tab', 'control characters are escaped: one call, one line');

# ---- the language's newer library: what Workers' V8 has and 10.2 lacks ----

$got = run_checks('language', q{
    const descriptor = (target, name) => { const d = Object.getOwnPropertyDescriptor(target, name); return d && [typeof d.value, d.enumerable, d.value.length]; };
    const sorted = (set) => [...set].sort();
    export default { fetch: () => results({
      shapes: () => [descriptor(Array.prototype, 'toSorted'), descriptor(Array.prototype, 'toSpliced'), descriptor(Array.prototype, 'with'),
                     descriptor(Object, 'groupBy'), descriptor(Promise, 'withResolvers'), descriptor(Array, 'fromAsync'), descriptor(Set.prototype, 'union')],
      toSorted: () => { const a = [3, 1, undefined, 2]; const b = a.toSorted(); return [b, a, [3, 1, 2].toSorted((x, y) => y - x)]; },
      toSortedBadComparator: () => [1].toSorted('no'),
      toSortedHoles: () => Array.prototype.toSorted.call({ length: 3, 0: 'b', 2: 'a' }),
      toReversed: () => { const a = [1, 2, 3]; return [a.toReversed(), a]; },
      toSpliced: () => { const a = [1, 2, 3, 4]; return [a.toSpliced(1, 2, 'x'), a.toSpliced(-1), a.toSpliced(), a.toSpliced(2), a]; },
      with: () => { const a = [1, 2, 3]; return [a.with(0, 9), a.with(-1, 8), a]; },
      withOutOfRange: () => [1].with(1, 0),
      typed: () => { const t = new Int16Array([3, -1, 2]); return [Array.from(t.toSorted()), Array.from(t.toReversed()), Array.from(t.with(1, 7)), Array.from(t), t.toSorted() instanceof Int16Array]; },
      bigTyped: () => String(new BigInt64Array([1n, 2n]).with(0, 5n)[0]),
      groupBy: () => { const g = Object.groupBy([1, 2, 3, 4], (n) => (n % 2 ? 'odd' : 'even')); return [Object.getPrototypeOf(g), g.odd, g.even]; },
      mapGroupBy: () => { const g = Map.groupBy([1, 2, 3], (n) => (n > 1 ? -0 : 'small')); return [g.get(0), g.get('small'), [...g.keys()].map((k) => Object.is(k, -0))]; },
      withResolvers: async () => { const { promise, resolve } = Promise.withResolvers(); setTimeout(() => resolve('later'), 1); return [await promise, promise instanceof Promise]; },
      fromAsync: async () => {
        async function* gen() { yield 1; yield 2; }
        return [await Array.fromAsync(gen()), await Array.fromAsync([Promise.resolve('a'), 'b']), await Array.fromAsync({ length: 2, 0: 'x', 1: 'y' }),
                await Array.fromAsync([1, 2], (n) => n * 10)];
      },
      wellFormed: () => ['ab'.isWellFormed(), 'a\uD800'.isWellFormed(), '\uD83D\uDE00'.isWellFormed(), 'a\uDC00b'.toWellFormed()],
      setMethods: () => {
        const a = new Set([1, 2, 3]);
        const b = new Set([3, 4]);
        return [sorted(a.union(b)), sorted(a.intersection(b)), sorted(a.difference(b)), sorted(a.symmetricDifference(b)),
                new Set([1]).isSubsetOf(a), a.isSupersetOf(new Set([1, 2])), a.isDisjointFrom(new Set([9])), a.isDisjointFrom(b), sorted(a)];
      },
      setLike: () => sorted(new Set([1, 2]).union({ size: 1, has: () => false, keys: () => [5][Symbol.iterator]() })),
      setLikeBad: () => new Set().union({ size: NaN, has() {}, keys() {} }),
      setOnNonSet: () => Set.prototype.union.call({}, new Set()),
    }) };
});
is_deeply $got->{shapes}, [map { ['function', $F, $_] } 1, 2, 2, 2, 0, 1, 1], 'the methods are non-enumerable functions of the standard lengths';
is_deeply $got->{toSorted}, [[1, 2, 3, undef], [3, 1, undef, 2], [3, 2, 1]], 'toSorted copies and sorts (undefined last), the original stays';
like $got->{toSortedBadComparator}, qr/^threw TypeError/, 'toSorted with a comparator that is not a function is a TypeError';
is_deeply $got->{toSortedHoles}, ['a', 'b', undef], 'toSorted on an array-like reads holes as undefined';
is_deeply $got->{toReversed}, [[3, 2, 1], [1, 2, 3]], 'toReversed';
is_deeply $got->{toSpliced}, [[1, 'x', 4], [1, 2, 3], [1, 2, 3, 4], [1, 2], [1, 2, 3, 4]], 'toSpliced, as splice would on a copy';
is_deeply $got->{with}, [[9, 2, 3], [1, 2, 8], [1, 2, 3]], 'with, negative indices too';
like $got->{withOutOfRange}, qr/^threw RangeError/, 'with past the end is a RangeError';
is_deeply $got->{typed}, [[-1, 2, 3], [2, -1, 3], [3, 7, 2], [3, -1, 2], $T], 'typed arrays: toSorted, toReversed, with, of the same kind';
is $got->{bigTyped}, '5', 'with on a BigInt64Array';
is_deeply $got->{groupBy}, [undef, [1, 3], [2, 4]], 'Object.groupBy: a null-prototype object of arrays';
is_deeply $got->{mapGroupBy}, [[2, 3], [1], [$F, $F]], 'Map.groupBy: -0 is +0 as a key';
is_deeply $got->{withResolvers}, ['later', $T], 'Promise.withResolvers';
is_deeply $got->{fromAsync}, [[1, 2], ['a', 'b'], ['x', 'y'], [10, 20]], 'Array.fromAsync: async iterables, promises, array-likes, a map function';
is_deeply $got->{wellFormed}, [$T, $F, $T, "a\x{FFFD}b"], 'isWellFormed and toWellFormed';
is_deeply $got->{setMethods}, [[1, 2, 3, 4], [3], [1, 2], [1, 2, 4], $T, $T, $T, $F, [1, 2, 3]], 'the Set methods';
is_deeply $got->{setLike}, [1, 2, 5], 'a set-like argument (size, has, keys)';
like $got->{setLikeBad}, qr/^threw TypeError/, 'a set-like whose size is NaN is a TypeError';
like $got->{setOnNonSet}, qr/^threw TypeError/, 'a Set method on something that is not a Set is a TypeError';

# ---- eval during startup (Workers' allow_eval_during_startup) ----

# From a 2025-06-01 compatibility date (or with allow_eval_during_startup;
# not with disallow_eval_during_startup) eval and new Function work while
# the top level runs, as on Workers; in a request they are an EvalError.
my $EVAL_AT_TOP = q{
    const double = new Function('a', 'return a * 2');
    const sum = eval('40 + 2');
    const evalLater = () => eval('1');
    const refused = (f) => { try { f(); return 'ran'; } catch (e) { return `${e.name}: ${e.message}`; } };
    export default { fetch: () => Response.json({
      double: double(21), sum,
      evalInRequest: refused(() => eval('1')),
      functionInRequest: refused(() => new Function('return 1')),
      madeAtStartupEvalsLater: refused(evalLater),
    }) };
};
$t->put_script('api', 'evalstartup', $EVAL_AT_TOP, metadata => '{"compatibility_date":"2025-06-01"}');
{
    my $r = $t->get('/t/evalstartup');
    is $r->{status}, 200, 'a 2025-06-01 date: eval and new Function at the top level' or diag $r->{content};
    my $got = eval { decode_json($r->{content}) } || {};
    is_deeply [ @$got{qw(double sum)} ], [42, 42], 'compile and run there';
    like $got->{evalInRequest}, qr/^EvalError: Code generation from strings disallowed/, 'eval in a request is an EvalError';
    like $got->{functionInRequest}, qr/^EvalError/, 'new Function in a request too';
    like $got->{madeAtStartupEvalsLater}, qr/^EvalError/, 'and a function made at startup that evals in a request';
}
for my $case (['evalolddate', '{"compatibility_date":"2025-05-31"}', 'an earlier date'],
              ['evaloptout', '{"compatibility_date":"2025-09-01","compatibility_flags":["disallow_eval_during_startup"]}',
               'disallow_eval_during_startup']) {
    my ($name, $meta, $why) = @$case;
    $t->put_script('api', $name, $EVAL_AT_TOP, metadata => $meta);
    is $t->get("/t/$name")->{status}, 500, "$why: eval at the top level fails the start";
    ok $t->wait_for(sub { $t->error_log =~ /"api\/$name": the script failed to start: EvalError: Code generation from strings disallowed/ }),
        "$why: with an EvalError in the error log";
}
$t->put_script('api', 'evalflag', $EVAL_AT_TOP, metadata => '{"compatibility_date":"2024-01-01","compatibility_flags":["allow_eval_during_startup"]}');
is decode_json($t->get('/t/evalflag')->{content})->{sum}, 42, 'allow_eval_during_startup with an earlier date';
$t->put_script('api', 'evalspin', q{
    const spin = new Function('for (;;) {}');
    spin();
    export default { fetch: () => new Response('never') };
}, metadata => '{"compatibility_date":"2025-09-01"}');
my $spin = $t->get('/t/evalspin');
is $spin->{status}, 503, 'code made from a string at startup is under dispatch_startup_cpu_limit';

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
done_testing;
