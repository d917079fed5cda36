#!/usr/bin/perl
# Static assets (README "Static assets"): a script's files, as the
# management API stores them (the `assets` field of its hash and
# dispatch:{NS}:asset:NAME:HASH), are answered before its worker runs, as
# Cloudflare's asset router and server answer them: html_handling,
# not_found_handling, run_worker_first, ETag / If-None-Match, 307s to the
# canonical path, 404 and 405; env.ASSETS fetches them from the worker.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Digest::MD5 qw(md5_hex);
use JSON::PP qw(encode_json decode_json);
use Time::HiRes qw(time);

my $t = Dispatch::Test->new(
    http   => q{ dispatch_asset_cache 1m; },
    server => q{
        location / { dispatch sites $http_x_site; }
        location = /status { dispatch_status; }
    },
);

# Stores a script with assets as the management API does: the manifest in
# the script's hash, each file's bytes and type under its hash.
sub put_site {
    my ($name, %o) = @_;
    my (%manifest, @files);
    for my $path (sort keys %{ $o{files} }) {
        my ($body, $type) = @{ $o{files}{$path} };
        my $hash = md5_hex("$name:$path:$body");
        $manifest{$path} = { hash => $hash, size => length $body };
        $t->redis('HSET', "dispatch:{sites}:asset:$name:$hash", 'body', $body,
                  'type', defined $type ? $type : '');
    }
    my $assets = encode_json({ manifest => \%manifest, config => $o{config} || {} });
    $t->put_script('sites', $name, defined $o{code} ? $o{code} : '', assets => $assets,
                   ($o{metadata} ? (metadata => $o{metadata}) : ()));
    return \%manifest;
}

sub site_get {
    my ($site, $path, %h) = @_;
    my $method = delete $h{method} || 'GET';
    return $t->request($method, $path, headers => { 'X-Site' => $site, %h });
}

my %files = (
    '/index.html'      => ['<h1>home</h1>', 'text/html; charset=utf-8'],
    '/about.html'      => ['<h1>about</h1>', 'text/html; charset=utf-8'],
    '/blog/index.html' => ['<h1>blog</h1>', 'text/html; charset=utf-8'],
    '/style.css'       => ['body{}', 'text/css; charset=utf-8'],
    '/a b.txt'         => ['spaced', 'text/plain'],
    '/img/logo.png'    => ["\x89PNG\r\n\x1a\n\0\x01\x02", 'image/png'],
    '/notype.svg'      => ['<svg/>', undef],
);
my $manifest = put_site('static', files => \%files);

subtest 'an assets-only script answers its files: body, type, ETag, Cache-Control' => sub {
    my $r = site_get('static', '/style.css');
    is $r->{status}, 200, 'status';
    is $r->{content}, 'body{}', 'the bytes stored';
    is $r->{headers}{'content-type'}, 'text/css; charset=utf-8', 'the type uploaded';
    is $r->{headers}{etag}, qq{"$manifest->{'/style.css'}{hash}"}, 'the ETag is the hash';
    is $r->{headers}{'cache-control'}, 'public, max-age=0, must-revalidate', 'revalidated every time';
};

is site_get('static', '/img/logo.png')->{content}, "\x89PNG\r\n\x1a\n\0\x01\x02",
    'binary contents arrive byte for byte';
is site_get('static', '/notype.svg')->{headers}{'content-type'}, 'image/svg+xml',
    'an asset stored without a type gets one by its extension';
is site_get('static', '/a%20b.txt')->{content}, 'spaced', 'a path is percent-decoded before the lookup';

