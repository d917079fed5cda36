#!/usr/bin/perl
# Real Workers apps written as their frameworks' documentation writes them,
# bundled as wrangler bundles them (`wrangler deploy --dry-run --outdir`,
# ES module format, with and without nodejs_compat), uploaded through the
# management API as wrangler uploads them, and driven over HTTP through
# nginx: itty-router v5, hono (JSX pages, streaming, middleware, JWT,
# @hono/zod-validator), OpenAPI APIs (@hono/zod-openapi, chanfana), h3,
# Elysia (compiled at startup, where Workers allows code from strings), a
# WorkerEntrypoint class from cloudflare:workers, React's streaming SSR
# (react-dom/server's renderToReadableStream), toucan-js and
# @sentry/cloudflare reporting to a loopback Sentry stand-in,
# @trpc/server's fetch adapter and graphql-yoga. Every package pinned in
# t/clients/package.json; scripts/setup-deps installs them.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Admin;
use Dispatch::TestUpstream;
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use JSON::PP qw(decode_json encode_json);
use MIME::Base64 qw(decode_base64);
use Time::HiRes qw(time);

my $WRANGLER = npm_tool_or_skip('.bin/wrangler');
npm_tool_or_skip("$_/package.json")
    for qw(itty-router hono @hono/zod-validator @hono/zod-openapi zod chanfana h3 elysia react react-dom
          toucan-js @sentry/cloudflare @trpc/server graphql-yoga graphql);

my $DATE = '2025-09-01';


# Each BUILD (name, main, files: path => text, flags) as a project
# directory with its wrangler.toml, bundled with `wrangler deploy --dry-run
# --outdir out` (all at once, each at most 90 s). Returns the bundles' text.
sub wrangler_bundles {
    my (@builds) = @_;
    my @dirs;
    for my $o (@builds) {
        my $dir = tempdir("dispatch-$o->{name}-XXXXXX", TMPDIR => 1, CLEANUP => 1);
        my $flags = @{ $o->{flags} } ? 'compatibility_flags = [' . join(', ', map { qq{"$_"} } @{ $o->{flags} }) . "]\n" : '';
        write_file("$dir/wrangler.toml", qq{name = "$o->{name}"\nmain = "$o->{main}"\ncompatibility_date = "$DATE"\n$flags});
        write_file("$dir/$_", $o->{files}{$_}) for keys %{ $o->{files} };
        symlink(npm_dir() . '/node_modules', "$dir/node_modules") or die "symlink: $!";
        push @dirs, $dir;
    }
    my @results = wrangler_dry_runs($WRANGLER, \@dirs, 90);
    return map {
        my ($o, $dir, $rc, $out) = ($builds[$_], $dirs[$_], @{ $results[$_] });
        is $rc, 0, "wrangler bundles $o->{name}" or diag $out;
        (my $js = $o->{main}) =~ s{^.*/}{};
        $js =~ s/\.[jt]sx?$/.js/;
        open my $b, '<', "$dir/out/$js" or fail("$o->{name}: no out/$js");
        local $/;
        $b ? scalar <$b> : '';
    } 0 .. $#builds;
}

my $up = Dispatch::TestUpstream->new;    # plays Sentry's ingestion for toucan-js

# The management API as wrangler reaches it, and each app at its own host
# name (routers see the paths their docs use).
my $t = apps_server(http => 'dispatch_fetch_allow 127.0.0.1/32:' . $up->port . ';');
envelope_ok(api($t, POST => '', json => { name => 'apps' }), 'a namespace for the apps');

# Uploads BUNDLE as script NAME, as wrangler's upload sends it.
sub deploy {
    my ($name, $bundle, %meta) = @_;
    envelope_ok(curl_upload($t, 'apps', $name,
        metadata => { main_module => 'index.js', compatibility_date => $DATE, %meta },
        files => [[ 'index.js', 'index.js', 'application/javascript+module', $bundle ]]),
        "$name uploads");
}

# NAME bundled by wrangler from MAIN and FILES once for each set of
# compatibility flags in `variants` (default: none, and nodejs_compat, with
# wrangler's unenv preset around it), deployed with METADATA as NAME,
# NAME-node (nodejs_compat) or NAME-als (nodejs_als). Returns the names.
my %SUFFIX = (nodejs_compat => '-node', nodejs_als => '-als');
sub deploy_app {
    my ($name, $main, $files, %meta) = @_;
    my @builds = map { { name => $name . join('', map { $SUFFIX{$_} } @$_), main => $main, files => $files, flags => $_ } }
        @{ delete $meta{variants} || [[], ['nodejs_compat']] };
    my @bundles = wrangler_bundles(@builds);
    for my $i (0 .. $#builds) {
        my $flags = $builds[$i]{flags};
        deploy($builds[$i]{name}, $bundles[$i], %meta, (@$flags ? (compatibility_flags => $flags) : ()));
    }
    return map { $_->{name} } @builds;
}

sub on {
    my ($app, $method, $path, %o) = @_;
    return $t->request($method, $path, timeout => 20, %o, host => "$app.test");
}

