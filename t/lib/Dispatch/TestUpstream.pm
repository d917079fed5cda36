package Dispatch::TestUpstream;

# A small HTTP/1.1 server in Perl, the upstream for the fetch() tests where
# nginx cannot play it: an echo of exactly what arrived on the wire, answers
# that are slow or stall, deflate bodies, a body dripped on cue. Perl core
# modules only.
#
#   my $up = Dispatch::TestUpstream->new;                 # 127.0.0.1, a free port
#   my $up = Dispatch::TestUpstream->new(addr => '::1', port => 8080);
#   $up->url('/echo')            # http://127.0.0.1:PORT/echo
#   $up->requests                # every request it received, oldest first
#   $up->accepts                 # how many connections it accepted
#   $up->stop                    # (also when the object goes away)
#
# One listening process (forked; the socket is bound before the fork, so the
# port is known and taken when new returns), one child per connection, which
# serves requests on it until the client closes (keep-alive) or 15 s idle.
# Every accept, request and close is a JSON line in $up->dir/log. The test
# stops the listener by its PID; the listener stops its children by theirs,
# and exits by itself when the test process is gone.
#
# Routes (the query string is ignored where not named):
#   /echo...               200, JSON of the request: method, target, path,
#                          version, headers ([name, value] as sent, in order),
#                          header (lower-case name => value, repeated joined
#                          by ", "), length, sha256, chunked (the body came
#                          chunked), body_b64 (the first MB; not with
#                          ?nobody), conn (the serving child's PID: one
#                          per connection)
#   /status/CODE?reason=R  CODE with reason phrase R (default "Custom"),
#                          X-Single: one, X-Multi: a, X-Multi: b,
#                          Content-Type: text/plain, body "status body"
#   /redirect/CODE?to=URL  CODE with Location: URL (default /echo)
#   /chain/N               N > 0: 302 to /chain/N-1; /chain/0: 200 "end of chain"
#   /slow?ms=N             waits N ms (default 5000), then 200 "slow"
#   /hang-headers          never answers; logs "peer-closed" (with `after`,
#                          seconds) when the client goes away, or gives up
#                          after 10 s
#   /hang-body             200 with Content-Length: 1000000, sends 1000 bytes
#                          of "x", then as /hang-headers
#   /gzip, /deflate        TEXT (below) with Content-Encoding gzip / deflate
#                          (zlib format, RFC 9110), X-Seen-Accept-Encoding
#   /deflate-raw           the same as raw DEFLATE (what some servers send)
#   /drip?id=ID            chunked: "first;" at once, then waits (at most
#                          5 s) until /ack?id=ID was requested, then
#                          "last:acked" (or "last:timeout") and the end
#   /ack?id=ID             200 "ok"; releases /drip?id=ID
#   /close                 200 "bye" with Connection: close
#   other                  404

use strict;
use warnings;

use Carp qw(croak);
use Digest::SHA;
use Errno qw(EINTR EAGAIN);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::IP;
use JSON::PP ();
use MIME::Base64 qw(encode_base64);
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);

our $TEXT = join '', map { "line $_: the quick brown fox jumps over the lazy dog\n" } 1 .. 400;

my $JSON = JSON::PP->new->canonical->utf8;

sub new {
    my ($class, %a) = @_;
    my $addr = defined $a{addr} ? $a{addr} : '127.0.0.1';
    my $dir  = $a{dir} || tempdir('dispatch-upstream-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $ls = IO::Socket::IP->new(LocalHost => $addr, LocalPort => $a{port} || 0,
                                 Listen => 128, ReuseAddr => 1, Proto => 'tcp')
        or croak "Dispatch::TestUpstream: cannot listen on $addr:" . ($a{port} || 0) . ": $@";
    my $self = bless {
        addr  => $addr,
        port  => $ls->sockport,
        dir   => $dir,
        owner => $$,
        routes => $a{routes} || {},
    }, $class;
    open my $fh, '>', "$dir/log" or croak "Dispatch::TestUpstream: $dir/log: $!";
    close $fh;
    my $pid = fork;
    croak "Dispatch::TestUpstream: fork: $!" unless defined $pid;
    if ($pid == 0) {
        eval { $self->_listen_loop($ls) };
        POSIX::_exit(0);
    }
    close $ls;
    $self->{pid} = $pid;
    return $self;
}

sub port { $_[0]{port} }
sub pid  { $_[0]{pid} }
sub dir  { $_[0]{dir} }

sub host_port {
    my ($self) = @_;
    return $self->{addr} =~ /:/ ? "[$self->{addr}]:$self->{port}" : "$self->{addr}:$self->{port}";
}

