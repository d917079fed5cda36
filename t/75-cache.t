#!/usr/bin/perl
# The Cache API: caches.default and caches.open(name) with match, put and
# delete as Workers define them, on dispatch_cache_path (an index in shared
# memory, bodies on disk), shared by the worker processes of one nginx.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP;

my $t = Dispatch::Test->new(
    workers => 2,
    http    => 'dispatch_cache_path %%PREFIX%%/cache keys_zone=dcache:1m max_size=4m tenant_max_size=1m;',
    server  => q{
        location ~ ^/t/(?<script>[^/]*) {
            dispatch_cpu_limit 2s;
            add_header X-Worker $pid always;
            dispatch tenants $script;
        }
    },
);

# One tenant script drives the API from the query string and answers JSON.
# put: stores a response made of the query (body of `size` bytes of `fill`,
# or `body`; headers from h=NAME:VALUE), for the URL https://cache.test/KEY.
my $driver = q{
async function describe(res) {
  if (res === undefined) return { hit: false };
  const headers = {};
  for (const [k, v] of res.headers) headers[k] = v;
  const body = await res.text();
  return { hit: true, status: res.status, headers, body, length: body.length };
}
export default {
  async fetch(request) {
    const q = new URL(request.url).searchParams;
    const op = q.get('op');
    const cache = q.has('cache') ? await caches.open(q.get('cache')) : caches.default;
    const key = new Request('https://cache.test/' + (q.get('k') ?? 'x'), {
      headers: Object.fromEntries(q.getAll('rh').map((s) => [s.slice(0, s.indexOf(':')), s.slice(s.indexOf(':') + 1)])),
    });
    try {
      switch (op) {
        case 'put': {
          const headers = new Headers();
          for (const h of q.getAll('h')) headers.append(h.slice(0, h.indexOf(':')), h.slice(h.indexOf(':') + 1));
          let body = q.get('body') ?? '';
          if (q.has('size')) {
            // streamed in 64 KiB pieces: put() reads it piece by piece
            const size = Number(q.get('size'));
            const fill = (q.get('fill') ?? 'a').charCodeAt(0);
            let left = size;
            body = new ReadableStream({
              pull(c) {
                const n = Math.min(left, 65536);
                if (n === 0) return c.close();
                c.enqueue(new Uint8Array(n).fill(fill));
                left -= n;
              },
            });
          }
          const res = new Response(body, { status: Number(q.get('status') ?? 200), headers });
          const ret = await cache.put(key, res);
          return Response.json({ ok: true, ret: ret === undefined ? 'undefined' : String(ret), used: res.bodyUsed });
        }
        case 'match': {
          const opts = q.has('ignoreMethod') ? { ignoreMethod: true } : undefined;
          const req = q.has('method') ? new Request(key, { method: q.get('method') }) : key;
          return Response.json(await describe(await cache.match(req, opts)));
        }
        case 'delete': return Response.json({ deleted: await cache.delete(key) });
        case 'served': {
          // the cached response itself, as a script would return it
          return (await cache.match(key)) ?? new Response('miss', { status: 404 });
        }
        default: return new Response('unknown op', { status: 400 });
      }
    } catch (e) {
      return Response.json({ error: e.constructor.name, message: e.message });
    }
  }
};
};
$t->put_script('tenants', 'alice', $driver);
$t->put_script('tenants', 'bob', $driver);

sub call {
    my ($who, $query, %opts) = @_;
    my $r = $t->get("/t/$who?$query", %opts);
    my $d = eval { decode_json($r->{content}) };
    return $d // { raw => $r->{content}, status => $r->{status} };
}

