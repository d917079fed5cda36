package Dispatch::WebSocket;

# A small WebSocket client for the tests (t/63-websocket*.t): RFC 6455 over
# a real socket, frames masked as a client must (or not, to test that the
# server refuses them), written and read byte by byte as they go.

use strict;
use warnings;

use Exporter 'import';
use IO::Select;
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64);
use Time::HiRes qw(time);

our @EXPORT = qw(ws_open ws_send ws_recv ws_eof frame close_code ws_past_cpu);

# Connects to 127.0.0.1:PORT and sends the handshake for PATH (without the
# upgrade headers with plain => 1; `headers`: more header lines; `after`:
# bytes sent in the same write; `version`: the HTTP version). Returns { s, head, status, key, buf }.
sub ws_open {
    my ($port, $path, %o) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp')
        or die "connect: $!";
    my $key = encode_base64(join('', map { chr int rand 256 } 1 .. 16), '');
    my $head = "GET $path HTTP/" . ($o{version} // '1.1') . "\r\nHost: localhost\r\n";
    $head .= "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: $key\r\n"
           . "Sec-WebSocket-Version: 13\r\n" unless $o{plain};
    $head .= $o{headers} // '';
    syswrite $s, "$head\r\n" . ($o{after} // '');
    my $c = { s => $s, buf => '', key => $key };
    my $deadline = time + 5;
    while ($c->{buf} !~ /\r\n\r\n/) {
        last unless _fill($c, $deadline);
    }
    my $i = index($c->{buf}, "\r\n\r\n");
    $c->{head} = $i >= 0 ? substr($c->{buf}, 0, $i + 4, '') : $c->{buf};
    ($c->{status}) = $c->{head} =~ m{^HTTP/1\.[01] (\d+)};
    $c->{status} //= 0;
    return $c;
}

sub _fill {
    my ($c, $deadline) = @_;
    my $left = $deadline - time;
    return 0 if $left <= 0;
    return 0 unless IO::Select->new($c->{s})->can_read($left);
    my $n = sysread $c->{s}, my $more, 65536;
    return 0 unless $n;
    $c->{buf} .= $more;
    return 1;
}

# One frame: OPCODE and PAYLOAD; fin (default 1), masked (default 1), rsv
# (bits 4-6 of the first byte).
sub frame {
    my ($op, $payload, %o) = @_;
    my $fin = $o{fin} // 1;
    my $masked = $o{masked} // 1;
    my $len = length $payload;
    my $f = chr(($fin ? 0x80 : 0) | (($o{rsv} // 0) << 4) | $op);
    my $m = $masked ? 0x80 : 0;
    $f .= $len < 126 ? chr($m | $len)
        : $len < 65536 ? chr($m | 126) . pack('n', $len)
        : chr($m | 127) . pack('Q>', $len);
    return $f . $payload unless $masked;
    my $mask = join '', map { chr int rand 256 } 1 .. 4;
    return $f . $mask . ($payload ^ substr($mask x (int($len / 4) + 1), 0, $len));
}

sub ws_send { my ($c, @f) = @_; syswrite $c->{s}, frame(@f) }

# The next frame as [opcode, payload, fin, masked], or [] at EOF or after
# TIMEOUT seconds (default 3).
sub ws_recv {
    my ($c, $timeout) = @_;
    my $deadline = time + ($timeout // 3);
    for (;;) {
        my $b = $c->{buf};
        if (length $b >= 2) {
            my ($b0, $b1) = unpack 'CC', $b;
            my $len = $b1 & 0x7f;
            my $at = 2;
            if ($len == 126) { $len = length $b >= 4 ? unpack('n', substr $b, 2, 2) : undef; $at = 4 }
            elsif ($len == 127) { $len = length $b >= 10 ? unpack('Q>', substr $b, 2, 8) : undef; $at = 10 }
            if (defined $len && length $b >= $at + $len) {
                substr($c->{buf}, 0, $at + $len, '');
                return [$b0 & 0x0f, substr($b, $at, $len), $b0 & 0x80, $b1 & 0x80];
            }
        }
        return [] unless _fill($c, $deadline);
    }
}

# A Close frame's code, or undef.
sub close_code { my ($f) = @_; return defined $f->[1] && length $f->[1] >= 2 ? unpack('n', $f->[1]) : undef }

# Whether the server closed the connection (EOF) within TIMEOUT seconds
# (default 5); what comes before is read and dropped.
sub ws_eof {
    my ($c, $timeout) = @_;
    my $deadline = time + ($timeout // 5);
    while (time < $deadline) {
        return 0 unless IO::Select->new($c->{s})->can_read($deadline - time);
        my $n = sysread $c->{s}, my $more, 65536;
        return 1 if !$n;
    }
    return 0;
}

# CPU per event: n iterations, doubled from 100000, until 6n in one
# message is past the CPU an event may have (the socket closes). OPEN gives
# a new connection to a script that loops as many times as MESSAGE(count)
# says. Returns n and the close code (undef: never closed).
sub ws_past_cpu {
    my ($open, $message) = @_;
    my $n = 100000;
    while ($n < 1e10) {
        my $c = $open->();
        last if $c->{status} != 101;
        ws_send($c, 1, $message->(6 * $n));
        my $f = ws_recv($c, 10);
        return ($n, close_code($f)) if ($f->[0] // -1) == 8;
        close $c->{s};
        $n *= 2;
    }
    return ($n, undef);
}

1;
