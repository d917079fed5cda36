#!/usr/bin/perl
# A Worker accepts a WebSocket (WebSocketPair, a 101 Response), as on
# Cloudflare: real frames over a real socket, written by the small client
# of t/lib/Dispatch/WebSocket.pm (RFC 6455, masked as a client must).
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::WebSocket qw(ws_send ws_recv ws_eof frame close_code);
use Digest::SHA qw(sha1_base64);
use Socket ();
use POSIX ();
use Time::HiRes qw(sleep);

my $t = Dispatch::Test->new(
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; } },
);

# The example of Cloudflare's documentation, with a few more messages.
$t->put_script('tenants', 'echo', q{
    export default { fetch(request) {
      if (request.headers.get('Upgrade') !== 'websocket') return new Response('expected websocket', { status: 426 });
      const [client, server] = Object.values(new WebSocketPair());
      server.accept();
      server.addEventListener('message', (event) => {
        if (typeof event.data !== 'string') {
          const bytes = new Uint8Array(event.data);
          server.send(new Uint8Array([event.data instanceof ArrayBuffer ? 1 : 0, ...bytes]));
          return;
        }
        if (event.data === 'close-me') return server.close(4000, 'asked');
        if (event.data === 'state') return server.send(`readyState ${server.readyState}`);
        if (event.data === 'spin') { for (;;) {} }
        if (event.data === 'flood') {
          const chunk = new Uint8Array(64 * 1024);
          let n = 0;
          try { for (;;) { server.send(chunk); n++; } }
          catch (e) { console.log(`flood stopped after ${n}: ${e.constructor.name}: ${e.message}`); }
          return;
        }
        server.send(`echo ${event.data}`);
      });
      server.addEventListener('close', (event) => {
        console.log(`close event ${event.code} ${event.reason} ${event.wasClean}`);
        server.close(event.code === 1005 || event.code === 1006 ? 1000 : event.code, 'bye');
      });
      return new Response(null, { status: 101, webSocket: client });
    } };
});
$t->put_script('tenants', 'ok', q{
    export default { fetch() { return new Response('fine'); } };
});


sub ws_open { Dispatch::WebSocket::ws_open($t->port, @_) }

my @workers = $t->worker_pids;

# ---- the handshake and messages ---------------------------------------------

subtest 'the 101 carries the handshake the client asked for' => sub {
    my $c = ws_open('/t/echo');
    is $c->{status}, 101, '101 Switching Protocols';
    like $c->{head}, qr/^Upgrade: websocket\r$/mi, 'Upgrade: websocket';
    like $c->{head}, qr/^Connection: upgrade\r$/mi, 'Connection: upgrade';
    my $accept = sha1_base64($c->{key} . '258EAFA5-E914-47DA-95CA-C5AB0DC85B11') . '=';
    like $c->{head}, qr/^Sec-WebSocket-Accept: \Q$accept\E\r$/mi, 'Sec-WebSocket-Accept is the key\'s';
    unlike $c->{head}, qr/^(Content-Length|Transfer-Encoding):/mi, 'no body framing';
};

subtest 'a text message is echoed' => sub {
    my $c = ws_open('/t/echo');
    ws_send($c, 1, 'hello');
    is_deeply ws_recv($c), [1, 'echo hello', 0x80, 0], 'a text frame, unmasked, with the echo';
    ws_send($c, 1, "caf\xc3\xa9 \xe2\x82\xac");
    is ws_recv($c)->[1], "echo caf\xc3\xa9 \xe2\x82\xac", 'UTF-8 survives both ways';
    ws_send($c, 1, 'state');
    is ws_recv($c)->[1], 'readyState 1', 'the server end is OPEN';
};

