#!/usr/bin/perl
# Issue 12: outbound fetch() as the Fetch Standard and Workers define it.
# The upstreams are a small Perl server (Dispatch::TestUpstream: it echoes
# what arrived on the wire, redirects, stalls, compresses on cue) and a
# server {} of the test's own nginx (keep-alive, nginx's gzip), both on
# 127.0.0.1, opened with dispatch_fetch_allow 127.0.0.1/32. Request bodies
# of every kind; the response's status, statusText, headers, url and
# redirected; Request objects as input; the three redirect modes with the
# method and body rules and the 20-hop bound; abort before, while waiting
# for headers and mid-body; gzip and deflate decoded; headers, schemes and
# methods validated before anything is sent; dispatch_subrequest_limit and
# $dispatch_subrequests; a tenant waiting on a slow upstream delays no one;
# fetch in ctx.waitUntil(); keep-alive reuse; the proxy idiom.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::TestUpstream;
use JSON::PP qw(decode_json);
use MIME::Base64 qw(decode_base64);
use Time::HiRes qw(time sleep);
# A check that threw comes back as a string ("threw NAME: message"): looking
# into it gives undef (a failed assertion) instead of ending the test.
no strict 'refs';

my $up = Dispatch::TestUpstream->new;    # 127.0.0.1, a port of its own
my $ngx_up = Dispatch::Test::free_port;   # a server {} of the test's nginx

my $t = Dispatch::Test->new(
    http => qq{
    dispatch_fetch_allow 127.0.0.1/32;
    dispatch_subrequest_limit 200;
    dispatch_cpu_limit 2s;
    log_format subrequests '\$request_uri \$dispatch_subrequests';
    log_format upstream '\$request_uri \$connection \$connection_requests enc=\$sent_http_content_encoding';
    server {
        listen 127.0.0.1:$ngx_up;
        access_log %%PREFIX%%/upstream.log upstream;
        keepalive_timeout 60s;
        location /ka/ { return 200 "kept\\n"; }
        location /gz/ { root %%PREFIX%%/www; default_type text/plain; gzip on; gzip_types text/plain; gzip_min_length 1; }
    }},
    server => q{
        location ~ ^/t/(?<script>[^/]*) {
            dispatch tenants $script;
            access_log %%PREFIX%%/subrequests.log subrequests;
        }
        location ~ ^/limit3/(?<script>[^/]*) { dispatch_subrequest_limit 3; dispatch tenants $script; }
        location ~ ^/ns/(?<ns>[^/]*)/(?<script>[^/]*) { dispatch $ns $script; }
    },
);
mkdir $t->prefix . '/www';
mkdir $t->prefix . '/www/gz';
chmod 0755, $t->prefix . '/www', $t->prefix . '/www/gz';
Dispatch::Test::_write_file($t->prefix . '/www/gz/text.txt', $Dispatch::TestUpstream::TEXT, 0644);

my $UP  = 'http://127.0.0.1:' . $up->port;
my $NGX = "http://127.0.0.1:$ngx_up";
# every script knows its upstreams, and how to read the echo's view of a request
my $PRELUDE = qq{
    const UP = '$UP';
    const NGX = '$NGX';
} . q{
    async function seen(res) {
      const e = await res.json();
      return { method: e.method, target: e.target, type: e.header['content-type'] ?? null,
               length: e.header['content-length'] ?? null, chunked: e.chunked, body: atob(e.body_b64),
               header: e.header };
    }
};
sub checks {
    my ($name, $code, %req) = @_;
    return $t->run_checks('tenants', $name, $PRELUDE . $code, %req);
}
sub script { my ($ns, $name, $code, @rest) = @_; $t->put_script($ns, $name, $PRELUDE . $code, @rest) }
sub sent_to { my ($re) = @_; return scalar $up->requests_for($re) }
my $TE = "threw TypeError";

# ---- request bodies ----

