#!/usr/bin/perl
# EventSource, as Workers has it: server-sent events read over fetch() from
# a real upstream (Dispatch::TestUpstream plays the server), reconnection
# with Last-Event-ID after `retry` ms, a response that is not an event
# stream failing it for good, and EventSource.from(stream); and
# navigator.sendBeacon, the other global that reaches out by itself.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::TestUpstream;
use JSON::PP qw(decode_json);

my $up = Dispatch::TestUpstream->new(routes => {
    '/sse' => sub {
        my ($self, $req) = @_;
        my $last = $req->{header}{'last-event-id'} // 'none';
        $self->respond(200, 'OK', [ 'Content-Type' => 'text/event-stream; charset=utf-8' ],
            ": a comment\r\nretry: 10\r\nid: 7\r\ndata: last=$last\r\n\r\n"
            . "event: custom\ndata: line1\ndata: line2\n\n"
            . "data:no space\rdata: caf\xc3\xa9\r\r"
            . "data: an event the stream ends inside");
        return 1;
    },
    '/not-sse' => sub {
        my ($self) = @_;
        $self->respond(200, 'OK', [ 'Content-Type' => 'text/plain' ], "data: never\n\n");
        return 1;
    },
});
my $UP = 'http://127.0.0.1:' . $up->port;

my $t = Dispatch::Test->new(
    http   => 'dispatch_fetch_allow 127.0.0.1/32;',
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch_cpu_limit 1s; dispatch api $script; } },
);

