#!/usr/bin/perl
# Self-test of t/lib/Dispatch/Test.pm against plain nginx (no module) and a
# private redis-server.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;

# the harness must ignore proxy settings of the environment
local $ENV{http_proxy} = 'http://127.0.0.1:9/';
local $ENV{HTTP_PROXY} = 'http://127.0.0.1:9/';
local $ENV{all_proxy}  = 'http://127.0.0.1:9/';

my $t = Dispatch::Test->new(
    module  => 0,
    redis   => 1,
    workers => 2,
    server  => q{
        location / { return 200 "hello\n"; }
        location /h { return 200 "$http_x_test|$host|$request_method\n"; }
        location /p { return 200 "%%PORT%%|%%REDIS_PORT%%|%%PREFIX%%\n"; }
        location /body {
            # the body goes to $prefix/client_body_temp: workers (nobody
            # when started as root) must be able to write in the prefix
            client_body_in_file_only clean;
            proxy_pass http://127.0.0.1:%%PORT%%/echo-len;
        }
        location /echo-len { return 200 "$http_content_length\n"; }
    },
);

my $prefix = $t->prefix;
ok -d $prefix, 'prefix exists';
ok -f "$prefix/nginx.conf", 'nginx.conf written';
like $t->port, qr/^\d+$/, 'nginx port';
like $t->redis_port, qr/^\d+$/, 'redis port';
isnt $t->port, $t->redis_port, 'distinct ports';
is $t->url('/x'), 'http://127.0.0.1:' . $t->port . '/x', 'url';
ok kill(0, $t->nginx_pid), 'nginx master alive';
my @w = $t->worker_pids;
is scalar(@w), 2, 'two workers' or diag "workers: @w";

# --- HTTP::Tiny based requests
my $r = $t->get('/');
is $r->{status}, 200, 'GET / status';
is $r->{content}, "hello\n", 'GET / content';

$r = $t->request('POST', '/h', headers => { 'X-Test' => 'abc' }, host => 'tenant.example',
                 content => 'body');
is $r->{status}, 200, 'POST /h status';
is $r->{content}, "abc|tenant.example|POST\n", 'headers, host and method reach nginx';

$r = $t->get('/h', headers => { Host => 'other.example', 'X-Test' => 'q' });
is $r->{content}, "q|other.example|GET\n", 'Host given as a header';

$r = $t->get('/p');
is $r->{content}, join('|', $t->port, $t->redis_port, $prefix) . "\n", 'placeholders substituted';

$r = $t->request('POST', '/body', content => 'z' x 100_000);
is $r->{status}, 200, 'request body written to client_body_temp' or diag $r->{content};
is $r->{content}, "100000\n", 'proxied body length';

# --- parallel raw requests
my @reqs = map { +{ method => 'GET', path => '/h', host => "h$_.example",
                    headers => { 'X-Test' => $_ } } } 1 .. 200;
my @res = $t->parallel(\@reqs, concurrency => 200);
is scalar(@res), 200, '200 replies';
is scalar(grep { $_->{status} == 200 } @res), 200, 'all 200'
    or diag explain [ grep { $_->{status} != 200 } @res ];
is scalar(grep { $res[$_ - 1]{content} eq "$_|h$_.example|GET\n" } 1 .. 200), 200,
    'replies in request order';
is $res[0]{headers}{'content-type'}, 'text/plain', 'lower-cased header names';

@res = $t->parallel([ { method => 'POST', path => '/h', content => 'x' x 100 },
                      { path => '/' } ], concurrency => 1);
is_deeply [ map { $_->{content} } @res ], [ "|127.0.0.1|POST\n", "hello\n" ], 'concurrency 1';

