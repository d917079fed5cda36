#!/usr/bin/perl
# WebSockets through a router, as a platform on Cloudflare serves its
# customers': the customer's Worker answers with a 101 and its socket; a
# router that reaches it through a dispatch namespace or a service binding
# returns that Response (as it is, or in a new one) and the client talks
# to the customer's Worker, under the customer's limits. And the timers of
# an open socket: each callback is an event with its own CPU.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::WebSocket qw(ws_send ws_recv ws_eof frame close_code ws_past_cpu);
use Digest::SHA qw(sha1_base64);

my $t = Dispatch::Test->new(
    server => q{
        location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; }
        location ~ ^/beat/(?<script>[^/]*) { dispatch tenants $script; dispatch_cpu_limit 50ms; }
        location = /status { dispatch_status; }
        location /short/ { dispatch tenants router; dispatch_websocket_idle_timeout 1s; }
    },
);

# The customer: a module-level name and counter show whose isolate answers.
my $echo = q{
    let served = 0;
    export default { fetch(request) {
      if (request.headers.get('Upgrade') !== 'websocket') return new Response('expected websocket', { status: 426 });
      const [client, server] = Object.values(new WebSocketPair());
      server.accept();
      server.addEventListener('message', (event) => {
        if (event.data === 'spin') { for (;;) {} }
        server.send(`echo ${event.data} from VERSION #${++served}`);
      });
      server.addEventListener('close', (event) => {
        console.log(`customer close event ${event.code}`);
        server.close(1000, 'bye');
      });
      return new Response(null, { status: 101, webSocket: client, headers: { 'Sec-WebSocket-Protocol': 'chat' } });
    } };
};
(my $v1 = $echo) =~ s/VERSION/customer/;
$t->put_script('tenants', 'echo', $v1);
(my $ev1 = $echo) =~ s/VERSION/v1/;
$t->put_script('tenants', 'echo-v', $ev1);

# The router: /t/router/NAME?mode=... dispatches to customer NAME.
$t->put_script('tenants', 'router', q{
    let count = 0;
    export default { async fetch(request, env, ctx) {
      const url = new URL(request.url);
      const name = url.pathname.split('/')[3];
      const mode = url.searchParams.get('mode');
      if (name === 'plain') return new Response(`router fine ${++count}`);
      const resp = await env.NS.get(name).fetch(request);
      if (mode === 'wrap') {
        return new Response(null, { status: 101, webSocket: resp.webSocket, headers: { 'X-Router': 'wrapped' } });
      }
      if (mode === 'flood') {
        const upstream = resp.webSocket;
        upstream.accept();
        const chunk = new Uint8Array(64 * 1024);
        let n = 0;
        try { for (;;) { upstream.send(chunk); n++; } }
        catch (e) { return new Response(`flood stopped after ${n}: ${e.constructor.name}: ${e.message}`); }
      }
      if (mode === 'proxy') {
        // The router's own socket to the client, relaying to the customer's.
        const upstream = resp.webSocket;
        upstream.accept();
        const [client, server] = Object.values(new WebSocketPair());
        server.accept();
        server.addEventListener('message', (event) => upstream.send(event.data));
        server.addEventListener('close', (event) => upstream.close(1000, `client left ${event.code}`));
        upstream.addEventListener('message', (event) => server.send(`routed ${event.data}`));
        upstream.addEventListener('close', (event) => {
          console.log(`router: upstream closed ${event.code} ${event.reason}`);
          server.close(event.code === 1005 || event.code === 1006 ? 1000 : event.code, 'upstream closed');
        });
        return new Response(null, { status: 101, webSocket: client });
      }
      if (mode === 'keep') {
        globalThis.kept = resp;
        return new Response('kept');
      }
      if (mode === 'stale') return globalThis.kept;
      if (mode === 'hold') {
        // Keeps the customer's Response (and its request) for 3 s, unreturned.
        return new Response(new ReadableStream({ start(c) { setTimeout(() => { resp.status; c.close(); }, 3000); } }));
      }
      if (mode === 'late') await new Promise((resolve) => setTimeout(resolve, 400));
      if (mode === 'work') {
        // Its own work: what waitUntil holds finishes, nothing else goes on.
        setInterval(() => console.log('router tick'), 20);
        ctx.waitUntil(new Promise((resolve) => setTimeout(resolve, 100)).then(() => console.log('router waitUntil done')));
      }
      return resp;
    } };
}, metadata => '{"bindings":[{"type":"dispatch_namespace","name":"NS","namespace":"tenants"}]}');

