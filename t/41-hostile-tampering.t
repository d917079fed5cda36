#!/usr/bin/perl
# Hostile tenants that tamper with intrinsics (DESIGN "Facts learned by
# attacking it": built-ins written in JavaScript run in the tenant's context,
# so whatever they call through a tenant-writable object hands the tenant
# what the call passes, the engine's own callbacks included).
#
# Whatever a script replaces, before or during a request, it must never
# crash the worker or put on the wire something HTTP forbids. Each case reads
# the raw answer and checks (Dispatch::Hostile::wire_ok): the status line is
# 2xx-5xx (never 101, 000, 1000 or negative), every header line is a token,
# ": " and a value without CR, LF or NUL, and no Upgrade, TE, Trailer,
# Keep-Alive, Proxy-*, foreign Transfer-Encoding or Connection header the
# script tried to set is there. The status is what the script legitimately
# asked for, or 500 "exception". And always: the worker lives, the error log
# has no alert, a good tenant answers 200 right after.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Hostile;

my $EXCEPTION = [500, "exception\n"];
my $LEGIT     = [200, 'legit'];

my $t = hostile_server(budget => 60, http => 'dispatch_cpu_limit 200ms;');

# A case whose script tampers and then asks for new Response('legit'): the
# answer is that Response, or 500 "exception"; the wire is valid HTTP.
sub tampering_case {
    my ($name, $js, @more) = @_;
    hostile_case($t, $name, js => $js, expect => [$LEGIT, $EXCEPTION], wire => 1, @more);
}

# ---------------------------------------------------------------------------
# Promise.prototype.then: capture every function the runtime passes to it
# (among them what settles the request) and call them with forged outputs

# hook() replaces then; forge(x) calls every captured function with x
my $THEN_HOOK = q{
    const captured = [];
    const realThen = Promise.prototype.then;
    function hook() {
      Promise.prototype.then = function (onFulfilled, onRejected) {
        if (typeof onFulfilled === 'function') captured.push(onFulfilled);
        if (typeof onRejected === 'function') captured.push(onRejected);
        return Reflect.apply(realThen, this, [onFulfilled, onRejected]);
      };
    }
    function forge(output) {
      const fns = captured.slice(0, 1000);
      for (let i = 0; i < fns.length; i++) { try { fns[i](output); } catch (e) {} }
    }
};

# A case whose script calls what settles the request with a forged output:
# the legit Response, or 500, or, where the runtime took the forged output
# for an answer, only what a well-formed output says (200 and no body).
sub forged_case {
    my ($name, $js, @more) = @_;
    hostile_case($t, $name, js => $js, expect => [$LEGIT, [200, ''], $EXCEPTION], wire => 1, @more);
}

# the hook installed at the top level (or in fetch), forged output OUTPUT
# handed to every captured callback twice, then the legit Response
sub forging {
    my ($output, %o) = @_;
    my $top = $o{in_fetch} ? '' : 'hook();';
    my $in  = $o{in_fetch} ? 'hook();' : '';
    return qq{
        $THEN_HOOK
        $top
        export default {
          async fetch() {
            $in
            await null;
            forge($output);
            await null;
            forge($output);
            return new Response('legit');
          }
        };
    };
}

forged_case('then hook at the top level: a forged status 101 never reaches the wire',
    forging(q{[101, 'x', [], null]}));

forged_case('then hook: a forged status -2147483648 with a 200-byte reason never reaches the wire',
    forging(q{[-2147483648, 'A'.repeat(200), [], null]}));

forged_case('then hook: a forged status 1000 never reaches the wire',
    forging(q{[1000, '', [], null]}));

forged_case('then hook: a forged bad header name and Upgrade: websocket never reach the wire',
    forging(q{[200, '', ['bad name', 'v', 'Upgrade', 'websocket'], null]}));

forged_case('then hook: CR LF forged into the reason and a header value never reach the wire',
    forging(q{[200, 'OK\r\nX-Injected: 1', ['x-a', 'v\r\nConnection: evil', 'x-b', 'v\0w'], null]}));

forged_case('then hook installed inside fetch: a forged status 101 never reaches the wire',
    forging(q{[101, 'x', ['Connection', 'evil'], null]}, in_fetch => 1));

