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
      language: () => navigator.language,
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
is $got->{language}, 'en', 'navigator.language is "en", as on Workers';
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

# ---- iterator helpers (ES2025) ----

$got = run_checks('iterators', q{
    // An iterator over 1, 2, 3, ... (up to `end`) that records the calls of its return().
    class Counting extends Iterator {
      constructor(end = Infinity) { super(); this.n = 0; this.end = end; this.closed = 0; }
      next() { return this.n < this.end ? { value: ++this.n, done: false } : { value: undefined, done: true }; }
      return() { this.closed++; return {}; }
    }
    const caught = (f) => { try { f(); return 'no error'; } catch (e) { return e.name; } };
    export default { fetch: () => results({
      shapes: () => {
        const d = Object.getOwnPropertyDescriptor(globalThis, 'Iterator');
        const p = Object.getOwnPropertyDescriptor(Iterator, 'prototype');
        return [typeof Iterator, Iterator.length, d.enumerable, d.writable, p.writable, p.configurable,
                ['map', 'filter', 'take', 'drop', 'flatMap', 'reduce', 'toArray', 'forEach', 'some', 'every', 'find'].map((n) => [Iterator.prototype[n].length, Object.getOwnPropertyDescriptor(Iterator.prototype, n).enumerable]),
                Iterator.from.length];
      },
      prototypeIsIteratorPrototype: () => Iterator.prototype === Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())),
      notConstructible: () => [caught(() => new Iterator()), caught(() => Iterator()), caught(() => new Iterator.prototype.map(() => 1))],
      subclass: () => { const c = new Counting(); return [c instanceof Iterator, c.take(3).toArray()]; },
      arrayChain: () => [1, 2, 3].values().map((x) => x * 2).toArray(),
      builtinIterators: () => {
        function* gen() { yield 'g1'; yield 'g2'; }
        return [new Map([['a', 1], ['b', 2]]).keys().toArray(), new Set([1, 2, 3]).values().filter((x) => x !== 2).toArray(),
                'a\u{1F600}b'[Symbol.iterator]().toArray().length, gen().map((s) => s.toUpperCase()).toArray()];
      },
      mapFilterIndices: () => [['a', 'b', 'c'].values().map((v, i) => `${v}${i}`).toArray(), [5, 6, 7, 8].values().filter((v, i) => i % 2).toArray()],
      takeDrop: () => [new Counting().drop(2).take(3).toArray(), new Counting(5).drop(Infinity).toArray(), new Counting(3).take(Infinity).toArray(), new Counting().take(0).toArray()],
      flatMap: () => [1, 2, 3].values().flatMap((x) => (x === 2 ? [] : [x, x * 10].values())).toArray(),
      flatMapIterables: () => ['ab', 'c'].values().flatMap((s) => new Set([s, s])).toArray(),
      reduce: () => [[1, 2, 3].values().reduce((a, b) => a + b), [1, 2, 3].values().reduce((a, b, i) => a + b * i, 100), [].values().reduce((a) => a, 'init')],
      reduceEmpty: () => caught(() => [].values().reduce((a, b) => a + b)),
      forEach: () => { const seen = []; const r = ['x', 'y'].values().forEach((v, i) => seen.push(`${v}${i}`)); return [seen, r]; },
      someEveryFind: () => [[1, 2].values().some((x) => x > 1), [1, 2].values().some((x) => x > 2), [1, 2].values().every((x) => x > 0),
                            [1, 2].values().every((x) => x > 1), [1, 2, 3].values().find((x) => x > 1), [1].values().find((x) => x > 1)],
      toStringTag: () => {
        const d = Object.getOwnPropertyDescriptor(Iterator.prototype, Symbol.toStringTag);
        return [typeof d.get, typeof d.set, d.enumerable, Iterator.prototype[Symbol.toStringTag], Object.prototype.toString.call(new Counting()),
                Object.prototype.toString.call([].values().map((x) => x)), Object.prototype.toString.call([].values())];
      },
      constructorAccessor: () => {
        const d = Object.getOwnPropertyDescriptor(Iterator.prototype, 'constructor');
        return [typeof d.get, d.enumerable, Iterator.prototype.constructor === Iterator, [].values().constructor === Iterator];
      },
      setterWritesOwn: () => {
        const o = Object.create(Iterator.prototype);
        o.constructor = 'mine';
        o[Symbol.toStringTag] = 'Mine';
        return [o.constructor, Object.prototype.toString.call(o), Iterator.prototype.constructor === Iterator, caught(() => { Iterator.prototype.constructor = 1; })];
      },
      helperPrototype: () => {
        const h = [].values().map((x) => x);
        const p = Object.getPrototypeOf(h);
        return [Object.getPrototypeOf(p) === Iterator.prototype, Object.getOwnPropertyNames(p).sort(), p === Object.getPrototypeOf([].values().filter(Boolean)),
                h.constructor === Iterator, caught(() => p.next.call({})), caught(() => p.return.call([].values()))];
      },
      badCallbackCloses: () => ['map', 'filter', 'flatMap', 'reduce', 'forEach', 'some', 'every', 'find'].map((m) => { const c = new Counting(); return [caught(() => c[m]('no')), c.closed, c.n]; }),
      badLimitCloses: () => [-1, NaN, -Infinity, { valueOf() { throw new SyntaxError('limit'); } }].flatMap((limit) => ['take', 'drop'].map((m) => { const c = new Counting(); return [caught(() => c[m](limit)), c.closed]; })),
      limitConversion: () => [new Counting().take('2').toArray(), new Counting(4).drop(1.9).toArray(), new Counting().take(-0.5).toArray()],
      takeClosesAtLimit: () => { const c = new Counting(); const got = c.take(2).toArray(); return [got, c.closed, c.n]; },
      takeZeroClosesOnNext: () => { const c = new Counting(); const h = c.take(0); const before = c.closed; h.next(); return [before, c.closed, c.n]; },
      earlyExitCloses: () => {
        const closedAfter = (f) => { const c = new Counting(); const r = f(c); return [r, c.closed]; };
        return [closedAfter((c) => c.some((x) => x === 2)), closedAfter((c) => c.every((x) => x < 3)), closedAfter((c) => c.find((x) => x === 4))];
      },
      exhaustedNotClosed: () => { const c = new Counting(3); return [c.some((x) => x > 5), c.every((x) => x > 0), c.closed]; },
      callbackThrowCloses: () => {
        const c = new Counting();
        const h = c.map((x) => { if (x === 2) throw new SyntaxError('mapper'); return x; });
        return [h.next().value, caught(() => h.next()), c.closed, h.next().done, c.closed];
      },
      returnErrorLosesToCallbackError: () => {
        const c = new Counting();
        c.return = () => { throw new RangeError('from return'); };
        return caught(() => c.forEach(() => { throw new SyntaxError('from callback'); }));
      },
      nextThrowDoesNotClose: () => {
        const c = new Counting();
        c.next = () => { throw new SyntaxError('next'); };
        const h = c.map((x) => x);
        return [caught(() => h.next()), c.closed, h.next().done];
      },
      helperReturn: () => {
        const a = new Counting(); const ha = a.map((x) => x); const ra = ha.return();
        const b = new Counting(); const hb = b.filter(() => true); hb.next(); hb.return(); hb.return();
        const c = new Counting(1); const hc = c.map((x) => x); hc.next(); hc.next(); hc.return();
        return [ra, ha.next(), a.closed, a.n, b.closed, c.closed];
      },
      returnResultMustBeObject: () => { const c = new Counting(); c.return = () => 1; return [caught(() => c.take(1).toArray()), caught(() => c.some(() => true))]; },
      flatMapReturnClosesInner: () => {
        const outer = new Counting(); const inner = new Counting();
        const h = outer.flatMap(() => inner);
        h.next(); h.return();
        return [inner.closed, outer.closed];
      },
      flatMapRejectsStrings: () => { const c = new Counting(); const h = c.flatMap((x) => `${x}`); return [caught(() => h.next()), c.closed]; },
      reentrantNext: () => { let h; h = [1, 2].values().map(() => h.next()); return [caught(() => h.next()), h.next().done]; },
      fromWraps: () => {
        let closed = 0;
        const plain = { i: 0, next() { return { value: this.i++, done: this.i > 3 }; }, return() { closed++; return {}; } };
        const w = Iterator.from(plain);
        const p = Object.getPrototypeOf(w);
        return [w instanceof Iterator, w !== plain, Object.getPrototypeOf(p) === Iterator.prototype, Object.getOwnPropertyNames(p).sort(), w.take(1).toArray(), closed];
      },
      fromSameIterator: () => { const it = [1].values(); const c = new Counting(); return [Iterator.from(it) === it, Iterator.from(c) === c, Iterator.from(new Set([7])).toArray()]; },
      fromIterableAndString: () => [Iterator.from([1, 2]).map((x) => x + 1).toArray(), Iterator.from('h\u{1F600}').toArray().length],
      fromRejects: () => [caught(() => Iterator.from(5)), caught(() => Iterator.from(null)), caught(() => Iterator.from({ [Symbol.iterator]: () => 1 }))],
      thisNotObject: () => [caught(() => Iterator.prototype.map.call(1, (x) => x)), caught(() => Iterator.prototype.toArray.call(undefined))],
      lazy: () => { const c = new Counting(); const h = c.map((x) => x * 2); const before = c.n; const first = h.next(); return [before, first, c.n]; },
    }) };
});
is_deeply $got->{shapes}, ['function', 0, $F, $T, $F, $F, [map { [$_, $F] } 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1], 1],
    'Iterator: a non-enumerable global; Iterator.prototype fixed; the methods non-enumerable, of the standard lengths';
