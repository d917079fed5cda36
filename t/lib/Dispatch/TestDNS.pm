package Dispatch::TestDNS;

# A DNS server for tests: answers A and AAAA queries over UDP on a loopback
# port from a fixed table, so that nginx's `resolver 127.0.0.1:PORT` gives
# the names a test wants, and never asks anything outside. Perl core only.
#
#   my $dns = Dispatch::TestDNS->new(records => {
#       'localhost'      => ['127.0.0.1'],
#       'mixed.test'     => ['8.8.8.8', '127.0.0.1'],
#       'v6.test'        => ['::1'],
#   });
#   "resolver 127.0.0.1:" . $dns->port . " valid=1s;"
#   $dns->set('rebind.test' => ['127.0.0.1']);   # from the next query on
#   $dns->queries       # [name, type] of every query so far, oldest first
#   $dns->stop          # (also when the object goes away)
#
# A name in the table gets its addresses of the asked type (possibly none:
# NOERROR with an empty answer); any other name NXDOMAIN. Names match
# without regard to case or a trailing dot. TTL: `ttl` (default 1 s). The
# socket is bound before the fork, so the port is taken when new returns; the
# test stops the server by its PID, and it exits by itself when the test
# process is gone.

use strict;
use warnings;

use Carp qw(croak);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::IP;
use JSON::PP ();
use POSIX qw(WNOHANG);
use Socket qw(inet_pton AF_INET AF_INET6);
use Time::HiRes qw(time sleep);

my $JSON = JSON::PP->new->canonical->utf8;

sub new {
    my ($class, %a) = @_;
    my $addr = defined $a{addr} ? $a{addr} : '127.0.0.1';
    my $dir  = tempdir('dispatch-dns-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $s = IO::Socket::IP->new(LocalHost => $addr, LocalPort => $a{port} || 0, Proto => 'udp')
        or croak "Dispatch::TestDNS: cannot bind udp $addr: $@";
    my $self = bless { addr => $addr, port => $s->sockport, dir => $dir, owner => $$,
                       ttl => defined $a{ttl} ? $a{ttl} : 1 }, $class;
    $self->_write_table($a{records} || {});
    open my $fh, '>', "$dir/log" or croak "$dir/log: $!";
    close $fh;
    my $pid = fork;
    croak "Dispatch::TestDNS: fork: $!" unless defined $pid;
    if ($pid == 0) {
        $SIG{TERM} = sub { POSIX::_exit(0) };
        eval { $self->_loop($s) };
        POSIX::_exit(0);
    }
    close $s;
    $self->{pid} = $pid;
    return $self;
}

sub port { $_[0]{port} }
sub pid  { $_[0]{pid} }

# the nginx directive that names this server
sub resolver_directive {
    my ($self, $valid) = @_;
    return "resolver $self->{addr}:$self->{port} valid=" . (defined $valid ? $valid : '1s')
         . " ipv6=on;\n    resolver_timeout 2s;";
}

sub _write_table {
    my ($self, $records) = @_;
    my %t = map { (lc($_) =~ s/\.$//r) => $records->{$_} } keys %$records;
    $self->{records} = \%t;
    my $tmp = "$self->{dir}/records.json.tmp";
    open my $fh, '>', $tmp or croak "$tmp: $!";
    print {$fh} $JSON->encode(\%t);
    close $fh;
    rename $tmp, "$self->{dir}/records.json" or croak "rename: $!";
}

# changes (or adds) names; the next query sees them
sub set {
    my ($self, %records) = @_;
    $self->_write_table({ %{ $self->{records} }, %records });
}

sub queries {
    my ($self) = @_;
    open my $fh, '<', "$self->{dir}/log" or return ();
    my @q;
    while (my $l = <$fh>) { chomp $l; push @q, [ split /\t/, $l ] }
    return @q;
}

sub stop {
    my ($self) = @_;
    return unless $$ == $self->{owner};
    my $pid = delete $self->{pid} or return;
    kill 'TERM', $pid;
    my $end = time + 5;
    while (time < $end) {
        my $r = waitpid($pid, WNOHANG);
        return if $r == $pid || $r == -1;
        sleep 0.02;
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
}

sub DESTROY { local ($?, $!, $@); $_[0]->stop }

# ---------------------------------------------------------------------------

sub _loop {
    my ($self, $s) = @_;
    my $sel = IO::Select->new($s);
    while (1) {
        POSIX::_exit(0) if getppid() != $self->{owner};
        next unless $sel->can_read(0.2);
        my $peer = $s->recv(my $q, 4096) or next;
        my $answer = eval { $self->_answer($q) } or next;
        $s->send($answer, 0, $peer);
    }
}

my %TYPE = (1 => 'A', 28 => 'AAAA', 5 => 'CNAME', 15 => 'MX', 16 => 'TXT', 33 => 'SRV', 65 => 'HTTPS');

sub _answer {
    my ($self, $q) = @_;
    return undef if length $q < 12;
    my ($id, $flags, $qd) = unpack 'n n n', $q;
    return undef if $flags & 0x8000 || $qd != 1;    # answers, or not one question
    my $off = 12;
    my @labels;
    while (1) {
        return undef if $off >= length $q;
        my $len = ord substr($q, $off, 1);
        $off++;
        last if $len == 0;
        return undef if $len > 63;
        push @labels, substr($q, $off, $len);
        $off += $len;
    }
    return undef if $off + 4 > length $q;
    my ($qtype, $qclass) = unpack 'n n', substr($q, $off, 4);
    my $question = substr($q, 12, $off + 4 - 12);
    my $name = lc join '.', @labels;

    my $table = eval {
        open my $fh, '<', "$self->{dir}/records.json" or die;
        local $/;
        $JSON->decode(scalar <$fh>);
    } || {};
    if (open my $log, '>>', "$self->{dir}/log") {
        syswrite $log, join("\t", $name, $TYPE{$qtype} || $qtype) . "\n";
        close $log;
    }

    my $rd = $flags & 0x0100;
    my ($rcode, @rr) = (0);
    if (!exists $table->{$name}) {
        $rcode = 3;    # NXDOMAIN
    } elsif ($qclass == 1) {
        for my $a (@{ $table->{$name} }) {
            if ($qtype == 1 && $a !~ /:/) {
                push @rr, pack('n n n N n', 0xC00C, 1, 1, $self->{ttl}, 4) . inet_pton(AF_INET, $a);
            } elsif ($qtype == 28 && $a =~ /:/) {
                push @rr, pack('n n n N n', 0xC00C, 28, 1, $self->{ttl}, 16) . inet_pton(AF_INET6, $a);
            }
        }
    }
    # QR, AA, RD as asked, RA
    my $rflags = 0x8000 | 0x0400 | $rd | 0x0080 | $rcode;
    return pack('n n n n n n', $id, $rflags, 1, scalar @rr, 0, 0) . $question . join('', @rr);
}

1;