my $WAIT = q{
    const until = async (done) => {
      for (let i = 0; i < 300 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    };
};

$t->put_script('api', 'reader', $WAIT . qq{
    export default { async fetch() {
      const es = new EventSource('$UP/sse');
      const seen = [es.readyState, es.url];
      let errors = 0;
      es.onopen = () => seen.push('open ' + es.readyState);
      es.onmessage = (e) => seen.push(['message', e.data, e.lastEventId, e.origin, e instanceof MessageEvent]);
      es.addEventListener('custom', (e) => seen.push(['custom', e.data]));
      es.onerror = () => { seen.push('error ' + es.readyState); if (++errors === 2) es.close(); };
      await until(() => es.readyState === EventSource.CLOSED);
      return Response.json(seen);
    } };
});
my $r = $t->get('/t/reader');
is $r->{status}, 200, 'the EventSource script answers' or diag $r->{content};
my $origin = "http://127.0.0.1:" . $up->port;
is_deeply decode_json($r->{content}), [
    0, "$UP/sse",
    'open 1', ['message', 'last=none', '7', $origin, JSON::PP::true], ['custom', "line1\nline2"],
    ['message', "no space\ncaf\x{e9}", '7', $origin, JSON::PP::true],
    'error 0',
    'open 1', ['message', 'last=7', '7', $origin, JSON::PP::true], ['custom', "line1\nline2"],
 ['message', "no space\ncaf\x{e9}", '7', $origin, JSON::PP::true],
    'error 0',
], 'events and fields as the stream says (CRLF, LF and CR line ends), then a reconnection with Last-Event-ID';
my @sse = grep { $_->{path} eq '/sse' } $up->requests;
is scalar(@sse), 2, 'the upstream saw two connections';
my %first = map { lc $_->[0] => $_->[1] } @{ $sse[0]{headers} };
is $first{accept}, 'text/event-stream', 'asking for an event stream';

# Replaced intrinsics change only the tenant's own code: the runtime's
# request for the stream calls no iterator and no getter of the tenant's.
$t->put_script('api', 'tampered', $WAIT . qq{
    export default { async fetch() {
      const calls = [];
      const names = ['headers', 'method', 'body', 'credentials', 'signal'];
      for (let i = 0; i < names.length; i++) {
        Object.defineProperty(Object.prototype, names[i], { get() { calls.push(names[i]); return undefined; }, configurable: true });
      }
      const iterator = Array.prototype[Symbol.iterator];
      Array.prototype[Symbol.iterator] = function () { calls.push('iterator'); return iterator.call(this); };
      const es = new EventSource('$UP/sse');
      let got = null;
      es.onmessage = (e) => { got = e.data; es.close(); };
      await until(() => got !== null || es.readyState === EventSource.CLOSED);
      navigator.sendBeacon('$UP/echo/tampered-beacon', 'x');
      Array.prototype[Symbol.iterator] = iterator;
      for (let i = 0; i < names.length; i++) delete Object.prototype[names[i]];
      return Response.json({ got, calls });
    } };
});
is_deeply decode_json($t->get('/t/tampered')->{content}), { got => 'last=none', calls => [] },
    'a tenant\'s iterator and Object.prototype getters are not called by EventSource or sendBeacon';

$t->put_script('api', 'notsse', $WAIT . qq{
    export default { async fetch() {
      const es = new EventSource('$UP/not-sse');
      const seen = [];
      es.onopen = () => seen.push('open');
      es.onmessage = () => seen.push('message');
      es.onerror = () => seen.push('error ' + es.readyState);
      await until(() => es.readyState === EventSource.CLOSED);
      await new Promise((resolve) => setTimeout(resolve, 50));
      return Response.json(seen);
    } };
});
is $t->get('/t/notsse')->{content}, '["error 2"]', 'a response that is not text/event-stream fails the connection for good';

$t->put_script('api', 'from', $WAIT . q{
    export default { async fetch() {
      const es = EventSource.from(new Response('data: a\n\nevent: x\ndata: b\r\n\r\n').body);
      const seen = [es.readyState];
      es.onopen = () => seen.push('open');
      es.onmessage = (e) => seen.push(e.data);
      es.addEventListener('x', (e) => seen.push('x:' + e.data));
      es.onerror = () => seen.push('error ' + es.readyState);
      await until(() => es.readyState === EventSource.CLOSED);
      return Response.json(seen);
    } };
});
is $t->get('/t/from')->{content}, '[1,"open","a","x:b","error 2"]', 'EventSource.from reads one stream and closes at its end';

# A fetcher of the script's own whose Response holds a string: its body is
# bytes until asked for, and EventSource failed it as having none.
$t->put_script('api', 'fetcher', $WAIT . q{
    export default { async fetch() {
      const fetcher = { fetch: () => new Response('data: from a string\n\n', { headers: { 'content-type': 'text/event-stream' } }) };
      const es = new EventSource('http://events.example/', { fetcher });
      const seen = [];
      es.onopen = () => seen.push('open');
      es.onmessage = (e) => { seen.push(e.data); es.close(); };
      es.onerror = () => seen.push('error ' + es.readyState);
      await until(() => es.readyState === EventSource.CLOSED);
      return Response.json(seen);
    } };
});
is $t->get('/t/fetcher')->{content}, '["open","from a string"]', 'a fetcher\'s Response made from a string is read as an event stream';

# A line of 4 MB in 4 KiB pieces: each piece scanned once (it was scanned
# again from the line's start at every piece: seconds past the CPU limit).
$t->put_script('api', 'longline', $WAIT . q{
    export default { async fetch() {
      const piece = new TextEncoder().encode('x'.repeat(4096));
      let sent = 0;
      const source = new ReadableStream({ pull(c) {
        if (sent === 0) c.enqueue(new TextEncoder().encode('data: '));
        if (sent++ < 1024) c.enqueue(piece);
        else { c.enqueue(new TextEncoder().encode('\n\n')); c.close(); }
      } });
      const es = EventSource.from(source);
      let length = -1;
      es.onmessage = (e) => { length = e.data.length; };
      await until(() => es.readyState === EventSource.CLOSED);
      return new Response(String(length));
    } };
});
my $long = $t->get('/t/longline');
is "$long->{status} $long->{content}", '200 4194304', 'an event of one 4 MB line in 1024 pieces arrives within the CPU limit';

# An upstream's `retry` of 1e20 ms: a reconnection that never comes while
# the request lives (it was a timer that fired at once, in a loop).
$t->put_script('api', 'hugeretry', $WAIT . q{
    export default { async fetch() {
      let connections = 0;
      const fetcher = { fetch() {
        connections++;
        const body = new Response('retry: 99999999999999999999\ndata: x\n\n').body;
        return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
      } };
      const es = new EventSource('http://events.example/', { fetcher });
      await new Promise((resolve) => setTimeout(resolve, 300));
      es.close();
      return new Response(String(connections));
    } };
});
my $retry = $t->get('/t/hugeretry');
is "$retry->{status} $retry->{content}", '200 1', 'a retry of 1e20 ms does not reconnect at once';

$t->put_script('api', 'beacon', qq{
    export default { fetch() {
      return new Response(String(navigator.sendBeacon('$UP/echo/beacon', 'beacon body 5150')));
    } };
});
is $t->get('/t/beacon')->{content}, 'true', 'navigator.sendBeacon answers true at once';
ok $up->wait_event(sub { $_[0]{ev} eq 'request' && $_[0]{path} eq '/echo/beacon' }, timeout => 5),
    'and its POST reaches the upstream after the response';
my ($beacon) = grep { $_->{path} eq '/echo/beacon' } $up->requests;
is $beacon->{method}, 'POST', 'as a POST';

my $got = $t->run_checks('api', 'esapi', q{
    const name = (f) => { try { f(); return 'no exception'; } catch (e) { return e.name; } };
    export default { fetch: () => results({
      constants: () => [EventSource.CONNECTING, EventSource.OPEN, EventSource.CLOSED, EventSource.prototype.constructor === EventSource],
      errors: () => [name(() => new EventSource('not a url')), name(() => new EventSource()), name(() => EventSource.from({})),
        name(() => new EventSource('http://x/', { fetcher: {} }))],
      tag: () => Object.prototype.toString.call(EventSource.prototype),
    }) };
});
is_deeply $got->{constants}, [0, 1, 2, JSON::PP::true], 'the readyState constants';
is_deeply $got->{errors}, ['SyntaxError', 'TypeError', 'TypeError', 'TypeError'], 'bad arguments are the errors the standard names';
is $got->{tag}, '[object EventSource]', 'its toStringTag';

done_testing;
