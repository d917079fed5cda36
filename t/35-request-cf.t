#!/usr/bin/perl
# request.cf (issue 15, SPEC 2 and 5): dispatch_request_cf NAME VALUE maps
# what the platform knows from nginx variables into a frozen plain object;
# a level with any of them replaces the list of the level around it; an
# empty object when none is configured; carried by new Request(req) and
# through a router's dispatch, as Cloudflare carries it.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP qw(decode_json);
use File::Temp ();

my ($T, $F) = (JSON::PP::true, JSON::PP::false);

# ---- nginx -t ----

my ($code, $out) = Dispatch::Test->nginx_test_config(
    server => 'dispatch_request_cf country $http_x_country; location / { dispatch a b; }');
is $code, 0, 'dispatch_request_cf with a variable passes nginx -t' or diag $out;
($code, $out) = Dispatch::Test->nginx_test_config(server => 'location / { dispatch_request_cf "bad-name" x; dispatch a b; }');
isnt $code, 0, 'a property name that is not letters, digits and _ is refused';
like $out, qr/"dispatch_request_cf": property name "bad-name" is not made of letters/, 'the message names it';
($code, $out) = Dispatch::Test->nginx_test_config(
    server => 'location / { dispatch_request_cf colo A; dispatch_request_cf colo B; dispatch a b; }');
isnt $code, 0, 'a property given twice in one level is refused';
like $out, qr/property "colo" is given twice/, 'the message says which';

# conf-examples/request-cf.conf is valid as shipped
{
    my $module = Dispatch::Test->module_path;
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    open my $in, '<', "$FindBin::Bin/../conf-examples/request-cf.conf" or die $!;
    my $conf = do { local $/; <$in> };
    $conf =~ s{load_module \S+;}{load_module $module;};
    $conf =~ s{listen 80;}{listen 127.0.0.1:1;};
    open my $out_fh, '>', "$dir/nginx.conf" or die $!;
    print $out_fh "pid $dir/nginx.pid;\nerror_log $dir/error.log;\n", $conf;
    close $out_fh;
    my $o = `/usr/sbin/nginx -t -p $dir -c $dir/nginx.conf -e $dir/error.log 2>&1`;
    is $?, 0, 'conf-examples/request-cf.conf passes nginx -t' or diag $o;
}

# ---- one nginx: a server with properties, a location with its own, and a
# server with none ----

my $t = Dispatch::Test->new(
    http => q{
        server {
            listen 127.0.0.1:%%PORT%%;
            server_name bare.test;
            location / { dispatch api cf-echo; }
        }
    },
    server => q{
        dispatch_request_cf country $http_x_country;
        dispatch_request_cf clientIp $remote_addr;
        dispatch_request_cf httpProtocol $server_protocol;
        dispatch_request_cf city "Zürich";
        location /t/ { dispatch api cf-echo; }
        location /own/ { dispatch_request_cf colo TST; dispatch api cf-echo; }
        location /checks/ { dispatch api checks; }
        location /r/ { dispatch api router; }
        location /rsw/ { dispatch api router-sw; }
        location /big/ { dispatch api router-big; }
    },
);

# Which properties request.cf has, and what they are.
$t->put_script('api', 'cf-echo', q{
  export default { fetch: (req) => Response.json({ type: typeof req.cf, cf: req.cf === undefined ? null : req.cf }) };
});
$t->start;

# The server with no properties comes first in the file: it is the default
# one, and the others are asked for by name.
sub get { my ($path, %opts) = @_; return $t->get($path, host => 'localhost', %opts) }

my $r = get('/t/x', headers => { 'X-Country' => 'NL' });
is $r->{status}, 200, 'a request with request.cf is served' or diag $r->{content};
is_deeply decode_json($r->{content}),
    { type => 'object', cf => { country => 'NL', clientIp => '127.0.0.1', httpProtocol => 'HTTP/1.1', city => "Z\x{fc}rich" } },
    'request.cf has the server\'s properties, from variables (a header, $remote_addr, $server_protocol) and a UTF-8 constant';

$r = get('/t/x');
is_deeply [sort keys %{ decode_json($r->{content})->{cf} }], [qw(city clientIp httpProtocol)],
    'a variable that comes out empty (no X-Country) leaves its property out';

$r = get('/t/x', headers => { 'X-Country' => 'N' x 5000 });
ok !exists decode_json($r->{content})->{cf}{country}, 'a value longer than 4096 bytes leaves its property out';

$r = get('/own/x', headers => { 'X-Country' => 'NL' });
is_deeply decode_json($r->{content})->{cf}, { colo => 'TST' }, 'a location with its own dispatch_request_cf replaces the server\'s list';

$r = $t->get('/', host => 'bare.test', headers => { 'X-Country' => 'NL' });
is_deeply decode_json($r->{content}), { type => 'object', cf => {} }, 'request.cf is an empty object when nothing is configured';

$t->put_script('api', 'cf-sw', q{
  addEventListener('fetch', (event) => event.respondWith(Response.json(event.request.cf)));
}, format => 'service-worker');
$t->put_script('api', 'router-sw', q{ export default { fetch: (req, env) => env.NS.get('cf-sw').fetch(req) } },
    metadata => '{"bindings":[{"type":"dispatch_namespace","name":"NS","namespace":"api"}]}');
$r = get('/rsw/', headers => { 'X-Country' => 'BE' });
is decode_json($r->{content})->{country}, 'BE', 'a service-worker script has request.cf too';

# ---- what a script can do with it ----

