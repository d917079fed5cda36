#!/usr/bin/perl
# Issue 20: the two-tier deployment of the README, run from its shipped
# examples. conf-examples/two-tier-front.conf (TLS, no ngx_dispatch) and
# conf-examples/two-tier-tenants.conf (one tier: cordon, secrets key,
# seccomp, Landlock, a Redis ACL user made by the rule its comment gives)
# are started as they are, with only paths, ports and users replaced: a
# client's TLS request (and a WebSocket) reaches the tenant through the front, a secret put
# through the tier's API is sealed in Redis and served, the front's workers
# carry no tenant code and no filter while the tier's carry the filter, and
# a host of the other tier gets 404 from this one.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::WebSocket qw(frame);
use IO::Select;
use IPC::Open2 ();
use Time::HiRes qw(sleep time);
use POSIX qw(WNOHANG);

my $NGINX = '/usr/sbin/nginx';
my $ROOT = "$FindBin::Bin/..";
my $TOKEN = 'change-me-to-a-long-random-string';

sub slurp { my ($f) = @_; open my $fh, '<', $f or die "$f: $!"; local $/; return <$fh> }

my $t = Dispatch::Test->new(start => 0);
$t->start_redis;
my $dir = $t->prefix . '/two-tier';
mkdir $dir or die $!;
mkdir "$dir/$_" or die $! for qw(run log lib);
chmod 0755, $t->prefix, $dir, "$dir/run", "$dir/log", "$dir/lib";
my ($https, $http, $admin) = Dispatch::Test::free_ports(3);

# the Redis ACL user, by the rule the example's comment gives
my $tenants = slurp("$ROOT/conf-examples/two-tier-tenants.conf");
my ($rule) = $tenants =~ /^\s*#\s+(ACL SETUSER tier-free .*?)\n\s*#\s+(~dispatch:namespaces.*?)\n/m
    ? ("$1 $2") : ();
ok $rule, 'the tenants example gives the Redis ACL rule of its tier' or BAIL_OUT('no ACL rule');
$t->redis(split ' ', $rule);

system("openssl rand -hex 32 > $dir/free.key && chmod 600 $dir/free.key") == 0 or die;
system("openssl req -x509 -newkey rsa:2048 -nodes -keyout $dir/key.pem -out $dir/cert.pem "
       . "-subj /CN=example.com -days 1 >/dev/null 2>&1") == 0 or die 'openssl req';

my $module = Dispatch::Test->module_path;
my $rport = $t->redis_port;
$tenants =~ s{load_module \S+;}{load_module $module;};
$tenants =~ s{^user \S+;}{user nobody nogroup;}m;
$tenants =~ s{/run/dispatch-free}{$dir/run}g;
$tenants =~ s{/var/log/dispatch-free}{$dir/log}g;
$tenants =~ s{/var/lib/dispatch-free}{$dir/lib}g;
$tenants =~ s{dispatch_redis unix:/run/redis/redis.sock}{dispatch_redis 127.0.0.1:$rport};
$tenants =~ s{/etc/nginx/dispatch-free.key}{$dir/free.key};
$tenants =~ s{listen 127.0.0.1:8081;}{listen 127.0.0.1:$admin;};
$tenants =~ s{resolver 127.0.0.53 valid=30s;}{};

my $front = slurp("$ROOT/conf-examples/two-tier-front.conf");
$front =~ s{^user \S+;}{user nobody nogroup;}m;
$front =~ s{/etc/ssl/example.com/fullchain.pem}{$dir/cert.pem};
$front =~ s{/etc/ssl/example.com/privkey.pem}{$dir/key.pem};
$front =~ s{listen 443 ssl http2;}{listen 127.0.0.1:$https ssl http2;};
$front =~ s{listen 80;}{listen 127.0.0.1:$http;};
$front =~ s{\s*listen \[::\]:\d+[^;]*;}{}g;
# both tiers' sockets lead to the one tier started here
$front =~ s{unix:/run/dispatch-(free|enterprise)/http.sock}{unix:$dir/run/http.sock}g;
ok !grep({ /^\s*(load_module|dispatch\w*)\s/ } split /\n/, $front),
   'the front has no load_module and no dispatch directive';

open my $fh, '>', "$dir/tenants.conf" or die; print $fh $tenants; close $fh;
open $fh, '>', "$dir/front.conf" or die; print $fh "pid $dir/front.pid;\nerror_log $dir/front-error.log;\n$front"; close $fh;

my @pids;
sub start_nginx {
    my ($conf, $pidfile) = @_;
    my $pid = Dispatch::Test::_spawn("$dir/nginx.out", $NGINX, '-p', "$dir/", '-c', $conf, '-g', 'daemon off;');
    push @pids, $pid;
    my $end = time + 15;
    sleep 0.1 until -s $pidfile || time > $end || waitpid($pid, WNOHANG) == $pid;
    return $pid;
}
my $tpid = start_nginx("$dir/tenants.conf", "$dir/run/nginx.pid");
my $fpid = start_nginx("$dir/front.conf", "$dir/front.pid");
ok kill(0, $tpid) && kill(0, $fpid), 'both instances start from the examples'
    or diag slurp("$dir/nginx.out");

