#!/usr/bin/perl
# node:net (nodejs_compat) over cloudflare:sockets, as workerd has it: a
# Socket (a Node Duplex) from net.connect(), net.createConnection() or
# new net.Socket().connect(), spoken to the harness's Redis: its events in
# Node's order (connect, data, end, close), remoteAddress and remotePort, a
# 1 MiB reply through the Duplex's backpressure, half-close with
# allowHalfOpen, 'timeout' after setTimeout(); an address
# dispatch_fetch_allow does not open is an 'error' event; servers are not
# implemented.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP;
no strict 'refs';    # a check that threw is a string: looking into it gives undef

my $t = Dispatch::Test->new(
    http   => q{
    dispatch_fetch_allow 127.0.0.1/32;
    dispatch_cpu_limit 2s;},
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; } },
);
my $R = $t->redis_port;
$t->redis('SET', 'net:big', 'n' x (1 << 20));

$t->put_script('tenants', 'net', $Dispatch::Test::RESULTS_JS . qq{ const PORT = $R; } . q{
    import net from 'node:net';
    import { Buffer } from 'node:buffer';
    // Runs a Socket to its 'close': the events in order, what came.
    function session(socket, send, { endAfter } = {}) {
      return new Promise((resolve) => {
        const events = [];
        const chunks = [];
        socket.on('connect', () => {
          events.push('connect');
          if (send !== undefined) socket.write(send);
        });
        socket.on('data', (d) => {
          if (events[events.length - 1] !== 'data') events.push('data');
          chunks.push(d);
          if (endAfter !== undefined && Buffer.concat(chunks).length >= endAfter) socket.end();
        });
        socket.on('end', () => events.push('end'));
        socket.on('error', (e) => events.push(`error ${e.message}`));
        socket.on('close', () => {
          events.push('close');
          resolve({ events, text: Buffer.concat(chunks).toString() });
        });
      });
    }
    export default { fetch: () => results({
      'net.connect(port, host)': () => session(net.connect(PORT, '127.0.0.1'), 'PING\r\n', { endAfter: 7 }),
      'net.createConnection(options)': () => session(net.createConnection({ host: '127.0.0.1', port: PORT }), 'QUIT\r\n'),
      'remoteAddress and remotePort': () => new Promise((resolve) => {
        const socket = new net.Socket();
        socket.connect(PORT, '127.0.0.1', () => {
          resolve([socket.remoteAddress, socket.remotePort, socket.remoteFamily, socket.readyState]);
          socket.destroy();
        });
      }),
      'a 1 MiB reply through the Duplex': async () => {
        const { text } = await session(net.connect(PORT, '127.0.0.1'), '*2\r\n$3\r\nGET\r\n$7\r\nnet:big\r\n',
          { endAfter: (1 << 20) + 12 });
        return [text.length, text.slice(0, 11)];
      },
      'allowHalfOpen: end() first, the reply still comes': () => new Promise((resolve) => {
        const socket = net.connect({ host: '127.0.0.1', port: PORT, allowHalfOpen: true });
        let text = '';
        socket.on('connect', () => socket.end('PING\r\n'));
        socket.on('data', (d) => { text += d; });
        socket.on('close', () => resolve(text));
      }),
      'setTimeout: timeout on an idle socket': () => new Promise((resolve) => {
        const socket = net.connect(PORT, '127.0.0.1');
        socket.setTimeout(200, () => {
          resolve(`timeout, ${socket.readyState}`);
          socket.destroy();
        });
      }),
      'an address dispatch_fetch_allow does not open': () => session(net.connect(PORT, '127.0.0.2')),
      'a path (a unix socket)': () => net.connect('/tmp/redis.sock'),
      'createServer': () => net.createServer(),
      'isIP': () => [net.isIP('10.0.0.1'), net.isIP('::1'), net.isIP('x')],
    }) };
}, metadata => '{"compatibility_date":"2025-09-01","compatibility_flags":["nodejs_compat"]}');
my $r = $t->get('/t/net');
is $r->{status}, 200, 'the node:net checks ran' or diag $r->{content};
my $c = eval { JSON::PP::decode_json($r->{content}) } || {};
is_deeply $c->{'net.connect(port, host)'}, { events => [qw(connect data end close)], text => "+PONG\r\n" },
    'net.connect(port, host): connect, data, end, close, in that order';
is_deeply $c->{'net.createConnection(options)'}, { events => [qw(connect data end close)], text => "+OK\r\n" },
    'net.createConnection(options): the peer ends, the socket ends and closes';
is_deeply $c->{'remoteAddress and remotePort'}, ['127.0.0.1', $R, 'IPv4', 'open'], 'remoteAddress, remotePort, remoteFamily, readyState';
is_deeply $c->{'a 1 MiB reply through the Duplex'}, [(1 << 20) + 12, "\$1048576\r\nn"], 'a 1 MiB reply arrives whole';
is $c->{'allowHalfOpen: end() first, the reply still comes'}, "+PONG\r\n", 'allowHalfOpen: end() half-closes, the reply is read';
is $c->{'setTimeout: timeout on an idle socket'}, 'timeout, open', "setTimeout(): 'timeout' on an idle socket, which stays open";
like join(' ', @{ $c->{'an address dispatch_fetch_allow does not open'}{events} || [] }),
    qr/^error connect\(\): 127\.0\.0\.2 is a loopback address.* close$/, "a refused address: an 'error' event, then 'close'";
like $c->{'a path (a unix socket)'}, qr/^threw TypeError: node:net: connecting to a path/, 'a unix socket path: TypeError';
like $c->{'createServer'}, qr/^threw Error: node:net createServer\(\) is not implemented/, 'servers are not implemented';
is_deeply $c->{'isIP'}, [4, 6, 0], 'net.isIP';

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
done_testing;
