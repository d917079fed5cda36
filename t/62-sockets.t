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
use JSON::PP;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
no strict 'refs';

my $t = Dispatch::Test->new(
    http => q{
    dispatch_fetch_allow 127.0.0.1/32;
    dispatch_fetch_send_timeout 1s;
    dispatch_cpu_limit 2s;    # MiBs encoded and decoded in JavaScript, on a busy machine
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
        // closed, not aborted: what it held was sent first (as workerd's)
        return [all, await writer.closed.then(() => 'writable closed', (e) => `writable errored: ${e.message}`)];
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
is_deeply $c->{'the peer closing ends the readable and closes the socket'}, ["+OK\r\n", 'writable closed'],
    'QUIT: the reply, then the end; the writable side closes (not aborted) and closed resolves';
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

# ---- refusals: where, what, when ----

$c = checks('refusals', q{
    let topLevel = 'connected';
    try { connect(REDIS); } catch (e) { topLevel = `threw ${e.name}: ${e.message}`; }
    const failure = (p) => p.then(() => 'settled', (e) => `rejected ${e.name}: ${e.message}`);
    export default { fetch() { return results({
      'connect() at the top level': () => topLevel,
      'an address dispatch_fetch_allow does not open': () => failure(connect({ hostname: '127.0.0.2', port: REDIS.port }).opened),
      'its closed rejects too': () => failure(connect({ hostname: '127.0.0.2', port: REDIS.port }).closed),
      'port 25': () => failure(connect({ hostname: '127.0.0.1', port: 25 }).opened),
      'an IPv6 address in brackets': () => failure(connect(`[::1]:${REDIS.port}`).opened),
      'an IPv6 address as hostname': () => failure(connect({ hostname: '::1', port: REDIS.port }).opened),
      'an empty hostname': () => connect({ hostname: '', port: 80 }),
      'a hostname with a space': () => connect('a b:80'),
      'a hostname of 300 characters': () => connect({ hostname: 'a'.repeat(300), port: 80 }),
      'a hostname of 16 MiB': () => connect({ hostname: 'a'.repeat(1 << 24), port: 80 }),
      'port 0': () => connect({ hostname: '127.0.0.1', port: 0 }),
      'port 65536': () => connect({ hostname: '127.0.0.1', port: 65536 }),
      'port -1': () => connect({ hostname: '127.0.0.1', port: -1 }),
      'port 1.5': () => connect({ hostname: '127.0.0.1', port: 1.5 }),
      'port 99999 in a string': () => connect('127.0.0.1:99999'),
      'a port that is not a number': () => connect('127.0.0.1:http'),
      'an unknown secureTransport': () => connect(REDIS, { secureTransport: 'maybe' }),
      'options that are not an object': () => connect(REDIS, 5),
      'no arguments': () => connect(),
      'a getter that throws': () => connect({ get hostname() { throw new RangeError('mine'); }, port: 1 }),
      'replaced prototypes do not reach the socket': async () => {
        Object.defineProperty(Object.prototype, 'secureTransport', { get() { throw new Error('read'); }, configurable: true });
        Promise.prototype.then = function () { throw new Error('then'); };
        ReadableStream.prototype.getReader = function () { throw new Error('getReader'); };
        const socket = connect(REDIS);
        return socket.secureTransport;
      },
    }); } };
});
is $c->{'connect() at the top level'},
    'threw Error: Disallowed operation called within global scope. Asynchronous I/O (ex: fetch() or connect()), setting a timeout, and generating random values are not allowed within global scope. To fix this error, perform this operation within a handler.',
    'connect() at the top level is an Error, as on Workers';
like $c->{'an address dispatch_fetch_allow does not open'}, qr/^rejected Error: connect\(\): 127\.0\.0\.2 is a loopback address/,
    'an address the egress policy refuses: opened rejects, naming it';
like $c->{'its closed rejects too'}, qr/^rejected Error: connect\(\): 127\.0\.0\.2/, 'and closed rejects';
like $c->{'port 25'}, qr/^rejected Error: connect\(\): port 25 is not allowed/, 'port 25 is refused';
like $c->{'an IPv6 address in brackets'}, qr/^rejected Error: connect\(\): ::1 is a loopback address/, '"[::1]:port": judged as ::1';
like $c->{'an IPv6 address as hostname'}, qr/^rejected Error: connect\(\): ::1 is a loopback address/, '{ hostname: "::1" }: judged as ::1';
for my $bad ('an empty hostname', 'a hostname with a space', 'a hostname of 300 characters', 'a hostname of 16 MiB') {
    is $c->{$bad}, 'threw TypeError: Specified address is empty string, contains unsupported characters or is too long.',
        "$bad: TypeError";
}
like $c->{'port 0'}, qr/^threw TypeError: /, 'port 0: TypeError';
for my $bad ('port 65536', 'port -1', 'port 1.5') {
    is $c->{$bad}, 'threw TypeError: connect(): the port must be an integer from 1 to 65535', "$bad: TypeError";
}
is $c->{'port 99999 in a string'}, 'threw TypeError: Specified address could not be parsed.', 'a port past 65535 in a string: TypeError';
is $c->{'a port that is not a number'}, 'threw TypeError: Specified address could not be parsed.', 'a port that is not a number: TypeError';
is $c->{'an unknown secureTransport'}, 'threw TypeError: Unsupported value in secureTransport socket option: maybe',
    'an unknown secureTransport: TypeError';
like $c->{'options that are not an object'}, qr/^threw TypeError: /, 'options that are not an object: TypeError';
like $c->{'no arguments'}, qr/^threw TypeError: /, 'connect() without arguments: TypeError';
is $c->{'a getter that throws'}, 'threw RangeError: mine', "the address's getter's exception goes through";
is $c->{'replaced prototypes do not reach the socket'}, 'off', 'a tenant replacing prototypes does not reach connect()';

# ---- the request's connections and subrequests ----

$c = checks('slots', q{
    const later = (ms, v) => new Promise((r) => setTimeout(() => r(v), ms));
    export default { fetch() { return results({
      'the seventh socket waits for a free one': async () => {
        const sockets = [];
        for (let i = 0; i < 7; i++) sockets.push(connect(REDIS));
        await Promise.all(sockets.slice(0, 6).map((s) => s.opened));
        const before = await Promise.race([sockets[6].opened.then(() => 'opened'), later(300, 'waiting')]);
        sockets[0].close();
        const after = await Promise.race([sockets[6].opened.then(() => 'opened'), later(3000, 'still waiting')]);
        for (const s of sockets) s.close();
        return [before, after];
      },
      'a socket and fetch() share the six': async () => {
        const sockets = [];
        for (let i = 0; i < 6; i++) sockets.push(connect(REDIS));
        await Promise.all(sockets.map((s) => s.opened));
        const response = fetch(`http://127.0.0.1:${REDIS.port}/`).then(() => 'answered', () => 'failed');
        const before = await Promise.race([response, later(300, 'waiting')]);
        for (const s of sockets) s.close();
        return before;
      },
    }); } };
});
is_deeply $c->{'the seventh socket waits for a free one'}, ['waiting', 'opened'],
    'six sockets at once: the seventh opens when one closes';
is $c->{'a socket and fetch() share the six'}, 'waiting', 'six sockets: a fetch() waits too';

$c = checks('limit', q{
    export default { fetch() { return results({
      'the fourth connect() is over dispatch_subrequest_limit 3': () => {
        const made = [];
        try {
          for (let i = 0; i < 4; i++) made.push(connect(REDIS));
        } finally {
          for (const s of made) s.close();
        }
      },
    }); } };
}, path => '/limit3/limit');
like $c->{'the fourth connect() is over dispatch_subrequest_limit 3'}, qr/^threw Error: Too many subrequests: this request has made 3/,
    'each connect() is a subrequest';

$c = checks('loop', q{
    export default { fetch() { return results({
      'connect() in a loop stops at the subrequest limit': () => {
        let n = 0;
        try {
          for (;;) { connect(REDIS); n++; }
        } catch (e) {
          return [n, e.message.slice(0, 20)];
        }
      },
    }); } };
});
is_deeply $c->{'connect() in a loop stops at the subrequest limit'}, [100, 'Too many subrequests'],
    'connect() in a loop: 100, then an Error';

# ---- a socket's life ends with its request's ----

# The Redis clients by name, as the harness's Redis lists them.
sub client_named {
    my ($name) = @_;
    my $list = $t->redis('CLIENT', 'LIST');
    return scalar grep { /\bname=\Q$name\E\b/ } split /\n/, $list;
}
sub gone_within {
    my ($name, $seconds) = @_;
    my $until = time + $seconds;
    while (time < $until) {
        return 1 unless client_named($name);
        sleep 0.05;
    }
    return 0;
}
# A socket that names itself and then blocks (BLPOP a key nobody fills).
my $HOLD = q{
    async function held(name) {
      const socket = connect(REDIS);
      const writer = socket.writable.getWriter();
      const reader = socket.readable.getReader();
      await writer.write(command('CLIENT', 'SETNAME', name));
      await readBytes(reader, 5);
      await writer.write(command('BLPOP', 'sockets:never', '0'));
      return { socket, reader };
    }
};

script('ends', $HOLD . q{
    export default { async fetch() {
      await held('sockets-ends');
      return new Response('held');
    } };
});
is $t->get('/t/ends')->{content}, 'held', 'a script leaves a socket open when it answers';
ok gone_within('sockets-ends', 5), 'the socket closes when its request ends';

script('waits', $HOLD . q{
    export default { async fetch(request, env, ctx) {
      const { socket } = await held('sockets-waits');
      ctx.waitUntil(new Promise((r) => setTimeout(r, 1500)).then(() => socket.close()));
      return new Response('held');
    } };
});
is $t->get('/t/waits')->{content}, 'held', 'a socket in ctx.waitUntil()';
sleep 0.5;
is client_named('sockets-waits'), 1, 'it stays open while the waitUntil work goes on';
ok gone_within('sockets-waits', 5), 'and closes with it';

script('abort', $HOLD . q{
    export default { async fetch() {
      const { reader } = await held('sockets-abort');
      await reader.read();  // never: BLPOP 0 blocks
      return new Response('never');
    } };
});
my $r = $t->request('GET', '/t/abort', timeout => 1);
is $r->{status}, 599, 'the client gives up on a request that waits on its socket';
ok gone_within('sockets-abort', 5), 'the client going away closes the socket';

# ---- a peer that floods, a script that never reads ----

$t->redis('SET', 'sockets:flood', 'z' x (48 << 20));
script('flood', q{
    export default { async fetch() {
      const socket = connect(REDIS);
      const writer = socket.writable.getWriter();
      await writer.write(command('GET', 'sockets:flood'));
      await new Promise((r) => setTimeout(r, 1500));  // not reading
      const { value } = await socket.readable.getReader().read();
      socket.close();
      return new Response(String(value.length > 0));
    } };
});
my ($worker) = $t->worker_pids;
my $before = $t->rss_kb($worker);
is $t->get('/t/flood')->{content}, 'true', 'a script that does not read a 48 MiB reply for 1.5 s';
my $grew = $t->rss_kb($worker) - $before;
cmp_ok $grew, '<', 16 << 10, "the worker did not read it ahead (RSS grew $grew KiB)";
$t->redis('DEL', 'sockets:flood');

# ---- a socket kept past its request ----

script('kept', q{
    let kept = null;
    export default { async fetch() {
      if (kept === null) {
        kept = connect(REDIS);
        await kept.opened;
        return new Response('kept');
      }
      try {
        await kept.writable.getWriter().write(command('PING'));
        return new Response('written');
      } catch (e) {
        return new Response(`${e.name}: ${e.message}`);
      }
    } };
});
is $t->get('/t/kept')->{content}, 'kept', 'a script keeps a socket in a global';
is $t->get('/t/kept')->{content}, 'TypeError: This socket belongs to a request that has ended.',
    'the next request cannot use it: its request ended, and the socket with it';

# ---- a peer that never reads: the writes wait, then the socket fails ----

my $deaf = IO::Socket::INET->new(Listen => 5, LocalAddr => '127.0.0.1', LocalPort => 0, ReuseAddr => 1)
    or die "listen: $!";    # never accepted: the kernel's queue takes what it can, then nothing
my $DEAF = $deaf->sockport;
$c = checks('deaf', qq{ const DEAF = $DEAF; } . q{
    export default { fetch() { return results({
      'writes wait for the peer, then the send timeout fails the socket': async () => {
        const socket = connect({ hostname: '127.0.0.1', port: DEAF });
        const writer = socket.writable.getWriter();
        const chunk = new Uint8Array(1 << 20);
        let written = 0;
        let error;
        const started = Date.now();
        try {
          for (;;) {
            await writer.write(chunk);
            written += chunk.length;
            if (written > (256 << 20)) break;
          }
        } catch (e) {
          error = `${e.name}: ${e.message}`;
        }
        const closed = await socket.closed.then(() => 'resolved', (e) => 'rejected');
        return { bounded: written < (64 << 20), error, closed, waited: Date.now() - started >= 1000 };
      },
    }); } };
});
my $deafness = $c->{'writes wait for the peer, then the send timeout fails the socket'};
is ref $deafness, 'HASH', 'a socket to a peer that never reads' or diag explain $c;
ok $deafness->{bounded}, 'the writes wait: what the script got to write is what the kernel took, not all of it';
like $deafness->{error}, qr/^Error: the peer did not take what the socket wrote within dispatch_fetch_send_timeout/,
    'a write then rejects after dispatch_fetch_send_timeout (1s)';
is $deafness->{closed}, 'rejected', 'and closed rejects';
ok $deafness->{waited}, 'not before a second went by';
close $deaf;

# ---- a socket's buffers count against the isolate's memory ----

my $small = Dispatch::Test->new(
    http => q{
    dispatch_fetch_allow 127.0.0.1/32;
    dispatch_memory_limit 16m;
    dispatch_fetch_connections 16;
    dispatch_subrequest_limit 1000;},
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; } },
);
$small->put_script('tenants', 'budget', $PRELUDE . q{
    export default { fetch() {
      const sockets = [];
      try {
        for (;;) sockets.push(connect(REDIS));
      } catch (e) {
        return Response.json([sockets.length, e.name, e.message.slice(0, 40)]);
      } finally {
        for (const s of sockets) s.close();
      }
    } };
});
for my $round (1, 2) {
    my $got = eval { JSON::PP::decode_json($small->get('/t/budget')->{content}) } || [];
    ok $got->[0] > 10 && $got->[0] < 80, "dispatch_memory_limit 16m bounds the sockets of a request (round $round: $got->[0])";
    is_deeply [ @$got[1, 2] ], ['RangeError', "connect(): a socket's buffers (208 KiB) "], '... with a RangeError';
}
# A closed socket gives its charge back at close(), not at the request's
# end: one request opening and closing 150 sockets in turn (31 MB of
# charges in all, twice the limit) is never refused.
$small->put_script('tenants', 'one-after-another', $PRELUDE . q{
    export default { async fetch() {
      let opened = 0;
      try {
        for (let i = 0; i < 150; i++) {
          const socket = connect(REDIS);
          await socket.opened;
          opened++;
          socket.close();
        }
        return Response.json([opened]);
      } catch (e) {
        return Response.json([opened, e.name, e.message.slice(0, 40)]);
      }
    } };
});
is $small->get('/t/one-after-another')->{content}, '[150]',
    'a request that closes each socket before the next opens 150 of them under 16m';

