#!/usr/bin/perl
# Issue 11: request and response bodies are streams, end to end through
# nginx. request.body is a ReadableStream whenever there is a body; a
# Response made from a stream goes out as the script produces it (chunked
# when its length is unknown, Content-Length when FixedLengthStream fixes
# it); the framework idioms that pass bodies along work; a stream that
# fails cuts the response short and the error log says which script and
# request; the request body's size is bounded by client_max_body_size.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use IO::Socket::INET;
use IO::Select;
use JSON::PP qw(decode_json);
use Time::HiRes qw(time sleep);

my $t = Dispatch::Test->new(
    http   => "client_max_body_size 1m;",
    server => q{
        location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; }
        location /gzip/ { gzip on; gzip_types text/plain; gzip_min_length 1; dispatch tenants chunked; }
    },
);


# ---- request.body ----

$t->put_script('tenants', 'body-kind', q{
    export default { async fetch(request) {
      return Response.json({
        isStream: request.body instanceof ReadableStream,
        isNull: request.body === null,
        used: request.bodyUsed,
      });
    } };
});
my $r = $t->request('GET', '/t/body-kind');
is_deeply decode_json($r->{content}), { isStream => JSON::PP::false, isNull => JSON::PP::true, used => JSON::PP::false },
    'a GET has no body: request.body is null';
$r = $t->request('POST', '/t/body-kind', content => 'hello');
is_deeply decode_json($r->{content}), { isStream => JSON::PP::true, isNull => JSON::PP::false, used => JSON::PP::false },
    'a POST with a body: request.body is a ReadableStream (the `if (request.body)` idiom)';

$t->put_script('tenants', 'read-chunks', q{
    export default { async fetch(request) {
      let bytes = 0, chunks = 0;
      for await (const chunk of request.body) { bytes += chunk.byteLength; chunks++; }
      return Response.json({ bytes, chunks, used: request.bodyUsed });
    } };
});
my $out = `head -c 300000 /dev/zero | curl -sS --max-time 20 -X POST -H 'Transfer-Encoding: chunked' --data-binary \@- @{[ $t->url('/t/read-chunks') ]}`;
my $got = decode_json($out);
is $got->{bytes}, 300000, 'a chunked upload is read as a stream, all of it';
ok $got->{chunks} >= 2, "it arrives in pieces ($got->{chunks})";
is $got->{used}, JSON::PP::true, 'reading the stream makes bodyUsed true';

$t->put_script('tenants', 'clone-twice', q{
    export default { async fetch(request) {
      const copy = request.clone();
      const [a, b] = await Promise.all([request.text(), copy.text()]);
      return new Response(`${a.length}:${b.length}:${a === b}`);
    } };
});
$out = `head -c 200000 /dev/zero | tr '\\0' 'a' | curl -sS --max-time 20 -X POST --data-binary \@- @{[ $t->url('/t/clone-twice') ]}`;
is $out, '200000:200000:true', 'request.clone() tees the body: both read it whole';

$t->put_script('tenants', 'decoder', q{
    export default { async fetch(request) {
      let text = '';
      for await (const piece of request.body.pipeThrough(new TextDecoderStream())) text += piece;
      return new Response(`${[...text].length}:${[...text].slice(0, 3).join('')}`);
    } };
});
$out = `python3 -c "import sys; sys.stdout.buffer.write(('\\u00e9\\u20ac\\U0001F600' * 30000).encode())" | curl -sS --max-time 20 -X POST --data-binary \@- @{[ $t->url('/t/decoder') ]}`;
is $out, "90000:\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
    'pipeThrough(new TextDecoderStream()) decodes characters split across pieces';

