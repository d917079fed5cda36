#!/usr/bin/perl
# Issue 20: cordons. dispatch_namespaces limits the namespaces an instance
# serves, so that tenants of different trust run in different nginx
# instances and a compromised worker of one never loads another's scripts
# or secrets. A namespace outside it is not found — a request (404
# not_found), a router's dispatch into it ("Worker not found"), the
# management API (404; creating one or renaming into one: 403) — and Redis
# is not asked: INFO commandstats shows no command while they are answered,
# though the very same scripts are in Redis. Behind it, a tier's own Redis
# ACL user (dispatch_redis user=) keeps Redis itself from handing a worker
# another tier's keys.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Admin;

my $t = admin_server(http => q{
    dispatch_namespaces free trial;
    dispatch_cache_ttl 1h;    # no revalidation inside a measure, however slow the machine
    log_format outcome '$uri $dispatch_outcome';
    access_log %%PREFIX%%/outcome.log outcome;
});

my $hello = 'export default { fetch() { return new Response("hello from " + "%s") } };';
$t->put_script($_, 'hello', sprintf($hello, $_)) for qw(free trial enterprise);
$t->put_script('free', 'router', q{
export default {
  async fetch(req, env) {
    const target = new URL(req.url).searchParams.get('to');
    try {
      const res = await env[target].get('hello').fetch(req);
      return new Response('dispatched: ' + (await res.text()));
    } catch (e) {
      return new Response('refused: ' + e.message);
    }
  }
};
}, metadata => '{"bindings":[{"type":"dispatch_namespace","name":"TRIAL","namespace":"trial"},'
             . '{"type":"dispatch_namespace","name":"ENTERPRISE","namespace":"enterprise"}]}');

# Redis commands while $code runs, the test's own INFO and PING aside
sub redis_commands_during {
    my ($code) = @_;
    my $before = $t->redis_command_calls;
    $code->();
    return $t->redis_commands_since($before);
}

# --- requests
ok $t->every_worker_says('/t/free/hello', 200, 'hello from free'), 'a namespace listed is served';
ok $t->every_worker_says('/t/trial/hello', 200, 'hello from trial'), 'as is the second one listed';
{
    my @res;
    my $n = redis_commands_during(sub {
        @res = map { $t->get("/t/enterprise/$_") } qw(hello hello other x-1 x-2 x-3);
    });
    is scalar(grep { $_->{status} == 404 && $_->{content} =~ /not_found/ } @res), 6,
       'a namespace not listed answers 404 not_found, though its script is in Redis';
    is $n, 0, 'and not one Redis command was sent for them';
    like Dispatch::Test::_read_file($t->prefix . '/outcome.log'), qr{^/t/enterprise/hello not_found$}m,
       '$dispatch_outcome says not_found';

    # the measure can see a request that does reach Redis
    my $m = redis_commands_during(sub { $t->get('/t/free/missing-' . $$) });
    cmp_ok $m, '>', 0, "(a missing script of a listed namespace costs Redis commands: $m)";
}

# --- a router's dispatch
{
    # every worker has the router cached and its isolate warm
    ok $t->every_worker_says('/t/free/router?to=TRIAL', 200, 'dispatched: hello from trial'),
       'a router dispatches into a listed namespace';
    my $r;
    my $n = redis_commands_during(sub { $r = $t->get('/t/free/router?to=ENTERPRISE') });
    like $r->{content}, qr/^refused: Worker not found: there is no script "hello" in namespace "enterprise"/,
       'a dispatch into a namespace not listed: Worker not found';
    is $n, 0, 'without a Redis command';
}