forged_case('then hook: a well-formed forged output, then a forged 101: the first answer or 500',
    qq{
        $THEN_HOOK
        hook();
        export default {
          async fetch() {
            await null;
            forge([200, '', ['x-first', '1'], null]);
            forge([101, 'x', ['Upgrade', 'websocket'], null]);
            return new Response('legit');
          }
        };
    });

forged_case('then hook: a forged output whose getters call the captured callbacks again, re-entrantly',
    qq{
        $THEN_HOOK
        hook();
        let depth = 0;
        function evil() {
          const out = [200, '', [], null];
          Object.defineProperty(out, 0, { get() { if (depth++ < 20) forge(evil()); return depth % 2 ? 101 : 200; } });
          Object.defineProperty(out, 2, { get() { if (depth++ < 20) forge(evil()); return ['Upgrade', 'websocket']; } });
          Object.defineProperty(out, 'length', { get() { forge([101, '', [], null]); return 4; } });
          return out;
        }
        export default {
          async fetch() { await null; forge(evil()); return new Response('legit'); }
        };
    });

forged_case('then hook: a Proxy as forged output answers 200 first, then 101 and Connection: evil',
    qq{
        $THEN_HOOK
        hook();
        let reads = 0;
        const output = new Proxy([200, '', [], null], {
          get(target, key) {
            reads++;
            if (key === '0') return reads > 1 ? 101 : 200;
            if (key === '2') return reads > 2 ? ['Connection', 'evil', 'bad name', 'v'] : [];
            return target[key];
          },
        });
        export default {
          async fetch() { await null; forge(output); return new Response('legit'); }
        };
    });

forged_case('then hook: a forged output with a 16M-character reason and a million headers',
    forging(q{[200, 'A'.repeat(1 << 24), new Array(2e6).fill('x-huge'), new Uint8Array(0)]}),
    timeout => 30);

forged_case('then hook: the captured callbacks called with a Proxy that throws on every access',
    forging(q{new Proxy({}, new Proxy({}, { get() { return () => { throw new Error('trap'); }; } }))}));

# ---------------------------------------------------------------------------
# thenables: the runtime resolves promises with its own output arrays

forged_case('Array.prototype.then replaces the output array with a forged status 101',
    q{
        export default {
          async fetch() {
            Array.prototype.then = function (resolve) {
              delete Array.prototype.then;
              resolve([101, 'x', ['Upgrade', 'websocket'], null]);
            };
            return new Response('legit');
          }
        };
    });

forged_case('Object.prototype.then makes every object a thenable that forges status 101',
    q{
        function evilThen(resolve) {
          delete Object.prototype.then;
          if (Array.isArray(this)) { resolve([101, 'x', ['Upgrade', 'websocket', 'TE', 'evil'], null]); return; }
          resolve(this);                       // the Response itself, no longer a thenable
          Object.prototype.then = evilThen;    // armed again for the output array
        }
        export default {
          async fetch() { Object.prototype.then = evilThen; return new Response('legit'); }
        };
    });

# ---------------------------------------------------------------------------
# Promise species: what the runtime's .then() constructs

my $EVIL_PROMISE = q{
    const stolen = [];
    class Evil extends Promise {
      constructor(executor) {
        super((resolve, reject) => {
          stolen.push(resolve, reject);
          executor((v) => { resolve([101, 'x', ['Upgrade', 'websocket'], null]); resolve(v); }, reject);
        });
      }
      static get [Symbol.species]() { return Evil; }
    }
    async function misuse() {
      await null;
      for (const f of stolen.slice(0, 100)) { try { f([101, 'x', [], null]); } catch (e) {} }
    }
};

tampering_case('Promise.prototype.constructor replaced by a species that captures the resolvers',
    qq{
        $EVIL_PROMISE
        Promise.prototype.constructor = Evil;
        export default {
          async fetch(request, env, ctx) {
            ctx.waitUntil(Promise.resolve(1));
            await misuse();
            return new Response('legit');
          }
        };
    });

tampering_case('Promise[Symbol.species] replaced inside fetch',
    qq{
        $EVIL_PROMISE
        export default {
          async fetch(request, env, ctx) {
            Object.defineProperty(Promise, Symbol.species, { get() { return Evil; }, configurable: true });
            ctx.waitUntil(Promise.resolve(1));
            await misuse();
            return new Response('legit');
          }
        };
    });

