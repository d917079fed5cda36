#!/usr/bin/perl
# Outbound workers (issue 14): a dispatch_namespace binding with
# "outbound": {"worker": {"service": "gate"}, "params": [{"name": "plan"}]}
# sends every fetch() of the scripts dispatched through it to script `gate`
# of the router's namespace first, with env.plan from the call's
# options.outbound. The gate rewrites one request, answers another itself
# (403, nothing sent), allows a third; what it sends is still under the
# egress policy (dispatch_fetch_allow opens the echo's port only); a
# tenant's own service binding does not get around it.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::TestUpstream;
use JSON::PP qw(decode_json);

my $up = Dispatch::TestUpstream->new;
my $other = Dispatch::TestUpstream->new;    # a port the policy keeps closed
my $UP = 'http://127.0.0.1:' . $up->port;
my $OTHER = 'http://127.0.0.1:' . $other->port;

my $t = Dispatch::Test->new(
    http   => 'dispatch_fetch_allow 127.0.0.1/32:' . $up->port . '; dispatch_cpu_limit 500ms;',
    server => q{
        location /r/ { dispatch platform router; }
        location /plain/ { dispatch platform plain; }
        location ~ ^/s/(?<script>[^/]*) { dispatch platform $script; }
    },
);

my $binding = '{"bindings":[{"type":"dispatch_namespace","name":"CUSTOMERS","namespace":"customer-scripts",'
    . '"outbound":{"worker":{"service":"gate"},"params":[{"name":"plan"},{"name":"tag"}]}}]}';
$t->put_script('platform', 'router', q{
export default {
  async fetch(req, env) {
    const name = new URL(req.url).pathname.split('/')[2];
    try {
      return await env.CUSTOMERS.get(name, { WHO: name },
        { outbound: { plan: 'gold', secret: 'not a param' } }).fetch(req);
    } catch (e) {
      return new Response('router caught: ' + e.message, { status: 502 });
    }
  }
};
}, metadata => $binding);

# The outbound worker: sees the tenant's request and env.plan.
$t->put_script('platform', 'gate', q{
export default {
  async fetch(req, env) {
    const url = new URL(req.url);
    if (env.secret !== undefined) return new Response('a value the binding does not name leaked', { status: 500 });
    if (url.pathname.includes('/forbidden')) {
      return new Response(`gate refused ${req.method} ${url.pathname} for plan ${env.plan}`, { status: 403 });
    }
    if (url.pathname.includes('/rewrite')) {
      const headers = new Headers(req.headers);
      headers.set('x-gate', `plan=${env.plan} tag=${env.tag}`);
      return fetch(new Request(req, { headers }));
    }
    return fetch(req);
  }
};
}, metadata => '{"bindings":[{"type":"plain_text","name":"tag","text":"own"}]}');

$t->put_script('customer-scripts', 'tenant', qq{
const UP = '$UP';
const OTHER = '$OTHER';
} . q{
export default {
  async fetch(req, env) {
    const out = { who: env.WHO, plan: env.plan ?? null };
    let r = await fetch(UP + '/echo/rewrite?x=1', { headers: { 'x-from': 'tenant' } });
    let e = await r.json();
    out.rewrite = [r.status, e.target, e.header['x-gate'] ?? null, e.header['x-from'] ?? null];
    r = await fetch(UP + '/echo/forbidden', { method: 'DELETE' });
    out.forbidden = [r.status, await r.text()];
    r = await fetch(UP + '/echo/allowed', { method: 'POST', body: 'hello upstream' });
    e = await r.json();
    out.allowed = [r.status, e.method, e.target, atob(e.body_b64), e.header['x-gate'] ?? null];
    try {
      await fetch(OTHER + '/echo/egress');
      out.egress = 'sent';
    } catch (err) {
      out.egress = err.message;
    }
    // Its own service binding calls a script whose fetch() goes to the gate too.
    r = await env.HELPER.fetch('http://helper/');
    out.helper = await r.text();
    return Response.json(out);
  }
};
}, metadata => '{"bindings":[{"type":"service","name":"HELPER","service":"helper"}]}');

