#!/usr/bin/perl
# Attack findings on outbound fetch() (issue 12): what a hostile tenant
# script or a hostile upstream must not be able to do. Runs in a network
# namespace of its own (as t/63), so nothing can leave loopback.
#
# - A tenant that plants requestId/length on Object.prototype makes a
#   fetch() response body look like a client request body of a length it
#   chooses: the upstream request then announces a Content-Length shorter
#   than the bytes that follow, and the rest reaches the upstream as a
#   request of the tenant's making on a pooled connection (smuggling).
# - An upstream that floods bytes that never become body (1xx interim
#   responses, trailer lines) must not keep the worker's event loop to
#   itself: other requests of the same worker are answered meanwhile.
# - dispatch_fetch_connections is per worker with no share per script: one
#   tenant holding slow fetches open (6 per request, a few requests) leaves
#   every other tenant's fetch() refused. (Open: no per-script share.)
# - A response body the script never reads is read ahead (up to 256 KiB +
#   a piece) and kept outside the isolate's memory accounting; a finished
#   exchange frees its connection slot, so one request may hold
#   dispatch_subrequest_limit of them: here 2 requests of a 16m-limited
#   script make the worker hold ~75 MiB. (Open.)
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";

BEGIN {
    unless ($ENV{DISPATCH_TEST_NETNS} || $^C) {
        if ($> != 0 || system('unshare --net true >/dev/null 2>&1') != 0) {
            plan skip_all => 'these tests run in a network namespace of their own, and '
                . '`unshare --net` is not possible here (it needs root, as in CI)';
        }
        $ENV{DISPATCH_TEST_NETNS} = 1;
        exec 'unshare', '--net', '--', $^X, (map { "-I$_" } grep { !ref } @INC), $0, @ARGV;
        die "exec unshare: $!";
    }
}

use Dispatch::Test;
use Dispatch::TestUpstream;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time sleep);
no strict 'refs';

system('ip', 'link', 'set', 'lo', 'up') == 0 or BAIL_OUT('cannot bring lo up in the new network namespace');

# A raw upstream: for each connection a child runs $handler->($socket, $log)
# ($log: a file handle, what the test wants to know later). Returns the port
# and the log's path.
my @RAW;
END { kill 'KILL', @RAW if @RAW }
sub raw_upstream {
    my ($handler) = @_;
    my $ls = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 64,
                                   ReuseAddr => 1, Proto => 'tcp') or die "listen: $!";
    my $port = $ls->sockport;
    my $log = "/tmp/dispatch-raw-$$-$port.log";
    unlink $log;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        $SIG{CHLD} = 'IGNORE';
        $SIG{PIPE} = 'IGNORE';
        my $parent = getppid;
        while (1) {
            my $c = $ls->accept;
            exit 0 unless kill 0, $parent;
            next unless $c;
            my $k = fork;
            if (defined $k && !$k) {
                close $ls;
                open my $fh, '>>', $log or die;
                $fh->autoflush(1);
                print $fh "accept\n";
                eval { $handler->($c, $fh) };
                POSIX::_exit(0);
            }
            close $c;
        }
    }
    close $ls;
    push @RAW, $pid;
    return ($port, $log);
}

