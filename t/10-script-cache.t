#!/usr/bin/perl
# SPEC 2 and 3: every worker process caches scripts. A cached script costs no
# Redis round trip. `PUBLISH dispatch:events NS/NAME` makes every worker drop
# its copy at once; without a PUBLISH a change is picked up after
# dispatch_cache_ttl, revalidating by etag (the code is fetched again only
# when the etag changed). Misses are remembered, briefly.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Time::HiRes qw(time sleep);

# X-Worker tells which worker process answered (see ask_every_worker)
my $LOC = q{
    location ~ ^/t/(?<script>[^/]*) {
        add_header X-Worker $pid always;
        dispatch tenants $script;
    }
};

sub says { my ($v) = @_; return qq{export default { fetch() { return new Response("$v"); } };\n} }

# --- a long TTL: only PUBLISH makes a change visible quickly
{
    my $t = Dispatch::Test->new(workers => 2, http => 'dispatch_cache_ttl 60s;', server => $LOC);
    my @workers = $t->worker_pids;

    $t->put_script('tenants', 'app', says('v1'), etag => 'v1');
    ok $t->every_worker_says('/t/app', 200, 'v1'), 'every worker serves the script'
        or diag $t->worker_answers('/t/app');

    my $before = $t->redis_command_calls;
    my @res = $t->parallel([ map { +{ path => '/t/app' } } 1 .. 100 ]);
    is scalar(grep { $_->{status} == 200 && $_->{content} eq 'v1' } @res), 100,
        '100 more requests to the cached script are answered';
    my $n = $t->redis_commands_since($before);
    cmp_ok $n, '<', 10, 'a cached script costs no Redis round trip (100 requests, fewer than 10 commands)';

    ok $t->wait_for(sub { $t->publish('tenants', 'nothing-here') == 2 }, timeout => 5),
        'each of the 2 workers holds a subscription to dispatch:events';

    $t->put_script('tenants', 'app', says('v2'), etag => 'v2');
    ok $t->every_worker_says('/t/app', 200, 'v1'),
        'without PUBLISH, the workers keep serving their cached copy within dispatch_cache_ttl'
        or diag $t->worker_answers('/t/app');

    is $t->publish('tenants', 'app'), 2, 'PUBLISH dispatch:events tenants/app reaches both workers';
    ok $t->wait_for(sub { $t->every_worker_says('/t/app', 200, 'v2') }, timeout => 2),
        'an update with PUBLISH is served by every worker at once'
        or diag $t->worker_answers('/t/app');

    # a PUBLISH names one script: another one stays cached
    $t->put_script('tenants', 'other', says('o1'), etag => 'o1');
    ok $t->every_worker_says('/t/other', 200, 'o1'), 'a second script is cached too';
    $t->put_script('tenants', 'other', says('o2'), etag => 'o2');
    $t->put_script('tenants', 'app', says('v3'), etag => 'v3');
    $t->publish('tenants', 'app');
    ok $t->wait_for(sub { $t->every_worker_says('/t/app', 200, 'v3') }, timeout => 2),
        'PUBLISH tenants/app updates tenants/app';
    ok $t->every_worker_says('/t/other', 200, 'o1'), 'and leaves tenants/other cached'
        or diag $t->worker_answers('/t/other');

    $t->del_script('tenants', 'app');
    $t->publish('tenants', 'app');
    ok $t->wait_for(sub { $t->every_worker_says('/t/app', 404, "not_found\n") }, timeout => 2),
        'a script deleted, then PUBLISHed, is gone from every worker at once'
        or diag $t->worker_answers('/t/app');

    ok $t->every_worker_says('/t/newcomer', 404, "not_found\n"), 'an unknown script is 404 in every worker';
    $t->put_script('tenants', 'newcomer', says('hello'), etag => 'n1');
    $t->publish('tenants', 'newcomer');
    ok $t->wait_for(sub { $t->every_worker_says('/t/newcomer', 200, 'hello') }, timeout => 2),
        'a script created, then PUBLISHed, is served by every worker at once, though its miss was remembered'
        or diag $t->worker_answers('/t/newcomer');

    # messages that name no script are ignored
    $t->redis('PUBLISH', 'dispatch:events', $_) for ('', 'garbage', 'a/b/c', 'UPPER/case', ('x' x 5000) . '/y', "\x00\xff/\n");
    ok $t->every_worker_says('/t/newcomer', 200, 'hello'), 'malformed messages on dispatch:events change nothing';
    is_deeply [ $t->worker_pids ], \@workers, 'the same worker processes serve throughout';
    is scalar($t->error_log_alerts), 0, 'no alerts or crashes in the error log'
        or diag join "\n", $t->error_log_alerts;
    $t->stop;
}

