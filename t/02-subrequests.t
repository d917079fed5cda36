#!/usr/bin/perl
# A dispatch location as the target of nginx's subrequests: an auth_request
# hook (its status allows or denies, auth_request_set reads its headers
# through $sent_http_*, a 401's WWW-Authenticate reaches the client, its
# body never does), an SSI include and a mirror.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;

my $t = Dispatch::Test->new(
    server => q{
        location ~ ^/d/(?<script>[^/]*) { dispatch tenants $script; }
        location = /auth {
            internal;
            dispatch tenants auth;
            dispatch_request_cf subrequest_uri $uri;
        }
        location /p/ {
            auth_request /auth;
            auth_request_set $user $sent_http_x_user;
            add_header X-User $user always;
            dispatch tenants app;
        }
        location /s/ {
            auth_request /auth;
            alias %%PREFIX%%/;
        }
        location /ssi/ { ssi on; alias %%PREFIX%%/; }
        location /m/ { mirror /d/mirror; dispatch tenants app; }
    },
);
my $kv = '{"bindings":[{"type":"kv_namespace","name":"KV","namespace_id":"sub"}]}';

# the hook: Authorization decides; X-Mode picks how it answers
$t->put_script('tenants', 'auth', q{
    export default {
      async fetch(req, env) {
        const url = new URL(req.url);
        const mode = req.headers.get('x-mode');
        if (mode === 'slow') await new Promise((r) => setTimeout(r, 100));
        if (mode === 'throw') throw new Error('the hook failed');
        if (mode === 'seen') {
          return new Response(null, { headers: { 'X-User':
            `${req.method} ${url.host} ${req.headers.get('host')} ${url.pathname} ${req.cf.subrequest_uri}` } });
        }
        const token = req.headers.get('authorization');
        if (token === 'Bearer good') {
          const body = mode === 'stream'
            ? new ReadableStream({ pull(c) { c.enqueue(new TextEncoder().encode('hook body')); c.close(); } })
            : 'hook body';
          return new Response(body, { headers: { 'X-User': 'alice' } });
        }
        if (token === 'Bearer bad') return new Response('hook body', { status: 403 });
        return new Response('hook body', { status: 401, headers: { 'WWW-Authenticate': 'Bearer realm="tenants"' } });
      }
    };
});
$t->put_script('tenants', 'app', q{
    export default { async fetch(req) { return new Response(`app ${req.method} ${(await req.text()).length}`); } };
});
my $prefix = $t->prefix;
open my $fh, '>', "$prefix/file.txt" or die;
print $fh "static\n";
close $fh;

sub get_as {
    my ($path, $token, %h) = @_;
    $h{Authorization} = "Bearer $token" if $token;
    return $t->get($path, headers => \%h);
}

my $r = get_as('/p/x', 'good');
is "$r->{status} $r->{content}", '200 app GET 0', 'auth_request: a 2xx from the hook lets the request through';
is $r->{headers}{'x-user'}, 'alice', 'auth_request_set reads the hook\'s header through $sent_http_x_user';

$r = get_as('/p/x', 'bad');
is $r->{status}, 403, 'a 403 from the hook denies';
unlike $r->{content}, qr/hook body|app/, 'and neither the hook\'s body nor the content reach the client';

$r = get_as('/s/file.txt', '');
is $r->{status}, 401, 'a 401 from the hook denies';
is $r->{headers}{'www-authenticate'}, 'Bearer realm="tenants"', 'with the hook\'s WWW-Authenticate';

$r = get_as('/s/file.txt', 'good');
is "$r->{status} $r->{content}", "200 static\n", 'a hook in front of static files';

$r = get_as('/p/x', 'good', 'X-Mode' => 'slow');
is "$r->{status} $r->{content} $r->{headers}{'x-user'}", '200 app GET 0 alice', 'a hook that awaits a timer first';

$r = get_as('/p/x', 'good', 'X-Mode' => 'stream');
is "$r->{status} $r->{content} $r->{headers}{'x-user'}", '200 app GET 0 alice',
    'a hook that answers with a stream: only the content\'s body is sent';

$r = get_as('/p/x', 'good', 'X-Mode' => 'throw');
is $r->{status}, 500, 'a hook that throws denies (500)';
like $t->error_log, qr/dispatch "tenants\/auth": uncaught exception: Error: the hook failed/,
    'and the error log says why';

$r = $t->request('POST', '/p/x', headers => { Authorization => 'Bearer good' }, content => 'y' x 100_000);
is "$r->{status} $r->{content}", '200 app POST 100000', 'a POST behind the hook: the content reads its body';

# what the hook sees: the subrequest's method (nginx's are GET), the
# client's URL and headers, the subrequest's own URI through request.cf
my $h = $t->send_request({ path => 'http://a.example/p/x?q=1', host => 'b.example',
                           headers => { 'X-Mode' => 'seen' } });
$r = $t->read_response($h);
is $r->{headers}{'x-user'}, 'GET a.example a.example /p/x /auth',
    'the hook sees the absolute-form request line\'s host, as the content does (not the Host header)';

# SSI includes of dispatch locations, a stream and a missing script among them
$t->put_script('tenants', 'inc', q{
    export default { async fetch(req) { await new Promise((r) => setTimeout(r, 20)); return new Response('[inc]'); } };
});
$t->put_script('tenants', 'stream', q{
    export default {
      fetch() {
        let i = 0;
        return new Response(new ReadableStream({
          async pull(c) {
            await new Promise((r) => setTimeout(r, 10));
            if (i++ < 3) c.enqueue(new TextEncoder().encode(`s${i}`)); else c.close();
          }
        }));
      }
    };
});
open $fh, '>', "$prefix/page.html" or die;
print $fh 'A<!--# include virtual="/d/inc" -->B<!--# include virtual="/d/stream" -->'
        . "C<!--# include virtual=\"/d/missing\" -->D\n";
close $fh;
$r = $t->get('/ssi/page.html');
is "$r->{status} $r->{content}", "200 A[inc]Bs1s2s3Cnot_found\nD\n", 'SSI includes of dispatch locations, in order';

# a mirror to a dispatch location: it gets the request and its body
$t->put_script('tenants', 'mirror', q{
    export default {
      async fetch(req, env) {
        await env.KV.put('mirrored', `${req.method} ${(await req.text()).length}`);
        return new Response('mirror body');
      }
    };
}, metadata => $kv);
$t->put_script('tenants', 'read', q{
    export default { async fetch(req, env) { return new Response(String(await env.KV.get('mirrored'))); } };
}, metadata => $kv);
$r = $t->request('POST', '/m/x', content => 'z' x 5000);
is "$r->{status} $r->{content}", '200 app POST 5000', 'a mirrored request is answered by its own content';
ok $t->wait_for(sub { $t->get('/d/read')->{content} eq 'POST 5000' }, timeout => 5),
    'and the mirror\'s script got the request with its body';

is_deeply [$t->error_log_alerts], [], 'no alert or crash in the error log';

done_testing;
