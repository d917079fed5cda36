#!/usr/bin/perl
# Issue 17: every file of conf-examples/ is commented and passes the stock
# nginx -t with the module as shipped, and the routing it documents does
# what its comments say when nginx runs it (by subdomain, by header, by path
# prefix, through a router script, the management API behind its token,
# the egress allow-list).
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use File::Temp qw(tempdir);

my $dir = "$FindBin::Bin/../conf-examples";
my $module = Dispatch::Test->module_path;
my @files = sort glob "$dir/*.conf";
my %text = map { my $f = $_; (s{.*/}{}r => do { local (@ARGV, $/) = $f; <> }) } @files;

# --- each file as shipped: commented, and nginx -t passes with only the
#     module path and the log directory changed
for my $name (sort keys %text) {
    my $conf = $text{$name};
    like $conf, qr/\A# ngx_dispatch: /, "$name starts with a comment saying what it shows";
    if ($name =~ /^two-tier-/) {
        # they name a deployment's users, certificates and key files
      SKIP: { skip "$name: t/88 runs it with its users, certificates and paths replaced", 1 }
        next;
    }
    my $tmp = tempdir('dispatch-confex-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    $conf =~ s{load_module \S+;}{load_module $module;};
    $conf =~ s{/var/log/nginx/}{$tmp/}g;
    open my $fh, '>', "$tmp/nginx.conf" or die $!;
    print $fh "pid $tmp/nginx.pid;\nerror_log $tmp/error.log;\n", $conf;
    close $fh;
    my $out = `/usr/sbin/nginx -t -p $tmp/ -c $tmp/nginx.conf -e $tmp/error.log 2>&1`;
    is $?, 0, "$name passes nginx -t" or diag $out;
}

# --- running them: the example's http block, its listen moved to the
#     harness's loopback port (as default server) and its Redis to the
#     harness's; every other line as shipped
sub serve_example {
    my ($name, %o) = @_;
    my ($http) = $text{$name} =~ /^http \{\n(.*)^\}/ms or die "no http block in $name";
    $http =~ s/^\s*dispatch_redis [^\n]*\n//m;
    $http =~ s{listen (80|8080|8443);[^\n]*}{listen 127.0.0.1:%%PORT%% default_server;};
    $http =~ s{listen 80;}{listen 127.0.0.1:%%PORT%%;};
    $http =~ s{/var/log/nginx/}{%%PREFIX%%/}g;
    $http = $o{edit}->($http) if $o{edit};
    return Dispatch::Test->new(http => $http . ($o{extra} // ''));
}
sub says {
    my ($what) = @_;
    return qq{export default { fetch(req) { return new Response("$what " + new URL(req.url).pathname); } };};
}

{
    my $t = serve_example('by-subdomain.conf');
    $t->put_script('customers', 'acme', says('acme'));
    my $r = $t->get('/x', host => 'acme.example.com');
    is "$r->{status} $r->{content}", '200 acme /x', 'by-subdomain.conf: acme.example.com runs customers/acme';
    $r = $t->get('/', host => 'example.com');
    is $r->{status}, 404, 'by-subdomain.conf: the bare domain is 404 (no tenant)';
    $t->stop;
}
{
    my $t = serve_example('by-header.conf');
    $t->put_script('customers', 'acme', says('acme'));
    my $r = $t->get('/y', headers => { 'X-Tenant' => 'acme' });
    is "$r->{status} $r->{content}", '200 acme /y', 'by-header.conf: X-Tenant: acme runs customers/acme';
    is $t->get('/y')->{status}, 404, 'by-header.conf: no X-Tenant header is 404';
    is $t->get('/y', headers => { 'X-Tenant' => 'Acme' })->{status}, 404, 'by-header.conf: a name in upper case is 404';
    $t->stop;
}
{
    my $t = serve_example('by-path.conf');
    $t->put_script('customers', 'acme', says('acme'));
    $t->put_script('demo', 'hello', says('hello'));
    $t->put_script('platform', 'status', says('status'));
    my $r = $t->get('/acme/a/b');
    is "$r->{status} $r->{content}", '200 acme /acme/a/b', 'by-path.conf: /acme/... runs customers/acme and sees the whole path';
    $r = $t->get('/t/hello/z');
    is "$r->{status} $r->{content}", '200 hello /t/hello/z', 'by-path.conf: /t/hello/... runs demo/hello';
    $r = $t->get('/status-page');
    is "$r->{status} $r->{content}", '200 status /status-page', 'by-path.conf: /status-page runs platform/status';
    is $t->get('/')->{status}, 404, 'by-path.conf: / is 404';
    $t->stop;
}
{
    my $t = serve_example('router.conf');
    # the router as router.conf quotes it, with the metadata it gives
    my ($router) = $text{'router.conf'} =~ /verbatim:\n#\n((?:#   .*\n)+)/;
    $router =~ s/^#   //mg;
    my ($meta) = $text{'router.conf'} =~ /^#   (\{"bindings".*\})$/m;
    ok $router && $meta, 'router.conf quotes the router and its metadata';
    $t->put_script('platform', 'router', $router, metadata => $meta);
    $t->put_script('customer-scripts', 'acme', says('acme'));
    my $r = $t->get('/r', host => 'acme.example.com');
    is "$r->{status} $r->{content}", '200 acme /r', 'router.conf: the router dispatches acme.example.com to customer-scripts/acme';
    $t->stop;
}
{
    my $t = serve_example('admin-token.conf');
    my ($token) = $text{'admin-token.conf'} =~ /dispatch_admin token=(\S+);/;
    my $api = $t->url('/client/v4/accounts/any/workers/dispatch/namespaces');
    my @host = ('-H', 'Host: api.platform.example');
    my ($out) = $t->curl('-o', '/dev/null', '-w', '%{http_code}', @host, '-X', 'POST', $api,
                         '-H', 'Content-Type: application/json', '-d', '{"name":"customers"}');
    is $out, 401, 'admin-token.conf: a call without the token is 401';
    ($out) = $t->curl('-o', '/dev/null', '-w', '%{http_code}', @host, '-X', 'POST', $api,
                      '-H', 'Authorization: Bearer wrong-token', '-H', 'Content-Type: application/json',
                      '-d', '{"name":"customers"}');
    is $out, 403, 'admin-token.conf: a wrong token is 403';
    my $tmp = tempdir('dispatch-confex-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    open my $fh, '>', "$tmp/worker.js" or die $!;
    print $fh says('uploaded');
    close $fh;
    ($out) = $t->curl('-o', '/dev/null', '-w', '%{http_code}', @host, '-X', 'PUT', "$api/customers/scripts/acme",
                      '-H', "Authorization: Bearer $token",
                      '-F', 'metadata={"main_module":"worker.js"};type=application/json',
                      '-F', "worker.js=\@$tmp/worker.js;type=application/javascript+module");
    is $out, 200, 'admin-token.conf: the upload of its comment, with the token, is 200';
    my $r = $t->get('/u', host => 'acme.example.com');
    is "$r->{status} $r->{content}", '200 uploaded /u', 'admin-token.conf: and its tenants\' server serves it';
    $t->stop;
}
{
    my ($allowed, $other) = Dispatch::Test::free_ports(2);
    my $t = serve_example('egress.conf',
        edit  => sub { $_[0] =~ s{127\.0\.0\.1/32:8081}{127.0.0.1/32:$allowed}r },
        extra => qq{
    server { listen 127.0.0.1:$allowed; location / { return 200 "allowed"; } }
    server { listen 127.0.0.1:$other; location / { return 200 "other"; } }
});
    $t->put_script('customers', 'caller', q{
      export default {
        async fetch(req) {
          const port = new URL(req.url).searchParams.get("port");
          try { return new Response(await (await fetch(`http://127.0.0.1:${port}/`)).text()); }
          catch (e) { return new Response(`${e.name}: ${e.message}`, { status: 502 }); }
        }
      };
    });
    my $r = $t->get("/caller?port=$allowed");
    is "$r->{status} $r->{content}", '200 allowed', 'egress.conf: fetch() reaches the allowed address and port';
    $r = $t->get("/caller?port=$other");
    is $r->{status}, 502, 'egress.conf: another port of loopback is refused';
    like $r->{content}, qr/^TypeError: /, 'with a TypeError';
    $t->stop;
}

done_testing;