# hit and miss
is call('alice', 'op=match&k=a')->{hit}, JSON::PP::false, 'a key never put misses (match resolves undefined)';
my $put = call('alice', 'op=put&k=a&body=hello&h=cache-control:max-age=60&h=x-tag:one');
is $put->{ok}, JSON::PP::true, 'put resolves' or diag explain $put;
is $put->{ret}, 'undefined', 'to undefined';
is $put->{used}, JSON::PP::true, 'and consumes the response body';
my $m = call('alice', 'op=match&k=a');
is $m->{hit}, JSON::PP::true, 'a put entry hits';
is $m->{body}, 'hello', 'with the body stored';
is $m->{headers}{'x-tag'}, 'one', 'and the headers stored';
is $m->{headers}{'cf-cache-status'}, 'HIT', 'marked cf-cache-status: HIT';
call('alice', 'op=put&k=aged&body=x&h=cache-control:max-age=60&h=age:5000&h=cf-cache-status:MISS');
my $aged = call('alice', 'op=match&k=aged');
like $aged->{headers}{age}, qr/^[0-9]$/, 'a stored Age is replaced by the entry\'s own';
is $aged->{headers}{'cf-cache-status'}, 'HIT', 'and a stored cf-cache-status by HIT';
like $m->{headers}{age}, qr/^\d+$/, 'with an Age';
is call('alice', 'op=match&k=a&method=POST')->{hit}, JSON::PP::false, 'match of a POST misses';
is call('alice', 'op=match&k=a&method=POST&ignoreMethod=1')->{hit}, JSON::PP::true, '... unless ignoreMethod';
is call('alice', 'op=match&k=a&cache=named')->{hit}, JSON::PP::false, 'caches.open(name) is a cache of its own';
call('alice', 'op=put&k=a&cache=named&body=named&h=cache-control:max-age=60');
is call('alice', 'op=match&k=a&cache=named')->{body}, 'named', 'which stores its own entries';
is call('alice', 'op=match&k=a')->{body}, 'hello', 'beside the default cache\'s';

# a served cached response goes out to the client as is
my $served = $t->get('/t/alice?op=served&k=a');
is $served->{status}, 200, 'a matched response can be returned to the client';
is $served->{content}, 'hello', 'with its body';

# put refusals, as Workers
like call('alice', 'op=put&k=p&status=206&body=x')->{message}, qr/206/, 'put of a 206 throws a TypeError';
is call('alice', 'op=put&k=v&h=vary:*&body=x&h=cache-control:max-age=60')->{error}, 'TypeError', 'put of Vary: * throws a TypeError';

# Cache-Control, Expires and the TTL
for my $cc ('no-store', 'no-cache', 'private', 'max-age=0') {
    call('alice', "op=put&k=cc-$cc&body=x&h=cache-control:$cc");
    is call('alice', "op=match&k=cc-$cc")->{hit}, JSON::PP::false, "Cache-Control: $cc is not stored";
}
call('alice', 'op=put&k=smax&body=x&h=cache-control:max-age%3D0,%20s-maxage%3D60');
is call('alice', 'op=match&k=smax')->{hit}, JSON::PP::true, 's-maxage wins over max-age';
call('alice', 'op=put&k=exp&body=x&h=expires:Thu,%2001%20Jan%202099%2000:00:00%20GMT');
is call('alice', 'op=match&k=exp')->{hit}, JSON::PP::true, 'a future Expires is stored';
call('alice', 'op=put&k=past&body=x&h=expires:Thu,%2001%20Jan%201970%2000:00:00%20GMT');
is call('alice', 'op=match&k=past')->{hit}, JSON::PP::false, 'a past Expires is not';
call('alice', 'op=put&k=plain500&status=500&body=x');
is call('alice', 'op=match&k=plain500')->{hit}, JSON::PP::false, 'a 500 without Cache-Control is not stored (edge TTL)';
call('alice', 'op=put&k=plain200&body=x');
is call('alice', 'op=match&k=plain200')->{hit}, JSON::PP::true, 'a 200 without Cache-Control is (edge TTL of 2 h)';