# --- the management API
{
    my ($r, $n);
    $n = redis_commands_during(sub { $r = api($t, GET => '/enterprise') });
    envelope_error($r, 404, 'GET of a namespace not listed', qr/does not exist/);
    is $n, 0, 'answered without Redis';
    $n = redis_commands_during(sub {
        $r = api($t, PUT => '/enterprise/scripts/hello/secrets',
                 json => { name => 'STOLEN', text => 'x', type => 'secret_text' });
    });
    envelope_error($r, 404, 'a secret put into a script of a namespace not listed');
    is $n, 0, 'answered without Redis';
    $n = redis_commands_during(sub { $r = api($t, GET => '/enterprise/scripts/hello') });
    envelope_error($r, 404, 'GET of its script');
    is $n, 0, 'answered without Redis';
    $n = redis_commands_during(sub { $r = api($t, DELETE => '/enterprise/scripts/hello') });
    envelope_error($r, 404, 'DELETE of its script');
    is $n, 0, 'answered without Redis';
    ok $t->redis('EXISTS', 'dispatch:{enterprise}:script:hello'), 'which is still in Redis';

    $n = redis_commands_during(sub { $r = api($t, POST => '', json => { name => 'gold' }) });
    envelope_error($r, 403, 'creating a namespace not listed', qr/dispatch_namespaces/);
    is $n, 0, 'is refused without Redis';
    envelope_error(api($t, PUT => '/free', json => { name => 'enterprise' }), 403,
                   'renaming a listed namespace to one not listed', qr/dispatch_namespaces/);

    $t->redis('SADD', 'dispatch:namespaces', $_) for qw(free trial enterprise);
    my $list = envelope_ok(api($t, GET => ''), 'GET .../namespaces');
    is_deeply [ map { $_->{namespace_name} } @{ $list || [] } ], [qw(free trial)],
              'lists the namespaces listed only';
    envelope_ok(api($t, GET => '/free'), 'a listed namespace is served by the API');
}

# --- nginx -t
{
    my ($code, $out) = Dispatch::Test->nginx_test_config(http => 'dispatch_namespaces free Bad.Name;',
                                                         server => 'location / { dispatch free x; }');
    isnt $code, 0, 'a namespace name outside the charset is refused';
    like $out, qr/invalid namespace name "Bad\.Name" in "dispatch_namespaces"/, 'naming it';
    ($code, $out) = Dispatch::Test->nginx_test_config(http => 'dispatch_namespaces free;',
        server => 'location /a { dispatch free x; } location /b { dispatch gold x; } location /c { dispatch $arg_ns x; }');
    is $code, 0, 'a location that dispatches to a namespace outside the cordon is valid';
    like $out, qr/\[warn\].*"dispatch gold \.\.\.": the namespace is not in "dispatch_namespaces", so it answers 404/,
        'but nginx -t warns that it can only answer 404';
    unlike $out, qr/"dispatch free \.\.\."/, 'not about a namespace listed';
}

# --- a tier's own Redis ACL user (dispatch_redis user=): Redis holds the
# tier to its keys too, a second wall behind the cordon
{
    my $acl = Dispatch::Test->new(
        start      => 0,
        redis_conf => 'dispatch_redis 127.0.0.1:%%REDIS_PORT%% user=tier-free password=free-pass-0123;',
        server     => 'location ~ ^/t/(?<ns>[^/]+)/(?<s>[^/]+) { dispatch $ns $s; }');
    $acl->start_redis;
    $acl->redis('ACL', 'SETUSER', 'tier-free', 'on', '>free-pass-0123', '~dispatch:{free}:*',
                '~dispatch:kv:{free/*', '~dispatch:namespaces', '&dispatch:events', '+@all', '-@dangerous');
    $acl->put_script($_, 'hello', sprintf($hello, $_)) for qw(free enterprise);
    $acl->start;
    is $acl->get('/t/free/hello')->{content}, 'hello from free', 'with user= the worker is served its tier';
    my @users = $acl->redis('CLIENT', 'LIST') =~ /\buser=(\S+)/g;
    cmp_ok scalar(grep { $_ eq 'tier-free' } @users), '>=', 2, 
           'its connections (commands and the subscription) are logged in as the ACL user'
        or diag $acl->redis('CLIENT', 'LIST');
    my $r = $acl->get('/t/enterprise/hello');
    isnt $r->{status}, 200, 'another tier\'s script, even without a cordon, is refused by Redis';
    unlike $r->{content}, qr/hello from enterprise/, 'and not served';
    $acl->stop;

    my ($code, $out) = Dispatch::Test->nginx_test_config(
        redis_conf => 'dispatch_redis 127.0.0.1:6379 user=tier-free;', server => 'location / { dispatch a b; }');
    isnt $code, 0, 'user= without password= is refused';
    like $out, qr/"user=" in "dispatch_redis" needs "password="/, 'saying so';
}

# --- without the directive every namespace is served
{
    my $all = Dispatch::Test->new(server => 'location ~ ^/t/(?<ns>[^/]+)/(?<s>[^/]+) { dispatch $ns $s; }');
    $all->put_script('enterprise', 'hello', sprintf($hello, 'enterprise'));
    is $all->get('/t/enterprise/hello')->{content}, 'hello from enterprise',
       'without dispatch_namespaces, every namespace is served';
    $all->stop;
}

$t->stop;
done_testing;
