#!/usr/bin/perl
# cloudflare:sockets over TLS. secureTransport 'on': HTTP/1.0 spoken by
# hand to `listen ... ssl` servers of the test's own nginx, by IP address
# and by name (the test's DNS server), the certificate verified as fetch()'s
# is (dispatch_fetch_trusted_certificate): another CA, or a name the
# certificate does not carry, rejects opened. secureTransport 'starttls':
# a STARTTLS peer (Node's net and tls, Debian's nodejs) that answers
# "STARTTLS" with "GO" in the clear, then speaks TLS: socket.startTls()
# gives a new, upgraded socket over the same connection; the rules of
# startTls() (once, never on a TLS socket, the old socket ends).
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::TestDNS;
use Dispatch::TestPKI;
no strict 'refs';

my $pki = Dispatch::TestPKI->new;
my $P = $pki->dir;
$pki->make_ca('ca', 'dispatch test CA');
$pki->make_ca('rogue-ca', 'some other CA');
$pki->make_cert('tls', 'ca', 'tls.test', 'DNS:tls.test', 'IP:127.0.0.1');
$pki->make_cert('rogue', 'rogue-ca', 'tls.test', 'DNS:tls.test', 'IP:127.0.0.1');

# ---- the STARTTLS peer ----

my ($tls, $rogue, $starttls, $plain) = Dispatch::Test::free_ports(4);
Dispatch::Test::_write_file("$P/starttls.js", <<'JS');
const net = require('net');
const tls = require('tls');
const fs = require('fs');
const { Duplex } = require('stream');
const [port, cert, key] = process.argv.slice(2);
const server = net.createServer((plain) => {
  let got = Buffer.alloc(0);
  const onData = (data) => {
    got = Buffer.concat([got, data]);
    const eol = got.indexOf('\r\n');
    if (eol < 0) return;
    const line = got.subarray(0, eol).toString('latin1');
    if (line !== 'STARTTLS' && line !== 'STARTTLS QUIET') { plain.end(`NO ${line}\r\n`); return; }
    plain.removeListener('data', onData);
    if (line === 'STARTTLS') plain.write('GO\r\n');
    // TLS over what follows the line (a client that did not wait sent its hello with it)
    // (fed once the TLS socket reads it: what is pushed before is not seen)
    const pipe = new Duplex({ read() {}, write(chunk, encoding, done) { plain.write(chunk, done); } });
    const secure = new tls.TLSSocket(pipe, { isServer: true, cert: fs.readFileSync(cert), key: fs.readFileSync(key) });
    plain.pause();
    setImmediate(() => {
      pipe.push(got.subarray(eol + 2));
      plain.on('data', (d) => pipe.push(d));
      plain.on('end', () => pipe.push(null));
      plain.resume();
    });
    secure.on('data', (d) => secure.write(`ECHO:${d.toString('latin1')}`));
    secure.on('error', () => plain.destroy());
  };
  plain.on('data', onData);
  plain.on('error', () => {});
});
server.listen(+port, '127.0.0.1', () => console.log('listening'));
JS
my $node = open(my $node_out, '-|', 'node', "$P/starttls.js", $starttls, "$P/tls.pem", "$P/tls.key")
    or die "node: $!";
is scalar(<$node_out>), "listening\n", 'the STARTTLS peer listens';
END { kill 'TERM', $node if $node }

# ---- nginx ----

my $dns = Dispatch::TestDNS->new(records => { 'tls.test' => ['127.0.0.1'], 'wrong.test' => ['127.0.0.1'] });
my $t = Dispatch::Test->new(
    http => $dns->resolver_directive . qq{
    dispatch_fetch_allow 127.0.0.1/32;
    dispatch_fetch_trusted_certificate $P/ca.pem;
    server {
        listen 127.0.0.1:$tls ssl;
        ssl_certificate $P/tls.pem;
        ssl_certificate_key $P/tls.key;
        location / { return 200 "tls.test \$ssl_server_name"; }
    }
    server {
        listen 127.0.0.1:$rogue ssl;
        ssl_certificate $P/rogue.pem;
        ssl_certificate_key $P/rogue.key;
        location / { return 200 "rogue"; }
    }
    server {
        listen 127.0.0.1:$plain;
        location / { return 200 "plain"; }
    }},
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; } },
);

