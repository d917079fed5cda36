#!/usr/bin/perl
# Workers KV on Redis: per-tenant namespaces isolated by construction,
# Cloudflare's API and limits, TTLs by Redis, a list index, a quota.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Time::HiRes qw(time);

my $t = Dispatch::Test->new(
    http   => 'dispatch_kv_quota 64k;',
    server => q{
        location ~ ^/t/(?<script>[^/]*) {
            dispatch_cpu_limit 2s;
            dispatch tenants $script;
        }
    },
);

sub kv_meta { qq({"bindings":[{"type":"kv_namespace","name":"KV","namespace_id":"$_[0]"}]}) }

# One tenant script, bound to KV namespace $id, drives the API from the
# query string and answers JSON.
my $driver = q{
export default {
  async fetch(request, env) {
    const q = new URL(request.url).searchParams;
    const op = q.get('op');
    const key = q.has('hex') ? new TextDecoderLite().decode(q.get('hex')) : q.get('k');
    try {
      switch (op) {
        case 'put': {
          const opts = {};
          if (q.has('ttl')) opts.expirationTtl = Number(q.get('ttl'));
          if (q.has('meta')) opts.metadata = JSON.parse(q.get('meta'));
          await env.KV.put(key, q.get('v') ?? await request.text(), opts);
          return Response.json({ ok: true });
        }
        case 'get': return Response.json({ value: await env.KV.get(key) });
        case 'json': return Response.json({ value: await env.KV.get(key, 'json') });
        case 'bytes': {
          const buf = await env.KV.get(key, { type: 'arrayBuffer' });
          return Response.json({ value: buf === null ? null : Array.from(new Uint8Array(buf)) });
        }
        case 'putbytes': {
          await env.KV.put(key, new Uint8Array([0, 1, 2, 255]));
          return Response.json({ ok: true });
        }
        case 'meta': return Response.json(await env.KV.getWithMetadata(key));
        case 'del': await env.KV.delete(key); return Response.json({ ok: true });
        case 'list': {
          const opts = {};
          if (q.has('prefix')) opts.prefix = q.get('prefix');
          if (q.has('limit')) opts.limit = Number(q.get('limit'));
          if (q.has('cursor')) opts.cursor = q.get('cursor');
          return Response.json(await env.KV.list(opts));
        }
        case 'concurrent': {
          await Promise.all(Array.from({ length: 50 }, (_, i) => env.KV.put(`c${i}`, `v${i}`)));
          const got = await Promise.all(Array.from({ length: 50 }, (_, i) => env.KV.get(`c${i}`)));
          return Response.json({ all: got.every((v, i) => v === `v${i}`), n: got.length });
        }
        case 'opslimit': {
          let n = 0;
          try { for (;;) { await env.KV.get('x'); n++; } }
          catch (e) { return Response.json({ n, error: e.constructor.name, message: e.message }); }
        }
        default: return new Response('unknown op', { status: 400 });
      }
    } catch (e) {
      return Response.json({ error: e.constructor.name, message: e.message });
    }
  }
};
// keys with bytes a query string cannot carry come as hex
class TextDecoderLite {
  decode(hex) {
    let s = '';
    for (let i = 0; i < hex.length; i += 2) s += String.fromCharCode(parseInt(hex.substr(i, 2), 16));
    return s;
  }
}
};
$t->put_script('tenants', 'alice', $driver, metadata => kv_meta('store'));
$t->put_script('tenants', 'bob', $driver, metadata => kv_meta('other'));

sub kv { my ($who, $query) = @_; my $r = $t->get("/t/$who?$query"); return $r->{content}; }
sub kv_post { my ($who, $query, $body) = @_; return $t->request('POST', "/t/$who?$query", content => $body)->{content}; }

