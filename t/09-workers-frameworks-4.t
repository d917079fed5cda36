#!/usr/bin/perl
# Full-stack frameworks whose own build emits the worker: each app's
# sources (t/data/frameworks4/APP) are built in a temp dir with the
# framework's CLI, the way its Cloudflare template builds them, then
# deployed as wrangler deploys that output (`wrangler deploy --dry-run
# --outdir` over the framework's wrangler config: the entry and the modules
# beside it), uploaded through the management API and driven over HTTP
# through nginx: React Router 7 (framework mode, @cloudflare/vite-plugin),
# Astro 5 (@astrojs/cloudflare), SvelteKit 2 (adapter-cloudflare), nitro 2
# (cloudflare-module), HonoX, SolidStart 1 (vinxi) and Qwik City 1. Pages
# are rendered by the worker (in these uploads the apps that ask env.ASSETS
# about unrouted paths get a script answering 404 for it); at the end
# wrangler itself deploys each app, those with static assets files and all,
# and a file of each client build is served from the assets. Builds run in
# parallel, then wrangler for all at once. Every package pinned in t/clients/package.json;
# scripts/setup-deps installs them.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Admin;
use File::Find ();
use File::Temp qw(tempdir);
use JSON::PP qw(decode_json encode_json);
use IO::Socket::INET;
use POSIX ();
use Time::HiRes ();
use Digest::SHA ();

my $WRANGLER = npm_tool_or_skip('.bin/wrangler');
npm_tool_or_skip("$_/package.json")
    for qw(vite @cloudflare/vite-plugin react-router @react-router/dev isbot react react-dom astro @astrojs/cloudflare @astrojs/react
        @sveltejs/kit @sveltejs/adapter-cloudflare @sveltejs/vite-plugin-svelte svelte nitropack
        honox @hono/vite-build hono
        @solidjs/start vinxi solid-js @solidjs/router @solidjs/meta @builder.io/qwik @builder.io/qwik-city);
my $DATA = "$FindBin::Bin/data/frameworks4";

# name => { build: the framework's build command, meta: what wrangler's
# config gives the upload (bindings, compatibility date and flags) }
my %APPS = (
    'react-router' => { build => [qw(node_modules/.bin/react-router build)],
                        meta => { compatibility_date => '2025-04-04',
                                  bindings => [{ type => 'plain_text', name => 'GREETING', text => 'Hello from Cloudflare' }] } },
    # Astro's worker asks env.ASSETS for every path no route matches; the
    # service binding to 'no-assets' stands in for an empty asset directory.
    astro => { build => [qw(node_modules/.bin/astro build)],
               flags => [qw(nodejs_compat global_fetch_strictly_public)],
               meta => { compatibility_date => '2025-05-21',
                         bindings => [{ type => 'plain_text', name => 'SITE_NAME', text => 'Astro on Workers' },
                                      { type => 'kv_namespace', name => 'SESSION', namespace_id => 'astro-sessions' },
                                      { type => 'service', name => 'ASSETS', service => 'no-assets' }] } },
    # SvelteKit's adapter writes the worker as _worker.js; getRequestEvent
    # uses AsyncLocalStorage where nodejs_als gives it (as its docs say).
    sveltekit => { build => [qw(node_modules/.bin/vite build)], main => '_worker.js', flags => ['nodejs_als'],
                   meta => { compatibility_date => '2025-05-21',
                             bindings => [{ type => 'plain_text', name => 'GREETING', text => 'Hello from SvelteKit' },
                                          { type => 'service', name => 'ASSETS', service => 'no-assets' }] } },
    nitro => { build => [qw(node_modules/.bin/nitropack build)], flags => ['nodejs_compat'],
               meta => { compatibility_date => '2025-05-21',
                         bindings => [{ type => 'plain_text', name => 'NITRO_GREETING', text => 'Hello from nitro' },
                                      { type => 'kv_namespace', name => 'KV', namespace_id => 'nitro-kv' },
                                      { type => 'secret_text', name => 'NITRO_API_SECRET', text => 'from-a-secret' },
                                      { type => 'plain_text', name => 'NITRO_PUBLIC_SITE_NAME', text => 'Nitro Site' }] } },
    honox => { build => [qw(node_modules/.bin/vite build)], flags => ['nodejs_compat'],
               meta => { compatibility_date => '2025-05-21',
                         bindings => [{ type => 'plain_text', name => 'TITLE_SUFFIX', text => ' | HonoX' }] } },
    solidstart => { build => [qw(node_modules/.bin/vinxi build)], flags => ['nodejs_compat'],
                    meta => { compatibility_date => '2025-05-21',
                              bindings => [{ type => 'plain_text', name => 'GREETING', text => 'Hello from SolidStart' },
                                           { type => 'kv_namespace', name => 'NOTES', namespace_id => 'solid-notes' }] } },
    # `qwik build`: the client build (its manifest), then the adapter's SSR build
    qwik => { build => ['sh', '-c', 'node_modules/.bin/vite build && node_modules/.bin/vite build -c adapters/cloudflare-pages/vite.config.ts'],
              main => '_worker.js', flags => ['nodejs_als'],
              meta => { compatibility_date => '2025-05-21',
                        bindings => [{ type => 'plain_text', name => 'GREETING', text => 'Hello from Qwik' },
                                     { type => 'service', name => 'ASSETS', service => 'no-assets' }] } },
);