# ---------------------------------------------------------------------------
# functions the runtime calls through: Reflect.apply, call, apply

tampering_case('Reflect.apply replaced: every function it is given is called again with a forged output',
    q{
        const apply = Reflect.apply;
        const stolen = [];
        Reflect.apply = function (f, self, args) { stolen.push(f); return apply(f, self, args); };
        export default {
          async fetch(request) {
            new Headers({ a: '1' }).forEach(() => {});
            setTimeout(() => {}, 0);
            await null;
            for (const f of stolen.splice(0, 100)) {
              try { apply(f, undefined, [[101, 'x', ['Upgrade', 'websocket'], null]]); } catch (e) {}
            }
            return new Response('legit', { headers: { 'x-a': '1' } });
          }
        };
    });

tampering_case('Function.prototype.call and apply replaced: what they see is called with forged outputs',
    q{
        const apply = Reflect.apply;
        const stolen = [];
        Function.prototype.call = function (self, ...args) { stolen.push(this); return apply(this, self, args); };
        Function.prototype.apply = function (self, args) { stolen.push(this); return apply(this, self, args || []); };
        export default {
          async fetch(request) {
            new URL(request.url).searchParams.forEach(() => {});
            await request.text();
            await null;
            for (const f of stolen.splice(0, 100)) {
              try { apply(f, undefined, [[101, 'x', ['Upgrade', 'websocket'], null]]); } catch (e) {}
            }
            return new Response('legit');
          }
        };
    });

# ---------------------------------------------------------------------------
# what the runtime uses to check a Response: RegExp, string and array methods

hostile_case($t, 'RegExp.prototype.test always true: CR LF in the reason and a header value is still a 500',
    js     => q{
        export default {
          async fetch() {
            RegExp.prototype.test = function () { return true; };
            return new Response('legit', {
              statusText: 'OK\r\nConnection: evil',
              headers: [['bad name', 'v'], ['x-a', 'v\r\nUpgrade: websocket']],
            });
          }
        };
    },
    expect => [$EXCEPTION],
    wire   => 1);

hostile_case($t, 'RegExp.prototype.exec forged to always match: a CR LF header value never reaches the wire',
    js     => q{
        export default {
          async fetch() {
            RegExp.prototype.exec = function () { const m = ['x']; m.index = 0; m.input = 'x'; return m; };
            return new Response('legit', { headers: { 'x-a': 'v\r\nUpgrade: websocket' } });
          }
        };
    },
    # the forged exec may also make a global replace loop until a limit stops it
    expect => [$EXCEPTION, [503, qr/^exceeded_(?:cpu|memory)\n\z/]],
    wire   => 1);

tampering_case('RegExp.prototype[Symbol.replace] forged: header normalisation cannot smuggle CR LF',
    q{
        export default {
          async fetch() {
            RegExp.prototype[Symbol.replace] = function () { return 'v\r\nUpgrade: websocket'; };
            return new Response('legit', { headers: { 'x-a': ' v ' } });
          }
        };
    },
    check => sub {
        my ($r) = @_;
        is $r->{headers}{'x-a'}, 'v', 'a 200 carries the header as the script set it, trimmed' if $r->{status} == 200;
    });

tampering_case('String.prototype.toLowerCase forged: a header cannot be renamed into Upgrade',
    q{
        const lower = String.prototype.toLowerCase; // 'X-Safe: renamed' is legitimate; renamed to Upgrade it is not
        export default {
          async fetch() {
            String.prototype.toLowerCase = function () {
              const s = `${this}`;
              return s === 'X-Safe' || s === 'x-safe' ? 'upgrade' : Reflect.apply(lower, s, []);
            };
            return new Response('legit', { headers: { 'X-Safe': 'renamed', 'Connection': 'evil' } });
          }
        };
    });

