#!/usr/bin/perl
# A client that goes away mid-request is cleaned up: the engine abandons the
# request, nothing calls back into it, and the worker keeps serving.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use IO::Socket::INET;
use Time::HiRes qw(sleep);

my $t = Dispatch::Test->new(
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; } },
);

$t->put_script('tenants', 'hangs', q{
    export default { fetch() { return new Promise(() => {}); } };
});
$t->put_script('tenants', 'ok', q{
    export default { fetch() { return new Response('fine'); } };
});

my @workers = $t->worker_pids;

for my $n (1 .. 5) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port, Proto => 'tcp')
        or die "connect: $!";
    print $s "GET /t/hangs HTTP/1.1\r\nHost: localhost\r\n\r\n";
    sleep 0.3;
    close $s;
}

ok $t->wait_for(sub { () = $t->access_log =~ m{"GET /t/hangs HTTP/1\.1" 499}g; } , timeout => 10),
    'nginx logs the abandoned requests as 499';
ok $t->wait_for(sub { my @m = $t->error_log =~ /"tenants\/hangs": the client went away, request abandoned/g; @m == 5 }),
    'each abandoned request is released by the engine';

my $r = $t->get('/t/ok');
is $r->{status}, 200, 'the worker keeps serving afterwards';
is $r->{content}, 'fine', 'with the right answer';
is_deeply [$t->worker_pids], \@workers, 'the worker process is the same';
is scalar($t->error_log_alerts), 0, 'no alerts or crashes in the error log'
    or diag join "\n", $t->error_log_alerts;
done_testing;