is $got->{prototypeIsIteratorPrototype}, $T, 'Iterator.prototype is %IteratorPrototype%, which array iterators inherit';
is_deeply $got->{notConstructible}, ['TypeError', 'TypeError', 'TypeError'], 'new Iterator() and Iterator() are TypeErrors; the methods are not constructors';
is_deeply $got->{subclass}, [$T, [1, 2, 3]], 'a class extending Iterator constructs and has the helpers';
is_deeply $got->{arrayChain}, [2, 4, 6], '[1, 2, 3].values().map(...).toArray()';
is_deeply $got->{builtinIterators}, [['a', 'b'], [1, 3], 3, ['G1', 'G2']], 'Map, Set, string and generator iterators have the helpers';
is_deeply $got->{mapFilterIndices}, [['a0', 'b1', 'c2'], [6, 8]], 'map and filter pass the value and a counter';
is_deeply $got->{takeDrop}, [[3, 4, 5], [], [1, 2, 3], []], 'take and drop, with Infinity and 0';
is_deeply $got->{flatMap}, [1, 10, 3, 30], 'flatMap flattens the iterators the mapper returns';
is_deeply $got->{flatMapIterables}, ['ab', 'c'], 'flatMap iterates iterables the mapper returns (here Sets)';
is_deeply $got->{reduce}, [6, 108, 'init'], 'reduce with and without an initial value, with the counter';
is $got->{reduceEmpty}, 'TypeError', 'reduce of an empty iterator without an initial value is a TypeError';
is_deeply $got->{forEach}, [['x0', 'y1'], undef], 'forEach calls with value and counter and returns undefined';
is_deeply $got->{someEveryFind}, [$T, $F, $T, $F, 2, undef], 'some, every, find';
is_deeply $got->{toStringTag}, ['function', 'function', $F, 'Iterator', '[object Iterator]', '[object Iterator Helper]', '[object Array Iterator]'],
    'Symbol.toStringTag: an accessor giving "Iterator"; helpers are "Iterator Helper"';
