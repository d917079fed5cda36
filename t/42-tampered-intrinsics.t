#!/usr/bin/perl
# A tenant may replace any intrinsic of its own context (Array.prototype.push,
# the Array iterator, RegExp.prototype.exec, index setters on Object.prototype,
# globalThis.Uint8Array, ...). That breaks only its own code: the built-ins
# captured what they use before the script ran, so the Request still arrives
# as the client sent it, the Response leaves exactly as built, KV, timers and
# console.log still work, and nothing internal (INTERNAL, native, helper
# closures, the output handed to the engine) passes through tenant code.
# Each tampering runs once at the top level and once inside fetch().
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;

my $t = Dispatch::Test->new(
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; } },
);
my $KV = '{"bindings":[{"type":"kv_namespace","name":"KV","namespace_id":"tampered"}]}';

# Runs before any tampering. `seen` records what tampered code was handed:
# string concatenation only, which no tampering here affects.
my $ECHO = q{
    const TE = TypeError;
    globalThis.seen = '';
    const note = (v) => { globalThis.seen += `${typeof v === 'function' || typeof v === 'symbol' ? 'INTERNAL' : typeof v},`; };
    const isTE = (f) => { try { f(); return 'no'; } catch (e) { return e instanceof TE ? 'T' : 'other'; } };
    async function echo(request, env) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      const checks = `${isTE(() => new Headers({ 'bad name': 'v' }))}${isTE(() => new Headers({ x: 'a\r\nb' }))}`
        + `${isTE(() => new Response('', { statusText: 'a\r\nb' }))}${isTE(() => new Headers().append('x', '\u20ac'))}`;
      await env.KV.put('k', 'stored', { metadata: { m: 7 } });
      const got = await env.KV.getWithMetadata('k');
      const listed = await env.KV.list();
      const kv = `${got.value}/${got.metadata.m}/${listed.keys.length}/${listed.keys[0].name}`;
      console.log('tampered\nline %s', 'end');
      const body = `${request.method}|${request.headers.get('x-in')}|${await request.text()}|${kv}`;
      const seen = globalThis.seen; // before request.url (url.js's IDNA code for non-ASCII hosts is not hardened)
      return new Response(body, { status: 201, statusText: 'Made Here',
        headers: { 'x-a': '1', 'x-b': 'two', 'x-checks': checks, 'x-seen': seen, 'x-url': request.url } });
    }
};

sub script_with {
    my ($tamper, $where) = @_;
    return $where eq 'top'
        ? "$ECHO\n$tamper\nexport default { fetch: (request, env) => echo(request, env) };"
        : "$ECHO\nlet done = false;\n"
          . "export default { fetch(request, env) { if (!done) { done = true;\n$tamper\n} return echo(request, env); } };";
}

sub call {
    my ($name) = @_;
    return $t->request('POST', "/t/$name?q=1&r=%C3%A9",
        headers => { 'X-In' => ' hello ', 'Content-Type' => 'text/plain' }, content => 'payload');
}

