#!/usr/bin/perl
# cloudflare:sockets connect(): TCP to a real Redis (the harness's own),
# spoken to in RESP over the socket's streams: PING, a SET/GET round trip, a
# value larger than the read-ahead window read in many chunks, the peer's
# end of data (allowHalfOpen or not), half-close, close() and what it does
# to reads and writes. The address and options are checked as workerd
# checks them; port 25, an address dispatch_fetch_allow does not open, and
# connect() at the top level are refused; sockets count toward the
# request's six connections (the seventh waits) and its subrequests; a
# socket ends with its request, and when its client goes away. TLS
# (secureTransport 'on' and 'starttls') is t/62-sockets-tls.t.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Time::HiRes qw(time sleep);
no strict 'refs';

my $t = Dispatch::Test->new(
    http => q{
    dispatch_fetch_allow 127.0.0.1/32;
    dispatch_subrequest_limit 100;},
    server => q{
        location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; }
        location ~ ^/limit3/(?<script>[^/]*) { dispatch_subrequest_limit 3; dispatch tenants $script; }
    },
);
my $R = $t->redis_port;

# Every script: the Redis address, and RESP over a socket.
my $PRELUDE = qq{
    import { connect } from 'cloudflare:sockets';
    const REDIS = { hostname: '127.0.0.1', port: $R };
} . q{
    const enc = new TextEncoder();
    const dec = new TextDecoder();
    function command(...args) {
      let s = `*${args.length}\r\n`;
      for (const a of args) s += `$${enc.encode(String(a)).length}\r\n${a}\r\n`;
      return enc.encode(s);
    }
    // Reads until `bytes` bytes came (or the end); the chunks as they came.
    async function readBytes(reader, bytes) {
      const chunks = [];
      let n = 0;
      while (n < bytes) {
        const { value, done } = await reader.read();
        if (done) break;
        chunks.push(value);
        n += value.length;
      }
      return chunks;
    }
    function text(chunks) {
      return chunks.map((c) => dec.decode(c, { stream: true })).join('');
    }
};
sub checks {
    my ($name, $code, %req) = @_;
    return $t->run_checks('tenants', $name, $PRELUDE . $code, %req);
}
sub script { my ($name, $code) = @_; $t->put_script('tenants', $name, $PRELUDE . $code) }

# ---- RESP over a socket ----

