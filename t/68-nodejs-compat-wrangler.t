#!/usr/bin/perl
# Issue 15, Node.js compatibility with a real bundler: wrangler 4 (pinned in
# t/clients/package-lock.json) bundles a worker that uses Buffer, process,
# events, stream, stream/promises, AsyncLocalStorage, crypto, util, path and
# string_decoder with compatibility_flags = ["nodejs_compat"]
# (`wrangler deploy --dry-run --outdir`). Its unenv preset leaves the
# node:* modules workerd has to the runtime and polyfills the rest around
# globalThis.process and process.getBuiltinModule: every import it leaves
# must resolve here, and the bundle must run as it would on Workers.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Admin;
use File::Temp qw(tempdir);
use JSON::PP qw(decode_json);

my $WRANGLER = npm_tool_or_skip('.bin/wrangler');
my $dir = tempdir('dispatch-node-bundle-XXXXXX', TMPDIR => 1, CLEANUP => 1);


write_file("$dir/wrangler.toml", <<'TOML');
name = "node-bundle"
main = "worker.js"
compatibility_date = "2025-09-01"
compatibility_flags = ["nodejs_compat"]
TOML

write_file("$dir/worker.js", <<'JS');
import { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import util from 'node:util';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';

const als = new AsyncLocalStorage();

export default {
  async fetch(request, env) {
    return als.run({ id: 7 }, async () => {
      const emitter = new EventEmitter();
      let heard;
      emitter.on('x', (v) => { heard = v; });
      emitter.emit('x', 1);
      const chunks = [];
      const upper = new Transform({ transform(c, _, cb) { chunks.push(String(c)); cb(null, String(c).toUpperCase()); } });
      let drained = '';
      await pipeline(Readable.from(['a', 'b']), upper, async function* (source) {
        for await (const c of source) drained += c;
      });
      await new Promise((resolve) => setTimeout(resolve, 1));
      return Response.json({
        base64: Buffer.from('hi').toString('base64'),
        env: process.env.GREETING,
        heard, chunks, drained,
        store: als.getStore(),
        sha: createHash('sha256').update('x').digest('hex'),
        format: util.format('%s-%d', 'a', 1),
        path: path.join('a', '..', 'b'),
        decoded: new StringDecoder('utf8').write(Buffer.from('ok')),
        consoleIsObject: typeof console.log,
      });
    });
  },
};
JS

my ($rc, $out) = wrangler_dry_run($WRANGLER, $dir);
is $rc, 0, 'wrangler bundles the worker' or diag $out;

my $bundle = do { local $/; open my $b, '<', "$dir/out/worker.js" or die "bundle: $!"; <$b> };
my %imports = map { $_ => 1 } $bundle =~ /\bfrom\s+"(node:[^"]+)"/g;
my @imported = sort keys %imports;
note "the bundle imports: @imported";
ok scalar(@imported) >= 5, 'the bundle leaves node: imports to the runtime';
like $bundle, qr/getBuiltinModule\("node:process"\)/, 'and asks globalThis.process for node:process';

# Uploaded as wrangler would upload it, through the management API (whose
# validation starts the script in a scratch isolate with its metadata).
my $t = admin_server();
envelope_ok(api($t, POST => '', json => { name => 'node' }), 'a namespace for it');
my %meta = (main_module => 'worker.js', compatibility_date => '2025-09-01',
            compatibility_flags => ['nodejs_compat'],
            bindings => [{ type => 'plain_text', name => 'GREETING', text => 'hello' }]);
sub upload {
    my ($name, $code, %m) = @_;
    return curl_upload($t, 'node', $name, metadata => \%m,
        files => [[ 'worker.js', 'worker.js', 'application/javascript+module', $code ]]);
}

# every node: module the bundle imports resolves on its own
for my $module (@imported) {
    (my $name = $module) =~ s/[^a-z]+/-/g;
    envelope_ok(upload($name, qq{ import * as m from '$module'; export default { fetch() { return new Response(typeof m.default); } }; }, %meta),
                "a script importing $module uploads");
    my $r = $t->get("/t/node/$name");
    is $r->{status}, 200, "$module resolves" or diag $r->{content};
}

envelope_ok(upload('bundle', $bundle, %meta), 'the bundle uploads with nodejs_compat');
my $r = $t->get('/t/node/bundle');
is $r->{status}, 200, 'the bundled worker answers' or diag $r->{content}, $t->error_log;
my $got = eval { decode_json($r->{content}) } || {};
is $got->{base64}, 'aGk=', 'Buffer';
is $got->{env}, 'hello', 'process.env from the text binding, through the bundle\'s process polyfill';
is $got->{heard}, 1, 'EventEmitter';
is_deeply $got->{chunks}, ['a', 'b'], 'a Transform in stream/promises pipeline';
is $got->{drained}, 'AB', 'an async generator as the last stage of the pipeline';
is_deeply $got->{store}, { id => 7 }, 'AsyncLocalStorage across await and a timer';
is $got->{sha}, '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881', 'createHash';
is $got->{format}, 'a-1', 'util.format';
is $got->{path}, 'b', 'path.join';
is $got->{decoded}, 'ok', 'StringDecoder';
is $got->{consoleIsObject}, 'function', "the bundle's console polyfill works";

delete $meta{compatibility_flags};
my $refused = upload('noflag', $bundle, %meta);
isnt $refused->{status}, 200, 'without nodejs_compat the upload is refused';
like $refused->{content}, qr/nodejs_compat/, 'and the error says the flag is needed';

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
done_testing;