is_deeply $got->{constructorAccessor}, ['function', $F, $T, $T], 'Iterator.prototype.constructor: an accessor giving Iterator';
is_deeply $got->{setterWritesOwn}, ['mine', '[object Mine]', $T, 'TypeError'],
    'assigning constructor or Symbol.toStringTag on an iterator makes its own property; on Iterator.prototype it is a TypeError';
is_deeply $got->{helperPrototype}, [$T, ['next', 'return'], $T, $T, 'TypeError', 'TypeError'],
    '%IteratorHelperPrototype%: next and return, shared by the helpers, refusing other objects';
is_deeply $got->{badCallbackCloses}, [map { ['TypeError', 1, 0] } 1 .. 8], 'a callback that is not a function: TypeError, the iterator closed and never stepped';
is_deeply $got->{badLimitCloses}, [(['RangeError', 1]) x 6, (['SyntaxError', 1]) x 2],
    'take/drop with a negative or NaN limit: RangeError; a limit that throws: its error; the iterator closed';
is_deeply $got->{limitConversion}, [[1, 2], [2, 3, 4], []], 'the limit is converted to a number and truncated';
is_deeply $got->{takeClosesAtLimit}, [[1, 2], 1, 2], 'take closes the iterator when the limit is reached, without stepping further';
is_deeply $got->{takeZeroClosesOnNext}, [0, 1, 0], 'take(0) closes the iterator on the first next(), not before';
is_deeply $got->{earlyExitCloses}, [[$T, 1], [$F, 1], [4, 1]], 'some, every and find close the iterator when they stop early';
is_deeply $got->{exhaustedNotClosed}, [$F, $T, 0], 'an iterator run to its end is not closed';
is_deeply $got->{callbackThrowCloses}, [1, 'SyntaxError', 1, $T, 1], "the mapper's exception closes the iterator, is rethrown, and ends the helper";
is $got->{returnErrorLosesToCallbackError}, 'SyntaxError', "when closing after the callback's exception, return()'s own error is dropped";
is_deeply $got->{nextThrowDoesNotClose}, ['SyntaxError', 0, $T], "an exception of the iterator's next() does not close it and ends the helper";
is_deeply $got->{helperReturn}, [{ done => $T }, { done => $T }, 1, 0, 1, 0],
    'helper.return() closes the iterator once (before the start too), not after it is done';
is_deeply $got->{returnResultMustBeObject}, ['TypeError', 'TypeError'], 'closing on an early stop: a return() result that is not an object is a TypeError';
is_deeply $got->{flatMapReturnClosesInner}, [1, 1], 'return() of a flatMap helper closes the inner iterator, then the outer';
is_deeply $got->{flatMapRejectsStrings}, ['TypeError', 1], 'flatMap refuses a string from the mapper (TypeError) and closes the iterator';
is_deeply $got->{reentrantNext}, ['TypeError', $T], 'next() of a running helper is a TypeError';
is_deeply $got->{fromWraps}, [$T, $T, $T, ['next', 'return'], [0], 1],
    'Iterator.from wraps an iterator that does not inherit from Iterator.prototype, forwarding next and return';
is_deeply $got->{fromSameIterator}, [$T, $T, [7]], 'Iterator.from returns an iterator that inherits from Iterator.prototype itself, iterates iterables';
is_deeply $got->{fromIterableAndString}, [[2, 3], 2], 'Iterator.from of an array and of a string (by code points)';
is_deeply $got->{fromRejects}, ['TypeError', 'TypeError', 'TypeError'], 'Iterator.from of a number, null, or an iterable giving a primitive: TypeError';
is_deeply $got->{thisNotObject}, ['TypeError', 'TypeError'], 'the methods on a non-object this: TypeError';
is_deeply $got->{lazy}, [0, { value => 2, done => $F }, 1], 'helpers are lazy: nothing is stepped before next()';

