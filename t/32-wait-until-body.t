#!/usr/bin/perl
# A request body still on its way when the response goes out: the
# connection serves the client's next (pipelined) request, correctly and at
# once, and a read of the body in ctx.waitUntil() past what the script was
# given rejects with Workers' TypeError. nginx 1.22 closed such a
# connection (it began reading the body for the script and could not
# discard the rest), so a pipelined request was never answered.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

my $t = Dispatch::Test->new(
    http   => 'client_max_body_size 10m; lingering_timeout 1s;',
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; } },
);
my $kv = '{"bindings":[{"type":"kv_namespace","name":"KV","namespace_id":"body"}]}';

# the pipelined request after the first: its method, path and body say
# whether its bytes were read as they were sent
$t->put_script('tenants', 'next', q{
    export default {
      async fetch(req, env) {
        const key = new URL(req.url).searchParams.get('k');
        if (key) return new Response(String(await env.KV.get(`?${key}`)));
        return new Response(`${req.method} ${new URL(req.url).pathname} ${await req.text()}`);
      }
    };
}, metadata => $kv);

# what a read of the body in ctx.waitUntil() got, or how it failed
$t->put_script('tenants', 'text', q{
    export default {
      fetch(req, env, ctx) {
        ctx.waitUntil(req.text().then(
          (t) => env.KV.put(new URL(req.url).search, `got ${t.length} ${t.slice(0, 10)}`),
          (e) => env.KV.put(new URL(req.url).search, `${e.constructor.name}: ${e.message}`)));
        return new Response('first');
      }
    };
}, metadata => $kv);
$t->put_script('tenants', 'later', q{
    export default {
      fetch(req, env, ctx) {
        ctx.waitUntil(new Promise((r) => setTimeout(r, 200)).then(() => req.arrayBuffer()).then(
          (b) => env.KV.put(new URL(req.url).search, `got ${b.byteLength}`),
          (e) => env.KV.put(new URL(req.url).search, `${e.constructor.name}: ${e.message}`)));
        return new Response('first');
      }
    };
}, metadata => $kv);
$t->put_script('tenants', 'reader', q{
    export default {
      fetch(req, env, ctx) {
        ctx.waitUntil((async () => {
          const reader = req.body.getReader();
          let n = 0;
          try {
            for (;;) {
              const { done, value } = await reader.read();
              if (done) return `got ${n}`;
              n += value.length;
            }
          } catch (e) {
            return `${e.constructor.name} after ${n > 0 ? 'some' : 'no'} bytes: ${e.message}`;
          }
        })().then((v) => env.KV.put(new URL(req.url).search, v)));
        return new Response('first');
      }
    };
}, metadata => $kv);
$t->put_script('tenants', 'unread', q{
    export default { fetch() { return new Response('first'); } };
});
# a streamed response that ends after the body was read whole
$t->put_script('tenants', 'stream', q{
    export default {
      fetch(req, env, ctx) {
        const { readable, writable } = new TransformStream();
        const body = req.arrayBuffer();
        ctx.waitUntil(body.then((b) => env.KV.put(new URL(req.url).search, `got ${b.byteLength}`)));
        body.then(() => writable.getWriter().close(), () => writable.abort());
        return new Response(readable);
      }
    };
}, metadata => $kv);

my $NEXT = "POST /t/next HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc"
         . "GET /t/next HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

# Writes @parts (a string, or a pause in seconds), reading meanwhile, until
# the server closes or 8 s pass; returns the response bodies in order, and
# the seconds from the first write to the close.
sub exchange {
    my (@parts) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port,
                                  Proto => 'tcp', Timeout => 5) or die "connect: $!";
    binmode $s;
    $s->blocking(0);
    my ($in, $out, $wait_until) = ('', '', 0);
    my $t0 = time;
    while (time - $t0 < 8) {
        if (!length $out && @parts && time >= $wait_until) {
            my $p = shift @parts;
            if ($p =~ /^[\d.]+$/) { $wait_until = time + $p } else { $out = $p }
        }
        my ($r, $w) = ('', '');
        vec($r, fileno $s, 1) = 1;
        vec($w, fileno $s, 1) = 1 if length $out;
        select($r, $w, undef, 0.02);
        if (length $out && vec($w, fileno $s, 1)) {
            my $n = syswrite $s, $out;
            substr($out, 0, $n, '') if $n;
        }
        if (vec($r, fileno $s, 1)) {
            my $n = sysread $s, $in, 65536, length $in;
            last if defined $n && $n == 0;
        }
    }
    my $took = time - $t0;
    close $s;
    my @bodies;
    while ($in =~ s/^HTTP\/1\.1 \d+[^\r]*\r\n(.*?)\r\n\r\n//s) {
        my $head = $1;
        my ($len) = $head =~ /^Content-Length: (\d+)/mi;
        if (defined $len) {
            push @bodies, substr($in, 0, $len, '');
        } else {                                    # chunked
            my $body = '';
            while ($in =~ s/^([0-9a-f]+)\r\n//i) {
                my $n = hex $1;
                $body .= substr($in, 0, $n, '');
                $in =~ s/^\r\n//;
                last if $n == 0;
            }
            push @bodies, $body;
        }
    }
    return (\@bodies, $took);
}