subtest 'a binary message is an ArrayBuffer, and bytes go back binary' => sub {
    my $c = ws_open('/t/echo');
    ws_send($c, 2, "\x00\xff\x10");
    is_deeply ws_recv($c), [2, "\x01\x00\xff\x10", 0x80, 0], 'binary frame; the data was an ArrayBuffer';
    my $big = join '', map { chr($_ % 251) } 1 .. 70000;
    ws_send($c, 2, $big);
    my $f = ws_recv($c);
    is length($f->[1]), 70001, 'a message past 64 KiB both ways';
    is substr($f->[1], 1), $big, 'with its bytes';
};

subtest 'a fragmented message is one event; a ping between its fragments is answered' => sub {
    my $c = ws_open('/t/echo');
    ws_send($c, 1, 'frag', fin => 0);
    ws_send($c, 0, 'men', fin => 0);
    ws_send($c, 9, 'are you there');
    is_deeply ws_recv($c), [10, 'are you there', 0x80, 0], 'a pong with the ping\'s payload';
    ws_send($c, 0, 'ted', fin => 1);
    is ws_recv($c)->[1], 'echo fragmented', 'the fragments make one message';
};

subtest 'the client closes: the script\'s close event, then its Close' => sub {
    my $c = ws_open('/t/echo');
    ws_send($c, 8, pack('n', 1000) . 'done');
    my $f = ws_recv($c);
    is $f->[0], 8, 'a Close frame comes back';
    is close_code($f), 1000, 'with the script\'s code';
    is substr($f->[1], 2), 'bye', 'and reason';
    ok ws_eof($c), 'then the server closes the connection';
    ok $t->wait_for(sub { $t->error_log =~ /console: close event 1000 done true/ }),
        'the script saw code, reason and wasClean';
};

subtest 'the script closes: the client gets its code and reason' => sub {
    my $c = ws_open('/t/echo');
    ws_send($c, 1, 'close-me');
    my $f = ws_recv($c);
    is $f->[0], 8, 'a Close frame';
    is close_code($f), 4000, 'code 4000';
    is substr($f->[1], 2), 'asked', 'reason';
    ws_send($c, 8, pack('n', 4000));
    ok ws_eof($c), 'after the client\'s Close the connection ends';
};

subtest 'a client that goes away: the script gets close 1006' => sub {
    my $c = ws_open('/t/echo');
    ws_send($c, 1, 'hi');
    ws_recv($c);
    close $c->{s};
    ok $t->wait_for(sub { $t->error_log =~ /console: close event 1006 WebSocket disconnected without sending Close frame\. false/ }),
        'close event 1006, not clean';
    is $t->get('/t/ok')->{content}, 'fine', 'the worker serves on';
};

# ---- protocol errors ------------------------------------------------------

subtest 'an unmasked client frame closes with 1002' => sub {
    my $c = ws_open('/t/echo');
    ws_send($c, 1, 'naked', masked => 0);
    my $f = ws_recv($c);
    is $f->[0], 8, 'a Close frame';
    is close_code($f), 1002, 'protocol error';
    ok ws_eof($c), 'and the end';
};

subtest 'a text message that is not UTF-8 closes with 1007' => sub {
    my $c = ws_open('/t/echo');
    ws_send($c, 1, "ok \xc3\x28 not");
    my $f = ws_recv($c);
    is $f->[0], 8, 'a Close frame';
    is close_code($f), 1007, 'invalid frame payload data';
};

subtest 'a message of 2 MiB closes with 1009 before it is read' => sub {
    my $c = ws_open('/t/echo');
    my $head = substr(frame(2, 'x' x (2 << 20)), 0, 14);
    syswrite $c->{s}, $head . ('y' x 1000);
    my $f = ws_recv($c);
    is $f->[0], 8, 'a Close frame';
    is close_code($f), 1009, 'message too big';
    ok $t->wait_for(sub { $t->error_log =~ /WebSocket closed with 1009: a message larger than 1 MiB/ }),
        'the error log says why';
};

# ---- limits ---------------------------------------------------------------

