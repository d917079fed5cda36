#!/usr/bin/perl
# Attack 10 (branch attack10) on the shared zones, KV, the Cache API, the
# isolate pool and Redis: a hostile tenant against the others.
#
# Found and fixed:
# - The Cache API's index (keys_zone) was one pool for the node, and when
#   it was full the node's least recently used entry made room. One script
#   putting a few thousand tiny entries (a few hundred KiB, far under
#   tenant_max_size) pushed every other script's entries out of the cache,
#   over and over. Now a script that holds a quarter or more of the index's
#   entries makes room from its own entries.
#
# Found, not fixed: a tenant's KV gets of a 20 MiB value (two at a time,
# in a loop) share the worker's Redis connection with every tenant: another
# tenant's KV get of a missing key took 45-120 ms meanwhile instead of 1 ms
# (head-of-line, bounded by the hog's memory limit, no stall beyond it).
# Not looked at for want of time: the penalty-box and metrics zones, the
# isolate pool, disk blocks of tiny cache entries (charged by their bytes).
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP;

my $driver = q{
export default {
  async fetch(request) {
    const q = new URL(request.url).searchParams;
    const n = Number(q.get('n'));
    const base = 'https://cache.test/' + (q.get('k') ?? 'e');
    if (q.get('op') === 'put') {
      for (let i = 0; i < n; i++) {
        await caches.default.put(base + i, new Response('v' + i, { headers: { 'cache-control': 'max-age=600' } }));
      }
    }
    let hits = 0, last = false;
    for (let i = 0; i < n; i++) {
      const res = await caches.default.match(base + i);
      if (res && (await res.text()) === 'v' + i) { hits++; last = i === n - 1; }
    }
    return Response.json({ hits, last });
  }
};
};

my $t = Dispatch::Test->new(
    http   => 'dispatch_cache_path %%PREFIX%%/cache keys_zone=tiny2:64k;',
    server => q{
        location ~ ^/t/(?<ns>[^/]*)/(?<script>[^/]*) { dispatch_cpu_limit 10s; dispatch $ns $script; }
    },
);
$t->put_script('tenants', $_, $driver) for qw(victim hog);

sub call {
    my ($who, $query) = @_;
    my $r = $t->get("/t/tenants/$who?$query", timeout => 60);
    return eval { decode_json($r->{content}) } || { raw => $r->{content} };
}

# a 64k index holds about 220 entries: the victim keeps 20
is call('victim', 'op=put&n=20')->{hits}, 20, 'the victim stores 20 entries';
# the hog puts 2000 entries of two bytes each, twice over
my $hog = call('hog', 'op=put&n=2000&k=h');
is $hog->{last}, JSON::PP::true, "the hog's newest entry is stored ($hog->{hits} held)";
call('hog', 'op=put&n=2000&k=g');
is call('victim', 'op=match&n=20')->{hits}, 20,
   "a script filling the index with tiny entries does not push out another's";
is call('victim', 'op=put&n=20&k=f')->{hits}, 20, 'and the victim still stores new ones';
is_deeply [ $t->error_log_alerts ], [], 'no alerts in the error log';
$t->stop;

done_testing;
