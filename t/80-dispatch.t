#!/usr/bin/perl
# Dynamic dispatch (issue 14, SPEC 3 and 5): a router script with a
# dispatch_namespace binding runs other scripts in their own isolates
# (env.NS.get(name, args, options).fetch(request)), and service bindings
# call scripts of the same namespace.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;

my $t = Dispatch::Test->new(
    workers => 2,
    http    => q{ dispatch_memory_limit 16m; dispatch_cpu_limit 200ms;
                  log_format chain '$uri $dispatch_script [$dispatch_chain_failure]';
                  access_log %%PREFIX%%/chain.log chain; },
    server  => q{
        client_max_body_size 0;
        location / { dispatch platform router; }
        location /guarded/ { dispatch platform guarded; }
        location /chain/ { dispatch platform chain0; }
        location /selfish/ { dispatch platform selfish; }
        location /svc/ { dispatch platform svc; }
        location /t/ { dispatch platform tools; }
    },
);

my $ns_binding = '{"bindings":[{"type":"dispatch_namespace","name":"CUSTOMERS","namespace":"customer-scripts"}]}';

# The seed's router, verbatim.
$t->put_script('platform', 'router', q{
export default {
  async fetch(req, env) {
    const url = new URL(req.url);
    const tenant = url.hostname.split('.')[0];
    const customerWorker = env.CUSTOMERS.get(tenant);
    return customerWorker.fetch(req);
  }
};
}, metadata => $ns_binding);

$t->put_script('customer-scripts', 'acme', q{
  export default {
    async fetch(req, env) {
      const url = new URL(req.url);
      return new Response(`acme ${req.method} ${url.pathname} ${req.headers.get('x-who')} ${env.TENANT}`,
                          { status: 201, headers: { 'x-tenant': 'acme' } });
    }
  };
}, metadata => '{"bindings":[{"type":"plain_text","name":"TENANT","text":"acme-env"}]}');
$t->put_script('customer-scripts', 'globex', q{
  export default {
    async fetch(req) {
      if (req.method === 'POST') {
        // The body both ways: streamed in, hashed, and streamed back.
        const [a, b] = req.body.tee();
        const digest = crypto.subtle.digest('SHA-256', await new Response(a).arrayBuffer());
        return new Response(b, { headers: { 'x-digest': [...new Uint8Array(await digest)].map(x => x.toString(16).padStart(2, '0')).join('') } });
      }
      return new Response('globex ' + new URL(req.url).search);
    }
  };
});
$t->start;

my $r = $t->get('/hello', host => 'acme.example.com', headers => { 'X-Who' => 'me' });
is $r->{status}, 201, 'the seed router dispatches by Host';
is $r->{content}, 'acme GET /hello me acme-env', 'method, URL, headers cross; the tenant has its own env';
is $r->{headers}{'x-tenant'}, 'acme', 'the tenant\'s headers come back';
$r = $t->get('/x?q=1', host => 'globex.example.com');
is $r->{content}, 'globex ?q=1', 'a second tenant by Host';

$r = $t->get('/', host => 'nobody.example.com');
is $r->{status}, 500, 'the seed router does not catch a missing tenant: 500';
ok $t->wait_for(sub { $t->error_log =~ /"platform\/router": uncaught exception: Error: Worker not found/ }),
    'its error names the missing worker';

# A router that catches errors, as Cloudflare's documentation shows.
$t->put_script('platform', 'guarded', q{
export default {
  async fetch(req, env) {
    const url = new URL(req.url);
    const name = url.pathname.split('/')[2];
    const opts = { limits: { cpuMs: Number(url.searchParams.get('cpu') || 100),
                             subRequests: Number(url.searchParams.get('sub') || 5) } };
    try {
      const args = { PLAN: 'gold', NUM: 7, NESTED: { a: [1, 2] } };
      return await env.CUSTOMERS.get(name, args, opts).fetch(req);
    } catch (e) {
      if (e.message.startsWith('Worker not found')) return new Response('no such tenant', { status: 404 });
      if (e.message.includes('CPU time limit')) return new Response('tenant over cpu: ' + e.message, { status: 503 });
      return new Response('router caught: ' + e.message, { status: 502 });
    }
  }
};
}, metadata => $ns_binding);

$t->put_script('customer-scripts', 'spin', q{
  export default { fetch() { for (;;) {} } };
});
$t->put_script('customer-scripts', 'thrower', q{
  export default { async fetch() { throw new Error('tenant broke'); } };
});
$t->put_script('customer-scripts', 'args', q{
  export default { fetch(req, env) {
    return Response.json({ plan: env.PLAN, num: env.NUM, nested: env.NESTED, tenant: env.T });
  } };
}, metadata => '{"bindings":[{"type":"plain_text","name":"T","text":"own"}]}');
$t->put_script('customer-scripts', 'subreq', q{
  export default { async fetch(req) {
    const out = [];
    for (let i = 0; i < 3; i++) {
      try { await fetch('http://127.0.0.1:1/'); out.push('sent'); }
      catch (e) { out.push(e.message.startsWith('Too many subrequests') ? 'limit' : 'failed'); }
    }
    return new Response(out.join(','));
  } };
});