# expiry
call('alice', 'op=put&k=short&body=x&h=cache-control:max-age=1');
is call('alice', 'op=match&k=short')->{hit}, JSON::PP::true, 'a max-age=1 entry hits at first';
sleep 2.2;
is call('alice', 'op=match&k=short')->{hit}, JSON::PP::false, 'and misses once it expired';

# Set-Cookie
call('alice', 'op=put&k=cookie&body=x&h=cache-control:max-age=60&h=set-cookie:s=1');
is call('alice', 'op=match&k=cookie')->{hit}, JSON::PP::false, 'a response with Set-Cookie is not stored';
call('alice', 'op=put&k=cookie2&body=x&h=cache-control:max-age%3D60,private%3D%22Set-Cookie%22&h=set-cookie:s=1');
my $c2 = call('alice', 'op=match&k=cookie2');
is $c2->{hit}, JSON::PP::true, 'with Cache-Control: private=Set-Cookie it is';
ok !exists $c2->{headers}{'set-cookie'}, 'without its Set-Cookie';

# Vary
call('alice', 'op=put&k=vary&body=gzip-body&h=cache-control:max-age=60&h=vary:Accept-Encoding&rh=accept-encoding:gzip');
is call('alice', 'op=match&k=vary&rh=accept-encoding:gzip')->{body}, 'gzip-body', 'Vary: the same request header value hits';
is call('alice', 'op=match&k=vary&rh=accept-encoding:br')->{hit}, JSON::PP::false, 'another value misses';
is call('alice', 'op=match&k=vary')->{hit}, JSON::PP::false, 'and so does no value';

# delete
is call('alice', 'op=delete&k=a')->{deleted}, JSON::PP::true, 'delete of a stored entry resolves true';
is call('alice', 'op=match&k=a')->{hit}, JSON::PP::false, 'and it is gone';
is call('alice', 'op=delete&k=a')->{deleted}, JSON::PP::false, 'a second delete resolves false';

# ranges
call('alice', 'op=put&k=r&body=0123456789&h=cache-control:max-age=60');
my $r = call('alice', 'op=match&k=r&rh=range:bytes=2-5');
is $r->{status}, 206, 'a Range request matches with 206';
is $r->{body}, '2345', 'the range of the body';
is $r->{headers}{'content-range'}, 'bytes 2-5/10', 'and its Content-Range';
is call('alice', 'op=match&k=r&rh=range:bytes=7-')->{body}, '789', 'an open range';
is call('alice', 'op=match&k=r&rh=range:bytes=-3')->{body}, '789', 'a suffix range';
my $r416 = call('alice', 'op=match&k=r&rh=range:bytes=20-30');
is $r416->{status}, 416, 'an unsatisfiable range is 416';
is $r416->{headers}{'content-range'}, 'bytes */10', 'with Content-Range bytes */length';

# conditional requests
call('alice', 'op=put&k=cond&body=c&h=cache-control:max-age=60&h=etag:%22v1%22&h=last-modified:Wed,%2001%20Jan%202025%2000:00:00%20GMT');
is call('alice', 'op=match&k=cond&rh=if-none-match:%22v1%22')->{status}, 304, 'If-None-Match with the ETag answers 304';
is call('alice', 'op=match&k=cond&rh=if-none-match:W/%22v1%22')->{status}, 304, '... compared weakly';
is call('alice', 'op=match&k=cond&rh=if-none-match:%22v2%22')->{status}, 200, 'another ETag answers the entry';
is call('alice', 'op=match&k=cond&rh=if-modified-since:Thu,%2001%20Jan%202026%2000:00:00%20GMT')->{status}, 304,
    'If-Modified-Since after Last-Modified answers 304';
is call('alice', 'op=match&k=cond&rh=if-modified-since:Mon,%2001%20Jan%202024%2000:00:00%20GMT')->{status}, 200,
    'If-Modified-Since before it answers the entry';

