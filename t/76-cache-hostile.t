#!/usr/bin/perl
# The Cache API against hostile tenants: byte bounds per tenant and in
# total with least-recently-used eviction, cache bombs, keys and Vary
# values crafted to meet another tenant's, huge URLs and header values;
# and caches without dispatch_cache_path.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP;
use File::Find;

my $t = Dispatch::Test->new(
    http   => 'dispatch_cache_path %%PREFIX%%/cache keys_zone=dcache:1m max_size=500k tenant_max_size=256k;',
    server => q{
        location ~ ^/t/(?<ns>[^/]*)/(?<script>[^/]*) {
            dispatch_cpu_limit 5s;
            dispatch $ns $script;
        }
    },
);

my $driver = q{
function bytes(n, fill) { return new Uint8Array(n).fill(fill.charCodeAt(0)); }
function stream(size, fill, onPull) {
  let left = size;
  return new ReadableStream({
    pull(c) {
      if (onPull) onPull();
      const n = Math.min(left, 65536);
      if (n === 0) return c.close();
      c.enqueue(bytes(n, fill));
      left -= n;
    },
  });
}
export default {
  async fetch(request) {
    const q = new URL(request.url).searchParams;
    const op = q.get('op');
    const cache = q.has('cache') ? await caches.open(q.get('cache')) : caches.default;
    const url = q.has('ulen') ? 'https://cache.test/' + 'u'.repeat(Number(q.get('ulen')))
                              : q.get('url') ?? ('https://cache.test/' + (q.get('k') ?? 'x'));
    const rh = {};
    for (const s of q.getAll('rh')) rh[s.slice(0, s.indexOf(':'))] = s.slice(s.indexOf(':') + 1);
    try {
      switch (op) {
        case 'put': {
          const headers = { 'cache-control': 'max-age=600' };
          for (const s of q.getAll('h')) headers[s.slice(0, s.indexOf(':'))] = s.slice(s.indexOf(':') + 1);
          if (q.has('hbytes')) headers['x-big'] = 'h'.repeat(Number(q.get('hbytes')));
          let pulls = 0;
          const size = Number(q.get('size') ?? 0);
          const body = q.has('size') ? stream(size, q.get('fill') ?? 'a', () => pulls++) : (q.get('body') ?? '');
          await cache.put(new Request(url, { headers: rh }), new Response(body, { headers }));
          return Response.json({ ok: true, pulls });
        }
        case 'match': {
          const res = await cache.match(new Request(url, { headers: rh }));
          if (!res) return Response.json({ hit: false });
          const body = await res.text();
          return Response.json({ hit: true, length: body.length, body: body.length <= 64 ? body : body.slice(0, 8) });
        }
        case 'bomb': {
          // many large puts in one request, each on a key of its own
          const n = Number(q.get('n'));
          for (let i = 0; i < n; i++) {
            await cache.put('https://cache.test/bomb' + i,
                            new Response(stream(Number(q.get('size')), 'b'), { headers: { 'cache-control': 'max-age=600' } }));
          }
          let hits = 0;
          for (let i = 0; i < n; i++) if (await cache.match('https://cache.test/bomb' + i)) hits++;
          return Response.json({ ok: true, hits });
        }
        case 'many': {
          // many small entries: more than the index has room for
          const n = Number(q.get('n'));
          for (let i = 0; i < n; i++) {
            await cache.put('https://cache.test/many' + i, new Response('m' + i, { headers: { 'cache-control': 'max-age=600' } }));
          }
          const hit = [];
          for (let i = 0; i < n; i++) {
            const res = await cache.match('https://cache.test/many' + i);
            hit.push(res ? (await res.text()) === 'm' + i : false);
          }
          return Response.json({ hits: hit.filter(Boolean).length, last: hit[n - 1], first: hit[0] });
        }
        case 'opens': {
          // matched bodies never read hold no file
          const held = [];
          for (let i = 0; i < Number(q.get('n')); i++) {
            const res = await cache.match('https://cache.test/' + q.get('k'));
            if (res) held.push(res);
          }
          return Response.json({ hits: held.length });
        }
        case 'reading': {
          // bodies left half read do: bounded, then reading fails
          const held = [];
          let errors = 0;
          for (let i = 0; i < Number(q.get('n')); i++) {
            const reader = (await cache.match('https://cache.test/' + q.get('k'))).body.getReader();
            try { await reader.read(); held.push(reader); } catch (e) { if (e instanceof TypeError) errors++; }
          }
          return Response.json({ reading: held.length, errors });
        }
        default: return new Response('unknown op', { status: 400 });
      }
    } catch (e) {
      return Response.json({ error: e.constructor.name, message: e.message });
    }
  }
};
};
for my $who (['tenants', 'alice'], ['tenants', 'bob'], ['tenants', 'carol'],
             ['tenantsa', 'lice'], ['other', 'alice']) {
    $t->put_script(@$who, $driver);
}

