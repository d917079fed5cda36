#!/usr/bin/perl
# Dynamic dispatch (issue 14), hostile: a router and a tenant passing
# bodies, headers and errors crafted to confuse the other (CR/LF in header
# values, statuses 0 and 999, a Response subclass with getters, an error
# whose `message` getter throws, a thrown Proxy or Symbol, a body stream of
# strings), a tenant holding the router's request stream after its
# response, cross-isolate objects (a Fetcher, a response body, a Response)
# used after their request ended. Every time: the worker survives, nothing
# hangs, the side that called gets a clear error.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use POSIX ();

my $t = Dispatch::Test->new(
    http   => q{ dispatch_cpu_limit 200ms; dispatch_wall_limit 5s; },
    server => q{
        client_max_body_size 0;
        location ~ ^/r/ { dispatch platform router; }
        location /keep/ { dispatch platform keeper; }
    },
);
my $ns = '{"bindings":[{"type":"dispatch_namespace","name":"T","namespace":"tenants"}]}';

# The router runs a check named by the query against tenant /r/NAME and
# answers what happened: "ok STATUS BODY" or "caught NAME: MESSAGE".
$t->put_script('platform', 'router', q{
function describe(e) {
  let name = 'unknown', message = 'unknown';
  try { name = e.constructor.name; } catch {}
  try { message = String(e.message); } catch { message = '(message getter threw)'; }
  return `caught ${name}: ${message}`;
}
const checks = {
  plain: (f, req) => f.fetch(req),
  // header values crafted to confuse the tenant: refused in the router
  crlf: (f) => f.fetch('http://t/', { headers: { 'x-a': 'v\r\nx-injected: 1' } }),
  lf: (f) => f.fetch('http://t/', { headers: { 'x-a': 'v\nx' } }),
  nul: (f) => f.fetch('http://t/', { headers: { 'x-a': 'v\0x' } }),
  // a body stream that gives strings, and one that errors with a hostile error
  strings: (f) => f.fetch('http://t/', { method: 'POST', body: new ReadableStream({ pull(c) { c.enqueue('text'); } }), duplex: 'half' }),
  evilbody: (f) => f.fetch('http://t/', { method: 'POST', duplex: 'half', body: new ReadableStream({ pull(c) {
    const e = new Error('x'); Object.defineProperty(e, 'message', { get() { throw new Error('gotcha'); } });
    c.error(e);
  } }) }),
  // Request subclasses whose getters lie: the dispatch reads the request's
  // own state, never the getters
  subclass: (f) => {
    class Lying extends Request { get method() { return 'DELETE'; } get headers() { throw new Error('getter'); } }
    return f.fetch(new Lying('http://t/real', { headers: { 'x-a': 'real' } }));
  },
  subclasscrlf: (f) => {
    class Lying extends Request { get method() { return 'DELETE'; } get headers() { return { 'x-a': 'v\r\nx-injected: 1' }; } }
    return f.fetch(new Lying('http://t/real', { headers: { 'x-a': 'real' } }));
  },
  subclassurl: (f) => {
    class Lying extends Request { get method() { return 'DELETE'; } get url() { return 'http://t/lie\r\nx: 1'; } }
    return f.fetch(new Lying('http://t/real', { headers: { 'x-a': 'real' } }));
  },
};
export default {
  async fetch(req, env) {
    const url = new URL(req.url);
    const name = url.pathname.split('/')[2];
    const check = checks[url.searchParams.get('c') || 'plain'];
    try {
      const r = await check(env.T.get(name), req);
      let body;
      try { body = await r.text(); } catch (e) { body = 'body ' + describe(e); }
      return new Response(`ok ${r.status} ${body}`);
    } catch (e) {
      return new Response(describe(e));
    }
  }
};
}, metadata => $ns);