sub url {
    my ($self, $path) = @_;
    return 'http://' . $self->host_port . (defined $path ? $path : '/');
}

# every logged event, oldest first: { t, ev => accept|request|peer-closed|close, conn, ... }
sub events {
    my ($self) = @_;
    open my $fh, '<', "$self->{dir}/log" or return ();
    my @e;
    while (my $l = <$fh>) {
        chomp $l;
        my $e = eval { $JSON->decode($l) } or next;
        push @e, $e;
    }
    return @e;
}

sub requests { my ($self) = @_; return grep { $_->{ev} eq 'request' } $self->events }
sub accepts  { my ($self) = @_; my @a = grep { $_->{ev} eq 'accept' } $self->events; return scalar @a }

# the requests whose target matches RE
sub requests_for {
    my ($self, $re) = @_;
    return grep { $_->{target} =~ $re } $self->requests;
}

# waits (at most `timeout` s, default 5) until an event satisfies CB; returns it
sub wait_event {
    my ($self, $cb, %o) = @_;
    my $end = time + (defined $o{timeout} ? $o{timeout} : 5);
    while (1) {
        for my $e ($self->events) { return $e if $cb->($e) }
        return undef if time >= $end;
        sleep 0.05;
    }
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
# the listening process

sub _log {
    my ($self, %e) = @_;
    $e{t} = time;
    $e{conn} = $$ unless exists $e{conn};
    my $line = $JSON->encode(\%e) . "\n";
    if (open my $fh, '>>', "$self->{dir}/log") {
        syswrite $fh, $line;
        close $fh;
    }
}

sub _listen_loop {
    my ($self, $ls) = @_;
    my %kids;
    my $stop = sub { kill 'TERM', keys %kids if %kids; POSIX::_exit(0) };
    $SIG{TERM} = $stop;
    $SIG{INT}  = $stop;
    $SIG{PIPE} = 'IGNORE';
    my $sel = IO::Select->new($ls);
    while (1) {
        while ((my $k = waitpid(-1, WNOHANG)) > 0) { delete $kids{$k} }
        $stop->() if getppid() != $self->{owner};
        next unless $sel->can_read(0.2);
        my $c = $ls->accept or next;
        my $pid = fork;
        if (!defined $pid) { close $c; next }
        if ($pid == 0) {
            $SIG{TERM} = 'DEFAULT';
            $SIG{INT}  = 'DEFAULT';
            close $ls;
            alarm 120;    # nothing outlives a test
            eval { $self->_serve($c) };
            $self->_log(ev => 'error', error => "$@") if $@;
            POSIX::_exit(0);
        }
        $kids{$pid} = 1;
        close $c;
    }
}

# ---------------------------------------------------------------------------
# one connection

sub _serve {
    my ($self, $c) = @_;
    binmode $c;
    $self->{c}   = $c;
    $self->{buf} = '';
    $self->_log(ev => 'accept', peer => $c->peerhost . ':' . $c->peerport,
                local => $c->sockhost . ':' . $c->sockport);
    while (1) {
        my $req = $self->_read_request;
        if (!$req) {
            $self->_log(ev => 'close', by => 'client');
            return;
        }
        my $keep = $self->_route($req);
        if (!$keep || ($req->{header}{connection} || '') =~ /close/i || $req->{version} eq 'HTTP/1.0') {
            $self->_log(ev => 'close', by => 'server');
            close $c;
            return;
        }
    }
}

# more bytes into $self->{buf}; 0 at EOF or after $timeout s
sub _fill {
    my ($self, $timeout) = @_;
    my $sel = IO::Select->new($self->{c});
    return 0 unless $sel->can_read($timeout);
    my $n = sysread($self->{c}, $self->{buf}, 262144, length $self->{buf});
    return 0 unless $n;
    return $n;
}

sub _read_request {
    my ($self) = @_;
    my $i;
    while (($i = index($self->{buf}, "\r\n\r\n")) < 0) {
        return undef if length $self->{buf} > 65536;
        return undef unless $self->_fill(15);
    }
    my $head = substr($self->{buf}, 0, $i);
    substr($self->{buf}, 0, $i + 4, '');
    my ($line, @lines) = split /\r\n/, $head;
    my ($method, $target, $version) = $line =~ m{^(\S+) (\S+) (HTTP/\d\.\d)$} or return undef;
    my (@headers, %header);
    for my $l (@lines) {
        my ($k, $v) = $l =~ /^([^:\s]+):[ \t]*(.*?)[ \t]*$/ or next;
        push @headers, [ $k, $v ];
        my $lk = lc $k;
        $header{$lk} = exists $header{$lk} ? "$header{$lk}, $v" : $v;
    }
    my ($path, $query) = $target =~ /^([^?]*)(?:\?(.*))?$/;
    my %q;
    for (split /&/, defined $query ? $query : '') {
        my ($k, $v) = split /=/, $_, 2;
        $v = '' unless defined $v;
        s/%([0-9a-fA-F]{2})/chr hex $1/ge, tr/+/ / for $k, $v;
        $q{$k} = $v;
    }
    my $req = { method => $method, target => $target, path => $path, query => \%q,
                version => $version, headers => \@headers, header => \%header };
    my $sha = Digest::SHA->new(256);
    my ($len, $keep) = (0, '');
    my $take = sub {
        my ($n) = @_;
        my $piece = substr($self->{buf}, 0, $n, '');
        $sha->add($piece);
        $len += length $piece;
        $keep .= $piece if length $keep < 1048576;
    };
    if (($header{'transfer-encoding'} || '') =~ /chunked/i) {
        $req->{chunked} = JSON::PP::true;
        while (1) {
            my $j;
            while (($j = index($self->{buf}, "\r\n")) < 0) { return undef unless $self->_fill(15) }
            my ($size) = substr($self->{buf}, 0, $j) =~ /^([0-9a-fA-F]+)/ or return undef;
            substr($self->{buf}, 0, $j + 2, '');
            $size = hex $size;
            if ($size == 0) {
                # trailers, then the empty line
                while (1) {
                    while (($j = index($self->{buf}, "\r\n")) < 0) { return undef unless $self->_fill(15) }
                    my $t = substr($self->{buf}, 0, $j + 2, '');
                    last if $t eq "\r\n";
                }
                last;
            }
            while ($size > 0) {
                $self->_fill(15) or return undef unless length $self->{buf};
                my $n = length $self->{buf} < $size ? length $self->{buf} : $size;
                $take->($n);
                $size -= $n;
            }
            while (length $self->{buf} < 2) { return undef unless $self->_fill(15) }
            substr($self->{buf}, 0, 2, '');
        }
    } elsif (defined $header{'content-length'}) {
        my $size = $header{'content-length'};
        return undef unless $size =~ /^\d+$/;
        while ($size > 0) {
            $self->_fill(15) or return undef unless length $self->{buf};
            my $n = length $self->{buf} < $size ? length $self->{buf} : $size;
            $take->($n);
            $size -= $n;
        }
    }
    $req->{chunked} ||= JSON::PP::false;
    $req->{length}   = $len;
    $req->{sha256}   = $sha->hexdigest;
    $req->{body}     = $keep;
    $self->_log(ev => 'request', method => $method, target => $target, path => $path,
                headers => \@headers, length => $len, sha256 => $req->{sha256},
                chunked => $req->{chunked}, body_b64 => encode_base64(substr($keep, 0, 65536), ''));
    return $req;
}

sub _write {
    my ($self, $data) = @_;
    my $off = 0;
    while ($off < length $data) {
        my $n = syswrite($self->{c}, $data, length($data) - $off, $off);
        if (!defined $n) {
            next if $! == EINTR || $! == EAGAIN;
            die "write: $!\n";
        }
        $off += $n;
    }
}

# a whole response; HEADERS is [name, value, name, value, ...]
sub respond {
    my ($self, $status, $reason, $headers, $body) = @_;
    $body = '' unless defined $body;
    my $out = "HTTP/1.1 $status $reason\r\n";
    my @h = @{ $headers || [] };
    my $has_len;
    while (my ($k, $v) = splice @h, 0, 2) {
        $has_len = 1 if lc $k eq 'content-length';
        $out .= "$k: $v\r\n";
    }
    $out .= 'Content-Length: ' . length($body) . "\r\n" unless $has_len;
    $out .= "\r\n" . $body;
    $self->_write($out);
}

# waits (at most $timeout s) for the client to close; logs when it did
sub _await_peer_close {
    my ($self, $timeout) = @_;
    my $t0 = time;
    my $sel = IO::Select->new($self->{c});
    while (time - $t0 < $timeout) {
        next unless $sel->can_read(0.1);
        my $n = sysread($self->{c}, my $junk, 65536);
        if (!$n) {
            $self->_log(ev => 'peer-closed', after => time - $t0);
            return 1;
        }
    }
    $self->_log(ev => 'gave-up', after => time - $t0);
    return 0;
}

my %REASON = (200 => 'OK', 301 => 'Moved Permanently', 302 => 'Found', 303 => 'See Other',
              307 => 'Temporary Redirect', 308 => 'Permanent Redirect', 404 => 'Not Found');

# returns true to keep the connection open
sub _route {
    my ($self, $req) = @_;
    my $p = $req->{path};
    my $q = $req->{query};
    if (my $cb = $self->{routes}{$p}) {
        return $cb->($self, $req);
    }
    if ($p =~ m{^/echo}) {
        my %out = map { $_ => $req->{$_} } qw(method target path version headers header length sha256 chunked);
        $out{body_b64} = encode_base64($req->{body}, '') unless exists $q->{nobody};
        $out{conn} = $$;
        $self->respond(200, 'OK', [ 'Content-Type' => 'application/json', 'X-Upstream' => 'perl' ],
                       $JSON->encode(\%out));
        return 1;
    }
    if ($p =~ m{^/status/(\d{3})$}) {
        my $code = $1;
        my $reason = defined $q->{reason} ? $q->{reason} : 'Custom';
        $self->respond($code, $reason, [ 'Content-Type' => 'text/plain', 'X-Single' => 'one',
                                         'X-Multi' => 'a', 'X-Multi' => 'b' ], 'status body');
        return 1;
    }
    if ($p =~ m{^/redirect/(\d{3})$}) {
        my $code = $1;
        $self->respond($code, $REASON{$code} || 'Redirect',
                       [ Location => defined $q->{to} ? $q->{to} : '/echo' ], 'redirecting');
        return 1;
    }
    if ($p =~ m{^/chain/(\d+)$}) {
        my $n = $1;
        if ($n > 0) { $self->respond(302, 'Found', [ Location => '/chain/' . ($n - 1) ], '') }
        else        { $self->respond(200, 'OK', [ 'Content-Type' => 'text/plain' ], 'end of chain') }
        return 1;
    }
    if ($p eq '/slow') {
        sleep((defined $q->{ms} ? $q->{ms} : 5000) / 1000);
        $self->respond(200, 'OK', [ 'Content-Type' => 'text/plain' ], 'slow');
        return 1;
    }
    if ($p eq '/hang-headers') {
        $self->_await_peer_close(10);
        return 0;
    }
    if ($p eq '/hang-body') {
        $self->_write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000000\r\n\r\n" . ('x' x 1000));
        $self->_await_peer_close(10);
        return 0;
    }
    if ($p eq '/gzip' || $p eq '/deflate' || $p eq '/deflate-raw') {
        require IO::Compress::Gzip;
        require IO::Compress::Deflate;
        require IO::Compress::RawDeflate;
        my $z;
        if    ($p eq '/gzip')    { IO::Compress::Gzip::gzip(\$TEXT => \$z) or die "gzip failed" }
        elsif ($p eq '/deflate') { IO::Compress::Deflate::deflate(\$TEXT => \$z) or die "deflate failed" }
        else                     { IO::Compress::RawDeflate::rawdeflate(\$TEXT => \$z) or die "rawdeflate failed" }
        my $enc = $p eq '/gzip' ? 'gzip' : 'deflate';
        $self->respond(200, 'OK', [ 'Content-Type' => 'text/plain', 'Content-Encoding' => $enc,
                                    'X-Seen-Accept-Encoding' => defined $req->{header}{'accept-encoding'}
                                        ? $req->{header}{'accept-encoding'} : '(none)' ], $z);
        return 1;
    }
    if ($p eq '/drip') {
        my $id = defined $q->{id} ? $q->{id} : 'x';
        $id =~ s/[^A-Za-z0-9_-]//g;
        $self->_write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
                      . "6\r\nfirst;\r\n");
        $self->_log(ev => 'drip-first', id => $id);
        my $t0 = time;
        sleep 0.02 while !-e "$self->{dir}/ack-$id" && time - $t0 < 5;
        my $last = -e "$self->{dir}/ack-$id" ? 'last:acked' : 'last:timeout';
        $self->_log(ev => 'drip-last', id => $id, what => $last);
        $self->_write(sprintf("%x\r\n%s\r\n0\r\n\r\n", length $last, $last));
        return 1;
    }
    if ($p eq '/ack') {
        my $id = defined $q->{id} ? $q->{id} : 'x';
        $id =~ s/[^A-Za-z0-9_-]//g;
        open my $fh, '>', "$self->{dir}/ack-$id";
        close $fh;
        $self->respond(200, 'OK', [ 'Content-Type' => 'text/plain' ], 'ok');
        return 1;
    }
    if ($p eq '/close') {
        $self->respond(200, 'OK', [ 'Content-Type' => 'text/plain', Connection => 'close' ], 'bye');
        return 0;
    }
    $self->respond(404, 'Not Found', [ 'Content-Type' => 'text/plain' ], 'no such route');
    return 1;
}

1;
