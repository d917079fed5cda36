#!/usr/bin/perl
# Findings of a ninth look at the runaway builtins (README "Runaway
# builtins"): the length walkers were bounded by how many elements they
# walk, not by what one element costs them. Each case below ended the
# worker (JavaScript past dispatch_hang_timeout, the last resort) on the
# commit before the fix, and is now stopped by the CPU limit or refused
# with a RangeError the script catches, the worker alive.
#
# - join makes each element a string in one Torque loop; a BigInt's, an
#   Error's, a Date's or a plain object's toString there is builtins only
#   (1e6 1000-bit BigInts: seconds). A BigInt64Array's join likewise.
# - a default sort makes two strings per comparison the same way, and
#   compares them whole: two distinct strings of a million equal
#   characters, or an Error's long message.
# - includes, indexOf and lastIndexOf compare every element with the needle
#   in C++: a million-bit BigInt, or a million-character string.
# - V8 hashes a string of over 16,383 characters by its length alone:
#   Object.fromEntries and JSON.parse (and so Response.json()) of many
#   such keys compare each with every other (700 keys: 5 s).
# - a typed array made by from, or set, from an array-like of length 5e7
#   or a string of 5e7 digits read each element in one loop (3.9 s).
# - V8 10.2 looks at a stop request in a loop only every ~135 KB of
#   bytecode run, or when a JavaScript function is entered; a call of a C++
#   builtin is neither. A loop calling toUpperCase on a two-byte string of
#   megabytes, localeCompare, BigInt.asUintN of a huge BigInt, or a sort
#   handed a Collator's compare (a common idiom: a million strings) or a
#   filter handed encodeURIComponent, ran on for seconds.
#   Intl's methods that convert what they are handed in C++ (a
#   NumberFormat's format or a PluralRules' select of a million-digit
#   string) likewise; and a locale list is canonicalized in one C++ loop
#   (Intl.getCanonicalLocales of 2e6 tags: past the hang timeout).
#   The same for Object.isFrozen/freeze/getOwnPropertySymbols of an
#   object of 3e5 properties, a typed array's fill/indexOf/copyWithin/
#   reverse on 6e7 elements, new Date or Date.parse of a string of
#   megabytes, Error.captureStackTrace 8000 frames deep with a huge
#   Error.stackTraceLimit, the Segments of a long sentence, an
#   Intl.Locale's timeZones, __lookupGetter__ through a long prototype
#   chain, String.fromCodePoint of 1e5 spread code points; String.raw
#   read a raw array-like of length 1e8 in one C++ call, a typed array's
#   from or set an array-like of length 5e7 or a string of 5e7 digits.
#   (An operator is not a call either: `===` or `<` of two strings of
#   megabytes in a loop still reaches the last resort; README says so.)
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Hostile;

# 400 ms: what each case builds fits well inside it on a slow machine, and
# what it then asks of a builtin takes seconds without the guards.
my $t = hostile_server(budget => 100, http => q{
    dispatch_memory_limit 128m;
    dispatch_cpu_limit 400ms;
});
$t->start;

my $stopped = [[503, qr/exceeded_(?:cpu|memory)/]];
sub caught_js {
    my ($body) = @_;
    return qq{
        export default { fetch() {
          try { $body }
          catch (e) { return new Response(`\${e.name}: \${e.message}`); }
        } };
    };
}

# A thousand long strings of one length, each different in its last
# characters only, made flat (the comparisons read them whole).
my $long_keys = q{
    const L = 100000;
    const base = 'a'.repeat(L - 8);
    const key = (i) => { const s = base + String(i).padStart(8, '0'); s.indexOf('q'); return s; };
};

hostile_case($t, 'join of 1e6 1000-bit BigInts is stopped, not fatal',
    js => caught_js(q{ return new Response(new Array(1e6).fill(2n ** 1000n).join().length); }),
    expect => $stopped);

hostile_case($t, 'join of a BigInt64Array(1e7) is stopped, not fatal',
    js => caught_js(q{ return new Response(new BigInt64Array(1e7).fill(-(2n ** 62n)).join('').length); }),
    expect => $stopped);

hostile_case($t, 'a default sort of Errors with a 1 MB message is stopped, not fatal',
    js => caught_js(q{
        const message = 'a'.repeat(1e6);
        const errors = [new Error(message), new Error(message)];
        const a = [];
        for (let i = 0; i < 2000; i++) a.push(errors[i % 2]);
        return new Response(a.sort().length);
    }),
    expect => $stopped);

hostile_case($t, 'a default sort of two distinct equal 1 MB strings is stopped, not fatal',
    js => caught_js(q{
        const s = 'a'.repeat(1e6) + 'x', u = 'a'.repeat(1e6) + 'x';
        s.indexOf('q'); u.indexOf('q');
        const a = [];
        for (let i = 0; i < 1e5; i++) a.push(i % 2 ? s : u);
        return new Response(a.sort().length);
    }),
    expect => $stopped);

