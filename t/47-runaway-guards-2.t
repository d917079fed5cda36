#!/usr/bin/perl
# The guards that do a builtin's work in pieces (engine/js/runaway_guards.js:
# join in slices, a default sort through a comparator that orders as the
# default one, includes/indexOf/lastIndexOf of a BigInt or a long string in
# a loop, Object.fromEntries one key at a time, JSON.parse's count of long
# keys) answer exactly what the builtins answer: each check is a script's
# expression and the value the language defines for it, side by side.
# t/69-attack-findings-9.t has the inputs that made them necessary.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP;

# The checks build texts of megabytes: more CPU than the default.
my $t = Dispatch::Test->new(
    http   => 'dispatch_cpu_limit 5s;',
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch api $script; } },
);
my ($T, $F) = (JSON::PP::true, JSON::PP::false);

# [name, JavaScript (a function body returning JSON), expected]
my @checks = (
    # ---- join ----
    ['join of primitives', q{ return [1, 'a', null, undefined, true, -0].join(); }, '1,a,,,true,0'],
    ['join of objects past the first slice, in order',
        q{ const seen = []; const a = Array.from({ length: 40 }, (_, i) => ({ toString() { seen.push(i); return `o${i}`; } }));
           const s = a.join('-'); return [s === a.map((_, i) => `o${i}`).join('-'), seen.join() === a.map((_, i) => i).join()]; },
        [$T, $T]],
    ['join converts its separator once',
        q{ let n = 0; const sep = { toString() { n++; return '|'; } };
           return [Array.from({ length: 20 }, () => 1n).join(sep), n]; },
        [join('|', ('1') x 20), 1]],
    ['join of 70,000 numbers is every number',
        q{ const a = Array.from({ length: 70000 }, (_, i) => i / 4); const s = a.join(';');
           let expected = ''; for (let i = 0; i < a.length; i++) expected += (i ? ';' : '') + String(i / 4);
           return [s === expected, s.length]; },
        [$T, 515559]],
    ['join of an array that contains itself answers empty for it',
        q{ const a = Array.from({ length: 30 }, () => ({})); a.push(a); const b = [a, 'x']; a.push(b);
           return a.join(); },
        join(',', ('[object Object]') x 30) . ',,,x'],
    ['join reads a hole through the prototype',
        q{ const a = new Array(12).fill({}); delete a[5]; Array.prototype[5] = 'proto';
           try { return a.join().split(',')[5]; } finally { delete Array.prototype[5]; } },
        'proto'],
    ['join passes a throwing toString on, and works again after',
        q{ let fail = true; const a = Array.from({ length: 30 }, (_, i) => ({ toString() { if (fail && i === 20) throw new TypeError('no 20'); return 'e'; } }));
           let first; try { a.join(); } catch (e) { first = `${e.name}: ${e.message}`; }
           fail = false; return [first, a.join('').length]; },
        ['TypeError: no 20', 30]],
    ['join of an array-like through call',
        q{ return Array.prototype.join.call({ length: 3, 0: 'a', 2: 2n }, '+'); }, 'a++2'],
    ['join of a BigInt64Array of 70,000 elements',
        q{ const s = new BigInt64Array(70000).fill(-5n).join(); return s === Array(70000).fill('-5').join(); }, $T],
    ['String() of a Float64Array of 70,000 elements',
        q{ const a = new Float64Array(70000).map((_, i) => i + 0.5); return String(a) === Array.from(a).join(','); }, $T],
    ['a typed array join takes its separator',
        q{ return new Uint8Array([1, 2, 3]).join(' / '); }, '1 / 2 / 3'],

    # ---- sort without a comparator ----
    ['a default sort orders BigInts, objects and strings by their strings',
        q{ const o = { toString() { return 'a'; } };
           return [3, 1n, 'b', o, undefined, 2, 10n].sort().map((v) => v === o ? 'o' : v === undefined ? 'u' : `${typeof v}:${v}`); },
        ['bigint:1', 'bigint:10', 'number:2', 'number:3', 'o', 'string:b', 'u']],
    ['a default sort puts holes last and keeps the count',
        q{ const o = { toString() { return 'a'; } }; const a = [, 'b', o, , 5n]; const r = a.sort();
           return [r === a, a.length, a[0] === 5n, a[1] === o, a[2], 3 in a, 4 in a]; },
        [$T, 5, $T, $T, 'b', $F, $F]],
    ['a default sort is stable',
        q{ const mk = (s, id) => ({ toString: () => s, id }); const a = [mk('b', 1), mk('a', 2), mk('b', 3), mk('a', 4)];
           return a.sort().map((o) => o.id); },
        [2, 4, 1, 3]],
    ['a default sort compares long strings by code units',
        q{ const s = 'x'.repeat(300); return [s + 'b', s + 'a', s + 'B', 1n].sort().map((v) => String(v).slice(300)); },
        ['', 'B', 'a', 'b']],
    ['a default sort of a Symbol among objects throws as ever',
        q{ try { [{}, Symbol('s'), {}].sort(); return 'sorted'; } catch (e) { return e.name; } }, 'TypeError'],
    ['sort with a comparator is the builtin',
        q{ return [1n, 30n, 2n].sort((a, b) => (a < b ? 1 : -1)).map(String); }, ['30', '2', '1']],
    ['sort rejects a comparator that is not a function',
        q{ try { [{}].sort(5); return 'sorted'; } catch (e) { return e.name; } }, 'TypeError'],
    ['toSorted sorts a copy the same way',
        q{ const a = [2n, { toString: () => '1' }, 'z']; const b = a.toSorted(); return [a[0] === 2n, b.map(String)]; },
        [$T, ['1', '2', 'z']]],

    # ---- includes, indexOf, lastIndexOf of a BigInt or a long string ----
    ['includes of a BigInt', q{ const a = [1n, 2n, 3n]; return [a.includes(2n), a.includes(4n), a.includes(1n, 1), a.includes(3n, -1), a.includes(1n, -Infinity), a.includes(1n, Infinity)]; },
        [$T, $F, $F, $T, $T, $F]],
    ['indexOf of a BigInt', q{ const a = [1n, 2n, 3n, 2n]; return [a.indexOf(2n), a.indexOf(2n, 2), a.indexOf(2n, -1), a.indexOf(9n), [].indexOf(1n)]; },
        [1, 3, 3, -1, -1]],
    ['lastIndexOf of a BigInt', q{ const a = [1n, 2n, 3n, 2n]; return [a.lastIndexOf(2n), a.lastIndexOf(2n, 2), a.lastIndexOf(2n, -2), a.lastIndexOf(2n, -5), a.lastIndexOf(1n, undefined), a.lastIndexOf(2n, Infinity)]; },
        [3, 1, 1, -1, 0, 3]],
    ['searches for a long string', q{ const s = 'y'.repeat(500); const a = [s + 1, s + 2, s + 1];
           return [a.indexOf(s + 1), a.lastIndexOf(s + 1), a.includes(s + 3), a.indexOf(s + 2, -1)]; },
        [0, 2, $F, -1]],
    ['includes reads a hole as undefined through the prototype; indexOf finds it there',
        q{ const a = [, 2n]; Array.prototype[0] = 7n;
           try { return [a.includes(7n), a.indexOf(7n), a.lastIndexOf(7n), a.includes(7n, 1)]; } finally { delete Array.prototype[0]; } },
        [$T, 0, 0, $F]],
    ['a fromIndex that cannot be a number throws as ever',
        q{ try { [1n].indexOf(1n, 1n); return 'found'; } catch (e) { return e.name; } }, 'TypeError'],
    ['the guarded methods keep their names and lengths',
        q{ return ['join', 'sort', 'includes', 'indexOf', 'lastIndexOf'].map((n) => `${Array.prototype[n].name}/${Array.prototype[n].length}`)
             .concat(`${Object.fromEntries.name}/${Object.fromEntries.length}`, `${Uint8Array.prototype.join.name}/${Uint8Array.prototype.join.length}`); },
        ['join/1', 'sort/1', 'includes/1', 'indexOf/1', 'lastIndexOf/1', 'fromEntries/1', 'join/1']],

    # ---- C++ builtins called through a function of ours ----
    ['the interruptible stand-ins answer as the builtins',
        q{ return ['\u00e9a'.toUpperCase(), '\u0130'.toLowerCase(), 'i'.toLocaleUpperCase('tr'), 'I'.toLocaleLowerCase('tr'),
             'a'.localeCompare('b'), '\u0065\u0301'.normalize(), encodeURIComponent('a b&'), encodeURI('/a b?'),
             decodeURIComponent('%C3%A9'), decodeURI('%2F%20'), escape('\u00e9 '), unescape('%u00E9'),
             String(BigInt.asUintN(8, 257n)), String(BigInt.asIntN(8, 255n))]; },
        ["\x{c9}A", "i\x{307}", "\x{130}", "\x{131}", -1, "\x{e9}", 'a%20b%26', '/a%20b?', "\x{e9}", '%2F ', '%E9%20', "\x{e9}", '1', '-1']],
    ['the interruptible stand-ins throw as the builtins',
        q{ const r = []; for (const f of [() => encodeURIComponent('\ud800'), () => decodeURIComponent('%'), () => String.prototype.toUpperCase.call(null),
             () => BigInt.asUintN(-1, 1n), () => 'a'.normalize('NFX')]) { try { f(); r.push('none'); } catch (e) { r.push(e.name); } } return r; },
        ['URIError', 'URIError', 'TypeError', 'RangeError', 'RangeError']],
    ['the interruptible stand-ins keep names and lengths',
        q{ return [String.prototype.localeCompare, String.prototype.normalize, String.prototype.toUpperCase, encodeURIComponent, BigInt.asUintN]
             .map((f) => `${f.name}/${f.length}/${String(f).includes('[native code]')}`); },
        ['localeCompare/1/true', 'normalize/0/true', 'toUpperCase/0/true', 'encodeURIComponent/1/true', 'asUintN/2/true']],
    ["a Collator's compare is one function, as a compare",
        q{ const c = new Intl.Collator('de', { numeric: true }); const f = c.compare;
           let foreign; try { Object.getOwnPropertyDescriptor(Intl.Collator.prototype, 'compare').get.call({}); } catch (e) { foreign = e.name; }
           return [f === c.compare, f === new Intl.Collator('de').compare, f.name, f.length, ['a10', 'a9', 'A1'].sort(f), foreign]; },
        [$T, $F, '', 2, ['A1', 'a9', 'a10'], 'TypeError']],

    ['locale lists: strings, arrays with holes and duplicates, Locale objects, array-likes',
        q{ return [Intl.getCanonicalLocales('EN-us'), Intl.getCanonicalLocales(['de', , 'DE', new Intl.Locale('fr-ca')]),
             Intl.getCanonicalLocales({ length: 2, 0: 'ja', 1: 'ko' }), Intl.getCanonicalLocales(new Intl.Locale('es')),
             Intl.NumberFormat.supportedLocalesOf(['en', 'de']), new Intl.NumberFormat(['de-DE']).format(1234.5),
             (1234.5).toLocaleString(['de-DE']), 'a'.localeCompare('B', ['en'], { sensitivity: 'base' }),
             [1234.5, 2].toLocaleString(['de-DE']), new Date(0).toLocaleDateString(['en-US'], { timeZone: 'UTC' }),
             'i'.toLocaleUpperCase(['tr'])]; },
        [['en-US'], ['de', 'fr-CA'], ['ja', 'ko'], ['es'], ['en', 'de'], '1.234,5', '1.234,5', -1, '1.234,5,2', '1/1/1970', "\x{130}"]],
    ['locale lists that are not lists throw as ever',
        q{ const r = []; for (const f of [() => Intl.getCanonicalLocales(null), () => Intl.getCanonicalLocales([5]), () => new Intl.Collator(['not a tag!'])]) {
             try { f(); r.push('none'); } catch (e) { r.push(e.name); } } return r; },
        ['TypeError', 'TypeError', 'RangeError']],
    ["a NumberFormat's and a DateTimeFormat's format are one function each",
        q{ const n = new Intl.NumberFormat('en'), d = new Intl.DateTimeFormat('en', { timeZone: 'UTC' });
           return [n.format === n.format, n.format(12345), n.format.length, n.format.name, [1, 2].map(n.format), d.format === d.format, d.format(0), d.format.length]; },
        [$T, '12,345', 1, '', ['1', '2'], $T, '1/1/1970', 1]],
    ['ListFormat formats a list, an iterable and a string',
        q{ const l = new Intl.ListFormat('en'); return [l.format(['a', 'b', 'c']), l.format(new Set(['x', 'y'])), l.formatToParts(['a', 'b']).length, l.format(), l.format('ab')]; },
        ['a, b, and c', 'x and y', 3, '', 'a and b']],
    ['Intl methods converting their input answer as ever',
        q{ return [new Intl.PluralRules('en').select(1), new Intl.PluralRules('en', { type: 'ordinal' }).select('2'), new Intl.RelativeTimeFormat('en').format(-1, 'day'),
             new Intl.DisplayNames(['en'], { type: 'region' }).of('DE'), new Intl.NumberFormat('en').formatToParts(1.5).length]; },
        ['one', 'two', '1 day ago', 'Germany', 3]],

    ['more interruptible stand-ins answer as the builtins',
        q{ const f = Object.freeze({ a: 1 }), s = Object.seal({ b: 2 }), p = Object.preventExtensions({}); const sym = Symbol('y');
           const d = Object.defineProperties({}, { x: { value: 1, enumerable: true } }); const c = Object.create({ up: 1 }, { own: { value: 2 } });
           const u = new Uint8Array([1, 2, 3, 2]); const e = { message: 'm' }; Error.captureStackTrace(e);
           return [Object.isFrozen(f), Object.isSealed(s), Object.isExtensible(p), Object.isFrozen({}), Object.getOwnPropertySymbols({ [sym]: 1, k: 2 }).length,
             JSON.stringify(d), c.up + c.own, Object.keys(c), u.indexOf(2), u.lastIndexOf(2), u.includes(3), Array.from(u.slice().fill(7, 1, 2)),
             Array.from(u.slice().copyWithin(0, 2)), Array.from(u.slice().reverse()), u.fill(9) === u, (255n).toString(2), (-(2n ** 70n)).toString(36),
             Intl.supportedValuesOf('unit').includes('meter'), Date.parse('2001-02-03T04:05:06Z'), typeof e.stack, e.stack.startsWith('Error: m')]; },
        [$T, $T, $F, $F, 1, '{"x":1}', 3, [], 1, 3, $T, [1, 7, 3, 2], [3, 2, 3, 2], [2, 3, 2, 1], $T, '11111111', '-6x5kxtvuwilukg', $T, 981173106000, 'string', $T]],
    ['more interruptible stand-ins throw as the builtins',
        q{ const r = []; for (const f of [() => Object.defineProperties({}, { x: 5 }), () => Object.create(5), () => Uint8Array.prototype.fill.call([], 1),
             () => (5n).toString(1), () => Intl.supportedValuesOf('nope'), () => Error.captureStackTrace(5)]) { try { f(); r.push('none'); } catch (e) { r.push(e.name); } } return r; },
        ['TypeError', 'TypeError', 'TypeError', 'RangeError', 'RangeError', 'TypeError']],
    ['more interruptible stand-ins keep names, lengths and native source',
        q{ return [Object.freeze, Object.isFrozen, Object.getOwnPropertySymbols, Object.defineProperties, Object.create, Uint8Array.prototype.indexOf,
             Uint8Array.prototype.copyWithin, BigInt.prototype.toString, Intl.supportedValuesOf, Date.parse, Error.captureStackTrace, String.raw, String.fromCodePoint]
             .map((f) => `${f.name}/${f.length}/${String(f).includes('[native code]')}`); },
        ['freeze/1/true', 'isFrozen/1/true', 'getOwnPropertySymbols/1/true', 'defineProperties/2/true', 'create/2/true', 'indexOf/1/true',
         'copyWithin/2/true', 'toString/0/true', 'supportedValuesOf/1/true', 'parse/1/true', 'captureStackTrace/2/true', 'raw/1/true', 'fromCodePoint/1/true']],
    ['String.fromCodePoint answers and throws as ever',
        q{ const r = [String.fromCodePoint(), String.fromCodePoint(65, 0x1F600).length, String.fromCodePoint(...new Array(300).fill(97)).length];
           for (const v of [-1, 1.5, 0x110000, NaN]) { try { String.fromCodePoint(v); r.push('none'); } catch (e) { r.push(e.name); } } return r; },
        ['', 3, 300, 'RangeError', 'RangeError', 'RangeError', 'RangeError']],
    ['Date called and constructed as ever',
        q{ class D extends Date { year() { return this.getUTCFullYear(); } }
           return [typeof Date(), typeof Date(0), new Date(0).getTime(), new Date('1970-01-02T00:00:00Z').getTime(), new Date(2020, 0, 1, 12).getHours(),
             new D(0).year(), new D(0) instanceof Date, Date.prototype.constructor === Date, Object.getPrototypeOf(new Date(0)) === Date.prototype,
             Date.name, Date.length, String(Date).includes('[native code]'), Date.UTC(2000, 1), typeof Date.now(), isNaN(new Date('nonsense')),
             Reflect.construct(Date, [5], Object).constructor === Object]; },
        ['string', 'string', 0, 86400000, 12, 1970, $T, $T, $T, 'Date', 7, $T, 949363200000, 'number', $T, $T]],
    ['String.raw reads its template as ever',
        q{ const sym = Symbol('s'); const r = [String.raw`a\n${1}b${2}`, String.raw({ raw: ['x', 'y', 'z'] }, 1), String.raw({ raw: 'abc' }, '-', '+', '!'),
             String.raw({ raw: { length: 0 } }, 1), String.raw({ raw: { length: '2', 0: 'p', 1: 'q' } }, { toString: () => 'o' }), String.raw({ raw: [] })];
           for (const f of [() => String.raw(), () => String.raw({}), () => String.raw({ raw: [sym] }), () => String.raw({ raw: { length: 1n } })]) {
             try { f(); r.push('none'); } catch (e) { r.push(e.name); } } return r; },
        ['a\\n1b2', 'x1yz', 'a-b+c', '', 'poq', '', 'TypeError', 'TypeError', 'TypeError', 'TypeError']],
    ['getOwnPropertyDescriptors, entries and values of 5000 properties answer as of a few',
        q{ const sym = Symbol('s'); const mk = (n) => { const o = { 7: 'seven' }; for (let i = 0; i < n; i++) o['k' + i] = i;
             o[sym] = 's'; Object.defineProperty(o, 'hidden', { value: 'h', enumerable: false }); Object.defineProperty(o, 'got', { get() { return 'g'; }, enumerable: true }); return o; };
           const sum = (o) => { const d = Object.getOwnPropertyDescriptors(o); const e = Object.entries(o); const v = Object.values(o);
             return [Object.keys(d).length, d.hidden.enumerable, d[sym].value, typeof d.got.get, JSON.stringify(e[0]), JSON.stringify(e[e.length - 1]), e.length, v.length, v[1],
               Array.isArray(e), Array.isArray(v)]; };
           const few = sum(mk(3)), many = sum(mk(5000));
           return [few, [many[0] - 4997, ...many.slice(1, 6), many[6] - 4997, many[7] - 4997, many[8], many[9], many[10]]]; },
        [[6, $F, 's', 'function', '["7","seven"]', '["got","g"]', 5, 5, 0, $T, $T], [6, $F, 's', 'function', '["7","seven"]', '["got","g"]', 5, 5, 0, $T, $T]]],
    ["a Segments object's containing and iterator answer as ever",
        q{ const g = new Intl.Segmenter('en', { granularity: 'word' }).segment('hi there'); const proto = Object.getPrototypeOf(g);
           return [g.containing(4).segment, g.containing(99), [...g].map((s) => s.segment), proto.containing.name, proto[Symbol.iterator].name]; },
        ['there', undef, ['hi', ' ', 'there'], 'containing', '[Symbol.iterator]']],

    ["an Intl.Locale's lists, __lookupGetter__ and WebAssembly.validate answer as ever",
        q{ const l = new Intl.Locale('en-US'); const d = Object.getOwnPropertyDescriptor(Intl.Locale.prototype, 'timeZones');
           const o = { get a() { return 1; }, set b(v) {} }; let foreign; try { d.get.call({}); } catch (e) { foreign = e.name; }
           return [l.timeZones.includes('America/New_York'), l.hourCycles, l.weekInfo.firstDay, l.textInfo.direction, new Intl.Locale('de').calendars.includes('gregory'),
             `${d.get.name}/${d.get.length}/${d.enumerable}/${d.configurable}/${String(d.get).includes('[native code]')}`, foreign,
             Object.create(o).__lookupGetter__('a') === Object.getOwnPropertyDescriptor(o, 'a').get, typeof o.__lookupSetter__('b'), o.__lookupGetter__('absent'),
             Object.prototype.__lookupSetter__.name, WebAssembly.validate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])), WebAssembly.validate(new Uint8Array(3)),
             `${WebAssembly.validate.name}/${WebAssembly.validate.length}`]; },
        [$T, ['h12'], 7, 'ltr', $T, 'get timeZones/0/false/true/true', 'TypeError', $T, 'function', undef, '__lookupSetter__', $T, $F, 'validate/1']],

    ['typed arrays are made, made from and set as ever',
        q{ const T = Object.getPrototypeOf(Int8Array); const u = new Uint8Array(4); u.set({ length: 2, 0: 3, 1: 4 }, 1); u.set([9]);
           const s = new Uint8Array(300); s.set('7'.repeat(300));
           class B extends Uint8Array { size() { return this.length; } } const r = [];
           for (const f of [() => Uint8Array(2), () => new Uint8Array(-1), () => new BigInt64Array([1]), () => new Uint8Array(2).set({ length: 3 })]) {
             try { f(); r.push('none'); } catch (e) { r.push(e.name); } }
           return [Object.getPrototypeOf(Uint8Array) === T, `${Uint8Array.name}/${Uint8Array.length}/${Uint8Array.BYTES_PER_ELEMENT}/${String(Uint8Array).includes('[native code]')}`,
             new Uint8Array(2).constructor === Uint8Array, new Float32Array(1) instanceof T, Array.from(new Uint8Array({ length: 3, 0: 1, 2: 300 })),
             Array.from(new Uint8Array(new Set([5, 6]))), new Uint8Array(new ArrayBuffer(8), 2, 3).length, Array.from(new Int16Array(new Uint8Array([7, 8]))),
             Array.from(Uint8Array.from({ length: 2, 0: 9 })), Array.from(Uint8Array.from([1, 2], (x) => x * 2)), `${T.from.name}/${T.from.length}`,
             Array.from(u), s[299], new Uint8Array([3, 1]).map((x) => x * 2).constructor === Uint8Array, new B(3).size(), new B(3).subarray(1) instanceof B, r]; },
        [$T, 'Uint8Array/3/1/true', $T, $T, [1, 0, 44], [5, 6], 3, [7, 8], [9, 0], [2, 4], 'from/1', [9, 3, 4, 0], 7, $T, 3, $T,
         ['TypeError', 'RangeError', 'TypeError', 'RangeError']]],

    ['assign, defineProperties and create of 5000 properties answer as of a few',
        q{ const run = (n) => { const r = []; const sym = Symbol('s'); const src = {}; for (let i = 0; i < n; i++) src['k' + i] = i;
             src[sym] = 'S'; Object.defineProperty(src, 'hid', { value: 1, enumerable: false }); Object.defineProperty(src, 'g', { get() { return 'G'; }, enumerable: true });
             const t = Object.assign({ pre: 1 }, null, src, 'xy'); r.push(Object.keys(t).length - n, t[sym], t.g, t[0], 'hid' in t);
             let sets = 0; Object.assign({ set k1(v) { sets++; } }, src); r.push(sets);
             const descs = {}; for (let i = 0; i < n; i++) descs['k' + i] = { value: i, enumerable: i % 2 === 0 };
             descs.acc = { get() { return 'A'; }, configurable: true }; Object.defineProperty(descs, 'skip', { value: { value: 1 }, enumerable: false }); descs[sym] = { value: 'v' };
             const d = Object.defineProperties({}, descs); r.push(Object.keys(d).length - Math.ceil(n / 2), d.acc, 'skip' in d, d[sym], JSON.stringify(Object.getOwnPropertyDescriptor(d, 'k1')));
             const c = Object.create({ up: 1 }, descs); r.push(c.up, c.acc, Object.getPrototypeOf(Object.create(null, descs)));
             const target = {}; try { Object.defineProperties(target, { ...descs, zz: 5 }); r.push('none'); } catch (e) { r.push(e.name, Object.keys(target).length); }
             for (const f of [() => Object.defineProperties({}, { ...descs, zz: { get: 5 } }), () => Object.defineProperties({}, { ...descs, zz: { get() {}, value: 1 } }),
               () => Object.create(5, descs), () => Object.defineProperties(Object.freeze({ k0: 0 }), descs), () => Object.assign(Object.freeze({ k0: 1 }), src)]) {
               try { f(); r.push('none'); } catch (e) { r.push(e.name); } }
             return r; };
           return [run(3), run(5000), `${Object.assign.length}/${Object.defineProperties.length}/${Object.create.length}/${Object.create.name}`]; },
        [([4, 'S', 'G', 'x', $F, 1, 0, 'A', $F, 'v', '{"value":1,"writable":false,"enumerable":false,"configurable":false}', 1, 'A', undef,
           'TypeError', 0, 'TypeError', 'TypeError', 'TypeError', 'TypeError', 'TypeError']) x 2, '2/2/2/create']],

    # ---- Object.fromEntries ----
    ['fromEntries of an array, a Map and a generator',
        q{ function* g() { yield ['x', 1]; yield ['y', 2]; }
           return [Object.fromEntries([['a', 1], ['b', 2], ['a', 3]]), Object.fromEntries(new Map([['m', true]])), Object.fromEntries(g())]; },
        [{ a => 3, b => 2 }, { m => $T }, { x => 1, y => 2 }]],
    ['fromEntries converts keys, and takes Symbols',
        q{ const sym = Symbol('k'); const o = Object.fromEntries([[{ toString: () => 'obj' }, 1], [sym, 2], [7, 3]]);
           return [o.obj, o[sym], o[7], Object.keys(o)]; },
        [1, 2, 3, ['7', 'obj']]],
    ['fromEntries defines its properties, setters never run',
        q{ let set = false; Object.defineProperty(Object.prototype, 'trap', { set() { set = true; }, configurable: true });
           try { const o = Object.fromEntries([['trap', 1]]); return [set, Object.getOwnPropertyDescriptor(o, 'trap')]; }
           finally { delete Object.prototype.trap; } },
        [$F, { value => 1, writable => $T, enumerable => $T, configurable => $T }]],
    ['fromEntries refuses an entry that is not an object, and closes the iterator',
        q{ let closed = 0; const it = { [Symbol.iterator]() { let i = 0; return { next: () => ({ done: false, value: i++ ? 5 : ['a', 1] }), return() { closed++; return {}; } }; } };
           try { Object.fromEntries(it); return 'made'; } catch (e) { return [e.name, closed]; } },
        ['TypeError', 1]],
    ['fromEntries of null throws a TypeError',
        q{ try { Object.fromEntries(null); return 'made'; } catch (e) { return e.name; } }, 'TypeError'],

    # ---- JSON.parse ----
    ['JSON.parse of a 2 MB text with a few long keys and long values',
        q{ const k = (c) => c.repeat(20000); const text = JSON.stringify({ [k('a')]: 'v'.repeat(1e6), [k('b')]: 1, [k('c')]: [k('d')] });
           const o = JSON.parse(text); return [text.length > 1e6, Object.keys(o).map((key) => key.length), o[k('b')]]; },
        [$T, [20000, 20000, 20000], 1]],
    ['JSON.parse of a 2 MB text with escapes',
        q{ const o = Array.from({ length: 20000 }, (_, i) => ({ [`k"\\\\${i}`]: `v\\\\"${'z'.repeat(80)}` })); const text = JSON.stringify(o);
           return [text.length > 1e6 && text.includes('\\\\\\"'), JSON.stringify(JSON.parse(text)) === text]; },
        [$T, $T]],
    ['JSON.parse still takes a reviver',
        q{ return JSON.parse('{"a":1,"b":[2]}', (k, v) => (typeof v === 'number' ? v * 10 : v)); }, { a => 10, b => [20] }],
    ['Response.json() parses a body',
        q{ return new Response('{"ok":[1,2]}').json(); }, { ok => [1, 2] }],
);

my $js = "export default { fetch: () => results({\n";
for my $i (0 .. $#checks) {
    $js .= "  c$i: async () => { $checks[$i][1] },\n";
}
$js .= "}) };\n";
my $got = $t->run_checks('api', 'guards', $js);
for my $i (0 .. $#checks) {
    my ($name, undef, $want) = @{ $checks[$i] };
    is_deeply $got->{"c$i"}, $want, $name;
}

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;

done_testing;