$t->put_script('customer-scripts', 'helper', qq{
const UP = '$UP';
} . q{
export default {
  async fetch() {
    const r = await fetch(UP + '/echo/forbidden/helper');
    return new Response(`${r.status} ${await r.text()}`);
  }
};
});
$t->start;

my $r = $t->get('/r/tenant');
is $r->{status}, 200, 'the tenant ran behind an outbound worker' or diag $r->{content};
my $j = eval { decode_json($r->{content}) } || {};
is $j->{who}, 'tenant', 'the router\'s args reach the tenant';
is $j->{plan}, undef, 'options.outbound does not reach the tenant';
is_deeply $j->{rewrite}, [200, '/echo/rewrite?x=1', 'plan=gold tag=own', 'tenant'],
    'rewritten: the gate added a header the upstream saw (with env.plan from options.outbound, next to its own bindings)';
is_deeply $j->{forbidden}, [403, 'gate refused DELETE /echo/forbidden for plan gold'],
    'refused: the gate answered 403 itself';
is scalar($up->requests_for(qr{^/echo/forbidden})), 0, '... and nothing was sent upstream';
is_deeply $j->{allowed}, [200, 'POST', '/echo/allowed', 'hello upstream', undef],
    'allowed: the request went out as the tenant made it, body and all';
like $j->{egress}, qr/^Worker "gate" threw an exception: .*dispatch_fetch_allow/,
    'the egress policy still applies to what the gate sends';
is scalar($other->requests_for(qr{.})), 0, '... nothing reached the closed port';
is $j->{helper}, '403 gate refused GET /echo/forbidden/helper for plan gold',
    'a script the tenant calls through its own service binding is behind the gate too';

# A binding without outbound: fetch() goes out as always; a router's own
# fetch() never goes through its binding's outbound worker.
$t->put_script('platform', 'plain', qq{
const UP = '$UP';
} . q{
export default {
  async fetch(req, env) {
    const own = await (await fetch(UP + '/echo/forbidden/router')).json();
    const r = await env.CUSTOMERS.get('direct').fetch(req);
    return new Response(`${own.target} ${await r.text()}`);
  }
};
}, metadata => '{"bindings":[{"type":"dispatch_namespace","name":"CUSTOMERS","namespace":"customer-scripts"}]}');
$t->put_script('customer-scripts', 'direct', qq{
const UP = '$UP';
} . q{
export default {
  async fetch() { return new Response((await (await fetch(UP + '/echo/forbidden/direct')).json()).target); }
};
});
$r = $t->get('/plain/');
is $r->{content}, '/echo/forbidden/router /echo/forbidden/direct',
    'without outbound, the tenant\'s fetch() goes out; the router\'s own never goes through the gate';

# An outbound worker that is missing: the tenant's fetch() rejects clearly.
$binding = '{"bindings":[{"type":"dispatch_namespace","name":"CUSTOMERS","namespace":"customer-scripts",'
    . '"outbound":{"worker":{"service":"no-such-gate"}}}]}';
$t->put_script('platform', 'badbinding', q{
export default {
  async fetch(req, env) {
    return env.CUSTOMERS.get('direct').fetch(req);
  }
};
}, metadata => $binding);
$r = $t->get('/s/badbinding');
is $r->{status}, 500, 'a missing outbound worker: the tenant\'s fetch() rejects';
ok $t->wait_for(sub { $t->error_log =~ /"customer-scripts\/direct": uncaught exception: Error: Worker not found: there is no script "no-such-gate" in namespace "platform"/ }),
    'with Worker not found, naming the outbound worker';

# A malformed outbound is refused when the router's isolate starts.
$t->put_script('platform', 'badoutbound', q{ export default { fetch() { return new Response('ran'); } }; },
    metadata => '{"bindings":[{"type":"dispatch_namespace","name":"CUSTOMERS","namespace":"customer-scripts","outbound":{"worker":{}}}]}');
$r = $t->get('/s/badoutbound');
isnt $r->{content}, 'ran', 'an outbound without worker.service is refused';
ok $t->wait_for(sub { $t->error_log =~ /outbound needs a worker\.service/ }), 'and the error log says why';

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
done_testing;