hostile_case($t, 'includes of a million-bit BigInt is stopped, not fatal',
    js => caught_js(q{
        const x = 2n ** 1000000n;
        return new Response(new Array(1e6).fill(x).includes(x + 2n ** 999999n));
    }),
    expect => $stopped);

hostile_case($t, 'lastIndexOf of a million-character string is stopped, not fatal',
    js => caught_js(q{
        const s = 'a'.repeat(1e6) + 'y';
        s.indexOf('q');
        return new Response(new Array(1e5).fill(s).lastIndexOf('a'.repeat(1e6) + 'z'));
    }),
    expect => $stopped);

hostile_case($t, 'Object.fromEntries of a thousand 100,000-character keys is stopped, not fatal',
    js => caught_js($long_keys . q{
        const entries = [];
        for (let i = 0; i < 1000; i++) entries.push([key(i), i]);
        return new Response(Object.keys(Object.fromEntries(entries)).length);
    }),
    expect => $stopped);

my $refused_keys = [[200, qr/^RangeError: JSON\.parse: \d+ keys of over 16383 characters cannot be parsed/]];

hostile_case($t, 'JSON.parse of 700 distinct 16,400-character keys is refused, not fatal',
    js => caught_js(q{
        const base = 'a'.repeat(16392);
        const parts = [];
        for (let i = 0; i < 700; i++) parts.push(`"${base}${String(i).padStart(8, '0')}":${i}`);
        return new Response(Object.keys(JSON.parse(`{${parts.join(',')}}`)).length);
    }),
    expect => $refused_keys);

hostile_case($t, 'JSON.parse sees long keys through escaped quotes and backslashes',
    js => caught_js(q{
        const base = ('a'.repeat(100) + '\\\\"' + 'b'.repeat(100) + '\\\\\\\\').repeat(82);
        const parts = [];
        for (let i = 0; i < 700; i++) parts.push(`"${base}${String(i).padStart(8, '0')}":${i}`);
        return new Response(Object.keys(JSON.parse(`[{${parts.join('},{')}}]`)).length);
    }),
    expect => $refused_keys);

hostile_case($t, 'Response.json() of 120 distinct 100,000-character keys is refused, not fatal',
    js => q{
        export default { async fetch() {
          const base = 'a'.repeat(99992);
          const parts = [];
          for (let i = 0; i < 120; i++) parts.push(`"${base}${String(i).padStart(8, '0')}":${i}`);
          try { return new Response(Object.keys(await new Response(`{${parts.join(',')}}`).json()).length); }
          catch (e) { return new Response(`${e.name}: ${e.message}`); }
        } };
    },
    expect => $refused_keys);

# Each turn of these loops is one call of a C++ builtin on megabytes.
my $megabytes = q{
    const s = 'a'.repeat(2e6) + '\u00e9', u = 'a'.repeat(2e6) + '\u00e8';
    s.indexOf('q'); u.indexOf('q');
    let x;
};
hostile_case($t, 'a loop of toUpperCase on a two-byte string of megabytes is stopped, not fatal',
    js => caught_js($megabytes . q{ for (;;) x = u.toUpperCase(); }), expect => $stopped);

hostile_case($t, 'a loop of localeCompare on strings of megabytes is stopped, not fatal',
    js => caught_js(q{
        const s = 'a'.repeat(1e6) + '1', u = 'a'.repeat(1e6) + '2';
        let x;
        for (;;) x = s.localeCompare(u);
    }),
    expect => $stopped);

hostile_case($t, 'a loop of BigInt.asUintN on a 50-million-bit BigInt is stopped, not fatal',
    js => caught_js(q{ const b = 2n ** 50000000n - 1n; let x; for (;;) x = BigInt.asUintN(49999999, b); }),
    expect => $stopped);

hostile_case($t, "a sort of a million strings by a Collator's compare is stopped, not fatal",
    js => caught_js(q{
        const a = [];
        for (let i = 0; i < 1e6; i++) a.push(`k${(i * 7919) % 1000003}`);
        return new Response(a.sort(new Intl.Collator('de', { numeric: true }).compare).length);
    }),
    expect => $stopped);

hostile_case($t, 'a filter by encodeURIComponent of strings of megabytes is stopped, not fatal',
    js => caught_js(q{ const a = new Array(400).fill('\u00e9'.repeat(2e6)); return new Response(a.filter(encodeURIComponent).length); }),
    expect => $stopped);

hostile_case($t, "a loop of a NumberFormat's format on a million-digit string is stopped, not fatal",
    js => caught_js(q{ const f = new Intl.NumberFormat('en').format; const s = '9'.repeat(1e6); let x; for (;;) x = f(s); }),
    expect => $stopped);

