#!/usr/bin/perl
# Issue 11: bodies stream in constant memory. Sized at eight times the
# script's dispatch_memory_limit (16m) and more, which proves it as well as
# a gigabyte would: a 128 MB upload is hashed as it arrives and echoed
# back; a 256 MB response is generated without the worker's peak memory
# growing; a slow client slows the script's pull instead of a buffer
# growing; clients that go away mid-stream have the stream cancelled (its
# cancel callback runs) and leave no fd behind.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time sleep);

my $t = Dispatch::Test->new(
    workers => 1,
    http    => "dispatch_memory_limit 16m;\n    dispatch_cpu_limit 20s;\n    client_max_body_size 0;",
    server  => q{ location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; } },
);
my ($worker) = $t->worker_pids;
my $dir = $t->prefix;


my $KV = '{"bindings":[{"type":"kv_namespace","name":"KV","namespace_id":"streams"}]}';

# ---- a 128 MB upload ----

system("head -c 134217728 /dev/urandom > $dir/upload.bin") == 0 or die "cannot make the upload";
my ($want) = split ' ', `sha256sum $dir/upload.bin`;

$t->put_script('tenants', 'hash', q{
    export default { async fetch(request) {
      const digest = new crypto.DigestStream('SHA-256');
      await request.body.pipeTo(digest);
      const hex = [...new Uint8Array(await digest.digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
      return new Response(hex);
    } };
});
my ($got, $rc) = $t->curl('-X', 'POST', '-T', "$dir/upload.bin", $t->url('/t/hash'));
is $got, $want, 'a 128 MB upload is hashed as a stream (crypto.DigestStream) by a script limited to 16m';

$t->put_script('tenants', 'echo', q{
    export default { fetch(request) { return new Response(request.body); } };
});
($got) = $t->curl('-X', 'POST', '-T', "$dir/upload.bin", '-o', "$dir/echo.out", $t->url('/t/echo'));
my ($echoed) = split ' ', `sha256sum $dir/echo.out`;
is $echoed, $want, 'the same upload echoed through request.body comes back byte for byte';

$t->put_script('tenants', 'echo-js', q{
    export default { fetch(request) {
      // through JavaScript: every piece passes a TransformStream
      return new Response(request.body.pipeThrough(new TransformStream({ transform(chunk, c) { c.enqueue(chunk); } })));
    } };
});
($got) = $t->curl('-X', 'POST', '-T', "$dir/upload.bin", '-o', "$dir/echo-js.out", $t->url('/t/echo-js'));
($echoed) = split ' ', `sha256sum $dir/echo-js.out`;
is $echoed, $want, '... and through a TransformStream in JavaScript';
unlink "$dir/upload.bin", "$dir/echo.out", "$dir/echo-js.out";

# ---- a 256 MB response ----

$t->put_script('tenants', 'generate', q{
    export default { fetch(request) {
      const total = Number(new URL(request.url).searchParams.get('mb')) << 20;
      let sent = 0;
      return new Response(new ReadableStream({ pull(c) {
        if (sent >= total) return c.close();
        const chunk = new Uint8Array(65536);
        chunk[0] = sent >> 16 & 255;
        c.enqueue(chunk);
        sent += chunk.byteLength;
      } }));
    } };
});
$t->curl('-o', '/dev/null', $t->url('/t/generate?mb=1'));    # the isolate is up
my $hwm0 = $t->proc_status($worker)->{VmHWM};
my ($bytes) = $t->curl('-o', '/dev/null', '-w', '%{size_download}', $t->url('/t/generate?mb=256'));
is $bytes, 256 << 20, 'a 256 MB generated response arrives whole';
my $growth = $t->proc_status($worker)->{VmHWM} - $hwm0;
cmp_ok $growth, '<', 32 * 1024, "the worker's peak memory grew by less than 32 MB (${growth} kB)";

# ---- a slow client ----

$t->put_script('tenants', 'endless', q{
    let produced = 0;
    export default { fetch(request) {
      if (new URL(request.url).pathname.endsWith('/produced')) return new Response(String(produced));
      return new Response(new ReadableStream({ pull(c) {
        c.enqueue(new Uint8Array(65536));
        produced += 65536;
      } }));
    } };
});
my $rss0 = $t->rss_kb($worker);
my ($received) = $t->curl('--limit-rate', '200k', '--max-time', '3', '-o', '/dev/null', '-w', '%{size_download}',
    $t->url('/t/endless'));
my $produced = $t->request('GET', '/t/endless/produced')->{content};
cmp_ok $produced, '<', 32 << 20,
    "a slow client reading $received bytes: the script produced only $produced (its pull waits for the client)";
cmp_ok $t->rss_kb($worker) - $rss0, '<', 32 * 1024, '... and the worker buffered none of the difference';

# ---- clients that go away mid-stream ----

$t->put_script('tenants', 'cancel', q{
    export default { async fetch(request, env) {
      const url = new URL(request.url);
      if (url.pathname.endsWith('/count')) {
        const { keys } = await env.KV.list({ prefix: 'cancelled:' });
        return new Response(String(keys.length));
      }
      const id = url.searchParams.get('id');
      return new Response(new ReadableStream({
        async pull(c) { c.enqueue(new Uint8Array(16384)); await new Promise((r) => setTimeout(r, 20)); },
        async cancel(reason) { await env.KV.put(`cancelled:${id}`, String(reason)); },
      }));
    } };
}, metadata => $KV);
$t->request('GET', '/t/cancel/count');
sleep 0.5;    # nginx closes its side of that connection
my $fds0 = $t->fd_count($worker);
my @socks;
for my $i (1 .. 50) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port, Timeout => 10) or die "connect: $!";
    print $s "GET /t/cancel?id=$i HTTP/1.1\r\nHost: x\r\n\r\n";
    push @socks, $s;
}
for my $s (@socks) {
    my $sel = IO::Select->new($s);
    my $buf = '';
    while (length $buf < 20000 && $sel->can_read(10)) {
        sysread($s, $buf, 65536, length $buf) or last;
    }
}
close $_ for @socks;
my $count = 0;
my $t0 = time;
while (time - $t0 < 15) {
    $count = $t->request('GET', '/t/cancel/count')->{content};
    last if $count eq '50';
    sleep 0.2;
}
is $count, 50, "50 clients went away mid-stream: each stream's cancel callback ran ($count)";
my $fds = $t->fd_count($worker);
$t0 = time;
while ($fds != $fds0 && time - $t0 < 10) { sleep 0.2; $fds = $t->fd_count($worker) }
is $fds, $fds0, "the worker's fd count is back to its baseline ($fds)"
    or diag `ls -l /proc/$worker/fd`;
is $t->request('GET', '/t/generate?mb=1')->{status}, 200, 'and the worker serves on';

done_testing;