subtest 'a message handler that loops: its CPU limit closes the socket, the worker serves on' => sub {
    my $c = ws_open('/t/echo');
    ws_send($c, 1, 'spin');
    my $f = ws_recv($c, 10);
    is $f && $f->[0], 8, 'a Close frame';
    is close_code($f), 1011, 'code 1011 (an internal error: the limit)';
    like substr($f->[1], 2), qr/exceeded_cpu/, 'its reason names the limit';
    ok ws_eof($c), 'then the end';
    is $t->get('/t/ok')->{content}, 'fine', 'another tenant is served';
    my $d = ws_open('/t/echo');
    ws_send($d, 1, 'again');
    is ws_recv($d)->[1], 'echo again', 'and the script, on a new isolate';
};

subtest 'sending to a client that does not read is bounded: send() throws' => sub {
    my $c = ws_open('/t/echo');
    setsockopt($c->{s}, Socket::SOL_SOCKET(), Socket::SO_RCVBUF(), 4096);
    ws_send($c, 1, 'flood');
    ok $t->wait_for(sub { $t->error_log =~ /console: flood stopped after (\d+): TypeError: WebSocket send\(\): \d+ bytes already wait/ }),
        'send() throws once the buffer is full';
    my ($n) = $t->error_log =~ /flood stopped after (\d+)/;
    cmp_ok $n, '<=', 64, "at most 4 MiB were queued ($n messages of 64 KiB)";
    is $t->get('/t/ok')->{content}, 'fine', 'the worker serves on';
    close $c->{s};
};

subtest 'a client that writes 6 MiB before it reads: reads pause, then resume; nothing is lost' => sub {
    my $c = ws_open('/t/echo');
    my $logged = length $t->error_log;
    my $n = 400;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        # The writer: blocks while the server does not read (TCP backpressure).
        syswrite $c->{s}, frame(2, sprintf('%06d', $_) . ('z' x 16378)) for 1 .. $n;
        POSIX::_exit(0);
    }
    sleep 1;    # the server's queue for us fills, and it stops reading
    my @got;
    for (1 .. $n) {
        my $f = ws_recv($c, 5);
        last unless defined $f->[1];
        push @got, substr($f->[1], 1, 6);
    }
    waitpid $pid, 0;
    is scalar(@got), $n, "all $n echoes came";
    is_deeply \@got, [map { sprintf '%06d', $_ } 1 .. $n], 'in order';
    unlike substr($t->error_log, $logged), qr/send buffer is full/, 'the script\'s send() never found the buffer full';
};

subtest '200 idle sockets at once, then each still echoes' => sub {
    my @c = map { ws_open('/t/echo') } 1 .. 200;
    is scalar(grep { $_->{status} == 101 } @c), 200, 'all 200 upgraded' or return;
    is $t->get('/t/ok')->{content}, 'fine', 'requests are served meanwhile';
    ws_send($_, 1, 'x') for @c;
    is scalar(grep { my $f = ws_recv($_); $f && $f->[1] eq 'echo x' } @c), 200, 'each one answers';
    close $_->{s} for @c;
};

# ---- what is not a WebSocket ----------------------------------------------

subtest 'a request without Upgrade is a plain request to the script' => sub {
    my $r = $t->get('/t/echo');
    is $r->{status}, 426, 'the script\'s 426';
    is $r->{content}, 'expected websocket', 'and body';
};

$t->put_script('tenants', 'misuse', q{
    let topLevel;
    try { new WebSocketPair(); } catch (e) { topLevel = `${e.constructor.name}: ${e.message}`; }
    export default { fetch(request) {
      const path = new URL(request.url).pathname;
      if (path.endsWith('/top')) return new Response(topLevel);
      if (path.endsWith('/no-socket')) return new Response(null, { status: 101 });
      const [client, server] = Object.values(new WebSocketPair());
      if (path.endsWith('/rules')) {
        const out = [];
        const t = (f) => { try { f(); out.push('ok'); } catch (e) { out.push(`${e.constructor.name}: ${e.message}`); } };
        t(() => server.send('early'));
        server.accept();
        t(() => server.close(1006));
        t(() => server.close(undefined, 'why'));
        t(() => new Response(null, { status: 200, webSocket: client }));
        const r = new Response(null, { status: 101, webSocket: client });
        out.push(String(r.webSocket === client), String(r.status));
        return new Response(out.join('\n'));
      }
      server.accept();
      return new Response(null, { status: 101, webSocket: client });
    } };
});