# A script's share of the worker's connections (a quarter of 16, at least
# 6): one request holds six sockets for a second; the same script's next
# request is refused one, another script is not.
my $ONE = q{
    async function one() {
      const socket = connect(REDIS);
      try {
        await socket.opened;
        return new Response('opened');
      } catch (e) {
        return new Response(`${e.name}: ${e.message}`);
      } finally {
        socket.close();
      }
    }
};
$small->put_script('tenants', 'hog', $PRELUDE . $ONE . q{
    export default { async fetch(request, env, ctx) {
      if (new URL(request.url).search === '?one') return one();
      const sockets = [];
      for (let i = 0; i < 6; i++) sockets.push(connect(REDIS));
      await Promise.all(sockets.map((s) => s.opened));
      ctx.waitUntil(new Promise((r) => setTimeout(r, 1500)).then(() => sockets.forEach((s) => s.close())));
      return new Response('holding 6');
    } };
});
$small->put_script('tenants', 'other', $PRELUDE . $ONE . q{
    export default { fetch() { return one(); } };
});
is $small->get('/t/hog')->{content}, 'holding 6', 'a request holds six sockets past its response';
like $small->get('/t/hog?one')->{content}, qr/^Error: connect\(\): script "tenants\/hog" has 6 outbound connections open in this worker/,
    "the same script's next socket is refused: a script has at most its share of the worker's connections";
is $small->get('/t/other')->{content}, 'opened', 'another script still connects';
sleep 2;
is $small->get('/t/hog?one')->{content}, 'opened', 'once the six closed, the script connects again';
$small->stop;

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;

done_testing;
