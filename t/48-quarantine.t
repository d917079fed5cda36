#!/usr/bin/perl
# Issue 9: the penalty box. A script that takes a worker down (the last
# resort) is quarantined on every worker of the node before it runs again,
# for a period that doubles with each repeat and ends by itself; one that
# keeps hitting its CPU or memory limit is throttled in each worker, then
# quarantined; a good tenant keeps answering through a storm of them; and
# ctx.waitUntil work that lingers is capped per script, oldest first.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Time::HiRes qw(time sleep);
use POSIX ();

my $LOC = q{ location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; } };

# for-in over a huge typed array runs for seconds in one C++ call that no
# stop request reaches (t/45): the last resort ends the worker.
my $HANG = q{
    export default {
      fetch() {
        for (const key in new Uint8Array(1.2e8)) break;
        return new Response('never');
      }
    };
};
my $FIXED = q{ export default { fetch() { return new Response('fixed'); } }; };

subtest 'a script that took a worker down is quarantined on every worker, for a period that grows and ends' => sub {
    my $t = Dispatch::Test->new(
        workers => 2,
        http    => "dispatch_cpu_limit 50ms;\n    dispatch_hang_timeout 250ms;\n"
                 . "    dispatch_quarantine_zone penalty:1m period=2s;",
        server  => $LOC,
    );
    $t->put_script('tenants', 'good', q{ export default { fetch() { return new Response('good'); } }; });
    $t->put_script('tenants', 'hang', $HANG);
    my @before = $t->worker_pids;
    is scalar(@before), 2, 'two workers';

    my $r = $t->get('/t/hang', timeout => 30);
    isnt $r->{status}, 200, 'the hanging request gets no answer from the script';
    ok $t->wait_for(sub { my @w = $t->worker_pids; @w == 2 && "@w" ne "@before" }),
        'one worker is replaced';
    like $t->error_log, qr/\[alert\].*dispatch "tenants\/hang".*exits \(1\).*quarantined on every worker for 2s/,
        'the alert names the script and its quarantine';
    my @after = $t->worker_pids;

    # many requests, spread over both workers: none runs it
    my @res = $t->parallel([ map { +{ path => '/t/hang' } } 1 .. 20 ], concurrency => 10, timeout => 10);
    my @quarantined = grep { $_->{status} == 503 && $_->{content} eq "quarantined\n" } @res;
    is scalar(@quarantined), 20, 'every request on every worker answers 503 quarantined at once'
        or diag join "\n", map { "$_->{status} $_->{content}" } @res;
    is_deeply [ $t->worker_pids ], \@after, 'and no worker is lost to it again';

    # a re-upload does not lift it: the box is keyed by NS/NAME
    $t->put_script('tenants', 'hang', $FIXED);
    $t->redis('PUBLISH', 'dispatch:events', 'tenants/hang');
    is $t->get('/t/hang')->{content}, "quarantined\n", 'a new version of the script is still quarantined';
    is $t->get('/t/good')->{content}, 'good', 'other tenants are served';

    # the period ends by itself
    ok $t->wait_for(sub { $t->get('/t/hang')->{content} eq 'fixed' }, timeout => 6),
        'after its period (2s) the script runs again';

    # a repeat doubles the period
    $t->put_script('tenants', 'hang', $HANG);
    $t->redis('PUBLISH', 'dispatch:events', 'tenants/hang');
    sleep 0.2;
    @before = $t->worker_pids;
    $t->get('/t/hang', timeout => 30);
    ok $t->wait_for(sub { $t->error_log =~ /dispatch "tenants\/hang".*quarantined on every worker for 4s/ }),
        'the second time it is quarantined for twice as long (4s)';
    ok $t->wait_for(sub { my @w = $t->worker_pids; @w == 2 }), 'two workers again';
    is $t->get('/t/hang')->{content}, "quarantined\n", 'and is refused at once';
    unlike $t->error_log, qr/exited on signal/, 'no worker died of a signal';
    $t->stop;
};

subtest 'a script that keeps hitting its CPU limit is throttled, then quarantined' => sub {
    my $t = Dispatch::Test->new(
        workers => 1,
        http    => "dispatch_cpu_limit 20ms;\n    dispatch_quarantine_zone penalty:1m period=30s;",
        server  => $LOC,
    );
    $t->put_script('tenants', 'spin', q{ export default { fetch() { for (;;) {} } }; });
    $t->put_script('tenants', 'good', q{ export default { fetch() { return new Response('good'); } }; });
    # one client, back to back, for at most 10 s or until it is in the box
    my (%seen, $n);
    my $start = time;
    while (time - $start < 10) {
        my $r = $t->get('/t/spin');
        $seen{"$r->{status} $r->{content}"}++;
        $n++;
        last if $t->error_log =~ /tenants\/spin": it keeps hitting its limits: quarantined on every worker/;
    }
    cmp_ok $seen{"503 exceeded_cpu\n"} // 0, '>=', 3, 'it is stopped by its limit at first';
    cmp_ok $seen{"503 quarantined\n"} // 0, '>', $seen{"503 exceeded_cpu\n"} // 0,
        "most of its $n requests are refused at once as quarantined: it is throttled";
    like $t->error_log, qr/dispatch "tenants\/spin": it keeps hitting its limits: quarantined on every worker for 30s/,
        'within 10 s it goes into the penalty box, and the error log says why';
    my @res = map { $t->get('/t/spin') } 1 .. 5;
    is scalar(grep { $_->{content} eq "quarantined\n" } @res), 5, 'from then on it is refused';
    is $t->get('/t/good')->{content}, 'good', 'a good tenant answers';
    $t->stop;
};