$t->put_script('api', 'checks', $Dispatch::Test::RESULTS_JS . q{
  let seenBySetter = 'nothing';
  Object.defineProperty(Object.prototype, 'country', { set(v) { seenBySetter = v; }, get() { return 'from the prototype'; }, configurable: true });
  export default { fetch: (req) => results({
    own: () => Object.getOwnPropertyDescriptor(req.cf, 'country').value,
    setter: () => seenBySetter,
    plain: () => Object.getPrototypeOf(req.cf) === Object.prototype,
    frozen: () => Object.isFrozen(req.cf),
    write: () => { req.cf.country = 'XX'; return req.cf.country; },
    sameEachRead: () => req.cf === req.cf,
    copied: () => new Request(req).cf.country,
    cloned: () => req.clone().cf.country,
    copiedWithUrl: () => new Request('https://other.test/', req).cf,
    made: () => new Request('https://x.test/').cf === undefined,
    given: () => new Request('https://x.test/', { cf: { cacheTtl: 5 } }).cf.cacheTtl,
  }) };
});
my $got = get('/checks/x', headers => { 'X-Country' => 'NL' });
$got = decode_json($got->{content});
is $got->{own}, 'NL', 'request.cf holds its properties as its own';
is $got->{setter}, 'nothing', 'a setter a tenant put on Object.prototype never sees them';
is $got->{plain}, $T, 'request.cf is a plain object';
is $got->{frozen}, $T, 'request.cf is frozen';
like $got->{write}, qr/^threw TypeError/, 'a module cannot change it';
is $got->{sameEachRead}, $T, 'each read gives the same object';
is $got->{copied}, 'NL', 'new Request(request) carries cf over';
is $got->{cloned}, 'NL', 'request.clone() carries cf over';
is $got->{copiedWithUrl}{country}, 'NL', 'new Request(url, request) too: its init dictionary reads request.cf';
is $got->{made}, $T, 'a Request the script makes has cf undefined';
is $got->{given}, 5, 'unless init gives one';

# ---- through a router's dispatch ----

$t->put_script('api', 'router', q{
  export default {
    async fetch(req, env) {
      const how = new URL(req.url).searchParams.get('how');
      const target = env.NS.get('cf-echo');
      if (how === 'own') return target.fetch(new Request('https://tenant.test/', { cf: { colo: 'R1', nested: { a: [1, 2] } } }));
      if (how === 'none') return target.fetch('https://tenant.test/');
      return target.fetch(req);
    }
  };
}, metadata => '{"bindings":[{"type":"dispatch_namespace","name":"NS","namespace":"api"}]}');
$r = get('/r/?how=pass', headers => { 'X-Country' => 'DE' });
is $r->{status}, 200, 'the router dispatches' or diag $r->{content};
is decode_json($r->{content})->{cf}{country}, 'DE', 'the dispatched script sees the cf of the request its router passed on';
$r = get('/r/?how=own');
is_deeply decode_json($r->{content})->{cf}, { colo => 'R1', nested => { a => [1, 2] } }, 'or the cf the router gave its own Request';
$r = get('/r/?how=none');
is_deeply decode_json($r->{content}), { type => 'undefined', cf => undef }, 'a Request without cf reaches it without cf';

$t->put_script('api', 'cf-frozen', q{
  export default { fetch: (req) => Response.json([Object.isFrozen(req.cf), Object.isFrozen(req.cf.nested), Object.isFrozen(req.cf.nested.a)]) };
});
$t->put_script('api', 'router', q{
  export default { fetch: (req, env) => env.NS.get('cf-frozen').fetch(new Request('https://tenant.test/', { cf: { nested: { a: [1] } } })) };
}, metadata => '{"bindings":[{"type":"dispatch_namespace","name":"NS","namespace":"api"}]}');
$t->publish('api', 'router');
ok $t->wait_for(sub { get('/r/')->{content} eq '[true,true,true]' }), 'a dispatched request.cf is frozen all the way down';

# A router's cf is bounded as its args are: 1 MiB as JSON.
$t->put_script('api', 'router-big', q{
  export default { async fetch(req, env) {
    const deep = JSON.parse('['.repeat(1000) + ']'.repeat(1000));
    const nested = await env.NS.get('cf-frozen-deep').fetch(new Request('https://tenant.test/', { cf: { deep } }));
    try {
      await env.NS.get('cf-echo').fetch(new Request('https://tenant.test/', { cf: { big: 'x'.repeat(1100000) } }));
      return new Response('sent');
    } catch (e) { return new Response(`${e.name}: ${e.message} / ${await nested.text()}`); }
  } };
}, metadata => '{"bindings":[{"type":"dispatch_namespace","name":"NS","namespace":"api"}]}');
$t->put_script('api', 'cf-frozen-deep', q{
  export default { fetch: (req) => { let v = req.cf.deep, n = 0; while (Array.isArray(v) && v.length) { if (!Object.isFrozen(v)) return new Response('not frozen at ' + n); v = v[0]; n++; } return new Response('frozen, depth ' + n); } };
});
$r = get('/big/');
like $r->{content}, qr/^TypeError: fetch\(\): request\.cf is larger than 1 MiB as JSON/, 'a cf larger than 1 MiB as JSON makes the dispatch throw';
like $r->{content}, qr{ / frozen, depth 999$}, 'a deeply nested cf crosses and is frozen all the way down';

# ---- the http level, inherited by a server with none of its own ----

$t->stop;
my $h = Dispatch::Test->new(
    http   => q{ dispatch_request_cf colo HTTP1; dispatch_request_cf clientIp $remote_addr; },
    server => q{ location / { dispatch api cf-echo; } },
);
$h->put_script('api', 'cf-echo', q{ export default { fetch: (req) => Response.json(req.cf) } });
$h->start;
is_deeply decode_json($h->get('/')->{content}), { colo => 'HTTP1', clientIp => '127.0.0.1' },
    'properties set at the http level reach a server and location that set none';

done_testing;