# ------------------------------------------------------------- build, deploy

# Each app copied into a temp dir beside the pinned node_modules, all built
# at once (at most 240 s each: seven builds share the cores), then bundled
# by wrangler at once.
my (%DIR, %BUNDLE, %MODULES);
{
    my @names = sort keys %APPS;
    my %pid;
    for my $name (@names) {
        my $dir = $DIR{$name} = tempdir("dispatch-fw4-$name-XXXXXX", TMPDIR => 1, CLEANUP => 1);
        system('cp', '-R', "$DATA/$name/.", $dir) == 0 or die "cp $name";
        symlink(npm_dir() . '/node_modules', "$dir/node_modules") or die "symlink: $!";
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            chdir $dir or die "$dir: $!";
            open STDOUT, '>', "$dir/build.log" or die;
            open STDERR, '>&', \*STDOUT;
            %ENV = (PATH => $ENV{PATH}, HOME => $dir, XDG_CONFIG_HOME => "$dir/config", NO_COLOR => '1', CI => 'true',
                    WRANGLER_SEND_METRICS => 'false', ASTRO_TELEMETRY_DISABLED => '1', NODE_ENV => 'production');
            { no warnings 'exec'; exec 'timeout', 240, @{ $APPS{$name}{build} } }
            POSIX::_exit(127);
        }
        $pid{$pid} = $name;
    }
    my %built;
    while ((my $pid = waitpid(-1, 0)) > 0) {
        my $name = delete $pid{$pid} // next;
        $built{$name} = $? == 0;
        ok $built{$name}, "$name builds" or diag `tail -n 30 $DIR{$name}/build.log`;
    }
    @names = grep { $built{$_} } @names;
    my @results = wrangler_dry_runs($WRANGLER, [ map { $DIR{$_} } @names ], 100);
    for my $i (0 .. $#names) {
        my ($name, $rc, $out) = ($names[$i], @{ $results[$i] });
        is $rc, 0, "wrangler deploys $name" or diag $out;
        my $outdir = "$DIR{$name}/out";
        next unless $rc == 0;
        my $read = sub { local $/; open my $b, '<', "$outdir/$_[0]" or die "$name: no out/$_[0]"; binmode $b; <$b> };
        my $main = $APPS{$name}{main} // 'index.js';    # uploaded as index.js
        $BUNDLE{$name} = $read->($main);
        File::Find::find({ no_chdir => 1, wanted => sub {
            return unless -f;
            (my $rel = $File::Find::name) =~ s{^\Q$outdir\E/}{};
            $MODULES{$name}{$rel} = $read->($rel) unless $rel eq $main || $rel =~ m{(^|/)\.|\.map$|^README};
        } }, $outdir) if -d $outdir;
    }
}

my $t = apps_server();
envelope_ok(api($t, POST => '', json => { name => 'apps' }), 'a namespace for the apps');
upload_apps($t, 'apps', '2025-04-04', { map { $_ => $APPS{$_} } keys %BUNDLE }, \%BUNDLE, \%MODULES);
envelope_ok(curl_upload($t, 'apps', 'no-assets', metadata => { main_module => 'index.js', compatibility_date => '2025-04-04' },
    files => [[ 'index.js', 'index.js', 'application/javascript+module',
                'export default { fetch: () => new Response("Not Found", { status: 404 }) };' ]]),
    'no-assets uploads');