subtest 'a good tenant keeps answering through a storm of limit-hitting scripts' => sub {
    my $cpu_ms = 50;
    my $t = Dispatch::Test->new(
        workers => 2,
        http    => "dispatch_cpu_limit ${cpu_ms}ms;\n    dispatch_quarantine_zone penalty:1m period=60s;",
        server  => $LOC,
    );
    $t->put_script('tenants', 'good', q{ export default { fetch() { return new Response('good'); } }; });
    my @hostile = map { "storm$_" } 1 .. 4;
    $t->put_script('tenants', $_, q{
        export default { fetch() { const a = []; for (;;) a.push(a.length); } };
    }) for @hostile;

    # the good tenant's idle latency
    my @idle;
    for (1 .. 50) { my $t0 = time; $t->get('/t/good'); push @idle, time - $t0 }
    my $idle_p99 = (sort { $a <=> $b } @idle)[48];

    my $dir = $t->prefix;
    my $duration = 8;
    my @kids;
    my $client = sub {
        my ($path, $file) = @_;
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            open my $out, '>', $file or POSIX::_exit(1);
            my $start = time;
            while (time - $start < $duration) {
                my $t0 = time;
                my $r = $t->get($path, timeout => 10);
                my $c = $r->{content} // ''; chomp $c;
                printf $out "%.4f %.4f %d %s\n", $t0 - $start, time - $t0, $r->{status}, $c;
            }
            close $out;
            POSIX::_exit(0);
        }
        push @kids, $pid;
    };
    for my $s (@hostile) { $client->("/t/$s", "$dir/storm-$s-$_.log") for 1 .. 6 }
    $client->('/t/good', "$dir/storm-good.log");
    waitpid $_, 0 for @kids;

    my @good = map { [split ' ', $_, 4] } split /\n/, Dispatch::Test::_read_file("$dir/storm-good.log");
    cmp_ok scalar(@good), '>', 20, 'the good client made many requests';
    my @bad = grep { $_->[2] != 200 || $_->[3] ne 'good' } @good;
    is scalar(@bad), 0, 'the good tenant got only 200s' or diag join "\n", map { "@$_" } @bad[0 .. 4];
    # the first 2 s are the hostile scripts' first offences, before the
    # throttle knows them (3 each, in each worker)
    my @lat = sort { $a <=> $b } map { $_->[1] } grep { $_->[0] >= 2 } @good;
    my $p99 = $lat[int(0.99 * $#lat)];
    # What it may wait for is one admitted hostile turn (the CPU limit) on
    # top of its own: bounded at five times that, so a loaded machine does
    # not fail it, while a storm nothing throttles (each worker running a
    # dozen 50 ms turns ahead of it, ~600 ms) still does.
    my $bound = 5 * ($idle_p99 + $cpu_ms / 1000);
    cmp_ok $p99, '<=', $bound,
        sprintf('after 2s its p99 (%.1f ms) is within 5x its idle p99 (%.1f ms) plus the CPU limit',
                $p99 * 1000, $idle_p99 * 1000);

    for my $s (@hostile) {
        my @runs;
        for my $k (1 .. 6) {
            push @runs, grep { $_->[0] >= 2 && $_->[3] =~ /^exceeded_/ }
                map { [split ' ', $_, 4] } split /\n/, Dispatch::Test::_read_file("$dir/storm-$s-$k.log");
        }
        my $rate = @runs / ($duration - 2) / 2;    # per second, per worker
        cmp_ok $rate, '<=', 4, sprintf('after 2s, %s is admitted %.2f times a second per worker', $s, $rate);
    }
    is scalar($t->error_log_alerts), 0, 'no alerts' or diag join "\n", $t->error_log_alerts;
    $t->stop;
};

subtest 'lingering ctx.waitUntil work is capped per script, the oldest cancelled first' => sub {
    my $t = Dispatch::Test->new(workers => 1, server => $LOC);
    $t->put_script('tenants', 'linger', q{
        export default {
          fetch(request, env, ctx) {
            // a slow sink: it answers after 3 s (so that nginx can stop soon after)
            ctx.waitUntil(new Promise((resolve) => setTimeout(resolve, 3000)));
            return new Response('sent');
          }
        };
    });
    my @res = $t->parallel([ map { +{ path => '/t/linger' } } 1 .. 120 ], concurrency => 20, timeout => 20);
    is scalar(grep { $_->{status} == 200 && $_->{content} eq 'sent' } @res), 120,
        'every request is answered: new requests are never refused for lingering work';
    ok $t->wait_for(sub { $t->error_log =~ /dispatch "tenants\/linger": ctx\.waitUntil\(\) work cancelled: the script has 100 requests lingering/ }),
        'past 100 lingering, the oldest work is cancelled, and the log says so';
    is $t->get('/t/linger')->{content}, 'sent', 'the script still answers';
    $t->stop;
};

done_testing;
