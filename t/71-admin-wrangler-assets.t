#!/usr/bin/perl
# Static assets with Cloudflare's own CLI: `wrangler deploy
# --dispatch-namespace NS` (the pinned wrangler 4) of a project with
# `assets = { directory = "./public", binding = "ASSETS" }` against
# dispatch_admin with a token: the upload session, the buckets (carrying the
# upload token, not the admin token) and the upload succeed; Redis holds the
# manifest in the script's hash and each file's bytes under its hash; a
# second deploy with one file changed uploads that file only and removes the
# key of the one it replaced; 250 files go as three concurrent buckets; a
# project without `main` deploys its assets alone; a `_redirects` and a
# `_headers` in the assets directory are honoured.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Admin;
use File::Temp qw(tempdir);
use JSON::PP ();

my $WRANGLER = npm_tool_or_skip('.bin/wrangler');

my $t = admin_server();
my $dir = tempdir('dispatch-wrangler-assets-XXXXXX', TMPDIR => 1, CLEANUP => 1);

my %files = (
    'index.html'           => "<!doctype html><h1>hello</h1>\n",
    'style.css'            => "h1 { color: red }\n",
    'img/logo.png'         => join('', map { chr(($_ * 7) % 256) } 0 .. 4095),
    'nested/dir/deep.txt'  => "deep\n",
    'a b.txt'              => "a name with a space\n",
);
write_file("$dir/wrangler.toml", <<'TOML');
name = "site"
main = "src/index.js"
compatibility_date = "2025-01-01"
assets = { directory = "./public", binding = "ASSETS" }
TOML
write_file("$dir/src/index.js", <<'JS');
export default { async fetch(request, env) { return new Response("worker"); } };
JS
write_file("$dir/public/$_", $files{$_}) for keys %files;

sub stored_manifest {
    my $v = $t->redis('HGET', 'dispatch:{sites}:script:site', 'assets');
    my $a = defined $v ? eval { JSON::PP->new->decode($v) } : undef;
    return $a && $a->{manifest} || {};
}
sub asset_keys { return [ sort @{ $t->redis('KEYS', 'dispatch:{sites}:asset:site:*') || [] } ] }