sub json_of { my ($r) = @_; return eval { decode_json($r->{content}) } // { unparsed => $r->{content} } }

# A request to APP over a socket of ours (GET PATH, or method, headers and
# content from %o): when each of MARKERS first arrived (seconds since the
# request was sent), the response's head and its body (chunked decoded).
sub arrivals {
    my ($app, $path, $markers, %o) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port, Timeout => 5)
        or die "connect: $!";
    my $t0 = time;
    my %h = (%{ $o{headers} || {} }, defined $o{content} ? ('Content-Length' => length $o{content}) : ());
    print {$s} join '', ($o{method} // 'GET') . " $path HTTP/1.1\r\nHost: $app.test\r\nConnection: close\r\n",
        (map { "$_: $h{$_}\r\n" } sort keys %h), "\r\n", $o{content} // '';
    my ($data, %at) = ('');
    my $sel = IO::Select->new($s);
    while (time - $t0 < 20 && $sel->can_read(20)) {
        my $n = sysread($s, $data, 65536, length $data);
        last unless $n;
        for my $m (@$markers) { $at{$m} //= time - $t0 if index($data, $m) >= 0 }
    }
    close $s;
    my ($head, $body) = split /\r\n\r\n/, $data, 2;
    $body //= '';
    if ($head =~ /^transfer-encoding:\s*chunked/mi) {
        my $plain = '';
        while ($body =~ s/^([0-9a-fA-F]+)\r\n//) {
            my $len = hex $1;
            last if !$len;
            $plain .= substr($body, 0, $len, '');
            $body =~ s/^\r\n//;
        }
        $body = $plain;
    }
    return (\%at, $head, $body);
}

# ---------------------------------------------------------------- itty-router

my @itty = deploy_app('itty', 'src/index.js', { 'src/index.js' => <<'JS' });
import { AutoRouter, Router, cors, error, json, text, withParams } from 'itty-router';

const { preflight, corsify } = cors({ origin: 'https://app.example', allowMethods: ['GET', 'POST'] });

// a nested router of the classic kind: withParams and json() by hand
const api = Router({ base: '/api' });
api
  .all('*', withParams)
  .get('/items/:id', ({ id, query }) => json({ id, sort: query.sort ?? null }))
  .all('*', () => error(404, 'no such api route'));

const router = AutoRouter({ before: [preflight], finally: [corsify] });
router
  .get('/hello/:name', ({ name }) => `Hello, ${name}!`)
  .get('/plain', () => text('plain words'))
  .get('/todos/:id', ({ params }) => ({ id: Number(params.id), title: 'write tests' }))
  .post('/echo', async (request) => ({ received: await request.json() }))
  .get('/teapot', () => error(418, 'I am a teapot'))
  .get('/boom', () => { throw new Error('boom'); })
  .all('/api/*', api.fetch);

export default router;
JS
my $r;
for my $app (@itty) {
    $r = on($app, GET => '/hello/world');
    is $r->{status}, 200, "$app: a route with a param answers" or diag $r->{content};
    is $r->{content}, '"Hello, world!"', "$app: the param reaches the handler (withParams in AutoRouter), formatted by json()";
    like $r->{headers}{'content-type'}, qr{^application/json}, "$app: AutoRouter's json format";
    $r = on($app, GET => '/plain');
    is $r->{content}, 'plain words', "$app: text() answers the text";
    like $r->{headers}{'content-type'}, qr{^text/plain}, "$app: as text/plain";
    $r = on($app, GET => '/todos/7');
    is_deeply json_of($r), { id => 7, title => 'write tests' }, "$app: an object becomes JSON (params)";
    like $r->{headers}{'content-type'}, qr{^application/json}, "$app: with application/json";
    $r = on($app, POST => '/echo', content => '{"a":[1,2]}', headers => { 'Content-Type' => 'application/json' });
    is_deeply json_of($r), { received => { a => [1, 2] } }, "$app: request.json() of a POST";
    $r = on($app, GET => '/teapot');
    is $r->{status}, 418, "$app: error(418)";
    is_deeply json_of($r), { status => 418, error => 'I am a teapot' }, "$app: error() has its JSON body";
    $r = on($app, GET => '/boom');
    is $r->{status}, 500, "$app: a throwing handler is a 500 from AutoRouter";
    is_deeply json_of($r), { status => 500, error => 'boom' }, "$app: with the error's message";
    is on($app, GET => '/nowhere')->{status}, 404, "$app: an unknown route is 404";
    $r = on($app, GET => '/api/items/42?sort=desc');
    is_deeply json_of($r), { id => '42', sort => 'desc' }, "$app: a nested Router with base, withParams and query";
    is on($app, GET => '/api/else')->{status}, 404, "$app: the nested router's catch-all";
    $r = on($app, GET => '/hello/cors', headers => { Origin => 'https://app.example' });
    is $r->{headers}{'access-control-allow-origin'}, 'https://app.example', "$app: cors() corsify adds the allowed origin";
    $r = on($app, OPTIONS => '/hello/x', headers => { Origin => 'https://app.example',
        'Access-Control-Request-Method' => 'POST' });
    is $r->{status}, 204, "$app: cors() preflight answers OPTIONS with 204";
    like $r->{headers}{'access-control-allow-methods'} // '', qr/POST/, "$app: with the allowed methods";
}

# ---------------------------------------------------------------- hono

# hono's Cloudflare Workers template: TSX with hono/jsx as the JSX runtime
# (tsconfig.json), which wrangler's esbuild follows.
my %hono_files = (
    'tsconfig.json' => <<'JSON',
{
  "compilerOptions": {
    "target": "ESNext",
    "module": "ESNext",
    "moduleResolution": "Bundler",
    "strict": true,
    "skipLibCheck": true,
    "lib": ["ESNext"],
    "jsx": "react-jsx",
    "jsxImportSource": "hono/jsx"
  }
}
JSON
    'src/index.tsx' => <<'TSX',
import { Hono } from 'hono';
import type { FC } from 'hono/jsx';
import { cors } from 'hono/cors';
import { etag } from 'hono/etag';
import { secureHeaders } from 'hono/secure-headers';
import { streamText, streamSSE } from 'hono/streaming';
import { jwt, sign } from 'hono/jwt';
import { HTTPException } from 'hono/http-exception';
import { basicAuth } from 'hono/basic-auth';
import { getSignedCookie, setSignedCookie } from 'hono/cookie';
import { compress } from 'hono/compress';
import { ipRestriction } from 'hono/ip-restriction';
import { getConnInfo } from 'hono/cloudflare-workers';
import { jsxRenderer } from 'hono/jsx-renderer';
import { Suspense } from 'hono/jsx';
import { zValidator } from '@hono/zod-validator';
import { z } from 'zod';

type Bindings = { JWT_SECRET: string };
const app = new Hono<{ Bindings: Bindings }>();

const Layout: FC = (props) => (
  <html>
    <head><title>{props.title}</title></head>
    <body>{props.children}</body>
  </html>
);
const Top: FC<{ messages: string[] }> = ({ messages }) => (
  <Layout title="Top">
    <h1>Hello Hono!</h1>
    <ul>{messages.map((message) => <li>{message}!!</li>)}</ul>
  </Layout>
);

app.use('*', secureHeaders());
app.use('/api/*', cors({ origin: 'https://app.example', allowMethods: ['GET', 'POST'], maxAge: 600 }));
app.use('/etag/*', etag());

app.get('/', (c) => c.html(<Top messages={['Good Morning', 'Good Evening', '<b>escaped</b>']} />));
app.get('/etag/doc', (c) => c.text('a document whose ETag is its hash'));

app.get('/stream', (c) =>
  streamText(c, async (stream) => {
    await stream.writeln('first line');
    await stream.sleep(600);
    await stream.writeln('second line');
  }));
app.get('/sse', (c) =>
  streamSSE(c, async (stream) => {
    for (let id = 0; id < 3; id++) {
      await stream.writeSSE({ event: 'tick', id: String(id), data: `tick ${id}` });
      await stream.sleep(300);
    }
  }));

const todo = z.object({ title: z.string().min(1), done: z.boolean() });
app.post('/api/todos', zValidator('json', todo), (c) => {
  const { title, done } = c.req.valid('json');
  return c.json({ created: { title, done } }, 201);
});

app.post('/login', async (c) => {
  const { user } = await c.req.json();
  const token = await sign({ sub: user, role: 'admin', exp: Math.floor(Date.now() / 1000) + 60 }, c.env.JWT_SECRET, 'HS256');
  return c.json({ token });
});
app.use('/auth/*', (c, next) => jwt({ secret: c.env.JWT_SECRET, alg: 'HS256' })(c, next));
app.get('/auth/me', (c) => {
  const payload = c.get('jwtPayload');
  return c.json({ sub: payload.sub, role: payload.role });
});

app.get('/teapot', () => { throw new HTTPException(418, { message: 'short and stout' }); });

app.get('/ip', (c) => c.text(getConnInfo(c).remote.address ?? 'unknown'));
app.get('/local-only', ipRestriction(getConnInfo, { allowList: ['127.0.0.1', '::1'] }), (c) => c.text('welcome, neighbour'));
app.get('/admin/*', basicAuth({ username: 'admin', password: 'sesame' }), (c) => c.text('admin area'));
app.get('/session/start', async (c) => {
  await setSignedCookie(c, 'session', 'user-42', c.env.JWT_SECRET, { path: '/', httpOnly: true });
  return c.text('started');
});
app.get('/session', async (c) => c.json({ session: await getSignedCookie(c, c.env.JWT_SECRET, 'session') }));
app.use('/big/*', compress());
app.get('/big/text', (c) => c.text('all work and no play '.repeat(500)));

async function Weather() {
  const forecast = await new Promise((resolve) => setTimeout(() => resolve('sunny'), 500));
  return <p>forecast: {forecast}</p>;
}
app.use('/streamed/*', jsxRenderer(({ children }) => <html><body>{children}</body></html>, { stream: true }));
app.get('/streamed/page', (c) => c.render(
  <>
    <h1>Today</h1>
    <Suspense fallback={<p>asking the sky...</p>}><Weather /></Suspense>
  </>
));
app.notFound((c) => c.json({ error: 'not found', path: c.req.path }, 404));

export default app;
TSX
);
my $hono_meta = { bindings => [{ type => 'secret_text', name => 'JWT_SECRET', text => 'a-secret-of-32-bytes-or-more-for-hs256' }] };
my @hono = deploy_app('hono', 'src/index.tsx', \%hono_files, %$hono_meta);

for my $app (@hono) {
    $r = on($app, GET => '/');
    is $r->{status}, 200, "$app: the JSX page answers" or diag $r->{content};
    like $r->{headers}{'content-type'}, qr{^text/html; charset=UTF-8}i, "$app: c.html() is text/html";
    is $r->{content}, '<html><head><title>Top</title></head><body><h1>Hello Hono!</h1><ul><li>Good Morning!!</li><li>Good Evening!!</li><li>&lt;b&gt;escaped&lt;/b&gt;!!</li></ul></body></html>',
        "$app: rendered by hono/jsx, text escaped";
    is $r->{headers}{'x-content-type-options'}, 'nosniff', "$app: secureHeaders()";
    is $r->{headers}{'x-frame-options'}, 'SAMEORIGIN', "$app: secureHeaders() X-Frame-Options";

    $r = on($app, POST => '/api/todos', content => '{"title":"ship it","done":false}',
            headers => { 'Content-Type' => 'application/json', Origin => 'https://app.example' });
    is $r->{status}, 201, "$app: zValidator passes a valid body" or diag $r->{content};
    is_deeply json_of($r), { created => { title => 'ship it', done => JSON::PP::false } }, "$app: c.req.valid('json')";
    is $r->{headers}{'access-control-allow-origin'}, 'https://app.example', "$app: hono/cors on the answer";
    $r = on($app, POST => '/api/todos', content => '{"title":"","done":"no"}', headers => { 'Content-Type' => 'application/json' });
    is $r->{status}, 400, "$app: zValidator refuses an invalid body with 400";
    my $err = json_of($r);
    ok !$err->{success} && $r->{content} =~ /title/ && $r->{content} =~ /done/, "$app: naming both bad fields"
        or diag $r->{content};
    $r = on($app, POST => '/api/todos', content => '{not json', headers => { 'Content-Type' => 'application/json' });
    is $r->{status}, 400, "$app: malformed JSON is 400";
    $r = on($app, OPTIONS => '/api/todos', headers => { Origin => 'https://app.example', 'Access-Control-Request-Method' => 'POST' });
    is $r->{status}, 204, "$app: hono/cors preflight";
    is $r->{headers}{'access-control-max-age'}, '600', "$app: with its max age";

    $r = on($app, GET => '/etag/doc');
    my $etag = $r->{headers}{etag};
    like $etag // '', qr/^"[0-9a-f]{40}"$/, "$app: hono/etag sets a SHA-1 ETag (crypto.subtle.digest)";
    $r = on($app, GET => '/etag/doc', headers => { 'If-None-Match' => $etag });
    is $r->{status}, 304, "$app: If-None-Match with it answers 304";
    is $r->{content} // '', '', "$app: without a body";

    $r = on($app, POST => '/login', content => '{"user":"ada"}', headers => { 'Content-Type' => 'application/json' });
    my $token = json_of($r)->{token} // '';
    like $token, qr/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/, "$app: hono/jwt sign() makes a JWT";
    $r = on($app, GET => '/auth/me', headers => { Authorization => "Bearer $token" });
    is_deeply json_of($r), { sub => 'ada', role => 'admin' }, "$app: the jwt middleware verifies it";
    (my $forged = $token) =~ s/\.([\w-]+)$/'.' . reverse($1)/e;
    is on($app, GET => '/auth/me', headers => { Authorization => "Bearer $forged" })->{status}, 401,
        "$app: a token with another signature is 401";
    is on($app, GET => '/auth/me')->{status}, 401, "$app: no token is 401";

    $r = on($app, GET => '/teapot');
    is $r->{status}, 418, "$app: HTTPException's status";
    is $r->{content}, 'short and stout', "$app: and message";
    $r = on($app, GET => '/missing');
    is_deeply json_of($r), { error => 'not found', path => '/missing' }, "$app: app.notFound()";

    is on($app, GET => '/ip')->{content}, '127.0.0.1', "$app: getConnInfo() from hono/cloudflare-workers (CF-Connecting-IP)";
    is on($app, GET => '/local-only', headers => { 'CF-Connecting-IP' => '203.0.113.9' })->{content}, 'welcome, neighbour',
        "$app: ipRestriction() allows loopback, whatever the client claims";
    $r = on($app, GET => '/admin/panel');
    is $r->{status}, 401, "$app: basicAuth() without credentials is 401";
    like $r->{headers}{'www-authenticate'} // '', qr/^Basic realm=/, "$app: with its challenge";
    is on($app, GET => '/admin/panel', headers => { Authorization => 'Basic YWRtaW46c2VzYW1l' })->{content}, 'admin area',
        "$app: basicAuth() lets the right password in";
    is on($app, GET => '/admin/panel', headers => { Authorization => 'Basic YWRtaW46b3Blbg==' })->{status}, 401,
        "$app: and not a wrong one";
    $r = on($app, GET => '/session/start');
    my ($cookie) = ($r->{headers}{'set-cookie'} // '') =~ /^(session=[^;]+)/;
    like $cookie // '', qr/^session=user-42\.[A-Za-z0-9%]+$/, "$app: setSignedCookie() signs with HMAC";
    is_deeply json_of(on($app, GET => '/session', headers => { Cookie => $cookie })), { session => 'user-42' },
        "$app: getSignedCookie() verifies it";
    is_deeply json_of(on($app, GET => '/session', headers => { Cookie => 'session=user-1.' . ($cookie =~ s/^[^.]*\.//r) })),
        { session => JSON::PP::false }, "$app: and refuses another value under that signature";
    my ($code) = $t->curl('-s', '-o', '/dev/null', '-w', '%{http_code} %{size_download} %header{content-encoding}',
        '-H', "Host: $app.test", '-H', 'Accept-Encoding: gzip', $t->url('/big/text'));
    like $code, qr/^200 \d+ gzip$/, "$app: compress() gzips (CompressionStream)";
    my ($plain) = $t->curl('-s', '--compressed', '-H', "Host: $app.test", $t->url('/big/text'));
    is $plain, 'all work and no play ' x 500, "$app: and the gzip inflates to the text";
    ($code) = $code =~ /^200 (\d+)/;
    ok $code && $code < 500, "$app: much smaller ($code bytes)";

    my ($at, $head, $body) = arrivals($app, '/streamed/page', ['asking the sky...', 'forecast: sunny']);
    like $body, qr{^<!DOCTYPE html><html><body><h1>Today</h1><template id="H:\d+"></template><p>asking the sky...</p><!--/\$--></body></html>},
        "$app: jsxRenderer streams the page with the Suspense fallback";
    like $body, qr{<template data-hono-target="H:\d+"><p>forecast: sunny</p></template><script>}, "$app: then the async component";
    ok defined $at->{'asking the sky...'} && defined $at->{'forecast: sunny'}
        && $at->{'forecast: sunny'} - $at->{'asking the sky...'} >= 0.25,
        "$app: in two pieces" or diag explain $at;

    ($at, $head, $body) = arrivals($app, '/stream', ['first line', 'second line']);
    is $body,   "first line\nsecond line\n", "$app: streamText() sends both lines";
    ok defined $at->{'first line'} && defined $at->{'second line'}
        && $at->{'second line'} - $at->{'first line'} >= 0.3,
        "$app: the first line arrives before the stream's sleep ends (in pieces)"
        or diag explain $at;
    ($at, $head, $body) = arrivals($app, '/sse', ['data: tick 0', 'data: tick 2']);
    like $head, qr{^content-type: text/event-stream}mi, "$app: streamSSE() is text/event-stream";
    is $body, join('', map { "event: tick\ndata: tick $_\nid: $_\n\n" } 0 .. 2), "$app: with each event";
    ok defined $at->{'data: tick 0'} && defined $at->{'data: tick 2'}
        && $at->{'data: tick 2'} - $at->{'data: tick 0'} >= 0.3,
        "$app: events arrive as they are written" or diag explain $at;
}

# ---------------------------------------------------------------- OpenAPI

# @hono/zod-openapi's OpenAPIHono, and chanfana (Cloudflare's OpenAPI
# template) on hono: routes validated by their zod schemas, the document
# generated from them.
my @openapi = deploy_app('openapi', 'src/index.ts', { 'src/index.ts' => <<'TS' });
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { Hono } from 'hono';
import { fromHono, OpenAPIRoute } from 'chanfana';

const app = new OpenAPIHono();
const User = z.object({ id: z.string().openapi({ example: '123' }), name: z.string() }).openapi('User');
const getUser = createRoute({
  method: 'get',
  path: '/users/{id}',
  request: { params: z.object({ id: z.string().min(3).openapi({ param: { name: 'id', in: 'path' }, example: '1212121' }) }) },
  responses: { 200: { content: { 'application/json': { schema: User } }, description: 'Retrieve the user' } },
});
app.openapi(getUser, (c) => {
  const { id } = c.req.valid('param');
  return c.json({ id, name: 'Ultra-man' }, 200);
});
app.doc('/doc', { openapi: '3.0.0', info: { version: '1.0.0', title: 'Users API' } });

class TaskCreate extends OpenAPIRoute {
  schema = {
    tags: ['Tasks'],
    request: {
      body: { content: { 'application/json': { schema: z.object({ name: z.string(), slug: z.string(), due: z.iso.date() }) } } },
    },
    responses: { '200': { description: 'Created', content: { 'application/json': { schema: z.object({ success: z.boolean() }) } } } },
  };
  async handle(c) {
    const data = await this.getValidatedData<typeof this.schema>();
    return { success: true, task: data.body };
  }
}
const tasks = fromHono(new Hono(), { docs_url: '/tasks-docs', openapi_url: '/tasks-openapi.json' });
tasks.post('/tasks', TaskCreate);
app.route('/', tasks);

export default app;
TS
for my $app (@openapi) {
    $r = on($app, GET => '/users/1234');
    is_deeply json_of($r), { id => '1234', name => 'Ultra-man' }, "$app: an OpenAPIHono route with a valid param";
    $r = on($app, GET => '/users/12');
    is $r->{status}, 400, "$app: a param its schema refuses is 400";
    like $r->{content}, qr/ZodError/, "$app: with zod's error";
    my $doc = json_of(on($app, GET => '/doc'));
    is $doc->{info}{title}, 'Users API', "$app: app.doc() serves the OpenAPI document";
    is $doc->{paths}{'/users/{id}'}{get}{parameters}[0]{schema}{minLength}, 3, "$app: generated from the route's schema";
    is $doc->{components}{schemas}{User}{properties}{id}{example}, '123', "$app: with the named schema";
    $r = on($app, POST => '/tasks', content => '{"name":"ship","slug":"ship-it","due":"2026-12-01"}',
            headers => { 'Content-Type' => 'application/json' });
    is_deeply json_of($r), { success => JSON::PP::true, task => { name => 'ship', slug => 'ship-it', due => '2026-12-01' } },
        "$app: a chanfana OpenAPIRoute with a valid body";
    $r = on($app, POST => '/tasks', content => '{"name":7,"due":"tomorrow"}', headers => { 'Content-Type' => 'application/json' });
    is $r->{status}, 400, "$app: chanfana refuses an invalid body with 400";
    is_deeply [ sort map { join '.', @{ $_->{path} } } @{ json_of($r)->{errors} || [] } ], ['body.due', 'body.name', 'body.slug'],
        "$app: naming each bad field";
    is json_of(on($app, GET => '/tasks-openapi.json'))->{paths}{'/tasks'}{post}{tags}[0], 'Tasks', "$app: chanfana's document";
    like on($app, GET => '/tasks-docs')->{content}, qr/swagger/i, "$app: and its Swagger UI page";
}

# ---------------------------------------------------------------- h3

my @h3 = deploy_app('h3', 'src/index.js', { 'src/index.js' => <<'JS' });
import { H3, HTTPError, getQuery, getRouterParam, readBody } from 'h3';

const app = new H3()
  .get('/', () => 'Hello from h3')
  .get('/hello/:name', (event) => ({ hello: getRouterParam(event, 'name'), query: getQuery(event) }))
  .post('/echo', async (event) => ({ received: await readBody(event) }))
  .get('/refuse', () => { throw new HTTPError({ status: 422, message: 'not processable' }); });

export default { fetch: (request) => app.fetch(request) };
JS
for my $app (@h3) {
    is on($app, GET => '/')->{content}, 'Hello from h3', "$app: a text route";
    is_deeply json_of(on($app, GET => '/hello/ada?x=1')), { hello => 'ada', query => { x => '1' } }, "$app: router params and query";
    is_deeply json_of(on($app, POST => '/echo', content => '{"n":1}', headers => { 'Content-Type' => 'application/json' })),
        { received => { n => 1 } }, "$app: readBody()";
    $r = on($app, GET => '/refuse');
    is $r->{status}, 422, "$app: HTTPError's status";
    is json_of($r)->{message}, 'not processable', "$app: and message";
    is on($app, GET => '/nowhere')->{status}, 404, "$app: an unknown route is 404";
}

# ---------------------------------------------------------------- Elysia

# Elysia's Cloudflare Worker adapter, as its docs write it: .compile() at
# the top level builds its handlers with new Function, which Workers allows
# during startup from a 2025-06-01 compatibility date.
my @elysia = deploy_app('elysia', 'src/index.ts', { 'src/index.ts' => <<'TS' });
import { Elysia, t } from 'elysia';
import { CloudflareAdapter } from 'elysia/adapter/cloudflare-worker';

export default new Elysia({ adapter: CloudflareAdapter })
  .get('/', () => 'Hello Elysia')
  .get('/users/:id', ({ params: { id } }) => ({ id, name: `user ${id}` }))
  .post('/users', ({ body, set }) => { set.status = 201; return { created: body }; }, {
    body: t.Object({ name: t.String({ minLength: 1 }), age: t.Number() }),
  })
  .get('/header', ({ headers }) => ({ ua: headers['user-agent'] }))
  .compile();
TS
for my $app (@elysia) {
    $r = on($app, GET => '/');
    is $r->{status}, 200, "$app: the compiled app answers" or diag $r->{content};
    is $r->{content}, 'Hello Elysia', "$app: a text route";
    is_deeply json_of(on($app, GET => '/users/7')), { id => '7', name => 'user 7' }, "$app: params";
    $r = on($app, POST => '/users', content => '{"name":"Ada","age":36}', headers => { 'Content-Type' => 'application/json' });
    is $r->{status}, 201, "$app: a body its TypeBox schema accepts";
    is_deeply json_of($r), { created => { name => 'Ada', age => 36 } }, "$app: with set.status";
    $r = on($app, POST => '/users', content => '{"name":"","age":"old"}', headers => { 'Content-Type' => 'application/json' });
    is $r->{status}, 422, "$app: a body it refuses is 422";
    is json_of($r)->{type}, 'validation', "$app: a validation error";
    is_deeply json_of(on($app, GET => '/header', headers => { 'User-Agent' => 'elysia-test' })), { ua => 'elysia-test' }, "$app: headers";
}

# ---------------------------------------------------------------- WorkerEntrypoint

# The class form of Cloudflare's current templates: a default export
# extending WorkerEntrypoint from cloudflare:workers, hono inside it, env
# imported at the top level.
my @entry = deploy_app('entry', 'src/index.ts', { 'src/index.ts' => <<'TS' }, bindings => [{ type => 'plain_text', name => 'SITE', text => 'frameworks' }]);
import { WorkerEntrypoint, env } from 'cloudflare:workers';
import { Hono } from 'hono';

const site = env.SITE;
const app = new Hono<{ Bindings: { SITE: string } }>();
app.get('/about', (c) => c.json({ site, fromContext: c.env.SITE, waitUntil: typeof c.executionCtx.waitUntil }));

export default class extends WorkerEntrypoint<{ SITE: string }> {
  async fetch(request: Request) {
    return app.fetch(request, this.env, this.ctx);
  }
}
TS
for my $app (@entry) {
    $r = on($app, GET => '/about');
    is $r->{status}, 200, "$app: a WorkerEntrypoint class answers" or diag $r->{content};
    is_deeply json_of($r), { site => 'frameworks', fromContext => 'frameworks', waitUntil => 'function' },
        "$app: env imported at the top level, this.env and this.ctx handed to hono";
}

# ---------------------------------------------------------------- React SSR

# react-dom/server as wrangler resolves it (the "workerd" condition: the
# edge build), streaming: the shell with the Suspense fallback first, the
# slow part when its data is there.
my @react = deploy_app('react', 'src/index.jsx', {
    'tsconfig.json' => '{ "compilerOptions": { "jsx": "react-jsx" } }',
    'src/index.jsx' => <<'JSX' });
import { Suspense, use, useState } from 'react';
import { renderToReadableStream } from 'react-dom/server';

function Comments({ comments }) {
  const list = use(comments);
  return <ul>{list.map((c) => <li key={c}>{c}</li>)}</ul>;
}

function Counter({ start }) {
  const [count] = useState(start);
  return <button>clicked {count} times</button>;
}

function App({ path, comments }) {
  return (
    <html lang="en">
      <head><meta charSet="utf-8" /><title>React on Workers</title></head>
      <body>
        <h1>Rendered at {path}</h1>
        <Counter start={3} />
        <Suspense fallback={<p>Loading comments...</p>}>
          <Comments comments={comments} />
        </Suspense>
      </body>
    </html>
  );
}

export default {
  async fetch(request) {
    const url = new URL(request.url);
    const comments = new Promise((resolve) => setTimeout(() => resolve(['first comment', 'second & last']), 600));
    let failed = null;
    const stream = await renderToReadableStream(<App path={url.pathname} comments={comments} />, {
      onError(error) { failed = error; console.error(error); },
    });
    if (url.searchParams.has('all')) await stream.allReady;
    return new Response(stream, { status: failed ? 500 : 200, headers: { 'Content-Type': 'text/html; charset=utf-8' } });
  },
};
JSX
for my $app (@react) {
    my ($at, $head, $raw) = arrivals($app, '/page', ['Loading comments...', 'second &amp; last']);
    like $head, qr{^HTTP/1\.1 200 }, "$app: renderToReadableStream answers 200" or diag $head, $raw;
    like $raw, qr{<!DOCTYPE html><html lang="en"><head><meta charSet="utf-8"/><title>React on Workers</title>}, "$app: the document shell";
    like $raw, qr{<h1>Rendered at <!-- -->/page</h1><button>clicked <!-- -->3<!-- --> times</button>}, "$app: components with props and state";
    like $raw, qr{<li>first comment</li><li>second &amp; last</li>}, "$app: the suspended part, escaped, once its promise resolved";
    ok defined $at->{'Loading comments...'} && defined $at->{'second &amp; last'}
        && $at->{'second &amp; last'} - $at->{'Loading comments...'} >= 0.3,
        "$app: the shell with the fallback arrives before the suspended part (streamed)" or diag explain $at;
    my $r = on($app, GET => '/all?all');
    like $r->{content}, qr{<li>second &amp; last</li>}, "$app: stream.allReady waits for everything";
}

# ---------------------------------------------------------------- toucan-js

# Sentry's client for Workers, as its README sets it up; its DSN points at
# the loopback upstream (opened by dispatch_fetch_allow), which records the
# envelope toucan sends with fetch() inside ctx.waitUntil().
my %toucan_meta = (bindings => [{ type => 'plain_text', name => 'SENTRY_DSN',
    text => 'http://0123456789abcdef@' . $up->host_port . '/42' }]);
my @toucan = deploy_app('toucan', 'src/index.js', { 'src/index.js' => <<'JS' }, %toucan_meta);
import { Toucan } from 'toucan-js';

export default {
  async fetch(request, env, context) {
    const sentry = new Toucan({
      dsn: env.SENTRY_DSN,
      context,
      request,
      environment: 'test',
      release: 'frameworks@1.0.0',
      requestDataOptions: { allowedHeaders: ['user-agent'], allowedSearchParams: /(.*)/ },
    });
    sentry.setUser({ id: 'user-7' });
    sentry.setTag('tenant', 'acme');
    sentry.addBreadcrumb({ category: 'checkout', message: 'about to charge' });
    try {
      if (new URL(request.url).pathname === '/ok') return new Response('all fine');
      throw new TypeError('card declined by the worker');
    } catch (err) {
      const id = sentry.captureException(err);
      return new Response(`Something went wrong (${id})`, { status: 500 });
    }
  },
};
JS
for my $app (@toucan) {
    my $r = on($app, GET => '/ok');
    is $r->{content}, 'all fine', "$app: a handler that does not throw answers";
    $r = on($app, GET => '/charge?order=9', headers => { 'User-Agent' => 'frameworks-test' });
    is $r->{status}, 500, "$app: the handler answers its 500 after capturing";
    my ($event_id) = $r->{content} =~ /\(([0-9a-f]{32})\)/;
    ok $event_id, "$app: captureException() returns an event id" or diag $r->{content};
    my $sent = $up->wait_event(sub { $_[0]{ev} eq 'request' && $_[0]{target} =~ m{^/api/42/envelope/}
                                     && index(decode_base64($_[0]{body_b64} // ''), $event_id // 'none') >= 0 }, timeout => 15);
    ok $sent, "$app: the event reaches the DSN's envelope endpoint (fetch in waitUntil)"
        or diag explain [ $up->events ];
    my @lines = split /\n/, decode_base64($sent->{body_b64} // '');
    my ($head, $item, $event) = map { eval { decode_json($_) } // {} } @lines[0 .. 2];
    is $head->{event_id}, $event_id, "$app: the envelope carries that event id";
    like $head->{dsn} // $sent->{target}, qr/0123456789abcdef/, "$app: and the public key";
    is $item->{type}, 'event', "$app: an event item";
    my $exc = $event->{exception}{values}[0] // {};
    is $exc->{type}, 'TypeError', "$app: the exception's type";
    is $exc->{value}, 'card declined by the worker', "$app: and message";
    ok @{ $exc->{stacktrace}{frames} // [] } > 0, "$app: with stack frames parsed from V8's stack";
    is $event->{tags}{tenant}, 'acme', "$app: setTag";
    is $event->{user}{id}, 'user-7', "$app: setUser";
    is $event->{request}{url}, "http://$app.test/charge", "$app: the request";
    is $event->{request}{query_string}, 'order=9', "$app: its allowed search params";
    is $event->{request}{headers}{'user-agent'}, 'frameworks-test', "$app: its allowed header";
    ok((grep { ($_->{message} // '') eq 'about to charge' } @{ $event->{breadcrumbs} // [] }), "$app: the breadcrumb");
    is $event->{release}, 'frameworks@1.0.0', "$app: release";
}

# ---------------------------------------------------------------- @sentry/cloudflare

# Sentry's own SDK for Workers, as its docs set it up: withSentry() around
# the handler, with nodejs_als (AsyncLocalStorage alone) or nodejs_compat.
# An uncaught exception is reported and still fails the request.
my %sentry_meta = (bindings => [{ type => 'plain_text', name => 'SENTRY_DSN',
    text => 'http://fedcba9876543210@' . $up->host_port . '/43' }], variants => [['nodejs_als'], ['nodejs_compat']]);
my @sentry = deploy_app('sentry', 'src/index.js', { 'src/index.js' => <<'JS' }, %sentry_meta);
import * as Sentry from '@sentry/cloudflare';

export default Sentry.withSentry(
  (env) => ({ dsn: env.SENTRY_DSN, release: 'frameworks@2.0.0', tracesSampleRate: 0 }),
  {
    async fetch(request, env, ctx) {
      const { pathname } = new URL(request.url);
      Sentry.setTag('path', pathname);
      if (pathname === '/unhandled') throw new RangeError('unhandled in the worker');
      if (pathname === '/handled') {
        const id = Sentry.captureException(new TypeError('handled in the worker'));
        return new Response(`captured ${id}`);
      }
      return new Response('fine');
    },
  },
);
JS
for my $app (@sentry) {
    is on($app, GET => '/')->{content}, 'fine', "$app: withSentry() passes the answer through";
    my $r = on($app, GET => '/handled');
    my ($id) = $r->{content} =~ /^captured ([0-9a-f]{32})$/;
    ok $id, "$app: captureException() returns an event id" or diag $r->{content};
    my $sent = $up->wait_event(sub { $_[0]{ev} eq 'request' && $_[0]{target} =~ m{^/api/43/envelope/}
                                     && index(decode_base64($_[0]{body_b64} // ''), $id // 'none') >= 0 }, timeout => 15);
    my (undef, undef, $event) = map { eval { decode_json($_) } // {} } split /\n/, decode_base64($sent->{body_b64} // '');
    is $event->{exception}{values}[0]{value}, 'handled in the worker', "$app: the captured exception reaches the DSN";
    is $event->{tags}{path}, '/handled', "$app: with the tag set in the handler's scope (AsyncLocalStorage)";
    $r = on($app, GET => '/unhandled');
    is $r->{status}, 500, "$app: an uncaught exception still fails the request";
    $sent = $up->wait_event(sub { $_[0]{ev} eq 'request' && $_[0]{target} =~ m{^/api/43/envelope/}
                                  && decode_base64($_[0]{body_b64} // '') =~ /unhandled in the worker.*"url":"http:\/\/\Q$app\E\.test\/unhandled"/s },
                               timeout => 15);
    (undef, undef, $event) = map { eval { decode_json($_) } // {} } split /\n/, decode_base64($sent->{body_b64} // '');
    is $event->{exception}{values}[0]{type}, 'RangeError', "$app: and is reported";
    is $event->{tags}{path}, '/unhandled', "$app: in its own request's scope";
    is $event->{release}, 'frameworks@2.0.0', "$app: with the release";
}

# ---------------------------------------------------------------- tRPC

# @trpc/server v11 with its fetch adapter, as tRPC's Cloudflare Workers
# example writes it; zod validates the input.
my @trpc = deploy_app('trpc', 'src/index.ts', { 'src/index.ts' => <<'TS' });
import { initTRPC, TRPCError } from '@trpc/server';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { z } from 'zod';

type Context = { user: string | null };
const t = initTRPC.context<Context>().create();

const appRouter = t.router({
  greet: t.procedure
    .input(z.object({ name: z.string().min(1) }))
    .query(({ input }) => ({ greeting: `Hello, ${input.name}!` })),
  add: t.procedure
    .input(z.object({ a: z.number(), b: z.number() }))
    .mutation(({ input }) => input.a + input.b),
  whoami: t.procedure.query(({ ctx }) => {
    if (!ctx.user) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'who are you?' });
    return ctx.user;
  }),
});
export type AppRouter = typeof appRouter;

export default {
  async fetch(request: Request): Promise<Response> {
    return fetchRequestHandler({
      endpoint: '/trpc',
      req: request,
      router: appRouter,
      createContext: ({ req }) => ({ user: req.headers.get('x-user') }),
    });
  },
};
TS
for my $app (@trpc) {
    my $input = sub { my $s = encode_json($_[0]); $s =~ s/([^A-Za-z0-9_.~-])/sprintf('%%%02X', ord $1)/ge; $s };
    my $r = on($app, GET => '/trpc/greet?input=' . $input->({ name => 'Ada' }));
    is $r->{status}, 200, "$app: a query answers" or diag $r->{content};
    is_deeply json_of($r), { result => { data => { greeting => 'Hello, Ada!' } } }, "$app: with its result";
    $r = on($app, POST => '/trpc/add', content => '{"a":2,"b":40}', headers => { 'Content-Type' => 'application/json' });
    is_deeply json_of($r), { result => { data => 42 } }, "$app: a mutation by POST";
    $r = on($app, GET => '/trpc/greet?input=' . $input->({ name => '' }));
    is $r->{status}, 400, "$app: input zod refuses is 400";
    is json_of($r)->{error}{data}{code}, 'BAD_REQUEST', "$app: BAD_REQUEST";
    $r = on($app, GET => '/trpc/whoami');
    is $r->{status}, 401, "$app: a TRPCError's code sets the status";
    is json_of($r)->{error}{message}, 'who are you?', "$app: and its message";
    $r = on($app, GET => '/trpc/greet,whoami?batch=1&input=' . $input->({ 0 => { name => 'Bob' } }), headers => { 'X-User' => 'bob' });
    is_deeply json_of($r), [{ result => { data => { greeting => 'Hello, Bob!' } } }, { result => { data => 'bob' } }],
        "$app: a batch of two, the context from a header";
    $r = on($app, GET => '/trpc/greet,whoami?batch=1&input=' . $input->({ 0 => { name => 'Cy' } }),
            headers => { 'trpc-accept' => 'application/jsonl', 'X-User' => 'cy' });
    is $r->{status}, 200, "$app: a streamed batch (httpBatchStreamLink) answers";
    like $r->{headers}{'content-type'} // '', qr{^application/json}, "$app: as JSON lines";
    like $r->{content}, qr/Hello, Cy!/, "$app: the streamed batch has the first result";
    like $r->{content}, qr/"cy"/, "$app: and the second";
}

# ---------------------------------------------------------------- graphql-yoga

# GraphQL Yoga's Cloudflare Workers example: env reaches the resolvers as
# the server context; a subscription streams as server-sent events.
my %yoga_meta = (bindings => [{ type => 'plain_text', name => 'GREETING', text => 'Howdy' }]);
my @yoga = deploy_app('yoga', 'src/index.ts', { 'src/index.ts' => <<'TS' }, %yoga_meta);
import { createSchema, createYoga } from 'graphql-yoga';

interface Env { GREETING: string }

const yoga = createYoga<Env>({
  graphqlEndpoint: '/graphql',
  landingPage: false,
  schema: createSchema({
    typeDefs: /* GraphQL */ `
      type Query { hello(name: String!): String!, books: [Book!]! }
      type Book { title: String!, year: Int! }
      type Mutation { double(n: Int!): Int! }
      type Subscription { countdown(from: Int!): Int! }
    `,
    resolvers: {
      Query: {
        hello: (_, { name }, ctx) => `${ctx.GREETING}, ${name}!`,
        books: () => [{ title: 'Dune', year: 1965 }, { title: 'Neuromancer', year: 1984 }],
      },
      Mutation: { double: (_, { n }) => n * 2 },
      Subscription: {
        countdown: {
          subscribe: async function* (_, { from }) {
            for (let i = from; i >= 0; i--) {
              await new Promise((resolve) => setTimeout(resolve, 250));
              yield { countdown: i };
            }
          },
        },
      },
    },
  }),
});

export default { fetch: yoga.fetch };
TS
for my $app (@yoga) {
    my $gql = sub {
        my ($query, %o) = @_;
        return on($app, POST => '/graphql', content => encode_json({ query => $query, %o }),
                  headers => { 'Content-Type' => 'application/json', Accept => 'application/graphql-response+json' });
    };
    my $r = $gql->('query Hi($n: String!) { hello(name: $n) books { title year } }', variables => { n => 'Ada' });
    is $r->{status}, 200, "$app: a query answers" or diag $r->{content};
    is_deeply json_of($r), { data => { hello => 'Howdy, Ada!', books => [{ title => 'Dune', year => 1965 }, { title => 'Neuromancer', year => 1984 }] } },
        "$app: resolvers with variables, env as the context";
    is_deeply json_of($gql->('mutation { double(n: 21) }')), { data => { double => 42 } }, "$app: a mutation";
    $r = $gql->('{ nope }');
    is $r->{status}, 400, "$app: a query the schema refuses is 400 (graphql-response+json)";
    like json_of($r)->{errors}[0]{message} // '', qr/Cannot query field "nope"/, "$app: with the validation error";
    $r = on($app, GET => '/graphql?query=%7Bhello(name%3A%22get%22)%7D', headers => { Accept => 'application/json' });
    is_deeply json_of($r), { data => { hello => 'Howdy, get!' } }, "$app: a query by GET";

    my ($at, $head, $body) = arrivals($app, '/graphql', ['"countdown":2', '"countdown":0'], method => 'POST',
        headers => { 'Content-Type' => 'application/json', Accept => 'text/event-stream' },
        content => encode_json({ query => 'subscription { countdown(from: 2) }' }));
    like $head, qr{^content-type: text/event-stream}mi, "$app: a subscription answers server-sent events";
    $body =~ s/^:\n\n//mg;    # keep-alive comments
    is $body, join('', map { qq{event: next\ndata: {"data":{"countdown":$_}}\n\n} } 2, 1, 0) . "event: complete\ndata:\n\n",
        "$app: each value as it is yielded, then complete";
    ok defined $at->{'"countdown":2'} && defined $at->{'"countdown":0'} && $at->{'"countdown":0'} - $at->{'"countdown":2'} >= 0.25,
        "$app: the values arrive as they are yielded" or diag explain $at;
}

is_deeply [ $t->error_log_alerts ], [], 'no alerts in the error log';
done_testing;
