#!/usr/bin/perl
# Issue 12: fetch() bodies are streams both ways, so a large transfer passes
# through a script in constant memory. Sized at eight times the script's
# dispatch_memory_limit (16m): a 128 MB upstream response passed on to the
# client and read chunk by chunk in JavaScript, a 128 MB upload passed on to
# the upstream, each compared by SHA-256, the worker's peak memory (VmHWM)
# growing by less than 32 MB each time; and a slow upstream body read as it
# arrives (its first chunk reaches the script, and the client, before the
# upstream sends its last).
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::TestUpstream;
use HTTP::Tiny;
use IO::Select;
use JSON::PP qw(decode_json);
use Time::HiRes qw(time sleep);
no strict 'refs';    # a check that threw is a string: looking into it gives undef

my $up = Dispatch::TestUpstream->new;
my $ngx_up = Dispatch::Test::free_port;
my $t = Dispatch::Test->new(
    workers => 1,
    http    => qq{
    dispatch_memory_limit 16m;
    dispatch_cpu_limit 20s;
    client_max_body_size 0;
    dispatch_fetch_allow 127.0.0.1/32;
    server {
        listen 127.0.0.1:$ngx_up;
        access_log off;
        location /big/ { root %%PREFIX%%/www; }
    }},
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; } },
);
my ($worker) = $t->worker_pids;
my $dir = $t->prefix;
mkdir "$dir/www";
mkdir "$dir/www/big";
chmod 0755, "$dir/www", "$dir/www/big";
system("head -c 134217728 /dev/urandom > $dir/www/big/128m.bin") == 0 or die "cannot make the 128 MB file";
system("head -c 65536 /dev/urandom > $dir/www/big/small.bin") == 0 or die "cannot make the small file";
chmod 0644, "$dir/www/big/128m.bin", "$dir/www/big/small.bin";
my ($want) = split ' ', `sha256sum $dir/www/big/128m.bin`;