subtest 'html_handling auto-trailing-slash (the default)' => sub {
    is site_get('static', '/')->{content}, '<h1>home</h1>', '/ serves /index.html';
    is site_get('static', '/about')->{content}, '<h1>about</h1>', '/about serves /about.html';
    my $r = site_get('static', '/about.html');
    is $r->{status}, 307, '/about.html redirects';
    is $r->{headers}{location}, '/about', 'to /about';
    $r = site_get('static', '/index.html?x=1');
    is $r->{status}, 307, '/index.html redirects';
    is $r->{headers}{location}, '/?x=1', 'to /, the query kept';
    is site_get('static', '/blog/')->{content}, '<h1>blog</h1>', '/blog/ serves /blog/index.html';
    $r = site_get('static', '/blog');
    is $r->{status}, 307, '/blog redirects';
    is $r->{headers}{location}, '/blog/', 'to /blog/';
    is site_get('static', '/about/')->{status}, 307, '/about/ redirects (to /about)';
};

is site_get('static', '/missing')->{status}, 404, 'a path no asset answers is 404 (not_found_handling none)';
is site_get('static', '/style.css', method => 'POST')->{status}, 405, 'a POST to an asset is 405';

subtest 'If-None-Match with the ETag is 304 without a body' => sub {
    my $etag = qq{"$manifest->{'/style.css'}{hash}"};
    my $r = site_get('static', '/style.css', 'If-None-Match' => $etag);
    is $r->{status}, 304, 'strong';
    is $r->{content} // '', '', 'no body';
    is site_get('static', '/style.css', 'If-None-Match' => "W/$etag")->{status}, 304, 'weak';
    is site_get('static', '/style.css', 'If-None-Match' => '"other"')->{status}, 200, 'another ETag: 200';
};

subtest 'HEAD has the length and no body' => sub {
    my $r = site_get('static', '/style.css', method => 'HEAD');
    is $r->{status}, 200, 'status';
    is $r->{headers}{'content-length'}, 6, 'Content-Length of the file';
    is $r->{content} // '', '', 'no body';
};

is site_get('static', '/style.css', Authorization => 'Bearer x')->{headers}{'cache-control'}, undef,
    'a request with Authorization gets no Cache-Control';
is site_get('static', '/blog/../style.css')->{content}, 'body{}', 'dot segments resolve as the URL parser does';

subtest 'a cached asset is answered without Redis' => sub {
    site_get('static', '/about');
    my $before = $t->redis_command_calls->{hmget} || 0;
    is site_get('static', '/about')->{content}, '<h1>about</h1>', 'served again' for 1 .. 5;
    is $t->redis_command_calls->{hmget} || 0, $before, 'no HMGET for five more requests';
};

