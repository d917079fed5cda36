#!/usr/bin/perl
# Findings of an attack on the reworked engine (branch attack). Each case is
# one finding, asserting the correct behaviour: a limit stops the script (or
# it gets an exception it can catch), the worker process survives, the error
# log gains no alert, and a good tenant answers right after. All of them
# fail on the commit they were found on.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Hostile;

my $t = hostile_server(budget => 90);

sub kv { '{"bindings":[{"type":"kv_namespace","name":"KV","namespace_id":"' . $_[0] . '"}]}' }

# What a stopped or refusing script may answer.
my $stopped = [[503, "exceeded_cpu\n"], [503, "exceeded_memory\n"], [200, 'RangeError']];

# ---------------------------------------------------------------------------
# 1. Worker crash (SIGTRAP, "Fatal error in v8::FromJust"). A KV get settles
# through Promise::Resolver::Resolve(...).Check() in api/kv.cc; Resolve reads
# `then` of the value (an Array) synchronously, so a getter on
# Array.prototype (or Object.prototype) runs there. When a limit terminates
# that getter (CPU: a loop; memory: allocation), Resolve returns Nothing and
# Check() aborts the process. kv.list() with Object.prototype.then is the
# same; so is a getter that allocates past the budget (0.02 s to the crash).
hostile_case($t, 'a then getter stopped by a limit while a KV get settles',
    fields => { metadata => kv('finding1') },
    js     => q{
        export default {
          async fetch(request, env) {
            await env.KV.put('k', 'v');
            Object.defineProperty(Array.prototype, 'then', { get() { for (;;) {} }, configurable: true });
            try { await env.KV.get('k'); } catch (e) {}
            return new Response('unreachable');
          }
        };
    },
    expect => [[503, "exceeded_cpu\n"]]);

# ---------------------------------------------------------------------------
# 2. Last resort, at once: a generic sort of an array-like of length 2**31
# asks V8 for a work array longer than a FixedArray may be: "V8 ran out of
# heap memory (invalid array length)", the worker exits (1). Not a typed
# array, nothing allocated first: one line.
hostile_case($t, 'a generic sort of length 2**31 is refused, not fatal',
    js     => q{
        export default {
          fetch() {
            try { Array.prototype.sort.call({ length: 2 ** 31 }); }
            catch (e) { return new Response(e.name); }
            return new Response('sorted');
          }
        };
    },
    expect => $stopped);

# ---------------------------------------------------------------------------
# 3. Last resort by the hang timeout: Object.keys of a typed array that fits
# the budget (120 MB of a 128 MB limit) makes 1.2e8 index strings in one C++
# call that never looks at a termination request; "JavaScript kept running
# 1000ms after a limit stopped it", the worker exits (1). Object.entries of a
# Uint8Array(3e7) does the same.
hostile_case($t, 'Object.keys of a 120 MB typed array is stopped by a limit',
    js     => q{
        export default {
          fetch() {
            try { return new Response(String(Object.keys(new Uint8Array(1.2e8)).length)); }
            catch (e) { return new Response(e.name); }
          }
        };
    },
    expect => $stopped);

# ---------------------------------------------------------------------------
# 4. Last resort by the hang timeout: Function.prototype.apply with a typed
# array of 1.2e8 elements copies them all (CreateListFromArrayLike) before
# it refuses that many arguments.
hostile_case($t, 'apply with a 120 MB typed array as the arguments is stopped by a limit',
    js     => q{
        export default {
          fetch() {
            try { Math.max.apply(null, new Uint8Array(1.2e8)); }
            catch (e) { return new Response(e.name); }
            return new Response('applied');
          }
        };
    },
    expect => $stopped);

# ---------------------------------------------------------------------------
# 5. Last resort by the hang timeout: sorting a holey array of length 2**28
# with a single element (dictionary mode, nothing allocated by the script).
hostile_case($t, 'sorting a sparse array of length 2**28 is stopped by a limit',
    js     => q{
        export default {
          fetch() {
            const a = new Array(2 ** 28);
            a[0] = 1;
            try { a.sort(); } catch (e) { return new Response(e.name); }
            return new Response('sorted');
          }
        };
    },
    expect => $stopped);

# ---------------------------------------------------------------------------
# 6. Last resort by the hang timeout: generic Array.prototype builtins over an
# array-like with a huge length besides lastIndexOf/join (known): reverse,
# includes (and indexOf), copyWithin, unshift, and concat of a spreadable
# {length: 2**32 - 1} all loop in C++/Torque without an interrupt check.
# reverse stands for them here.
hostile_case($t, 'Array.prototype.reverse of {length: 2**50} is stopped by a limit',
    js     => q{
        export default {
          fetch() {
            try { Array.prototype.reverse.call({ length: 2 ** 50 }); }
            catch (e) { return new Response(e.name); }
            return new Response('reversed');
          }
        };
    },
    expect => $stopped);

done_testing;
