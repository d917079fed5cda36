#!/usr/bin/perl
# hono's upgradeWebSocket (hono/cloudflare-workers), bundled by esbuild as
# wrangler would, accepts a WebSocket here as on Cloudflare: a real client
# speaks real frames to it (the npm packages pinned in t/clients).
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Admin;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use IO::Select;
use MIME::Base64 qw(encode_base64);
use Time::HiRes qw(time);

my $ESBUILD = npm_tool_or_skip('.bin/esbuild');
npm_tool_or_skip('hono/package.json');

my $dir = tempdir('dispatch-hono-ws-XXXXXX', TMPDIR => 1, CLEANUP => 1);
symlink(npm_dir() . '/node_modules', "$dir/node_modules") or die "symlink: $!";
open my $src, '>', "$dir/index.js" or die "$dir/index.js: $!";
print $src <<'JS';
import { Hono } from 'hono';
import { upgradeWebSocket } from 'hono/cloudflare-workers';

const app = new Hono();
app.get('/ws', upgradeWebSocket(() => ({
  onMessage(event, ws) { ws.send(`hono ${event.data} ${ws.readyState}`); },
  onClose(event) { console.log(`hono close ${event.code} ${event.reason}`); },
})));
app.get('/', (c) => c.text('home'));
export default app;
JS
close $src;
my $out = `cd $dir && timeout 60 $ESBUILD index.js --bundle --format=esm --platform=neutral --main-fields=module,main --outfile=out.js 2>&1`;
is $?, 0, 'esbuild bundles the hono app' or diag $out;
my $bundle = do { local $/; open my $b, '<', "$dir/out.js" or die "out.js: $!"; <$b> };

my $t = Dispatch::Test->new(
    server => q{ location / { dispatch tenants hono; } },
);
$t->put_script('tenants', 'hono', $bundle);

sub fill {
    my ($c, $deadline) = @_;
    return 0 unless IO::Select->new($c->{s})->can_read(($deadline - time) > 0 ? $deadline - time : 0);
    my $n = sysread $c->{s}, my $more, 65536;
    return 0 unless $n;
    $c->{buf} .= $more;
    return 1;
}

my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port, Proto => 'tcp') or die "connect: $!";
my $key = encode_base64(join('', map { chr int rand 256 } 1 .. 16), '');
syswrite $s, "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    . "Sec-WebSocket-Key: $key\r\nSec-WebSocket-Version: 13\r\n\r\n";
my $c = { s => $s, buf => '' };
my $deadline = time + 5;
1 while $c->{buf} !~ /\r\n\r\n/ && fill($c, $deadline);
like $c->{buf}, qr{^HTTP/1\.1 101 }, 'hono\'s upgradeWebSocket answers 101';
$c->{buf} =~ s/^.*?\r\n\r\n//s;

my $mask = 'abcd';
my $payload = 'ping';
syswrite $s, chr(0x81) . chr(0x80 | length $payload) . $mask . ($payload ^ $mask);
$deadline = time + 5;
1 while length($c->{buf}) < 2 + length('hono ping 1') && fill($c, $deadline);
is $c->{buf}, chr(0x81) . chr(11) . 'hono ping 1', 'its onMessage answers through WSContext.send, readyState OPEN';

syswrite $s, chr(0x88) . chr(0x80 | 4) . $mask . ((pack('n', 1000) . 'ok') ^ $mask);
ok $t->wait_for(sub { $t->error_log =~ /console: hono close 1000 ok/ }), 'its onClose sees the client\'s code and reason';
close $s;

is $t->get('/')->{content}, 'home', 'its other routes are plain requests';
is scalar($t->error_log_alerts), 0, 'no alerts or crashes in the error log'
    or diag join "\n", $t->error_log_alerts;
done_testing;
