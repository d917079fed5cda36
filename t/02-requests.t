#!/usr/bin/perl
# SPEC 3 and 5: a request reaches the tenant's script in Redis, routed by
# variables, and the script's Response comes back to the client.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;

my $t = Dispatch::Test->new(
    http => q{
        map $host $tenant {
            ~^(?<name>[a-z0-9_-]+)\.example\.com$  $name;
            default                                "";
        }
    },
    server => q{
        location / { dispatch customers $tenant; }
        location /fixed { dispatch platform status; }
    },
);

$t->put_script('customers', 'acme', q{
    export default {
      fetch(request) { return new Response("acme says hi\n"); }
    };
});
$t->put_script('customers', 'globex', q{
    export default {
      async fetch(request) { return new Response("globex at your service\n"); }
    };
});
$t->put_script('platform', 'status', q{
    export default { fetch() { return Response.json({ ok: true }); } };
});

my $r = $t->get('/', host => 'acme.example.com');
is $r->{status}, 200, 'a map on $host routes to the tenant';
is $r->{content}, "acme says hi\n", 'and its script answers';

$r = $t->get('/', host => 'globex.example.com');
is $r->{content}, "globex at your service\n", 'another host, another script (async handler)';

$r = $t->get('/fixed');
is $r->{status}, 200, 'a constant NAMESPACE SCRIPT works';
is $r->{content}, '{"ok":true}', 'Response.json body';
like $r->{headers}{'content-type'}, qr{^application/json}, 'Response.json content type';

# method, full URL, headers and body reach the script
$t->put_script('customers', 'echo', q{
    export default {
      async fetch(request) {
        const url = new URL(request.url);
        return Response.json({
          method: request.method,
          url: request.url,
          path: url.pathname,
          q: url.searchParams.get('q'),
          custom: request.headers.get('x-custom'),
          multi: request.headers.get('x-multi'),
          body: await request.text(),
        });
      }
    };
});
$r = $t->request('PUT', '/some/path?q=a%20b&x=1', host => 'echo.example.com',
    headers => { 'X-Custom' => 'Custom Value' }, content => "the body \x{e9}");
is $r->{status}, 200, 'the echo tenant answers';
my $got = $r->{content};
like $got, qr/"method":"PUT"/, 'the method reaches the script';
like $got, qr{"url":"http://echo\.example\.com/some/path\?q=a%20b&x=1"},
    'request.url is the full URL the client asked for';
like $got, qr{"path":"/some/path"}, 'URL pathname';
like $got, qr{"q":"a b"}, 'URL searchParams';
like $got, qr{"custom":"Custom Value"}, 'request headers reach the script';
like $got, qr{"body":"the body }, 'the request body reaches the script';

# a large body (spilled to a temporary file by nginx) arrives whole
$t->put_script('customers', 'size', q{
    export default {
      async fetch(request) {
        const buf = await request.arrayBuffer();
        return new Response(String(buf.byteLength) + ':' + new Uint8Array(buf)[buf.byteLength - 1]);
      }
    };
});
$r = $t->request('POST', '/', host => 'size.example.com', content => ('x' x 300_000) . 'Z');
is $r->{content}, '300001:90', 'a 300 kB body arrives whole';

# status, status text, headers and binary bodies come back
$t->put_script('customers', 'shape', q{
    export default {
      fetch(request) {
        const path = new URL(request.url).pathname;
        if (path === '/bytes') {
          return new Response(new Uint8Array([0, 1, 2, 255]), {
            headers: { 'content-type': 'application/octet-stream' } });
        }
        if (path === '/buffer') return new Response(new Uint8Array([104, 105]).buffer);
        if (path === '/empty') return new Response(null, { status: 204 });
        const h = new Headers({ 'X-One': '1' });
        h.append('Set-Cookie', 'a=1');
        h.append('Set-Cookie', 'b=2');
        return new Response('teapot', { status: 418, statusText: 'I Am A Teapot', headers: h });
      }
    };
});
$r = $t->get('/', host => 'shape.example.com');
is $r->{status}, 418, 'the script\'s status comes back';
is $r->{reason}, 'I Am A Teapot', 'with its status text';
is $r->{headers}{'x-one'}, '1', 'a response header comes back';
is_deeply $r->{headers}{'set-cookie'}, ['a=1', 'b=2'], 'Set-Cookie headers stay separate';
like $r->{headers}{'content-type'}, qr{^text/plain}, 'a string body defaults to text/plain';
is $r->{content}, 'teapot', 'the body comes back';

$r = $t->get('/bytes', host => 'shape.example.com');
is $r->{content}, "\x00\x01\x02\xff", 'a typed-array body comes back byte for byte';
is $r->{headers}{'content-length'}, 4, 'with its length';
$r = $t->get('/buffer', host => 'shape.example.com');
is $r->{content}, 'hi', 'an ArrayBuffer body comes back';
$r = $t->get('/empty', host => 'shape.example.com');
is $r->{status}, 204, 'a null body with 204';
is length($r->{content} // ''), 0, 'has no body';
ok !exists $r->{headers}{'content-length'}, 'and no Content-Length';

$r = $t->request('HEAD', '/', host => 'shape.example.com');
is $r->{status}, 418, 'HEAD runs the script too';
is length($r->{content} // ''), 0, 'and sends no body';
is $r->{headers}{'content-length'}, 6, 'but the length of the body GET would get';

# header values are byte strings: a non-ASCII byte comes back as it went in
$t->put_script('customers', 'hdr', q{
    export default {
      fetch(request) {
        const v = request.headers.get('x-in');
        return new Response(String(v.length), { headers: { 'x-out': v } });
      }
    };
});
# (HTTP::Tiny refuses such a header; the raw client sends it)
($r) = $t->parallel([{ method => 'GET', path => '/', host => 'hdr.example.com',
                       headers => { 'X-In' => "caf\xe9" } }]);
is $r->{content}, '4', 'a header byte is one character for the script';
is $r->{headers}{'x-out'}, "caf\xe9", 'and the same byte goes back out';

# a keep-alive connection serves request after request
{
    my $http = HTTP::Tiny->new(keep_alive => 1, timeout => 10, proxy => undef,
                               http_proxy => undef, https_proxy => undef);
    my $ok = 0;
    for (1 .. 20) {
        my $res = $http->get($t->url('/fixed'));
        $ok++ if $res->{status} == 200 && $res->{content} eq '{"ok":true}';
    }
    is $ok, 20, '20 requests on one keep-alive connection';
}

# console.log goes to the error log, tagged with the tenant
$t->put_script('customers', 'logs', q{
    export default {
      fetch() { console.log('hello from the tenant', { n: 1 }); return new Response('logged'); }
    };
});
is $t->get('/', host => 'logs.example.com')->{content}, 'logged', 'a logging tenant answers';
ok $t->wait_for(sub { $t->error_log =~ /dispatch "customers\/logs": console: hello from the tenant \{"n":1\}/ }),
    'console.log lands in the error log with namespace/script';

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
done_testing;