like kv('alice', 'op=put&k=greeting&v=hello'), qr/"ok":true/, 'put answers';
like kv('alice', 'op=get&k=greeting'), qr/"value":"hello"/, 'get returns what put stored';
like kv('alice', 'op=get&k=missing'), qr/"value":null/, 'get of a missing key is null';
kv('alice', 'op=put&k=doc&v=' . '%7B%22a%22%3A%5B1%2C2%5D%7D');
like kv('alice', 'op=json&k=doc'), qr/"value":\{"a":\[1,2\]\}/, 'get with type json parses';
kv('alice', 'op=putbytes&k=bin');
like kv('alice', 'op=bytes&k=bin'), qr/"value":\[0,1,2,255\]/, 'bytes round-trip as an ArrayBuffer';
kv('alice', 'op=put&k=tagged&v=x&meta=' . '%7B%22owner%22%3A%22a%22%7D');
like kv('alice', 'op=meta&k=tagged'), qr/"value":"x","metadata":\{"owner":"a"\}/, 'getWithMetadata';
like kv('alice', 'op=del&k=tagged'), qr/"ok":true/, 'delete answers';
like kv('alice', 'op=get&k=tagged'), qr/"value":null/, 'a deleted key is gone';

# isolation: same binding name, different KV namespaces
like kv('bob', 'op=get&k=greeting'), qr/"value":null/, 'another KV namespace does not see the key';
like kv('bob', 'op=list'), qr/"keys":\[\]/, 'nor its list entries';
kv('bob', 'op=put&k=greeting&v=bobs');
like kv('alice', 'op=get&k=greeting'), qr/"value":"hello"/, 'and writing the same key does not touch the first';

# hostile keys stay inside the tenant's own prefix
my @hostile = ("a\0b", 'x:y', '}{other}', '../../etc', '..', 'dispatch:{tenants}:script:alice', 'y' x 512);
for my $key (@hostile) {
    my $hex = unpack 'H*', $key;
    my $put = kv('alice', "op=put&hex=$hex&v=evil");
    my $label = length($key) > 40 ? substr($key, 0, 10) . '...' : $key;
    $label =~ s/\0/\\0/g;
    if ($key eq '..') {
        like $put, qr/"error":"TypeError"/, "the key \"..\" is refused";
        next;
    }
    like $put, qr/"ok":true/, "a hostile key ($label) is stored";
    like kv('bob', "op=get&hex=$hex"), qr/"value":null/, "and another tenant cannot read it ($label)";
}
my @redis_keys = @{ $t->redis('KEYS', '*') };
my @outside = grep { !/^dispatch:kv:\{tenants\/(store|other)\}:/ && !/^dispatch:\{tenants\}:script/ && !/^dispatch:(namespaces|\{tenants\}:scripts)$/ } @redis_keys;
is_deeply \@outside, [], 'every key the tenants wrote lies under their own KV prefix' or diag explain \@outside;
like $t->redis('HGET', 'dispatch:{tenants}:script:alice', 'code'), qr/export default/, 'the platform\'s own keys are untouched';
like kv('alice', 'op=put&k=' . ('z' x 513) . '&v=x'), qr/"error":"RangeError"/, 'a 513-byte key is a RangeError';

# TTLs land in Redis
kv('alice', 'op=put&k=short&v=x&ttl=120');
my $ttl = $t->redis('TTL', 'dispatch:kv:{tenants/store}:v:short');
ok $ttl > 100 && $ttl <= 120, "expirationTtl becomes a Redis TTL ($ttl s)";
like kv('alice', 'op=list&prefix=short'), qr/"expiration":\d{10}/, 'and list reports the expiration';
like kv('alice', 'op=put&k=tooshort&v=x&ttl=10'), qr/"error":"TypeError"/, 'a TTL under 60 s is refused';

# expired keys leave the list: expire one by hand in Redis
kv('alice', 'op=put&k=fading&v=x&ttl=3600');
$t->redis('ZADD', 'dispatch:kv:{tenants/store}:expiry', 1, 'fading');
$t->redis('DEL', 'dispatch:kv:{tenants/store}:v:fading');
unlike kv('alice', 'op=list&prefix=fading'), qr/"name":"fading"/, 'list does not return an expired key';