# --- the first deploy uploads every file
{
    my ($rc, $out) = wrangler_against($WRANGLER, $t, $dir, 'deploy', '--dispatch-namespace', 'sites');
    is $rc, 0, 'wrangler deploy --dispatch-namespace sites of a project with assets succeeds' or diag $out;
    like $out, qr/Uploaded 5 files/, 'wrangler uploaded the 5 files' or diag $out;
    my $m = stored_manifest();
    is_deeply [ sort keys %$m ], [ sort map { "/$_" } keys %files ],
        'the script\'s assets field holds the manifest, paths as wrangler sends them (a space unencoded)';
    my @wrong = grep { ($t->redis('HGET', "dispatch:{sites}:asset:site:$m->{\"/$_\"}{hash}", 'body') // '') ne $files{$_} } keys %files;
    is_deeply \@wrong, [], 'each file\'s bytes are stored under its hash, the binary one byte for byte';
    is $t->redis('HGET', "dispatch:{sites}:asset:site:$m->{'/style.css'}{hash}", 'type'), 'text/css; charset=utf-8',
        'with the Content-Type wrangler gave its part';
    is $t->request(GET => '/t/sites/site')->{status}, 200, 'the worker with env.ASSETS runs';
}

# --- a second deploy with one file changed uploads that one and drops the old key
{
    my $old = stored_manifest()->{'/style.css'}{hash};
    write_file("$dir/public/style.css", "h1 { color: blue }\n");
    my ($rc, $out) = wrangler_against($WRANGLER, $t, $dir, 'deploy', '--dispatch-namespace', 'sites');
    is $rc, 0, 'the second deploy succeeds' or diag $out;
    like $out, qr/Found 1 new or modified static asset\b/, 'wrangler was asked for the changed file only' or diag $out;
    my $m = stored_manifest();
    isnt $m->{'/style.css'}{hash}, $old, 'the manifest names the new version';
    is $t->redis('HGET', "dispatch:{sites}:asset:site:$m->{'/style.css'}{hash}", 'body'), "h1 { color: blue }\n", 'which is stored';
    is $t->redis('EXISTS', "dispatch:{sites}:asset:site:$old"), 0, 'the replaced file\'s key is removed';
    is scalar @{ asset_keys() }, 5, 'five asset keys, one per file';
}

# --- 250 files: three buckets, which wrangler uploads three at a time
{
    my $many = "$dir/many";
    write_file("$many/wrangler.toml", qq{name = "many"\nmain = "src/index.js"\ncompatibility_date = "2025-01-01"\n}
                                      . qq{assets = { directory = "./public", binding = "ASSETS" }\n});
    write_file("$many/src/index.js", "export default { fetch() { return new Response('many'); } };\n");
    write_file(sprintf("$many/public/f%03d.txt", $_), "file $_\n") for 1 .. 250;
    my ($rc, $out) = wrangler_against($WRANGLER, $t, $many, 'deploy', '--dispatch-namespace', 'sites');
    is $rc, 0, 'a deploy of 250 assets (three buckets, uploaded concurrently) succeeds' or diag $out;
    like $out, qr/Uploaded 250 files/, 'wrangler uploaded all 250' or diag $out;
    is scalar @{ $t->redis('KEYS', 'dispatch:{sites}:asset:many:*') || [] }, 250, 'and Redis holds 250 files';
    is $t->redis('SCARD', 'dispatch:{sites}:asset-index:many'), 250, 'each in the script\'s index';
}

# --- a project without `main`: assets only (wrangler uploads metadata alone)
{
    my $static = "$dir/static";
    write_file("$static/wrangler.toml", qq{name = "static"\ncompatibility_date = "2025-01-01"\n}
                                        . qq{assets = { directory = "./public", not_found_handling = "404-page" }\n});
    write_file("$static/public/index.html", "<p>static</p>\n");
    write_file("$static/public/404.html", "<p>not here</p>\n");
    my ($rc, $out) = wrangler_against($WRANGLER, $t, $static, 'deploy', '--dispatch-namespace', 'sites');
    is $rc, 0, 'wrangler deploy of an assets-only project succeeds' or diag $out;
    my $v = $t->redis('HGET', 'dispatch:{sites}:script:static', 'assets');
    my $a = defined $v ? eval { JSON::PP->new->decode($v) } : undef;
    is_deeply [ sort keys %{ $a && $a->{manifest} || {} } ], ['/404.html', '/index.html'], 'its manifest is stored';
    is $a && $a->{config}{not_found_handling}, '404-page', 'with the config wrangler sent';
    is $t->redis('HGET', 'dispatch:{sites}:script:static', 'code'), '', 'and no code';
}

# --- _redirects and _headers in the assets directory: wrangler sends their
# text in the config (not as files), and they are honoured (paths under
# /t/sites/rules/, where this server dispatches the script)
{
    my $rules = "$dir/rules";
    write_file("$rules/wrangler.toml", qq{name = "rules"\ncompatibility_date = "2025-01-01"\n}
                                       . qq{assets = { directory = "./public" }\n});
    write_file("$rules/public/t/sites/rules/page.html", "<p>page</p>\n");
    write_file("$rules/public/_redirects", "/t/sites/rules/old  /t/sites/rules/page  301\n/t/sites/rules/go/*  https://example.com/:splat\n");
    write_file("$rules/public/_headers", "/t/sites/rules/*\n  X-Rules: on\n  ! Cache-Control\n");
    my ($rc, $out) = wrangler_against($WRANGLER, $t, $rules, 'deploy', '--dispatch-namespace', 'sites');
    is $rc, 0, 'wrangler deploy of a project with _redirects and _headers succeeds' or diag $out;
    my $v = $t->redis('HGET', 'dispatch:{sites}:script:rules', 'assets');
    my $a = defined $v ? eval { JSON::PP->new->decode($v) } : undef;
    is_deeply [ sort keys %{ $a && $a->{manifest} || {} } ], ['/t/sites/rules/page.html'], 'they are not uploaded as files';
    my $r = $t->request(GET => '/t/sites/rules/old');
    is join(' ', $r->{status}, $r->{headers}{location} // '-'), '301 /t/sites/rules/page', 'a _redirects rule redirects';
    $r = $t->request(GET => '/t/sites/rules/go/a/b?x=1');
    is $r->{headers}{location}, 'https://example.com/a/b?x=1', 'a splat rule to another host';
    $r = $t->request(GET => '/t/sites/rules/page');
    is join(' ', $r->{status}, $r->{content}), "200 <p>page</p>\n", 'the page is served';
    is join(' ', $r->{headers}{'x-rules'} // '-', $r->{headers}{'cache-control'} // '-'), 'on -',
        'with what _headers sets and without what it detaches';
}

$t->stop;
done_testing;
