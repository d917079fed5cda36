#!/usr/bin/perl
# SPEC 1 and 2: the module loads into Debian's nginx with a bare load_module;
# `nginx -t` validates the directives with file:line messages and starts
# neither V8 nor a Redis connection.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use File::Temp ();

sub config_test {
    my (%args) = @_;
    my ($code, $out) = Dispatch::Test->nginx_test_config(%args);
    return ($code, $out);
}

my ($code, $out) = config_test(server => 'location / { dispatch customers $host; }');
is $code, 0, 'a valid configuration passes nginx -t' or diag $out;
like $out, qr/syntax is ok/, 'nginx -t says the syntax is ok';

($code, $out) = config_test(server => 'location / { dispatch customers; }');
isnt $code, 0, 'dispatch with one argument is refused';
like $out, qr/invalid number of arguments in "dispatch" directive in \S+nginx\.conf:\d+/,
    'the message names the directive and file:line';

($code, $out) = config_test(server => 'location / { dispatch customers Bad.Name; }');
isnt $code, 0, 'a constant script name outside the charset is refused';
like $out, qr/invalid script name "Bad\.Name" in "dispatch".* in \S+nginx\.conf:\d+/,
    'the message names the bad value';

($code, $out) = config_test(server => 'location / { dispatch "" x; }');
isnt $code, 0, 'an empty namespace is refused';
like $out, qr/empty namespace in "dispatch"/, 'the message says what is empty';

($code, $out) = config_test(server => 'location / { dispatch a b; dispatch a c; }');
isnt $code, 0, 'a second dispatch in one location is refused';
like $out, qr/"dispatch" directive is duplicate/, 'as a duplicate';

($code, $out) = config_test(redis_conf => 'dispatch_redis 127.0.0.1:%%REDIS_PORT%% timeout=soon;',
                            server => 'location / { dispatch a b; }');
isnt $code, 0, 'a bad timeout is refused';
like $out, qr/invalid parameter "timeout=soon" in "dispatch_redis" in \S+nginx\.conf:\d+/,
    'the message names the parameter and file:line';

($code, $out) = config_test(redis_conf => 'dispatch_redis 127.0.0.1:%%REDIS_PORT%% colour=blue;',
                            server => 'location / { dispatch a b; }');
isnt $code, 0, 'an unknown dispatch_redis parameter is refused';

($code, $out) = config_test(
    redis_conf => 'dispatch_redis unix:/tmp/redis.sock db=2 password=secret timeout=250ms;',
    server     => 'location / { dispatch a b; }');
is $code, 0, 'a unix socket with db, password and timeout is accepted' or diag $out;

($code, $out) = config_test(redis_conf => 'dispatch_redis localhost:6379;',
                            server     => 'location / { dispatch a b; }');
is $code, 0, 'a host name is resolved at configuration time' or diag $out;

($code, $out) = config_test(
    redis_conf => 'dispatch_redis cluster=127.0.0.1:7000,localhost:7001,[::1]:7002 password=p timeout=2s;',
    server     => 'location / { dispatch a b; }');
is $code, 0, 'a cluster of seed nodes is accepted' or diag $out;

($code, $out) = config_test(redis_conf => 'dispatch_redis cluster=127.0.0.1:7000 wait=1;',
                            server     => 'location / { dispatch a b; }');
is $code, 0, 'wait=1 is accepted' or diag $out;

($code, $out) = config_test(redis_conf => 'dispatch_redis 127.0.0.1:7000 wait=17;',
                            server     => 'location / { dispatch a b; }');
isnt $code, 0, 'wait= above 16 is refused';

($code, $out) = config_test(redis_conf => 'dispatch_redis cluster=127.0.0.1:7000 db=1;',
                            server     => 'location / { dispatch a b; }');
isnt $code, 0, 'db= is refused with a cluster';
like $out, qr/"db=" cannot be used with "cluster=" in "dispatch_redis": Redis Cluster has database 0 only/,
    'the message says why';

($code, $out) = config_test(redis_conf => 'dispatch_redis cluster=127.0.0.1:7000,,127.0.0.1:7001;',
                            server     => 'location / { dispatch a b; }');
isnt $code, 0, 'an empty address in the list is refused';

($code, $out) = config_test(
    redis_conf => 'dispatch_redis sentinel=127.0.0.1:26379,127.0.0.1:26380 master=dispatch db=2 password=p;',
    server     => 'location / { dispatch a b; }');
is $code, 0, 'sentinels with a master name, db and password are accepted' or diag $out;

($code, $out) = config_test(redis_conf => 'dispatch_redis sentinel=127.0.0.1:26379;',
                            server     => 'location / { dispatch a b; }');
isnt $code, 0, 'sentinel= without master= is refused';
like $out, qr/"sentinel=" needs "master=NAME" in "dispatch_redis"/, 'the message says what is missing';

($code, $out) = config_test(redis_conf => 'dispatch_redis 127.0.0.1:6379 master=x;',
                            server     => 'location / { dispatch a b; }');
isnt $code, 0, 'master= is refused without sentinel=';

