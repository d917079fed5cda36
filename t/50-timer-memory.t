#!/usr/bin/perl
# Issue 10, found by the round-15 battery: a pending timer holds memory
# outside V8's heap (its host timer, the request's map node, the callback's
# handle: ~500 bytes), which no budget counted: 10,000 pending timers, an
# isolate's most, were ~5 MB of the worker that dispatch_memory_limit and
# dispatch_worker_memory did not see. Each now counts 512 bytes in its
# isolate's memory while it is pending.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;

my $t = Dispatch::Test->new(
    workers => 1,
    http    => "dispatch_memory_limit 8m;",
    server  => q{ location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; } },
);
my @workers = $t->worker_pids;

# ten requests in flight at once (10,000 timers, the isolate's most), each
# holding 256 KB of bytes and 999 timers while it waits: ~5 MB of timers
# and ~2.5 MB of bytes beside the heap, past an 8m limit; without the
# timers' own memory, well under it
$t->put_script('tenants', 'timers', q{
    export default {
      async fetch() {
        const bytes = new Uint8Array(256 * 1024).fill(1);
        for (let i = 0; i < 999; i++) setTimeout(() => {}, 60000);
        await new Promise((resolve) => setTimeout(resolve, 3000));
        return new Response(`held 999 ${bytes[bytes.length - 1]}`);
      }
    };
});
$t->put_script('tenants', 'good', q{ export default { fetch() { return new Response('good'); } }; });

my @res = $t->parallel([ map { +{ path => '/t/timers' } } 1 .. 10 ], concurrency => 10, timeout => 30);
my %seen;
$seen{"$_->{status} $_->{content}"}++ for @res;
ok $seen{"503 exceeded_memory\n"}, 'pending timers count against dispatch_memory_limit: 503 exceeded_memory'
    or diag explain \%seen;
is_deeply [ $t->worker_pids ], \@workers, 'the worker lives';
is $t->get('/t/good')->{content}, 'good', 'another tenant answers';

# under the limit, the same timers are no trouble, and what they held is
# given back as they go: the isolate serves request after request
$t->put_script('tenants', 'few', q{
    export default {
      async fetch() {
        for (let i = 0; i < 999; i++) setTimeout(() => {}, 60000);
        await new Promise((resolve) => setTimeout(resolve, 50));
        return new Response('held 999');
      }
    };
});
my $ok = 0;
for (1 .. 30) { $ok++ if $t->get('/t/few')->{content} eq 'held 999' }
is $ok, 30, 'one request at a time with 999 timers each, 30 times over: every one answers (refunded as they end)';

is scalar($t->error_log_alerts), 0, 'no alerts or crashes in the error log'
    or diag join "\n", $t->error_log_alerts;
done_testing;