my %tenants = (
    # a tenant that shows what it got
    echo => q{ export default { async fetch(req) {
      let body = '';
      try { body = req.body ? await req.text() : ''; } catch (e) { body = 'body failed: ' + e.constructor.name; }
      return new Response(`${req.method} ${new URL(req.url).pathname} ${req.headers.get('x-a')} ${req.headers.has('x-injected')} [${body}]`);
    } }; },
    crlfout => q{ export default { fetch() { return new Response('x', { headers: { 'x-a': 'v\r\nx-injected: 1' } }); } }; },
    status0 => q{ export default { fetch() { return new Response('x', { status: 0 }); } }; },
    status999 => q{ export default { fetch() { return new Response('x', { status: 999 }); } }; },
    subclass => q{ export default { fetch() {
      class Lying extends Response {
        get status() { return 999; } get ok() { throw new Error('getter'); }
        get headers() { return new Headers({ 'x-evil': 'a\r\nb' }); } get body() { throw new Error('getter'); }
      }
      return new Lying('real body', { status: 202, headers: { 'x-real': '1' } });
    } }; },
    throwgetter => q{ export default { async fetch() {
      const e = new Error('x');
      Object.defineProperty(e, 'message', { get() { throw new Error('gotcha'); } });
      Object.defineProperty(e, 'stack', { get() { throw new Error('gotcha'); } });
      throw e;
    } }; },
    throwproxy => q{ export default { async fetch() {
      throw new Proxy({}, { get() { throw new Error('trap'); }, getPrototypeOf() { throw new Error('trap'); } });
    } }; },
    throwsymbol => q{ export default { async fetch() { throw Symbol('s'); } }; },
    throwhuge => q{ export default { async fetch() { throw new Error('m'.repeat(1 << 20)); } }; },
    strings => q{ export default { fetch() {
      return new Response(new ReadableStream({ pull(c) { c.enqueue('not bytes'); } }));
    } }; },
    brokenbody => q{ export default { fetch() {
      let n = 0;
      return new Response(new ReadableStream({ pull(c) { if (n++ < 2) c.enqueue(new Uint8Array(10)); else c.error(new Error('tenant body broke')); } }));
    } }; },
    # holds the router's request stream after its response
    holder => q{
      let saved = null;
      export default { async fetch(req) {
        if (saved === null) { saved = req.body; return new Response('held'); }
        let msg;
        try { const r = saved.getReader(); for (;;) { const { done } = await r.read(); if (done) break; } msg = 'read to the end'; }
        catch (e) { msg = e.constructor.name + ': ' + e.message; }
        return new Response(msg);
      } };
    },
    # answers with a stream it never ends
    endless => q{ export default { fetch() {
      return new Response(new ReadableStream({ pull(c) { c.enqueue(new Uint8Array(1000)); } }));
    } }; },
);
$t->put_script('tenants', $_, $tenants{$_}) for keys %tenants;
$t->start;
my @pids = $t->worker_pids;

sub check {
    my ($name, $c) = @_;
    my $r = $t->get("/r/$name" . ($c ? "?c=$c" : ''), timeout => 15);
    return "$r->{status} $r->{content}";
}

# Requests crafted by the router.
is check('echo'), '200 ok 200 GET /r/echo null false []', 'the plain case';
like check('echo', $_), qr/^200 caught TypeError: /, "router: $_ in a header value is refused in the router"
    for qw(crlf lf nul);
is check('echo', 'strings'), '200 caught TypeError: This ReadableStream did not return bytes.',
    'router: a body stream of strings rejects the router\'s call';
like check('echo', 'evilbody'), qr/^200 (ok 200 POST \/ null false \[body failed: \w+\]|caught .*)$/,
    'router: a body stream erroring with a hostile error';
# The request's own internal slots cross, as for a Response subclass below:
# getters a subclass puts over them are never called.
is check('echo', 'subclass'), '200 ok 200 GET /real real false []',
    'router: a Request subclass whose getter throws: its own request crosses';
is check('echo', 'subclasscrlf'), '200 ok 200 GET /real real false []',
    'router: ... whose headers getter gives CR/LF: never read';
is check('echo', 'subclassurl'), '200 ok 200 GET /real real false []',
    'router: ... whose url getter gives CR/LF: never read';

# Answers crafted by the tenant.
like check('crlfout'), qr/^200 caught Error: Worker "crlfout" threw an exception: Header values must not contain CR, LF or NUL$/,
    'tenant: CR/LF in a header value never reaches the router';
