#!/usr/bin/perl
# SPEC 2 and 4, the nginx side of `dispatch_admin [token=TOKEN];`: who may
# call (loopback only without a token; with one, `Authorization: Bearer`,
# 401 without it, 403 wrong, Cloudflare's envelope either way), the body
# read whole into memory and never into a temporary file (413 past the
# location's client_max_body_size), the location's prefix taken off the
# path the engine sees (still percent-encoded), `nginx -t` errors, and the
# start-up rule. What the engine answers is the business of t/70-72: here
# any envelope from it will do.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;

my $TOKEN = 's3cr3t-t0ken-0123456789abcdef';
my $AUTH_ERROR = '{"success":false,"errors":[{"code":10000,"message":"Authentication error"}],'
               . '"messages":[],"result":null}';
my $NS = '/accounts/acc/workers/dispatch/namespaces';

my $t = Dispatch::Test->new(
    main   => 'error_log %%PREFIX%%/debug.log debug;',
    server => qq{
        listen unix:%%PREFIX%%/admin.sock;
        location /client/v4/ { dispatch_admin; client_max_body_size 4m; }
        location /admin { dispatch_admin; }
        location /tok/ { dispatch_admin token=$TOKEN; }
        location /small/ { dispatch_admin token=$TOKEN; client_max_body_size 1k; }
        location /behind-proxy/ {
            set_real_ip_from 127.0.0.1;
            real_ip_header X-Real-IP;
            dispatch_admin;
        }
    });