my $c = checks('bodies', q{
    const bodies = {
      string: () => 'hello, upstream',
      ArrayBuffer: () => new Uint8Array([0, 1, 2, 255]).buffer,
      Uint8Array: () => new Uint8Array([0, 1, 2, 255]),
      'Uint8Array view': () => new Uint8Array([9, 9, 1, 2, 3, 9]).subarray(2, 5),
      URLSearchParams: () => new URLSearchParams({ a: '1', b: 'x y' }),
      Blob: () => new Blob(['blob ', 'parts'], { type: 'text/x-blob' }),
      FormData: () => {
        const f = new FormData();
        f.append('field', 'value');
        f.append('file', new Blob(['file body'], { type: 'text/plain' }), 'a.txt');
        return f;
      },
      ReadableStream: () => new ReadableStream({ start(c) {
        c.enqueue(new TextEncoder().encode('streamed '));
        c.enqueue(new TextEncoder().encode('body'));
        c.close();
      } }),
    };
    const checks = {};
    for (const method of ['POST', 'PUT'])
      for (const [kind, make] of Object.entries(bodies))
        checks[`${method} ${kind}`] = async () => seen(await fetch(UP + '/echo', { method, body: make(), duplex: 'half' }));
    checks.GET = async () => seen(await fetch(UP + '/echo/get?x=1'));
    checks['GET with a body'] = () => fetch(UP + '/echo/get-body', { method: 'GET', body: 'no' });
    checks['HEAD with a body'] = () => fetch(UP + '/echo/head-body', { method: 'HEAD', body: 'no' });
    export default { fetch() { return results(checks); } };
});
for my $m (qw(POST PUT)) {
    my $s = $c->{"$m string"};
    is $s->{method}, $m, "$m: the method arrives";
    is $s->{body}, 'hello, upstream', "$m string: the body arrives";
    is $s->{type}, 'text/plain;charset=UTF-8', "$m string: Content-Type text/plain;charset=UTF-8 (Fetch: extract a body)";
    is $s->{length}, '15', "$m string: with its Content-Length";
    for my $kind ('ArrayBuffer', 'Uint8Array') {
        is $c->{"$m $kind"}{body}, "\x00\x01\x02\xff", "$m $kind: the bytes arrive as they are";
        is $c->{"$m $kind"}{type}, undef, "$m $kind: no Content-Type";
        is $c->{"$m $kind"}{length}, '4', "$m $kind: Content-Length 4";
    }
    is $c->{"$m Uint8Array view"}{body}, "\x01\x02\x03", "$m: a Uint8Array view sends only the bytes it sees";
    is $c->{"$m URLSearchParams"}{body}, 'a=1&b=x+y', "$m URLSearchParams: form-urlencoded";
    is $c->{"$m URLSearchParams"}{type}, 'application/x-www-form-urlencoded;charset=UTF-8',
        "$m URLSearchParams: its Content-Type";
    is $c->{"$m Blob"}{body}, 'blob parts', "$m Blob: its bytes";
    is $c->{"$m Blob"}{type}, 'text/x-blob', "$m Blob: its type is the Content-Type";
    is $c->{"$m Blob"}{length}, '10', "$m Blob: Content-Length 10";
    my $f = $c->{"$m FormData"};
    my ($boundary) = ($f->{type} // '') =~ m{^multipart/form-data;\s*boundary=(\S+)$};
    ok defined $boundary, "$m FormData: Content-Type multipart/form-data with a boundary ($f->{type})";
    $boundary //= 'none';
    like $f->{body}, qr/^--\Q$boundary\E\r\nContent-Disposition: form-data; name="field"\r\n\r\nvalue\r\n/,
        "$m FormData: the field, framed by the boundary";
    like $f->{body}, qr/Content-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text\/plain\r\n\r\nfile body\r\n--\Q$boundary\E--\r\n$/,
        "$m FormData: the file part with its name and type, then the closing boundary";
    is $f->{length}, length($f->{body}), "$m FormData: Content-Length is the body's length";
    is $c->{"$m ReadableStream"}{body}, 'streamed body', "$m ReadableStream: every chunk arrives";
    ok $c->{"$m ReadableStream"}{chunked} && !defined $c->{"$m ReadableStream"}{length},
        "$m ReadableStream: of unknown length, so sent chunked";
}
is $c->{GET}{method}, 'GET', 'GET: the method';
is $c->{GET}{target}, '/echo/get?x=1', 'GET: the path and query as given';
is $c->{GET}{body}, '', 'GET: no body';
ok !defined $c->{GET}{length} && !$c->{GET}{chunked}, 'GET: no Content-Length, not chunked';
like $c->{'GET with a body'}, qr/^$TE/, 'a GET with a body is a TypeError (Fetch: new Request)';
like $c->{'HEAD with a body'}, qr/^$TE/, 'a HEAD with a body is a TypeError';
is sent_to(qr{^/echo/(get|head)-body}), 0, '... and neither was sent';

# ---- what goes on the wire ----

$c = checks('wire', q{
    export default { fetch() { return results({
      headers: async () => (await seen(await fetch(UP + '/echo/h', { headers: { 'X-Custom': 'v', 'X-Two': 'a, b' } }))).header,
      'lower-case method': async () => (await seen(await fetch(UP + '/echo/m', { method: 'delete' }))).method,
      'PATCH': async () => (await seen(await fetch(UP + '/echo/m', { method: 'PATCH', body: 'p' }))).method,
      'OPTIONS': async () => (await seen(await fetch(UP + '/echo/m', { method: 'OPTIONS' }))).method,
      'a fragment': async () => {
        const r = await fetch(UP + '/echo/frag?q=1#frag');
        return { url: r.url, target: (await seen(r)).target };
      },
    }); } };
});
is $c->{headers}{host}, '127.0.0.1:' . $up->port, 'Host is the URL\'s host and port';
is $c->{headers}{'x-custom'}, 'v', 'a header the script set arrives';
is $c->{headers}{'x-two'}, 'a, b', '... with its value as given';
like $c->{headers}{'accept-encoding'} // '', qr/\bgzip\b/, 'Accept-Encoding names gzip';
is $c->{'lower-case method'}, 'DELETE', "'delete' is normalized to DELETE (Fetch: normalize a method)";
is $c->{PATCH}, 'PATCH', 'PATCH goes out';
is $c->{OPTIONS}, 'OPTIONS', 'OPTIONS goes out';
is $c->{'a fragment'}{target}, '/echo/frag?q=1', 'the fragment is not sent';
is $c->{'a fragment'}{url}, "$UP/echo/frag?q=1", 'response.url has no fragment';

# ---- refused before anything is sent: methods, schemes, URLs, headers ----

$c = checks('refused', q{
    const tryFetch = (...args) => fetch(...args).then((r) => `fetched ${r.status}`);
    export default { fetch() { return results({
      CONNECT: () => tryFetch(UP + '/echo/refused-method', { method: 'CONNECT' }),
      TRACE: () => tryFetch(UP + '/echo/refused-method', { method: 'TRACE' }),
      TRACK: () => tryFetch(UP + '/echo/refused-method', { method: 'TRACK' }),
      'connect (any case)': () => tryFetch(UP + '/echo/refused-method', { method: 'connect' }),
      'a method that is no token': () => tryFetch(UP + '/echo/refused-method', { method: 'BAD METHOD' }),
      'ftp:': () => tryFetch('ftp://127.0.0.1:' + new URL(UP).port + '/echo/refused-scheme'),
      'file:': () => tryFetch('file:///etc/passwd'),
      'not a URL': () => tryFetch('not a url'),
      'a relative URL': () => tryFetch('/echo/refused-relative'),
      'CR LF in a value': () => tryFetch(UP + '/echo/refused-header', { headers: { 'X-Bad': 'a\r\nX-Injected: 1' } }),
      'LF in a value': () => tryFetch(UP + '/echo/refused-header', { headers: { 'X-Bad': 'a\nb' } }),
      'NUL in a value': () => tryFetch(UP + '/echo/refused-header', { headers: { 'X-Bad': 'a\0b' } }),
      'a space in a name': () => tryFetch(UP + '/echo/refused-header', { headers: { 'bad name': 'x' } }),
      'an empty name': () => tryFetch(UP + '/echo/refused-header', { headers: { '': 'x' } }),
      'CR LF in a Request\'s header': () => tryFetch(new Request(UP + '/echo/refused-header', { headers: [['X-Bad', 'a\r\nb']] })),
    }); } };
});
is scalar(keys %$c), 15, 'every refusal was tried';
for my $k (sort keys %$c) {
    like $c->{$k}, qr/^$TE/, "$k: a TypeError";
}
is sent_to(qr{^/echo/refused}), 0, 'none of them reached the upstream';
ok sent_to(qr{^/}) > 0, '(the upstream is up: the earlier checks reached it)';

# ---- the response ----

$c = checks('response', q{
    export default { fetch() { return results({
      custom: async () => {
        const r = await fetch(UP + '/status/299?reason=Quite%20Fine');
        return { status: r.status, statusText: r.statusText, ok: r.ok, single: r.headers.get('x-single'),
                 multi: r.headers.get('X-Multi'), type: r.headers.get('content-type'), url: r.url,
                 redirected: r.redirected, body: await r.text(), isResponse: r instanceof Response };
      },
      notFound: async () => { const r = await fetch(UP + '/status/404?reason=Not%20Here'); return [r.status, r.statusText, r.ok]; },
      serverError: async () => { const r = await fetch(UP + '/status/503'); return [r.status, r.ok, await r.text()]; },
    }); } };
});
is $c->{custom}{status}, 299, 'response.status is the upstream\'s';
is $c->{custom}{statusText}, 'Quite Fine', 'response.statusText is its reason phrase';
is $c->{custom}{ok}, JSON::PP::true, 'ok for a 2xx';
is $c->{custom}{single}, 'one', 'a response header';
is $c->{custom}{multi}, 'a, b', 'a repeated response header, combined';
is $c->{custom}{type}, 'text/plain', 'Content-Type';
is $c->{custom}{url}, "$UP/status/299?reason=Quite%20Fine", 'response.url is the URL fetched';
is $c->{custom}{redirected}, JSON::PP::false, 'not redirected';
is $c->{custom}{body}, 'status body', 'the body';
is $c->{custom}{isResponse}, JSON::PP::true, 'fetch resolves to a Response';
is_deeply $c->{notFound}, [404, 'Not Here', JSON::PP::false], 'a 404 resolves (it is no network error), ok false';
is_deeply $c->{serverError}, [503, JSON::PP::false, 'status body'], 'a 503 resolves with its body';

# ---- Request objects as input ----

$c = checks('request-input', q{
    export default { fetch(request) { return results({
      'a Request': async () => seen(await fetch(new Request(UP + '/echo/req', {
        method: 'PUT', body: 'from a Request', headers: { 'X-From': 'request' } }))),
      'a Request and an init': async () => seen(await fetch(new Request(UP + '/echo/req', { method: 'PUT', body: 'a' }),
        { method: 'POST', body: 'from the init' })),
      'the incoming request, re-aimed': async () => seen(await fetch(new Request(UP + '/echo/incoming', request))),
    }); } };
}, method => 'POST', content => 'the client\'s body', headers => { 'X-Client' => 'yes' });
is $c->{'a Request'}{method}, 'PUT', 'a Request: its method';
is $c->{'a Request'}{body}, 'from a Request', 'a Request: its body';
is $c->{'a Request'}{header}{'x-from'}, 'request', 'a Request: its headers';
is $c->{'a Request and an init'}{method}, 'POST', 'the init overrides the Request\'s method';
is $c->{'a Request and an init'}{body}, 'from the init', '... and body';
is $c->{'the incoming request, re-aimed'}{method}, 'POST', 'new Request(url, request): the client\'s method';
is $c->{'the incoming request, re-aimed'}{body}, 'the client\'s body', '... its body';
is $c->{'the incoming request, re-aimed'}{header}{'x-client'}, 'yes', '... and its headers';

# ---- redirects ----

$c = checks('redirects', q{
    async function follow(code, method, extra = {}) {
      const r = await fetch(UP + `/redirect/${code}?to=/echo/after-${code}`, {
        method, body: 'payload', headers: { 'Content-Type': 'text/x-payload' }, ...extra });
      return { status: r.status, redirected: r.redirected, url: r.url, ...(await seen(r)) };
    }
    const checks = {};
    for (const code of [301, 302, 303, 307, 308]) checks[`POST ${code}`] = () => follow(code, 'POST');
    checks['PUT 301'] = () => follow(301, 'PUT');
    checks['PUT 303'] = () => follow(303, 'PUT');
    checks['GET 303'] = async () => {
      const r = await fetch(UP + '/redirect/303?to=/echo/after-get');
      return { redirected: r.redirected, ...(await seen(r)) };
    };
    checks['relative ../'] = async () => { const r = await fetch(UP + '/redirect/302?to=../echo/dotdot'); return [r.url, (await seen(r)).target]; };
    checks['to another origin'] = async () => {
      const r = await fetch(UP + '/redirect/301?to=' + encodeURIComponent(NGX + '/ka/moved'));
      return [r.status, r.url, r.redirected, await r.text()];
    };
    checks.manual = async () => {
      const r = await fetch(UP + '/redirect/302?to=/echo/not-followed', { redirect: 'manual' });
      return { status: r.status, location: r.headers.get('location'), redirected: r.redirected, url: r.url };
    };
    checks.error = () => fetch(UP + '/redirect/302?to=/echo/not-followed-either', { redirect: 'error' }).then((r) => `fetched ${r.status}`);
    checks['20 hops'] = async () => { const r = await fetch(UP + '/chain/20'); return [r.status, r.redirected, await r.text()]; };
    checks['21 hops'] = () => fetch(UP + '/chain/21').then((r) => `fetched ${r.status}`);
    export default { fetch() { return results(checks); } };
});
for my $code (301, 302, 303) {
    my $r = $c->{"POST $code"};
    is $r->{status}, 200, "POST, $code: followed (redirect: 'follow' is the default)";
    is $r->{method}, 'GET', "POST, $code: the next request is a GET";
    is $r->{body}, '', "POST, $code: without the body";
    ok !defined $r->{type}, "POST, $code: and without the body's Content-Type (request-body-header names go)";
    ok !$r->{chunked} && (!defined $r->{length} || $r->{length} eq '0'), "POST, $code: no body framing";
}
for my $code (307, 308) {
    my $r = $c->{"POST $code"};
    is $r->{method}, 'POST', "POST, $code: the method is kept";
    is $r->{body}, 'payload', "POST, $code: so is the body";
    is $r->{type}, 'text/x-payload', "POST, $code: and its Content-Type";
}
is $c->{'POST 302'}{target}, '/echo/after-302', 'a relative Location resolves against the URL that answered';
is $c->{'POST 302'}{url}, "$UP/echo/after-302", 'response.url is the last URL';
is $c->{'POST 302'}{redirected}, JSON::PP::true, 'response.redirected is true';
is $c->{'PUT 301'}{method}, 'PUT', 'PUT, 301: the method is kept (only POST becomes GET on 301/302)';
is $c->{'PUT 301'}{body}, 'payload', 'PUT, 301: with its body';
is $c->{'PUT 303'}{method}, 'GET', 'PUT, 303: becomes GET';
is $c->{'PUT 303'}{body}, '', 'PUT, 303: without the body';
is $c->{'GET 303'}{method}, 'GET', 'GET, 303: a GET';
is_deeply $c->{'relative ../'}, ["$UP/echo/dotdot", '/echo/dotdot'], 'a Location of ../echo/dotdot resolves as a URL';
is_deeply $c->{'to another origin'}, [200, "$NGX/ka/moved", JSON::PP::true, "kept\n"], 'a redirect to another origin is followed';
is $c->{manual}{status}, 302, "redirect: 'manual' resolves with the redirect itself (as Workers)";
is $c->{manual}{location}, '/echo/not-followed', "redirect: 'manual': its Location is readable";
is $c->{manual}{redirected}, JSON::PP::false, "redirect: 'manual': not redirected";
like $c->{error}, qr/^$TE/, "redirect: 'error' rejects with a TypeError";
is sent_to(qr{^/echo/not-followed}), 0, "neither 'manual' nor 'error' followed the Location";
is_deeply $c->{'20 hops'}, [200, JSON::PP::true, 'end of chain'], '20 redirects are followed';
like $c->{'21 hops'}, qr/^$TE/, 'the 21st redirect is a TypeError (Fetch: at most 20)';

# ---- abort ----

$c = checks('abort', q{
    export default { fetch() { return results({
      'before the call': async () => {
        const c = new AbortController();
        c.abort();
        try { await fetch(UP + '/echo/aborted-before', { signal: c.signal }); return 'fetched'; }
        catch (e) { return { name: e.name, isDOMException: e instanceof DOMException }; }
      },
      'with a reason': async () => {
        const c = new AbortController();
        c.abort(new RangeError('mine'));
        try { await fetch(UP + '/echo/aborted-reason', { signal: c.signal }); return 'fetched'; }
        catch (e) { return { isReason: e instanceof RangeError, message: e.message }; }
      },
      'waiting for headers': async () => {
        const c = new AbortController();
        const t0 = Date.now();
        setTimeout(() => c.abort(), 300);
        try { await fetch(UP + '/hang-headers', { signal: c.signal }); return 'fetched'; }
        catch (e) { return { name: e.name, ms: Date.now() - t0 }; }
      },
      'AbortSignal.timeout': async () => {
        const t0 = Date.now();
        try { await fetch(UP + '/hang-headers', { signal: AbortSignal.timeout(300) }); return 'fetched'; }
        catch (e) { return { name: e.name, ms: Date.now() - t0 }; }
      },
      'mid-body': async () => {
        const c = new AbortController();
        const r = await fetch(UP + '/hang-body', { signal: c.signal });
        const reader = r.body.getReader();
        const first = await reader.read();
        c.abort();
        try { for (;;) { if ((await reader.read()).done) return 'ended'; } }
        catch (e) { return { status: r.status, got: first.value.byteLength, name: e.name }; }
      },
    }); } };
});
is_deeply $c->{'before the call'}, { name => 'AbortError', isDOMException => JSON::PP::true },
    'a signal aborted before the call: fetch rejects with an AbortError DOMException';
is sent_to(qr{^/echo/aborted-}), 0, '... and nothing is sent';
is_deeply $c->{'with a reason'}, { isReason => JSON::PP::true, message => 'mine' },
    'abort(reason): fetch rejects with that reason';
is $c->{'waiting for headers'}{name}, 'AbortError', 'aborted while waiting for the headers: an AbortError';
cmp_ok $c->{'waiting for headers'}{ms} // 99999, '<', 2000, "... at once, not when the upstream gives up ($c->{'waiting for headers'}{ms} ms)";
is $c->{'AbortSignal.timeout'}{name}, 'TimeoutError', 'AbortSignal.timeout(300): a TimeoutError';
is $c->{'mid-body'}{status}, 200, 'aborted mid-body: the headers had come';
ok $c->{'mid-body'}{got} > 0, '... and the first bytes';
is $c->{'mid-body'}{name}, 'AbortError', '... then reading the body rejects with an AbortError';
my @closed = grep { $_->{ev} eq 'peer-closed' } $up->events;
is scalar(@closed), 3, 'each aborted fetch closed its connection to the upstream';
ok !grep({ $_->{after} > 3 } @closed), '... at once (the upstream waits 10 s)' or diag explain \@closed;

# ---- content codings ----

$c = checks('decoding', q{
    const read = async (u) => { const r = await fetch(u); return { text: await r.text(), seen: r.headers.get('x-seen-accept-encoding') }; };
    export default { fetch() { return results({
      gzip: () => read(UP + '/gzip'),
      deflate: () => read(UP + '/deflate'),
      'raw deflate': () => read(UP + '/deflate-raw'),
      'nginx gzip': async () => (await fetch(NGX + '/gz/text.txt')).text(),
    }); } };
});
my $TEXT = $Dispatch::TestUpstream::TEXT;
ok $c->{gzip}{text} eq $TEXT, 'a gzip body is decoded';
like $c->{gzip}{seen} // '', qr/gzip/, '... Accept-Encoding asked for gzip';
ok $c->{deflate}{text} eq $TEXT, 'a deflate body (zlib) is decoded';
like $c->{deflate}{seen} // '', qr/deflate/, '... Accept-Encoding names deflate';
ok $c->{'raw deflate'}{text} eq $TEXT, 'a raw DEFLATE body is decoded too (as browsers do)';
ok $c->{'nginx gzip'} eq $TEXT, "nginx's gzip filter's body is decoded";
like $t->read_prefix_file('upstream.log'), qr{^/gz/text\.txt \S+ \S+ enc=gzip$}m, '... nginx did compress it';

# ---- the subrequest limit ----

$c = checks('limit', q{
    export default { fetch() { return results({
      'a fetch that follows a redirect (2)': async () => (await fetch(UP + '/redirect/302?to=/echo/limit-2')).status,
      'a third': async () => (await fetch(UP + '/echo/limit-3')).status,
      'the fourth': async () => {
        try { await fetch(UP + '/echo/limit-4'); return 'fetched'; }
        catch (e) { return { name: e.name, isError: e instanceof Error, message: e.message }; }
      },
      'the script carries on': () => 'yes',
    }); } };
}, path => '/limit3/limit');
is $c->{'a fetch that follows a redirect (2)'}, 200, 'dispatch_subrequest_limit 3: a fetch with a redirect';
is $c->{'a third'}, 200, '... and a third request are made';
is $c->{'the fourth'}{name}, 'Error', 'the fourth rejects with an Error (redirects count)';
like $c->{'the fourth'}{message}, qr/limit|too many subrequests/i, '... whose message names the limit';
is $c->{'the script carries on'}, 'yes', '... which the script catches and carries on';
is sent_to(qr{^/echo/limit-4}), 0, 'the fourth was never sent';

my $chain0 = sent_to(qr{^/chain/0$});
my $chain3 = sent_to(qr{^/chain/3$});
$c = checks('limit-hops', q{
    export default { fetch() { return results({
      'three redirects': () => fetch(UP + '/chain/3').then((r) => `fetched ${r.status}`),
    }); } };
}, path => '/limit3/limit-hops');
like $c->{'three redirects'}, qr/limit|too many subrequests/i, 'a fetch whose redirects pass the limit rejects';
is sent_to(qr{^/chain/3$}) - $chain3, 1, '... after it was sent';
is sent_to(qr{^/chain/0$}) - $chain0, 0, '... without the hop past the limit';

script('tenants', 'count', q{
    export default { async fetch() {
      await (await fetch(UP + '/redirect/302?to=/echo/count-1')).text();
      await (await fetch(UP + '/echo/count-2')).text();
      return new Response('counted');
    } };
});
script('tenants', 'none', q{ export default { fetch() { return new Response('none'); } }; });
is $t->get('/t/count?log')->{content}, 'counted', 'a request that made two fetches, one redirected';
is $t->get('/t/none?log')->{content}, 'none', 'a request that made none';
ok $t->wait_for(sub { $t->read_prefix_file('subrequests.log') =~ m{^/t/none\?log }m }), 'both are logged';
my $log = $t->read_prefix_file('subrequests.log');
like $log, qr{^/t/count\?log 3$}m, '$dispatch_subrequests: 3 (the redirect counts)';
like $log, qr{^/t/none\?log 0$}m, '$dispatch_subrequests: 0 without fetch';

# ---- waiting costs nothing ----

script('slow-tenant', 'main', q{
    export default { async fetch() { return new Response(await (await fetch(UP + '/slow?ms=5000')).text()); } };
});
script('quick-tenant', 'main', q{ export default { fetch() { return new Response('at once'); } }; });
my $slow = $t->send_request({ path => '/ns/slow-tenant/main' });
ok $up->wait_event(sub { $_[0]{ev} eq 'request' && $_[0]{path} eq '/slow' }, timeout => 5),
    'a tenant is waiting on an upstream that answers in 5 s';
my $quick = $t->read_response($t->send_request({ path => '/ns/quick-tenant/main' }), timeout => 10);
is $quick->{content}, 'at once', 'another tenant on the same (single) worker is answered';
cmp_ok $quick->{elapsed}, '<', 0.5, sprintf('... at once (%.3f s)', $quick->{elapsed});
my $s = $t->read_response($slow, timeout => 15);
is $s->{content}, 'slow', 'the waiting tenant gets its answer';
cmp_ok $s->{elapsed}, '>', 4.5, sprintf('... when the upstream gave it (%.1f s)', $s->{elapsed});

# ---- fetch in ctx.waitUntil ----

script('tenants', 'hook', q{
    export default { async fetch(request, env, ctx) {
      const url = new URL(request.url);
      const id = url.searchParams.get('id');
      if (url.searchParams.has('read')) return new Response((await env.KV.get(`hook:${id}`)) ?? 'not yet');
      ctx.waitUntil((async () => {
        await new Promise((r) => setTimeout(r, 300));
        const r = await fetch(UP + `/echo/hook?id=${id}`, { method: 'POST', body: 'after the response' });
        await env.KV.put(`hook:${id}`, `${r.status} ${(await r.json()).length}`);
      })());
      return new Response('answered');
    } };
}, metadata => '{"bindings":[{"type":"kv_namespace","name":"KV","namespace_id":"hooks"}]}');
my $r = $t->get('/t/hook?id=h1');
my $answered = time;
is $r->{content}, 'answered', 'a script answers and leaves a fetch to ctx.waitUntil()';
my $hook = $up->wait_event(sub { $_[0]{ev} eq 'request' && $_[0]{target} eq '/echo/hook?id=h1' }, timeout => 5);
ok $hook, 'the fetch reaches the upstream';
cmp_ok $hook ? $hook->{t} : 0, '>', $answered - 0.05, '... after the client had its answer';
is $hook ? decode_base64($hook->{body_b64}) : '', 'after the response', '... with its body';
ok $t->wait_for(sub { $t->get('/t/hook?id=h1&read')->{content} eq '200 18' }, timeout => 5),
    'and the script read the upstream\'s answer (seen through KV)';

# ---- keep-alive ----

$c = checks('keepalive', q{
    export default { fetch() { return results({
      'two in a row': async () => {
        const a = await (await fetch(NGX + '/ka/first')).text();
        const b = await (await fetch(NGX + '/ka/second')).text();
        return a + b;
      },
    }); } };
});
is $c->{'two in a row'}, "kept\nkept\n", 'two sequential fetches to the nginx upstream';
my $ulog = $t->read_prefix_file('upstream.log');
my ($c1, $n1) = $ulog =~ m{^/ka/first (\d+) (\d+)}m;
my ($c2, $n2) = $ulog =~ m{^/ka/second (\d+) (\d+)}m;
ok defined $c1 && defined $c2, 'both reached it' or diag $ulog;
is $c2, $c1, 'the second reused the first one\'s connection ($connection)';
is $n2, ($n1 // 0) + 1, '... as its next request ($connection_requests)';

# ---- the proxy idiom (SDKs, API gateways) ----

script('tenants', 'proxy', q{
    export default { async fetch(request) {
      const x = await request.json();
      const res = await fetch(UP + '/echo/api', { method: 'POST', headers: { 'content-type': 'application/json' },
                                                  body: JSON.stringify(x) });
      return new Response(res.body, res);
    } };
});
$r = $t->request('POST', '/t/proxy', content => '{"hello":"world","n":[1,2]}');
is $r->{status}, 200, 'the proxy idiom: new Response(res.body, res)';
is $r->{headers}{'x-upstream'}, 'perl', '... passes the upstream\'s headers';
like $r->{headers}{'content-type'} // '', qr{^application/json}, '... and its Content-Type';
my $e = eval { decode_json($r->{content}) } || {};
is $e->{method}, 'POST', 'the upstream got a POST';
is $e->{header}{'content-type'}, 'application/json', '... with the Content-Type the script set';
is_deeply scalar(eval { decode_json(decode_base64($e->{body_b64} // '')) }), { hello => 'world', n => [1, 2] },
    '... and the JSON body';

script('tenants', 'proxy-gzip', q{
    export default { async fetch() { const res = await fetch(UP + '/gzip'); return new Response(res.body, res); } };
});
my ($out) = $t->curl('--compressed', $t->url('/t/proxy-gzip'));
ok $out eq $TEXT, 'the proxy idiom on a gzip upstream: the client gets the text (decoded body and headers agree)';

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
$up->stop;
done_testing;
