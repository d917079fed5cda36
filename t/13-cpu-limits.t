#!/usr/bin/perl
# SPEC 2 and 6: dispatch_cpu_limit bounds the CPU time a request spends in
# JavaScript, dispatch_startup_cpu_limit the top-level evaluation of a
# script. A stopped script answers 503 "exceeded_cpu"; the worker survives,
# other tenants are served right after, the stopped tenant gets a fresh
# isolate, every other request in flight on the stopped isolate fails cleanly,
# and a termination never lands in the next script.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Time::HiRes qw(time sleep);

my $t = Dispatch::Test->new(
    workers => 1,
    http    => "dispatch_cpu_limit 50ms;\n    dispatch_startup_cpu_limit 200ms;",
    server  => q{
        location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; }
        location ~ ^/slow/(?<script>[^/]*) { dispatch_cpu_limit 1s; dispatch tenants $script; }
        location ~ ^/turns/(?<script>[^/]*) { dispatch_wall_limit 10s; dispatch tenants $script; }
    },
);
my @workers = $t->worker_pids;

$t->put_script('tenants', 'good', q{
    let n = 0;
    export default { fetch() { return new Response('good:' + ++n); } };
});
# ?mode=spin|catch|micro|hang run away in different ways; no mode counts.
# A script that keeps hitting its limit is throttled (t/48): each check
# here runs on a fresh copy of it, under a name of its own.
my $LOOPER = q{
    let n = 0;
    export default {
      async fetch(request) {
        n++;
        const mode = new URL(request.url).searchParams.get('mode');
        if (mode === 'spin') for (;;) {}
        if (mode === 'catch') for (;;) { try { for (;;) {} } catch (e) {} }
        if (mode === 'micro') for (;;) await 0;
        if (mode === 'hang') await new Promise(() => {});
        if (mode === 'turns') for (;;) {
          for (let i = 0; i < 1e6; i++) {}
          await new Promise(resolve => setTimeout(resolve, 1));
        }
        if (mode === 'work') { let x = 0; for (let i = 0; i < 200000; i++) x += i % 7; return new Response('worked:' + x); }
        return new Response('looper:' + n);
      }
    };
};
my $copies = 0;
sub fresh_looper {
    my $name = 'looper' . ++$copies;
    $t->put_script('tenants', $name, $LOOPER);
    return $name;
}

sub timed_get {
    my ($path) = @_;
    my $t0 = time;
    my $r = $t->get($path, timeout => 30);
    $r->{elapsed} = time - $t0;
    return $r;
}

is $t->get('/t/good')->{content}, 'good:1', 'a good tenant answers';
my $sum = 0; $sum += $_ % 7 for 0 .. 199_999;
my $looper = fresh_looper();
is $t->get("/t/$looper?mode=work")->{content}, "worked:$sum", 'ordinary work well under the limit is not stopped';

my $good = 1;
my %what = (
    spin  => 'a handler that loops forever',
    catch => 'a loop that catches every exception',
    micro => 'a loop of microtasks (await 0)',
);
for my $mode (qw(spin catch micro)) {
    $looper = fresh_looper();
    like $t->get("/t/$looper")->{content}, qr/^looper:[1-9]\d*$/, "($mode) the tenant answers before";
    my $r = timed_get("/t/$looper?mode=$mode");
    is $r->{status}, 503, "$what{$mode} is stopped with 503";
    is $r->{content}, "exceeded_cpu\n", "$mode: the body names exceeded_cpu";
    like $r->{headers}{'content-type'}, qr{^text/plain}, "$mode: as text/plain";
    cmp_ok $r->{elapsed}, '<', 5, "$mode: soon after the 50ms limit";
    is_deeply [ $t->worker_pids ], \@workers, "$mode: the worker process survives";
    $good++;
    is $t->get('/t/good')->{content}, "good:$good", "$mode: another tenant answers right after, its state intact";
    is $t->get("/t/$looper")->{content}, 'looper:1', "$mode: the stopped tenant answers again, from a fresh isolate";
}

