#!/usr/bin/perl
# The KV quota bounds the Redis memory a KV namespace takes (issue 10): each
# entry is charged its key, value and metadata and the per-entry overhead of
# the encoding, so tiny keys cannot take Redis memory far past the quota.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP qw(decode_json);

my $quota = 2 << 20;
my $t = Dispatch::Test->new(
    http   => 'dispatch_kv_quota 2m;',
    server => q{
        location ~ ^/t/(?<script>[^/]*) {
            dispatch_cpu_limit 5s;
            dispatch tenants $script;
        }
    },
);

# op=put|del on keys k<i in base 36> for i in [from, to), one at a time
# (within the 1000 KV operations of a request); stops at the first error.
my $driver = q{
export default {
  async fetch(request, env) {
    const q = new URL(request.url).searchParams;
    const from = Number(q.get('from')), to = Number(q.get('to'));
    const opts = {};
    if (q.has('ttl')) opts.expirationTtl = Number(q.get('ttl'));
    if (q.has('meta')) opts.metadata = { tag: q.get('meta') };
    let n = 0;
    try {
      for (let i = from; i < to; i++, n++) {
        const key = 'k' + i.toString(36);
        if (q.get('op') === 'put') await env.KV.put(key, 'x', opts);
        else await env.KV.delete(key);
      }
    } catch (e) {
      return Response.json({ n, error: e.constructor.name, message: e.message });
    }
    return Response.json({ n });
  }
};
};
for my $id (qw(tiny ttl meta)) {
    $t->put_script('tenants', $id, $driver,
        metadata => qq({"bindings":[{"type":"kv_namespace","name":"KV","namespace_id":"$id"}]}));
}

sub run_op {
    my ($who, $query) = @_;
    my $r = $t->get("/t/$who?$query");
    return decode_json($r->{content}) if $r->{status} == 200;
    return { n => 0, error => "HTTP $r->{status}", message => $r->{content} };
}

sub used_memory { $t->redis('INFO', 'memory') =~ /^used_memory:(\d+)/m ? $1 : die "no used_memory" }

# Writes 1-byte values under short keys, 900 a request, until a put is
# refused (30 requests at most: 27,000 keys, far more than 2m can hold).
sub fill {
    my ($who, $extra) = @_;
    my ($stored, $last) = (0, {});
    for (1 .. 30) {
        $last = run_op($who, "op=put&from=$stored&to=" . ($stored + 900) . $extra);
        $stored += $last->{n};
        last if $last->{error};
    }
    return ($stored, $last);
}

sub quota_case {
    my ($who, $extra, $label) = @_;
    my $before = used_memory();
    my ($stored, $last) = fill($who, $extra);
    my $growth = used_memory() - $before;
    is $last->{error}, 'Error', "$label: a put is refused eventually ($stored keys stored)";
    like $last->{message}, qr/quota/, "$label: with an Error naming the quota";
    cmp_ok $growth, '<=', 2 * $quota,
        sprintf('%s: Redis grew by %d bytes, at most twice the quota (%.2fx)', $label, $growth, $growth / $quota);
    cmp_ok $growth, '>=', $quota / 2, "$label: and by at least half of it (not charged far above)";
    my $bytes = $t->redis('GET', "dispatch:kv:{tenants/$who}:bytes");
    cmp_ok $bytes, '<=', $quota, "$label: the namespace's total stays within the quota ($bytes)";
    return $stored;
}

my $stored = quota_case('tiny', '', 'tiny keys');
my $del = run_op('tiny', 'op=del&from=0&to=100');
is $del->{n}, 100, 'deleting 100 keys';
is_deeply run_op('tiny', 'op=put&from=0&to=100'), { n => 100 }, 'gives the room back: 100 keys are accepted again';
like run_op('tiny', 'op=put&from=200000&to=200001')->{message}, qr/quota/, 'and the namespace is full again';

# every key deleted: each refund is what its put charged
for (my $from = 0; $from < $stored; $from += 900) {
    run_op('tiny', "op=del&from=$from&to=" . ($from + 900));
}
is $t->redis('GET', 'dispatch:kv:{tenants/tiny}:bytes'), 0, 'deleting every key refunds every byte';
is $t->redis('HLEN', 'dispatch:kv:{tenants/tiny}:sizes'), 0, 'and forgets every size';

quota_case('ttl', '&ttl=60', 'expiring keys');
my $ttl = $t->redis('TTL', 'dispatch:kv:{tenants/ttl}:v:k0');
ok $ttl > 0 && $ttl <= 60, "the keys expire in Redis ($ttl s)";
# an expired key's bytes come back when a write purges it
my $size = $t->redis('HGET', 'dispatch:kv:{tenants/ttl}:sizes', 'k0');
$t->redis('ZADD', 'dispatch:kv:{tenants/ttl}:expiry', 1, 'k0');
$t->redis('DEL', 'dispatch:kv:{tenants/ttl}:v:k0');
my $total = $t->redis('GET', 'dispatch:kv:{tenants/ttl}:bytes');
is_deeply run_op('ttl', 'op=del&from=200000&to=200001'), { n => 1 }, 'a delete of a missing key';
is $t->redis('ZSCORE', 'dispatch:kv:{tenants/ttl}:expiry', 'k0'), undef, 'purges the expired key';
is $t->redis('GET', 'dispatch:kv:{tenants/ttl}:bytes'), $total - $size,
    "and refunds the $size bytes its put charged";

quota_case('meta', '&meta=m', 'keys with metadata');

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
done_testing;