like check('status0'), qr/^200 caught Error: Worker "status0" threw an exception: Response status 0 is outside the range 200 to 599$/, 'tenant: status 0';
like check('status999'), qr/^200 caught Error: Worker "status999" threw an exception: Response status 999 is outside the range 200 to 599$/, 'tenant: status 999';
is check('subclass'), '200 ok 202 real body', 'tenant: a Response subclass\'s getters are not what crosses';
like check('throwgetter'), qr/^200 caught Error: Worker "throwgetter" threw an exception/,
    'tenant: an error whose message getter throws';
like check('throwproxy'), qr/^200 caught Error: Worker "throwproxy" threw an exception/, 'tenant: a thrown Proxy';
like check('throwsymbol'), qr/^200 caught Error: Worker "throwsymbol" threw an exception/, 'tenant: a thrown Symbol';
my $huge = check('throwhuge');
like $huge, qr/^200 caught Error: Worker "throwhuge" threw an exception/, 'tenant: a 1 MB message';
cmp_ok length($huge), '<', 64 << 10, '... cut short on its way to the router';
like check('strings'), qr/^200 ok 200 body caught TypeError: /, 'tenant: a body of strings errors the router\'s read';
like check('brokenbody'), qr/^200 ok 200 body caught TypeError: /, 'tenant: a body that breaks mid-way';

# A tenant holding the router's request stream past its response.
my ($out) = $t->curl('-X', 'POST', '--data-binary', '@' . $t->random_file("up.bin", 4 << 20), $t->url('/r/holder'));
is $out, 'ok 200 held', 'a tenant answers without reading the router\'s body, and keeps its stream';
like check('holder'), qr/^200 ok 200 (TypeError: .+|read to the end)$/,
    'reading it in a later request fails cleanly (no hang)';

# A tenant whose stream never ends: the router reads what it wants and goes.
$t->put_script('platform', 'keeper', q{
  let fetcher = null, body = null, response = null;
  export default { async fetch(req, env) {
    const step = new URL(req.url).searchParams.get('s');
    if (step === 'keep') {
      fetcher = env.T.get('endless');
      response = await fetcher.fetch('http://t/');
      body = response.body;
      const reader = body.getReader();
      await reader.read();
      reader.releaseLock();
      return new Response('kept');
    }
    const out = [];
    try { const r = body.getReader(); await r.read(); await r.read(); out.push('body read'); }
    catch (e) { out.push('body ' + e.constructor.name); }
    try { await response.clone().text(); out.push('clone read'); }
    catch (e) { out.push('clone ' + e.constructor.name); }
    try { const r = await fetcher.fetch('http://t/'); const rd = r.body.getReader(); await rd.read(); await rd.cancel(); out.push('fetcher ' + r.status); }
    catch (e) { out.push('fetcher ' + e.constructor.name + ': ' + e.message); }
    return new Response(out.join(', '));
  } };
}, metadata => $ns);
is $t->get('/keep/?s=keep', timeout => 15)->{content}, 'kept', 'a router keeps an endless body, its Response and a Fetcher';
like $t->get('/keep/?s=use', timeout => 15)->{content}, qr/^body (read|TypeError), clone (read|TypeError), fetcher 200$/,
    'used after their request ended: clean errors, and the Fetcher makes a new call';

is check('echo'), '200 ok 200 GET /r/echo null false []', 'the router still works';
is_deeply [$t->worker_pids], \@pids, 'the worker survived every case';
is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
$t->stop;