# --- a short TTL: changes written straight into Redis show up by themselves
{
    my $t = Dispatch::Test->new(workers => 2, http => 'dispatch_cache_ttl 1s;', server => $LOC);

    $t->put_script('tenants', 'app', says('v1'), etag => 'v1');
    ok $t->every_worker_says('/t/app', 200, 'v1'), 'every worker serves the script';
    $t->put_script('tenants', 'app', says('v2'), etag => 'v2');
    ok $t->wait_for(sub { $t->every_worker_says('/t/app', 200, 'v2') }, timeout => 10),
        'without PUBLISH, every worker serves a change after dispatch_cache_ttl (1s)'
        or diag $t->worker_answers('/t/app');

    # revalidating an unchanged etag does not fetch the code again: a 500 kB
    # script, asked for during 4 TTLs, costs far less than 500 kB of replies
    my $pad = '/*' . ('x' x 500_000) . "*/\n";
    $t->put_script('tenants', 'big', $pad . says('big1'), etag => 'b1');
    ok $t->every_worker_says('/t/big', 200, 'big1'), 'a 500 kB script is served by every worker';
    my $out0 = $t->redis_info('stats')->{total_net_output_bytes};
    my ($rounds, $good) = (0, 0);
    my $end = time + 4;
    while (time < $end) {
        $rounds++;
        $good++ if $t->every_worker_says('/t/big', 200, 'big1');
        sleep 0.2;
    }
    my $sent = $t->redis_info('stats')->{total_net_output_bytes} - $out0;
    is $good, $rounds, "it is served by every worker throughout 4 s ($rounds rounds)";
    cmp_ok $sent, '<', 400_000,
        "revalidations with an unchanged etag (4 s, TTL 1s, 2 workers) do not fetch the code again ($sent bytes)";

    $out0 = $t->redis_info('stats')->{total_net_output_bytes};
    $t->put_script('tenants', 'big', $pad . says('big2'), etag => 'b2');
    ok $t->wait_for(sub { $t->every_worker_says('/t/big', 200, 'big2') }, timeout => 10),
        'a changed etag is picked up within the TTL';
    $sent = $t->redis_info('stats')->{total_net_output_bytes} - $out0;
    cmp_ok $sent, '>=', 500_000, "and then the code is fetched (the measure above can see it: $sent bytes)";

    # misses are remembered: a flood of one unknown name does not hammer Redis
    my $before = $t->redis_command_calls;
    my @res = $t->parallel([ map { +{ path => '/t/ghost' } } 1 .. 500 ], concurrency => 20, timeout => 30);
    is scalar(grep { $_->{status} == 404 && $_->{content} eq "not_found\n" } @res), 500,
        '500 requests for an unknown script all answer 404 not_found';
    my $n = $t->redis_commands_since($before);
    cmp_ok $n, '<', 100, "and cost far fewer than 500 Redis commands ($n)";
    my $calls = $t->redis_command_calls;
    cmp_ok +($calls->{hgetall} || 0) - ($before->{hgetall} || 0), '<', 100, 'far fewer than 500 HGETALLs';

    $t->put_script('tenants', 'ghost', says('boo'), etag => 'g1');
    ok $t->wait_for(sub { $t->every_worker_says('/t/ghost', 200, 'boo') }, timeout => 10),
        'a miss is remembered only briefly: the script, created without PUBLISH, is served within the TTL'
        or diag $t->worker_answers('/t/ghost');

    is scalar($t->error_log_alerts), 0, 'no alerts or crashes in the error log'
        or diag join "\n", $t->error_log_alerts;
}

# --- many small tenants stay cached: the pool churns, the script cache does not
# More tenants than the cache held before (4,096 entries) and far more than
# the pool of 256: a round over all of them evicts every isolate, and the
# next round finds every script still cached (no HGETALL), each tenant
# served its own.
{
    my $n = 4200;
    my $t = Dispatch::Test->new(workers => 1, http => "dispatch_cache_ttl 1h;\ndispatch_isolates 256;",
                                server => $LOC);
    $t->put_script('tenants', "m$_", says("m$_"), etag => "e$_") for 1 .. $n;
    my $round = sub {
        my @res = $t->parallel([ map { +{ path => "/t/m$_" } } 1 .. $n ], concurrency => 8, timeout => 300);
        return scalar grep { $res[$_ - 1]{status} == 200 && $res[$_ - 1]{content} eq "m$_" } 1 .. $n;
    };
    is $round->(), $n, "$n tenants round-robin over a pool of 256 each answer their own";
    my $before = $t->redis_command_calls;
    is $round->(), $n, 'and again, every isolate started anew';
    my $calls = $t->redis_command_calls;
    is +($calls->{hgetall} || 0) - ($before->{hgetall} || 0), 0,
        "the second round reads no script from Redis: all $n stay in the script cache";
    is scalar($t->error_log_alerts), 0, 'no alerts or crashes in the error log'
        or diag join "\n", $t->error_log_alerts;
    $t->stop;
}

done_testing;