# The helpers keep working when the tenant replaced what they could have used.
$got = run_checks('iteratorstampered', q{
    // Replaces what a careless helper would call, runs f, puts it all back.
    const tampered = (f) => {
      const saved = [Array.prototype.push, Array.prototype.slice, Array.prototype[Symbol.iterator], Function.prototype.call, Iterator.prototype.map];
      let log = '';
      Object.defineProperty(Array.prototype, '0', { set() { log += 'array setter;'; }, configurable: true });
      Object.defineProperty(Object.prototype, 'value', { get() { log += 'value getter;'; }, configurable: true });
      Array.prototype.push = () => { throw new Error('push'); };
      Array.prototype.slice = () => 'tampered slice';
      Array.prototype[Symbol.iterator] = function* () { yield 'tampered'; };
      Function.prototype.call = () => 'tampered call';
      Iterator.prototype.map = () => 'tampered map';
      let out;
      try { out = f(); } catch (e) { out = `threw ${e}`; }
      delete Array.prototype[0];
      delete Object.prototype.value;
      Array.prototype.push = saved[0]; Array.prototype.slice = saved[1]; Array.prototype[Symbol.iterator] = saved[2];
      Function.prototype.call = saved[3]; Iterator.prototype.map = saved[4];
      return [out, log];
    };
    const values = (array) => Reflect.apply(Array.prototype.values, array, []);
    const describe = (array) => Object.getOwnPropertyNames(array).map((k) => Reflect.getOwnPropertyDescriptor(array, k).value);
    export default { fetch: () => results({
      toArray: () => tampered(() => describe(values([1, 2]).toArray())),
      filterThenToArray: () => tampered(() => describe(values([4, 5, 6]).filter((x) => x > 4).take(1).toArray())),
      fromArray: () => tampered(() => describe(Iterator.from({ next: () => ({ done: true }) }).toArray())),
    }) };
});
is_deeply $got->{toArray}, [[1, 2, 2], ''], 'toArray with push, slice, the array iterator, call, an index setter and a value getter replaced: no tenant code runs';
is_deeply $got->{filterThenToArray}, [[5, 1], ''], 'filter and take do not go through a replaced Iterator.prototype.map or call';
is_deeply $got->{fromArray}, [[0], ''], 'Iterator.from wraps and steps a plain iterator with call replaced';

# ---- Promise.try (ES2025) ----

$got = run_checks('promisetry', q{
    const settled = (p) => p.then((v) => ['fulfilled', v], (e) => ['rejected', e instanceof Error ? e.message : e]);
    export default { fetch: () => results({
      shape: () => { const d = Object.getOwnPropertyDescriptor(Promise, 'try'); return [typeof d.value, d.enumerable, d.writable, d.value.length, d.value.name]; },
      value: () => settled(Promise.try(() => 'now')),
      arguments: () => settled(Promise.try((a, b) => a + b, 40, 2)),
      calledAtOnce: () => { let called = false; Promise.try(() => { called = true; }); return called; },
      throwRejects: () => { let p; const sync = (() => { try { p = Promise.try(() => { throw new Error('boom'); }); return 'no throw'; } catch { return 'threw'; } })(); return settled(p).then((r) => [sync, r]); },
      asyncCallback: () => settled(Promise.try(async () => { await null; return 'later'; })),
      notCallableRejects: () => Promise.try(5).then(() => 'fulfilled', (e) => ['rejected', e.name]),
      subclass: () => { class P extends Promise {} const p = P.try(() => 1); return [p instanceof P, p.constructor === P]; },
      thisNotObject: () => Promise.try.call(1, () => 1),
      thisNotConstructor: () => Promise.try.call({}, () => 1),
    }) };
});
is_deeply $got->{shape}, ['function', $F, $T, 1, 'try'], 'Promise.try: a non-enumerable method of length 1';
is_deeply $got->{value}, ['fulfilled', 'now'], "Promise.try: a promise of the callback's value";
is_deeply $got->{arguments}, ['fulfilled', 42], 'Promise.try passes the further arguments to the callback';
is $got->{calledAtOnce}, $T, 'Promise.try calls the callback at once, not in a later task';
is_deeply $got->{throwRejects}, ['no throw', ['rejected', 'boom']], "the callback's exception rejects the promise instead of being thrown";
is_deeply $got->{asyncCallback}, ['fulfilled', 'later'], 'a promise the callback returns is followed';
is_deeply $got->{notCallableRejects}, ['rejected', 'TypeError'], 'a callback that is not a function: a promise rejected with a TypeError';
is_deeply $got->{subclass}, [$T, $T], 'Promise.try on a subclass makes a promise of that subclass';
like $got->{thisNotObject}, qr/^threw TypeError/, 'Promise.try on a non-object this is a TypeError';
like $got->{thisNotConstructor}, qr/^threw TypeError/, 'Promise.try on a this that is not a constructor is a TypeError';

# ---- explicit resource management: Symbol.dispose, DisposableStack, ... ----