my $c = checks('redis', q{
    export default { fetch() { return results({
      'the module exports connect': () => typeof connect,
      'PING answers +PONG': async () => {
        const socket = connect(REDIS);
        const writer = socket.writable.getWriter();
        await writer.write(command('PING'));
        const reply = text(await readBytes(socket.readable.getReader(), 7));
        await socket.close();
        return reply;
      },
      'SET then GET round-trips a value': async () => {
        const socket = connect(`127.0.0.1:${REDIS.port}`);
        const writer = socket.writable.getWriter();
        const reader = socket.readable.getReader();
        await writer.write(command('SET', 'sockets:key', 'héllo wörld'));
        const set = text(await readBytes(reader, 5));
        await writer.write(command('GET', 'sockets:key'));
        const get = text(await readBytes(reader, 5 + 13 + 2));
        socket.close();
        return [set, get];
      },
      'opened gives the remote address': async () => {
        const socket = connect(REDIS);
        const info = await socket.opened;
        socket.close();
        return info.remoteAddress;
      },
      'a large value comes in many chunks': async () => {
        const socket = connect(REDIS);
        const writer = socket.writable.getWriter();
        const reader = socket.readable.getReader();
        const value = 'x'.repeat(1 << 20);
        await writer.write(command('SET', 'sockets:big', value));
        await readBytes(reader, 5);
        await writer.write(command('GET', 'sockets:big'));
        const head = `$${1 << 20}\r\n`;
        const chunks = await readBytes(reader, head.length + (1 << 20) + 2);
        const all = text(chunks);
        socket.close();
        return { chunks: chunks.length > 4, length: all.length, ok: all === head + value + '\r\n' };
      },
      'a large write goes out whole': async () => {
        const socket = connect(REDIS);
        const writer = socket.writable.getWriter();
        const reader = socket.readable.getReader();
        const value = 'y'.repeat(3 << 20);
        await writer.write(command('SET', 'sockets:write', value));
        const reply = text(await readBytes(reader, 5));
        await writer.write(command('STRLEN', 'sockets:write'));
        const length = text(await readBytes(reader, 10));
        socket.close();
        return [reply, length];
      },
      'the peer closing ends the readable and closes the socket': async () => {
        const socket = connect(REDIS);
        const writer = socket.writable.getWriter();
        await writer.write(command('QUIT'));
        const all = text(await readBytes(socket.readable.getReader(), 1e9));
        await socket.closed;
        return all;
      },
      'writable.close() half-closes: the reply still comes': async () => {
        const socket = connect(REDIS, { allowHalfOpen: true });
        const writer = socket.writable.getWriter();
        await writer.write(command('PING'));
        await writer.close();
        const all = text(await readBytes(socket.readable.getReader(), 1e9));
        await socket.closed;
        return all;
      },
      'close() resolves closed and ends pending reads': async () => {
        const socket = connect(REDIS);
        await socket.opened;
        const reader = socket.readable.getReader();
        const pending = reader.read();
        const closed = socket.close();
        const read = await pending;
        await closed;
        return [read.done, closed === socket.closed];
      },
      'a write after close() rejects': async () => {
        const socket = connect(REDIS);
        const writer = socket.writable.getWriter();
        await socket.close();
        await writer.write(command('PING'));
        return 'written';
      },
      'close() twice is fine': async () => {
        const socket = connect(REDIS);
        await socket.close();
        await socket.close();
        return 'closed';
      },
      'strings are not written': async () => {
        const socket = connect(REDIS);
        try {
          await socket.writable.getWriter().write('PING\r\n');
        } finally {
          socket.close();
        }
      },
      'startTls needs secureTransport starttls': () => connect(REDIS).startTls(),
      'secureTransport defaults to off': () => connect(REDIS).secureTransport,
      'Socket cannot be constructed': () => {
        const socket = connect(REDIS);
        socket.close();
        return new socket.constructor();
      },
    }); } };
});
is $c->{'the module exports connect'}, 'function', 'import { connect } from cloudflare:sockets';
is $c->{'PING answers +PONG'}, "+PONG\r\n", 'PING over the socket: +PONG';
is_deeply $c->{'SET then GET round-trips a value'}, ["+OK\r\n", "\$13\r\nh\x{e9}llo w\x{f6}rld\r\n"],
    'SET then GET over one socket';
is $c->{'opened gives the remote address'}, "127.0.0.1:$R", 'opened: { remoteAddress }';
is_deeply $c->{'a large value comes in many chunks'}, { chunks => JSON::PP::true(), length => (1 << 20) + 12, ok => JSON::PP::true() },
    'a 1 MiB value arrives whole, in many chunks';
is_deeply $c->{'a large write goes out whole'}, ["+OK\r\n", ":3145728\r\n"], 'a 3 MiB write arrives whole';
is $c->{'the peer closing ends the readable and closes the socket'}, "+OK\r\n",
    'QUIT: the reply, then the end, and closed resolves';
is $c->{'writable.close() half-closes: the reply still comes'}, "+PONG\r\n",
    'allowHalfOpen: the writable side closes, the reply is read to the end';
is_deeply $c->{'close() resolves closed and ends pending reads'}, [JSON::PP::true(), JSON::PP::true()],
    'close(): a pending read is done, close() returns closed';
like $c->{'a write after close() rejects'}, qr/^threw /, 'a write after close() rejects';
is $c->{'close() twice is fine'}, 'closed', 'close() twice';
like $c->{'strings are not written'}, qr/^threw TypeError: This WritableStream only supports writing byte types/,
    'a string written is a TypeError';
like $c->{'startTls needs secureTransport starttls'}, qr/^threw TypeError: The `secureTransport` socket option must be set to 'starttls'/,
    'startTls() without secureTransport starttls is a TypeError';
is $c->{'secureTransport defaults to off'}, 'off', 'secureTransport: off by default';
like $c->{'Socket cannot be constructed'}, qr/^threw TypeError: Illegal constructor/, 'new Socket() is a TypeError';

done_testing;