($code, $out) = config_test(server => 'dispatch_redis 127.0.0.1:6379; location / { dispatch a b; }');
isnt $code, 0, 'dispatch_redis is refused outside http';
like $out, qr/"dispatch_redis" directive is not allowed here in \S+nginx\.conf:\d+/,
    'with nginx\'s own message';

($code, $out) = config_test(server => 'dispatch a b;');
isnt $code, 0, 'dispatch is refused at server level';

($code, $out) = config_test(http => 'dispatch_worker_memory 2g; dispatch_memory_limit 512m;',
                            server => 'location / { dispatch a b; }');
is $code, 0, 'sizes take a g suffix, as SPEC\'s defaults do' or diag $out;

($code, $out) = config_test(http => 'dispatch_prepared_isolates abc;',
                            server => 'location / { dispatch a b; }');
isnt $code, 0, 'dispatch_prepared_isolates takes a number only';
like $out, qr/"dispatch_prepared_isolates" directive invalid number in \S+nginx\.conf:\d+/,
    'the message names the directive and file:line';

($code, $out) = config_test(http => 'dispatch_isolates 16; dispatch_prepared_isolates 17;',
                            server => 'location / { dispatch a b; }');
isnt $code, 0, 'more prepared isolates than the pool holds is refused';
like $out, qr/"dispatch_prepared_isolates" \(17\) must be at most "dispatch_isolates" \(16\)/,
    'the message says which bound';

($code, $out) = config_test(http => 'dispatch_isolates 1;',
                            server => 'location / { dispatch a b; }');
is $code, 0, 'a pool of one takes the default prepared isolates down to one' or diag $out;

($code, $out) = config_test(http => 'dispatch_code_cache 12q;',
                            server => 'location / { dispatch a b; }');
isnt $code, 0, 'dispatch_code_cache takes a size only';
like $out, qr/"dispatch_code_cache" directive invalid value/, 'the message names the directive';

($code, $out) = config_test(http => 'dispatch_startup_snapshot maybe;',
                            server => 'location / { dispatch a b; }');
isnt $code, 0, 'dispatch_startup_snapshot takes on or off';
like $out, qr/it must be "on" or "off"/, 'the message says what it takes';

($code, $out) = config_test(http => 'dispatch_startup_snapshot off; dispatch_prepared_isolates 0; dispatch_code_cache 0;',
                            server => 'location / { dispatch a b; }');
is $code, 0, 'each cold-start aid can be turned off' or diag $out;

# the commented example configuration is valid as shipped
{
    my $module = Dispatch::Test->module_path;
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    open my $in, '<', "$FindBin::Bin/../conf-examples/basic.conf" or die $!;
    my $conf = do { local $/; <$in> };
    $conf =~ s{load_module \S+;}{load_module $module;};
    $conf =~ s{listen 80;}{listen 127.0.0.1:1;};
    $conf =~ s{/var/log/nginx/}{$dir/}g;
    $conf =~ s{/var/lib/nginx/}{$dir/}g;    # paths nginx -t creates
    open my $out_fh, '>', "$dir/nginx.conf" or die $!;
    print $out_fh "pid $dir/nginx.pid;\nerror_log $dir/error.log;\n", $conf;
    close $out_fh;
    my $o = `/usr/sbin/nginx -t -p $dir -c $dir/nginx.conf -e $dir/error.log 2>&1`;
    is $?, 0, 'conf-examples/basic.conf passes nginx -t' or diag $o;
}

# `nginx -t` against a live Redis: it must not connect to it
{
    my $t = Dispatch::Test->new(server => 'location / { dispatch a $host; }', start => 0);
    $t->start_redis;
    my $before = $t->redis('INFO', 'stats');
    my ($c, $o) = $t->nginx_test_config;
    is $c, 0, 'nginx -t passes' or diag $o;
    my $after = $t->redis('INFO', 'stats');
    my ($nb) = $before =~ /total_connections_received:(\d+)/;
    my ($na) = $after =~ /total_connections_received:(\d+)/;
    # the harness keeps its one connection open, so any new one is nginx's
    is $na, $nb, 'nginx -t made no Redis connection';
    $t->stop;
}

# The master runs no V8 threads; the workers do, and only with `dispatch`
{
    my $t = Dispatch::Test->new(server => 'location / { dispatch a $host; }');
    my @tasks = glob('/proc/' . $t->nginx_pid . '/task/*');
    is scalar(@tasks), 1, 'the master process is single-threaded (V8 never started there)';
    my ($w) = $t->worker_pids;
    my @wtasks = glob("/proc/$w/task/*");
    cmp_ok scalar(@wtasks), '>', 1, 'a worker with dispatch locations runs V8\'s threads';
    $t->stop;
}
{
    my $t = Dispatch::Test->new(server => 'location / { return 200 "plain\n"; }');
    my ($w) = $t->worker_pids;
    my @wtasks = glob("/proc/$w/task/*");
    is scalar(@wtasks), 1, 'without a dispatch directive the worker starts no V8';
    my $clients = $t->redis('CLIENT', 'LIST');
    my @lines = grep { /\S/ } split /\n/, $clients;
    is scalar(@lines), 1, 'and opens no Redis connection (only the test\'s own)';
    is $t->get('/')->{content}, "plain\n", 'and serves as usual';
    $t->stop;
}

done_testing;
