#!/usr/bin/perl
# A fleet on Redis Cluster (issue 19, SPEC 2 dispatch_redis cluster=…): two
# nginx nodes on one cluster of 3 masters with a replica each serve the same
# tenants; each command goes to the master of its key's slot; a change made
# through one node is served by the other at once; KV written through one is
# read through the other; the nodes follow a resharded slot (MOVED, ASK) and
# a failover, and no acknowledged write is lost. Static assets (a session,
# a bucket, an upload, the next version's Lua cleanup) stay in their
# namespace's one slot.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Admin;
use Dispatch::RedisFleet;
use Time::HiRes qw(time);
use POSIX ();
use IO::Handle;
use Digest::MD5 ();
use MIME::Base64 ();

my $fleet = Dispatch::RedisFleet->cluster(masters => 3, replicas => 1);
my @masters = grep { ($fleet->cli_at($_, 'ROLE') // '') =~ /^master/ } $fleet->ports;
is(scalar @masters, 3, 'the cluster has 3 masters');

# Node A knows two seeds, node B one: each learns the rest from the map.
sub node {
    my ($seeds, $more) = @_;
    $more //= '';
    return admin_server(
        redis => 0,
        redis_conf => "dispatch_redis cluster=$seeds timeout=2s $more;",
        http => 'dispatch_cache_ttl 1h; dispatch_cpu_limit 50ms; dispatch_hang_timeout 250ms;
                 dispatch_quarantine_zone penalty:1m period=30s;');
}
my $a = node($fleet->seeds(@masters[0, 1]));
my $b = node($fleet->seeds($masters[2]));

my $kv_meta = sub { qq({"bindings":[{"type":"kv_namespace","name":"KV","namespace_id":"$_[0]"}]}) };
my $kv_script = q{
  export default {
    async fetch(req, env) {
      const q = new URL(req.url).searchParams;
      if (req.method === 'PUT') { await env.KV.put(q.get('k'), q.get('v')); return new Response('stored'); }
      if (q.has('list')) return Response.json((await env.KV.list({ prefix: q.get('list') })).keys.map(k => k.name));
      return new Response(String(await env.KV.get(q.get('k'))));
    }
  };
};

# Namespaces whose hash tags fall on different masters.
my %ns_of_master;
for my $i (0 .. 200) {
    my $ns = "tenant$i";
    my $m = $fleet->master_of("dispatch:{$ns}:script:x");
    $ns_of_master{$m} //= $ns;
    last if keys %ns_of_master == 3;
}
is(scalar keys %ns_of_master, 3, 'one namespace on each master');

for my $ns (values %ns_of_master) {
    $fleet->put_script($ns, 'hello', qq{export default { fetch() { return new Response('hello from $ns'); } };});
}

subtest 'every node serves the scripts of every master' => sub {
    for my $t ($a, $b) {
        for my $ns (sort values %ns_of_master) {
            my $r = $t->get("/t/$ns/hello");
            is("$r->{status} $r->{content}", "200 hello from $ns", "$ns through port " . $t->port);
        }
    }
};

subtest 'a script uploaded through one node is served by the other at once' => sub {
    my $ns = $ns_of_master{$masters[1]};
    is($b->get("/t/$ns/hello")->{content}, "hello from $ns", 'B caches the old version');
    my $r = curl_upload($a, $ns, 'hello', metadata => { main_module => 'w.js' },
        files => [['w.js', 'w.js', 'application/javascript+module',
                   'export default { fetch() { return new Response("version 2"); } };']]);
    is($r->{status}, 200, 'uploaded through A') or diag($r->{content});
    # The PUBLISH reaches B's subscription on another node of the cluster.
    ok($b->wait_for(sub { $b->get("/t/$ns/hello")->{content} eq 'version 2' }, timeout => 5),
       'B serves version 2');
    is($a->get("/t/$ns/hello")->{content}, 'version 2', 'and A too');
};

subtest 'static assets on a cluster: session, bucket, upload, cleanup in one slot' => sub {
    my $ns = $ns_of_master{$masters[2]};
    my $m = $fleet->master_of("dispatch:{$ns}:script:x");
    my $api = sub { my ($method, $rest, %o) = @_; return api($a, $method, $rest, %o) };
    my %f = (old => "old file", new => "new file");
    my %h = map { $_ => Digest::MD5::md5_hex($f{$_}) } keys %f;
    my $deploy = sub {
        my ($name) = @_;
        my $s = $api->(POST => "/$ns/scripts/site/assets-upload-session",
                       json => { manifest => { "/$name.txt" => { hash => $h{$name}, size => length $f{$name} } } })->{json}{result};
        my $b = 'b0und';
        my $body = "--$b\r\nContent-Disposition: form-data; name=\"$h{$name}\"; filename=\"$h{$name}\"\r\n"
                 . "Content-Type: text/plain\r\n\r\n" . MIME::Base64::encode_base64($f{$name}, '') . "\r\n--$b--\r\n";
        my $r = api($a, POST => undef, raw_path => "/client/v4/accounts/$ACCOUNT/workers/assets/upload?base64=true",
                    token => $s->{jwt}, content => $body, headers => { 'Content-Type' => "multipart/form-data; boundary=$b" });
        is($r->{status}, 201, "the bucket of $name.txt through A") or diag($r->{content});
        my $u = curl_upload($a, $ns, 'site', metadata => { main_module => 'w.js', assets => { jwt => $r->{json}{result}{jwt} } },
            files => [['w.js', 'w.js', 'application/javascript+module', 'export default { fetch() { return new Response("s"); } };']]);
        is($u->{status}, 200, "the upload with $name.txt") or diag($u->{content});
    };
    $deploy->('old');
    is($fleet->cli_at($m, 'HGET', "dispatch:{$ns}:asset:site:$h{old}", 'body'), "old file", 'the file is on its namespace\'s master');
    $deploy->('new');
    is($fleet->cli_at($m, 'EXISTS', "dispatch:{$ns}:asset:site:$h{old}"), 0, 'the next version\'s cleanup (Lua) removed the old file');
    is($fleet->cli_at($m, 'HGET', "dispatch:{$ns}:asset:site:$h{new}", 'body'), "new file", 'and kept the new one');
};

# KV namespaces spread over the cluster by their own hash tag.
my @kv_ids = qw(alpha beta gamma delta);
my $kv_ns = $ns_of_master{$masters[0]};
$fleet->put_script($kv_ns, "kv-$_", $kv_script, metadata => $kv_meta->($_)) for @kv_ids;

my %written;
sub kv_put {
    my ($t, $id, $k, $v) = @_;
    my $r = $t->request('PUT', "/t/$kv_ns/kv-$id?k=$k&v=$v");
    $written{"$id/$k"} = $v if $r->{status} == 200;
    return $r;
}

subtest 'KV written through one node is read through the other' => sub {
    for my $id (@kv_ids) {
        is(kv_put($a, $id, 'greeting', "hi-$id")->{status}, 200, "put in $id through A");
        is($b->get("/t/$kv_ns/kv-$id?k=greeting")->{content}, "hi-$id", "read through B");
    }
    is($b->get("/t/$kv_ns/kv-alpha?list=gr")->{content}, '["greeting"]', 'list through B');
    # With a settled map every command goes straight to its slot's master:
    # no master answers MOVED (Redis 7 counts the errors it sends).
    my $moved = sub { my $n = 0; for my $m (@masters) {
        $n += $1 if ($fleet->cli_at($m, 'INFO', 'errorstats') // '') =~ /errorstat_MOVED:count=(\d+)/ } $n };
    my $before = $moved->();
    for my $i (1 .. 10) {
        for my $id (@kv_ids) {
            kv_put($a, $id, "k$i", $i);
            $b->get("/t/$kv_ns/kv-$id?k=k$i");
        }
    }
    is($moved->(), $before, 'no MOVED for 80 KV commands: the slot of every key is computed right');
    my %on;
    $on{ $fleet->master_of("dispatch:kv:{$kv_ns/$_}:index") } = 1 for @kv_ids;
    cmp_ok(scalar keys %on, '>=', 2, 'the KV namespaces live on different masters');
};

# Moves the slot of KEY to another master, as redis-cli --cluster reshard
# does: IMPORTING/MIGRATING, MIGRATE its keys, then the new owner. With
# finish => 0 it stops before telling the masters: the keys are on the new
# node, the old one answers ASK.
sub move_slot {
    my ($key, %o) = @_;
    my $src = $fleet->master_of($key);
    my ($dst) = grep { $_ != $src } @masters;
    my $slot = $fleet->cli('CLUSTER', 'KEYSLOT', $key);
    my $src_id = $fleet->cli_at($src, 'CLUSTER', 'MYID');
    my $dst_id = $fleet->cli_at($dst, 'CLUSTER', 'MYID');
    $fleet->cli_at($dst, 'CLUSTER', 'SETSLOT', $slot, 'IMPORTING', $src_id);
    $fleet->cli_at($src, 'CLUSTER', 'SETSLOT', $slot, 'MIGRATING', $dst_id);
    my @keys = split /\n/, $fleet->cli_at($src, 'CLUSTER', 'GETKEYSINSLOT', $slot, 1000);
    # One key at a time, slowly, when a client reads meanwhile: some of its
    # reads meet ASK.
    for my $batch ($o{slowly} ? (map { [$_] } @keys) : (@keys ? [@keys] : ())) {
        my $r = $fleet->cli_at($src, 'MIGRATE', '127.0.0.1', $dst, '', 0, 5000, 'KEYS', @$batch);
        die "MIGRATE: $r" unless $r =~ /OK/;
        select(undef, undef, undef, 0.05) if $o{slowly};
    }
    return ($src, $dst, $slot, $dst_id) if defined $o{finish} && !$o{finish};
    # The new owner first, then the old, then the rest, as redis-cli does.
    $fleet->cli_at($_, 'CLUSTER', 'SETSLOT', $slot, 'NODE', $dst_id)
        for $dst, $src, grep { $_ != $dst && $_ != $src } @masters;
    return ($src, $dst, $slot, $dst_id);
}

subtest 'a KV read follows ASK while its slot migrates' => sub {
    my $key = "dispatch:kv:{$kv_ns/beta}:index";
    my ($src, $dst, $slot, $dst_id) = move_slot($key, finish => 0);
    is($fleet->cli_at($src, 'CLUSTER', 'COUNTKEYSINSLOT', $slot), 0,
       'the keys have left the old master, which answers ASK for them');
    is($a->get("/t/$kv_ns/kv-beta?k=greeting")->{content}, 'hi-beta', 'read through A');
    is($b->get("/t/$kv_ns/kv-beta?k=greeting")->{content}, 'hi-beta', 'read through B');
    $fleet->cli_at($_, 'CLUSTER', 'SETSLOT', $slot, 'NODE', $dst_id) for @masters;
};

subtest 'the nodes follow a slot moved to another master (MOVED)' => sub {
    my $key = "dispatch:kv:{$kv_ns/gamma}:index";
    # A paced client (50 requests/s) reads the slot's keys all along.
    my $log = "$fleet->{dir}/paced.log";
    my $stop = "$fleet->{dir}/paced.stop";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open my $fh, '>', $log or POSIX::_exit(1);
        $fh->autoflush(1);
        until (-e $stop) {
            my $r = $a->get("/t/$kv_ns/kv-gamma?k=k" . (1 + int rand 10));
            print $fh "$r->{status} $r->{content}\n";
            select(undef, undef, undef, 0.02);
        }
        POSIX::_exit(0);
    }
    select(undef, undef, undef, 0.3);
    my ($src, $dst) = move_slot($key, slowly => 1);
    select(undef, undef, undef, 0.3);
    open my $touch, '>', $stop; close $touch;
    waitpid $pid, 0;
    my @answers = do { open my $fh, '<', $log or die $!; <$fh> };
    chomp @answers;
    my @wrong = grep { !/^200 \d+$/ } @answers;
    cmp_ok(scalar @answers, '>=', 10, scalar(@answers) . ' paced reads during the migration');
    is("@wrong", '', 'every one answered right');
    isnt($src, $dst, "slot moved from $src to $dst");
    is($a->get("/t/$kv_ns/kv-gamma?k=greeting")->{content}, 'hi-gamma', 'read through A');
    is(kv_put($b, 'gamma', 'after-move', 'x')->{status}, 200, 'written through B');
    is($a->get("/t/$kv_ns/kv-gamma?k=after-move")->{content}, 'x', 'read through A');
    is($fleet->cli_at($dst, 'HGET', "dispatch:kv:{$kv_ns/gamma}:v:after-move", 'v'), 'x',
       'the write went to the new master');
};

# for-in over a huge typed array runs for seconds in one C++ call that no
# stop request reaches (t/45): the last resort ends the worker.
my $HANG = q{
  export default {
    fetch() { for (const key in new Uint8Array(1.2e8)) break; return new Response('never'); }
  };
};

subtest 'a script that takes a worker down on one node is quarantined on every node' => sub {
    my $ns = $ns_of_master{$masters[2]};
    $fleet->put_script($ns, 'hang', $HANG);
    my @a_before = $a->worker_pids;
    my @b_before = $b->worker_pids;
    isnt($a->get("/t/$ns/hang", timeout => 30)->{status}, 200, 'it hangs a worker of A');
    ok($a->wait_for(sub { my @w = $a->worker_pids; @w == @a_before && "@w" ne "@a_before" }, timeout => 10),
       'A replaces the worker');
    # A's next refusal tells the fleet.
    my $r = $a->get("/t/$ns/hang");
    is("$r->{status} $r->{content}", "503 quarantined\n", 'A refuses it');
    ok($b->wait_for(sub { $b->get("/t/$ns/hang")->{status} == 503 }, timeout => 5),
       'B refuses it without running it');
    is("@{[ $b->worker_pids ]}", "@b_before", 'no worker of B was lost to it');
    my $ttl = $fleet->cli('PTTL', "dispatch:{$ns}:quarantine:hang");
    cmp_ok($ttl, '>', 0, "its quarantine key lives in the cluster ($ttl ms)");

    # A node that starts later, with the script in no cache, reads the key.
    my $c = node($fleet->seeds($masters[0]));
    my $rc = $c->get("/t/$ns/hang");
    is("$rc->{status} $rc->{content}", "503 quarantined\n", 'a new node C refuses it too');
    like($c->error_log, qr/in the fleet's penalty box: quarantined/, 'and says why');

    # Fixed and lifted through A's management API: every node serves it.
    $fleet->put_script($ns, 'hang', q{export default { fetch() { return new Response('fixed'); } };}, etag => 'fixed');
    $fleet->cli('PUBLISH', 'dispatch:events', "$ns/hang");
    my $lift = api($a, 'DELETE', "/$ns/scripts/hang/quarantine");
    is($lift->{status}, 200, 'lifted through A') or diag($lift->{content});
    for my $t ($a, $b, $c) {
        ok($t->wait_for(sub { $t->get("/t/$ns/hang")->{content} eq 'fixed' }, timeout => 5),
           'served again through port ' . $t->port);
    }
    is($fleet->cli('EXISTS', "dispatch:{$ns}:quarantine:hang"), 0, 'the key is gone');
    $c->stop;
};

subtest 'a manual failover loses no write' => sub {
    my $key = "dispatch:kv:{$kv_ns/alpha}:index";
    my $old = $fleet->master_of($key);
    my $replica = $fleet->replica_of($old);
    ok($replica, "master $old has replica $replica") or return;
    kv_put($a, 'alpha', "before$_", $_) for 1 .. 20;
    is($fleet->cli_at($replica, 'CLUSTER', 'FAILOVER'), 'OK', 'CLUSTER FAILOVER');
    ok($fleet->wait_cluster_ok, 'the cluster is whole again');
    my $end = time + 10;
    sleep 0.1 while time < $end && ($fleet->cli_at($replica, 'ROLE') // '') !~ /^master/;
    like($fleet->cli_at($replica, 'ROLE'), qr/^master/, "$replica is the master now");
    my @failed;
    for my $i (1 .. 20) {
        my $r = kv_put($b, 'alpha', "after$i", $i);
        push @failed, "after$i: $r->{status}" if $r->{status} != 200;
    }
    is("@failed", '', 'every write after the failover succeeded');
    my @lost = grep { $a->get("/t/$kv_ns/kv-alpha?k=$_")->{content} ne $written{"alpha/$_"} }
               map { /^alpha\/(.*)/ ? $1 : () } keys %written;
    is("@lost", '', 'every acknowledged write of alpha reads back');
};

subtest 'with wait=1 a write is acknowledged only once a replica has it' => sub {
    my $delta_master = $fleet->master_of("dispatch:kv:{$kv_ns/delta}:index");
    my ($id) = grep {
        my $m = $fleet->master_of("dispatch:kv:{$kv_ns/$_}:index");
        $m != $delta_master && $fleet->replica_of($m)
    } @kv_ids;
    ok($id, 'a KV namespace on a master with a replica') or return;
    my $master = $fleet->master_of("dispatch:kv:{$kv_ns/$id}:index");
    my $replica = $fleet->replica_of($master);
    my $d = node($fleet->seeds($master), 'wait=1');

    is($d->request('PUT', "/t/$kv_ns/kv-$id?k=waited&v=1")->{status}, 200, 'a write with the replica there');
    # The replica stops (its connection stays open): no confirmation comes.
    $fleet->signal_node($replica, 'STOP');
    my $t0 = time;
    my $r = $d->request('PUT', "/t/$kv_ns/kv-$id?k=unconfirmed&v=1");
    my $took = time - $t0;
    is($r->{status}, 500, 'a write no replica confirms rejects (uncaught here: 500)');
    cmp_ok($took, '<', 10, sprintf('within the WAIT time (%.1f s)', $took));
    like($d->error_log, qr/not confirmed by Redis replicas: confirmed by 0 of the 1/, 'the log says why');
    is(kv_put($a, $id, 'unwaited', 1)->{status}, 200, 'without wait= the same write is acknowledged');
    $fleet->signal_node($replica, 'CONT');
    ok($fleet->wait_in_sync($replica), 'the replica catches up');

    # Acknowledged with wait=1, then the master goes at once: nothing lost.
    my %acked;
    for my $i (1 .. 30) {
        $acked{"w$i"} = $i if $d->request('PUT', "/t/$kv_ns/kv-$id?k=w$i&v=$i")->{status} == 200;
    }
    is(scalar keys %acked, 30, '30 writes acknowledged');
    is($fleet->cli_at($replica, 'CLUSTER', 'FAILOVER', 'TAKEOVER'), 'OK', 'the replica takes over');
    $fleet->kill_node($master);
    ok($fleet->wait_cluster_ok, 'the cluster is whole again');
    my @lost = grep { ($d->wait_for(sub { $d->get("/t/$kv_ns/kv-$id?k=$_")->{status} == 200 }, timeout => 10)
                       && $d->get("/t/$kv_ns/kv-$id?k=$_")->{content}) ne $acked{$_} } sort keys %acked;
    is("@lost", '', 'every acknowledged write reads back from the new master');
    $d->stop;
};

subtest 'a master that dies is replaced and the nodes carry on' => sub {
    my $key = "dispatch:kv:{$kv_ns/delta}:index";
    my $victim = $fleet->master_of($key);
    my $replica = $fleet->replica_of($victim);
    ok($replica, "master $victim has replica $replica") or return;
    my %workers = map { $_ => 1 } ($a->worker_pids, $b->worker_pids);
    my $hang_ns = $ns_of_master{$masters[2]};
    $fleet->kill_node($victim);
    # A cached script is served while its master is away.
    my $hello_ns = (grep { ($fleet->master_of("dispatch:{$_}:script:x") // 0) == $victim } values %ns_of_master)[0];
    is($a->get("/t/$hello_ns/hello")->{status}, 200, 'a cached script is still served') if $hello_ns;
    my $ok = $a->wait_for(sub { kv_put($a, 'delta', 'after-kill', 'y')->{status} == 200 }, timeout => 20);
    ok($ok, 'writes to the dead master\'s slots succeed again after the failover');
    is($b->get("/t/$kv_ns/kv-delta?k=after-kill")->{content}, 'y', 'and read through B');
    is($b->get("/t/$kv_ns/kv-delta?k=greeting")->{content}, 'hi-delta', 'older data is still there');
    my @now = ($a->worker_pids, $b->worker_pids);
    is(scalar(grep { !$workers{$_} } @now), 0, 'no worker process died');
};

unlike($a->error_log . $b->error_log, qr/\[(crit|emerg)\]|exited on signal/,
       'no crash in the logs (the one alert is the hang\'s, by design)');

$a->stop; $b->stop; $fleet->stop;
done_testing;