sub on {
    my ($app, $method, $path, %o) = @_;
    return $t->request($method, $path, timeout => 20, %o, host => "$app.test");
}
sub unescape { my ($s) = @_; $s =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge; return $s }
sub json_of { my ($r) = @_; return eval { decode_json($r->{content}) } // { unparsed => $r->{content} } }
sub header_of { my ($r, $name) = @_; my $h = $r->{headers}{$name} // ''; return ref $h ? join(', ', @$h) : $h }

# ------------------------------------------------------------- React Router

# Seconds from sending REQUEST (raw HTTP) to the first time the response so
# far matches each of PATTERNS, and the whole response.
sub arrival_times {
    my ($request, @patterns) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port, Timeout => 10) or die "connect: $!";
    my $t0 = Time::HiRes::time();
    print {$s} $request;
    my ($got, @at) = ('');
    while (sysread($s, my $buf, 65536)) {
        $got .= $buf;
        for my $i (0 .. $#patterns) { $at[$i] //= Time::HiRes::time() - $t0 if $got =~ $patterns[$i] }
    }
    return (\@at, $got);
}

{
    my $r = on('react-router', GET => '/?name=Ada', headers => { 'User-Agent' => 'Mozilla/5.0 test' });
    is $r->{status}, 200, 'react-router: the home page renders';
    like $r->{content}, qr{<h1>Hello from Cloudflare<!-- -->, <!-- -->Ada<!-- -->!</h1>}, 'react-router: with the loader\'s env var and query';
    like $r->{content}, qr{<p id="ua">Mozilla/5.0 test</p>}, 'react-router: and a request header';
    like $r->{content}, qr{<title>RR on Workers</title>}, 'react-router: meta() in the head';
    like $r->{content}, qr{window.__reactRouterContext = }, 'react-router: the hydration context is streamed';
    is header_of($r, 'content-type'), 'text/html', 'react-router: Content-Type from entry.server';

    $r = on('react-router', GET => '/api/time', headers => { 'User-Agent' => 'curl' });
    is_deeply json_of($r), { method => 'GET', path => '/api/time', ok => JSON::PP::true }, 'react-router: a resource route answers JSON';
    is header_of($r, 'cache-control'), 'no-store', 'react-router: with its headers';

    $r = on('react-router', GET => '/no/such/page');
    is $r->{status}, 404, 'react-router: an unknown path is a 404';
    like $r->{content}, qr{<h1>404</h1>}, 'react-router: rendered by the root ErrorBoundary';

    $r = on('react-router', POST => '/guestbook', content => 'name=Grace+Hopper',
            headers => { 'Content-Type' => 'application/x-www-form-urlencoded' });
    is $r->{status}, 302, 'react-router: the form action redirects';
    is header_of($r, 'location'), '/guestbook?signed=Grace%20Hopper', 'react-router: where the action says';
    like header_of($r, 'set-cookie'), qr{^signed=Grace%20Hopper; Path=/; HttpOnly$}, 'react-router: with the action\'s cookie';
    $r = on('react-router', GET => '/guestbook?signed=Grace%20Hopper');
    like $r->{content}, qr{<li>Grace Hopper</li>}, 'react-router: the next render shows what the action stored';

    $r = on('react-router', POST => '/guestbook', content => 'name=',
            headers => { 'Content-Type' => 'application/x-www-form-urlencoded' });
    is $r->{status}, 400, 'react-router: an invalid form is the action\'s 400';
    like $r->{content}, qr{<p class="error">name is required</p>}, 'react-router: rendered with the action data';

    $r = on('react-router', GET => '/guestbook.data');
    is $r->{status}, 200, 'react-router: a client navigation\'s single-fetch .data request';
    like $r->{content}, qr{Grace Hopper}, 'react-router: carries the loader data (turbo-stream)';

    $r = on('react-router', POST => '/login', content => 'user=ada',
            headers => { 'Content-Type' => 'application/x-www-form-urlencoded' });
    is $r->{status}, 302, 'react-router: signing in redirects';
    my ($session) = header_of($r, 'set-cookie') =~ /^__session=([^;]+);/;
    like header_of($r, 'set-cookie'), qr{^__session=[^;]+; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax$},
        'react-router: createCookieSessionStorage\'s cookie';
    my ($value, $sig) = (unescape($session // '') =~ /^(.*)\.([^.]*)$/);
    is $sig, Digest::SHA::hmac_sha256_base64($value // '', 's3cret-one'), 'react-router: signed with HMAC-SHA256 of the secret';
    $r = on('react-router', GET => '/login', headers => { Cookie => "__session=$session" });
    like $r->{content}, qr{<p id="user">signed in as ada</p>}, 'react-router: the loader reads the session';
    like $r->{content}, qr{<p id="notice">welcome back</p>}, 'react-router: and its flash';
    (my $forged = $session) =~ s/^(.)/$1 eq 'e' ? 'f' : 'e'/e;
    like on('react-router', GET => '/login', headers => { Cookie => "__session=$forged" })->{content},
        qr{<p id="user">signed out</p>}, 'react-router: a tampered session cookie is not read';

    # isbot() takes a bare "Mozilla/5.0" for a bot: a browser's whole string
    my $BROWSER = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
    my ($at, $whole) = arrival_times("GET /slow HTTP/1.1\r\nHost: react-router.test\r\nUser-Agent: $BROWSER\r\nConnection: close\r\n\r\n",
                                     qr{loading\.\.\.}, qr{late data arrived});
    like $whole, qr{<p>early data</p>.*loading\.\.\..*<p id="late">late data arrived</p>}s,
        'react-router: streaming SSR sends the Suspense fallback, then the deferred data'
        or diag $whole;
    ok defined $at->[0] && defined $at->[1] && $at->[1] - $at->[0] > 0.4,
        'react-router: the shell arrives before the 600 ms loader promise resolves'
        or diag explain $at;

    $r = on('react-router', GET => '/slow', headers => { 'User-Agent' => 'Googlebot/2.1' });
    unlike $r->{content}, qr{loading\.\.\.}, 'react-router: a bot waits for allReady: no fallback';
    like $r->{content}, qr{<p id="late">late data arrived</p>}, 'react-router: the deferred data inline';
}

# ------------------------------------------------------------- Astro

{
    my $r = on('astro', GET => '/?name=Ada', headers => { 'X-Request-Id' => 'req-42' });
    is $r->{status}, 200, 'astro: the SSR page renders';
    like $r->{content}, qr{<h1>Hello, Ada!</h1>}, 'astro: with the query';
    like $r->{content}, qr{<title>Astro on Workers</title>.*<p id="site">Astro on Workers</p>}s, 'astro: Astro.locals.runtime.env';
    like $r->{content}, qr{<p id="request-id">req-42</p>}, 'astro: middleware locals';
    like $r->{content}, qr{<li>alpha</li><li>beta</li><li>gamma</li>}, 'astro: an expression\'s list';
    is header_of($r, 'x-powered-by-middleware'), 'astro', 'astro: middleware sets a response header';
    like header_of($r, 'set-cookie'), qr{^visits=1; Path=/; HttpOnly$}, 'astro: Astro.cookies.set';
    like on('astro', GET => '/', headers => { Cookie => 'visits=4' })->{content}, qr{<p id="visits">visit 5</p>},
        'astro: Astro.cookies.get';

    $r = on('astro', GET => '/posts/second');
    like $r->{content}, qr{<h1>The second post</h1><p>slug: second</p>}, 'astro: a dynamic route\'s params';
    $r = on('astro', GET => '/posts/third');
    is $r->{status}, 404, 'astro: a page answering 404';
    like $r->{content}, qr{<h1>Page not found</h1>}, 'astro: renders the 404 page';
    $r = on('astro', GET => '/no/such/page');
    is $r->{status}, 404, 'astro: an unknown path (env.ASSETS 404) is a 404';
    like $r->{content}, qr{<p id="path">/no/such/page</p>}, 'astro: rendered by the SSR 404 page';

    $r = on('astro', GET => '/api/hello.json?who=grace');
    is_deeply json_of($r), { hello => 'grace', site => 'Astro on Workers' }, 'astro: the API endpoint\'s GET';
    $r = on('astro', POST => '/api/hello.json', content => '{"a":[1,2,3]}', headers => { 'Content-Type' => 'application/json' });
    is $r->{status}, 201, 'astro: the API endpoint\'s POST status';
    is_deeply json_of($r), { received => { a => [1, 2, 3] }, length => 13 }, 'astro: and its JSON';

    $r = on('astro', POST => '/contact', content => 'email=ada%40example.com',
            headers => { 'Content-Type' => 'application/x-www-form-urlencoded', Origin => 'http://astro.test' });
    is $r->{status}, 303, 'astro: a form POST redirects';
    is header_of($r, 'location'), '/thanks?email=ada%40example.com', 'astro: to Astro.redirect\'s location';
    $r = on('astro', POST => '/contact', content => 'email=nope',
            headers => { 'Content-Type' => 'application/x-www-form-urlencoded', Origin => 'http://astro.test' });
    is $r->{status}, 422, 'astro: an invalid form sets Astro.response.status';
    like $r->{content}, qr{<p class="error">invalid email</p>}, 'astro: and renders the error';

    $r = on('astro', POST => '/_actions/shout', content => '{"text":"hi"}',
            headers => { 'Content-Type' => 'application/json', Origin => 'http://astro.test' });
    is_deeply [ $r->{status}, json_of($r) ], [200, [{ loud => 1 }, 'HI']], 'astro: an action called as RPC (its devalue JSON)';
    $r = on('astro', POST => '/_actions/shout', content => '{"text":"forbidden"}',
            headers => { 'Content-Type' => 'application/json', Origin => 'http://astro.test' });
    is $r->{status}, 403, 'astro: an ActionError\'s status';
    $r = on('astro', POST => '/cart?_action=addToCart', content => 'item=tea&qty=2',
            headers => { 'Content-Type' => 'application/x-www-form-urlencoded', Origin => 'http://astro.test' });
    my ($sid) = header_of($r, 'set-cookie') =~ /astro-session=([^;]+)/;
    ok $sid, 'astro: a form action starts a session (cookie)' or diag explain $r;
    my $cookie = "astro-session=" . ($sid // '');
    $r = on('astro', POST => '/cart?_action=addToCart', content => 'item=scones&qty=3',
            headers => { 'Content-Type' => 'application/x-www-form-urlencoded', Origin => 'http://astro.test', Cookie => $cookie });
    like $r->{content}, qr{<p id="added">added scones, 2 in cart</p>}, 'astro: Astro.getActionResult renders the form action\'s result';
    $r = on('astro', GET => '/cart', headers => { Cookie => $cookie });
    like $r->{content}, qr{<li>2 x tea</li><li>3 x scones</li>}, 'astro: Astro.session kept the cart in KV';
    # React components through @astrojs/react (react-dom/server on the worker)
    $r = on('astro', GET => '/react?start=5');
    like $r->{content}, qr{<astro-island [^>]*component-export="Counter"[^>]*props="\{&quot;start&quot;:\[0,5\],&quot;label&quot;:\[0,&quot;clicks&quot;\]\}"[^>]*client="load"},
        'astro: a client:load React component becomes an island with its props';
    like $r->{content}, qr{<button id="counter">clicks<!-- -->: <!-- -->5</button>}, 'astro: rendered on the worker by React';
    like $r->{content}, qr{<!--\$--><blockquote>REACT ON WORKERS</blockquote><!--/\$-->}, 'astro: a server-only component\'s Suspense and use() resolved';

    # server islands: the props and slots travel AES-GCM encrypted in the URL
    $r = on('astro', GET => '/islands');
    my ($island) = $r->{content} =~ m{fetch\('(/_server-islands/Island\?[^']+)'};
    ok $island, 'astro: a server:defer island leaves a fetch of its endpoint' or diag $r->{content};
    $r = on('astro', GET => $island // '/', headers => { Referer => 'http://astro.test/islands' });
    like $r->{content}, qr{<p id="island">island for Ada Lovelace: 42 \(from http://astro.test/islands\)</p>\s*<em>slotted</em>},
        'astro: the island endpoint renders with its decrypted props and slot';
    (my $tampered = $island // '') =~ s/&p=(.)/'&p=' . ($1 eq 'A' ? 'B' : 'A')/e;
    unlike on('astro', GET => $tampered)->{content}, qr{Ada Lovelace}, 'astro: tampered props are not rendered';

    my $kv = $t->redis('KEYS', 'dispatch:kv:*astro-sessions*') || [];
    ok scalar(@$kv), 'astro: the session store is the SESSION KV namespace' or diag explain $t->redis('KEYS', 'dispatch:kv*');
}

# ------------------------------------------------------------- SvelteKit

{
    my $r = on('sveltekit', GET => '/?name=Ada', headers => { 'CF-IPCountry' => 'NZ' });
    is $r->{status}, 200, 'sveltekit: the page renders';
    like $r->{content}, qr{<h1>Hello from SvelteKit, Ada!</h1>}, 'sveltekit: with +page.server load\'s platform.env and query';
    like $r->{content}, qr{<title>Hello from SvelteKit</title>}, 'sveltekit: svelte:head';
    like $r->{content}, qr{<p id="wait-until">waitUntil: true</p>}, 'sveltekit: platform.context.waitUntil';
    like $r->{content}, qr{<html lang="en" data-hook="yes">}, 'sveltekit: the handle hook\'s transformPageChunk';
    like $r->{content}, qr{"country":"NZ"|country:"NZ"}, 'sveltekit: the load data serialized for hydration';
    is header_of($r, 'x-hook'), 'sveltekit', 'sveltekit: the handle hook\'s header';
    is header_of($r, 'cache-control'), 'max-age=60', 'sveltekit: setHeaders';

    $r = on('sveltekit', GET => '/api/items?limit=2');
    is_deeply json_of($r), { items => [{ id => 1 }, { id => 2 }] }, 'sveltekit: a +server.js GET';
    $r = on('sveltekit', GET => '/api/items?limit=-1');
    is $r->{status}, 400, 'sveltekit: error(400) in an endpoint';
    $r = on('sveltekit', POST => '/api/items', content => '{"name":"widget"}', headers => { 'Content-Type' => 'application/json' });
    is_deeply [ $r->{status}, json_of($r), header_of($r, 'location') ], [201, { created => 'widget' }, '/api/items/widget'],
        'sveltekit: a +server.js POST with status and headers';

    # a browser's form POST: Accept text/html (without it SvelteKit answers JSON, as to use:enhance)
    my %form = ('Content-Type' => 'application/x-www-form-urlencoded', Origin => 'http://sveltekit.test', Accept => 'text/html');
    $r = on('sveltekit', POST => '/todos?/add', content => 'text=write+tests', headers => \%form);
    is $r->{status}, 200, 'sveltekit: a form action';
    like $r->{content}, qr{<li>write tests</li>}, 'sveltekit: the page rendered again after it';
    like $r->{content}, qr{<p class="added">added write tests</p>}, 'sveltekit: with the action\'s result as form';
    like header_of($r, 'set-cookie'), qr{^user=todo-writer; Path=/}, 'sveltekit: cookies.set in the action';
    like on('sveltekit', GET => '/', headers => { Cookie => 'user=todo-writer' })->{content}, qr{<p id="user">user: todo-writer</p>},
        'sveltekit: the hook reads the cookie into locals';
    $r = on('sveltekit', POST => '/todos?/add', content => 'text=', headers => \%form);
    is $r->{status}, 400, 'sveltekit: fail(400) from an action';
    like $r->{content}, qr{<p class="error">text is required</p>}, 'sveltekit: renders the failure';
    $r = on('sveltekit', POST => '/todos?/add', content => 'text=x', headers => { %form, Origin => 'http://evil.test' });
    is $r->{status}, 403, 'sveltekit: a cross-site form POST is refused (CSRF check)';
    $r = on('sveltekit', POST => '/todos?/clear', content => '', headers => \%form);
    is_deeply [ $r->{status}, header_of($r, 'location') ], [303, '/todos?cleared=1'], 'sveltekit: redirect() from an action';
    $r = on('sveltekit', POST => '/todos?/add', content => 'text=via+fetch',
            headers => { %form, Accept => 'application/json', 'x-sveltekit-action' => 'true' });
    like $r->{content}, qr{"type":"success","status":200}, 'sveltekit: use:enhance\'s fetch gets the action result as JSON';
    $r = on('sveltekit', GET => '/todos/__data.json');
    like $r->{content}, qr{via fetch}, 'sveltekit: a client navigation\'s __data.json';

    my ($at, $whole) = arrival_times("GET /stream HTTP/1.1\r\nHost: sveltekit.test\r\nConnection: close\r\n\r\n",
                                     qr{waiting for slow}, qr{slow value});
    like $whole, qr{<p id="fast">fast value</p>.*waiting for slow.*slow value}s, 'sveltekit: a load promise is streamed after the page';
    ok defined $at->[0] && defined $at->[1] && $at->[1] - $at->[0] > 0.4, 'sveltekit: the page arrives before the 600 ms promise resolves'
        or diag explain $at;

    $r = on('sveltekit', GET => '/no/such/page');
    is $r->{status}, 404, 'sveltekit: an unknown path is a 404';
    like $r->{content}, qr{<h1 id="error">404: Not Found</h1>}, 'sveltekit: rendered by +error.svelte';
}

# ------------------------------------------------------------- nitro

{
    my $r = on('nitro', GET => '/?name=Ada', headers => { 'User-Agent' => 'perl-test' });
    is $r->{status}, 200, 'nitro: the rendered route';
    like $r->{content}, qr{<h1>Hello from nitro, Ada!</h1>}, 'nitro: event.context.cloudflare.env and getQuery';
    like $r->{content}, qr{<p id="seen">first visit</p><p id="ua">perl-test</p>}, 'nitro: getCookie and getRequestHeader';
    like header_of($r, 'content-type'), qr{^text/html}, 'nitro: an HTML string is text/html';
    like header_of($r, 'set-cookie'), qr{^seen=yes; Path=/; HttpOnly$}, 'nitro: setCookie';
    is header_of($r, 'x-middleware'), 'nitro', 'nitro: server middleware';

    $r = on('nitro', GET => '/api/users/21');
    is_deeply json_of($r), { id => '21', doubled => 42, method => 'GET' }, 'nitro: a dynamic API route';
    is header_of($r, 'x-api'), 'nitro', 'nitro: routeRules headers';
    is header_of($r, 'access-control-allow-origin'), '*', 'nitro: routeRules cors';

    $r = on('nitro', POST => '/api/todos', content => '{"text":"ship it"}', headers => { 'Content-Type' => 'application/json' });
    is_deeply [ $r->{status}, json_of($r) ], [201, { added => 'ship it', count => 1 }], 'nitro: readBody and setResponseStatus';
    is_deeply json_of(on('nitro', GET => '/api/todos')), { todos => ['ship it'], count => 1 }, 'nitro: useStorage keeps it in the isolate';
    $r = on('nitro', POST => '/api/todos', content => '{}', headers => { 'Content-Type' => 'application/json', Accept => 'application/json' });
    is $r->{status}, 422, 'nitro: createError\'s status';
    like $r->{content}, qr{"statusMessage":\s*"text is required"|"message":\s*"text is required"}, 'nitro: and its JSON error';

    is json_of(on('nitro', GET => '/api/cached'))->{calls}, 1, 'nitro: a cached handler runs once';
    is json_of(on('nitro', GET => '/api/cached'))->{calls}, 1, 'nitro: then answers from its cache';

    $r = on('nitro', GET => '/old');
    is_deeply [ $r->{status}, header_of($r, 'location') ], [301, '/new'], 'nitro: routeRules redirect';
    $r = on('nitro', POST => '/form', content => 'name=Grace', headers => { 'Content-Type' => 'application/x-www-form-urlencoded' });
    is_deeply [ $r->{status}, header_of($r, 'location') ], [303, '/?name=Grace'], 'nitro: readFormData and sendRedirect';
    $r = on('nitro', PUT => '/api/kv/greeting', content => '{"hello":"kv"}', headers => { 'Content-Type' => 'application/json' });
    is_deeply json_of($r), { stored => 'greeting' }, 'nitro: useStorage over the KV binding stores';
    is_deeply json_of(on('nitro', GET => '/api/kv/greeting')), { key => 'greeting', value => { hello => 'kv' }, keys => ['greeting'] },
        'nitro: and reads and lists it back';
    is_deeply json_of(on('nitro', GET => '/api/config')), { secretLength => 13, siteName => 'Nitro Site', processEnv => 'Nitro Site' },
        'nitro: useRuntimeConfig takes NITRO_* bindings over the build\'s defaults (and process.env has them)';
    $r = on('nitro', GET => '/no/such/page', headers => { Accept => 'application/json' });
    is $r->{status}, 404, 'nitro: an unknown path is a 404';
}

# ------------------------------------------------------------- HonoX

{
    my $r = on('honox', GET => '/?name=Ada');
    is $r->{status}, 200, 'honox: the file-based route renders';
    like $r->{content}, qr{<title>Ada \| HonoX</title>}, 'honox: through _renderer with c.env';
    like $r->{content}, qr{<h1>Hello, Ada!</h1><p id="visits">visit 1</p>}, 'honox: the route\'s JSX';
    like header_of($r, 'set-cookie'), qr{^visits=1; Path=/; HttpOnly$}, 'honox: setCookie';
    is header_of($r, 'x-honox'), 'middleware', 'honox: _middleware';
    is header_of($r, 'x-content-type-options'), 'nosniff', 'honox: secureHeaders in _middleware';
    is_deeply json_of(on('honox', GET => '/api/posts/7')), { id => 7, title => 'Post 7' }, 'honox: a JSON route with a param';
    is on('honox', GET => '/api/posts/x')->{status}, 400, 'honox: and its 400';

    $r = on('honox', POST => '/guestbook', content => 'name=Grace', headers => { 'Content-Type' => 'application/x-www-form-urlencoded' });
    is_deeply [ $r->{status}, header_of($r, 'location') ], [303, '/guestbook'], 'honox: a POST export redirects';
    like on('honox', GET => '/guestbook')->{content}, qr{<li>Grace</li>}, 'honox: the page shows what it stored';

    my ($at, $whole) = arrival_times("GET /suspense HTTP/1.1\r\nHost: honox.test\r\nConnection: close\r\n\r\n",
                                     qr{suspended\.\.\.}, qr{late component});
    like $whole, qr{<p>early</p>.*suspended\.\.\..*<p id="late">late component</p>}s, 'honox: hono/jsx Suspense streams';
    ok defined $at->[0] && defined $at->[1] && $at->[1] - $at->[0] > 0.4, 'honox: the fallback before the 600 ms component'
        or diag explain $at;

    $r = on('honox', GET => '/no/such/page');
    is $r->{status}, 404, 'honox: an unknown path is a 404';
    like $r->{content}, qr{<h1>No page at /no/such/page</h1>}, 'honox: rendered by _404';
    $r = on('honox', GET => '/boom');
    is $r->{status}, 500, 'honox: a throwing route is a 500';
    like $r->{content}, qr{<h1>Error: kaboom</h1>}, 'honox: rendered by _error';
}

# ------------------------------------------------------------- SolidStart

{
    my $r = on('solidstart', GET => '/?name=Ada');
    is $r->{status}, 200, 'solidstart: the page renders';
    like $r->{content}, qr{<h1><!--\$-->Hello from SolidStart<!--/-->, <!--\$-->Ada<!--/-->!</h1>},
        'solidstart: a "use server" query reads the cloudflare env and the request (getRequestEvent)';
    like $r->{content}, qr{<title[^>]*>SolidStart on Workers</title>}, 'solidstart: @solidjs/meta Title';
    like $r->{content}, qr{\$R\[\d+\]=\{greeting:"Hello from SolidStart",name:"Ada"\}}, 'solidstart: the query\'s data serialized for hydration (seroval)';

    is_deeply json_of(on('solidstart', GET => '/api/hello?who=grace')), { hello => 'grace', method => 'GET' }, 'solidstart: an API route GET';
    $r = on('solidstart', POST => '/api/hello', content => '{"n":1}', headers => { 'Content-Type' => 'application/json' });
    is_deeply [ $r->{status}, json_of($r) ], [201, { echoed => { n => 1 } }], 'solidstart: an API route POST';

    $r = on('solidstart', GET => '/notes');
    my ($action) = $r->{content} =~ m{<form action="([^"]+)" method="post">};
    like $action // '', qr{^/_server\?id=}, 'solidstart: the form posts to the action\'s server function';
    $action =~ s/&amp;/&/g if defined $action;
    $r = on('solidstart', POST => $action // '/_server', content => 'text=first+note',
            headers => { 'Content-Type' => 'application/x-www-form-urlencoded' });
    is_deeply [ $r->{status}, header_of($r, 'location') ], [302, '/notes'], 'solidstart: the action\'s redirect (no JavaScript)';
    like on('solidstart', GET => '/notes')->{content}, qr{<li[^>]*>first note</li>}, 'solidstart: the page shows what the action stored in KV';

    $r = on('solidstart', GET => '/no/such/page');
    is $r->{status}, 404, 'solidstart: the catch-all route sets 404 (HttpStatusCode)';
    like $r->{content}, qr{<h1>Page Not Found</h1>}, 'solidstart: and renders';
}

# ------------------------------------------------------------- Qwik City

{
    my $r = on('qwik', GET => '/?name=Ada');
    is $r->{status}, 200, 'qwik: the page renders (resumable SSR)';
    like $r->{content}, qr{<h1><!--t=\w+-->Hello from Qwik<!---->, <!--t=\w+-->Ada<!---->!</h1>}, 'qwik: routeLoader$ with platform.env and the query';
    like $r->{content}, qr{<title[^>]*>Qwik: Ada</title>}, 'qwik: the head from the loader\'s value';
    like $r->{content}, qr{<p id="visits">visit <!--t=\w+-->1<!---->}, 'qwik: a cookie read';
    like header_of($r, 'set-cookie'), qr{^visits=1; HttpOnly; Path=/$}, 'qwik: and set';
    is header_of($r, 'x-qwik-layout'), 'yes', 'qwik: the layout\'s onRequest';
    like $r->{content}, qr{<script type="qwik/json">}, 'qwik: the paused state for resuming';

    $r = on('qwik', GET => '/api/greet?who=grace');
    is_deeply [ json_of($r), header_of($r, 'cache-control') ], [{ greet => 'grace' }, 'no-store'], 'qwik: an onGet endpoint';
    $r = on('qwik', POST => '/api/greet', content => '{"x":[1]}', headers => { 'Content-Type' => 'application/json', Origin => 'http://qwik.test' });
    is_deeply [ $r->{status}, json_of($r) ], [201, { received => { x => [1] } }], 'qwik: an onPost endpoint with parseBody';

    $r = on('qwik', GET => '/todos/');
    my ($action) = $r->{content} =~ m{<form action="([^"]*qaction=[^"]+)"};
    ok $action, 'qwik: the Form posts to its routeAction$' or diag $r->{content};
    $action =~ s/&amp;/&/g if $action;
    my %form = ('Content-Type' => 'application/x-www-form-urlencoded', Origin => 'http://qwik.test');
    $r = on('qwik', POST => "/todos/$action", content => 'text=buy+milk', headers => \%form);
    is $r->{status}, 200, 'qwik: the action runs (no JavaScript)';
    like $r->{content}, qr{<li[^>]*>buy milk</li>}, 'qwik: the page rendered after it has the item';
    like $r->{content}, qr{<p class="added"[^>]*>added <!--t=\w+-->buy milk<!---->}, 'qwik: and the action\'s value';
    $r = on('qwik', POST => "/todos/$action", content => 'text=', headers => \%form);
    like $r->{content}, qr{<p class="error"[^>]*>text is invalid</p>}, 'qwik: zod$ validation fails the action';
    $r = on('qwik', POST => "/todos/$action", content => 'text=x', headers => { %form, Origin => 'http://evil.test' });
    is $r->{status}, 403, 'qwik: a cross-site form POST is refused (CSRF check)';

    $r = on('qwik', GET => '/no/such/page');
    is $r->{status}, 404, 'qwik: an unknown path is a 404';
    is header_of($r, 'x-not-found'), '/no/such/page', 'qwik: from Qwik City\'s not-found handler';
}

# ------------------------------------------------------------- wrangler deploy

# wrangler itself deploys the apps whose configuration has no static assets
# (`wrangler deploy --dispatch-namespace` through the management API), each
# as APP-wrangler; the script it uploads answers as the one uploaded from
# its dry run.
{
    my %ask = (honox => '/?name=Ada', nitro => '/api/users/21', solidstart => '/?name=Ada');
    for my $name (grep { $BUNDLE{$_} } sort keys %ask) {
        my ($rc, $out) = wrangler_against($WRANGLER, $t, $DIR{$name}, qw(deploy --dispatch-namespace apps --name), "$name-wrangler");
        is $rc, 0, "$name: wrangler deploy --dispatch-namespace uploads it" or diag $out;
        my ($dry, $real) = map { on($_, GET => $ask{$name}) } $name, "$name-wrangler";
        (my $got = $real->{content}) =~ s/\b$name-wrangler\.test\b/$name.test/g;
        is_deeply [ $real->{status}, $got ], [ $dry->{status}, $dry->{content} ], "$name: and answers $ask{$name} as its dry run's upload does";
    }
}

# wrangler deploys the apps whose configuration has static assets, files
# and all, each as APP-wrangler: a page answers as the dry run's upload
# does, and a JavaScript file of the client build is answered from the
# assets (its bytes, a JavaScript type, the ETag of its hash), not by the
# worker.
{
    my %ask = ('react-router' => ['build/client', '/?name=Ada'], astro => ['dist', '/?name=Ada'],
               sveltekit => ['.svelte-kit/cloudflare', '/api/items?limit=2'], qwik => ['dist', '/no/such/page']);
    for my $name (grep { $BUNDLE{$_} } sort keys %ask) {
        my ($dir, $page) = @{ $ask{$name} };
        my ($rc, $out) = wrangler_against($WRANGLER, $t, $DIR{$name}, qw(deploy --dispatch-namespace apps --name), "$name-wrangler");
        is $rc, 0, "$name: wrangler deploy --dispatch-namespace uploads it with its static assets" or diag $out;
        my ($dry, $real) = map { on($_, GET => $page) } $name, "$name-wrangler";
        (my $got = $real->{content} // '') =~ s/\b$name-wrangler\.test\b/$name.test/g;
        is_deeply [ $real->{status}, $got ], [ $dry->{status}, $dry->{content} ], "$name: and answers $page as its dry run's upload does";
        my @js;
        File::Find::find({ no_chdir => 1, wanted => sub {
            (my $rel = $File::Find::name) =~ s{^\Q$DIR{$name}/$dir\E}{};
            push @js, $rel if -f && $rel =~ /\.js$/ && $rel !~ m{_worker\.js|/\.};
        } }, "$DIR{$name}/$dir");
        my ($url) = sort @js;
        ok $url, "$name: its client build has a JavaScript file" or next;
        my $file = "$DIR{$name}/$dir$url";
        my $bytes = do { local $/; open my $f, '<', $file or die "$file: $!"; binmode $f; <$f> };
        my $r = on("$name-wrangler", GET => $url);
        is_deeply [ $r->{status}, length($r->{content} // ''), ($r->{content} // '') eq $bytes ], [ 200, length $bytes, 1 ],
            "$name: $url is answered from its assets, byte for byte";
        like header_of($r, 'content-type'), qr{javascript}, "$name: with a JavaScript type";
        like header_of($r, 'etag'), qr{^"[0-9a-f]{32}"$}, "$name: and the ETag of its hash";
        is on("$name-wrangler", GET => $url, headers => { 'If-None-Match' => header_of($r, 'etag') })->{status}, 304,
            "$name: which a browser revalidates (304)";
    }
}

is_deeply [ $t->error_log_alerts ], [], 'no alerts in the error log';
done_testing;