$got = run_checks('disposal', q{
    // `using` as esbuild 0.27 lowers it (--target=es2022): Symbol.dispose is looked up first.
    var __knownSymbol=(name,symbol)=>(symbol=Symbol[name])?symbol:Symbol.for("Symbol."+name);var __typeError=msg=>{throw TypeError(msg)};var __using=(stack,value,async)=>{if(value!=null){if(typeof value!=="object"&&typeof value!=="function")__typeError("Object expected");var dispose,inner;if(async)dispose=value[__knownSymbol("asyncDispose")];if(dispose===void 0){dispose=value[__knownSymbol("dispose")];if(async)inner=dispose}if(typeof dispose!=="function")__typeError("Object not disposable");if(inner)dispose=function(){try{inner.call(this)}catch(e){return Promise.reject(e)}};stack.push([async,dispose,value])}else if(async){stack.push([async])}return value};var __callDispose=(stack,error,hasError)=>{var E=typeof SuppressedError==="function"?SuppressedError:function(e,s,m,_){return _=Error(m),_.name="SuppressedError",_.error=e,_.suppressed=s,_};var fail=e=>error=hasError?new E(e,error,"An error was suppressed during disposal"):(hasError=true,e);var next=it=>{while(it=stack.pop()){try{var result=it[1]&&it[1].call(it[2]);if(it[0])return Promise.resolve(result).then(next,e=>(fail(e),next()))}catch(e){fail(e)}}if(hasError)throw error};return next()};function lowered(log){{var _stack=[];try{const a=__using(_stack,{[Symbol.dispose](){log.push("a")}});const b=__using(_stack,{[Symbol.dispose](){log.push("b")}});log.push("body")}catch(_){var _error=_,_hasError=true}finally{__callDispose(_stack,_error,_hasError)}}return log}
    const caught = (f) => { try { f(); return 'no error'; } catch (e) { return e.name; } };
    const disposable = (log, name) => ({ [Symbol.dispose]() { log.push(name); } });
    export default { fetch: () => results({
      symbols: () => ['dispose', 'asyncDispose'].map((n) => { const d = Object.getOwnPropertyDescriptor(Symbol, n);
        return [typeof d.value, d.value.description, d.writable, d.enumerable, d.configurable, Symbol.for(`Symbol.${n}`) !== d.value]; }),
      usingLowered: () => lowered([]),
      suppressedError: () => {
        const e = new SuppressedError('inner', 'outer', 'msg');
        const plain = SuppressedError(1, 2);
        return [e instanceof Error, e.name, e.message, e.error, e.suppressed, Object.keys(e), Object.prototype.hasOwnProperty.call(plain, 'message'),
                plain instanceof SuppressedError, SuppressedError.length, Object.getPrototypeOf(SuppressedError) === Error, typeof e.stack];
      },
      shapes: () => [DisposableStack.length, AsyncDisposableStack.length, ['use', 'adopt', 'defer', 'move', 'dispose'].map((n) => DisposableStack.prototype[n].length),
                     DisposableStack.prototype[Symbol.dispose] === DisposableStack.prototype.dispose, AsyncDisposableStack.prototype[Symbol.asyncDispose] === AsyncDisposableStack.prototype.disposeAsync,
                     'dispose' in AsyncDisposableStack.prototype, 'disposeAsync' in DisposableStack.prototype,
                     Object.prototype.toString.call(new DisposableStack()), Object.prototype.toString.call(new AsyncDisposableStack()),
                     Object.keys(globalThis).filter((k) => /Dispos|Suppressed/.test(k))],
      needsNew: () => [caught(() => DisposableStack()), caught(() => AsyncDisposableStack())],
      disposeOrder: () => {
        const log = [];
        const stack = new DisposableStack();
        const r = stack.use(disposable(log, 'use'));
        stack.use(null);
        stack.adopt('v', (v) => log.push(`adopt ${v}`));
        stack.defer(function () { log.push(`defer this=${this}`); });
        const before = stack.disposed;
        stack.dispose();
        stack.dispose();
        return [log, before, stack.disposed, typeof r[Symbol.dispose]];
      },
      afterDisposed: () => { const s = new DisposableStack(); s.dispose(); return ['use', 'adopt', 'defer', 'move'].map((m) => caught(() => s[m](() => {}, () => {}))); },
      badArguments: () => { const s = new DisposableStack(); return [caught(() => s.use(1)), caught(() => s.use({})), caught(() => s.use({ [Symbol.dispose]: 1 })), caught(() => s.adopt(1, 'no')), caught(() => s.defer('no')), s.disposed]; },
      errorsSuppressed: () => {
        const s = new DisposableStack();
        s.defer(() => { throw new Error('first added'); });
        s.defer(() => { throw new Error('second added'); });
        try { s.dispose(); return 'no error'; } catch (e) { return [e.name, e.error.message, e.suppressed.message]; }
      },
      oneError: () => { const s = new DisposableStack(); const log = []; s.defer(() => log.push('ran')); s.defer(() => { throw new RangeError('only'); }); return [caught(() => s.dispose()), log]; },
      move: () => {
        const log = [];
        const s = new DisposableStack();
        s.use(disposable(log, 'x'));
        const moved = s.move();
        s.dispose();
        const before = [...log];
        moved.dispose();
        class Sub extends DisposableStack {}
        const sub = new Sub();
        return [before, log, s.disposed, moved instanceof DisposableStack, sub instanceof Sub, Object.getPrototypeOf(sub.move()) === DisposableStack.prototype];
      },
      brandChecks: () => [caught(() => DisposableStack.prototype.dispose.call({})), caught(() => Object.getOwnPropertyDescriptor(DisposableStack.prototype, 'disposed').get.call({}))],
      asyncStack: async () => {
        const log = [];
        const s = new AsyncDisposableStack();
        s.use({ async [Symbol.asyncDispose]() { await null; log.push('async'); } });
        s.use({ [Symbol.dispose]() { log.push('sync'); return new Promise(() => {}); } });
        s.use(undefined);
        s.defer(async () => { log.push('defer'); });
        const p = s.disposeAsync();
        const sync = [...log];
        const r = await p;
        return [p instanceof Promise, sync, log, r, s.disposed];
      },
      asyncErrors: async () => {
        const s = new AsyncDisposableStack();
        s.defer(async () => { throw new Error('a'); });
        s.use({ [Symbol.dispose]() { throw new Error('b'); } });
        try { await s.disposeAsync(); return 'no error'; } catch (e) { return [e.name, e.error.message, e.suppressed.message]; }
      },
      asyncBrandRejects: async () => { const p = AsyncDisposableStack.prototype.disposeAsync.call({}); try { await p; return 'resolved'; } catch (e) { return [p instanceof Promise, e.name]; } },
      iteratorDispose: () => {
        let closed = 0;
        const it = { __proto__: Iterator.prototype, next: () => ({ done: true }), return() { closed++; return {}; } };
        it[Symbol.dispose]();
        [1].values()[Symbol.dispose]();
        return closed;
      },
      asyncIteratorDispose: async () => {
        let closed = 0;
        async function* gen() { try { yield 1; yield 2; } finally { closed++; } }
        const g = gen();
        await g.next();
        const r = await g[Symbol.asyncDispose]();
        return [closed, r, (await g.next()).done];
      },
    }) };
});
is_deeply $got->{symbols}, [['symbol', 'Symbol.dispose', $F, $F, $F, $T], ['symbol', 'Symbol.asyncDispose', $F, $F, $F, $T]],
    'Symbol.dispose and Symbol.asyncDispose: well-known symbols, fixed properties of Symbol';
