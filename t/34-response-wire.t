#!/usr/bin/perl
# What reaches the wire from a script's Response (SPEC 5, dispatch_engine.h
# response contract): nginx frames the body and runs the connection, so the
# hop-by-hop and framing headers a script sets never reach the client, while
# ordinary headers do. Read with a raw socket: an HTTP client would merge or
# hide what is on the wire. And a console line about a request carries that
# request's client and request line, like nginx's own error log lines.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use IO::Socket::INET;

my $t = Dispatch::Test->new(
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch wire $script; } },
);

my @workers = sort $t->worker_pids;

# the whole response as bytes, head and body apart
sub raw_get {
    my ($path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port,
                                  Proto => 'tcp', Timeout => 10)
        or die "connect: $!";
    binmode $s;
    print $s "GET $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    local $/;
    my $raw = <$s>;
    close $s;
    my ($head, $body) = split /\r\n\r\n/, $raw // '', 2;
    return ($head // '', $body);
}

sub same_workers_no_alerts {
    my ($what) = @_;
    is_deeply [sort $t->worker_pids], \@workers, "$what: the same worker processes are alive";
    is scalar($t->error_log_alerts), 0, "$what: no alerts or crashes in the error log"
        or diag join "\n", $t->error_log_alerts;
}

# ---- hop-by-hop and framing headers stay off the wire ----

$t->put_script('wire', 'hop', q{
    export default {
      fetch() {
        const h = new Headers();
        h.set('Connection', 'evil');
        h.set('Keep-Alive', 'x');
        h.set('Upgrade', 'websocket');
        h.set('TE', 'trailers');
        h.set('Trailer', 'x');
        h.set('Proxy-Foo', '1');
        h.set('Proxy-Authenticate', 'y');
        h.set('Transfer-Encoding', 'chunked');
        h.set('X-Ok', '1');
        return new Response('wire body\n', { headers: h });
      }
    };
});

my ($head, $body) = raw_get('/t/hop');
like $head, qr{\AHTTP/1\.1 200 }, 'the script answered' or diag $head;
like $head, qr{^X-Ok: 1\r?$}mi, 'an ordinary header passes';
unlike $head, qr{^Connection:[ \t]*evil}mi, "the script's Connection is not on the wire";
unlike $head, qr{\bevil\b}i, 'nor its value anywhere in the head';
unlike $head, qr{^Keep-Alive:}mi, 'no Keep-Alive';
unlike $head, qr{^Upgrade:}mi, 'no Upgrade';
unlike $head, qr{^TE:}mi, 'no TE';
unlike $head, qr{^Trailer:}mi, 'no Trailer';
unlike $head, qr{^Proxy-}mi, 'no Proxy-* header (Proxy-Foo, Proxy-Authenticate)';
unlike $head, qr{^Transfer-Encoding:}mi, 'no Transfer-Encoding: nginx frames the body';
like $head, qr{^Content-Length: 10\r?$}mi, "nginx's Content-Length frames the body";
is $body, "wire body\n", 'the body arrives whole, unchunked';
same_workers_no_alerts('hop-by-hop headers');

# ---- a console line names its request ----

$t->put_script('wire', 'logline', q{
    export default {
      fetch() { console.log('wire-log-marker'); return new Response('logged\n'); }
    };
});

($head, $body) = raw_get('/t/logline');
like $head, qr{\AHTTP/1\.1 200 }, 'the logging script answered';
my ($line) = grep { /wire-log-marker/ } split /\n/, $t->error_log;
ok defined $line, 'the console line is in the error log' or diag $t->error_log;
{
    # the engine names the request it logs for; nginx adds its context
    like $line // '', qr{client: 127\.0\.0\.1\b}, 'the line names the client';
    like $line // '', qr{request: "GET /t/logline HTTP/1\.1"}, 'the line names the request line';
}
same_workers_no_alerts('console line');

# ---- nobody writes a line of their own into the error log ----

# a client-chosen name: the location captures the decoded URI, %0A and all
($head, $body) = raw_get('/t/x%0A2026/01/01%2000:00:00%20FORGED-BY-CLIENT');
like $head, qr{\AHTTP/1\.1 404 }, 'a name with a newline in it is not found';
unlike $t->error_log, qr/^2026\/01\/01 00:00:00 FORGED-BY-CLIENT/m,
    'and the newline a client put in it starts no line of its own in the error log';

# a script's text: control bytes are written as \xNN, newlines fold into "; "
$t->put_script('wire', 'ctl', q{
    export default {
      fetch() {
        try { throw new Error('a\u0000b\u001b[31mred\n2026/01/01 00:00:00 FORGED-BY-SCRIPT'); }
        catch (e) { console.error(e.message); }
        throw new Error('again\u0007');
      }
    };
});
($head, $body) = raw_get('/t/ctl');
like $head, qr{\AHTTP/1\.1 500 }, 'the script throws: 500';
my $log = $t->error_log;
unlike $log, qr/^2026\/01\/01 00:00:00 FORGED-BY-SCRIPT/m, 'a script cannot start a line of its own';
unlike $log, qr/[\x00\x07\x1b]/, 'no NUL, BEL or ESC byte reaches the error log';
like $log, qr/again\\x07/, 'control bytes are written as \\xNN';
same_workers_no_alerts('log injection');

# A header value with a control byte the Fetch Standard allows (0x01, DEL)
# is not HTTP: that header is left out (and logged), the rest go; a tab is
# text.
$t->put_script('wire', 'ctlvalue', q{
    export default {
      fetch() {
        return new Response('ok', { headers: { 'x-soh': 'a\x01b', 'x-del': 'a\x7fb', 'x-tab': 'a\tb', 'x-plain': 'fine' } });
      }
    };
});
($head, $body) = raw_get('/t/ctlvalue');
like $head, qr{\AHTTP/1\.1 200 }, 'a control byte in a header value does not fail the response';
unlike $head, qr{^X-(Soh|Del):}mi, 'the headers holding 0x01 and DEL are left out';
like $head, qr{^X-Tab: a\tb\r?$}mi, 'a tab goes as it is';
like $head, qr{^X-Plain: fine\r?$}mi, 'the other headers go';
ok $t->wait_for(sub { $t->error_log =~ /response header "x-del" dropped: a control character in the value/ }),
    'the error log says which header was left out and why';
same_workers_no_alerts('control bytes in header values');

done_testing;
