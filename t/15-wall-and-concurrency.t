#!/usr/bin/perl
# SPEC 2 and 6: dispatch_wall_limit bounds the time until a script returns
# its Response: past it, 504 "exceeded_wall". dispatch_script_concurrency N
# bounds the requests of one script in flight in one worker: beyond N, 503
# "overloaded" at once; the slots come back when requests end or clients
# go away.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Time::HiRes qw(time sleep);

my $t = Dispatch::Test->new(
    workers => 1,
    server  => q{
        dispatch_wall_limit 500ms;
        location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; }
        location ~ ^/long/(?<script>[^/]*) { dispatch_wall_limit 2s; dispatch tenants $script; }
        location ~ ^/c/(?<script>[^/]*) {
            dispatch_script_concurrency 2;
            dispatch_wall_limit 1s;
            dispatch tenants $script;
        }
    },
);
my @workers = $t->worker_pids;

$t->put_script('tenants', 'waiter', q{
    let n = 0;
    export default {
      async fetch(request) {
        n++;
        const mode = new URL(request.url).searchParams.get('mode');
        if (mode === 'hang') return new Promise(() => {});
        if (mode === 'await') await new Promise(() => {});
        return new Response('waiter:' + n);
      }
    };
});
$t->put_script('tenants', 'other', q{
    export default { fetch() { return new Response('other'); } };
});

sub timed_get {
    my ($path) = @_;
    my $t0 = time;
    my $r = $t->get($path, timeout => 30);
    $r->{elapsed} = time - $t0;
    return $r;
}

# --- wall limit
for my $mode (qw(hang await)) {
    my $r = timed_get("/t/waiter?mode=$mode");
    is $r->{status}, 504, "($mode) a Response that never comes ends with 504";
    is $r->{content}, "exceeded_wall\n", "($mode) the body names exceeded_wall";
    like $r->{headers}{'content-type'}, qr{^text/plain}, "($mode) as text/plain";
    cmp_ok $r->{elapsed}, '>=', 0.45, "($mode) after the server's dispatch_wall_limit (500ms)";
    cmp_ok $r->{elapsed}, '<', 5, "($mode) and soon after it";
}
like $t->get('/t/waiter')->{content}, qr/^waiter:\d+$/, 'the tenant answers its next request';

my $h = $t->send_request({ path => '/t/waiter?mode=hang' });
my $r = timed_get('/t/other');
is $r->{status}, 200, 'while one request waits, another tenant is served';
cmp_ok $r->{elapsed}, '<', 0.45, 'without waiting for it';
$r = $t->read_response($h, timeout => 10);
is $r->{status}, 504, 'and the waiting one still ends with 504';

$r = timed_get('/long/waiter?mode=hang');
is $r->{status}, 504, 'a location\'s dispatch_wall_limit (2s) overrides the server\'s';
cmp_ok $r->{elapsed}, '>=', 1.9, 'the request waited 2s';
cmp_ok $r->{elapsed}, '<', 20, 'and not much longer';

# --- concurrency: two in flight, the rest refused at once
for my $wave (1, 2) {
    my @h = map { $t->send_request({ path => '/c/waiter?mode=hang' }) } 1 .. 5;
    if ($wave == 1) {
        sleep 0.2;
        my $o = timed_get('/c/other');
        is $o->{status}, 200, 'while one script is at its concurrency limit, another script in the location is served';
    }
    my @res = $t->read_responses(\@h, timeout => 20);
    my @over = grep { $_->{status} == 503 && $_->{content} eq "overloaded\n" } @res;
    my @wall = grep { $_->{status} == 504 && $_->{content} eq "exceeded_wall\n" } @res;
    is scalar(@over), 3, "(wave $wave) 5 concurrent requests with dispatch_script_concurrency 2: 3 answer 503 overloaded"
        or diag join "\n", map { "$_->{status} $_->{content}" } @res;
    is scalar(@wall), 2, "(wave $wave) the 2 admitted ones run until the wall limit";
    is scalar(grep { $_->{elapsed} < 0.9 } @over), scalar(@over), "(wave $wave) the refused ones are answered at once";
}
is $t->get('/c/waiter')->{status}, 200, 'after the wall limit ended them, the script is served again';

# a client that goes away gives its slot back
my @gone = map { $t->send_request({ path => '/c/waiter?mode=hang' }) } 1 .. 2;
sleep 0.2;
close $_->{fh} for @gone;
sleep 0.3;
my @res = $t->read_responses([ map { $t->send_request({ path => '/c/waiter?mode=hang' }) } 1 .. 2 ],
                             timeout => 20);
is scalar(grep { $_->{status} == 504 } @res), 2,
    'clients that went away free their slots at once: two new requests are admitted'
    or diag join "\n", map { "$_->{status} $_->{content}" } @res;

is_deeply [ $t->worker_pids ], \@workers, 'the worker process is the same throughout';
is scalar($t->error_log_alerts), 0, 'no alerts or crashes in the error log'
    or diag join "\n", $t->error_log_alerts;
done_testing;