is_deeply $got->{usingLowered}, ['body', 'b', 'a'], "esbuild's lowering of `using` disposes with Symbol.dispose, last first";
is_deeply $got->{suppressedError}, [$T, 'SuppressedError', 'msg', 'inner', 'outer', [], $F, $T, 3, $T, 'string'],
    'SuppressedError: an Error with non-enumerable error and suppressed, callable without new';
is_deeply $got->{shapes}, [0, 0, [1, 2, 1, 0, 0], $T, $T, $F, $F, '[object DisposableStack]', '[object AsyncDisposableStack]', []],
    'DisposableStack and AsyncDisposableStack: the methods, the dispose aliases, the tags, non-enumerable globals';
is_deeply $got->{needsNew}, ['TypeError', 'TypeError'], 'the stacks are constructors only';
is_deeply $got->{disposeOrder}, [['defer this=undefined', 'adopt v', 'use'], $F, $T, 'function'],
    'dispose() runs defer, adopt and use last first, once; use() returns its value; null is skipped';
is_deeply $got->{afterDisposed}, [('ReferenceError') x 4], 'use, adopt, defer and move on a disposed stack: ReferenceError';
is_deeply $got->{badArguments}, ['TypeError', 'TypeError', 'TypeError', 'TypeError', 'TypeError', $F],
    'use() of a primitive or an object without a dispose method, adopt() and defer() without a function: TypeError';
is_deeply $got->{errorsSuppressed}, ['SuppressedError', 'first added', 'second added'], 'a later error suppresses an earlier one (SuppressedError)';
is_deeply $got->{oneError}, ['RangeError', ['ran']], 'one error is thrown as it is, after every disposer ran';
is_deeply $got->{move}, [[], ['x'], $T, $T, $T, $T], 'move() hands the resources to a new DisposableStack and disposes the old one empty';
is_deeply $got->{brandChecks}, ['TypeError', 'TypeError'], 'the methods and the disposed getter refuse other objects';
is_deeply $got->{asyncStack}, [$T, ['defer'], ['defer', 'sync', 'async'], undef, $T],
    'disposeAsync: last first, each awaited before the next (Symbol.dispose\'s own result is not awaited)';
is_deeply $got->{asyncErrors}, ['SuppressedError', 'a', 'b'], 'disposeAsync rejects with a SuppressedError for a later error';
is_deeply $got->{asyncBrandRejects}, [$T, 'TypeError'], 'disposeAsync on another object: a rejected promise';
is $got->{iteratorDispose}, 1, "Iterator.prototype[Symbol.dispose] calls the iterator's return()";
is_deeply $got->{asyncIteratorDispose}, [1, undef, $T], "an async generator's Symbol.asyncDispose closes it";

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

# ---- Uint8Array to and from base64 and hex (ES2026, in Workers' V8) ----