sub call {
    my ($who, $query) = @_;
    my $r = $t->get("/t/$who?$query", timeout => 30);
    my $d = eval { decode_json($r->{content}) };
    return $d // { raw => $r->{content}, status => $r->{status} };
}

sub cache_bytes {
    my $sum = 0;
    find(sub { $sum += -s $_ if -f $_ && $File::Find::dir !~ m{/tmp$} }, $t->prefix . '/cache');
    return $sum;
}

my $K = 100 * 1024;

# the tenant's bound: least recently used first out
for my $i (1 .. 2) { call('tenants/alice', "op=put&k=e$i&size=$K") }
is call('tenants/alice', 'op=match&k=e1')->{hit}, JSON::PP::true, 'two 100 KiB entries fit a 256 KiB tenant bound';
call('tenants/alice', "op=put&k=e3&size=$K");    # e1 was used last: e2 goes
is call('tenants/alice', 'op=match&k=e2')->{hit}, JSON::PP::false, 'a third evicts the least recently used one';
is call('tenants/alice', 'op=match&k=e1')->{hit}, JSON::PP::true, 'not the one matched since';
is call('tenants/alice', 'op=match&k=e3')->{length}, $K, 'and the new one is stored';

# a put larger than the tenant's bound stores nothing and stops reading
my $huge = call('tenants/alice', 'op=put&k=huge&size=' . (2 * 1024 * 1024));
is $huge->{ok}, JSON::PP::true, 'a put over the tenant bound resolves';
ok $huge->{pulls} < 10, "having read only what was over the bound ($huge->{pulls} pieces of 2 MiB)";
is call('tenants/alice', 'op=match&k=huge')->{hit}, JSON::PP::false, 'and stores nothing';
is call('tenants/alice', 'op=match&k=e3')->{hit}, JSON::PP::true, 'nor evicts for it';

# the node's bound: other tenants fill it, the least recently used goes
call('tenants/bob', "op=put&k=b1&size=$K");
call('tenants/bob', "op=put&k=b2&size=$K");
call('tenants/carol', "op=put&k=c1&size=$K");
call('tenants/carol', "op=put&k=c2&size=$K");
ok cache_bytes() <= 500 * 1024, 'the bodies on disk stay within max_size (' . cache_bytes() . ' bytes)';
my @alive = grep { call(@$_)->{hit} } (['tenants/alice', 'op=match&k=e1'], ['tenants/alice', 'op=match&k=e3'],
                                       ['tenants/bob', 'op=match&k=b1'], ['tenants/carol', 'op=match&k=c2']);
ok @alive < 4, 'past max_size the least recently used entries of the node are evicted';
is call('tenants/carol', 'op=match&k=c2')->{hit}, JSON::PP::true, 'the most recent entry stays';

# a cache bomb: bounded, the worker keeps serving, other tenants keep theirs
call('tenants/bob', 'op=put&k=keep&body=bobs');
my $bomb = call('tenants/carol', 'op=bomb&n=40&size=' . (200 * 1024));
is $bomb->{ok}, JSON::PP::true, 'forty 200 KiB puts in one request complete' or diag explain $bomb;
is $bomb->{hits}, 1, 'only what fits the tenant bound stays (one)';
ok cache_bytes() <= 500 * 1024, 'the disk stays within max_size after the bomb (' . cache_bytes() . ' bytes)';
is call('tenants/bob', 'op=match&k=keep')->{body}, 'bobs', 'another tenant\'s small entry survives the bomb';
my @tmp = glob($t->prefix . '/cache/tmp/*');
is scalar(@tmp), 0, 'no temporary file is left behind';

