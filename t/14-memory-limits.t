#!/usr/bin/perl
# SPEC 2 and 6: dispatch_memory_limit bounds the heap plus ArrayBuffer
# memory of one isolate: a script that goes past it answers 503
# "exceeded_memory", the worker survives, other tenants keep their state, and
# the stopped isolate's memory is given back. A single allocation larger than
# the whole limit is a catchable RangeError. dispatch_worker_memory bounds
# all isolates of a worker together: idle ones are retired to make room.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Time::HiRes qw(time sleep);

my $LOC = q{ location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; } };

{
    my $t = Dispatch::Test->new(
        workers => 1,
        # CPU is generous here: the memory limit is what must stop these
        http    => "dispatch_memory_limit 64m;\n    dispatch_cpu_limit 5s;",
        server  => $LOC,
    );
    my ($worker) = my @workers = $t->worker_pids;

    $t->put_script('tenants', 'good', q{
        let n = 0;
        export default { fetch() { return new Response('good:' + ++n); } };
    });
    $t->put_script('tenants', 'within', q{
        const keep = new Array(2e6).fill(1.5);            // 16 MB of heap
        const buf = new Uint8Array(16 << 20).fill(7);    // 16 MB of ArrayBuffer
        export default { fetch() { return new Response('within:' + keep.length + ':' + buf[12345]); } };
    });
    # A script that keeps hitting its limit is throttled (t/48): each bomb
    # below goes off in a copy of its own.
    my $BOMB = q{
        let n = 0;
        export default {
          fetch(request) {
            n++;
            const mode = new URL(request.url).searchParams.get('mode');
            if (mode === 'arrays') { const a = []; for (;;) a.push(new Array(1e6).fill(1.5)); }
            if (mode === 'objects') { const a = []; for (let i = 0; ; i++) a.push({ i, s: 'k' + i }); }
            if (mode === 'buffers') { const k = []; for (;;) k.push(new ArrayBuffer(16 << 20)); }
            if (mode === 'typed') { const k = []; for (;;) k.push(new Float64Array(1 << 20).fill(2)); }
            if (mode === 'huge') {
              try { const b = new ArrayBuffer(2 ** 31); return new Response('allocated ' + b.byteLength); }
              catch (e) { return new Response('caught ' + e.name); }
            }
            return new Response('bomb:' + n);
          }
        };
    };
    $t->put_script('tenants', $_, $BOMB)
        for 'bomb', map({ "bomb-$_" } qw(arrays objects buffers typed)),
                    map({ my $r = $_; map { "bomb-$r-$_" } qw(arrays buffers) } 1 .. 3);

    is $t->get('/t/good')->{content}, 'good:1', 'a good tenant answers';
    is $t->get('/t/within')->{content}, 'within:2000000:7',
        'a script holding 32 MB of heap and ArrayBuffer (half the limit) is not stopped';
    is $t->get('/t/bomb')->{content}, 'bomb:1', 'the bomb tenant answers when it allocates nothing';

    my $rss0 = $t->rss_kb($worker);
    my $good = 1;
    my %what = (
        arrays  => 'a heap bomb of arrays',
        objects => 'a heap bomb of small objects',
        buffers => 'an ArrayBuffer bomb',
        typed   => 'a typed-array bomb',
    );
    for my $mode (qw(arrays objects buffers typed)) {
        my $t0 = time;
        my $r = $t->get("/t/bomb-$mode?mode=$mode", timeout => 60);
        my $took = time - $t0;
        is $r->{status}, 503, "$what{$mode} is stopped with 503";
        is $r->{content}, "exceeded_memory\n", "$mode: the body names exceeded_memory";
        cmp_ok $took, '<', 10, "$mode: in reasonable time";
        is_deeply [ $t->worker_pids ], \@workers, "$mode: the worker process survives";
        $good++;
        is $t->get('/t/good')->{content}, "good:$good", "$mode: another tenant answers right after, its state intact";
        is $t->get("/t/bomb-$mode")->{content}, 'bomb:1', "$mode: the stopped tenant answers again, from a fresh isolate";
    }

    my $r = $t->get('/t/bomb?mode=huge');
    is $r->{status}, 200, 'one ArrayBuffer larger than the whole limit does not stop the script';
    is $r->{content}, 'caught RangeError', 'it throws a RangeError the script can catch';
    is $t->get('/t/bomb')->{content}, 'bomb:3', 'and the isolate lives on (its state intact)';

    # stopped isolates give their memory back
    for my $round (1 .. 3) {
        for my $mode (qw(arrays buffers)) {
            my $x = $t->get("/t/bomb-$round-$mode?mode=$mode", timeout => 60);
            $x->{status} == 503 or diag "round $round $mode: $x->{status} $x->{content}";
        }
    }
    my $grown = ($t->rss_kb($worker) - $rss0) / 1024;
    cmp_ok $grown, '<', 250,
        sprintf('after 6 more bombs of 64 MB the worker holds less than 250 MB more (%.0f MB)', $grown);
    is $t->get('/t/within')->{content}, 'within:2000000:7', 'the tenant within its limit still answers';

    is_deeply [ $t->worker_pids ], \@workers, 'the worker process is the same throughout';
    ok $t->wait_for(sub { $t->error_log =~ /dispatch "tenants\/bomb[^"]*".*exceeded/ }),
        'the error log tells which tenant exceeded its limit';
    is scalar($t->error_log_alerts), 0, 'no alerts or crashes in the error log'
        or diag join "\n", $t->error_log_alerts;
    $t->stop;
}

# dispatch_worker_memory: 25 tenants holding 8 MB each, 40 MB for the worker
{
    my $t = Dispatch::Test->new(
        workers => 1,
        http    => "dispatch_memory_limit 24m;\n    dispatch_worker_memory 40m;",
        server  => $LOC,
    );
    my ($worker) = my @workers = $t->worker_pids;
    my @tenants = map { "w$_" } 0 .. 24;
    for my $i (0 .. $#tenants) {
        my $fill = $i + 1;
        $t->put_script('tenants', $tenants[$i], qq{
            let n = 0;
            const keep = new Uint8Array(8 << 20).fill($fill);
            export default {
              fetch(request) {
                if (new URL(request.url).searchParams.has('hang')) return new Promise(() => {});
                return new Response('$tenants[$i]:' + ++n + ':' + keep[4321]);
              }
            };
        });
    }
    $t->put_script('tenants', 'small', q{ export default { fetch() { return new Response('small'); } }; });
    is $t->get('/t/small')->{content}, 'small', 'a small tenant answers';
    my $rss0 = $t->rss_kb($worker);

    my @wrong;
    for my $round (1 .. 2) {
        for my $i (0 .. $#tenants) {
            my $r = $t->get("/t/$tenants[$i]");
            my $fill = $i + 1;
            push @wrong, "round $round $tenants[$i]: $r->{status} $r->{content}"
                unless $r->{status} == 200 && $r->{content} =~ /^\Q$tenants[$i]\E:\d+:$fill$/;
        }
    }
    is scalar(@wrong), 0, '25 tenants of 8 MB each, visited twice in turn, all answer under a 40 MB worker budget'
        or diag join "\n", @wrong[0 .. ($#wrong < 9 ? $#wrong : 9)];
    is $t->get('/t/w0')->{content}, 'w0:1:1', 'a tenant whose isolate was retired to make room starts afresh';
    my $grown = ($t->rss_kb($worker) - $rss0) / 1024;
    cmp_ok $grown, '<', 120,
        sprintf('the worker holds far less than the 200 MB the 25 tenants would take together (%.0f MB more)', $grown);

    # isolates with requests in flight cannot be retired: past the budget,
    # new ones are refused
    my @h;
    for my $i (0 .. 9) {
        push @h, $t->send_request({ path => "/t/$tenants[$i]?hang=1" });
        sleep 0.1;
    }
    my @res = $t->read_responses(\@h, timeout => 1);
    my @refused = grep { $_->{status} == 503 && $_->{content} eq "overloaded\n" } @res;
    my @waiting = grep { $_->{status} == 599 } @res;
    cmp_ok scalar(@refused), '>=', 1,
        'with every isolate busy and the worker budget spent, a new tenant is refused with 503 overloaded';
    cmp_ok scalar(@waiting), '<=', 5, 'no more busy 8 MB tenants are admitted than 40 MB hold';
    is scalar(@refused) + scalar(@waiting), 10, 'nothing else happens to them'
        or diag join "\n", map { "$_->{status} $_->{content}" } @res;
    sleep 0.3;    # the waiting clients went away: their isolates are idle
    my $r = $t->get("/t/$tenants[20]");
    is $r->{status}, 200, 'once they are idle again, a new tenant is served (idle ones retired)';
    is_deeply [ $t->worker_pids ], \@workers, 'the worker process survives';
    is scalar($t->error_log_alerts), 0, 'no alerts or crashes in the error log'
        or diag join "\n", $t->error_log_alerts;
}

done_testing;
