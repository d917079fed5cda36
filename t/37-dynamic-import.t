#!/usr/bin/perl
# Dynamic import() (issue 15, SPEC 5): a script imports its own modules at
# request time and at the top level, by relative or absolute path, through
# the same resolution as its static imports; anything else (a URL, a name
# that is none of its modules) rejects with a clear error, and so does a
# module that fails to compile or throws as it is evaluated.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP ();

my ($T, $F) = (JSON::PP::true, JSON::PP::false);

my $t = Dispatch::Test->new(
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch api $script; } },
);
$t->start;

my %modules = (
    'module:lib/a.js'      => q{ export const value = 'a'; export let loads = 0; loads++; },
    'module:lib/b.js'      => q{ export async function sibling() { return (await import('./a.js')).value + '-via-b'; } },
    'module:lib/tla.js'    => q{ await new Promise((resolve) => resolve()); export const ready = 'after await'; },
    'module:lib/throws.js' => q{ export const never = 1; throw new RangeError('thrown at evaluation 6620'); },
    'module:lib/syntax.js' => q{ export const = ; },
    'wasm:empty.wasm'      => "\0asm\x01\0\0\0",
);

$t->put_script('api', 'imports', $Dispatch::Test::RESULTS_JS . q{
    import * as staticA from './lib/a.js';
    const atTopLevel = await import('./lib/a.js');
    const exported = { fetch: () => results({
      relative: async () => (await import('./lib/a.js')).value,
      absolute: async () => (await import('/lib/a.js')).value,
      sameInstance: async () => (await import('./lib/a.js')) === staticA && atTopLevel === staticA,
      evaluatedOnce: async () => { await import('./lib/a.js'); await import('/lib/a.js'); return staticA.loads; },
      fromANestedModule: async () => (await import('./lib/b.js')).sibling(),
      topLevel: () => atTopLevel.value,
      topLevelAwait: async () => (await import('./lib/tla.js')).ready,
      wasm: async () => (await import('./empty.wasm')).default instanceof WebAssembly.Module,
      itself: async () => (await import('./worker.js')).default === exported,
      returnsPromise: () => { const p = import('./lib/a.js'); return p instanceof Promise; },
      url: async () => { try { await import('https://example.com/x.js'); return 'loaded'; } catch (e) { return `${e.name}: ${e.message}`; } },
      unknown: async () => { try { await import('./lib/nope.js'); return 'loaded'; } catch (e) { return `${e.name}: ${e.message}`; } },
      bare: async () => { try { await import('lodash'); return 'loaded'; } catch (e) { return e.name; } },
      throws: async () => { try { await import('./lib/throws.js'); return 'loaded'; } catch (e) { return `${e.name}: ${e.message}`; } },
      throwsAgain: async () => { try { await import('./lib/throws.js'); return 'loaded'; } catch (e) { return `${e.name}: ${e.message}`; } },
      syntax: async () => { try { await import('./lib/syntax.js'); return 'loaded'; } catch (e) { return e.name; } },
      stillServing: () => 'yes',
    }) };
    export default exported;
}, %modules);
my $r = $t->get('/t/imports');
is $r->{status}, 200, 'a script that imports its own modules runs' or diag $r->{content};
my $got = JSON::PP::decode_json($r->{content});

is $got->{relative}, 'a', 'import() of a relative path among the uploaded modules';
is $got->{absolute}, 'a', 'import() of an absolute path';
is $got->{sameInstance}, $T, 'it gives the same module as a static import';
is $got->{evaluatedOnce}, 1, 'a module imported many ways is evaluated once';
is $got->{fromANestedModule}, 'a-via-b', 'a path is relative to the module that imports it';
is $got->{topLevel}, 'a', 'import() works at the top level (with top-level await)';
is $got->{topLevelAwait}, 'after await', 'it waits for a module whose top level awaits';
is $got->{wasm}, $T, 'an uploaded .wasm module imports as its WebAssembly.Module';
is $got->{itself}, $T, 'a module can import itself';
is $got->{returnsPromise}, $T, 'import() returns a promise';
like $got->{url}, qr/^TypeError: import\(\): no module "https:\/\/example\.com\/x\.js" in this script; import\(\) loads only the script's own modules/,
    'a URL rejects with a TypeError that says why';
