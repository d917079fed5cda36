#!/usr/bin/perl
# What the warm path's shortcuts in a turn's accounting keep (issue 18): a
# turn that starts right after another reuses the worker's last CPU-clock
# reading as its start, and a short turn's heap is not always measured. The
# CPU each request is charged ($dispatch_cpu_ms) is still never less than
# what the worker's thread spent on it, nor more than its wall time; a heap
# grown a little by every request is still stopped at the memory limit.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Time::HiRes qw(time);

my $t = Dispatch::Test->new(
    workers => 1,
    http    => q{
        log_format turns '$dispatch_script|$dispatch_cpu_ms';
        dispatch_memory_limit 16m;
        dispatch_cpu_limit 5s;
    },
    server => q{
        access_log %%PREFIX%%/turns.log turns;
        location ~ ^/t/(?<script>[^/]*) { dispatch turns $script; }
    },
);

# A few milliseconds of CPU in one turn, the same work every request.
$t->put_script('turns', 'spin', q{
  export default {
    fetch() {
      let x = 0;
      for (let i = 0; i < 4e6; i++) x = (x * 31 + i) % 1000003;
      return new Response('spun:' + x);
    },
  };
});
# 256 KB more heap kept by every request.
$t->put_script('turns', 'grower', q{
  const keep = [];
  export default {
    fetch() {
      keep.push(new Array(32768).fill(1.5));
      return new Response(String(keep.length));
    },
  };
});
$t->start;
my ($worker) = $t->worker_pids;

# The event-loop thread's CPU time so far, in ms (the scheduler's count in
# nanoseconds, not the 10 ms ticks of /proc/PID/stat).
sub loop_cpu_ms {
    open my $fh, '<', "/proc/$worker/task/$worker/schedstat" or return undef;
    my ($ns) = split ' ', scalar <$fh>;
    return $ns / 1e6;
}

is $t->get('/t/spin')->{status}, 200, 'the spinning tenant answers';
my $before_ms = loop_cpu_ms();
my $started = time;
my @spun = $t->parallel([ map { +{ path => '/t/spin' } } 1 .. 24 ], concurrency => 24, timeout => 60);
my $spent_ms = loop_cpu_ms() - $before_ms;
my $batch_ms = (time - $started) * 1000;
is scalar(grep { $_->{status} == 200 } @spun), 24, 'twenty-four concurrent spinning requests all answer 200';

my @lines;
$t->wait_for(sub {
    @lines = grep { /^spin\|/ } split /\n/, $t->read_prefix_file('turns.log');
    @lines >= 25;
}, timeout => 5);
shift @lines;    # the first request, before the measurement
my $charged_ms = 0;
$charged_ms += (split /\|/)[1] for @lines;
is scalar(@lines), 24, 'one log line per spinning request';
cmp_ok $charged_ms, '>=', 0.9 * $spent_ms,
    sprintf('back-to-back turns are charged at least the CPU the worker spent on them (%.1f ms of %.1f ms)',
            $charged_ms, $spent_ms);
# One thread runs the turns one after another: together no more than the
# wall time they all ran in.
cmp_ok $charged_ms, '<=', $batch_ms,
    sprintf('and no more than the wall time they ran in (%.1f ms)', $batch_ms);

# The grower holds 256 KB more after each request: it must be stopped (the
# isolate retired, its count starting over) before it holds the 16 MB limit.
my ($max, $stopped, $outcome) = (0, 0, '');
for (1 .. 100) {
    my $r = $t->get('/t/grower');
    if ($r->{status} == 503) { ($stopped, $outcome) = (1, $r->{content}); last }
    if ($r->{content} <= $max) { $stopped = 1; last }
    $max = $r->{content};
}
ok $stopped, "a heap grown 256 KB per request is stopped within 100 requests (after $max)";
cmp_ok $max * 256, '<=', 16 * 1024, 'no request it answered had it hold more than the 16 MB limit';
like $t->error_log, qr/dispatch "turns\/grower".*exceeded_memory|exceeded_memory.*turns\/grower/,
    'the error log names exceeded_memory for it';

is scalar($t->error_log_alerts), 0, 'no alerts or crashes in the error log'
    or diag join "\n", $t->error_log_alerts;
$t->stop;
done_testing;
