#!/usr/bin/perl
# The Cache API under the libraries that use it, unchanged, bundled by
# esbuild as wrangler would: @cloudflare/kv-asset-handler (Workers Sites,
# a __STATIC_CONTENT KV binding and its manifest) and hono's cache
# middleware. Both pinned in t/clients/package.json.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Admin qw(npm_dir npm_tool_or_skip);
use File::Temp qw(tempdir);

my $esbuild = npm_tool_or_skip('.bin/esbuild');
npm_tool_or_skip('@cloudflare/kv-asset-handler/package.json');
npm_tool_or_skip('hono/package.json');

# Bundles entry (with more files beside it) into one ES module.
sub bundle {
    my (%files) = @_;
    my $dir = tempdir('cache-bundle-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    for my $name (keys %files) {
        open my $fh, '>', "$dir/$name" or die "$dir/$name: $!";
        print {$fh} $files{$name};
        close $fh;
    }
    symlink(npm_dir() . '/node_modules', "$dir/node_modules") or die "symlink: $!";
    my $out = `cd $dir && $esbuild entry.js --bundle --format=esm --platform=neutral --main-fields=module,main --conditions=worker,browser --alias:__STATIC_CONTENT_MANIFEST=./manifest.js --outfile=out.js 2>&1`;
    is $?, 0, 'esbuild bundles it' or diag $out;
    open my $fh, '<', "$dir/out.js" or die "out.js: $!";
    local $/;
    return scalar <$fh>;
}

my $t = Dispatch::Test->new(
    # the script by host name, so that each sees its own paths
    http   => q{
        dispatch_cache_path %%PREFIX%%/cache keys_zone=dcache:1m;
        map $http_host $site_script { ~^(?<name>[a-z]+)\. $name; default none; }
    },
    server => q{
        location / {
            dispatch_cpu_limit 2s;
            dispatch sites $site_script;
        }
    },
);

sub get_on {
    my ($script, $path, %opts) = @_;
    return $t->get($path, %opts, host => "$script.test");
}

my $kv_meta = '{"bindings":[{"type":"kv_namespace","name":"__STATIC_CONTENT","namespace_id":"site"}]}';

# Workers Sites uploads each file under a hashed name and ships the
# manifest; a loader script of ours writes them through the same binding.
$t->put_script('sites', 'loader', q{
export default {
  async fetch(request, env) {
    await env.__STATIC_CONTENT.put(new URL(request.url).searchParams.get('key'), await request.arrayBuffer());
    return new Response('stored');
  }
};
}, metadata => $kv_meta);
sub upload {
    my ($key, $body) = @_;
    my $r = $t->request('POST', "/?key=$key", content => $body, host => 'loader.test');
    is $r->{content}, 'stored', "uploaded $key";
}
my $page = "<!doctype html><title>site</title><p>" . ('0123456789' x 100) . "</p>\n";
upload('index.0a1b2c3d.html', $page);
upload('app.4e5f6a7b.js', "console.log('hi')\n");

my $site = bundle(
    'manifest.js' => q{export default JSON.stringify({ 'index.html': 'index.0a1b2c3d.html', 'app.js': 'app.4e5f6a7b.js' });},
    'entry.js'    => q{
import { getAssetFromKV, NotFoundError } from '@cloudflare/kv-asset-handler';
import manifestJSON from '__STATIC_CONTENT_MANIFEST';
const assetManifest = JSON.parse(manifestJSON);

export default {
  async fetch(request, env, ctx) {
    try {
      return await getAssetFromKV(
        { request, waitUntil: (promise) => ctx.waitUntil(promise) },
        { ASSET_NAMESPACE: env.__STATIC_CONTENT, ASSET_MANIFEST: assetManifest },
      );
    } catch (e) {
      if (e instanceof NotFoundError) return new Response('not found', { status: 404 });
      return new Response('error: ' + e.message, { status: 500 });
    }
  },
};
});
$t->put_script('sites', 'site', $site, metadata => $kv_meta);

my $first = get_on('site', '/index.html');
is $first->{status}, 200, 'kv-asset-handler serves the page' or diag $first->{content};
is $first->{content}, $page, 'from KV';
is $first->{headers}{'cf-cache-status'}, 'MISS', 'a miss the first time';
my $hit;
$t->wait_for(sub { $hit = get_on('site', '/index.html'); ($hit->{headers}{'cf-cache-status'} // '') eq 'HIT' }, timeout => 5);
is $hit->{headers}{'cf-cache-status'}, 'HIT', 'then a hit, once its put in ctx.waitUntil() is done';
is $hit->{content}, $page, 'with the same page';
like $hit->{headers}{'content-type'}, qr{^text/html}, 'and its content type';

# the cache answers, not KV: a changed value is not seen while it is fresh
upload('index.0a1b2c3d.html', 'changed in KV');
is get_on('site', '/index.html')->{content}, $page, 'the cached page is served while KV changed';
is get_on('site', '/')->{content}, $page, '/ maps to index.html and its cached entry';
my $etag = $hit->{headers}{etag};
ok $etag, "the cached page has an ETag ($etag)";
my $nm = get_on('site', '/index.html', headers => { 'If-None-Match' => $etag });
is $nm->{status}, 304, 'If-None-Match with its ETag answers 304';
my $range = get_on('site', '/index.html', headers => { Range => 'bytes=0-14' });
is $range->{status}, 206, 'a Range request answers 206 from the cache';
is $range->{content}, '<!doctype html>', 'with the bytes asked for';
is get_on('site', '/app.js')->{content}, "console.log('hi')\n", 'another asset of the manifest';
is get_on('site', '/missing.css')->{status}, 404, 'an asset outside the manifest is 404';

# hono's cache middleware
my $hono = bundle('entry.js' => q{
import { Hono } from 'hono';
import { cache } from 'hono/cache';

const app = new Hono();
let count = 0;
app.get('*', cache({ cacheName: 'hono-app', cacheControl: 'max-age=3600', wait: true }));
app.get('/count', (c) => c.text(`count ${++count}`));
app.get('/vary', (c) => { c.header('Vary', 'Accept-Language'); return c.text(`lang ${c.req.header('accept-language')} ${++count}`); });
export default app;
});
$t->put_script('sites', 'hono', $hono);
my $c1 = get_on('hono', '/count');
is $c1->{status}, 200, 'hono answers' or diag $c1->{content};
is $c1->{content}, 'count 1', 'the handler runs the first time';
is get_on('hono', '/count')->{content}, 'count 1', 'hono/cache answers the second request from the cache';
is get_on('hono', '/count?other')->{content}, 'count 2', 'another URL is another entry';
is get_on('hono', '/count')->{headers}{'cache-control'}, 'max-age=3600', 'with the Cache-Control it set';

is_deeply [ $t->error_log_alerts ], [], 'no alerts in the error log';
done_testing;
