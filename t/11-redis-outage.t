#!/usr/bin/perl
# SPEC 2 and 6: while Redis cannot be reached, cached scripts keep serving
# up to dispatch_stale_ttl past their dispatch_cache_ttl; an uncached one
# answers 503 store_unavailable within the dispatch_redis timeout. When Redis
# comes back (same address, its data lost) every worker reconnects,
# resubscribes to dispatch:events and picks up the scripts again - no reload.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Time::HiRes qw(time sleep);

my $t = Dispatch::Test->new(
    workers    => 2,
    redis_conf => 'dispatch_redis 127.0.0.1:%%REDIS_PORT%% timeout=500ms;',
    http       => "dispatch_cache_ttl 1s;\n    dispatch_stale_ttl 4s;",
    server     => q{
        location ~ ^/t/(?<script>[^/]*) {
            add_header X-Worker $pid always;
            dispatch tenants $script;
        }
    },
);
my @workers = $t->worker_pids;

sub says { my ($v) = @_; return qq{export default { fetch() { return new Response("$v"); } };\n} }

$t->put_script('tenants', 'cached', says('c1'), etag => 'c1');
ok $t->every_worker_says('/t/cached', 200, 'c1'), 'every worker has the script cached';
my $validated = time;
$t->stop_redis;

# past the TTL, inside the stale window
sleep 0.05 while time < $validated + 1.8;
my $t0 = time;
ok $t->every_worker_says('/t/cached', 200, 'c1'),
    'Redis down, past dispatch_cache_ttl: every worker still serves its cached script'
    or diag $t->worker_answers('/t/cached');
cmp_ok time - $t0, '<', 10, 'without hanging on the store';

$t0 = time;
my $r = $t->get('/t/uncached');
my $took = time - $t0;
is $r->{status}, 503, 'Redis down: a script that is not cached answers 503';
is $r->{content}, "store_unavailable\n", 'named store_unavailable';
cmp_ok $took, '<', 5, 'within ten times the 500ms dispatch_redis timeout';

my @res = $t->parallel([ map { +{ path => "/t/uncached$_" } } 1 .. 40 ], timeout => 30);
is scalar(grep { $_->{status} == 503 && $_->{content} eq "store_unavailable\n" } @res), 40,
    '40 concurrent requests for uncached scripts all answer 503 store_unavailable';

ok $t->wait_for(sub { $t->every_worker_says('/t/cached', 503, "store_unavailable\n") }, timeout => 15),
    'past dispatch_stale_ttl (4s) the cached copy is no longer served: 503 store_unavailable'
    or diag $t->worker_answers('/t/cached');
cmp_ok time - $validated, '>=', 4, 'not before the stale window ended';

# Redis comes back empty on the same port: the platform writes the scripts again
$t->start_redis;
$t->put_script('tenants', 'cached', says('c2'), etag => 'c2');
$t->put_script('tenants', 'uncached', says('u1'), etag => 'u1');
ok $t->wait_for(sub { $t->every_worker_says('/t/cached', 200, 'c2') }, timeout => 15),
    'Redis back: every worker reconnects and serves the script as now stored (no reload)'
    or diag $t->worker_answers('/t/cached');
ok $t->wait_for(sub { $t->every_worker_says('/t/uncached', 200, 'u1') }, timeout => 15),
    'a script that was unavailable during the outage is served'
    or diag $t->worker_answers('/t/uncached');
ok $t->wait_for(sub { $t->publish('tenants', 'nothing-here') == 2 }, timeout => 10),
    'every worker subscribed to dispatch:events again';
is_deeply [ $t->worker_pids ], \@workers, 'the same worker processes throughout';

# a second outage, a quick one, is survived the same way
$t->stop_redis;
$t->start_redis;
$t->put_script('tenants', 'cached', says('c3'), etag => 'c3');
ok $t->wait_for(sub { $t->every_worker_says('/t/cached', 200, 'c3') }, timeout => 15),
    'after a second outage every worker serves the script again'
    or diag $t->worker_answers('/t/cached');
ok $t->wait_for(sub { $t->publish('tenants', 'nothing-here') == 2 }, timeout => 10),
    'and holds its subscription again';

# a Redis that hangs (process stopped: connections open, no answers)
{
    ok $t->every_worker_says('/t/cached', 200, 'c3'), 'every worker has the script cached';
    my $frozen = time;
    kill 'STOP', $t->redis_pid;
    my $ok = eval {
        sleep 0.05 while time < $frozen + 1.5;
        my $t0 = time;
        ok $t->every_worker_says('/t/cached', 200, 'c3'),
            'Redis hanging, past the TTL: every worker still serves its cached script'
            or diag $t->worker_answers('/t/cached');
        cmp_ok time - $t0, '<', 10, 'without hanging with it';
        $t0 = time;
        my $r = $t->get('/t/hung-uncached', timeout => 20);
        my $took = time - $t0;
        is $r->{status}, 503, 'Redis hanging: a script that is not cached answers 503';
        is $r->{content}, "store_unavailable\n", 'named store_unavailable';
        cmp_ok $took, '<', 5, 'within ten times the 500ms dispatch_redis timeout';
        1;
    };
    my $err = $@;
    kill 'CONT', $t->redis_pid;
    die $err unless $ok;
    $t->put_script('tenants', 'cached', says('c4'), etag => 'c4');
    ok $t->wait_for(sub { $t->every_worker_says('/t/cached', 200, 'c4') }, timeout => 15),
        'Redis answering again: every worker picks up the change'
        or diag $t->worker_answers('/t/cached');
    ok $t->wait_for(sub { $t->publish('tenants', 'nothing-here') == 2 }, timeout => 10),
        'and holds one subscription again';
}

is_deeply [ $t->worker_pids ], \@workers, 'no worker process was replaced';
is scalar($t->error_log_alerts), 0, 'no alerts or crashes in the error log'
    or diag join "\n", $t->error_log_alerts;
done_testing;