sub is_envelope {
    my ($r, $name) = @_;
    my $ok = ($r->{headers}{'content-type'} // '') =~ m{^application/json}
          && $r->{content} =~ /^\{.*"success":(?:true|false)/s;
    ok $ok, $name or diag "$r->{status} " . substr($r->{content}, 0, 300);
}

sub served {
    my ($r, $name) = @_;
    ok $r->{status} != 401 && $r->{status} != 403 && $r->{status} < 500,
        "$name: the call reaches the engine" or diag "$r->{status} $r->{content}";
    is_envelope($r, "$name: the engine answers with an envelope");
}

sub refused {
    my ($r, $status, $name) = @_;
    is $r->{status}, $status, "$name: $status";
    is $r->{content}, $AUTH_ERROR, "$name: Cloudflare's authentication envelope";
    like $r->{headers}{'content-type'} // '', qr{^application/json}, "$name: as JSON";
}

# the call the engine was handed, from the debug log (after the offset)
sub call_seen {
    my ($offset, $method, $path) = @_;
    my $log = substr($t->read_prefix_file('debug.log'), $offset);
    my $re = qr/dispatch admin call: \Q$method\E "\Q$path\E" query "([^"]*)", body (\d+) bytes, content type "([^"]*)"/;
    return $log =~ $re ? { query => $1, length => $2, type => $3 } : undef;
}

sub log_size { length $t->read_prefix_file('debug.log') }

# ---- who may call: no token, loopback only ---------------------------------

served($t->get("/client/v4$NS"), 'no token, a client on 127.0.0.1');

{
    my ($out, $rc) = $t->curl('-i', '--unix-socket', $t->prefix . '/admin.sock',
                              "http://localhost/client/v4$NS");
    like $out, qr{^HTTP/1\.1 (?!40[13])\d{3}}, 'no token, a client on a unix socket: served'
        or diag $out;
    like $out, qr/"success":/, 'no token, a client on a unix socket: an envelope';
}

refused($t->get("/behind-proxy$NS", headers => { 'X-Real-IP' => '192.0.2.7' }),
        403, 'no token, a client at 192.0.2.7 (realip)');
refused($t->get("/behind-proxy$NS", headers => { 'X-Real-IP' => '2001:db8::1' }),
        403, 'no token, a client at 2001:db8::1 (realip)');
refused($t->get("/behind-proxy$NS", headers => { 'X-Real-IP' => '::ffff:192.0.2.7' }),
        403, 'no token, a client at ::ffff:192.0.2.7 (realip)');
served($t->get("/behind-proxy$NS", headers => { 'X-Real-IP' => '127.3.2.1' }),
       'no token, a client anywhere in 127.0.0.0/8 (realip)');
served($t->get("/behind-proxy$NS", headers => { 'X-Real-IP' => '::1' }),
       'no token, a client at ::1 (realip)');
served($t->get("/behind-proxy$NS", headers => { 'X-Real-IP' => '::ffff:127.0.0.1' }),
       'no token, a client at ::ffff:127.0.0.1 (realip)');

{
    my $before = log_size();
    my $r = $t->request('PUT', "/behind-proxy$NS/ns/scripts/x",
                        headers => { 'X-Real-IP' => '192.0.2.7' }, content => 'x' x 5000);
    is $r->{status}, 403, 'a refused client with a body: 403';
    ok !call_seen($before, 'PUT', "$NS/ns/scripts/x"), 'and the engine never sees the call';
}

# ---- who may call: a token --------------------------------------------------

{
    my $r = $t->get("/tok$NS");
    refused($r, 401, 'token, no Authorization header (even on loopback)');
    is $r->{headers}{'www-authenticate'}, 'Bearer', 'a 401 says which scheme to use';
}
refused($t->get("/tok$NS", headers => { Authorization => "Basic $TOKEN" }),
        401, 'token, another scheme');
refused($t->get("/tok$NS", headers => { Authorization => 'Bearer' }),
        401, 'token, "Bearer" without a token');
refused($t->get("/tok$NS", headers => { Authorization => 'Bearer ' . ('x' x length $TOKEN) }),
        403, 'token, a wrong one of the same length');
refused($t->get("/tok$NS", headers => { Authorization => 'Bearer ' . substr($TOKEN, 0, 10) }),
        403, 'token, a prefix of the right one');
refused($t->get("/tok$NS", headers => { Authorization => "Bearer ${TOKEN}x" }),
        403, 'token, the right one and more');
served($t->get("/tok$NS", headers => { Authorization => "Bearer $TOKEN" }),
       'token, the right one');
served($t->get("/tok$NS", headers => { Authorization => "bearer  $TOKEN" }),
       'token, the scheme in any case and more than one space');

# ---- the body: whole, in memory, bounded --------------------------------------

for my $chunked (0, 1) {
    my $how = $chunked ? 'chunked' : 'of announced length';
    my $file = $t->prefix . "/upload-$chunked.bin";
    open my $fh, '>', $file or die $!;
    binmode $fh;
    print {$fh} join('', map { chr(($_ * 7) % 256) } 0 .. 255) x (3 * 4096);    # 3 MiB
    close $fh;
    my $before = log_size();
    my ($out) = $t->curl('-o', '/dev/null', '-w', '%{http_code}', '-X', 'PUT',
                         '-H', 'Content-Type: application/octet-stream',
                         ($chunked ? ('-H', 'Transfer-Encoding: chunked') : ()),
                         '--data-binary', "\@$file",
                         $t->url("/client/v4$NS/ns/scripts/big-$chunked"));
    like $out, qr/^(?!40[13]|413|5)\d{3}$/, "a 3 MiB body $how under a 4m limit is taken";
    my $call = call_seen($before, 'PUT', "$NS/ns/scripts/big-$chunked");
    is $call && $call->{length}, 3 * 1024 * 1024, "the engine is handed all of the body $how";
    is $call && $call->{type}, 'application/octet-stream', 'with its content type';
}
unlike $t->error_log, qr/buffered to a temporary file/,
    'no admin body was written to a temporary file';
my @temp = glob($t->prefix . '/client_body_temp/*/* ' . $t->prefix . '/client_body_temp/*');
ok !(grep { -f } @temp), 'the client body temp path holds no file';

{
    my $auth = "Authorization: Bearer $TOKEN";
    my ($out) = $t->curl('-o', '/dev/null', '-w', '%{http_code}', '-X', 'PUT', '-H', $auth,
                         '--data-binary', 'x' x 2000, $t->url("/small$NS/ns/scripts/x"));
    is $out, '413', 'a body of announced length over client_max_body_size: 413';
    my $before = log_size();
    ($out) = $t->curl('-o', '/dev/null', '-w', '%{http_code}', '-X', 'PUT', '-H', $auth,
                      '-H', 'Transfer-Encoding: chunked',
                      '--data-binary', 'x' x 2000, $t->url("/small$NS/ns/scripts/y"));
    is $out, '413', 'a chunked body that grows over client_max_body_size: 413';
    ok !call_seen($before, 'PUT', "$NS/ns/scripts/y"), 'and the engine never sees it';
    ($out) = $t->curl('-o', '/dev/null', '-w', '%{http_code}', '-X', 'PUT', '-H', $auth,
                      '--data-binary', 'x' x 1000, $t->url("/small$NS/ns/scripts/z"));
    like $out, qr/^(?!413)\d{3}$/, 'a body under client_max_body_size is taken';
}

# ---- the path the engine sees ---------------------------------------------------

{
    my $before = log_size();
    $t->get("/client/v4$NS?tags=a:yes,b:no&limit=2");
    my $call = call_seen($before, 'GET', $NS);
    ok $call, 'location /client/v4/: its prefix is taken off, the leading "/" kept';
    is $call && $call->{query}, 'tags=a:yes,b:no&limit=2', 'the query goes as sent, without "?"';

    $before = log_size();
    $t->get("/admin$NS");
    ok call_seen($before, 'GET', $NS), 'location /admin (no trailing "/"): the same path';

    $before = log_size();
    $t->get('/admin');
    ok call_seen($before, 'GET', '/'), 'the location itself: the path is "/"';

    $before = log_size();
    $t->get("/client/v4$NS/ns/scripts/..%2F..%2Fother%2Fscripts%2Fx");
    my $c = call_seen($before, 'GET', "$NS/ns/scripts/..%2F..%2Fother%2Fscripts%2Fx");
    ok $c, 'percent-encoded bytes stay encoded: "..%2F" stays inside one segment';
    is $c && $c->{query}, '', 'no query: empty';

    $before = log_size();
    $t->get("/client/v4$NS/ns/scripts/a%20b");
    ok call_seen($before, 'GET', "$NS/ns/scripts/a%20b"), 'a space stays "%20"';
}

# ---- a client that goes away ------------------------------------------------------
# Redis paused: the engine's call waits on it; the client gives up first. The
# call is released (the engine drops Redis's late reply) and the worker goes
# on serving.

{
    my @before = $t->worker_pids;
    $t->redis('CLIENT', 'PAUSE', '800');
    my ($out) = $t->curl('-m', '0.3', '-o', '/dev/null', '-w', '%{http_code}',
                         $t->url("/client/v4$NS"));
    is $out, '000', 'a client that gives up while the call waits on Redis gets nothing';
    $t->wait_for(sub { $t->error_log =~ /the client went away before the answer/ }, timeout => 3);
    like $t->error_log, qr/the client went away before the answer, the call is released/,
        'the call is released when its client goes away';
    sleep 1;
    served($t->get("/client/v4$NS"), 'once Redis is back, the next call');
    is_deeply [ $t->worker_pids ], \@before, 'the worker process is the same';
}

$t->stop;

# ---- the start-up rule ------------------------------------------------------------

{
    my $a = Dispatch::Test->new(server => 'location /client/v4/ { dispatch_admin; }');
    my ($w) = $a->worker_pids;
    my @tasks = glob("/proc/$w/task/*");
    cmp_ok scalar(@tasks), '>', 1, 'a worker with only a dispatch_admin location starts V8';
    $a->stop;
}

# ---- nginx -t ------------------------------------------------------------------------

sub config_test {
    my ($server, %more) = @_;
    my ($code, $out) = Dispatch::Test->nginx_test_config(server => $server, %more);
    return ($code, $out);
}

my ($code, $out) = config_test("location /client/v4/ { dispatch_admin; }");
is $code, 0, 'dispatch_admin without arguments passes nginx -t' or diag $out;
($code, $out) = config_test("location /client/v4/ { dispatch_admin token=$TOKEN; client_max_body_size 20m; }");
is $code, 0, 'dispatch_admin token=... passes nginx -t' or diag $out;
unlike $out, qr/easy to guess/, 'a long token draws no warning';

($code, $out) = config_test('location /a/ { dispatch_admin token=short; }');
is $code, 0, 'a short token is accepted';
like $out, qr/a token of fewer than 16 characters in "dispatch_admin" is easy to guess/,
    'with a warning';

($code, $out) = config_test('location /a/ { dispatch_admin secret=x; }');
isnt $code, 0, 'an unknown parameter is refused';
like $out, qr/invalid parameter "secret=x" in "dispatch_admin": expected token=TOKEN in \S+nginx\.conf:\d+/,
    'the message names the parameter and file:line';

($code, $out) = config_test('location /a/ { dispatch_admin token=; }');
isnt $code, 0, 'an empty token is refused';

($code, $out) = config_test(q{location /a/ { dispatch_admin "token=a b c d e f g h i j"; }});
isnt $code, 0, 'a token with spaces is refused';
like $out, qr/invalid token in "dispatch_admin": visible ASCII characters only/, 'as not visible ASCII';

($code, $out) = config_test('location /a/ { dispatch_admin token=aaaaaaaaaaaaaaaaaa token=b; }');
isnt $code, 0, 'two arguments are refused';
like $out, qr/invalid number of arguments in "dispatch_admin"/, "with nginx's own message";

($code, $out) = config_test('location /a/ { dispatch_admin; dispatch_admin; }');
isnt $code, 0, 'a second dispatch_admin in one location is refused';
like $out, qr/"dispatch_admin" directive is duplicate/, 'as a duplicate';

($code, $out) = config_test('location /a/ { dispatch_admin; dispatch ns s; }');
isnt $code, 0, 'dispatch and dispatch_admin in one location are refused';
like $out, qr/"dispatch" directive cannot be combined with "dispatch_admin"/, 'saying why';
($code, $out) = config_test('location /a/ { dispatch ns s; dispatch_admin; }');
like $out, qr/"dispatch_admin" directive cannot be combined with "dispatch"/, 'in either order';

($code, $out) = config_test('location ~ ^/a/ { dispatch_admin; }');
isnt $code, 0, 'a regex location is refused';
like $out, qr/"dispatch_admin" needs a prefix location .* not "\^\/a\/"/, 'saying it needs a prefix';
($code, $out) = config_test('location = /a { dispatch_admin; }');
isnt $code, 0, 'an exact location is refused';
($code, $out) = config_test('location @a { dispatch_admin; }');
isnt $code, 0, 'a named location is refused';

($code, $out) = config_test('dispatch_admin;');
isnt $code, 0, 'dispatch_admin is refused at server level';
like $out, qr/"dispatch_admin" directive is not allowed here/, "with nginx's own message";

($code, $out) = config_test('location /a/ { dispatch_admin; client_max_body_size 0; }');
isnt $code, 0, 'client_max_body_size 0 (no bound) in an admin location is refused';
like $out, qr/"dispatch_admin" in location "\/a\/" needs a "client_max_body_size" other than 0/,
    'saying why';
($code, $out) = config_test('location /a/ { dispatch_admin; client_max_body_size 12m; }',
                            http => 'client_max_body_size 0;');
is $code, 0, 'a bound in the location itself overrides an unbounded http{}' or diag $out;
($code, $out) = config_test('location /a/ { dispatch_admin; }', http => 'client_max_body_size 0;');
isnt $code, 0, 'an unbounded client_max_body_size inherited from http{} is refused';

done_testing;