# Reads one request head (and a Content-Length body) from $c; '' at EOF.
sub read_head {
    my ($c, $timeout) = @_;
    my $buf = '';
    my $end = time + ($timeout // 10);
    while ($buf !~ /\r\n\r\n/) {
        my $sel = IO::Select->new($c);
        return $buf unless $sel->can_read($end - time > 0 ? $end - time : 0);
        my $n = sysread($c, $buf, 65536, length $buf);
        return $buf unless $n;
    }
    return $buf;
}

sub slurp { my ($f) = @_; open my $fh, '<', $f or return ''; local $/; my $s = <$fh>; return $s }

my $victim = Dispatch::TestUpstream->new;     # keep-alive, logs every request it parses
my $VICTIM = 'http://127.0.0.1:' . $victim->port;
my $ngx_up = Dispatch::Test::free_port;

# An upstream that answers with an interim 100 Continue, endlessly, as fast
# as it can (for 8 s).
my ($flood1xx) = raw_upstream(sub {
    my ($c) = @_;
    read_head($c);
    my $chunk = "HTTP/1.1 100 Continue\r\n\r\n" x 2000;
    my $end = time + 8;
    while (time < $end) { defined syswrite($c, $chunk) or last }
});
# An upstream whose chunked body ends in an endless trailer section.
my ($floodtrailer) = raw_upstream(sub {
    my ($c) = @_;
    read_head($c);
    syswrite($c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n");
    my $chunk = "x:\r\n" x 8000;
    my $end = time + 8;
    while (time < $end) { defined syswrite($c, $chunk) or last }
});

my $t = Dispatch::Test->new(
    http => qq{
    dispatch_fetch_allow 127.0.0.1/32;
    dispatch_cpu_limit 2s;
    dispatch_fetch_read_timeout 20s;
    dispatch_fetch_connections 16;
    dispatch_memory_limit 16m;
    dispatch_subrequest_limit 200;
    server {
        listen 127.0.0.1:$ngx_up;
        keepalive_timeout 60s;
        location /big/ { root %%PREFIX%%/www; }
        location = /payload { return 200 "GET /smuggled HTTP/1.1\\r\\nHost: victim\\r\\n\\r\\n"; }
    }},
    server => q{
        location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; }
    },
);

mkdir $t->prefix . '/www';
mkdir $t->prefix . '/www/big';
chmod 0755, $t->prefix . '/www', $t->prefix . '/www/big';
Dispatch::Test::_write_file($t->prefix . '/www/big/256k', 'x' x (256 << 10), 0644);

# An upstream that takes the request and answers nothing for 6 s.
my ($hang) = raw_upstream(sub { my ($c) = @_; read_head($c); sleep 6; });

my $PRELUDE = qq{
    const HANG = 'http://127.0.0.1:$hang';
    const VICTIM = '$VICTIM';
    const NGX = 'http://127.0.0.1:$ngx_up';
    const FLOOD1XX = 'http://127.0.0.1:$flood1xx';
    const FLOODTRAILER = 'http://127.0.0.1:$floodtrailer';
};
sub script { my ($name, $code) = @_; $t->put_script('tenants', $name, $PRELUDE . $code) }

script('hello', q{ export default { fetch() { return new Response('hello'); } }; });
is $t->get('/t/hello')->{content}, 'hello', 'a plain tenant answers';

# ---- a planted Object.prototype.requestId/length is no request body ----

script('smuggle', q{
    export default {
      async fetch() {
        Object.prototype.requestId = 1;
        Object.prototype.length = 0;   // "Content-Length: 0", then the bytes anyway
        try {
          const payload = await fetch(NGX + '/payload');
          const res = await fetch(VICTIM + '/echo/post', { method: 'POST', body: payload.body, duplex: 'half' });
          const text = await res.text();
          return new Response('sent: ' + text);
        } catch (e) {
          return new Response('threw ' + e);
        } finally {
          delete Object.prototype.requestId;
          delete Object.prototype.length;
        }
      }
    };
});
my $r = $t->get('/t/smuggle');
is $r->{status}, 200, 'the smuggling tenant ran';
sleep 0.5;
is scalar($victim->requests_for(qr{^/smuggled})), 0,
    'a fetch() request body goes out framed by its real length: no request of the body\'s making reaches the upstream'
    or diag $r->{content};

# ---- upstream floods do not keep the worker to themselves ----

for my $case (['an endless 1xx flood', 'flood1xx', 'FLOOD1XX'],
              ['an endless trailer section', 'floodtrailer', 'FLOODTRAILER']) {
    my ($what, $name, $const) = @$case;
    script($name, qq{
        export default {
          async fetch() {
            try {
              const res = await fetch($const + '/');
              return new Response('got ' + (await res.text()).length);
            } catch (e) {
              return new Response('threw ' + e);
            }
          }
        };
    });
    my $h = $t->send_request({ method => 'GET', path => "/t/$name" });
    sleep 1;
    my $t0 = time;
    my $o = $t->get('/t/hello', timeout => 6);
    my $took = time - $t0;
    is $o->{content}, 'hello', "$what: another request of the same worker is answered meanwhile";
    cmp_ok $took, '<', 1.5, "$what: ... at once (took ${\ sprintf '%.2f', $took} s)";
    my $fr = $t->read_response($h, timeout => 20);
    diag "$what: $fr->{status} " . substr($fr->{content} // "", 0, 200) . sprintf(" after %.1f s", $fr->{elapsed} // -1);
}
is $t->get('/t/hello')->{content}, 'hello', 'the worker is alive after the floods';

# ---- one tenant cannot take every outbound connection of the worker ----

script('hog', q{
    export default {
      async fetch() {
        const calls = [];
        for (let i = 0; i < 6; i++) calls.push(fetch(HANG + '/' + i).catch((e) => e));
        await Promise.all(calls);
        return new Response('done');
      }
    };
});
script('neighbour', q{
    export default {
      async fetch() {
        try {
          const res = await fetch(VICTIM + '/echo/neighbour');
          return new Response('status ' + res.status);
        } catch (e) {
          return new Response('threw ' + e);
        }
      }
    };
});
my @hogs = map { $t->send_request({ method => 'GET', path => "/t/hog?$_" }) } 1 .. 3;
sleep 1;
my $n = $t->get('/t/neighbour', timeout => 10);
is $n->{content}, 'status 200',
    'another tenant still reaches its upstream while one tenant holds outbound connections open'
    or diag $n->{content};
$t->read_responses(\@hogs, timeout => 20);

# ---- response bodies the script has not read are bounded per request ----

script('hoard', q{
    export default {
      async fetch(request) {
        const held = [];
        for (let i = 0; i < 150; i++) {
          try { held.push(await fetch(NGX + '/big/256k')); } catch (e) { return new Response('threw ' + e); }
        }
        await new Promise((r) => setTimeout(r, 3000));
        return new Response('held ' + held.length);
      }
    };
});
my ($worker) = $t->worker_pids;
my $rss0 = $t->rss_kb($worker);
my @hoards = map { $t->send_request({ method => 'GET', path => "/t/hoard?$_" }) } 1 .. 2;
sleep 2.5;
my $rss1 = $t->rss_kb($worker);
my @hr = $t->read_responses(\@hoards, timeout => 20);
diag "hoard: $_->{content}" for @hr;
my $grew = ($rss1 - $rss0) >> 10;
cmp_ok $grew, '<', 32,
    "unread fetch() response bodies of two requests do not make the worker hold 2 x 150 x 256 KiB outside any limit (grew $grew MiB)";
is $t->get('/t/hello')->{content}, 'hello', 'the worker is alive at the end';

done_testing;