$t->put_script('tenants', 'control', script_with('', 'top'), metadata => $KV);
my $control = call('control');
is $control->{status}, 201, 'the untampered script answers';
is $control->{content}, 'POST|hello|payload|stored/7/1/k', 'the untampered script sees the request';
like $control->{headers}{'x-url'}, qr{^http://[^/]+/t/control\?q=1&r=%C3%A9$}, 'and its URL';
my @workers = $t->worker_pids;

sub response_arrives_intact {
    my ($name, $tamper, %opt) = @_;
    for my $where ('top', 'fetch') {
        subtest "$name ($where)" => sub {
            my $script = "$name-$where";
            $t->put_script('tenants', $script, script_with($tamper, $where), metadata => $KV);
            my $r = call($script);
            is $r->{status}, 201, 'status as built';
            is $r->{reason}, 'Made Here', 'statusText as built';
            is $r->{content}, $control->{content}, 'method, headers, body and KV reach the script; the body reaches the client';
            (my $url = $control->{headers}{'x-url'}) =~ s{/t/control\?}{/t/$script?};
            # The client's URL is its own serialisation: url.js's fast path
            # (captured intrinsics only) checks it, the state machine never runs.
            is $r->{headers}{'x-url'}, $url, 'request.url as the client sent it';
            is $r->{headers}{'x-a'}, '1', 'x-a as built';
            is $r->{headers}{'x-b'}, 'two', 'x-b as built';
            is $r->{headers}{'content-type'}, 'text/plain;charset=UTF-8', 'the default Content-Type';
            ok !exists $r->{headers}{'x-evil'}, 'no header the tampering made up';
            is $r->{headers}{'x-checks'}, 'TTTT', 'invalid names, values and status texts still throw TypeError';
            unlike $r->{headers}{'x-seen'} // '', qr/INTERNAL/, 'no function or symbol was handed to tenant code';
            TODO: {
                local $TODO = $where eq 'top' ? $opt{seen_todo_top} : undef;
                like $r->{headers}{'x-seen'} // '', $opt{seen}, 'tampered code saw only what it may' if $opt{seen};
            }
        };
    }
}

response_arrives_intact('array-push-throws', q{
    for (const m of ['push', 'pop', 'map', 'filter', 'join', 'some', 'findIndex', 'includes', 'slice', 'sort']) {
      Array.prototype[m] = function () { throw new Error(`pwned by ${m}`); };
    }
});

response_arrives_intact('array-iterator-yields-evil', q{
    Array.prototype[Symbol.iterator] = function* () { note(this); yield ['x-evil', '1']; };
}, seen => qr/^$/);

response_arrives_intact('index-setters-on-prototypes', q{
    for (const i of ['0', '1', '2', '3']) {
      Object.defineProperty(Object.prototype, i, { set(v) { note(v); }, configurable: true });
      Object.defineProperty(Array.prototype, i, { set(v) { note(v); }, configurable: true });
    }
}, seen => qr/^$/,
    # TenantIsolate::run fills the request's header list with Set(): the
    # client's first headers go to the setter (and a setter that throws
    # aborts the worker on .Check()). A C++ fix: v8::Array::New(isolate, elements, n).
    seen_todo_top => 'the engine builds the header list with [[Set]] (tenant_isolate.cc)');

response_arrives_intact('then-getter-on-object-prototype', q{
    Object.defineProperty(Object.prototype, 'then', {
      // The tenant's own Response and KV results pass here (promises resolve
      // with them); the output handed to the engine has no prototype and must not.
      get() { if (Object.getPrototypeOf(this) === null || typeof this === 'function') note(() => 0); }, configurable: true,
    });
}, seen => qr/^$/);

response_arrives_intact('regexp-methods-replaced', q{
    RegExp.prototype.exec = function () { note(this); return null; };
    RegExp.prototype.test = function () { note(this); return true; };
    RegExp.prototype[Symbol.replace] = function () { note(this); return 'x\r\nInjected: 1'; };
    RegExp.prototype[Symbol.match] = function () { note(this); return null; };
}, seen => qr/^$/);

response_arrives_intact('string-methods-replaced', q{
    for (const m of ['replace', 'replaceAll', 'toLowerCase', 'toUpperCase', 'slice', 'substr', 'charCodeAt',
      'padStart', 'trim', 'split', 'indexOf', 'startsWith']) {
      String.prototype[m] = function () { return 'x\r\nInjected: 1'; };
    }
});

response_arrives_intact('function-call-apply-bind-replaced', q{
    Function.prototype.call = function () { note(this); throw new Error('pwned by call'); };
    Function.prototype.apply = function () { note(this); throw new Error('pwned by apply'); };
    Function.prototype.bind = function () { note(this); throw new Error('pwned by bind'); };
}, seen => qr/^$/);

response_arrives_intact('object-and-reflect-statics-replaced', q{
    Reflect.ownKeys = () => ['x-evil'];
    Reflect.getOwnPropertyDescriptor = () => ({ value: 'x\r\n', enumerable: true });
    Object.defineProperty = () => { throw new Error('pwned by defineProperty'); };
    Object.freeze = () => { throw new Error('pwned by freeze'); };
    Object.setPrototypeOf = () => { throw new Error('pwned by setPrototypeOf'); };
    Object.hasOwn = () => { throw new Error('pwned by hasOwn'); };
});

response_arrives_intact('typed-array-and-buffer-accessors-replaced', q{
    const TA = Object.getPrototypeOf(Uint8Array.prototype);
    for (const p of ['length', 'byteLength', 'byteOffset', 'buffer']) {
      Object.defineProperty(TA, p, { get() { note(this); return 0; }, configurable: true });
    }
    for (const m of ['subarray', 'set', 'slice']) TA[m] = function () { note(this); return new Uint8Array(0); };
    Object.defineProperty(ArrayBuffer.prototype, 'byteLength', { get() { note(this); return 0; }, configurable: true });
    ArrayBuffer.prototype.slice = function () { note(this); return new ArrayBuffer(0); };
    ArrayBuffer.isView = () => false;
}, seen => qr/^$/);

response_arrives_intact('json-math-number-date-replaced', q{
    JSON.parse = () => ({ m: 'pwned' });
    JSON.stringify = () => 'x\r\n';
    for (const m of ['min', 'max', 'floor', 'trunc']) Math[m] = () => -1;
    Math.random = () => 0.5;
    Number.isFinite = () => false;
    Number.isInteger = () => false;
    Number.parseInt = () => NaN;
    Number.prototype.toString = () => 'x\r\n';
    Date.now = () => 0;
});

response_arrives_intact('global-constructors-replaced', q{
    for (const name of ['Uint8Array', 'ArrayBuffer', 'String', 'Number', 'Array', 'Object', 'Map', 'Set',
      'TypeError', 'RangeError', 'Error', 'Symbol', 'Math', 'JSON', 'Reflect', 'Date']) {
      globalThis[name] = function (...args) { note(args[0]); throw new Error(`pwned by ${name}`); };
    }
}, seen => qr/^$/);

# Object.setPrototypeOf(Request, F) makes super() in Request's constructor
# call F: the built-ins never pass INTERNAL to super().
subtest 'the internal token stays internal when Request, Response or File get another prototype' => sub {
    $t->put_script('tenants', 'super-swap', q{
        let handed = '';
        const F = function (...args) { for (const a of args) handed += `${typeof a},`; };
        export default {
          async fetch(request) {
            for (const [C, make] of [[Request, () => new Request('http://example.com/')],
              [Response, () => new Response('x')], [File, () => new File(['x'], 'f')]]) {
              const saved = Object.getPrototypeOf(C);
              Object.setPrototypeOf(C, F);
              try { make(); } catch {}
              Object.setPrototypeOf(C, saved);
            }
            const form = await request.formData(); // File's internal form
            return new Response(`handed:${handed} file:${form.get('f').name}`);
          }
        };
    });
    my $boundary = 'XyZ';
    my $body = "--$boundary\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n"
        . "Content-Type: text/plain\r\n\r\nhello\r\n--$boundary--\r\n";
    my $r = $t->request('POST', '/t/super-swap',
        headers => { 'Content-Type' => "multipart/form-data; boundary=$boundary" }, content => $body);
    is $r->{status}, 200, 'the script answers';
    # Only File's public form calls F, with the tenant's own (fileBits, options).
    is $r->{content}, 'handed:object,undefined, file:a.txt', 'F saw only the tenant\'s own arguments, never INTERNAL';
};

subtest 'console lines stay single, escaped lines whatever String.prototype says' => sub {
    $t->put_script('tenants', 'console-tampered', q{
        String.prototype.replace = () => 'forged\nInjected-line';
        String.prototype.slice = () => 'forged\nInjected-line';
        RegExp.prototype[Symbol.replace] = () => 'forged\nInjected-line';
        Array.prototype.join = () => 'forged\nInjected-line';
        Array.prototype.push = () => { throw new Error('pwned by push'); };
        export default { fetch() { console.log('marker-%s\nsecond', 'tampered'); return new Response('logged'); } };
    });
    my $r = $t->get('/t/console-tampered');
    is $r->{content}, 'logged', 'console.log returns normally';
    my $log = '';
    $t->wait_for(sub { $log = $t->error_log; $log =~ /marker-tampered/ }, timeout => 5);
    like $log, qr/marker-tampered\\nsecond/, 'the line is formatted and escaped as usual';
    unlike $log, qr/^Injected-line/m, 'no line of the tenant\'s making';
};

# URL's fast path, URLSearchParams and the client's Headers compute with
# captured intrinsics: the same answers before and after the tenant replaces
# the methods they would otherwise call. (url.js's state machine, for URLs
# off the fast path, is not hardened yet: no such URL here.)
subtest 'URL, URLSearchParams and request headers compute the same after tampering' => sub {
    $t->put_script('tenants', 'url-tampered', q{
        const FREEZE = JSON.stringify;
        // URLs the state machine parses (ASCII hosts: the IDNA code for
        // other hosts is not hardened yet)
        const offFastPath = () => {
          const v = new URL('http://h/');
          v.hash = 'x y';
          v.host = 'EXAMPLE.org:81';
          v.username = 'u@';
          return [new URL('HTTP://User:Pw@EXAMPLE.com:0080/a/./b/../c%2E?x y#f g').href, new URL('http://0x7f.1/').href,
            new URL('http://[::FFFF:1.2.3.4]:8080/').href, new URL('../z?q', 'http://h/a/b/c').href,
            new URL('http://h/a\tb\nc').href, new URL('file:///C|/x').href, new URL('x', 'file:///C:/y/z').href,
            new URL('web+demo:/.//not-a-host/').href, new URL('mailto:A B@x?s').href, v.href];
        };
        const work = (request) => {
          const u = new URL(request.url);
          const p = new URLSearchParams('b=2&a=1+1&a=%C3%A9&c');
          p.append('z', 'x y');
          p.set('b', '3');
          p.delete('c');
          const sorted = new URLSearchParams(`${p}`);
          sorted.sort();
          const r = new Request('https://example.com:8443/a/b/c/d/e?x=1#f');
          const h = new Headers(request.headers);
          h.append('x-more', 'm');
          return FREEZE([u.href, u.pathname, u.search, u.searchParams.get('q'), u.searchParams.getAll('r'),
            u.searchParams.has('q'), u.searchParams.size, `${u.searchParams}`, p.toString(), sorted.toString(),
            p.get('a'), p.getAll('a'), r.url, new URL('http://h:80/x/y?').href,
            request.headers.get('x-in'), request.headers.has('X-IN'), request.headers.get('user-agent'),
            h.get('x-in'), h.get('x-more'), offFastPath()]);
        };
        const tamper = () => {
          // index loops: the tenant's own for...of would use the iterator it replaces
          const each = (list, f) => { for (let i = 0; i < list.length; i++) f(list[i]); };
          each(['pathname', 'search'], (name) => {
            Object.defineProperty(URL.prototype, name, { get() { return 'forged'; }, configurable: true });
          });
          each(['0', '1', '2'], (i) => {
            Object.defineProperty(Array.prototype, i, { set() { throw new Error('pwned by a setter'); }, configurable: true });
          });
          each(['slice', 'indexOf', 'charCodeAt', 'toLowerCase', 'split', 'replace', 'replaceAll', 'includes'], (m) => {
            String.prototype[m] = function () { return 'x\r\nInjected: 1'; };
          });
          RegExp.prototype.exec = function () { return null; };
          RegExp.prototype.test = function () { return true; };
          each(['push', 'pop', 'map', 'filter', 'find', 'findIndex', 'some', 'join', 'includes', 'slice', 'sort'], (m) => {
            Array.prototype[m] = function () { throw new Error(`pwned by ${m}`); };
          });
          Array.prototype[Symbol.iterator] = function* () { yield 'x-evil'; };
        };
        let before = null;
        export default {
          fetch(request) {
            if (before === null) {
              before = work(request);
              tamper();
              return new Response(before);
            }
            let after;
            try { after = work(request); } catch (e) { after = `threw ${e}`; }
            return new Response(after);
          },
        };
    });
    my @want = ('/t/url-tampered?q=1&r=%C3%A9&r=2', { 'X-In' => ' hello ', 'User-Agent' => 'agent/1' });
    my $before = $t->get($want[0], headers => $want[1]);
    is $before->{status}, 200, 'the untampered run answers';
    like $before->{content}, qr{^\["http://[^"]+/t/url-tampered\?q=1&r=%C3%A9&r=2","/t/url-tampered"}, 'and parsed the URL';
    my $after = $t->get($want[0], headers => $want[1]);
    # URL.prototype getters are the tenant's own to replace: the expected
    # answer reads them through the tampered prototype too.
    (my $expected = $before->{content}) =~ s{^\[("[^"]*"),"[^"]*","[^"]*"}{\[$1,"forged","forged"};
    is $after->{content}, $expected, 'the same answers after tampering (but the tenant\'s own URL getters)';
};

is_deeply [ $t->worker_pids ], \@workers, 'the same worker processes serve throughout';
is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
done_testing;
