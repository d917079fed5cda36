#!/usr/bin/perl
# Issue 18, memory: an isolate idle for 60 s gives back its spare heap memory
# (one full GC between requests, dispatch_worker_idle_collections_total),
# once per idle spell, never while it is busy, and keeps its global state.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Time::HiRes qw(sleep time);

my $t = Dispatch::Test->new(
    workers => 1,
    server  => q{
        location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; }
        location = /status { allow 127.0.0.1; deny all; dispatch_status; }
    },
);

# each tenant counts its requests in a global and leaves garbage behind
for my $name (qw(idle busy)) {
    $t->put_script('tenants', $name, qq{
        let n = 0;
        export default {
          fetch() {
            n++;
            let junk = [];
            for (let i = 0; i < 2000; i++) junk.push({ i, s: 'x' + i });
            return new Response('$name:' + n + ':' + junk.length);
          }
        };
    });
}

sub collections {
    my $r = $t->get('/status');
    return undef unless $r->{status} == 200;
    my $n = 0;
    $n += $1 while $r->{content} =~ /^dispatch_worker_idle_collections_total\{[^}]*\} (\d+)$/mg;
    return $n;
}

is $t->get("/t/idle/$_")->{content}, "idle:$_:2000", "idle tenant, request $_" for 1 .. 3;
is collections(), 0, 'no collection while every isolate was just used';

# the busy tenant is asked every second for 66 s: never idle 60 s
my $busy_ok = 1;
my $i = 0;
my $until = time + 66;
while (time < $until) {
    $i++;
    my $r = $t->get("/t/busy/$i");
    $busy_ok = 0 unless $r->{status} == 200 && $r->{content} eq "busy:$i:2000";
    sleep 1;
}
ok $busy_ok, 'the busy tenant answered every request meanwhile';
ok $t->wait_for(sub { (collections() // 0) >= 1 }, timeout => 10),
    'the tenant idle for more than 60 s was collected';
is collections(), 1, 'only it: the isolate asked every second was not';
sleep 1.5;
is collections(), 1, 'once per idle spell: not again without a request';

is $t->get('/t/idle/4')->{content}, 'idle:4:2000', 'after the collection it keeps its global state';
$i++;
is $t->get("/t/busy/$i")->{content}, "busy:$i:2000", 'the other one was not disturbed';

is scalar($t->error_log_alerts), 0, 'no alerts or crashes in the error log'
    or diag join "\n", $t->error_log_alerts;
done_testing;
