#!/usr/bin/perl
# The last resort (README, "Containment"): JavaScript that a limit told to
# stop but that keeps running inside a V8 builtin that never looks at the
# request ends its worker process after dispatch_hang_timeout of CPU. The
# worker exits with 1 and an [alert] naming the script; nginx's master
# starts another at once, and every other tenant is served by it.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Time::HiRes qw(time);

my $LOC = q{ location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; } };

{
    my ($code, $out) = Dispatch::Test->nginx_test_config(
        http => 'dispatch_hang_timeout 100ms;', server => $LOC);
    isnt $code, 0, 'nginx -t refuses a dispatch_hang_timeout under 250ms';
    like $out, qr/"dispatch_hang_timeout" must be at least 250ms/, 'and says why';
}

my $t = Dispatch::Test->new(
    workers => 1,
    http    => "dispatch_cpu_limit 50ms;\n    dispatch_hang_timeout 500ms;",
    server  => $LOC,
);
my ($worker) = $t->worker_pids;

$t->put_script('tenants', 'good', q{
    export default { fetch() { return new Response('good'); } };
});
# for-in over a typed array collects every index as a key in one C++ call
# that never looks at a stop request (seconds for 1.2e8), and it is syntax:
# no guard can reach it. (The builtins that can run away are refused up
# front by guards: engine/js/runaway_guards.js.)
$t->put_script('tenants', 'hang', q{
    export default {
      fetch() {
        for (const key in new Uint8Array(1.2e8)) break;
        return new Response('never');
      }
    };
});

is $t->get('/t/good')->{content}, 'good', 'a good tenant answers';

my $t0 = time;
my $r = $t->get('/t/hang', timeout => 30);
my $took = time - $t0;
isnt $r->{status}, 200, 'the hanging request gets no answer from the script';
cmp_ok $took, '<', 15, sprintf('the worker is ended within a bounded time (%.1fs)', $took);

ok $t->wait_for(sub { my @w = $t->worker_pids; @w == 1 && $w[0] != $worker }),
    'nginx starts a new worker in place of the one that hung';
like $t->error_log,
    qr/\[alert\].*dispatch "tenants\/hang": JavaScript kept running \d+ms after a limit stopped it, past dispatch_hang_timeout; the worker process exits \(1\)/,
    'the error log names the script and the last resort';
like $t->error_log, qr/worker process $worker exited with code 1/,
    'the worker exited with status 1, which nginx respawns';
unlike $t->error_log, qr/exited on signal/, 'no worker died of a signal';
is $t->get('/t/good')->{content}, 'good', 'the good tenant answers right after, from the new worker';

$t->stop;
done_testing;