my $PRELUDE = qq{
    import { connect } from 'cloudflare:sockets';
    const TLS = $tls, ROGUE = $rogue, STARTTLS = $starttls, PLAIN = $plain;
} . q{
    const enc = new TextEncoder();
    const dec = new TextDecoder();
    async function readAll(readable) {
      let s = '';
      for await (const chunk of readable) s += dec.decode(chunk, { stream: true });
      return s;
    }
    async function readLine(reader) {
      let s = '';
      while (!s.endsWith('\r\n')) {
        const { value, done } = await reader.read();
        if (done) break;
        s += dec.decode(value);
      }
      return s;
    }
    async function get(address) {
      const socket = connect(address, { secureTransport: 'on' });
      await socket.writable.getWriter().write(enc.encode('GET / HTTP/1.0\r\n\r\n'));
      const reply = await readAll(socket.readable);
      return reply.slice(reply.indexOf('\r\n\r\n') + 4);
    }
    const failure = (p) => p.then(() => 'settled', (e) => `rejected ${e.name}: ${e.message}`);
    // Over the plain socket: STARTTLS, GO; then the upgraded socket.
    async function upgrade(options) {
      const socket = connect({ hostname: '127.0.0.1', port: STARTTLS }, { secureTransport: 'starttls' });
      const writer = socket.writable.getWriter();
      await writer.write(enc.encode('STARTTLS\r\n'));
      const reader = socket.readable.getReader();
      const go = await readLine(reader);
      reader.releaseLock();
      writer.releaseLock();
      return { socket, go, secure: socket.startTls(options) };
    }
};