tampering_case('Array.prototype.push forged: the header list cannot gain Upgrade or a bad name',
    q{
        const push = Array.prototype.push;
        export default {
          async fetch() {
            Array.prototype.push = function (...items) {
              const out = items.map((v) => (v === 'x-a' ? 'Upgrade' : v === 'tame' ? 'websocket' : v));
              if (items.length === 2 && typeof items[0] === 'string') Reflect.apply(push, this, ['bad name', 'v']);
              return Reflect.apply(push, this, out);
            };
            return new Response('legit', { headers: { 'x-a': 'tame' } });
          }
        };
    });

tampering_case('Array.prototype[Symbol.iterator] forged: iteration cannot add Upgrade or a bad name',
    q{
        export default {
          async fetch() {
            Array.prototype[Symbol.iterator] = function* () {
              for (let i = 0; i < this.length; i++) yield this[i];
              if (this.length > 0 && Array.isArray(this[0])) {
                yield ['Upgrade', 'websocket'];
                yield ['bad name', 'v'];
                yield ['x-b', 'v\r\nConnection: evil'];
              }
            };
            return new Response('legit', { headers: [['x-a', '1']] });
          }
        };
    });

tampering_case("Object.prototype and Array.prototype accessors for '0'..'3' forge and steal array elements",
    q{
        const forged = [101, 'x', ['Upgrade', 'websocket'], null];
        const stolen = [];
        export default {
          async fetch() {
            for (const proto of [Object.prototype, Array.prototype]) {
              for (let i = 0; i < 4; i++) {
                Object.defineProperty(proto, String(i), {
                  get() { return forged[i]; }, set(v) { stolen.push(v); }, configurable: true,
                });
              }
            }
            return new Response('legit');
          }
        };
    });

tampering_case('Object.prototype status and statusText getters do not forge an init the script did not give',
    q{
        export default {
          async fetch() {
            Object.defineProperty(Object.prototype, 'status', { get() { return 101; }, configurable: true });
            Object.defineProperty(Object.prototype, 'statusText', { get() { return 'OK\r\nConnection: evil'; }, configurable: true });
            Object.defineProperty(Object.prototype, 'headers', { get() { return { Upgrade: 'websocket' }; }, configurable: true });
            return new Response('legit');
          }
        };
    });

tampering_case('Math.trunc forged to 101: the status stays what the script asked for or the request fails',
    q{
        export default {
          async fetch() { Math.trunc = () => 101; return new Response('legit', { status: 200 }); }
        };
    });

hostile_case($t, 'Number.isFinite forged to true: status NaN never reaches the wire as 000',
    js     => q{
        export default {
          async fetch() { Number.isFinite = () => true; return new Response('legit', { status: NaN }); }
        };
    },
    expect => [$EXCEPTION],
    wire   => 1);

hostile_case($t, 'Array.prototype.includes forged: a 204 with a body never goes out with the body',
    js     => q{
        export default {
          async fetch() { Array.prototype.includes = () => false; return new Response('body', { status: 204 }); }
        };
    },
    expect => [[204, ''], $EXCEPTION],
    wire   => 1);

hostile_case($t, 'Array.prototype.includes forged: Response.redirect with status 101 is still a 500',
    js     => q{
        export default {
          async fetch() { Array.prototype.includes = () => true; return Response.redirect('https://example.com/', 101); }
        };
    },
    expect => [$EXCEPTION],
    wire   => 1);

tampering_case('Headers.prototype iteration forged: entries, forEach and the iterator cannot add headers',
    q{
        export default {
          async fetch() {
            const evil = function* () { yield ['upgrade', 'websocket']; yield ['bad name', 'v']; yield ['connection', 'evil']; };
            Headers.prototype[Symbol.iterator] = evil;
            Headers.prototype.entries = evil;
            Headers.prototype.forEach = function (f) { for (const [k, v] of evil()) f(v, k, this); };
            return new Response('legit', { headers: { 'x-a': '1' } });
          }
        };
    });

tampering_case('JSON.parse and JSON.stringify replaced: the runtime still reads and writes JSON',
    q{
        export default {
          async fetch(request) {
            JSON.parse = () => ({ status: 101, headers: { Upgrade: 'websocket' } });
            JSON.stringify = () => 'x\r\nConnection: evil';
            const got = await request.json();
            const json = Response.json({ got });
            return new Response((await json.text()) === '{"got":{"a":1}}' ? 'legit' : 'runtime used the forged JSON');
          }
        };
    },
    request => { method => 'POST', content => '{"a":1}', headers => { 'Content-Type' => 'application/json' } });