$r = $t->get('/guarded/missing');
is $r->{status}, 404, 'a missing tenant caught: the router answers 404';
is $r->{content}, 'no such tenant', 'with its own body';
$r = $t->get('/guarded/missing');
is $r->{status}, 404, 'again (get() throws now: the miss is cached)';
$r = $t->get('/guarded/BAD');
is $r->{status}, 404, 'a name no script can have: Worker not found';

$r = $t->get('/guarded/spin?cpu=20');
is $r->{status}, 503, 'a spinning tenant is stopped by options.limits.cpuMs';
like $r->{content}, qr/^tenant over cpu: .*CPU time limit/, 'the router answers its own 503, naming the CPU time limit';
like $r->{content}, qr/\(20ms\)/, 'the cpuMs of the call applied';
ok $t->wait_for(sub { $t->error_log =~ /"customer-scripts\/spin": stopped: exceeded_cpu/ }),
    'the error log names the tenant, not the router';
unlike $t->error_log, qr/"platform\/guarded": stopped/, 'the router\'s isolate is untouched';
ok $t->wait_for(sub { $t->read_prefix_file('chain.log') =~ m{^/guarded/spin guarded \[customer-scripts/spin exceeded_cpu\]$}m }),
    '$dispatch_chain_failure names the script of the chain that failed, and how';

$r = $t->get('/guarded/thrower');
is $r->{status}, 502, 'a tenant\'s exception reaches the router as a rejection';
like $r->{content}, qr/router caught: .*tenant broke/, 'with its message';

$r = $t->get('/guarded/args');
is $r->{content}, '{"plan":"gold","num":7,"nested":{"a":[1,2]},"tenant":"own"}',
    'args reach the tenant as further env values, next to its own bindings';

$r = $t->get('/guarded/subreq?sub=1');
is $r->{content}, 'failed,limit,limit', 'options.limits.subRequests bounds the tenant\'s fetch() calls';

# Bodies both ways, through the router: a few MB streamed up, hashed by the
# tenant and streamed back.
my ($out) = $t->curl('-H', 'Host: globex.example.com', '-X', 'POST', '--data-binary',
    '@' . $t->random_file("up.bin", 3 << 20), '-D', "$t->{prefix}/head.txt", $t->url('/up'));
my $head = do { local $/; open my $fh, '<', "$t->{prefix}/head.txt"; <$fh> };
my $want = `sha256sum $t->{prefix}/up.bin`;
($want) = $want =~ /^(\w+)/;
like $head, qr/x-digest: $want/i, 'the tenant read the whole upload through the router';
is length($out), 3 << 20, 'and its stream came back whole';
is sha($out), $want, 'byte for byte';

# 128 MB through a router and a tenant whose memory limit is 16m.
$t->put_script('customer-scripts', 'sink', q{
  export default { async fetch(req) {
    let n = 0;
    for await (const chunk of req.body) n += chunk.byteLength;
    return new Response(String(n));
  } };
});
($out) = $t->curl('-H', 'Host: sink.example.com', '-X', 'POST', '-H', 'Content-Type: application/octet-stream',
    '--data-binary', '@' . $t->random_file("big.bin", 128 << 20), $t->url('/big'));
is $out, 128 << 20, 'a 128 MB upload streams through the router into a tenant under a 16m memory limit';
unlink "$t->{prefix}/big.bin";

# Service bindings.
$t->put_script('platform', 'svc', q{
  export default { async fetch(req, env) {
    const auth = await env.AUTH.fetch(new Request('http://auth/check', { headers: { authorization: req.headers.get('authorization') || '' } }));
    if (auth.status !== 200) return new Response('denied', { status: 403 });
    return new Response('welcome ' + await auth.text());
  } };
}, metadata => '{"bindings":[{"type":"service","name":"AUTH","service":"auth-worker"}]}');
$t->put_script('platform', 'auth-worker', q{
  export default { fetch(req) {
    return req.headers.get('authorization') === 'Bearer ok' ? new Response('user-1') : new Response('no', { status: 401 });
  } };
});
$r = $t->get('/svc/', headers => { Authorization => 'Bearer ok' });
is $r->{content}, 'welcome user-1', 'a service binding calls the other script';
$r = $t->get('/svc/');
is $r->{status}, 403, 'and the caller reads its answer';