subtest 'large files: served whole, cached or not (dispatch_asset_cache 1m keeps at most 256k)' => sub {
    my $small = join '', map { chr(($_ * 7) % 256) } 1 .. 200_000;
    my $big = join '', map { chr(($_ * 13) % 256) } 1 .. 3_000_000;
    put_site('large', files => { '/small.bin' => [$small, 'application/octet-stream'],
                                 '/big.bin' => [$big, 'application/octet-stream'] });
    for my $round (1, 2) {
        my $r = site_get('large', '/small.bin');
        ok $r->{status} == 200 && $r->{content} eq $small, "200 KB, round $round: byte for byte";
        $r = site_get('large', '/big.bin');
        ok $r->{status} == 200 && $r->{content} eq $big, "3 MB (not kept), round $round: byte for byte";
    }
    my $par = $t->parallel([ map { { path => '/big.bin', headers => { 'X-Site' => 'large' } } } 1 .. 8 ]);
    is scalar(grep { $_->{status} == 200 && ($_->{content} // '') eq $big } @$par), 8,
        'eight clients at once get it whole';
};

subtest 'dispatch_status counts the asset cache' => sub {
    site_get('static', '/style.css') for 1 .. 3;
    my ($hits, $misses, $bytes);
    ok $t->wait_for(sub {
        my $text = $t->get('/status')->{content} // '';
        ($hits) = $text =~ /^dispatch_worker_asset_cache_total\{worker="0",result="hit"\} (\d+)$/m;
        ($misses) = $text =~ /^dispatch_worker_asset_cache_total\{worker="0",result="miss"\} (\d+)$/m;
        ($bytes) = $text =~ /^dispatch_worker_asset_cache_bytes\{worker="0"\} (\d+)$/m;
        defined $bytes && $hits >= 3 && $misses >= 1 && $bytes > 0;
    }, timeout => 10), 'hits, misses and the bytes kept'
        or diag "hits $hits misses $misses bytes $bytes";
    cmp_ok $bytes, '<=', 1 << 20, 'within dispatch_asset_cache 1m';
    my $json = JSON::PP::decode_json($t->get('/status?format=json')->{content});
    ok exists $json->{workers}[0]{asset_cache}{hit}, 'and in the JSON form';
};

# ---- with a worker ----

my $worker = q{
    export default {
      async fetch(request, env) {
        const url = new URL(request.url);
        if (url.pathname === '/via-binding') {
          const r = await env.ASSETS.fetch(new URL('/style.css', request.url));
          return new Response(`binding:${r.status}:${r.headers.get('content-type')}:${await r.text()}`);
        }
        if (url.pathname === '/binding-miss') {
          const r = await env.ASSETS.fetch(request);
          return new Response(`miss:${r.status}`);
        }
        return new Response(`worker:${url.pathname}`);
      }
    };
};
my $bind = encode_json({ main_module => 'worker.js', bindings => [{ type => 'assets', name => 'ASSETS' }] });
put_site('full', code => $worker, metadata => $bind, files => \%files);

is site_get('full', '/style.css')->{content}, 'body{}', 'with a worker, an asset path is answered from the assets';
is site_get('full', '/api/hello')->{content}, 'worker:/api/hello', 'a path no asset answers runs the worker';
is site_get('full', '/via-binding')->{content}, 'binding:200:text/css; charset=utf-8:body{}',
    'env.ASSETS.fetch() answers an asset to the worker';
is site_get('full', '/binding-miss')->{content}, 'miss:404', 'env.ASSETS.fetch() of no asset is 404';
is site_get('full', '/style.css', method => 'POST')->{status}, 405,
    'a POST to an asset path is 405 from the assets, as Cloudflare, not the worker';

put_site('first', code => $worker, metadata => $bind, files => \%files,
         config => { run_worker_first => JSON::PP::true });
is site_get('first', '/style.css')->{content}, 'worker:/style.css', 'run_worker_first: true runs the worker for every path';
is site_get('first', '/via-binding')->{content}, 'binding:200:text/css; charset=utf-8:body{}',
    'and env.ASSETS still reaches the assets';

put_site('rules', code => $worker, metadata => $bind,
         files => { %files, '/api/docs/index.html' => ['docs', 'text/html'], '/api/x' => ['asset x', 'text/plain'] },
         config => { run_worker_first => ['/api/*', '!/api/docs/*'] });
is site_get('rules', '/api/x')->{content}, 'worker:/api/x', 'a path a run_worker_first rule names runs the worker';
is site_get('rules', '/api/docs/')->{content}, 'docs', 'a "!/" rule sends its paths to the assets first';
is site_get('rules', '/style.css')->{content}, 'body{}', 'other paths: assets when they exist';

# ---- not_found_handling ----

put_site('spa', files => \%files, config => { not_found_handling => 'single-page-application' });
my $r = site_get('spa', '/app/settings/profile');
is $r->{status}, 200, 'single-page-application: a path no asset answers gets /index.html, 200';
is $r->{content}, '<h1>home</h1>', 'its content';

put_site('spa-worker', code => $worker, files => \%files, metadata => encode_json({
    main_module => 'worker.js', compatibility_date => '2025-05-01',
    bindings => [{ type => 'assets', name => 'ASSETS' }] }),
    config => { not_found_handling => 'single-page-application' });
is site_get('spa-worker', '/app/route')->{content}, 'worker:/app/route',
    'with a worker, a miss goes to the worker';
is site_get('spa-worker', '/app/route', 'Sec-Fetch-Mode' => 'navigate')->{content}, '<h1>home</h1>',
    'but a browser navigation gets the SPA page (compatibility date 2025-04-01 on)';

put_site('pages', files => { %files, '/404.html' => ['top 404', 'text/html'],
                             '/docs/404.html' => ['docs 404', 'text/html'] },
         config => { not_found_handling => '404-page' });
$r = site_get('pages', '/docs/a/b/missing');
is $r->{status}, 404, '404-page: status 404';
is $r->{content}, 'docs 404', 'the nearest 404.html above the path';
is site_get('pages', '/elsewhere')->{content}, 'top 404', 'else the root one';

# ---- other html_handling modes ----

put_site('force', files => \%files, config => { html_handling => 'force-trailing-slash' });
$r = site_get('force', '/about');
is $r->{status}, 307, 'force-trailing-slash: /about redirects';
is $r->{headers}{location}, '/about/', 'to /about/';
is site_get('force', '/about/')->{content}, '<h1>about</h1>', 'which serves /about.html';

put_site('drop', files => \%files, config => { html_handling => 'drop-trailing-slash' });
$r = site_get('drop', '/blog/');
is $r->{status}, 307, 'drop-trailing-slash: /blog/ redirects';
is $r->{headers}{location}, '/blog', 'to /blog';
is site_get('drop', '/blog')->{content}, '<h1>blog</h1>', 'which serves /blog/index.html';

put_site('none', files => \%files, config => { html_handling => 'none' });
is site_get('none', '/about')->{status}, 404, 'html_handling none: /about is not /about.html';
is site_get('none', '/about.html')->{content}, '<h1>about</h1>', 'the file itself is served';

# ---- a router's dispatch reaches the tenant's assets ----

$t->put_script('sites', 'router', q{
    export default { fetch(request, env) { return env.SITES.get('static').fetch(request); } };
}, metadata => encode_json({ bindings => [{ type => 'dispatch_namespace', name => 'SITES', namespace => 'sites' }] }));
is site_get('router', '/about')->{content}, '<h1>about</h1>', "a router's dispatch is answered from the tenant's assets";

# ---- what goes wrong ----

my $gone = put_site('gone', files => { '/x.txt' => ['x', 'text/plain'] });
$t->redis('DEL', "dispatch:{sites}:asset:gone:$gone->{'/x.txt'}{hash}");
is site_get('gone', '/x.txt')->{status}, 500, 'an asset in the manifest but not in Redis is 500';
ok $t->wait_for(sub { $t->error_log =~ /"sites\/gone": asset \/x\.txt \(\w+\) is in the script's manifest but not in Redis/ }),
    'and the error log says which';

$t->put_script('sites', 'badassets', '', assets => '{"manifest":{"x":{"hash":"nothex"}}}');
is site_get('badassets', '/x')->{status}, 500, 'an assets field that is no manifest fails the script';
ok $t->wait_for(sub { $t->error_log =~ /"sites\/badassets": .*its static assets: .*needs a path starting with \// }),
    'and the error log says why';

put_site('noassets-binding', code => $worker, metadata => $bind, files => {});
is site_get('noassets-binding', '/binding-miss')->{content}, 'miss:404', 'env.ASSETS of a script with no files answers 404';

subtest 'run_worker_first rules cost time linear in the path, whatever the tenant wrote' => sub {
    my @rules = map { '/' . ('*a' x 48) . "*b$_" } 1 .. 100;
    put_site('globs', code => $worker, metadata => $bind, files => \%files,
             config => { run_worker_first => \@rules });
    my $path = '/' . ('a' x 7000);
    my $t0 = time;
    my $res = site_get('globs', $path);
    my $took = time - $t0;
    is $res->{status}, 200, 'answered (by the worker: no rule matches)';
    cmp_ok $took, '<', 2, "in under 2 s ($took s; a quadratic match took minutes)";
};

is_deeply [$t->error_log_alerts], [], 'no alerts, no crash';
done_testing;