tampering_case('TextEncoder.prototype.encode replaced: a Response body is still the string given',
    q{
        export default {
          async fetch() {
            TextEncoder.prototype.encode = () => new Uint8Array(new ArrayBuffer(8), 4, 100);
            return new Response('legit');
          }
        };
    });

# ---------------------------------------------------------------------------
# what the handler returns

hostile_case($t, 'a Response subclass with forged getters is sent as the Response it really is',
    js     => q{
        class Sub extends Response {
          get status() { return 101; }
          get statusText() { return 'x\r\nUpgrade: websocket'; }
          get headers() { return new Headers({ Upgrade: 'websocket' }); }
        }
        export default { async fetch() { return new Sub('sub'); } };
    },
    expect => [[200, 'sub']],
    wire   => 1);

hostile_case($t, 'a Proxy around a Response is not a Response: 500 exception',
    js     => q{
        export default {
          async fetch() {
            return new Proxy(new Response('proxied'), {
              get(target, key) { return key === 'status' ? 101 : Reflect.get(target, key); },
            });
          }
        };
    },
    expect => [$EXCEPTION],
    wire   => 1);

hostile_case($t, 'Response.error() returned from fetch is a 500, never status 0 on the wire',
    js     => q{ export default { async fetch() { return Response.error(); } }; },
    expect => [$EXCEPTION],
    wire   => 1);

hostile_case($t, 'Object.setPrototypeOf(Response, evil) steals what the built-ins pass to super()',
    js     => q{
        const stolen = [];
        function Evil(...args) {
          stolen.push(...args);
          // a Proxy as `this`: the Response's private fields land on it
          return new Proxy({}, { get(target, key) { return key === 'status' ? 101 : undefined; } });
        }
        Evil.prototype = Object.create(Object.prototype);
        export default {
          async fetch() {
            Object.setPrototypeOf(Response, Evil);
            let response;
            try { response = new Response('legit', { headers: { 'x-a': '1' } }); } catch (e) {}
            for (const secret of stolen) {
              for (const make of [() => new Request(secret, 'http://x/'), () => Reflect.construct(Object.getPrototypeOf(Request), [secret])]) {
                try { make(); } catch (e) {}
              }
            }
            return response;
          }
        };
    },
    expect => [$LEGIT, $EXCEPTION],
    wire   => 1);

# ---------------------------------------------------------------------------
# getters and proxies the runtime calls while converting a Response

hostile_case($t, 'an init whose status getter loops forever answers 503 exceeded_cpu',
    js     => q{ export default { async fetch() { return new Response('x', { get status() { for (;;) {} } }); } }; },
    expect => [[503, "exceeded_cpu\n"]],
    within => 10);

hostile_case($t, 'an init whose headers getter throws answers 500 exception',
    js     => q{ export default { async fetch() { return new Response('x', { get headers() { throw new Error('boom'); } }); } }; },
    expect => [$EXCEPTION]);

hostile_case($t, 'an init whose status getter constructs a Response recursively answers 500 exception',
    js     => q{
        const init = { get status() { new Response('inner', init); return 200; } };
        export default { async fetch() { return new Response('outer', init); } };
    },
    expect => [$EXCEPTION]);

hostile_case($t, 'a headers init whose getter returns CR LF answers 500 exception',
    js     => q{
        export default {
          async fetch() { return new Response('x', { headers: { get 'x-a'() { return 'v\r\nUpgrade: websocket'; } } }); }
        };
    },
    expect => [$EXCEPTION],
    wire   => 1);

tampering_case('a headers init whose getters answer differently on each read (check, then use)',
    q{
        let reads = 0;
        const headers = new Proxy({ 'x-a': 'ok' }, {
          get(target, key) { return reads++ ? 'v\r\nConnection: evil' : 'ok'; },
          ownKeys() { return reads ? ['x-a', 'Upgrade'] : ['x-a']; },
          getOwnPropertyDescriptor(target, key) { return { value: 'ok', enumerable: true, configurable: true }; },
        });
        export default { async fetch() { return new Response('legit', { headers }); } };
    });

$t->stop;
done_testing;