sub kv {
    my ($key) = @_;
    my $v;
    $t->wait_for(sub { ($v = $t->get("/t/next?k=$key")->{content}) ne 'null' }, timeout => 5);
    return $v;
}

my $AFTER = "Can't read from request stream after response has been sent.";

# the rest of a Content-Length body comes 0.3 s after the response
my ($bodies, $took) = exchange(
    "POST /t/text?c1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nhello", 0.3,
    "world$NEXT");
is_deeply $bodies, ['first', 'POST /t/next abc', 'GET /t/next '],
    'a body that ends after the response: the pipelined requests after it are answered';
is kv('c1'), "TypeError: $AFTER", 'and text() in waitUntil rejects with the TypeError';

# arrayBuffer() 0.2 s after the response, the rest of the body sent meanwhile
($bodies) = exchange(
    "POST /t/later?c9 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nhello", 0.1,
    "world$NEXT");
is_deeply $bodies, ['first', 'POST /t/next abc', 'GET /t/next '],
    'a body that ends after the response, read later: the pipelined requests are answered';
is kv('c9'), "TypeError: $AFTER", 'and arrayBuffer() in waitUntil rejects with the TypeError';

# the same, chunked, cut in a chunk's data and in a chunk's size
($bodies) = exchange(
    "POST /t/reader?c2 HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nhello", 0.3,
    "hello678901\r\n0\r\n\r\n$NEXT");
is_deeply $bodies, ['first', 'POST /t/next abc', 'GET /t/next '],
    'a chunked body cut in a chunk: the pipelined requests are answered';
is kv('c2'), "TypeError after some bytes: $AFTER",
    'and the reader in waitUntil rejects with the TypeError';
($bodies) = exchange(
    "POST /t/unread?c3 HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1", 0.3,
    "0\r\n0123456789abcdef\r\n0\r\nX-Trailer: t\r\n\r\n$NEXT");
is_deeply $bodies, ['first', 'POST /t/next abc', 'GET /t/next '],
    'a chunked body cut in a chunk size, with a trailer: the pipelined requests are answered';

# a body sent whole, larger than the engine takes before the script reads
my $big = 'x' x 3_000_000;
($bodies) = exchange("POST /t/reader?c4 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3000000\r\n\r\n$big$NEXT");
is_deeply $bodies, ['first', 'POST /t/next abc', 'GET /t/next '],
    'a 3 MB body the script had not taken: the pipelined requests are answered';
is kv('c4'), "TypeError after some bytes: $AFTER",
    'the reader in waitUntil gets what the engine held, then the TypeError';

($bodies) = exchange("POST /t/unread?c5 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3000000\r\n\r\n$big$NEXT");
is_deeply $bodies, ['first', 'POST /t/next abc', 'GET /t/next '],
    'a 3 MB body the script never reads: the connection is kept alive for the next requests';

# a body that came whole before the response is the script's to read
($bodies) = exchange("POST /t/text?c6 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello$NEXT");
is_deeply $bodies, ['first', 'POST /t/next abc', 'GET /t/next '], 'a small body: the pipelined requests are answered';
is kv('c6'), 'got 5 hello', 'and text() in waitUntil gets the whole body';

# a streamed response that ends once the body was read: nothing is dropped
($bodies) = exchange(
    "POST /t/stream?c7 HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
    . ("1000\r\n" . ('y' x 4096) . "\r\n") x 500 . "0\r\n\r\n$NEXT");
is_deeply $bodies, ['', 'POST /t/next abc', 'GET /t/next '], 'a streamed response after the whole body';
is kv('c7'), 'got ' . 4096 * 500, 'the script read all of it';

# a client that stops sending its body: closed after lingering_timeout
($bodies, $took) = exchange(
    "POST /t/unread?c8 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nhello", 5);
is_deeply $bodies, ['first'], 'a body that never ends: the response is sent';
cmp_ok $took, '<', 3, sprintf('the connection is closed after lingering_timeout (%.1f s)', $took);

# every request ended: a graceful stop does not wait for one
my $t0 = time;
$t->stop;
cmp_ok time - $t0, '<', 5, sprintf('nginx stops gracefully at once (%.1f s)', time - $t0);
is_deeply [$t->error_log_alerts], [], 'no alert ("open socket left": a request that never ended) or crash in the error log';

done_testing;
