#!/usr/bin/perl
# WebSockets at their edges: frames a hostile client may send, bytes that
# come with the handshake, many messages in one write, CPU per event, the
# idle timeout, a script that never accepts, and what an early send() does.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::WebSocket qw(ws_send ws_recv ws_eof frame close_code ws_past_cpu);
use Time::HiRes qw(sleep time);

my $h2 = Dispatch::Test::free_port;
my $t = Dispatch::Test->new(
    http   => qq{ dispatch_memory_limit 16m;
                 server { listen 127.0.0.1:$h2 http2; location /t/ { dispatch tenants echo; } } },
    server => q{
        location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; }
        location ~ ^/short/(?<script>[^/]*) {
            dispatch tenants $script;
            dispatch_websocket_idle_timeout 1s;
            dispatch_wall_limit 1s;
        }
    },
);

$t->put_script('tenants', 'echo', q{
    export default { fetch(request) {
      const [client, server] = Object.values(new WebSocketPair());
      server.accept();
      // Before the 101 went out: it reaches the client first.
      server.send('welcome');
      const url = new URL(request.url);
      if (url.searchParams.has('blob')) server.binaryType = 'blob';
      server.addEventListener('message', async (event) => {
        const data = event.data;
        if (data instanceof Blob) return server.send(`blob ${data.size} ${await data.text()}`);
        if (data === 'close-me') return server.close(4000, 'asked');
        server.send(typeof data === 'string' ? `echo ${data}` : data);
      });
      server.addEventListener('error', (event) => console.log(`error event: ${event.message}`));
      server.addEventListener('close', (event) => console.log(`close event ${event.code} ${event.wasClean}`));
      return new Response(null, { status: 101, webSocket: client, headers: { 'Sec-WebSocket-Protocol': 'chat' } });
    } };
});
$t->put_script('tenants', 'burner', q{
    export default { fetch(request) {
      const [client, server] = Object.values(new WebSocketPair());
      server.accept();
      server.addEventListener('message', (event) => {
        // Date.now() stands still while a script computes: iterations.
        let x = 0;
        for (let i = Number(event.data.slice(5)); i > 0; i--) x = (x * 31 + i) | 0;
        server.send(`burnt ${x === 0.5 ? '' : event.data.slice(5)}`);
      });
      return new Response(null, { status: 101, webSocket: client });
    } };
});
$t->put_script('tenants', 'never-accepts', q{
    export default { fetch() {
      const [client, server] = Object.values(new WebSocketPair());
      server.addEventListener('message', () => console.log('never-accepts got a message'));
      return new Response(null, { status: 101, webSocket: client });
    } };
});

sub ws_open { my $c = Dispatch::WebSocket::ws_open($t->port, @_); ws_recv($c) if $c->{status} == 101; $c }

subtest 'a message sent before the 101 comes first; the script\'s own headers go out' => sub {
    my $c = Dispatch::WebSocket::ws_open($t->port, '/t/echo');
    is $c->{status}, 101, 'upgraded';
    like $c->{head}, qr/^Sec-WebSocket-Protocol: chat\r$/mi, 'Sec-WebSocket-Protocol as the script set it';
    is ws_recv($c)->[1], 'welcome', 'the early message';
};

subtest 'frames that came with the handshake are read' => sub {
    my $c = ws_open('/t/echo', after => frame(1, 'eager') . frame(1, 'beaver'));
    is ws_recv($c)->[1], 'echo eager', 'the first';
    is ws_recv($c)->[1], 'echo beaver', 'the second';
};

