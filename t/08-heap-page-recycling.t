#!/usr/bin/perl
# The worker keeps V8's freed heap chunks for the next isolates (platform.cc,
# RecyclingPageAllocator), scrubbed: tenants churning through a small pool
# start on pages that held other tenants' heaps, and each sees its own heap
# only, whole and fresh.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;

my $t = Dispatch::Test->new(
    workers => 1,
    http    => 'dispatch_isolates 2;',
    server  => q{ location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; } },
);
my @workers = $t->worker_pids;

# Each tenant fills a few MB of its heap (many chunks) with objects made from
# its name and a marker global, and answers from them: a chunk that came back
# with another tenant's bytes, or not zeroed as V8 expects of fresh memory,
# shows as a wrong sum, a foreign marker or a crash.
my @tenants = map { "t$_" } 0 .. 11;
for my $i (0 .. $#tenants) {
    my $name = $tenants[$i];
    $t->put_script('tenants', $name, qq{
        const rows = [];
        for (let j = 0; j < 20000; j++) rows.push({ j, tag: '$name' + j, seed: $i });
        globalThis.marker_$name = true;
        export default {
          fetch() {
            let sum = 0;
            for (const row of rows) {
              if (row.tag !== '$name' + row.j || row.seed !== $i) return new Response('corrupt row ' + row.j);
              sum += row.j;
            }
            const markers = Object.getOwnPropertyNames(globalThis).filter((k) => k.startsWith('marker_'));
            return new Response('$name:' + sum + ':' + markers.join(','));
          }
        };
    });
}

my $expect = join ' ', map { "$_:199990000:marker_$_" } @tenants;
for my $round (1 .. 3) {
    my @out = map {
        my $r = $t->get("/t/$_");
        $r->{status} == 200 ? $r->{content} : "$_:status $r->{status}"
    } @tenants;
    is join(' ', @out), $expect,
        "round $round: twelve tenants through a pool of 2 each see their own heap, whole, and no other tenant's global";
}

is_deeply [ $t->worker_pids ], \@workers, 'the worker process is the same';
is scalar($t->error_log_alerts), 0, 'no alerts or crashes in the error log'
    or diag join "\n", $t->error_log_alerts;
done_testing;