subtest 'WebSocketPair and a 101 outside their rules' => sub {
    is $t->get('/t/misuse/top')->{content},
        'TypeError: WebSocketPair can only be used while handling a request', 'not at the top level';
    my $r = $t->get('/t/misuse/no-socket');
    is $r->{status}, 500, 'a 101 without webSocket is a 500';
    like $t->error_log, qr/"tenants\/misuse".*RangeError: Response status 101 is outside the range 200 to 599/,
        'with the error logged';
    $r = $t->get('/t/misuse/plain');
    is $r->{status}, 500, 'a 101 for a request that did not ask for a WebSocket is a 500';
    like $t->error_log, qr/the response cannot be sent: the request did not ask for a WebSocket/, 'logged';
    is $t->get('/t/misuse/rules')->{content}, join("\n",
        'TypeError: You must call accept() on this WebSocket before sending messages.',
        'TypeError: Invalid WebSocket close code: 1006.',
        'TypeError: If you specify a WebSocket close reason, you must also specify a code.',
        'TypeError: Responses with a WebSocket must have status code 101.',
        'true', '101'), 'send, close and Response check their arguments as Workers does';
};

$t->put_script('tenants', 'router', q{
    export default { fetch(request, env) { return env.NS.get('echo').fetch(request); } };
}, metadata => '{"bindings":[{"type":"dispatch_namespace","name":"NS","namespace":"tenants"}]}');

subtest 'a 101 through a dispatch namespace reaches the client (t/63-websocket-dispatch.t)' => sub {
    my $c = ws_open('/t/router');
    is $c->{status}, 101, 'upgraded';
    ws_send($c, 1, 'routed');
    is ws_recv($c)->[1], 'echo routed', 'the dispatched script answers';
    close $c->{s};
};

is_deeply [$t->worker_pids], \@workers, 'the worker process is the same';

subtest 'a new version of the script closes the old version\'s sockets with 1012' => sub {
    my $c = ws_open('/t/echo');
    ws_send($c, 1, 'v1');
    is ws_recv($c)->[1], 'echo v1', 'open on the old version';
    $t->put_script('tenants', 'echo', q{
        export default { fetch() { return new Response('v2'); } };
    });
    $t->publish('tenants', 'echo');
    ok $t->wait_for(sub { $t->get('/t/echo')->{content} eq 'v2' }, timeout => 5), 'the new version serves';
    my $f = ws_recv($c);
    is $f->[0], 8, 'the old socket gets a Close frame';
    is close_code($f), 1012, 'service restart';
};

subtest 'a reload: the old worker closes its sockets (1001) and exits' => sub {
    $t->put_script('tenants', 'echo2', q{
        export default { fetch() {
          const [client, server] = Object.values(new WebSocketPair());
          server.accept();
          server.addEventListener('message', (event) => server.send(`echo ${event.data}`));
          setInterval(() => {}, 1000);
          return new Response(null, { status: 101, webSocket: client });
        } };
    });
    my $c = ws_open('/t/echo2');
    ws_send($c, 1, 'before');
    is ws_recv($c)->[1], 'echo before', 'open';
    my %old = map { $_ => 1 } $t->worker_pids;
    ok eval { $t->reload; 1 }, 'the old worker exits within the reload\'s 15 s' or diag $@;
    my $f = ws_recv($c);
    is $f->[0], 8, 'the socket got a Close frame';
    is close_code($f), 1001, 'going away';
    ok !grep({ $old{$_} } $t->worker_pids), 'no old worker is left';
};

is scalar($t->error_log_alerts), 0, 'no alerts or crashes in the error log'
    or diag join "\n", $t->error_log_alerts;
done_testing;