subtest '300 messages in one write come back in order' => sub {
    my $c = ws_open('/t/echo');
    syswrite $c->{s}, join '', map { frame(1, "m$_") } 1 .. 300;
    my @got = map { ws_recv($c)->[1] // '' } 1 .. 300;
    is_deeply \@got, [map { "echo m$_" } 1 .. 300], 'all of them, in order';
};

subtest 'binaryType blob gives Blobs' => sub {
    my $c = ws_open('/t/echo?blob');
    ws_send($c, 2, 'bytes');
    is ws_recv($c)->[1], 'blob 5 bytes', 'a Blob of the bytes';
};

subtest 'CPU is per event: work past the limit in one event runs when spread over six' => sub {
    # n iterations, doubled until 6n in one event is stopped by the 50 ms
    # limit: then 6n is more CPU than one event may have.
    my ($n, $stopped) = ws_past_cpu(sub { ws_open('/t/burner') }, sub { "burn $_[0]" });
    is $stopped, 1011, "6 x $n iterations in one event: closed with 1011 (exceeded_cpu)";
    my $c = ws_open('/t/burner');
    for my $i (1 .. 6) {
        ws_send($c, 1, "burn $n");
        is ws_recv($c, 5)->[1], "burnt $n", "$n iterations, event $i of 6: answered";
    }
};

for my $case (
    ['a Close of one byte', frame(8, "\x03"), 1002],
    ['a Close with code 1005', frame(8, pack('n', 1005)), 1002],
    ['a Close with code 999', frame(8, pack('n', 999)), 1002],
    ['a Close whose reason is not UTF-8', frame(8, pack('n', 1000) . "\xff"), 1007],
    ['a ping of 126 bytes', frame(9, 'p' x 126), 1002],
    ['a fragmented ping', frame(9, 'p', fin => 0), 1002],
    ['a continuation with no message', frame(0, 'x'), 1002],
    ['a new message inside a fragmented one', frame(1, 'a', fin => 0) . frame(1, 'b'), 1002],
    ['reserved bits', frame(1, 'x', rsv => 4), 1002],
    ['an unknown opcode', frame(3, 'x'), 1002],
    ['a surrogate in UTF-8', frame(1, "\xed\xa0\x80"), 1007],
    ['an overlong UTF-8 form', frame(1, "\xc0\xaf"), 1007],
    ['UTF-8 cut between fragments, never finished', frame(1, "\xe2\x82", fin => 0) . frame(0, 'x'), 1007],
    ['fragments adding up past 1 MiB', frame(2, 'a' x 600000, fin => 0) . frame(0, 'b' x 600000), 1009],
) {
    my ($name, $bytes, $code) = @$case;
    subtest "$name closes with $code" => sub {
        my $c = ws_open('/t/echo');
        syswrite $c->{s}, $bytes;
        my $f = ws_recv($c);
        is $f->[0], 8, 'a Close frame';
        is close_code($f), $code, "code $code";
        ok ws_eof($c), 'then the end';
    };
}

subtest 'messages in progress are held against the script\'s memory: past it, 1009' => sub {
    # 16m: half of it may wait for clients; 12 x 900 KiB do not fit.
    my @c = map { ws_open('/t/echo') } 1 .. 12;
    syswrite $_->{s}, frame(2, 'a' x 900000, fin => 0) for @c;
    my @codes = map { close_code(ws_recv($_, 0.5)) // 0 } @c;
    cmp_ok scalar(grep { $_ == 1009 } @codes), '>=', 1, 'some are closed with 1009';
    cmp_ok scalar(grep { $_ == 0 } @codes), '>=', 4, 'the first few still wait for their last fragment';
    like $t->error_log, qr/WebSocket closed with 1009: no memory is left for the message/, 'the error log says why';
    close $_->{s} for @c;
    my $d = ws_open('/t/echo');
    ws_send($d, 1, 'after');
    is ws_recv($d)->[1], 'echo after', 'once they are gone, a new socket is served';
};

subtest 'a UTF-8 character split across fragments is fine' => sub {
    my $c = ws_open('/t/echo');
    syswrite $c->{s}, frame(1, "\xe2\x82", fin => 0) . frame(0, "\xac");
    is ws_recv($c)->[1], "echo \xe2\x82\xac", 'one message';
};

subtest 'a close with no code: the script sees 1005, the client gets an empty Close back' => sub {
    my $c = ws_open('/t/echo');
    ws_send($c, 8, '');
    my $f = ws_recv($c);
    is_deeply [$f->[0], $f->[1]], [8, ''], 'an empty Close';
    ok $t->wait_for(sub { $t->error_log =~ /console: close event 1005 true/ }), 'code 1005, clean';
};

subtest 'the socket outlives dispatch_wall_limit; a silent client is closed after the idle timeout' => sub {
    my $c = ws_open('/short/echo');
    sleep 0.6;
    ws_send($c, 1, 'a');
    is ws_recv($c)->[1], 'echo a', 'alive';
    sleep 0.6;
    ws_send($c, 1, 'b');
    is ws_recv($c)->[1], 'echo b', 'alive past the 1 s wall limit while the client talks';
    ok ws_eof($c, 4), 'closed once the client is silent for 1 s';
    ok $t->wait_for(sub { $t->error_log =~ /the WebSocket client sent nothing for dispatch_websocket_idle_timeout/ }),
        'the error log says why';
};

subtest 'a script that never accepts: nothing is read, the idle timeout ends it' => sub {
    my $c = Dispatch::WebSocket::ws_open($t->port, '/short/never-accepts');
    is $c->{status}, 101, 'upgraded';
    ws_send($c, 1, 'hello?');
    ok ws_eof($c, 4), 'closed after the idle timeout';
    unlike $t->error_log, qr/never-accepts got a message/, 'no event ran';
};

subtest 'the script closes and the client never answers: the end comes 5 s later, with close 1006' => sub {
    my $c = ws_open('/t/echo');
    ws_send($c, 1, 'close-me');
    my $f = ws_recv($c);
    is close_code($f), 4000, 'the script\'s Close';
    my $t0 = time;
    ok ws_eof($c, 10), 'the connection ends without the client\'s Close';
    cmp_ok time - $t0, '>=', 4, 'after the wait for it';
    ok $t->wait_for(sub { $t->error_log =~ /WebSocket closed: the client did not answer the Close.*\n.*console: close event 1006 false/ }),
        'the error log says so, and the script gets close 1006';
};

subtest 'a request with a body cannot upgrade' => sub {
    my $c = Dispatch::WebSocket::ws_open($t->port, '/t/echo', headers => "Content-Length: 3\r\n", after => 'abc');
    is $c->{status}, 500, 'a 500';
    like $t->error_log, qr/the script answered with a WebSocket \(101\) a request that has a body/, 'logged';
};

subtest 'HTTP/2 cannot upgrade: the script\'s 101 is a 500' => sub {
    my $key = 'dGhlIHNhbXBsZSBub25jZQ==';
    my $out = `curl -s --http2-prior-knowledge -o /dev/null -w '%{http_code} %{http_version}' -H 'Upgrade: websocket' -H 'Connection: Upgrade' -H 'Sec-WebSocket-Key: $key' -H 'Sec-WebSocket-Version: 13' http://127.0.0.1:$h2/t/echo`;
    is $out, '500 2', 'a 500 over HTTP/2';
    like $t->error_log, qr/the request did not ask for a WebSocket.*request: "GET \/t\/echo HTTP\/2\.0"/,
        'HTTP/2 carries no Connection: upgrade, so the script\'s 101 cannot go out';
};

subtest 'HTTP/1.0 cannot upgrade' => sub {
    my $c = Dispatch::WebSocket::ws_open($t->port, '/t/echo', version => '1.0');
    is $c->{status}, 500, 'a 500';
    like $t->error_log, qr/which needs an HTTP\/1\.1 request of its own/, 'logged';
};

is $t->get('/t/echo', headers => { Upgrade => 'websocket' })->{status}, 500,
    'a request with an incomplete handshake cannot be answered with a 101';
is scalar($t->error_log_alerts), 0, 'no alerts or crashes in the error log'
    or diag join "\n", $t->error_log_alerts;
done_testing;
