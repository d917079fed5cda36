#!/usr/bin/perl
# wrangler 4 (t/clients/package-lock.json) bundling a worker at today's
# compatibility dates ("2026-11-01", nodejs_compat): its preset leaves
# node:fs, fs/promises, os (from 2025-09-15), punycode, cluster, domain,
# trace_events, wasi (2025-12-04), vm, console, inspector, sqlite, dgram,
# v8, tty, child_process, worker_threads, readline, perf_hooks, repl
# (2026-03-17) to the runtime as node: imports. Every one must resolve here
# (a bundle whose dependencies merely import 'fs' starts), and fs on /tmp
# and /bundle must work as on Workers. (node:sqlite is in the preset's list
# from 2026-01-29, but wrangler 4.86's esbuild cannot resolve an import of
# it: t/67-nodejs-compat-fs.t imports it.)
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
my $DATE = '2026-11-01';
my $dir = tempdir('dispatch-nodefs-XXXXXX', TMPDIR => 1, CLEANUP => 1);
write_file("$dir/wrangler.toml", qq{name = "nodefs"\nmain = "worker.js"\ncompatibility_date = "$DATE"\n}
    . qq{compatibility_flags = ["nodejs_compat"]\n});
# As a dependency with an optional file feature imports it: bare 'fs'.
write_file("$dir/dep.js", <<'JS');
import fs from 'fs';
import path from 'path';
export function cacheTo(dir, key, value) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, key), JSON.stringify(value));
  return JSON.parse(fs.readFileSync(path.join(dir, key), 'utf8'));
}
JS
write_file("$dir/worker.js", <<'JS');
import { cacheTo } from './dep.js';
import { readFile, readdir } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import punycode from 'node:punycode';
import domain from 'node:domain';
import cluster from 'node:cluster';
import { isatty } from 'node:tty';
import { isMainThread } from 'node:worker_threads';
import { performance as perf } from 'node:perf_hooks';
import { spawn } from 'node:child_process';
import vm from 'node:vm';
import v8 from 'node:v8';
import dgram from 'node:dgram';
import readline from 'node:readline';
import repl from 'node:repl';
import trace from 'node:trace_events';
import { WASI } from 'node:wasi';
import inspector from 'node:inspector';
import { Console } from 'node:console';

const thrown = (f) => { try { f(); return 'no error'; } catch (e) { return e.code; } };
export default {
  async fetch() {
    const cached = cacheTo('/tmp/cache', 'k.json', { n: 42 });
    return Response.json({
      cached,
      tmpList: await readdir('/tmp/cache'),
      readBack: await readFile('/tmp/cache/k.json', 'utf8'),
      bundle: readFileSync('/bundle/worker.js', 'utf8').includes('cacheTo'),
      tmpdir: os.tmpdir(),
      puny: punycode.toASCII('mañana.com'),
      domain: typeof domain.create,
      cluster: cluster.isPrimary,
      tty: isatty(1),
      main: isMainThread,
      perf: perf === performance,
      notImplemented: [spawn, vm.runInThisContext, v8.serialize, dgram.createSocket, readline.createInterface, repl.start,
        trace.createTracing, WASI, inspector.open].map((f) => thrown(() => f())),
      console: typeof Console,
    });
  },
};
JS

my @bundled = wrangler_dry_runs($WRANGLER, [$dir], 90);
is $bundled[0][0], 0, "wrangler bundles the worker at $DATE" or diag $bundled[0][1];
my $bundle = do { local $/; open my $b, '<', "$dir/out/worker.js" or die "bundle: $!"; <$b> };
my %imports = map { $_ => 1 } $bundle =~ /\bfrom\s+"((?:node:)?[a-z_][^"]*)"/g;  # node:X, and bare names as dependencies write them
note 'the bundle imports: ' . join ' ', sort keys %imports;
ok $imports{$_}, "wrangler leaves $_ to the runtime" for qw(fs node:fs node:fs/promises node:os node:punycode node:vm node:v8);

my $t = admin_server();
envelope_ok(api($t, POST => '', json => { name => 'node' }), 'a namespace for it');
my %meta = (main_module => 'worker.js', compatibility_date => $DATE, compatibility_flags => ['nodejs_compat']);
sub upload {
    my ($name, $code) = @_;
    return curl_upload($t, 'node', $name, metadata => \%meta,
        files => [[ 'worker.js', 'worker.js', 'application/javascript+module', $code ]]);
}

# every node: module the bundle imports resolves on its own
for my $module (sort keys %imports) {
    (my $name = $module) =~ s/[^a-z]+/-/g;
    envelope_ok(upload($name, qq{ import * as m from '$module'; export default { fetch() { return new Response(typeof m.default); } }; }),
                "a script importing $module uploads");
    is $t->get("/t/node/$name")->{status}, 200, "$module resolves";
}

envelope_ok(upload('bundle', $bundle), 'the bundle uploads (it starts)');
my $r = $t->get('/t/node/bundle');
is $r->{status}, 200, 'the bundled worker answers' or diag $r->{content};
my $got = eval { decode_json($r->{content}) } || {};
is_deeply $got->{cached}, { n => 42 }, "a dependency's bare 'fs' writes and reads /tmp";
is_deeply $got->{tmpList}, ['k.json'], 'fs/promises readdir';
is $got->{readBack}, '{"n":42}', 'fs/promises readFile';
is $got->{bundle}, JSON::PP::true, '/bundle/worker.js is the uploaded bundle';
is $got->{tmpdir}, '/tmp', 'node:os';
is $got->{puny}, 'xn--maana-pta.com', 'node:punycode';
is $got->{domain}, 'function', 'node:domain';
is $got->{cluster}, JSON::PP::true, 'node:cluster';
is $got->{tty}, JSON::PP::false, 'node:tty';
is $got->{main}, JSON::PP::true, 'node:worker_threads';
is $got->{perf}, JSON::PP::true, 'node:perf_hooks';
is_deeply $got->{notImplemented}, [('ERR_METHOD_NOT_IMPLEMENTED') x 9], 'the stubs link and throw when called';
is $got->{console}, 'function', 'node:console';

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
done_testing;