$t->put_script('tenants', 'byob', q{
    export default { async fetch(request) {
      const reader = request.body.getReader({ mode: 'byob' });
      let total = 0, reads = 0, max = 0;
      for (;;) {
        const { value, done } = await reader.read(new Uint8Array(1000));
        if (done) break;
        total += value.byteLength; reads++; max = Math.max(max, value.byteLength);
      }
      return new Response(`${total}:${max <= 1000}:${reads >= 50}`);
    } };
});
$out = `head -c 50000 /dev/zero | curl -sS --max-time 20 -X POST --data-binary \@- @{[ $t->url('/t/byob') ]}`;
is $out, '50000:true:true', 'a BYOB reader reads the request body into its own buffers';

# ---- passing bodies along ----

$t->put_script('tenants', 'middleware', q{
    export default { async fetch(request) {
      const inner = new Response('from the inner handler', { headers: { 'X-Inner': '1' } });
      const res = new Response(inner.body, inner);   // what CORS/ETag middleware does
      res.headers.set('X-Added', 'yes');
      return res;
    } };
});
$r = $t->request('GET', '/t/middleware');
is $r->{content}, 'from the inner handler', 'new Response(res.body, res) keeps the body';
is $r->{headers}{'x-added'}, 'yes', '... with the header the middleware added';
is $r->{headers}{'x-inner'}, '1', '... and the inner headers';
is $r->{headers}{'content-length'}, '22', 'a body that was bytes all along still goes out with Content-Length';

$t->put_script('tenants', 'echo', q{
    export default { fetch(request) { return new Response(request.body, { headers: { 'X-Echo': '1' } }); } };
});
$out = `head -c 700000 /dev/urandom | tee $t->{prefix}/echo.in | curl -sS --max-time 20 -X POST --data-binary \@- @{[ $t->url('/t/echo') ]} | sha256sum`;
my $want = `sha256sum < $t->{prefix}/echo.in`;
is $out, $want, 'new Response(request.body) echoes the upload byte for byte';
my ($head) = $t->curl('-D', '-', '-o', '/dev/null', '-X', 'POST', '--data-binary', 'abcdef', $t->url('/t/echo'));
like $head, qr/Content-Length: 6/i, 'a body passed through keeps its Content-Length';

# ---- response streams ----

$t->put_script('tenants', 'chunked', q{
    export default { fetch() {
      let i = 0;
      return new Response(new ReadableStream({ pull(c) {
        if (i === 5) return c.close();
        c.enqueue(new TextEncoder().encode(`line ${i++}\n`));
      } }), { headers: { 'Content-Type': 'text/plain' } });
    } };
});
($head) = $t->curl('-D', '-', '-o', '/dev/null', $t->url('/t/chunked'));
like $head, qr/Transfer-Encoding: chunked/i, 'a stream of unknown length goes out chunked';
($out) = $t->curl($t->url('/t/chunked'));
is $out, join('', map { "line $_\n" } 0 .. 4), 'with every piece the script produced';

($head) = $t->curl('-D', '-', '-o', '/dev/null', '-H', 'Accept-Encoding: gzip', $t->url('/gzip/'));
like $head, qr/Content-Encoding: gzip/i, "nginx's gzip filter compresses a streamed body";
($out) = $t->curl('--compressed', $t->url('/gzip/'));
is $out, join('', map { "line $_\n" } 0 .. 4), '... which the client decompresses whole';

$t->put_script('tenants', 'fixed', q{
    export default { fetch(request) {
      const n = Number(new URL(request.url).searchParams.get('n'));
      const { readable, writable } = new FixedLengthStream(10);
      const w = writable.getWriter();
      w.write(new Uint8Array(n).fill(120)).then(() => w.close()).catch(() => {});
      return new Response(readable);
    } };
});
($head) = $t->curl('-D', '-', '-o', '/dev/null', $t->url('/t/fixed?n=10'));
like $head, qr/Content-Length: 10/i, 'FixedLengthStream sets Content-Length';
unlike $head, qr/Transfer-Encoding/i, '... and the body is not chunked';
my (undef, $rc) = $t->curl('-o', '/dev/null', $t->url('/t/fixed?n=4'));
isnt $rc, 0, 'a FixedLengthStream that ends short gives the client a cut-short response';