# A service binding to the customer.
$t->put_script('tenants', 'front', q{
    export default { fetch(request, env) { return env.CUSTOMER.fetch(request); } };
}, metadata => '{"bindings":[{"type":"service","name":"CUSTOMER","service":"echo"}]}');

sub ws_open { Dispatch::WebSocket::ws_open($t->port, @_) }

# dispatch_requests_total of tenants/NAME, all outcomes: a request is
# counted when it ends.
sub ended {
    my ($name) = @_;
    my $n = 0;
    for ($t->get('/status')->{content} =~ /^dispatch_requests_total\{[^}]*script="\Q$name\E"[^}]*\} (\d+)/mg) {
        $n += $_;
    }
    return $n;
}

# ---- through a router ------------------------------------------------------

subtest 'through a dispatch namespace: the customer\'s 101 reaches the client, its frames the customer' => sub {
    my $c = ws_open('/t/router/echo');
    is $c->{status}, 101, '101 Switching Protocols';
    my $accept = sha1_base64($c->{key} . '258EAFA5-E914-47DA-95CA-C5AB0DC85B11') . '=';
    like $c->{head}, qr/^Sec-WebSocket-Accept: \Q$accept\E\r$/mi, 'Sec-WebSocket-Accept is the client\'s key\'s';
    is scalar(() = $c->{head} =~ /^Sec-WebSocket-Accept:/mig), 1, 'once';
    like $c->{head}, qr/^Sec-WebSocket-Protocol: chat\r$/mi, 'the customer\'s own header';
    ws_send($c, 1, 'hello');
    like ws_recv($c)->[1], qr/^echo hello from customer #\d+$/, 'the customer\'s isolate answers';
    ws_send($c, 1, 'again');
    like ws_recv($c)->[1], qr/^echo again from customer #\d+$/, 'and again';
    ws_send($c, 8, pack('n', 1000));
    my $f = ws_recv($c);
    is_deeply [$f->[0], close_code($f), substr($f->[1] // '', 2)], [8, 1000, 'bye'], 'the customer\'s Close';
    ok ws_eof($c), 'then the end';
    ok $t->wait_for(sub { $t->error_log =~ /customer close event 1000/ }), 'the customer saw the close event';
};

for my $case (['/t/front', 'a service binding'], ['/t/router/front', 'a router, then a service binding']) {
    my ($path, $how) = @$case;
    subtest "through $how" => sub {
        my $c = ws_open($path);
        is $c->{status}, 101, 'upgraded';
        ws_send($c, 1, $how);
        like ws_recv($c)->[1], qr/^echo \Q$how\E from customer #\d+$/, 'the bound script answers';
        close $c->{s};
    };
}

subtest 'the customer\'s webSocket in a new Response of the router\'s' => sub {
    my $c = ws_open('/t/router/echo?mode=wrap');
    is $c->{status}, 101, 'upgraded';
    like $c->{head}, qr/^X-Router: wrapped\r$/mi, 'with the router\'s headers';
    unlike $c->{head}, qr/^Sec-WebSocket-Protocol:/mi, 'and not the customer\'s';
    ws_send($c, 1, 'wrapped');
    like ws_recv($c)->[1], qr/^echo wrapped from customer #\d+$/, 'the customer answers';
    close $c->{s};
};

subtest 'a router that accept()s the customer\'s webSocket and relays it with its own' => sub {
    my $c = ws_open('/t/router/echo?mode=proxy');
    is $c->{status}, 101, 'upgraded';
    ws_send($c, 1, 'relayed');
    like ws_recv($c)->[1], qr/^routed echo relayed from customer #\d+$/, 'the customer answers through the router';
    ws_send($c, 2, "\x00\x01");
    like ws_recv($c)->[1], qr/^routed echo \[object ArrayBuffer\] from customer/, 'bytes cross as an ArrayBuffer';
    ws_send($c, 8, pack('n', 1000));
    my $f = ws_recv($c);
    is $f->[0], 8, 'the router\'s Close';
    ok $t->wait_for(sub { $t->error_log =~ /customer close event 1000/ }), 'the customer got the router\'s Close';
    my $d = ws_open('/t/router/echo?mode=proxy');
    ws_send($d, 1, 'spin');
    $f = ws_recv($d, 10);
    is_deeply [$f->[0], close_code($f)], [8, 1011], 'the customer past its CPU limit: the router closes with its 1011';
    like $t->error_log, qr/router: upstream closed 1011 exceeded_cpu/, 'the router saw why';
    my $r = $t->get('/t/router/echo?mode=flood', headers => { Upgrade => 'websocket' });
    like $r->{content}, qr/^flood stopped after (\d+): TypeError: WebSocket send\(\): \d+ bytes already wait/,
        'what waits for the customer is bounded: send() throws';
    my ($n) = $r->{content} =~ /after (\d+)/;
    cmp_ok $n, '<=', 64, "at most 4 MiB ($n messages of 64 KiB)";
};

subtest 'the socket ends with the client: the customer\'s request ends, nothing of it stays' => sub {
    my $before = ended('echo');
    my $c = ws_open('/t/router/echo');
    ws_send($c, 1, 'x');
    ws_recv($c);
    close $c->{s};
    ok $t->wait_for(sub { $t->error_log =~ /customer close event 1006/ }), 'the customer got close 1006';
    ok $t->wait_for(sub { ended('echo') > $before }), 'and its request ended';
};

subtest 'the router\'s request lets go of its isolate once the 101 is out: its waitUntil work ends, nothing else runs' => sub {
    my $c = ws_open('/t/router/echo?mode=work');
    is $c->{status}, 101, 'upgraded';
    ok $t->wait_for(sub { $t->error_log =~ /router waitUntil done/ }), 'the router\'s waitUntil work finished';
    ws_send($c, 1, 'later');
    like ws_recv($c)->[1], qr/^echo later from customer/, 'the socket is open';
    my $ticks = () = $t->error_log =~ /router tick/g;
    select undef, undef, undef, 0.3;
    is scalar(() = $t->error_log =~ /router tick/g), $ticks, 'the router\'s timer runs no more';
    ws_send($c, 1, 'still');
    like ws_recv($c)->[1], qr/^echo still from customer/, 'and the socket still is';
    close $c->{s};
};

subtest 'a customer\'s socket the router does not return ends with the router\'s request, and answers no other' => sub {
    my $before = ended('echo');
    my $c = ws_open('/t/router/echo?mode=keep');
    is $c->{status}, 200, 'the router\'s own answer';
    close $c->{s};
    ok $t->wait_for(sub { ended('echo') > $before }), 'the customer\'s request ended with the router\'s';
    $c = ws_open('/t/router/echo?mode=stale');
    is $c->{status}, 500, 'returned in another request: 500';
    ok $t->wait_for(sub { $t->error_log =~ /TypeError: this WebSocket cannot answer this request/ }), 'a TypeError';
};

# ---- limits stay the customer's ----------------------------------------------

subtest 'the customer\'s CPU limit closes the socket with 1011; the router is unaffected' => sub {
    like $t->get('/t/router/plain')->{content}, qr/^router fine (\d+)$/, 'the router answers';
    my ($n) = $t->get('/t/router/plain')->{content} =~ /(\d+)$/;
    my $c = ws_open('/t/router/echo');
    ws_send($c, 1, 'spin');
    my $f = ws_recv($c, 10);
    is $f->[0], 8, 'a Close frame';
    is close_code($f), 1011, 'code 1011';
    like substr($f->[1] // '', 2), qr/exceeded_cpu/, 'the reason names the limit';
    ok ws_eof($c), 'then the end';
    like $t->error_log, qr/dispatch "tenants\/echo": stopped: exceeded_cpu/, 'the customer\'s isolate was stopped';
    unlike $t->error_log, qr/dispatch "tenants\/router": stopped/, 'not the router\'s';
    is $t->get('/t/router/plain')->{content}, 'router fine ' . ($n + 1), 'the router\'s isolate serves on';
    my $d = ws_open('/t/router/echo');
    ws_send($d, 1, 'after');
    like ws_recv($d)->[1], qr/^echo after from customer #1$/, 'the customer, on a new isolate';
    close $d->{s};
};

subtest 'the idle timeout of the client\'s location ends a socket through the router' => sub {
    my $logged = length $t->error_log;
    my $d = ws_open('/short/router/echo');
    ws_send($d, 1, 'then silence');
    like ws_recv($d)->[1], qr/^echo then silence/, 'open';
    ok $t->wait_for(sub { substr($t->error_log, $logged) =~ /the WebSocket client sent nothing for dispatch_websocket_idle_timeout/ }, timeout => 4),
        'the idle timeout ends it';
    ok $t->wait_for(sub { substr($t->error_log, $logged) =~ /customer close event 1006/ }), 'the customer gets close 1006';
};

subtest 'a new version of the customer closes its sockets through the router with 1012' => sub {
    my $c = ws_open('/t/router/echo-v');
    ws_send($c, 1, 'old');
    like ws_recv($c)->[1], qr/^echo old from v1/, 'open on the old version';
    (my $v2 = $echo) =~ s/VERSION/v2/;
    $t->put_script('tenants', 'echo-v', $v2);
    $t->publish('tenants', 'echo-v');
    ok $t->wait_for(sub {
        my $d = ws_open('/t/router/echo-v');
        ws_send($d, 1, 'probe');
        my $r = ws_recv($d)->[1] // '';
        close $d->{s};
        $r =~ /from v2/;
    }, timeout => 5), 'the new version serves';
    my $f = ws_recv($c);
    is $f->[0], 8, 'the old socket gets a Close frame';
    is close_code($f), 1012, 'service restart';
};

# ---- a dispatched 101 that cannot be returned ------------------------------------

$t->put_script('tenants', 'thrower', q{
    export default { fetch() {
      const [client, server] = Object.values(new WebSocketPair());
      server.accept();
      throw new Error('no socket for you');
    } };
});
$t->put_script('tenants', 'spinner', q{
    export default { fetch() {
      const [client, server] = Object.values(new WebSocketPair());
      for (;;) {}
    } };
});
$t->put_script('tenants', 'dies-later', q{
    export default { fetch() {
      const [client, server] = Object.values(new WebSocketPair());
      server.accept();
      setTimeout(() => { for (;;) {} }, 50);
      return new Response(null, { status: 101, webSocket: client });
    } };
});

subtest 'a customer that throws, spins, or is stopped before the router returns its socket: a 500' => sub {
    for my $case (['thrower', qr/Worker "thrower" threw an exception: no socket for you/],
                  ['spinner', qr/Worker "spinner" exceeded CPU time limit/],
                  ['dies-later?mode=late', qr/TypeError: The WebSocket's Worker \("dies-later"\) stopped before the WebSocket was returned/]) {
        my ($path, $why) = @$case;
        my $c = ws_open("/t/router/$path");
        is $c->{status}, 500, "$path: 500";
        ok $t->wait_for(sub { $t->error_log =~ $why }), "$path: the error log says why";
    }
    ok $t->wait_for(sub { ended('dies-later') >= 1 }), 'the stopped customer\'s request ended';
    my $c = ws_open('/t/router/echo');
    ws_send($c, 1, 'still');
    like ws_recv($c)->[1], qr/^echo still from customer/, 'a socket through the router still works';
    close $c->{s};
};

# ---- timers of an open socket ------------------------------------------------------

$t->put_script('tenants', 'burner', q{
    export default { fetch() {
      const [client, server] = Object.values(new WebSocketPair());
      server.accept();
      server.addEventListener('message', (event) => {
        let x = 0;
        for (let i = Number(event.data); i > 0; i--) x = (x * 31 + i) | 0;
        server.send(`burnt ${x === 0.5 ? '' : event.data}`);
      });
      return new Response(null, { status: 101, webSocket: client });
    } };
});
$t->put_script('tenants', 'heartbeat', q{
    export default { fetch() {
      const [client, server] = Object.values(new WebSocketPair());
      server.accept();
      server.addEventListener('message', (event) => {
        // Started by the client's one message; the client then says nothing.
        const n = Number(event.data);
        let tick = 0;
        const beat = setInterval(() => {
          let x = 0;
          for (let i = n; i > 0; i--) x = (x * 31 + i) | 0;
          server.send(`ping ${++tick}${x === 0.5 ? '!' : ''}`);
          if (tick === 20) {
            clearInterval(beat);
            server.close(1000, 'enough');
          }
        }, 50);
      });
      return new Response(null, { status: 101, webSocket: client });
    } };
});

my $n;
subtest 'a heartbeat of a silent client: each tick has the CPU of an event' => sub {
    # n iterations, doubled until 6n in one event is past the 50 ms limit
    # (3n was not): a tick of 2n fits in an event, and twenty are far past
    # one (ticks of optimized code cost less than a first call: ~5 ms for
    # n here, where main's shared budget stopped the heartbeat after 9).
    ($n, my $found) = ws_past_cpu(sub { ws_open('/beat/burner') }, sub { "$_[0]" });
    is $found, 1011, "6 x $n iterations are past one event's CPU";
    my $c = ws_open('/beat/heartbeat');
    ws_send($c, 1, 2 * $n . '');
    my @pings;
    for (1 .. 20) {
        my $f = ws_recv($c, 5);
        last unless ($f->[0] // -1) == 1;
        push @pings, $f->[1];
    }
    is_deeply \@pings, [map { "ping $_" } 1 .. 20], "20 ticks of 2 x $n iterations each, 50 ms apart";
    my $f = ws_recv($c, 5);
    is_deeply [$f->[0], close_code($f)], [8, 1000], 'then the script\'s own Close';
};

$t->put_script('tenants', 'ticker', q{
    export default { fetch(request) {
      const n = Number(new URL(request.url).searchParams.get('n'));
      const [client, server] = Object.values(new WebSocketPair());
      server.accept();
      let tick = 0;
      setInterval(() => {
        let x = 0;
        for (let i = n; i > 0; i--) x = (x * 31 + i) | 0;
        console.log(`ticker tick ${++tick}${x === 0.5 ? '!' : ''}`);
      }, 50);
      return new Response(null, { status: 101, webSocket: client });
    } };
});

subtest 'a customer\'s socket no router returned: its timers share one budget' => sub {
    # The router holds the Response (and its request lives on, streaming)
    # without returning the socket: no client is on it, so no tick is an
    # event of its own, and the ticks together are stopped at the limit.
    my $c = ws_open('/t/router/ticker?mode=hold&n=' . 2 * $n);
    is $c->{status}, 200, 'the router\'s own answer';
    ok $t->wait_for(sub { $t->error_log =~ /dispatch "tenants\/ticker": stopped: exceeded_cpu/ }, timeout => 5),
        'the customer is stopped at its CPU limit';
    my ($ticks) = $t->error_log =~ /.*ticker tick (\d+)/s;
    cmp_ok $ticks, '<', 10, "after $ticks ticks of 2 x $n iterations";
    close $c->{s};
};

subtest 'a reload: the old worker closes the sockets it serves through the router (1001) and exits' => sub {
    my $c = ws_open('/t/router/echo');
    ws_send($c, 1, 'before');
    like ws_recv($c)->[1], qr/^echo before from customer/, 'open';
    my %old = map { $_ => 1 } $t->worker_pids;
    ok eval { $t->reload; 1 }, 'the old worker exits within the reload\'s 15 s' or diag $@;
    my $f = ws_recv($c);
    is_deeply [$f->[0], close_code($f)], [8, 1001], 'a Close frame, going away';
    ok !grep({ $old{$_} } $t->worker_pids), 'no old worker is left';
};

is scalar($t->error_log_alerts), 0, 'no alerts or crashes in the error log'
    or diag join "\n", $t->error_log_alerts;
done_testing;
