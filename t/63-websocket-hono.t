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
use Dispatch::WebSocket;

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

my $c = ws_open($t->port, '/ws');
is $c->{status}, 101, 'hono\'s upgradeWebSocket answers 101';
ws_send($c, 1, 'ping');
is_deeply ws_recv($c), [1, 'hono ping 1', 0x80, 0], 'its onMessage answers through WSContext.send, readyState OPEN';
ws_send($c, 8, pack('n', 1000) . 'ok');
ok $t->wait_for(sub { $t->error_log =~ /console: hono close 1000 ok/ }), 'its onClose sees the client\'s code and reason';
close $c->{s};

is $t->get('/')->{content}, 'home', 'its other routes are plain requests';
is scalar($t->error_log_alerts), 0, 'no alerts or crashes in the error log'
    or diag join "\n", $t->error_log_alerts;
done_testing;