$got = run_checks('base64', q{
    const descriptor = (target, name) => { const d = Object.getOwnPropertyDescriptor(target, name); return d && [typeof d.value, d.enumerable, d.value.length]; };
    const u8 = (...b) => new Uint8Array(b);
    const name = (f) => { try { f(); return 'no error'; } catch (e) { return e.name; } };
    export default { fetch: () => results({
      shapes: () => [descriptor(Uint8Array.prototype, 'toBase64'), descriptor(Uint8Array.prototype, 'toHex'),
        descriptor(Uint8Array.prototype, 'setFromBase64'), descriptor(Uint8Array.prototype, 'setFromHex'),
        descriptor(Uint8Array, 'fromBase64'), descriptor(Uint8Array, 'fromHex')],
      toBase64: () => [u8(72, 101, 108, 108, 111).toBase64(), u8(72, 101, 108, 108, 111).toBase64({ omitPadding: true }),
        u8(251, 255).toBase64(), u8(251, 255).toBase64({ alphabet: 'base64url' }),
        u8(251, 255).toBase64({ alphabet: 'base64url', omitPadding: true }), u8().toBase64()],
      toHex: () => [u8(202, 254, 208, 13).toHex(), u8(0, 15, 16, 255).toHex(), u8().toHex()],
      fromBase64: () => [Array.from(Uint8Array.fromBase64(' SGVs\nbG8= ')), Array.from(Uint8Array.fromBase64('-_8', { alphabet: 'base64url' })),
        Array.from(Uint8Array.fromBase64('SGVsbG8')), Array.from(Uint8Array.fromBase64('SGVsbG8', { lastChunkHandling: 'stop-before-partial' })),
        Array.from(Uint8Array.fromBase64('SGVsbG9=')), Array.from(Uint8Array.fromBase64('SGV'))],
      fromBase64Errors: () => [name(() => Uint8Array.fromBase64('+/8=', { alphabet: 'base64url' })),
        name(() => Uint8Array.fromBase64('SGVsbG8', { lastChunkHandling: 'strict' })),
        name(() => Uint8Array.fromBase64('SGVsbG9=', { lastChunkHandling: 'strict' })), name(() => Uint8Array.fromBase64('S')),
        name(() => Uint8Array.fromBase64('SGVsbG8=x')), name(() => Uint8Array.fromBase64('SG=s')), name(() => Uint8Array.fromBase64(5)),
        name(() => Uint8Array.fromBase64('', { alphabet: 'hex' })), name(() => Uint8Array.fromBase64('', { lastChunkHandling: 'lax' }))],
      fromHex: () => [Array.from(Uint8Array.fromHex('cafeD00D')), name(() => Uint8Array.fromHex('abc')), name(() => Uint8Array.fromHex('zz'))],
      setFromBase64: () => {
        const small = new Uint8Array(4);
        const big = new Uint8Array(8);
        return [small.setFromBase64('Zm9vYmFy'), Array.from(small), big.setFromBase64('Zm9vYmFy'), Array.from(big)];
      },
      setFromHex: () => {
        const two = new Uint8Array(2);
        const four = new Uint8Array(4);
        return [two.setFromHex('cafed00d'), Array.from(two), name(() => four.setFromHex('cafexx')), Array.from(four)];
      },
      notUint8: () => [name(() => Uint8Array.prototype.toBase64.call(new Uint16Array(2))), name(() => Uint8Array.prototype.toHex.call([1]))],
      roundTrip: () => {
        const bytes = crypto.getRandomValues(new Uint8Array(3001));
        const again = Uint8Array.fromBase64(bytes.toBase64({ alphabet: 'base64url' }), { alphabet: 'base64url' });
        return [again.length, again.every((b, i) => b === bytes[i]), Uint8Array.fromHex(bytes.toHex()).every((b, i) => b === bytes[i]),
          bytes.toBase64() === btoa(String.fromCharCode(...bytes))];
      },
    }) };
});
is_deeply $got->{shapes}, [['function', $F, 0], ['function', $F, 0], ['function', $F, 1], ['function', $F, 1], ['function', $F, 1], ['function', $F, 1]],
    'base64: the methods, non-enumerable, with their lengths';
is_deeply $got->{toBase64}, ['SGVsbG8=', 'SGVsbG8', '+/8=', '-_8=', '-_8', ''], 'base64: toBase64 in both alphabets, padded unless omitPadding';
is_deeply $got->{toHex}, ['cafed00d', '000f10ff', ''], 'base64: toHex';
is_deeply $got->{fromBase64}, [[72, 101, 108, 108, 111], [251, 255], [72, 101, 108, 108, 111], [72, 101, 108], [72, 101, 108, 108, 111], [72, 101]],
    'base64: fromBase64 skips whitespace; loose takes a last partial chunk, stop-before-partial leaves it';
is_deeply $got->{fromBase64Errors}, [('SyntaxError') x 6, ('TypeError') x 3],
    'base64: the other alphabet, strict padding and extra bits, a lone character, data after padding are SyntaxErrors; bad arguments TypeErrors';
is_deeply $got->{fromHex}, [[202, 254, 208, 13], 'SyntaxError', 'SyntaxError'], 'base64: fromHex, either case; odd length or a non-digit is a SyntaxError';
is_deeply $got->{setFromBase64}, [{ read => 4, written => 3 }, [102, 111, 111, 0], { read => 8, written => 6 }, [102, 111, 111, 98, 97, 114, 0, 0]],
    'base64: setFromBase64 stops at whole chunks that fit';
is_deeply $got->{setFromHex}, [{ read => 4, written => 2 }, [202, 254], 'SyntaxError', [202, 254, 0, 0]],
    'base64: setFromHex fills what fits, and keeps what it wrote before bad input';
is_deeply $got->{notUint8}, ['TypeError', 'TypeError'], 'base64: only on a Uint8Array';
is_deeply $got->{roundTrip}, [3001, $T, $T, $T], 'base64: random bytes round trip, and encode as btoa does';

# ---- RegExp.escape (ES2025, in Workers' V8) ----

