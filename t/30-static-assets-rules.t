#!/usr/bin/perl
# _redirects and _headers of static assets (README "Static assets"), as the
# management API stores their text in the script's assets config and
# Cloudflare's asset server applies them: redirects (301/302/303/307/308,
# 200 rewrites) before the asset lookup, static rules before dynamic ones,
# the first match wins, splats and placeholders substituted; header blocks
# matching the path (or https://host/path) combine on asset responses and
# never on the worker's. Hostile files stay within their limits and cost
# time linear in the request.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Digest::MD5 qw(md5_hex);
use JSON::PP qw(encode_json);
use Time::HiRes qw(time);

my $t = Dispatch::Test->new(
    http   => q{ dispatch_asset_cache 1m; },
    server => q{
        location / { dispatch sites $http_x_site; }
    },
);

my %files = (
    '/index.html'        => ['<h1>home</h1>', 'text/html; charset=utf-8'],
    '/shell.html'        => ['<div id=app>', 'text/html; charset=utf-8'],
    '/style.css'         => ['body{}', 'text/css; charset=utf-8'],
    '/css/site.css'      => ['h1{}', 'text/css; charset=utf-8'],
    '/data.bin'          => ['0123456789', 'application/octet-stream'],
);

# A script with these files and rules, stored as the management API
# stores it (the text of each file in the assets config).
my $n = 0;
sub site {
    my (%o) = @_;
    my $name = 'r' . ++$n;
    my %manifest;
    for my $path (sort keys %files) {
        my ($body, $type) = @{ $files{$path} };
        my $hash = md5_hex("$path:$body");
        $manifest{$path} = { hash => $hash, size => length $body };
        $t->redis('HSET', "dispatch:{sites}:asset:$name:$hash", 'body', $body, 'type', $type);
    }
    my %config = %{ $o{config} || {} };
    $config{_redirects} = $o{redirects} if defined $o{redirects};
    $config{_headers} = $o{headers} if defined $o{headers};
    $t->put_script('sites', $name, $o{code} // '', assets => encode_json({ manifest => \%manifest, config => \%config }));
    return $name;
}
sub get {
    my ($site, $path, %h) = @_;
    my $method = delete $h{method} || 'GET';
    my $host = delete $h{host};
    return $t->request($method, $path, headers => { 'X-Site' => $site, %h }, (defined $host ? (host => $host) : ()));
}
sub redirect_of {
    my ($site, $path, %h) = @_;
    my $r = get($site, $path, %h);
    return "$r->{status} " . ($r->{headers}{location} // '-');
}

my $WORKER = q{export default { fetch(req) { return new Response('worker ' + new URL(req.url).pathname, { headers: { 'x-from': 'worker' } }); } };};

# ---- _redirects ---------------------------------------------------------------

my $basic = site(redirects => <<'EOF');
# comments and blank lines are skipped

/old           /new            301
/found         /there
/see           /other          303   # a trailing comment
/temp          /t              307
/perm          /p              308
/with-query    /q?a=1          301
/style.css     /css/site.css
/blog/*        /posts/:splat   301
/u/:id/:tab    /users/:tab/:id 302
/ext/*         https://example.com/x/:splat 301
EOF

is redirect_of($basic, '/old'), '301 /new', 'a static rule redirects with its status';
is redirect_of($basic, '/found'), '302 /there', 'the status defaults to 302';
is redirect_of($basic, '/see'), '303 /other', 'status 303, a comment after the rule ignored';
is redirect_of($basic, '/temp'), '307 /t', 'status 307';
is redirect_of($basic, '/perm'), '308 /p', 'status 308';
is redirect_of($basic, '/old?x=1'), '301 /new?x=1', "the request's query goes along";
is redirect_of($basic, '/with-query?x=1'), '301 /q?a=1', "a destination's own query replaces it";
is redirect_of($basic, '/style.css'), '302 /css/site.css', 'redirects come before the asset lookup (the file exists)';
is redirect_of($basic, '/blog/2024/hello'), '301 /posts/2024/hello', 'a splat takes the rest, slashes and all';
is redirect_of($basic, '/blog/'), '301 /posts/', 'a splat may be empty';
is redirect_of($basic, '/u/42/profile'), '302 /users/profile/42', 'placeholders take a segment each';
is redirect_of($basic, '/u/42/profile/more'), '404 -', 'a placeholder does not span a /';
is redirect_of($basic, '/ext/a/b?q=1'), '301 https://example.com/x/a/b?q=1', 'an absolute destination';
is redirect_of($basic, '/old', method => 'POST'), '301 /new', 'any method is redirected';

my $order = site(redirects => <<'EOF');
/s/*      /first
/s/x      /second
/p/:a     /by-placeholder/:a
/p/*      /by-splat/:splat
/adj/:a:b /to/:a/:b
/sp/:a*   /sp2/:a/:splat
/static   /static-target
EOF
is redirect_of($order, '/s/x'), '302 /first', 'after a dynamic rule, a rule without splat or placeholder is matched in order: the first match wins';
is redirect_of($order, '/p/one'), '302 /by-placeholder/one', 'the first dynamic rule that matches wins';
is redirect_of($order, '/p/one/two'), '302 /by-splat/one/two', 'the next one when it does not';
is redirect_of($order, '/adj/xyz'), '302 /to/xy/z', 'placeholders one after the other: the first takes all it can (as a greedy RegExp)';
is redirect_of($order, '/sp/ab/c'), '302 /sp2/ab/c', 'a placeholder before the splat too';
is redirect_of($order, '/static'), '302 /static-target', 'a rule after dynamic ones still matches';

my $rewrite = site(redirects => <<'EOF', code => $WORKER);
/app/*     /shell     200
/gone/*    /missing   200
/to-worker /elsewhere 302
EOF
{
    my $r = get($rewrite, '/app/some/route');
    is "$r->{status} $r->{content}", '200 <div id=app>', 'a 200 rule serves its destination\'s asset at the path asked for';
    $r = get($rewrite, '/gone/x');
    is "$r->{status} " . ($r->{headers}{'x-from'} // 'assets'), '404 assets',
        'a 200 rule to no asset is the assets\' 404, not the worker';
    is redirect_of($rewrite, '/to-worker'), '302 /elsewhere', 'a script with a worker: a rule redirects a path no asset answers';
    is get($rewrite, '/nothing')->{content}, 'worker /nothing', 'what no rule or asset answers goes to the worker';
}
my $first = site(redirects => "/r /elsewhere\n", code => $WORKER, config => { run_worker_first => JSON::PP::true });
is get($first, '/r')->{content}, 'worker /r', 'run_worker_first: the worker gets the path, no redirect';

# ---- hostile destinations: the Location never leaves the origin by accident,
# never carries a control byte
my $hostile = site(redirects => <<"EOF");
/a        //evil.example/x
/b/*      /:splat
/c/*      /c2/:splat
/d        /\\evil.example/x
/ctl      /x\x01y
/m/*/*/*  /many
/n/:a/:a  /same
EOF
is redirect_of($hostile, '/a'), '302 /evil.example/x', 'a destination //host is a path on this origin';
is redirect_of($hostile, '/b//evil.example'), '302 /evil.example', 'a splat that starts with / makes no //host';
is redirect_of($hostile, '/d'), '302 /evil.example/x', 'nor does a backslash';
{
    my $r = get($hostile, '/c/%0D%0ASet-Cookie:x=1');
    is $r->{status}, 302, 'an encoded CR LF in the path';
    is $r->{headers}{location}, '/c2/%0D%0ASet-Cookie:x=1', 'stays encoded in the Location';
    ok !exists $r->{headers}{'set-cookie'}, 'and adds no header';
}
is redirect_of($hostile, '/ctl'), '404 -', 'a rule with a control byte is skipped';
is redirect_of($hostile, '/m/a/b/c'), '404 -', 'a pattern of several splats never matches (as on Cloudflare)';
is redirect_of($hostile, '/n/a/a'), '404 -', 'nor one with a placeholder name twice';

# ---- limits ----------------------------------------------------------------------

{
    my $text = join('', map { "/s$_ /t$_\n" } 1 .. 2001) . join('', map { "/d$_/* /e$_\n" } 1 .. 101)
             . '/' . ('x' x 1000) . " /long\n";
    my $limits = site(redirects => $text);
    is redirect_of($limits, '/s2000'), '302 /t2000', 'the 2,000th static rule applies';
    is redirect_of($limits, '/s2001'), '404 -', 'the 2,001st does not';
    is redirect_of($limits, '/d100/x'), '302 /e100', 'the 100th dynamic rule applies';
    is redirect_of($limits, '/d101/x'), '404 -', 'the 101st does not';
    is redirect_of($limits, '/' . ('x' x 1000)), '404 -', 'a line of more than 1,000 bytes is skipped';
}
{
    # 10,000 lines, lines of 100 KB, patterns that a backtracking matcher
    # takes exponential time over: loaded once, each request linear
    my $many = join('', map { "/p$_/:a-:b-:c-:d-:e-:f-:g-:h.q/x /y\n" } 1 .. 100);
    my $text = ('/' . ('a' x 100_000) . " /b\n") x 20 . $many . ("# filler\n" x 10_000);
    my $slow = site(redirects => $text, headers => "/*\n  X-Long: " . ('v' x 100_000) . "\n  X-Short: s\n"
                                              . join('', map { "/:a-:b-:c-:d-:e-:f-:g-:h.q/n$_\n  X-N: :a\n" } 1 .. 99));
    my $t0 = time;
    for (1 .. 5) {
        # no match, after every way of splitting 3,000 dashes among 8
        # placeholders for a backtracking RegExp
        get($slow, '/p100/' . ('-' x 3000) . '/x');
        get($slow, '/' . ('-' x 3000) . '/n1');
    }
    my $took = time - $t0;
    ok $took < 2, sprintf('ten requests against 100 hostile rules of each kind take %.2f s', $took);
    is redirect_of($slow, '/p100/1-2-3-4-5-6-7-8.q/x'), '302 /y', 'and such a rule still matches what it should';
    my $r = get($slow, '/9-8-7-6-5-4-3-2-1.q/n9');
    is join(' ', $r->{headers}{'x-n'} // '-', $r->{headers}{'x-short'} // '-', $r->{headers}{'x-long'} // '-'), '9-8 s -',
        'a header rule too (a greedy placeholder); a _headers line of 100 KB is skipped, its block kept';
}

# ---- _headers ---------------------------------------------------------------------

my $headers = site(code => $WORKER, headers => <<'EOF');
# every asset
/*
  X-Frame-Options: DENY
  X-Multi: one
/css/*
  X-Multi: two
  Cache-Control: public, max-age=31536000, immutable
/style.css
  Content-Type: text/x-custom
  ! X-Frame-Options
/data.bin
  ! Cache-Control
  ! ETag
  Content-Length: 3
  Transfer-Encoding: chunked
/u/:name
  X-User: :name
/files/*
  X-Rest: :splat
https://:sub.example.com/*
  X-Sub: :sub
EOF
{
    my $r = get($headers, '/css/site.css');
    is $r->{headers}{'x-frame-options'}, 'DENY', 'a /* block applies to an asset';
    is $r->{headers}{'x-multi'}, 'one, two', 'a name several matching blocks set: the values joined, in order';
    is $r->{headers}{'cache-control'}, 'public, max-age=31536000, immutable', 'a block replaces the asset server\'s Cache-Control';
    $r = get($headers, '/style.css');
    is $r->{headers}{'content-type'}, 'text/x-custom', 'and its Content-Type';
    ok !exists $r->{headers}{'x-frame-options'}, '! Name detaches what an earlier block set';
    $r = get($headers, '/data.bin');
    ok !exists $r->{headers}{'cache-control'} && !exists $r->{headers}{etag}, '! Name detaches the asset server\'s own';
    is "$r->{headers}{'content-length'} $r->{content}", '10 0123456789', 'Content-Length and Transfer-Encoding lines are ignored';
    is get($headers, '/nothing')->{headers}{'x-frame-options'}, undef, 'a response of the worker gets none';
    is get($headers, '/nothing')->{headers}{'x-from'}, 'worker', '(it was the worker\'s)';
    $r = get($headers, '/index.html');
    is "$r->{status} $r->{headers}{'x-frame-options'}", '307 DENY', 'the asset server\'s redirect gets them';
    $r = get($headers, '/style.css', 'If-None-Match' => get($headers, '/style.css')->{headers}{etag});
    is "$r->{status} $r->{headers}{'content-type'}", '304 text/x-custom', 'a 304 gets them';
}
{
    my $assets_only = site(headers => "/u/:name\n  X-User: :name\n/files/*\n  X-Rest: :splat\n/*\n  X-All: yes\n"
                                    . "https://:sub.example.com/*\n  X-Sub: :sub\n");
    my $r = get($assets_only, '/u/alice');
    is "$r->{status} $r->{headers}{'x-user'}", '404 alice', 'a placeholder is substituted into a value (a 404 of the assets gets them)';
    is get($assets_only, '/files/a/b.txt')->{headers}{'x-rest'}, 'a/b.txt', 'a splat too';
    is get($assets_only, '/style.css', host => 'shop.example.com')->{headers}{'x-sub'}, 'shop',
        'a https://host/path pattern matches the request\'s host, with placeholders';
    is get($assets_only, '/style.css', host => 'shop.example.org')->{headers}{'x-sub'}, undef, 'and not another host';
    is get($assets_only, '/style.css', host => 'a.b.example.com')->{headers}{'x-sub'}, undef,
        'a host placeholder is one label';
}
{
    my $text = join('', map { "/h$_\n  X-H: $_\n" } 1 .. 102);
    my $limits = site(headers => $text);
    is get($limits, '/h100')->{headers}{'x-h'}, '100', 'the 100th header rule applies';
    is get($limits, '/h101')->{headers}{'x-h'}, '101', 'and the 101st, open when the limit is met (as Cloudflare)';
    is get($limits, '/h102')->{headers}{'x-h'}, undef, 'the 102nd does not';
}

done_testing;