# pagination
kv('bob', "op=put&k=page$_&v=$_") for map { sprintf '%02d', $_ } 1 .. 25;
my ($cursor, $pages, @seen) = ('', 0);
while (1) {
    my $json = kv('bob', 'op=list&prefix=page&limit=10' . ($cursor ? "&cursor=$cursor" : ''));
    push @seen, $json =~ /"name":"(page\d+)"/g;
    $pages++;
    last if $json =~ /"list_complete":true/ || $pages > 5;
    ($cursor) = $json =~ /"cursor":"([^"]+)"/;
}
is $pages, 3, '25 keys come in 3 pages of 10';
is_deeply \@seen, [map { sprintf 'page%02d', $_ } 1 .. 25], 'in order, each exactly once';

like kv('alice', 'op=concurrent'), qr/"all":true,"n":50/, '50 operations in flight from one request';

my $ops = kv('alice', 'op=opslimit');
like $ops, qr/"n":1000/, 'at most 1000 KV operations per request';
like $ops, qr/"error":"Error"/, 'then an Error the script can catch';

# the quota: 64k per KV namespace, holding bob's 26 small keys (~8k with
# their per-key charge) and three values of 16000 bytes, not four
my $big = 'q' x 16000;
like kv_post('bob', 'op=put&k=q1', $big), qr/"ok":true/, 'a write under the quota is stored';
like kv_post('bob', 'op=put&k=q2', $big), qr/"ok":true/, 'a second one too';
like kv_post('bob', 'op=put&k=q3', $big), qr/"ok":true/, 'a third one too';
like kv_post('bob', 'op=put&k=q4', $big), qr/quota/, 'a write past dispatch_kv_quota is refused';
like kv('bob', 'op=get&k=q4'), qr/"value":null/, 'and nothing of it is stored';
kv('bob', 'op=del&k=q1');
like kv_post('bob', 'op=put&k=q4', $big), qr/"ok":true/, 'deleting gives the room back';

# a million keys: list stays fast (the index is a sorted set; no KEYS/SCAN)
$t->redis('EVAL', q{
    for i = 1, 1000000 do
      redis.call('ZADD', KEYS[1], 0, string.format('bulk%07d', i))
    end
    return 1
}, 1, 'dispatch:kv:{tenants/store}:index');
my $t0 = time;
my $deep = kv('alice', 'op=list&prefix=bulk0999&limit=5');
my $elapsed = time - $t0;
like $deep, qr/"name":"bulk0999000".*"name":"bulk0999004"/, 'a prefix deep in a million keys';
cmp_ok $elapsed, '<', 2, sprintf('is listed quickly (%.3f s)', $elapsed);

# writes name their Lua script by SHA; a Redis that lost its scripts gets them again
$t->redis('SCRIPT', 'FLUSH');
like kv('alice', 'op=put&k=after-flush&v=1'), qr/"ok":true/, 'a write after SCRIPT FLUSH still succeeds';
my $before = $t->redis_command_calls;
kv('alice', "op=put&k=sha$_&v=1") for 1 .. 5;
my $after = $t->redis_command_calls;
is +($after->{evalsha} // 0) - ($before->{evalsha} // 0), 5, 'five writes are five EVALSHA';
is +($after->{eval} // 0) - ($before->{eval} // 0), 0, 'and send no script text';

# What Redis itself answers (here to a value key an operator overwrote
# with a string: WRONGTYPE) is for the operator to read: the script's Error
# says the store refused, the error log says why.
kv('alice', 'op=put&k=clobbered&v=1');
$t->redis('DEL', 'dispatch:kv:{tenants/store}:v:clobbered');
$t->redis('SET', 'dispatch:kv:{tenants/store}:v:clobbered', 'not a hash');
my $clobbered = kv('alice', 'op=get&k=clobbered');
like $clobbered, qr/"message":"KV: the store refused the operation/, "what Redis answered reaches the script as the store's refusal";
unlike $clobbered, qr/WRONGTYPE|script|\@user|ERR /i, "without Redis's wording or its Lua script's name";
like $t->error_log, qr/KV: Redis answered: .*WRONGTYPE/, 'the error log has what Redis answered';

# Redis away: a catchable error within the timeout
$t->stop_redis;
$t0 = time;
my $down = kv('alice', 'op=get&k=greeting');
like $down, qr/"error":"Error"/, 'with Redis stopped a KV call rejects with an Error the script catches';
cmp_ok time - $t0, '<', 10, 'within ten times the 1 s timeout';
$t->start_redis;

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
done_testing;