# keys crafted to meet another tenant's: namespace and script boundaries,
# cache names, URLs
call('tenants/alice', 'op=put&k=secret&body=alice');
is call('tenantsa/lice', 'op=match&k=secret')->{hit}, JSON::PP::false, 'tenantsa/lice does not see tenants/alice (same concatenation)';
is call('other/alice', 'op=match&k=secret')->{hit}, JSON::PP::false, 'nor does a script of the same name in another namespace';
call('tenants/alice', 'op=put&cache=a&url=https://cache.test/b&body=one');
is call('tenants/alice', 'op=match&cache=ab&url=https://cache.test/')->{hit}, JSON::PP::false, 'a cache name and URL that concatenate alike do not meet';
is call('tenants/alice', 'op=match&cache=default&k=secret')->{hit}, JSON::PP::false, 'caches.open("default") is not caches.default';
my $nul = '%00%00%00%00%00%00%00%07default';
is call('tenants/alice', "op=match&cache=$nul&k=secret")->{hit}, JSON::PP::false, 'a cache name imitating the key encoding meets nothing';

# a script deleted and created again (another customer, perhaps) under the
# same name does not see the entries of the one before; an update does
$t->put_script('tenants', 'reborn', $driver, created_on => '2026-01-01T00:00:00.000001Z');
call('tenants/reborn', 'op=put&k=mine&body=first-owner');
(my $v2 = $driver) =~ s/return Response.json\(\{ hit: true,/return Response.json({ v2: true, hit: true,/;
$t->put_script('tenants', 'reborn', $v2, created_on => '2026-01-01T00:00:00.000001Z');
$t->publish('tenants', 'reborn');
my $updated;
$t->wait_for(sub { $updated = call('tenants/reborn', 'op=match&k=mine'); $updated->{v2} });
is $updated->{v2}, JSON::PP::true, 'an update of the script is served';
is $updated->{body}, 'first-owner', 'and keeps its cache';
$t->del_script('tenants', 'reborn');
$t->put_script('tenants', 'reborn', $driver, created_on => '2026-06-01T00:00:00.000002Z');
$t->publish('tenants', 'reborn');
my $reborn;
for (1 .. 20) { $reborn = call('tenants/reborn', 'op=match&k=mine'); last unless $reborn->{hit}; select undef, undef, undef, 0.1 }
is $reborn->{hit}, JSON::PP::false, 'a script created again under the same name starts with an empty cache';

# Vary values crafted to look like several
call('tenants/alice', 'op=put&k=vary&body=v&h=vary:x-a,%20x-b&rh=x-a:1&rh=x-b:2');
is call('tenants/alice', 'op=match&k=vary&rh=x-a:1&rh=x-b:2')->{hit}, JSON::PP::true, 'Vary on two headers hits with both values';
is call('tenants/alice', 'op=match&k=vary&rh=x-a:1%22,%22x-b%22,%222')->{hit}, JSON::PP::false, 'a value crafted to imitate both misses';
is call('tenants/bob', 'op=match&k=vary&rh=x-a:1&rh=x-b:2')->{hit}, JSON::PP::false, 'and another tenant misses with the same values';

# huge URLs and header values
is call('tenants/alice', 'op=put&ulen=20000&body=x')->{error}, 'TypeError', 'a cache key URL over 16 KiB is a TypeError';
my $ok_long = 'https://cache.test/' . ('u' x 6000);
call('tenants/alice', "op=put&url=$ok_long&body=long");
is call('tenants/alice', "op=match&url=$ok_long")->{body}, 'long', 'a 6000-byte URL is a key like any other';
call('tenants/alice', 'op=put&k=bighdr&body=x&hbytes=100000');
is call('tenants/alice', 'op=match&k=bighdr')->{hit}, JSON::PP::true, 'a 100 KB header value is stored';
is call('tenants/alice', 'op=put&k=hugehdr&body=x&hbytes=300000')->{error}, 'TypeError', 'headers over 256 KiB are a TypeError';

# a script that replaced the intrinsics the built-ins might use gets the
# same cache: what is stored and matched does not change
$t->put_script('tenants', 'tamper', q{
export default {
  async fetch() {
    const url = 'https://cache.test/tamper';
    const fr = { 'accept-language': 'fr' };
    Object.prototype.toJSON = function () { return { s: 299, t: '', h: ['x-evil', '1'], v: [] }; };
    Array.prototype.toJSON = function () { return ['x-evil', '1']; };
    RegExp.prototype.exec = function () { return null; };
    String.prototype.toLowerCase = function () { return 'evil'; };
    String.prototype.slice = function () { return 'evil'; };
    Array.prototype[Symbol.iterator] = function () { throw new Error('iterated'); };
    JSON.parse = () => ({ s: 299, t: '', h: ['x-evil', '1'], v: [] });
    JSON.stringify = () => 'evil';
    Date.parse = () => 0;
    await caches.default.put(new Request(url, { headers: fr }),
                             new Response('kept', { headers: { 'cache-control': 'max-age=60', vary: 'Accept-Language' } }));
    const hit = await caches.default.match(new Request(url, { headers: fr }));
    const miss = await caches.default.match(new Request(url, { headers: { 'accept-language': 'de' } }));
    const ranged = await caches.default.match(new Request(url, { headers: { 'accept-language': 'fr', range: 'bytes=1-2' } }));
    return new Response((hit ? `${hit.status} ${await hit.text()} ${hit.headers.get('x-evil')}` : 'none') + ' / ' +
                        (miss === undefined ? 'miss' : 'hit') + ' / ' +
                        (ranged ? `${ranged.status} ${await ranged.text()}` : 'none'));
  }
};
});
is $t->get('/t/tenants/tamper')->{content}, '200 kept null / miss / 206 ep',
    'replaced JSON, RegExp, String, Array and Date methods (toJSON, exec, iterators) change nothing the cache stores or matches';

# open files: none for a matched body until it is read, and a bound on
# bodies being read
call('tenants/alice', 'op=put&k=small&body=s');
is call('tenants/alice', 'op=opens&k=small&n=300')->{hits}, 300, 'matched bodies left unread hold no file (300 held)';
call('tenants/alice', "op=put&k=twopieces&size=$K");
my $reading = call('tenants/alice', 'op=reading&k=twopieces&n=200');
is $reading->{reading}, 128, 'at most 128 bodies of one isolate are being read at once' or diag explain $reading;
is $reading->{errors}, 72, 'the others fail to read with a TypeError';
call('tenants/bob', 'op=put&k=after&body=fine');
is call('tenants/bob', 'op=match&k=after')->{body}, 'fine', 'another tenant is served meanwhile';

is_deeply [ $t->error_log_alerts ], [], 'no alerts in the error log';
$t->stop;

# nginx -t checks the directive
for my $case (['/tmp/x max_size=1m', qr/must have "keys_zone"/, 'without keys_zone'],
              ['/tmp/x keys_zone=c:1k', qr/too small/, 'with a zone under 8 pages'],
              ['/tmp/x keys_zone=c:1m max_size=0', qr/invalid parameter "max_size=0"/, 'with max_size=0'],
              ['/tmp/x keys_zone=c:1m colour=red', qr/invalid parameter "colour=red"/, 'with an unknown parameter'],
              ['/tmp/x keys_zone=dispatch:1m', qr/already declared for a different use/, 'with the quarantine zone\'s name']) {
    my ($code, $out) = Dispatch::Test->nginx_test_config(
        http => "dispatch_cache_path $case->[0];",
        server => 'location / { dispatch customers $host; }');
    isnt $code, 0, "nginx -t refuses dispatch_cache_path $case->[2]";
    like $out, $case->[1], '... saying why' or diag $out;
}

# an index full of entries: the least recently used make room
my $tiny = Dispatch::Test->new(
    http   => 'dispatch_cache_path %%PREFIX%%/cache keys_zone=tiny:64k;',
    server => q{
        location ~ ^/t/(?<ns>[^/]*)/(?<script>[^/]*) { dispatch_cpu_limit 5s; dispatch $ns $script; }
    },
);
$tiny->put_script('tenants', 'alice', $driver);
# temporary files of puts abandoned long ago go at the next put
my $tmpdir = $tiny->prefix . '/cache/tmp';
mkdir $tmpdir; chmod 0777, $tmpdir;
for my $f (['00112233445566aa', time - 3600], ['00112233445566bb', time], ['not-ours', time - 3600]) {
    open my $fh, '>', "$tmpdir/$f->[0]" or die $!; close $fh;
    utime $f->[1], $f->[1], "$tmpdir/$f->[0]";
}
my $many = eval { decode_json($tiny->get('/t/tenants/alice?op=many&n=2000', timeout => 60)->{content}) } || {};
ok !-e "$tmpdir/00112233445566aa", 'a temporary file an hour old is deleted by the next put';
ok -e "$tmpdir/00112233445566bb", 'a recent one is not';
ok -e "$tmpdir/not-ours", 'nor a file the module did not make';
is $many->{last}, JSON::PP::true, 'with the index full, a new entry is still stored';
is $many->{first}, JSON::PP::false, 'the least recently used went to make room';
ok $many->{hits} > 50 && $many->{hits} < 2000, "a 64k zone holds some ($many->{hits}) of 2000 entries";
my @files = grep { -f } glob($tiny->prefix . '/cache/*/*/*');
is scalar(@files), $many->{hits}, 'and the files of the evicted entries are deleted';
for my $who (qw(bob carol dave)) {
    $tiny->put_script('tenants', $who, $driver);
    my $m = eval { decode_json($tiny->get("/t/tenants/$who?op=many&n=300", timeout => 60)->{content}) } || {};
    is $m->{last}, JSON::PP::true, "a new tenant ($who) stores entries in the full index too";
}
is_deeply [ $tiny->error_log_alerts ], [], 'no alerts in the error log';
$tiny->stop;

# bodies stream to and from the disk: 40 MB through a 16m isolate
my $big = Dispatch::Test->new(
    http   => q{
        dispatch_memory_limit 16m;
        dispatch_cache_path %%PREFIX%%/cache keys_zone=big:1m max_size=100m tenant_max_size=64m;
    },
    server => q{
        location / { dispatch_cpu_limit 10s; dispatch tenants streamer; }
    },
);
$big->put_script('tenants', 'streamer', q{
export default {
  async fetch(request) {
    const key = 'https://cache.test/big';
    if (new URL(request.url).pathname === '/put') {
      let left = 40 * 1024 * 1024;
      const body = new ReadableStream({
        pull(c) {
          const n = Math.min(left, 65536);
          if (n === 0) return c.close();
          c.enqueue(new Uint8Array(n).fill(122));
          left -= n;
        },
      });
      await caches.default.put(key, new Response(body, { headers: { 'cache-control': 'max-age=600' } }));
      return new Response('stored');
    }
    return (await caches.default.match(key)) ?? new Response('miss', { status: 404 });
  }
};
});
my $bp = $big->get('/put', timeout => 60);
is $bp->{content}, 'stored', 'a 40 MB streamed body is put by a script with 16m of memory';
my $bm = $big->get('/match', timeout => 60);
is $bm->{status}, 200, 'and matched back';
is length($bm->{content}), 40 * 1024 * 1024, 'all 40 MB of it reach the client';
is scalar(() = $bm->{content} =~ /[^z]/g), 0, 'byte for byte';
unlike $big->error_log, qr/exceeded_memory/, 'within the memory limit';
$big->stop;

# without dispatch_cache_path: match misses, put stores nothing, one warning
my $n = Dispatch::Test->new(
    server => q{
        location ~ ^/t/(?<ns>[^/]*)/(?<script>[^/]*) { dispatch $ns $script; }
    },
);
$n->put_script('tenants', 'alice', $driver);
my $r = $n->get('/t/tenants/alice?op=put&k=a&body=x');
like $r->{content}, qr/"ok":true/, 'without dispatch_cache_path put resolves';
$n->get('/t/tenants/alice?op=put&k=a&body=x');
like $n->get('/t/tenants/alice?op=match&k=a')->{content}, qr/"hit":false/, 'and match misses';
my @warn = ($n->error_log =~ /no dispatch_cache_path/g);
is scalar(@warn), 1, 'one warning says so';
done_testing;
