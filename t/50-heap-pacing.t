#!/usr/bin/perl
# Issue 18, memory: a tenant whose objects live a few requests and then
# become garbage (what a cache, a router's per-request state or awaited I/O
# leaves behind) is collected as V8 paces any heap: by what is live, not by
# its memory limit. The isolates were told to start with an old generation
# the size of dispatch_memory_limit, so V8 ran no full GC until the garbage
# reached ~100 MB per busy isolate: a worker's RSS grew with its tenants'
# garbage, and that garbage took dispatch_worker_memory from other tenants'
# isolates (retired for `memory`).
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Time::HiRes qw(sleep);

my $t = Dispatch::Test->new(
    workers => 1,
    server  => q{
        location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; }
        location = /status { allow 127.0.0.1; deny all; dispatch_status; }
    },
);

# each request keeps ~400 KB for the next 4 requests: ~2 MB live at any
# time, ~400 KB a request promoted to the old generation and dropped later
$t->put_script('tenants', 'recent', q{
    const recent = [];
    let n = 0;
    export default {
      async fetch() {
        const rows = [];
        for (let i = 0; i < 4000; i++) rows.push({ id: n * 4000 + i, name: 'row ' + i, tags: [i, n] });
        recent.push(rows);
        if (recent.length > 4) recent.shift();
        await null;
        return new Response(`${++n} ${recent.length}`);
      }
    };
});

sub isolate_memory {
    my ($m) = $t->get('/status')->{content}
        =~ /^dispatch_worker_isolate_memory_bytes\{[^}]*\} (\d+)$/m;
    return $m;
}

my $ok = 1;
my $peak = 0;
for my $i (1 .. 600) {
    my $r = $t->get('/t/recent');
    $ok = 0 unless $r->{status} == 200 && $r->{content} eq "$i " . ($i > 4 ? 4 : $i);
    if ($i % 50 == 0) {
        sleep 1.1;    # the gauge is published once a second
        my $m = isolate_memory() // 0;
        $peak = $m if $m > $peak;
    }
}
ok $ok, '600 requests answered, the tenant keeping its last 4 batches of rows';
# ~240 MB became garbage meanwhile; before, the isolate held most of it
cmp_ok $peak, q{<}, 48 << 20,
    sprintf('its heap stayed near what is live: peak %.1f MB (a full GC came with the garbage, not at the 128m limit)', $peak / 2**20);
ok $t->wait_for(sub { $t->get(q{/status})->{content} =~ m/^dispatch_requests_total\{namespace="tenants",script="recent",outcome="ok"\} 600$/m }, timeout => 10),
    q{every request ended ok (no memory limit met on the way)};

is scalar($t->error_log_alerts), 0, 'no alerts or crashes in the error log'
    or diag join "\n", $t->error_log_alerts;
done_testing;
