#!/usr/bin/perl
# A store watched by Redis Sentinel (issue 19, SPEC 2 dispatch_redis
# sentinel=… master=NAME): the worker asks the sentinels for the master,
# follows a failover to the new one, never goes on writing to the demoted
# one, and loses no acknowledged write.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Time::HiRes qw(time sleep);
use Dispatch::Test;
use Dispatch::RedisFleet;

my $fleet = Dispatch::RedisFleet->sentinel(sentinels => 3, master_name => 'dispatch');
my ($master, $replica) = $fleet->ports;
is($fleet->sentinel_master, $master, "the sentinels name $master the master");

my $sentinels = join ',', map { "127.0.0.1:$_" } $fleet->sentinel_ports;
my $t = Dispatch::Test->new(
    workers    => 2,
    redis      => 0,
    redis_conf => "dispatch_redis sentinel=$sentinels master=dispatch timeout=2s;",
    server     => q{ location ~ ^/t/(?<ns>[^/]+)/(?<script>[^/]+) { dispatch $ns $script; } },
);

my $put = sub {
    my ($ns, $name, $code, %f) = @_;
    my $key = "dispatch:{$ns}:script:$name";
    $fleet->cli_at($fleet->sentinel_master, 'HSET', $key, 'code', $code, %f);
    $fleet->cli_at($fleet->sentinel_master, 'SADD', "dispatch:{$ns}:scripts", $name);
};
$put->('shop', 'kv', q{
  export default {
    async fetch(req, env) {
      const q = new URL(req.url).searchParams;
      if (req.method === 'PUT') { await env.KV.put(q.get('k'), q.get('v')); return new Response('stored'); }
      return new Response(String(await env.KV.get(q.get('k'))));
    }
  };
}, metadata => '{"bindings":[{"type":"kv_namespace","name":"KV","namespace_id":"orders"}]}');

my %written;
sub kv_put {
    my ($k, $v) = @_;
    my $r = $t->request('PUT', "/t/shop/kv?k=$k&v=$v");
    $written{$k} = $v if $r->{status} == 200;
    return $r;
}

sub evals_on {
    my ($port) = @_;
    my $stats = $fleet->cli_at($port, 'INFO', 'commandstats') // '';
    my $n = 0;
    $n += $1 while $stats =~ /^cmdstat_eval(?:sha)?:calls=(\d+)/mg;
    return $n;
}

subtest 'the worker finds the master through the sentinels' => sub {
    is($t->get('/t/shop/kv?k=none')->{content}, 'null', 'a read');
    is(kv_put('first', 1)->{status}, 200, 'a write');
    is($fleet->cli_at($master, 'HGET', 'dispatch:kv:{shop/orders}:v:first', 'v'), '1',
       'it is on the master');
};

subtest 'a failover is followed, and the demoted master gets no more writes' => sub {
    kv_put("before$_", $_) for 1 .. 20;
    is(scalar(grep { !defined $written{"before$_"} } 1 .. 20), 0, '20 writes before');
    is($fleet->cli_at(($fleet->sentinel_ports)[0], 'SENTINEL', 'FAILOVER', 'dispatch'), 'OK',
       'SENTINEL FAILOVER');
    my $end = time + 20;
    sleep 0.1 while time < $end && $fleet->sentinel_master != $replica;
    is($fleet->sentinel_master, $replica, "the sentinels name $replica the master");
    # the old master turns into a replica of the new one
    $end = time + 20;
    sleep 0.1 while time < $end && ($fleet->cli_at($master, 'ROLE') // '') !~ /^slave/;
    like($fleet->cli_at($master, 'ROLE'), qr/^slave/, "$master is a replica now");

    ok($t->wait_for(sub { kv_put('probe', 'p')->{status} == 200
                            && $fleet->cli_at($replica, 'HGET', 'dispatch:kv:{shop/orders}:v:probe', 'v') eq 'p' },
                    timeout => 15),
       'writes reach the new master');
    my $evals_old = evals_on($master);
    my @failed;
    for my $i (1 .. 20) {
        my $r = kv_put("after$i", $i);
        push @failed, "after$i: $r->{status}" if $r->{status} != 200;
    }
    is("@failed", '', 'every write after the failover succeeded');
    is(evals_on($master), $evals_old, 'none of them went to the demoted master');
    my @lost = grep { $t->get("/t/shop/kv?k=$_")->{content} ne $written{$_} } sort keys %written;
    is("@lost", '', 'every acknowledged write reads back: ' . scalar(keys %written) . ' keys');
    like($t->error_log, qr/Redis master "dispatch" is now 127\.0\.0\.1:$replica \(was 127\.0\.0\.1:$master\)/,
         'the log says where the master went');
};

subtest 'a script changed on the new master is served at once (PUBLISH)' => sub {
    $put->('shop', 'hello', q{export default { fetch() { return new Response('one'); } };});
    is($t->get('/t/shop/hello')->{content}, 'one', 'first version');
    $put->('shop', 'hello', q{export default { fetch() { return new Response('two'); } };}, etag => 'v2');
    $fleet->cli_at($fleet->sentinel_master, 'PUBLISH', 'dispatch:events', 'shop/hello');
    ok($t->wait_for(sub { $t->get('/t/shop/hello')->{content} eq 'two' }, timeout => 5),
       'the subscription on the new master heard it');
};

unlike($t->error_log, qr/\[(alert|crit|emerg)\]/, 'no alert in the log');
$t->stop;
$fleet->stop;
done_testing;