# --- redis client
is $t->redis('PING'), 'PONG', 'PING';
my $bin = "a\0b\r\nc\$3\r\n*1\r\n\xff";
is $t->redis('SET', 'bin', $bin), 'OK', 'SET binary';
is $t->redis('GET', 'bin'), $bin, 'GET binary round-trip';
is $t->redis('STRLEN', 'bin'), length($bin), 'STRLEN integer reply';
is $t->redis('GET', 'nope'), undef, 'nil reply';
is $t->redis('HSET', 'h', 'f1', 'v1', 'f2', ''), 2, 'HSET';
is_deeply { @{ $t->redis('HGETALL', 'h') } }, { f1 => 'v1', f2 => '' }, 'HGETALL';
is_deeply $t->redis('HMGET', 'h', 'f1', 'zz'), [ 'v1', undef ], 'nil inside array';
ok !eval { $t->redis('NOSUCHCOMMAND', 'x'); 1 }, 'error reply dies';
like $@, qr/^ERR unknown command/, 'error text';
ok !eval { $t->redis('INCR', 'h'); 1 }, 'WRONGTYPE dies';
like $@, qr/^WRONGTYPE/, 'WRONGTYPE text';
is $t->redis('PING'), 'PONG', 'connection usable after an error';

$t->put_script('acme', 'main', "export default {}\r\n", format => 'service-worker', etag => 'v2');
is_deeply { @{ $t->redis('HGETALL', 'dispatch:{acme}:script:main') } },
    { code => "export default {}\r\n", format => 'service-worker', etag => 'v2' },
    'put_script hash with literal braces';
is_deeply $t->redis('SMEMBERS', 'dispatch:{acme}:scripts'), ['main'], 'scripts set';
is_deeply $t->redis('SMEMBERS', 'dispatch:namespaces'), ['acme'], 'namespaces set';
$t->del_script('acme', 'main');
is $t->redis('EXISTS', 'dispatch:{acme}:script:main'), 0, 'del_script removed the hash';
is $t->redis('SCARD', 'dispatch:{acme}:scripts'), 0, 'del_script removed the set member';

# --- redis restart
my $rpid = $t->redis_pid;
$t->stop_redis;
ok !kill(0, $rpid), 'redis stopped';
ok !eval { $t->redis('PING'); 1 }, 'redis down: command dies';
$t->start_redis;
isnt $t->redis_pid, $rpid, 'new redis pid';
is $t->redis('PING'), 'PONG', 'redis answers after restart';
is $t->redis('GET', 'bin'), undef, 'no persistence (--save "")';

# --- reconnect after the server closed our connection
$t->redis('CLIENT', 'KILL', 'TYPE', 'normal');
is $t->redis('PING'), 'PONG', 'reconnects after the connection was closed';

# --- reload
my @old = $t->worker_pids;
$t->reload;
my @new = $t->worker_pids;
is scalar(@new), 2, 'two workers after reload';
ok !(grep { my $o = $_; grep { $_ == $o } @new } @old), 'all worker pids changed';
is $t->get('/')->{content}, "hello\n", 'requests work after reload';
@res = $t->parallel([ map { { path => '/' } } 1 .. 50 ]);
is scalar(grep { $_->{status} == 200 } @res), 50, 'parallel works after reload';

$t->reload(server => 'location / { return 200 "reloaded\n"; }');
is $t->get('/')->{content}, "reloaded\n", 'reload with a new config';

# --- wait_for
my $n = 0;
ok $t->wait_for(sub { ++$n >= 3 }, timeout => 2), 'wait_for true';
ok !$t->wait_for(sub { 0 }, timeout => 0.2), 'wait_for times out';