# a streamed body larger than one piece, in and out
call('alice', 'op=put&k=big&size=300000&fill=q&h=cache-control:max-age=60');
my $big = call('alice', 'op=match&k=big');
is $big->{length}, 300000, 'a 300000-byte streamed body round-trips';
is $big->{body}, 'q' x 300000, 'byte for byte';
my $mid = call('alice', 'op=match&k=big&rh=range:bytes=131070-131073');
is $mid->{body}, 'qqqq', 'a range across the 64 KiB pieces';

# tenants
call('alice', 'op=put&k=shared&body=alice-secret&h=cache-control:max-age=60');
is call('bob', 'op=match&k=shared')->{hit}, JSON::PP::false, 'another tenant does not see an entry of the same URL';
call('bob', 'op=put&k=shared&body=bob&h=cache-control:max-age=60');
is call('alice', 'op=match&k=shared')->{body}, 'alice-secret', 'and its put of the same URL does not replace it';
is call('bob', 'op=match&k=shared')->{body}, 'bob', 'it has its own';
is call('bob', 'op=delete&k=shared')->{deleted}, JSON::PP::true, 'its delete removes its own';
is call('alice', 'op=match&k=shared')->{body}, 'alice-secret', 'and not the other\'s';

# shared by the worker processes
call('alice', 'op=put&k=workers&body=from-one-worker&h=cache-control:max-age=60');
ok $t->every_worker_says('/t/alice?op=served&k=workers', 200, 'from-one-worker'),
    'every worker process serves the entry one of them put'
    or diag $t->worker_answers('/t/alice?op=served&k=workers');

# puts and matches of one key at once, on both workers: every answer is one
# whole entry, never a mix of two
my @reqs = map { { path => ($_ % 2 ? "/t/alice?op=put&k=race&size=150000&fill=" . chr(97 + $_ % 26)
                                     . '&h=cache-control:max-age=60'
                                   : '/t/alice?op=match&k=race') } } 1 .. 120;
my @res = $t->parallel(\@reqs, timeout => 60);
is scalar(grep { $_->{status} == 200 } @res), 120, '120 concurrent puts and matches of one key all answer';
my @bodies = map { my $d = eval { decode_json($_->{content}) }; $d && $d->{hit} ? $d->{body} : () } @res;
sub whole_put { my ($b) = @_; return defined $b && length($b) == 150000 && $b eq substr($b, 0, 1) x 150000 }
is scalar(grep { !whole_put($_) } @bodies), 0, 'every hit among them is one whole put (' . scalar(@bodies) . ' hits)';
ok whole_put(call('alice', 'op=match&k=race')->{body}), 'and the entry left is one whole put';

# bodies lie under the path, nowhere else
my @files = grep { -f } glob($t->prefix . '/cache/*/*/*');
ok @files >= 5, 'bodies are files under dispatch_cache_path (' . scalar(@files) . ')';
my @tmp = glob($t->prefix . '/cache/tmp/*');
is scalar(@tmp), 0, 'no temporary file is left behind';

# survives a reload
$t->reload;
is call('alice', 'op=match&k=workers')->{body}, 'from-one-worker', 'an entry survives a reload';

# a restart starts a new index: the bodies of the last run are deleted,
# and nothing else under the path
my $foreign = $t->prefix . '/cache/not-ours.txt';
open my $fh, '>', $foreign or die $!;
print {$fh} "keep\n";
close $fh;
is_deeply [ $t->error_log_alerts ], [], 'no alerts in the error log';
$t->stop;
$t->start;
$t->put_script('tenants', 'alice', $driver);
is call('alice', 'op=match&k=workers')->{hit}, JSON::PP::false, 'after a restart the cache starts empty';
my @left = grep { -f } glob($t->prefix . '/cache/*/*/*');
is scalar(@left), 0, 'and the body files of the last run are deleted';
ok -f $foreign, 'a file the module did not make is left alone';
call('alice', 'op=put&k=again&body=again');
is call('alice', 'op=match&k=again')->{body}, 'again', 'and it stores entries again';
done_testing;