my $UP  = 'http://127.0.0.1:' . $up->port;
my $NGX = "http://127.0.0.1:$ngx_up";
sub script { my ($name, $code) = @_; $t->put_script('tenants', $name, "const UP = '$UP', NGX = '$NGX';\n" . $code) }
sub hwm { $t->proc_status($worker)->{VmHWM} // 0 }

# ---- a 128 MB response ----

script('pass', q{
    export default { async fetch(request) {
      const file = new URL(request.url).searchParams.get('file');
      return new Response((await fetch(`${NGX}/big/${file}`)).body);
    } };
});
my ($small) = $t->curl('-o', '/dev/null', '-w', '%{http_code} %{size_download}', $t->url('/t/pass?file=small.bin'));
is $small, '200 65536', 'a script passes an upstream response on: new Response((await fetch(u)).body)';
my $hwm0 = hwm();
my ($got) = $t->curl('-o', "$dir/out.bin", '-w', '%{http_code}', $t->url('/t/pass?file=128m.bin'));
is $got, '200', 'a 128 MB upstream response through a script limited to 16m';
my ($sha) = split ' ', `sha256sum $dir/out.bin`;
my $growth = hwm() - $hwm0;
is $sha, $want, '... arrives byte for byte (SHA-256)';
unlink "$dir/out.bin";
ok $sha eq $want && $growth < 32 * 1024, "... while the worker's peak memory grew by less than 32 MB (${growth} kB)";

script('digest', q{
    export default { async fetch(request) {
      const res = await fetch(`${NGX}/big/128m.bin`);
      const digest = new crypto.DigestStream('SHA-256');
      const writer = digest.getWriter();
      let bytes = 0, chunks = 0, largest = 0;
      for await (const chunk of res.body) {
        bytes += chunk.byteLength; chunks++; largest = Math.max(largest, chunk.byteLength);
        await writer.write(chunk);
      }
      await writer.close();
      const sha = [...new Uint8Array(await digest.digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
      return Response.json({ bytes, chunks, largest, sha, isStream: res.body instanceof ReadableStream });
    } };
});
$hwm0 = hwm();
my $r = $t->get('/t/digest', timeout => 60);
my $d = eval { decode_json($r->{content}) } || {};
is $d->{isStream}, JSON::PP::true, 'response.body is a ReadableStream';
is $d->{bytes}, 128 << 20, 'read chunk by chunk in JavaScript, all 128 MB arrive';
is $d->{sha}, $want, '... byte for byte (crypto.DigestStream over the chunks)';
cmp_ok $d->{chunks} // 0, '>', 100, "... in pieces ($d->{chunks})";
cmp_ok $d->{largest} // 1e12, '<=', 16 << 20, "... none of them anywhere near the whole body ($d->{largest} bytes at most)";
$growth = hwm() - $hwm0;
ok(($d->{sha} // '') eq $want && $growth < 32 * 1024,
   "... while the worker's peak memory grew by less than 32 MB (${growth} kB)");

# ---- a 128 MB upload ----

script('upload', q{
    export default { async fetch(request) {
      const res = await fetch(UP + '/echo/upload?nobody', { method: 'POST', body: request.body });
      return new Response(res.body, res);
    } };
});
$hwm0 = hwm();
my ($out) = $t->curl('-X', 'POST', '-T', "$dir/www/big/128m.bin", $t->url('/t/upload'));
my $e = eval { decode_json($out) } || {};
is $e->{method}, 'POST', 'a 128 MB upload passed on: fetch(u, { method: "POST", body: request.body })';
is $e->{length}, 128 << 20, '... the upstream received all of it';
$growth = hwm() - $hwm0;
is $e->{sha256}, $want, '... byte for byte (SHA-256 computed by the upstream)';
ok(($e->{sha256} // '') eq $want && $growth < 32 * 1024,
   "... while the worker's peak memory grew by less than 32 MB (${growth} kB)");
unlink "$dir/www/big/128m.bin";

# ---- a slow upstream body is read as it arrives ----
# /drip sends "first;" and holds the rest until /ack was asked (at most 5 s):
# "last:acked" proves the first piece was out before the last was sent.

script('drip', q{
    export default { async fetch() {
      const t0 = Date.now();
      const res = await fetch(UP + '/drip?id=script');
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      const first = (await reader.read()).value;
      const firstMs = Date.now() - t0;
      await (await fetch(UP + '/ack?id=script')).text();   // only now does the upstream send the rest
      let rest = '';
      for (;;) { const { value, done } = await reader.read(); if (done) break; rest += value; }
      return Response.json({ first, firstMs, rest });
    } };
});
$r = $t->get('/t/drip', timeout => 15);
$d = eval { decode_json($r->{content}) } || {};
is $d->{first}, 'first;', "the script reads the upstream's first chunk";
is $d->{rest}, 'last:acked', '... before the upstream sent the last (the script told it to go on)';
cmp_ok $d->{firstMs} // 1e9, '<', 2000, "... at once ($d->{firstMs} ms)";

script('drip-through', q{
    export default { async fetch() { return new Response((await fetch(UP + '/drip?id=client')).body); } };
});
my $h = $t->send_request({ path => '/t/drip-through' });
my $buf = '';
my $sel = IO::Select->new($h->{fh});
my $end = time + 4;
while ($buf !~ /first;/ && time < $end) {
    last unless $sel->can_read($end - time);
    sysread($h->{fh}, $buf, 65536, length $buf) or last;
}
like $buf, qr/first;/, 'a client gets the first chunk of a slow upstream body passed on';
ok !grep({ $_->{ev} eq 'drip-last' && $_->{id} eq 'client' } $up->events), '... before the upstream sent the last';
is(HTTP::Tiny->new(timeout => 5)->get("$UP/ack?id=client")->{content}, 'ok', '(the test tells the upstream to go on)');
$end = time + 8;
while ($buf !~ /last:/ && time < $end) {
    last unless $sel->can_read($end - time);
    sysread($h->{fh}, $buf, 65536, length $buf) or last;
}
close $h->{fh};
like $buf, qr/last:acked/, '... then the rest';

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
$up->stop;
done_testing;