# A tenant that answers in thousands of one-byte chunks, or drips them,
# spends its router's CPU limit unless the router is handed them together:
# each piece the router reads is a turn charged to the router, and a
# router past its limit again and again goes into the penalty box, taking
# every tenant with it. Before they were coalesced and paced, a router
# relaying 2,000 chunks under a 50 ms limit spent 45 ms, and 2,500 stopped
# it with exceeded_cpu.
# The router is held to 50 ms by its own metadata.limits; the tenant has
# the location's 200 ms, so that a loaded machine never stops the tenant's
# own 3,000 reads first.
my $small = Dispatch::Test->new(
    http   => q{ dispatch_cpu_limit 200ms; dispatch_wall_limit 10s;
                 log_format relay '$uri $dispatch_script $dispatch_outcome $dispatch_cpu_ms';
                 access_log %%PREFIX%%/relay.log relay; },
    server => q{ location / { dispatch platform relay; } },
);
$small->put_script('platform', 'relay', q{
  export default { fetch(req, env) { return env.T.get(new URL(req.url).pathname.slice(1)).fetch(req); } };
}, metadata => '{"bindings":[{"type":"dispatch_namespace","name":"T","namespace":"tenants"}],"limits":{"cpu_ms":50}}');
$small->put_script('tenants', 'chunks', q{
  export default { fetch(req) {
    const n = Number(new URL(req.url).searchParams.get('n'));
    return new Response(new ReadableStream({ start(c) {
      for (let i = 0; i < n; i++) c.enqueue(new Uint8Array([120]));
      c.close();
    } }));
  } };
});
$small->put_script('tenants', 'hello', q{ export default { fetch() { return new Response('hello'); } }; });
$small->start;
my $relay_cpu = sub {
    my ($path) = @_;
    my @lines = grep { index($_, "$path ") == 0 } split /\n/, Dispatch::Test::_read_file($small->prefix . '/relay.log');
    return (split ' ', $lines[-1] // '')[3];
};
my @got = map { my $r = $small->get('/chunks?n=3000', timeout => 15);
                "$r->{status} " . length($r->{content} // '') } 1 .. 10;
is_deeply \@got, [('200 3000') x 10],
    'ten times, 3,000 one-byte chunks reach the client whole through a router limited to 50 ms';
ok $small->wait_for(sub { defined $relay_cpu->('/chunks') }), 'the router\'s request is logged';
cmp_ok $relay_cpu->('/chunks'), '<', 25, 'relaying them costs the router under half its CPU limit';
unlike $small->error_log, qr/"platform\/relay": stopped/, 'the router is never stopped for it';
is $small->get('/hello')->{content}, 'hello', 'and it keeps serving other tenants: never throttled or quarantined';
$small->stop;

# dispatch_script_concurrency: a router's request waiting on the script it
# dispatched to counts against that script's slots, not the router's.
# Before, a tenant that never answers, asked by as many clients as the
# router has slots, had every other tenant answered 503 overloaded.
my $busy = Dispatch::Test->new(
    http   => q{ dispatch_script_concurrency 8; dispatch_wall_limit 3s; },
    server => q{ location / { dispatch platform relay; } },
);
$busy->put_script('platform', 'relay', q{
  export default { fetch(req, env) {
    const name = new URL(req.url).pathname.slice(1);
    // the router's own work that never ends still holds the router's slots
    if (name === 'self') return new Promise(() => {});
    return env.T.get(name).fetch(req);
  } };
}, metadata => $ns);
$busy->put_script('tenants', 'never', q{ export default { fetch() { return new Promise(() => {}); } }; });
$busy->put_script('tenants', 'hello', q{ export default { fetch() { return new Response('hello'); } }; });
$busy->start;
my $hold = sub {    # N requests to PATH held open in a child, for about 3 s
    my ($path, $n) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) { $busy->parallel([ map { +{ path => $path } } 1 .. $n ], concurrency => $n, timeout => 6); POSIX::_exit(0) }
    return $pid;
};
my $kid = $hold->('/never', 12);
ok $busy->wait_for(sub { $busy->error_log =~ /dispatch_script_concurrency \(8\) reached/ }),
    'twelve clients wait on a tenant that never answers: 8 slots fill, the rest are refused';
my $r = $busy->get('/hello');
is "$r->{status} $r->{content}", '200 hello', 'meanwhile the router answers for every other tenant';
like $busy->error_log, qr/"tenants\/never": dispatch_script_concurrency \(8\) reached/,
    'the slots that filled are the tenant\'s own';
unlike $busy->error_log, qr/"platform\/relay": dispatch_script_concurrency/, 'the router never ran out of slots';
waitpid $kid, 0;
$kid = $hold->('/self', 8);
ok $busy->wait_for(sub { $busy->get('/hello')->{status} == 503 }, timeout => 5),
    'requests the router itself keeps waiting still fill its 8 slots: 503 overloaded';
waitpid $kid, 0;
$busy->stop;
done_testing;

