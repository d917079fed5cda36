#!/usr/bin/perl
# Issue 15, Node.js compatibility with a real bundler: wrangler 4 (pinned in
# t/clients/package-lock.json) bundles a worker that uses Buffer, process,
# events, stream, stream/promises, AsyncLocalStorage, crypto, util, path and
# string_decoder with compatibility_flags = ["nodejs_compat"]
# (`wrangler deploy --dry-run --outdir`). Its unenv preset leaves the
# node:* modules workerd has to the runtime and polyfills the rest around
# globalThis.process and process.getBuiltinModule: every import it leaves
# must resolve here, and the bundle must run as it would on Workers. From
# 2025-08-15 it leaves node:http, node:https and node:http2 too.
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
# A wrangler project NAME whose worker.js is JS, with nodejs_compat: its directory.
sub project {
    my ($name, $js) = @_;
    my $dir = tempdir("dispatch-$name-XXXXXX", TMPDIR => 1, CLEANUP => 1);
    write_file("$dir/wrangler.toml", qq{name = "$name"\nmain = "worker.js"\ncompatibility_date = "2025-09-01"\n}
        . qq{compatibility_flags = ["nodejs_compat"]\n});
    write_file("$dir/worker.js", $js);
    return $dir;
}

my $dir = project('node-bundle', <<'JS');
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

# From a compatibility date of 2025-08-15 wrangler leaves node:http,
# node:https and node:http2 to the runtime too: a worker that imports them,
# and extends https.Agent at its top level as agent-base and agentkeepalive
# (dependencies of many SDKs' Node builds) do.
my $http_dir = project('node-http', <<'JS');
import http from 'node:http';
import https from 'node:https';
import { constants as h2 } from 'node:http2';

class KeepAliveAgent extends https.Agent {
  constructor(options) {
    super({ keepAlive: true, ...options });
    this.freeSocketTimeout = options.freeSocketTimeout ?? 4000;
  }
}

const attempt = (f) => { try { return f(); } catch (e) { return `${e.code}: ${e.message}`; } };
export default {
  fetch() {
    const agent = new KeepAliveAgent({ maxSockets: 8, freeSocketTimeout: 3000 });
    return Response.json({
      teapot: http.STATUS_CODES[418], patch: http.METHODS.includes('PATCH'), maxHeaderSize: http.maxHeaderSize,
      agent: [agent instanceof https.Agent, agent instanceof http.Agent, agent.defaultPort, agent.protocol, agent.keepAlive,
              agent.maxSockets, agent.options.freeSocketTimeout, agent.freeSocketTimeout],
      globalAgent: [https.globalAgent.defaultPort, http.globalAgent.defaultPort],
      badName: attempt(() => http.validateHeaderName('bad header')),
      badValue: attempt(() => http.validateHeaderValue('x-a', 'line\nbreak')),
      goodHeader: attempt(() => { http.validateHeaderName('x-ok'); http.validateHeaderValue('x-ok', 'fine'); return 'ok'; }),
      request: attempt(() => https.request('https://example.com/')),
      h2: [h2.HTTP2_HEADER_STATUS, h2.HTTP2_HEADER_CONTENT_TYPE, h2.HTTP2_METHOD_GET],
    });
  },
};
JS

my @bundled = wrangler_dry_runs($WRANGLER, [$dir, $http_dir], 90);
my ($rc, $out) = @{ $bundled[0] };
is $rc, 0, 'wrangler bundles the worker' or diag $out;
is $bundled[1][0], 0, 'wrangler bundles the worker with node:http' or diag $bundled[1][1];

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

my $http_bundle = do { local $/; open my $b, '<', "$http_dir/out/worker.js" or die "bundle: $!"; <$b> };
my %http_imports = map { $_ => 1 } $http_bundle =~ /\bfrom\s+"(node:[^"]+)"/g;
ok $http_imports{'node:http'} && $http_imports{'node:https'} && $http_imports{'node:http2'},
    'wrangler leaves node:http, node:https and node:http2 to the runtime' or diag explain \%http_imports;
envelope_ok(upload('http', $http_bundle, %meta), 'the bundle importing node:http uploads (it starts)');
$r = $t->get('/t/node/http');
$got = eval { decode_json($r->{content}) } || do { diag $r->{content}; {} };
is $got->{teapot}, "I'm a Teapot", 'http.STATUS_CODES';
is $got->{patch}, JSON::PP::true, 'http.METHODS';
is $got->{maxHeaderSize}, 16384, 'http.maxHeaderSize';
is_deeply $got->{agent}, [JSON::PP::true, JSON::PP::true, 443, 'https:', JSON::PP::true, 8, 3000, 3000],
    'a class extending https.Agent (and so http.Agent), with its options';
is_deeply $got->{globalAgent}, [443, 80], 'the global agents';
like $got->{badName}, qr/^ERR_INVALID_HTTP_TOKEN: Header name must be a valid HTTP token/, 'validateHeaderName refuses a space';
like $got->{badValue}, qr/^ERR_INVALID_CHAR: Invalid character in header content/, 'validateHeaderValue refuses a line break';
is $got->{goodHeader}, 'ok', 'and both accept a good header';
like $got->{request}, qr/^ERR_METHOD_NOT_IMPLEMENTED: node:https request\(\) is not implemented/, 'a request throws: not implemented';
is_deeply $got->{h2}, [':status', 'content-type', 'GET'], "node:http2's header and method constants";

delete $meta{compatibility_flags};
my $refused = upload('noflag', $bundle, %meta);
isnt $refused->{status}, 200, 'without nodejs_compat the upload is refused';
like $refused->{content}, qr/nodejs_compat/, 'and the error says the flag is needed';

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
done_testing;