# the limit is on the sum over all the request's turns, not on each turn
$looper = fresh_looper();
my $r0 = timed_get("/turns/$looper?mode=turns");
is $r0->{status}, 503, 'a handler that works a little in each of endless timer turns is stopped with 503';
is $r0->{content}, "exceeded_cpu\n", 'named exceeded_cpu (the CPU of its turns adds up), not exceeded_wall';
cmp_ok $r0->{elapsed}, '<', 9, 'before the 10s wall limit';
is $t->get("/t/$looper")->{content}, 'looper:1', 'the tenant answers again, from a fresh isolate';

# a termination never leaks into the next script: runaway and good requests
# arrive together, twenty times
my ($stopped, $served, @odd) = (0, 0);
for my $round (1 .. 20) {
    my $runaway = fresh_looper();
    my @reqs = ({ path => "/t/$runaway?mode=spin" }, map { +{ path => '/t/good' } } 1 .. 3);
    @reqs = reverse @reqs if $round % 2;
    for my $r ($t->parallel(\@reqs, timeout => 30)) {
        if ($r->{status} == 503 && $r->{content} eq "exceeded_cpu\n") { $stopped++ }
        elsif ($r->{status} == 200 && $r->{content} =~ /^good:\d+$/) { $served++ }
        else { push @odd, "$r->{status} $r->{content}" }
    }
}
is $stopped, 20, 'twenty runaways among good requests are all stopped';
is $served, 60, 'and the sixty good requests around them all answer 200'
    or diag join "\n", @odd[0 .. ($#odd < 9 ? $#odd : 9)];
$good += $served;

# a termination fails every other request in flight on the same isolate
$looper = fresh_looper();
my $h = $t->send_request({ path => "/t/$looper?mode=hang" });
sleep 0.3;
my $r = timed_get("/t/$looper?mode=spin");
is $r->{status}, 503, 'a runaway next to a waiting request of the same tenant is stopped';
my $w = $t->read_response($h, timeout => 20);
is $w->{status}, 503, 'the waiting request on that isolate fails too';
is $w->{content}, "exceeded_cpu\n", 'with exceeded_cpu';
cmp_ok $w->{elapsed}, '<', 10, 'at once, not at the 30s wall limit';
is $t->get("/t/$looper")->{content}, 'looper:1', 'the tenant answers again from a fresh isolate';

# the limit of a location overrides the one from http
$looper = fresh_looper();
$r = timed_get("/slow/$looper?mode=spin");
is $r->{status}, 503, 'with a location\'s dispatch_cpu_limit 1s the runaway is stopped as well';
cmp_ok $r->{elapsed}, '>=', 0.95, 'but only after at least 1s';
cmp_ok $r->{elapsed}, '<', 10, 'and not much later';

# the top level of a script has its own budget
$t->put_script('tenants', 'startup', qq{for (;;) {}\nexport default { fetch() { return new Response('never'); } };\n});
$r = timed_get('/t/startup');
is $r->{status}, 503, 'a script whose top level loops forever is stopped with 503';
is $r->{content}, "exceeded_cpu\n", 'named exceeded_cpu';
cmp_ok $r->{elapsed}, '>=', 0.19, 'after dispatch_startup_cpu_limit (200ms), not the 50ms request limit';
cmp_ok $r->{elapsed}, '<', 5, 'and soon after it';
$r = timed_get('/t/startup');
is $r->{status}, 503, 'it is stopped again on the next request';
$good++;
is $t->get('/t/good')->{content}, "good:$good", 'and other tenants answer right after';

is_deeply [ $t->worker_pids ], \@workers, 'the worker process is the same throughout';
ok $t->wait_for(sub { $t->error_log =~ /dispatch "tenants\/looper[^"]*".*exceeded/ }),
    'the error log tells which tenant exceeded its limit';
is scalar($t->error_log_alerts), 0, 'no alerts or crashes in the error log'
    or diag join "\n", $t->error_log_alerts;
done_testing;