$got = run_checks('regexpescape', q{
    export default { fetch: () => results({
      shape: () => { const d = Object.getOwnPropertyDescriptor(RegExp, 'escape'); return [typeof d.value, d.enumerable, d.value.length]; },
      escaped: () => ['Buy it. use it.', 'foo', '_x', '(*.*)', '[a]{1}|^$/\\\\', 'a\tb\nc\u000bd\u000ce\rf', ',-=<>#&!%:;@~\'`"',
        '\u00a0\u2028\ufeff\u3000', 'x\ud800y\udc00', 'é😀'].map((s) => RegExp.escape(s)),
      matches: () => [new RegExp(RegExp.escape('1+1=2 (ok?)')).test('so 1+1=2 (ok?)'), new RegExp(`^${RegExp.escape('a.b')}$`).test('axb'),
        new RegExp(RegExp.escape('[x]'), 'u').test('[x]')],
      notString: () => RegExp.escape(5),
    }) };
});
is_deeply $got->{shape}, ['function', $F, 1], 'RegExp.escape: a non-enumerable method of length 1';
is_deeply $got->{escaped}, ['\x42uy\x20it\.\x20use\x20it\.', '\x66oo', '_x', '\(\*\.\*\)', '\[a\]\{1\}\|\^\$\/\\\\',
    '\x61\tb\nc\vd\fe\rf', '\x2c\x2d\x3d\x3c\x3e\x23\x26\x21\x25\x3a\x3b\x40\x7e\x27\x60\x22', '\xa0\u2028\ufeff\u3000',
    '\x78\ud800y\udc00', "\x{e9}\x{1f600}"],
    'RegExp.escape: a leading letter or digit as \xHH, syntax characters and the solidus with a backslash, controls, punctuators, spaces and lone surrogates as escapes';
is_deeply $got->{matches}, [$T, $F, $T], 'RegExp.escape: the escaped text matches itself only';
like $got->{notString}, qr/^threw TypeError/, 'RegExp.escape: a string only';

# ---- Error.isError (ES2026, in Workers' V8) ----

$got = run_checks('iserror', q{
    export default { fetch: () => results({
      shape: () => { const d = Object.getOwnPropertyDescriptor(Error, 'isError'); return [typeof d.value, d.enumerable, d.value.length]; },
      errors: () => [new Error('x'), new TypeError('x'), new (class extends RangeError {})(), new DOMException('x', 'AbortError'),
        new AggregateError([]), new SuppressedError(1, 2), new URIError()].map((e) => Error.isError(e)),
      lookalikes: () => [Object.create(Error.prototype), { name: 'Error', message: 'x', stack: '' },
        { [Symbol.toStringTag]: 'Error' }, new Proxy(new Error('x'), {}), null, 'Error', Error].map((e) => Error.isError(e)),
      prototypeSwapped: () => { const e = new Error('x'); Object.setPrototypeOf(e, null); return Error.isError(e); },
      noArgument: () => Error.isError(),
    }) };
});
is_deeply $got->{shape}, ['function', $F, 1], 'Error.isError: a non-enumerable method of length 1';
is_deeply $got->{errors}, [($T) x 7], 'Error.isError: true for what Error constructors made, subclasses and DOMException included';
is_deeply $got->{lookalikes}, [($F) x 7],
    'Error.isError: false for objects that only look like errors (prototype, properties, toStringTag, a Proxy of an error)';
is $got->{prototypeSwapped}, $T, 'Error.isError: an error whose prototype was replaced is still one';
is $got->{noArgument}, $F, 'Error.isError: false without an argument';

# ---- WebSocket: the interface, no transport ----
# supabase-js's createClient() looks for the global WebSocket (as on Workers)
# and throws without one, though no socket is opened until a subscription.
$got = run_checks('websocket', q{
    export default { fetch: () => results({
      supabaseDetect: () => typeof WebSocket !== 'undefined' ? 'native' : 'Unknown JavaScript runtime without WebSocket support',
      fails: () => new Promise((resolve) => {
        const seen = [];
        const ws = new WebSocket('wss://realtime.example/socket?vsn=2.0.0');
        ws.onopen = () => seen.push('open');
        ws.onerror = (e) => seen.push(`error ${e.type} ${ws.readyState}`);
        ws.addEventListener('close', (e) => {
          seen.push(`close ${e.code} ${e.wasClean} ${e instanceof CloseEvent}`);
          resolve(seen);
        });
        seen.push(`made ${ws.readyState} ${ws.url}`);
      }),
      sendWhileConnecting: () => { try { new WebSocket('ws://a.example').send('x'); return 'sent'; } catch (e) { return e.name; } },
      badUrls: () => ['ftp://a.example/', 'wss://a.example/#f', 'not a url', 'ws://a.example'].map((u, i) => {
        try { return new WebSocket(u, i === 3 ? ['chat', 'CHAT'] : undefined).url; } catch (e) { return e.name; }
      }),
      httpIsWs: () => new WebSocket('https://a.example/x').url,
    }) };
});
is $got->{supabaseDetect}, 'native', 'WebSocket is a global, as on Workers (supabase-js looks for it in createClient)';
is_deeply $got->{fails}, ['made 0 wss://realtime.example/socket?vsn=2.0.0', 'error error 3', 'close 1006 false true'],
    'a WebSocket never connects: in a later turn it is CLOSED, then error, then close 1006 (not clean)';
is $got->{sendWhileConnecting}, 'InvalidStateError', 'send() while connecting is an InvalidStateError';
is_deeply $got->{badUrls}, [('SyntaxError') x 4], 'a scheme other than ws(s)/http(s), a fragment, no URL, or a duplicate protocol: SyntaxError';
is $got->{httpIsWs}, 'wss://a.example/x', 'an https: URL becomes wss:';

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
done_testing;