my $c = $t->run_checks('tenants', 'tls', $PRELUDE . q{
    export default { fetch() { return results({
      'on, by IP address': () => get({ hostname: '127.0.0.1', port: TLS }),
      'on, by name': () => get(`tls.test:${TLS}`),
      'on: secureTransport': () => connect({ hostname: '127.0.0.1', port: TLS }, { secureTransport: 'on' }).secureTransport,
      'on: a certificate from another CA': () => failure(connect({ hostname: '127.0.0.1', port: ROGUE }, { secureTransport: 'on' }).opened),
      'on: a name the certificate does not carry': () => failure(connect(`wrong.test:${TLS}`, { secureTransport: 'on' }).opened),
      'on: a plain peer': () => failure(connect({ hostname: '127.0.0.1', port: PLAIN }, { secureTransport: 'on' }).opened),
      'startTls on a TLS socket': () => connect({ hostname: '127.0.0.1', port: TLS }, { secureTransport: 'on' }).startTls(),
      'starttls: the upgraded socket echoes over TLS': async () => {
        const { socket, go, secure } = await upgrade({ expectedServerHostname: 'tls.test' });
        await secure.opened;
        const writer = secure.writable.getWriter();
        await writer.write(enc.encode('hello'));
        const reader = secure.readable.getReader();
        const { value } = await reader.read();
        await socket.closed;
        const out = [go, dec.decode(value), socket.upgraded, secure.upgraded, secure.secureTransport];
        secure.close();
        return out;
      },
      'starttls: a write still queued in the plain stream goes first': async () => {
        const socket = connect({ hostname: '127.0.0.1', port: STARTTLS }, { secureTransport: 'starttls' });
        const writer = socket.writable.getWriter();
        const written = writer.write(enc.encode('STARTTLS QUIET\r\n'));  // not awaited
        writer.releaseLock();
        const secure = socket.startTls({ expectedServerHostname: 'tls.test' });
        await written;
        await secure.writable.getWriter().write(enc.encode('quiet'));
        const { value } = await secure.readable.getReader().read();
        secure.close();
        return dec.decode(value);
      },
      'starttls: allowHalfOpen: writable.close() sends close_notify, the reply still comes': async () => {
        const socket = connect({ hostname: '127.0.0.1', port: STARTTLS }, { secureTransport: 'starttls', allowHalfOpen: true });
        const writer = socket.writable.getWriter();
        await writer.write(enc.encode('STARTTLS QUIET\r\n'));
        writer.releaseLock();
        const secure = socket.startTls({ expectedServerHostname: 'tls.test' });
        const w = secure.writable.getWriter();
        await w.write(enc.encode('last words'));
        await w.close();
        const all = await readAll(secure.readable);
        await secure.closed;
        return all;
      },
      'starttls: startTls twice': async () => {
        const { socket, secure } = await upgrade({ expectedServerHostname: 'tls.test' });
        try {
          socket.startTls({ expectedServerHostname: 'tls.test' });
        } finally {
          secure.close();
        }
      },
      'starttls: the old socket is not written to': async () => {
        const { socket, secure } = await upgrade({ expectedServerHostname: 'tls.test' });
        try {
          await socket.writable.getWriter().write(enc.encode('x'));
        } finally {
          secure.close();
        }
      },
      'starttls: a name the certificate does not carry': async () => {
        const { secure } = await upgrade({ expectedServerHostname: 'wrong.test' });
        return failure(secure.opened);
      },
      'starttls: the name defaults to the hostname connected to': async () => {
        const { secure } = await upgrade();
        await secure.opened;  // 127.0.0.1: the certificate carries it
        secure.close();
        return 'opened';
      },
    }); } };
});
is $c->{'on, by IP address'}, 'tls.test ', "secureTransport 'on' by IP address: HTTP over TLS, no SNI";
is $c->{'on, by name'}, 'tls.test tls.test', "secureTransport 'on' by name: resolved, SNI sent, the certificate verified";
is $c->{'on: secureTransport'}, 'on', 'secureTransport: on';
like $c->{'on: a certificate from another CA'}, qr/^rejected Error: .*certificate/, 'a certificate from another CA: opened rejects';
like $c->{'on: a name the certificate does not carry'}, qr/^rejected Error: .*certificate.*wrong\.test|wrong\.test.*certificate/,
    'a name the certificate does not carry: opened rejects';
like $c->{'on: a plain peer'}, qr/^rejected Error: /, 'TLS to a plain peer: opened rejects';
is $c->{'startTls on a TLS socket'}, 'threw TypeError: Cannot startTls on a TLS socket.', 'startTls() on a TLS socket: TypeError';
is_deeply $c->{'starttls: the upgraded socket echoes over TLS'}, ["GO\r\n", 'ECHO:hello', JSON::PP::false(), JSON::PP::true(), 'on'],
    "secureTransport 'starttls': the plain exchange, startTls(), then TLS over the same connection; the old socket closes";
is $c->{'starttls: a write still queued in the plain stream goes first'}, 'ECHO:quiet',
    'startTls() flushes the plain socket\'s writable side first (as workerd), and what the TLS socket is given before its handshake waits for it (it went out in the clear)';
is $c->{'starttls: allowHalfOpen: writable.close() sends close_notify, the reply still comes'}, 'ECHO:last words',
    'TLS half-close: the writable side ends, the peer\'s reply is read to its end, closed resolves';
is $c->{'starttls: startTls twice'}, 'threw TypeError: startTls can only be called once.', 'startTls() twice: TypeError';
like $c->{'starttls: the old socket is not written to'}, qr/^threw TypeError: /, 'the plain socket takes no more writes';
like $c->{'starttls: a name the certificate does not carry'}, qr/^rejected Error: startTls\(\): .*certificate/,
    'startTls() verifies the certificate: the upgraded socket\'s opened rejects';
is $c->{'starttls: the name defaults to the hostname connected to'}, 'opened', 'startTls() verifies the hostname connected to by default';

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
$dns->stop;
kill 'TERM', $node;
waitpid $node, 0;
$node = 0;
done_testing;