# A body the caller makes as a stream is written to the target piece by
# piece (with backpressure), and a streamed answer comes back.
$t->put_script('platform', 'tools', q{
  export default { async fetch(req, env) {
    let i = 0;
    const body = new ReadableStream({ pull(c) { if (i++ < 64) c.enqueue(new Uint8Array(16384).fill(i)); else c.close(); } });
    const r = await env.COUNT.fetch('http://count/', { method: 'PUT', body });
    let n = 0;
    for await (const chunk of r.body) n += chunk.byteLength;
    return new Response(`${r.status} ${r.headers.get('x-sum')} ${n}`);
  } };
}, metadata => '{"bindings":[{"type":"service","name":"COUNT","service":"counter"}]}');
$t->put_script('platform', 'counter', q{
  export default { async fetch(req) {
    let sum = 0;
    for await (const chunk of req.body) for (const b of chunk) sum += b;
    let k = 0;
    const out = new ReadableStream({ pull(c) { if (k++ < 40) c.enqueue(new Uint8Array(50000)); else c.close(); } });
    return new Response(out, { headers: { 'x-sum': String(sum) } });
  } };
});
$r = $t->get('/t/');
is $r->{content}, '200 ' . (16384 * 65 * 64 / 2) . ' 2000000', 'a stream written by the caller, and one streamed back';

# Hostile: a router that keeps a tenant's body and Fetcher past their
# request, and a tenant that answers with a stream it never ends.
$t->put_script('platform', 'keeper', q{
  let saved = null, fetcher = null;
  export default { async fetch(req, env) {
    if (saved === null) {
      const r = await env.COUNT.fetch('http://count/', { method: 'PUT', body: 'abc' });
      saved = r.body; fetcher = env.COUNT;
      return new Response('kept');
    }
    let msg;
    try { const reader = saved.getReader(); await reader.read(); await reader.read(); msg = 'read'; }
    catch (e) { msg = e.constructor.name + ': ' + e.message; }
    const again = await (await fetcher.fetch('http://count/', { method: 'PUT', body: 'b' })).headers.get('x-sum');
    return new Response(msg + ' / ' + again);
  } };
}, metadata => '{"bindings":[{"type":"service","name":"COUNT","service":"counter"}]}');
my $k = Dispatch::Test->new(
    server => q{ location / { dispatch platform keeper; } },
    redis => 0, redis_conf => "dispatch_redis 127.0.0.1:" . $t->redis_port . ";",
    start => 1,
);
is $k->get('/')->{content}, 'kept', 'a router keeps a tenant\'s body past its request';
like $k->get('/')->{content}, qr/^(TypeError: .*ended\.|read) \/ 98$/,
    'reading it later fails cleanly (or reads what had arrived); a kept Fetcher makes a new call';
is scalar($k->error_log_alerts), 0, 'no alerts' or diag join "\n", $k->error_log_alerts;
undef $k;

# Loops and chains.
$t->put_script('platform', 'selfish', q{
  export default { async fetch(req, env) {
    try { return await env.SELF.fetch(req); } catch (e) { return new Response(e.message, { status: 508 }); }
  } };
}, metadata => '{"bindings":[{"type":"service","name":"SELF","service":"selfish"}]}');
$r = $t->get('/selfish/');
is $r->{status}, 508, 'a script dispatching to itself is refused';
like $r->{content}, qr/Dispatch loop/, 'with a clear error';

for my $i (0 .. 19) {
    my $next = $i + 1;
    $t->put_script('platform', "chain$i", qq{
      export default { async fetch(req, env) {
        try { const r = await env.NEXT.fetch(req); return new Response('$i>' + await r.text(), { status: r.status }); }
        catch (e) { return new Response('$i!' + e.message, { status: 508 }); }
      } };
    }, metadata => qq({"bindings":[{"type":"service","name":"NEXT","service":"chain$next"}]}));
}
$r = $t->get('/chain/');
like $r->{content}, qr/^0>1>2>3>4>5>6>7>8>9>10>11>12>13>14>15!Too many nested dispatches: a chain of dispatches is at most 16 scripts deep$/,
    'a chain deeper than 16 scripts ends in a clear error (chain0 .. chain15 ran)' or diag $r->{status}, ' ', $r->{content};

# Two workers under concurrent load: every answer is the right tenant's.
my @reqs;
for my $i (1 .. 200) {
    my $who = $i % 2 ? 'acme' : 'globex';
    push @reqs, { method => 'GET', path => "/p$i?i=$i", host => "$who.example.com",
                  headers => { 'X-Who' => "w$i" } };
}
my $res = $t->parallel(\@reqs, concurrency => 40, timeout => 60);
my $bad = 0;
for my $i (1 .. 200) {
    my $got = $res->[$i - 1];
    my $expect = $i % 2 ? "acme GET /p$i w$i acme-env" : "globex ?i=$i";
    $bad++ unless $got->{content} eq $expect;
}
is $bad, 0, '200 concurrent requests over 2 workers: every answer correct';

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
done_testing;

sub sha {
    require Digest::SHA;
    return Digest::SHA::sha256_hex($_[0]);
}