my $api = "http://127.0.0.1:$admin/client/v4/accounts/any/workers/dispatch/namespaces";
my @auth = ('-H', "Authorization: Bearer $TOKEN");
my $script = 'export default { fetch(req, env) { return new Response("acme over TLS, " + env.S) } };';
open $fh, '>', "$dir/worker.js" or die; print $fh $script; close $fh;
my ($out) = $t->curl(@auth, '-X', 'POST', $api, '-H', 'Content-Type: application/json', '-d', '{"name":"free"}');
like $out, qr/"success":true/, "the tier's management API creates namespace free";
($out) = $t->curl(@auth, '-X', 'PUT', "$api/free/scripts/acme",
                  '-F', 'metadata={"main_module":"worker.js"};type=application/json',
                  '-F', "worker.js=\@$dir/worker.js;type=application/javascript+module");
like $out, qr/"success":true/, 'and uploads a script';
($out) = $t->curl(@auth, '-X', 'PUT', "$api/free/scripts/acme/secrets", '-H', 'Content-Type: application/json',
                  '-d', '{"name":"S","text":"s3cret-over-the-tiers","type":"secret_text"}');
like $out, qr/"success":true/, 'and puts a secret';

my @resolve = ('-k', '--resolve', "acme.example.com:$https:127.0.0.1", '--resolve', "bigcorp.example.com:$https:127.0.0.1");
($out) = $t->curl(@resolve, "https://acme.example.com:$https/");
is $out, 'acme over TLS, s3cret-over-the-tiers', 'a client reaches the tenant over TLS through the front';
($out) = $t->curl(@resolve, '-o', '/dev/null', '-w', '%{http_code}', "https://bigcorp.example.com:$https/");
is $out, '404', "another tier's host is not found in this tier";
($out) = $t->curl('-o', '/dev/null', '-w', '%{http_code} %{redirect_url}', '-H', 'Host: acme.example.com', "http://127.0.0.1:$http/");
like $out, qr{^301 https://acme\.example\.com/}, 'plain HTTP is sent to HTTPS';

# A WebSocket through the front (its Upgrade passed on), over TLS: openssl
# s_client carries the handshake and one masked frame each way.
{
    my $ws = 'export default { fetch(request) {'
        . ' const [client, server] = Object.values(new WebSocketPair()); server.accept();'
        . ' server.addEventListener("message", (e) => server.send("echo " + e.data));'
        . ' return new Response(null, { status: 101, webSocket: client }); } };';
    open my $wf, '>', "$dir/chat.js" or die; print $wf $ws; close $wf;
    ($out) = $t->curl(@auth, '-X', 'PUT', "$api/free/scripts/chat",
                      '-F', 'metadata={"main_module":"chat.js"};type=application/json',
                      '-F', "chat.js=\@$dir/chat.js;type=application/javascript+module");
    like $out, qr/"success":true/, 'a WebSocket echo script is uploaded';
    my $pid = IPC::Open2::open2(my $from, my $to, 'openssl', 's_client', '-quiet', '-no_ign_eof',
                                '-connect', "127.0.0.1:$https", '-servername', 'chat.example.com');
    binmode $_ for $from, $to;
    $to->autoflush(1);
    print $to "GET / HTTP/1.1\r\nHost: chat.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            . "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            . frame(1, 'hi');
    my ($got, $deadline) = ('', time + 10);
    while ($got !~ /\r\n\r\n\x81\x07echo hi/ && time < $deadline) {
        last unless IO::Select->new($from)->can_read($deadline - time);
        sysread($from, my $more, 4096) or last;
        $got .= $more;
    }
    like $got, qr{^HTTP/1\.1 101 }, 'the front passes the upgrade on: 101 Switching Protocols over TLS';
    like $got, qr{\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n}i, "with the tier's accept key";
    like $got, qr/\r\n\r\n\x81\x07echo hi/, "and the tenant's echo of a frame comes back through the front";
    close $to;
    kill 'TERM', $pid;
    waitpid $pid, 0;
}

my $meta = $t->redis('HGET', 'dispatch:{free}:script:acme', 'metadata') // '';
like $meta, qr/"sealed":"v1:/, 'the secret is sealed in Redis';
unlike $meta, qr/s3cret-over-the-tiers/, 'not in plain text';
my @users = $t->redis('CLIENT', 'LIST') =~ /\buser=(\S+)/g;
ok scalar(grep { $_ eq 'tier-free' } @users), 'the tier talks to Redis as its ACL user';

sub workers_of {
    my ($ppid) = @_;
    my @w;
    for my $st (glob '/proc/[0-9]*/status') {
        my $s = eval { slurp($st) } // next;
        push @w, $st =~ m{/proc/(\d+)/} if $s =~ /^PPid:\s+$ppid$/m;
    }
    return @w;
}
my @tw = workers_of($tpid);
my @fw = workers_of($fpid);
ok @tw && !grep({ slurp("/proc/$_/status") !~ /^Seccomp:\s+2$/m } @tw), "the tier's workers run under the filter";
ok @fw && !grep({ slurp("/proc/$_/maps") =~ /ngx_http_dispatch_module/ } @fw),
   "the front's workers have no ngx_dispatch mapped (no tenant code where the TLS keys are)";

for my $pid (@pids) {
    kill 'QUIT', $pid;
    Dispatch::Test::_reap($pid, 10) or do { kill 'KILL', $pid; Dispatch::Test::_reap($pid, 5) };
}
$t->stop;
done_testing;
