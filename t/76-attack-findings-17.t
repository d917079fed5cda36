#!/usr/bin/perl
# Attack round 19: a battery written from README.md alone, going line by
# line through "What a tenant's script can use" and "Node.js
# compatibility" with hostile arguments. Each case asserts what the README
# promises and failed on the commit it was found on (94b0018).
#
# Found and fixed:
# - A Proxy's ownKeys trap answering {length: 1.3e8} (or a sparse array
#   that long) had V8 allocate and fill a 1 GB list in one C++ call no stop
#   request reaches, before it looked at an element: one Object.keys of it
#   held the worker 2.6 s under the 50 ms CPU limit and took its peak RSS
#   from 28 MB to 1 GB under a 16m memory limit. Proxies get a handler of
#   the runtime's that refuses such an answer with a RangeError.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Hostile;
use JSON::PP qw(decode_json);

my $t = hostile_server(budget => 60, http => q{ dispatch_memory_limit 16m; });

hostile_case($t, "a Proxy's ownKeys trap answering a length of 1.3e8 is refused at once",
    js => q{
        export default { fetch() {
          const answers = [{ length: 1.3e8 }, Object.assign([], { length: 1.3e8 })];
          const out = [];
          for (const answer of answers) {
            const p = new Proxy({}, { ownKeys: () => answer });
            try { Object.keys(p); out.push('listed'); } catch (e) { out.push(e.name); }
            try { for (const k in p) out.push(k); out.push('walked'); } catch (e) { out.push(e.name); }
          }
          const { proxy } = Proxy.revocable({}, { ownKeys: () => answers[0] });
          try { JSON.stringify(proxy); out.push('listed'); } catch (e) { out.push(e.name); }
          return new Response(out.join(' '));
        } };
    },
    # before: 503 exceeded_cpu after 2.6 s, the worker's peak RSS 1 GB
    expect => [[200, 'RangeError RangeError RangeError RangeError RangeError']],
    within => 1);

# What a Proxy does is V8's still: traps are looked up when used, called
# with the script's handler as `this`, their answers checked by V8.
subtest 'Proxies behave as V8 makes them' => sub {
    $t->put_script('tenants', 'proxies', q{
      export default { fetch() {
        const out = {};
        const t = (n, f) => { try { out[n] = f(); } catch (e) { out[n] = e.name + ': ' + e.message; } };
        t('shape', () => [typeof Proxy, Proxy.name, Proxy.length, 'prototype' in Proxy, Proxy.revocable.length]);
        t('call', () => Proxy({}, {}));
        const h = { n: 0, get(target, key) { this.n++; return this === h; } };
        t('this', () => { const p = new Proxy({}, h); return [p.a, p.b, h.n]; });
        t('private', () => { class H { #n = 0; get() { return ++this.#n; } } const p = new Proxy({}, new H()); return [p.a, p.b]; });
        t('later', () => { const hh = {}; const p = new Proxy({ a: 1 }, hh); const before = p.a; hh.get = () => 42; return [before, p.a]; });
        t('keys', () => Object.keys(new Proxy({ a: 1, b: 2 }, { ownKeys: () => ({ length: 2, 0: 'b', 1: 'a' }) })));
        t('duplicate', () => Reflect.ownKeys(new Proxy({}, { ownKeys: () => ['a', 'a'] })));
        t('invariant', () => Reflect.ownKeys(new Proxy(Object.preventExtensions({ a: 1 }), { ownKeys: () => [] })));
        t('revoked', () => { const { proxy, revoke } = Proxy.revocable({ a: 1 }, {}); const a = proxy.a; revoke(); try { proxy.a; } catch (e) { return [a, e.name]; } });
        t('apply', () => new Proxy((x) => x * 2, { apply(f, self, args) { return f(...args) + 1; } })(2));
        return Response.json(out);
      } };
    });
    my $r = $t->get('/t/proxies');
    is $r->{status}, 200, 'answers' or diag $r->{content};
    my $got = eval { decode_json($r->{content}) } || {};
    my $F = JSON::PP::false;
    is_deeply $got, {
        shape => ['function', 'Proxy', 2, $F, 2],
        call => "TypeError: Constructor Proxy requires 'new'",
        this => [JSON::PP::true, JSON::PP::true, 2],
        private => [1, 2],
        later => [1, 42],
        keys => ['b', 'a'],
        duplicate => "TypeError: 'ownKeys' on proxy: trap returned duplicate entries",
        invariant => "TypeError: 'ownKeys' on proxy: trap result did not include 'a'",
        revoked => [1, 'TypeError'],
        apply => 5,
    }, 'the same answers as V8 gives' or diag $r->{content};
};

done_testing;