like $got->{unknown}, qr/^TypeError: import\(\): no module "\.\/lib\/nope\.js" in this script/, 'so does a path that is none of its modules';
is $got->{bare}, 'TypeError', 'and a bare package name';
is $got->{throws}, 'RangeError: thrown at evaluation 6620', 'a module that throws as it is evaluated rejects with its error';
is $got->{throwsAgain}, 'RangeError: thrown at evaluation 6620', 'and again on the next import';
is $got->{syntax}, 'SyntaxError', 'a module that does not compile rejects with a SyntaxError';
is $got->{stillServing}, 'yes', 'the script carries on after those';

# A script whose top level imports a module that throws does not start.
$t->put_script('api', 'bad-start', q{
    await import('./lib/throws.js');
    export default { fetch: () => new Response('started') };
}, 'module:lib/throws.js' => $modules{'module:lib/throws.js'});
$r = $t->get('/t/bad-start');
is $r->{status}, 500, 'a top-level import of a module that throws fails the script';
ok $t->wait_for(sub { $t->error_log =~ /"api\/bad-start".*thrown at evaluation 6620/ }), 'the error log says why';

# A tenant's getter on Promise.prototype.constructor (which then() asks
# for its species) does not break an import of a module that awaits.
$t->put_script('api', 'import-hostile', q{
    export default { fetch: async () => {
      Object.defineProperty(Promise.prototype, 'constructor', { get() { throw new Error('tenant getter 4471'); }, configurable: true });
      let got;
      try { got = await import('./lib/tla.js'); } catch (e) { got = e; }
      delete Promise.prototype.constructor;
      Promise.prototype.constructor = Promise;
      return new Response(got instanceof Error ? got.message : got.ready);
    } };
}, 'module:lib/tla.js' => $modules{'module:lib/tla.js'});
$r = $t->get('/t/import-hostile');
is $r->{content}, 'tenant getter 4471', 'a getter that throws on Promise.prototype.constructor during an import of a module that awaits: the tenant sees its own error';
is $t->get('/t/imports')->{status}, 200, 'and the worker neither crashed nor hung';

# A service-worker script is a classic script: it has no modules.
$t->put_script('api', 'sw-import', q{
    addEventListener('fetch', (event) => event.respondWith(
      import('./worker.js').then(() => new Response('imported'), (e) => new Response(`${e.name}: ${e.message}`))));
}, format => 'service-worker');
like $t->get('/t/sw-import')->{content}, qr/^TypeError: import\(\): a service-worker script has no modules/,
    'import() in a service-worker script rejects with a TypeError';

# A module that never ends its evaluation is stopped by the CPU limit, as
# any other code of the request, and the worker carries on.
$t->put_script('api', 'spins', q{
    export default { fetch: async () => { await import('./lib/spin.js'); return new Response('done'); } };
}, 'module:lib/spin.js' => q{ for (;;) {} });
$r = $t->get('/t/spins');
is $r->{status}, 503, 'a module imported at request time that spins meets the CPU limit: 503';
is $t->get('/t/imports')->{status}, 200, 'and the worker serves on';

# Node.js built-ins resolve as static imports do: with nodejs_compat only.
$t->put_script('api', 'node-flag', q{
    export default { async fetch() { const { Buffer } = await import('node:buffer');
                                     return new Response(Buffer.from('hi').toString('hex')); } };
}, metadata => '{"compatibility_flags":["nodejs_compat"]}');
is $t->get('/t/node-flag')->{content}, '6869', 'import() of node:buffer works with nodejs_compat';
$t->put_script('api', 'node-noflag', q{
    export default { async fetch() {
      return import('node:buffer').then(() => new Response('loaded'), (e) => new Response(e.message)); } };
});
like $t->get('/t/node-noflag')->{content}, qr/nodejs_compat/, 'without it the rejection names the flag';

done_testing;