$t->put_script('tenants', 'sse', q{
    export default { fetch() {
      const { readable, writable } = new TransformStream();
      const w = writable.getWriter();
      const enc = new TextEncoder();
      (async () => {
        await w.write(enc.encode('data: first\n\n'));
        await new Promise((r) => setTimeout(r, 3000));
        await w.write(enc.encode('data: second\n\n'));
        await w.close();
      })();
      return new Response(readable, { headers: { 'Content-Type': 'text/event-stream' } });
    } };
});
{
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port, Timeout => 10) or die;
    print $s "GET /t/sse HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    my $sel = IO::Select->new($s);
    my $buf = '';
    my $t0 = time;
    while ($buf !~ /data: first/ && time - $t0 < 10) {
        last unless $sel->can_read(10);
        sysread($s, $buf, 65536, length $buf) or last;
    }
    like $buf, qr/data: first/, 'server-sent events: the first event reaches the client';
    unlike $buf, qr/data: second/, '... while the script has not produced the second';
    while ($buf !~ /0\r\n\r\n/ && time - $t0 < 15) {
        last unless $sel->can_read(10);
        sysread($s, $buf, 65536, length $buf) or last;
    }
    like $buf, qr/data: second/, '... which follows once the script writes it';
}

$t->put_script('tenants', 'throws-midway', q{
    export default { fetch() {
      let n = 0;
      return new Response(new ReadableStream({ pull(c) {
        if (n++ === 3) throw new Error('the stream broke-4242');
        c.enqueue(new TextEncoder().encode('piece\n'));
      } }));
    } };
});
($out, $rc) = $t->curl($t->url('/t/throws-midway?who=me'));
is $out, "piece\n" x 3, 'a stream that throws: the client gets what came before';
isnt $rc, 0, '... and sees the response cut short (no last chunk)';
my $log = $t->error_log;
like $log, qr/"tenants\/throws-midway".*the response body stream failed.*broke-4242/,
    'the error log says which script and why';
like $log, qr/broke-4242.*request: "GET \/t\/throws-midway\?who=me/, '... and which request';

$t->put_script('tenants', 'not-bytes', q{
    export default { fetch() {
      return new Response(new ReadableStream({ start(c) { c.enqueue('a string'); c.close(); } }));
    } };
});
(undef, $rc) = $t->curl('-o', '/dev/null', $t->url('/t/not-bytes'));
isnt $rc, 0, 'a stream of strings is not a body: cut short';
like $t->error_log, qr/did not return bytes/, '... with the reason Workers gives';

$t->put_script('tenants', 'loops-in-pull', q{
    export default { fetch() {
      let n = 0;
      return new Response(new ReadableStream({ pull(c) {
        if (n++ === 1) for (;;) {}
        c.enqueue(new Uint8Array(4));
      } }));
    } };
});
(undef, $rc) = $t->curl('-o', '/dev/null', $t->url('/t/loops-in-pull'));
isnt $rc, 0, 'a pull callback that loops is stopped by the CPU limit';
like $t->error_log, qr/"tenants\/loops-in-pull".*exceeded_cpu/, '... which the error log names';
$r = $t->request('GET', '/t/chunked');
is $r->{status}, 200, 'the worker goes on serving';

# ---- client_max_body_size ----

$r = $t->request('POST', '/t/read-chunks', content => 'x' x (1024 * 1024 + 1));
is $r->{status}, 413, 'a Content-Length over client_max_body_size is 413 before the script runs';

$t->put_script('tenants', 'too-big', q{
    export default { async fetch(request) {
      try { await request.arrayBuffer(); return new Response('read it all'); }
      catch (e) { return new Response(`${e.name}: ${e.message}`, { status: 400 }); }
    } };
});
$out = `head -c 2000000 /dev/zero | curl -sS --max-time 20 -X POST -H 'Transfer-Encoding: chunked' --data-binary \@- @{[ $t->url('/t/too-big') ]}`;
like $out, qr/^TypeError: .*client_max_body_size/, 'a chunked body that crosses client_max_body_size errors request.body';

done_testing;