# --- helpers for caching, limits and processes
$t->reload(server => q{
    location / { return 200 "reloaded\n"; }
    location /w { add_header X-Worker $pid always; return 200 "w\n"; }
});
{
    my ($by, $all) = $t->ask_every_worker({ path => '/w' });
    is_deeply [ sort { $a <=> $b } keys %$by ], [ $t->worker_pids ], 'ask_every_worker: every worker answered';
    ok $t->every_worker_says('/w', 200, "w\n"), 'every_worker_says';
    ok !$t->every_worker_says('/w', 200, "x\n"), 'every_worker_says: false on a wrong body';
    like $t->worker_answers('/w'), qr/^worker \d+: 200 'w\n' x\d+$/m, 'worker_answers';

    my @h = ($t->send_request({ path => '/w' }),
             $t->send_request({ method => 'POST', path => '/w', headers => { 'Content-Length' => 10 } }));
    my @r = $t->read_responses(\@h, timeout => 0.5);
    is $r[0]{status}, 200, 'send_request + read_responses';
    is $r[0]{content}, "w\n", 'with the body';
    is $r[1]{status}, 599, 'a response that does not come in time is 599';
    cmp_ok $r[1]{elapsed}, '>=', 0.45, 'after the timeout';
    cmp_ok $r[0]{elapsed}, '<', $r[1]{elapsed}, 'elapsed: when each response completed';
    is $t->read_response($t->send_request({ path => '/' }))->{content}, "reloaded\n", 'read_response';

    my $before = $t->redis_command_calls;
    $t->redis('SET', 'k', 'v');
    $t->redis('GET', 'k') for 1 .. 2;
    is $t->redis_commands_since($before), 3, 'redis_commands_since: commands other than INFO and PING';
    is $t->redis_command_calls->{get} - ($before->{get} || 0), 2, 'redis_command_calls: calls per command';
    like $t->redis_info('server')->{redis_version}, qr/^\d+\./, 'redis_info';
    is $t->publish('acme', 'main'), 0, 'publish: no subscriber here';

    my $m = $t->nginx_pid;
    cmp_ok $t->rss_kb($m), '>', 0, 'rss_kb';
    cmp_ok $t->fd_count($m), '>', 2, 'fd_count';
    is $t->thread_count($m), 1, 'thread_count';
    ok $t->wait_for(sub { $t->nginx_children == 2 }), 'nginx_children: old workers gone, 2 left';
    like $t->read_prefix_file('nginx.conf'), qr/X-Worker/, 'read_prefix_file';
}

# --- logs
like $t->access_log, qr{"GET / HTTP/1.1" 200}, 'access log';
like $t->error_log, qr/\[notice\]/, 'error log';
is_deeply [ $t->error_log_alerts ], [], 'no alerts';

# --- 599 from parallel when nothing listens
{
    my $dead = Dispatch::Test->new(module => 0, redis => 0, start => 0);
    my @r = $dead->parallel([ { path => '/' } ], timeout => 2);
    is $r[0]{status}, 599, 'parallel: connection refused gives 599';
    like $r[0]{content}, qr/refused/i, 'with a reason';
    is $dead->get('/')->{status}, 599, 'get: connection refused gives 599';
}

# --- nginx -t
my ($code, $out) = Dispatch::Test->nginx_test_config(module => 0, http => 'bogus_directive on;');
isnt $code, 0, 'nginx -t fails on an unknown directive';
like $out, qr/unknown directive/, 'message';
like $out, qr/nginx\.conf:\d+/, 'file:line';
($code, $out) = $t->nginx_test_config;
is $code, 0, 'nginx -t ok (instance method, inherits args)' or diag $out;
like $out, qr/syntax is ok/, 'syntax is ok';

# --- stop
my ($mpid, $wpids, $rp) = ($t->nginx_pid, [ $t->worker_pids ], $t->redis_pid);
$t->stop;
ok !kill(0, $mpid), 'nginx master gone';
ok !(grep { kill 0, $_ } @$wpids), 'workers gone';
ok !kill(0, $rp), 'redis gone';
is $t->nginx_pid, undef, 'nginx_pid cleared';

# start again on the same ports, then let DESTROY clean up
$t->start;
is $t->get('/')->{content}, "reloaded\n", 'restart after stop';
($mpid, $rp) = ($t->nginx_pid, $t->redis_pid);
undef $t;
ok !kill(0, $mpid), 'DESTROY stopped nginx';
ok !kill(0, $rp), 'DESTROY stopped redis';
ok !-d $prefix || $ENV{DISPATCH_KEEP}, 'prefix removed';

done_testing;
