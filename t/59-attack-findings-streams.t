#!/usr/bin/perl
# Findings of an attack on request and response bodies as streams (branch
# attack, found on be34c2b). Each case asserts what README.md ("Bodies",
# "Containment") promises and failed on the commit it was found on.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Hostile;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time sleep);

my $t = hostile_server(
    budget => 55,
    http   => "send_timeout 2s; client_body_timeout 2s; dispatch_memory_limit 32m;",
);

# Reads what the server sends on a new connection for $secs seconds (or until
# it closes): (bytes, whether the server closed the connection).
sub read_for {
    my ($req, $secs) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port,
                                  Proto => 'tcp', Timeout => 5) or return ('', 0);
    binmode $s;
    print $s $req;
    my $sel = IO::Select->new($s);
    my ($raw, $closed) = ('', 0);
    my $end = time + $secs;
    while ((my $left = $end - time) > 0) {
        last unless $sel->can_read($left);
        my $n = sysread($s, $raw, 65536, length $raw);
        if (!$n) { $closed = 1; last }
    }
    close $s;
    return ($raw, $closed);
}

# ---------------------------------------------------------------------------
# 1. "dispatch_wall_limit stops at the Response; after that the body is
# bounded by the request's dispatch_cpu_limit and nginx's send_timeout."
# A stream whose pull never settles uses no CPU and sends nothing, so
# neither bounds it: the connection, the request and its isolate (a
# dispatch_script_concurrency slot, the isolate's memory, an old version
# kept alive) are held for as long as the client stays - forever. A tenant
# with a client of its own pins worker memory that way without limit.
hostile_case($t, 'a response stream that never produces more is cut within send_timeout',
    js => q{
        export default { fetch() {
          return new Response(new ReadableStream({
            start(c) { c.enqueue(new TextEncoder().encode('first')); },
            pull() { return new Promise(() => {}); },
          }));
        } };
    },
    timeout => 12,
    check => sub {
        my ($r) = @_;
        # (raw_request reads until the server closes, or 12s)
        cmp_ok $r->{elapsed}, '<', 8, 'the server closes the connection within send_timeout (2s) and some slack';
        like $r->{raw}, qr/^HTTP\/1\.1 200 .*\r\n\r\n5\r\nfirst\r\n\z/s,
            'the client got what came before, cut short (no last chunk)';
        my (undef, $t, $slug) = @_;
        like $t->error_log, qr/"tenants\/\Q$slug\E": the response body stream produced nothing for send_timeout/,
            'the error log names the script and why';
    });

hostile_case($t, 'a response stream that only ever yields empty pieces, slowly, is cut within send_timeout',
    js => q{
        export default { fetch() {
          return new Response(new ReadableStream({
            pull(c) { return new Promise(r => setTimeout(() => { c.enqueue(new Uint8Array(0)); r(); }, 300)); },
          }));
        } };
    },
    timeout => 12,
    check => sub {
        my ($r) = @_;
        cmp_ok $r->{elapsed}, '<', 8, 'the server closes the connection within send_timeout (2s) and some slack';
    });

hostile_case($t, 'a stream that keeps producing, more slowly than send_timeout, is not cut',
    js => q{
        export default { fetch() {
          let i = 0;
          return new Response(new ReadableStream({
            pull(c) { return new Promise(r => setTimeout(() => {
              if (i++ < 6) c.enqueue(new TextEncoder().encode('tick\n')); else c.close(); r(); }, 500)); },
          }));
        } };
    },
    timeout => 12,
    expect => [[200, "tick\n" x 6]]);

# ---------------------------------------------------------------------------
# 2. "Its status and headers go out as soon as the handler returns its
# Response": they wait in nginx's buffer for the first piece of the body, so
# a stream whose first piece comes later (an event stream, a long poll) has
# its client waiting for the headers too; a stream that fails before its
# first piece gives the client an empty reply instead of a cut-short one.
hostile_case($t, 'a streamed response\'s status and headers reach the client before its first piece',
    js => q{
        export default { fetch() {
          return new Response(new ReadableStream({
            pull(c) { return new Promise(r => setTimeout(() => { c.enqueue(new Uint8Array([65])); c.close(); r(); }, 1500)); },
          }), { headers: { 'x-early': 'yes' } });
        } };
    },
    check => sub {
        my ($r, $t, $slug) = @_;
        my ($raw) = read_for("GET /t/$slug HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 1);
        like $raw, qr/^HTTP\/1\.1 200 .*\r\nx-early: yes\r\n/s,
            'the headers arrived within 1s, before the first piece (1.5s)'
            or diag('got ' . length($raw) . ' bytes');
    });

# ---------------------------------------------------------------------------
# 3. "Reading a body of known length whole (arrayBuffer(), text(), ...) that
# does not fit is a RangeError before a byte is read": the buffer for the
# whole Content-Length is taken from the script's dispatch_memory_limit when
# the read starts, before the bytes come. A client that announces bodies
# under client_max_body_size and sends one byte of each holds that memory
# for client_body_timeout (each byte restarts it): 40 such connections, 40
# bytes sent, take the whole 32m of a script, and every real upload to it
# fails with a RangeError (allocations in JavaScript meanwhile would be
# stopped as exceeded_memory, an offence of the script's).
hostile_case($t, 'clients that announce bodies and send nothing cannot take a script\'s memory from real uploads',
    js => q{
        export default { async fetch(req) {
          try { return new Response('len ' + (await req.arrayBuffer()).byteLength); }
          catch (e) { return new Response(String(e), { status: 500 }); }
        } };
    },
    setup => sub {
        my ($t, $slug) = @_;
        $t->request('GET', "/t/$slug");    # the isolate is up
        our @held = map {
            my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port, Proto => 'tcp', Timeout => 5);
            print $s "POST /t/$slug HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nx" if $s;
            $s ? ($s) : ();
        } 1 .. 40;
        sleep 0.5;
    },
    request => { method => 'POST', content => 'a' x 900000 },
    timeout => 10,
    expect => [[200, 'len 900000']],
    check => sub { our @held; close $_ for @held; @held = () });

done_testing;