hostile_case($t, "a loop of a PluralRules' select on a million-digit string is stopped, not fatal",
    js => caught_js(q{ const p = new Intl.PluralRules('en'); const s = '1'.repeat(1e6); let x; for (;;) x = p.select(s); }),
    expect => $stopped);

hostile_case($t, 'Intl.getCanonicalLocales of 4e6 tags is refused, not fatal',
    js => caught_js(q{ return new Response(Intl.getCanonicalLocales(new Array(4e6).fill('en-US')).length); }),
    expect => [[200, qr/^RangeError: Intl: 4000000 locales are too many \(at most 256\)/]]);

hostile_case($t, 'a locale list of 4e6 tags handed to a constructor is refused, not fatal',
    js => caught_js(q{ return new Response(new Intl.DateTimeFormat(new Array(4e6).fill('en')).format(0)); }),
    expect => [[200, qr/^RangeError: Intl: 4000000 locales are too many/]]);

# More C++ builtins whose one call walks all of a large input, in a loop
# (each turn a call, none a point where a stop lands), or in one call.
hostile_case($t, 'a loop of Object.isFrozen on a frozen object of 3e5 properties is stopped, not fatal',
    js => caught_js(q{
        const o = {};
        for (let i = 0; i < 3e5; i++) o['k' + i] = i;
        Object.freeze(o);
        let x;
        for (;;) x = Object.isFrozen(o);
    }),
    expect => $stopped);

hostile_case($t, 'a loop of fill on a Uint8Array(6e7) is stopped, not fatal',
    js => caught_js(q{ const a = new Uint8Array(6e7); let x; for (;;) x = a.fill(1); }),
    expect => $stopped);

hostile_case($t, 'a loop of new Date of a string with a megabyte comment is stopped, not fatal',
    js => caught_js(q{ const s = `Jan 1 2020 (${'a'.repeat(2e6)})`; let x; for (;;) x = new Date(s); }),
    expect => $stopped);

hostile_case($t, 'String.raw of a raw array-like of length 1e8 is stopped, not fatal',
    js => caught_js(q{ return new Response(String.raw({ raw: { length: 1e8 } }).length); }),
    expect => $stopped);

hostile_case($t, 'a loop of Error.captureStackTrace 8000 frames deep is stopped, not fatal',
    js => caught_js(q{
        Error.stackTraceLimit = 1e9;
        const o = {};
        function down(n) { if (n) return down(n - 1); for (;;) Error.captureStackTrace(o); }
        down(8000);
    }),
    expect => $stopped);

hostile_case($t, 'a loop of Object.getOwnPropertySymbols of 3e5 properties is stopped, not fatal',
    js => caught_js(q{
        const o = {};
        for (let i = 0; i < 3e5; i++) o['k' + i] = i;
        let x;
        for (;;) x = Object.getOwnPropertySymbols(o);
    }),
    expect => $stopped);

hostile_case($t, 'a loop over the Segments of a 2e7-character sentence is stopped, not fatal',
    js => caught_js(q{
        const g = new Intl.Segmenter('en', { granularity: 'sentence' }).segment('a'.repeat(2e7));
        let x;
        for (;;) for (x of g);
    }),
    expect => $stopped);

hostile_case($t, "a loop of an Intl.Locale's timeZones is stopped, not fatal",
    js => caught_js(q{ const l = new Intl.Locale('en-US'); let x; for (;;) x = l.timeZones; }),
    expect => $stopped);

hostile_case($t, 'a loop of __lookupGetter__ through a chain of 1e5 prototypes is stopped, not fatal',
    js => caught_js(q{
        let p = {};
        for (let i = 0; i < 1e5; i++) p = Object.create(p);
        let x;
        for (;;) x = p.__lookupGetter__('absent');
    }),
    expect => $stopped);

hostile_case($t, 'a loop of String.fromCodePoint of 1e5 spread code points is stopped, not fatal',
    js => caught_js(q{ const codes = new Array(1e5).fill(0x1F600); let x; for (;;) x = String.fromCodePoint(...codes); }),
    expect => $stopped);

# A typed array made by from, or set, from an array-like (or a string)
# reads every element in one loop: {length: 5e7} took 3.9 s in one call.
hostile_case($t, 'Float64Array.from an array-like of length 5e7 is refused, not fatal',
    js => caught_js(q{ return new Response(Float64Array.from({ length: 5e7 }).length); }),
    expect => [[200, qr/^RangeError: TypedArray\.from: 50000000 elements cannot fit/]]);

hostile_case($t, 'a Uint8Array(5e7) set from a string of 5e7 digits is refused, not fatal',
    js => caught_js(q{ const a = new Uint8Array(5e7); a.set('1'.repeat(5e7)); return new Response('set'); }),
    expect => [[200, qr/^RangeError: TypedArray\.prototype\.set: 50000000 elements cannot fit/]]);

done_testing;
