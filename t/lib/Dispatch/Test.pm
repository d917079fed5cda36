package Dispatch::Test;

# End-to-end test harness for ngx_dispatch: one object = one private
# redis-server + one nginx (foreground master, started with fork+exec),
# both on loopback ports picked at run time, in a private temp directory.
# Perl core modules only.

use strict;
use warnings;

use Carp qw(croak confess);
use Cwd qw(abs_path);
use Errno qw(EINPROGRESS EWOULDBLOCK EAGAIN EINTR);
use File::Basename qw(dirname);
use File::Path qw(remove_tree);
use File::Spec;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Handle;
use IO::Select;
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Scalar::Util qw(weaken);
use Socket qw(PF_INET SOCK_STREAM SOL_SOCKET SO_ERROR inet_aton pack_sockaddr_in);
use Test::More ();
use Time::HiRes qw(time sleep);

our $VERSION = '0.01';

our $NGINX       = $ENV{DISPATCH_NGINX}       || '/usr/sbin/nginx';
our $REDIS_SERVER = $ENV{DISPATCH_REDIS_SERVER} || 'redis-server';

# repo root = parent of t/ ; this file is t/lib/Dispatch/Test.pm
our $REPO_ROOT = abs_path(File::Spec->catdir(dirname(abs_path(__FILE__)), '..', '..', '..'));

my %LIVE;    # refaddr => weak ref, for the END block

# ---------------------------------------------------------------------------
# construction / configuration

my %DEFAULTS = (
    workers    => 1,
    module     => 1,
    redis      => 1,
    http       => '',
    server     => '',
    main       => '',
    redis_conf => undef,
    start      => 1,
);

sub module_path {
    return $ENV{DISPATCH_MODULE}
        || File::Spec->catfile($REPO_ROOT, 'build', 'ngx_http_dispatch_module.so');
}

sub _check_args {
    my (%args) = @_;
    for my $k (keys %args) {
        croak "Dispatch::Test: unknown argument '$k'" unless exists $DEFAULTS{$k};
    }
    my %a = (%DEFAULTS, %args);
    croak "Dispatch::Test: workers must be a positive integer"
        unless defined $a{workers} && $a{workers} =~ /^[1-9][0-9]*$/;
    if ($a{module}) {
        my $m = module_path();
        Test::More::BAIL_OUT("nginx module $m not found: build it first "
            . "(cmake -S . -B build && cmake --build build)") unless -f $m;
    }
    return %a;
}

sub _install_signal_handlers {
    # make END blocks (and thus process clean-up) run on INT/TERM, and on
    # PIPE (`prove ... | head`), whose default action would orphan nginx
    my %number = (INT => 2, TERM => 15, PIPE => 13);
    for my $sig (qw(INT TERM PIPE)) {
        my $cur = $SIG{$sig};
        next if defined $cur && $cur ne '' && $cur ne 'DEFAULT';
        $SIG{$sig} = sub { Test::More::diag("Dispatch::Test: got SIG$sig, cleaning up"); exit 128 + $number{$sig} };
    }
}

sub _new_tempdir {
    my $dir = tempdir('dispatch-test-XXXXXX', TMPDIR => 1, CLEANUP => 0);
    $dir = abs_path($dir);
    # nginx started as root drops worker privileges to nobody: the workers
    # must be able to traverse and write in the prefix
    chmod 0777, $dir;
    return $dir;
}

sub new {
    my ($class, %args) = @_;
    my %a = _check_args(%args);
    my $start = delete $a{start};

    my $self = bless {
        args      => \%a,
        owner     => $$,
        prefix    => _new_tempdir(),
        nginx_pid => undef,
        redis_pid => undef,
        rconn     => undef,
        rbuf      => '',
    }, $class;
    ($self->{port}, $self->{redis_port}) = free_ports(2);

    $LIVE{"$self"} = $self;
    weaken($LIVE{"$self"});
    _install_signal_handlers();

    $self->_write_config;
    $self->start if $start;
    return $self;
}

sub port       { $_[0]{port} }
sub redis_port { $_[0]{redis_port} }
sub prefix     { $_[0]{prefix} }
sub nginx_pid  { $_[0]{nginx_pid} }
sub redis_pid  { $_[0]{redis_pid} }
sub conf_file  { File::Spec->catfile($_[0]{prefix}, 'nginx.conf') }

sub url {
    my ($self, $path) = @_;
    $path = '/' unless defined $path;
    return "http://127.0.0.1:$self->{port}$path";
}

# bind port 0 on loopback to find free ports (all distinct, and never one
# that free_ports already handed out in this process)
my %HANDED_OUT;
sub _free_ports {
    my ($n, $addr) = @_;
    $addr = '127.0.0.1' unless defined $addr;
    my (@socks, @ports);
    while (@ports < $n) {
        my $s = IO::Socket::INET->new(LocalAddr => $addr, LocalPort => 0,
                                      Proto => 'tcp', Listen => 1, ReuseAddr => 0)
            or die "Dispatch::Test: cannot bind a free port on $addr: $!";
        push @socks, $s;
        next if $HANDED_OUT{ $s->sockport };
        push @ports, $s->sockport;
    }
    close $_ for @socks;
    return @ports;
}

# Ports for servers a test adds to the configuration (upstreams in `http`):
#   my ($up, $tls) = Dispatch::Test::free_ports(2);
#   my $p = Dispatch::Test::free_port('127.0.0.2');
# Free on ADDR (default 127.0.0.1) now, distinct, and never handed out again
# by this process (nor used for nginx's or redis' own port).
sub free_ports {
    my ($n, $addr) = @_;
    my @p = _free_ports($n || 1, $addr);
    $HANDED_OUT{$_} = 1 for @p;
    return wantarray ? @p : $p[0];
}
sub free_port { my ($addr) = @_; my ($p) = free_ports(1, $addr); return $p }

sub _subst {
    my ($text, $v) = @_;
    return '' unless defined $text;
    $text =~ s/%%REDIS_PORT%%/$v->{redis_port}/g;
    $text =~ s/%%PORT%%/$v->{port}/g;
    $text =~ s/%%PREFIX%%/$v->{prefix}/g;
    return $text;
}

# builds the text of nginx.conf from args + ports + prefix
sub _config_text {
    my ($a, $v) = @_;
    my $p = $v->{prefix};
    my $conf = '';
    $conf .= "load_module " . module_path() . ";\n" if $a->{module};
    $conf .= <<"EOF";
daemon off;
master_process on;
worker_processes $a->{workers};
error_log $p/error.log info;
pid $p/nginx.pid;
EOF
    $conf .= _subst($a->{main}, $v) . "\n";
    $conf .= "events {\n    worker_connections 1024;\n}\n";
    $conf .= <<"EOF";
http {
    access_log $p/access.log;
    client_body_temp_path $p/client_body_temp;
    proxy_temp_path $p/proxy_temp;
    fastcgi_temp_path $p/fastcgi_temp;
    uwsgi_temp_path $p/uwsgi_temp;
    scgi_temp_path $p/scgi_temp;
EOF
    if (defined $a->{redis_conf}) {
        $conf .= _subst($a->{redis_conf}, $v) . "\n";
    } elsif ($a->{module}) {
        $conf .= "    dispatch_redis 127.0.0.1:$v->{redis_port};\n";
    }
    $conf .= _subst($a->{http}, $v) . "\n";
    $conf .= "    server {\n        listen 127.0.0.1:$v->{port};\n"
           . "        server_name localhost;\n";
    $conf .= _subst($a->{server}, $v) . "\n";
    $conf .= "    }\n}\n";
    return $conf;
}

sub _write_file {
    my ($file, $content, $mode) = @_;
    open my $fh, '>', $file or die "Dispatch::Test: cannot write $file: $!";
    binmode $fh;
    print {$fh} $content;
    close $fh or die "Dispatch::Test: cannot write $file: $!";
    chmod $mode, $file if defined $mode;
}

sub _read_file {
    my ($file) = @_;
    open my $fh, '<', $file or return '';
    binmode $fh;
    local $/;
    my $c = <$fh>;
    return defined $c ? $c : '';
}

sub _write_config {
    my ($self) = @_;
    my $text = _config_text($self->{args}, $self);
    _write_file($self->conf_file, $text, 0644);
    # pre-create the logs, writable by anyone (workers may run as nobody)
    for my $log (qw(error.log access.log)) {
        my $f = File::Spec->catfile($self->{prefix}, $log);
        unless (-e $f) { _write_file($f, '', 0666) }
    }
}

sub config_text { _read_file($_[0]->conf_file) }

# ---------------------------------------------------------------------------
# processes

sub _spawn {
    my ($out, @cmd) = @_;
    my $pid = fork;
    die "Dispatch::Test: fork failed: $!" unless defined $pid;
    if ($pid == 0) {
        # child: never return into the test script
        eval {
            open STDIN, '<', '/dev/null';
            open STDOUT, '>>', $out or die;
            open STDERR, '>&', \*STDOUT or die;
            exec { $cmd[0] } @cmd;
        };
        print STDERR "Dispatch::Test: exec $cmd[0] failed: $!\n";
        POSIX::_exit(127);
    }
    return $pid;
}

sub _alive { my ($pid) = @_; return $pid && kill(0, $pid) }

# waitpid with a deadline; returns true if reaped
sub _reap {
    my ($pid, $timeout) = @_;
    my $end = time + $timeout;
    while (1) {
        my $r = waitpid($pid, WNOHANG);
        return 1 if $r == $pid || $r == -1;
        return 0 if time >= $end;
        sleep 0.05;
    }
}

sub start {
    my ($self) = @_;
    croak "Dispatch::Test: start called in a forked child" unless $$ == $self->{owner};
    $self->start_redis if $self->{args}{redis} && !$self->{redis_pid};
    $self->_start_nginx unless $self->{nginx_pid};
    return $self;
}

sub _start_nginx {
    my ($self) = @_;
    my $p = $self->{prefix};
    $self->_write_config;
    my $out = "$p/nginx.stderr";
    my $pid = _spawn($out, $NGINX, '-p', "$p/", '-c', $self->conf_file, '-e', "$p/error.log");
    $self->{nginx_pid} = $pid;

    my $end = time + 10;
    my $want = $self->{args}{workers};
    while (1) {
        my $r = waitpid($pid, WNOHANG);
        if ($r == $pid || $r == -1) {
            my $status = $?;
            $self->{nginx_pid} = undef;
            die "Dispatch::Test: nginx exited during start-up (status $status)\n"
                . "--- error.log:\n" . $self->error_log
                . "--- nginx stderr:\n" . _read_file($out);
        }
        my @w = $self->worker_pids;
        if (@w >= $want && _port_open($self->{port})) {
            return $self;
        }
        if (time >= $end) {
            my $log = $self->error_log;
            $self->_stop_nginx;
            die "Dispatch::Test: nginx not ready after 10 s\n--- error.log:\n$log"
                . "--- nginx stderr:\n" . _read_file($out);
        }
        sleep 0.05;
    }
}

sub _port_open {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 1);
    return 0 unless $s;
    close $s;
    return 1;
}

# [ [pid, ppid, cmdline], ... ] for all processes
sub _proc_table {
    my @t;
    opendir my $d, '/proc' or return ();
    for my $pid (grep { /^\d+$/ } readdir $d) {
        my $stat = _read_file("/proc/$pid/stat");
        next unless $stat =~ /\)\s+\S+\s+(\d+)/s;    # after "(comm)" state ppid
        my $ppid = $1;
        (my $cmd = _read_file("/proc/$pid/cmdline")) =~ s/\0+/ /g;
        $cmd =~ s/\s+$//;
        push @t, [$pid, $ppid, $cmd];
    }
    closedir $d;
    return @t;
}

sub _children {
    my ($ppid) = @_;
    return () unless $ppid;
    return grep { $_->[1] == $ppid } _proc_table();
}

# live (not shutting-down) worker processes of the master, sorted
sub worker_pids {
    my ($self) = @_;
    my @pids = sort { $a <=> $b }
        map  { $_->[0] }
        grep { $_->[2] =~ /worker process/ && $_->[2] !~ /shutting down/ }
        _children($self->{nginx_pid});
    return @pids;    # a count in scalar context
}

sub stop {
    my ($self) = @_;
    return unless $$ == $self->{owner};
    my $had = $self->{nginx_pid} || $self->{redis_pid};
    $self->_stop_nginx;
    $self->stop_redis;
    if ($had && !$self->{tail_shown}) {
        my $tb = Test::More->builder;
        if (!$tb->is_passing) {
            $self->{tail_shown} = 1;
            my @lines = split /\n/, $self->error_log;
            @lines = @lines[-30 .. -1] if @lines > 30;
            Test::More::diag("last lines of $self->{prefix}/error.log:\n" . join("\n", @lines));
        }
    }
    return $self;
}

sub _stop_nginx {
    my ($self) = @_;
    my $pid = $self->{nginx_pid} or return;
    my @kids = map { $_->[0] } _children($pid);
    kill 'QUIT', $pid;
    unless (_reap($pid, 10)) {
        Test::More::diag("Dispatch::Test: nginx master $pid ignored QUIT for 10 s, sending TERM");
        kill 'TERM', $pid;
        unless (_reap($pid, 5)) {
            kill 'KILL', $pid;
            _reap($pid, 5);
        }
    }
    $self->{nginx_pid} = undef;
    # orphaned workers (only if the master died without stopping them)
    my @left = grep { _alive($_) && _read_file("/proc/$_/cmdline") =~ /^nginx/ } @kids;
    if (@left) {
        my $end = time + 2;
        sleep 0.05 while time < $end && grep { _alive($_) && _read_file("/proc/$_/cmdline") =~ /^nginx/ } @left;
        @left = grep { _alive($_) && _read_file("/proc/$_/cmdline") =~ /^nginx/ } @left;
        kill 'KILL', @left if @left;
    }
}

sub reload {
    my ($self, %args) = @_;
    my $pid = $self->{nginx_pid} or croak "Dispatch::Test: nginx is not running";
    if (%args) {
        my %a = _check_args(%{ $self->{args} }, %args);
        delete $a{start};
        $self->{args} = \%a;
        $self->_write_config;
    }
    my %old = map { $_ => 1 } $self->worker_pids;
    my $logsize = -s "$self->{prefix}/error.log" || 0;
    kill 'HUP', $pid;
    my $want = $self->{args}{workers};
    my $end = time + 15;
    while (1) {
        my @now = $self->worker_pids;
        return $self if @now >= $want && !grep { $old{$_} } @now;
        my $new = substr($self->error_log, $logsize);
        if ($new =~ /\[emerg\]/) {
            die "Dispatch::Test: reload failed:\n$new";
        }
        if (waitpid($pid, WNOHANG) == $pid) {
            $self->{nginx_pid} = undef;
            die "Dispatch::Test: nginx exited during reload:\n$new";
        }
        die "Dispatch::Test: workers did not change within 15 s after HUP\n$new" if time >= $end;
        sleep 0.05;
    }
}

sub wait_for {
    my ($self, $cb, %opts) = @_;
    my $timeout = defined $opts{timeout} ? $opts{timeout} : 5;
    my $end = time + $timeout;
    while (1) {
        my $r = $cb->();
        return $r if $r;
        return 0 if time >= $end;
        sleep 0.05;
    }
}

sub error_log  { _read_file("$_[0]{prefix}/error.log") }
sub access_log { _read_file("$_[0]{prefix}/access.log") }

sub error_log_alerts {
    my ($self) = @_;
    my @l = grep { /\[(?:alert|emerg|crit)\]/ || /worker process .* exited on signal/ }
        split /\n/, $self->error_log;
    return @l;    # a count in scalar context
}

# ---------------------------------------------------------------------------
# redis server

sub start_redis {
    my ($self) = @_;
    return $self if $self->{redis_pid};
    my $p = $self->{prefix};
    my $pid = _spawn("$p/redis.stdout", $REDIS_SERVER,
        '--bind', '127.0.0.1', '--port', $self->{redis_port},
        '--save', '', '--appendonly', 'no', '--daemonize', 'no',
        '--dir', $p, '--logfile', "$p/redis.log");
    $self->{redis_pid} = $pid;
    $self->_redis_close;
    my $end = time + 10;
    while (1) {
        my $r = waitpid($pid, WNOHANG);
        if ($r == $pid || $r == -1) {
            $self->{redis_pid} = undef;
            die "Dispatch::Test: redis-server exited during start-up\n"
                . _read_file("$p/redis.log") . _read_file("$p/redis.stdout");
        }
        my $pong = eval { $self->redis('PING') };
        return $self if defined $pong && $pong eq 'PONG';
        $self->_redis_close;
        if (time >= $end) {
            $self->stop_redis;
            die "Dispatch::Test: redis-server not ready after 10 s\n" . _read_file("$p/redis.log");
        }
        sleep 0.05;
    }
}

sub stop_redis {
    my ($self) = @_;
    $self->_redis_close;
    my $pid = $self->{redis_pid} or return $self;
    kill 'TERM', $pid;
    unless (_reap($pid, 10)) {
        kill 'KILL', $pid;
        _reap($pid, 5);
    }
    $self->{redis_pid} = undef;
    return $self;
}

# ---------------------------------------------------------------------------
# minimal RESP2 client

sub _redis_close {
    my ($self) = @_;
    close $self->{rconn} if $self->{rconn};
    $self->{rconn} = undef;
    $self->{rbuf}  = '';
}

sub _redis_conn {
    my ($self) = @_;
    if (my $s = $self->{rconn}) {
        # closed by the server (restart, timeout)? then reconnect
        if (IO::Select->new($s)->can_read(0)) {
            my $n = sysread($s, my $junk, 4096);
            $self->_redis_close if !$n;
        }
    }
    unless ($self->{rconn}) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{redis_port},
                                      Proto => 'tcp', Timeout => 5)
            or die "Dispatch::Test: cannot connect to redis on port $self->{redis_port}: $!\n";
        binmode $s;
        $self->{rconn} = $s;
        $self->{rbuf}  = '';
    }
    return $self->{rconn};
}

sub redis_encode {
    my (@args) = @_;
    my $out = '*' . scalar(@args) . "\r\n";
    for my $a (@args) {
        my $b = defined $a ? "$a" : '';
        utf8::encode($b) if utf8::is_utf8($b);
        $out .= '$' . length($b) . "\r\n" . $b . "\r\n";
    }
    return $out;
}

sub redis {
    my ($self, @args) = @_;
    croak "Dispatch::Test: redis() needs a command" unless @args;
    my $s = $self->_redis_conn;
    my $req = redis_encode(@args);
    local $SIG{PIPE} = 'IGNORE';
    my $off = 0;
    while ($off < length $req) {
        my $n = syswrite($s, $req, length($req) - $off, $off);
        if (!defined $n) {
            next if $! == EINTR;
            my $e = $!;
            $self->_redis_close;
            die "Dispatch::Test: redis write failed: $e\n";
        }
        $off += $n;
    }
    my $reply = eval { $self->_redis_read_reply };
    if (my $e = $@) {
        $self->_redis_close;
        die $e;
    }
    if (ref $reply eq 'Dispatch::Test::RedisError') {
        die $$reply . "\n";
    }
    return $reply;
}

sub _redis_fill {
    my ($self) = @_;
    my $s = $self->{rconn};
    my $sel = IO::Select->new($s);
    die "Dispatch::Test: redis reply timeout\n" unless $sel->can_read(10);
    my $n = sysread($s, $self->{rbuf}, 65536, length $self->{rbuf});
    die "Dispatch::Test: redis connection closed\n" unless $n;
}

sub _redis_line {
    my ($self) = @_;
    while (1) {
        my $i = index($self->{rbuf}, "\r\n");
        if ($i >= 0) {
            my $line = substr($self->{rbuf}, 0, $i);
            substr($self->{rbuf}, 0, $i + 2, '');
            return $line;
        }
        $self->_redis_fill;
    }
}

sub _redis_read_reply {
    my ($self) = @_;
    my $line = $self->_redis_line;
    my $type = substr($line, 0, 1, '');
    if ($type eq '+') { return $line }
    if ($type eq '-') { return bless \(my $e = $line), 'Dispatch::Test::RedisError' }
    if ($type eq ':') { return 0 + $line }
    if ($type eq '$') {
        return undef if $line < 0;
        $self->_redis_fill while length($self->{rbuf}) < $line + 2;
        my $data = substr($self->{rbuf}, 0, $line);
        substr($self->{rbuf}, 0, $line + 2, '');
        return $data;
    }
    if ($type eq '*') {
        return undef if $line < 0;
        my @a;
        for (1 .. $line) {
            my $r = $self->_redis_read_reply;
            $r = { error => $$r } if ref $r eq 'Dispatch::Test::RedisError';
            push @a, $r;
        }
        return \@a;
    }
    die "Dispatch::Test: bad redis reply type '$type'\n";
}

# A "checks" tenant: $code (a module) calls results({ name: () => value,
# ... }); each check may be async, and its value, or "threw NAME: message",
# comes back in one JSON object. run_checks uploads it as $ns/$name,
# requests it (path => '/t/NAME' by default; request options as for
# request()), asserts the 200 and returns the decoded object.
our $RESULTS_JS = q{
    async function results(checks) {
      const out = {};
      for (const [name, check] of Object.entries(checks)) {
        try { out[name] = await check(); } catch (e) { out[name] = `threw ${e && e.name}: ${e && e.message}`; }
      }
      return Response.json(out);
    }
};

sub run_checks {
    my ($self, $ns, $name, $code, %req) = @_;
    my $path = delete $req{path} // "/t/$name";
    my $method = delete $req{method} // 'GET';
    $self->put_script($ns, $name, $RESULTS_JS . $code);
    my $r = $self->request($method, $path, %req);
    Test::More::is($r->{status}, 200, "the $name checks ran") or Test::More::diag($r->{content});
    require JSON::PP;
    return eval { JSON::PP::decode_json($r->{content}) } || {};
}

sub put_script {
    my ($self, $ns, $name, $code, %fields) = @_;
    my $r = $self->redis('MULTI');
    my $ok = eval {
        $self->redis('HSET', "dispatch:{$ns}:script:$name", 'code', $code, %fields);
        $self->redis('SADD', "dispatch:{$ns}:scripts", $name);
        $self->redis('SADD', 'dispatch:namespaces', $ns);
        1;
    };
    unless ($ok) { my $e = $@; eval { $self->redis('DISCARD') }; die $e }
    my $res = $self->redis('EXEC');
    for (@{ $res || [] }) {
        die "Dispatch::Test: put_script failed: $_->{error}\n" if ref $_ eq 'HASH';
    }
    return 1;
}

sub del_script {
    my ($self, $ns, $name) = @_;
    $self->redis('DEL', "dispatch:{$ns}:script:$name");
    $self->redis('SREM', "dispatch:{$ns}:scripts", $name);
    return 1;
}

# ---------------------------------------------------------------------------
# HTTP clients

{
    package Dispatch::Test::UA;
    our @ISA = ('HTTP::Tiny');
    # HTTP::Tiny refuses a Host header option; set it after it built its own
    sub _prepare_headers_and_cb {
        my ($self, $request, @rest) = @_;
        my @r = $self->SUPER::_prepare_headers_and_cb($request, @rest);
        $request->{headers}{host} = $self->{_dt_host} if defined $self->{_dt_host};
        return @r;
    }
}

sub _split_host {
    my ($opts) = @_;
    my %h = %{ $opts->{headers} || {} };
    my $host = $opts->{host};
    for my $k (keys %h) {
        if (lc $k eq 'host') { $host = delete $h{$k} unless defined $host; delete $h{$k} }
    }
    return ($host, \%h);
}

sub request {
    my ($self, $method, $path, %opts) = @_;
    my ($host, $headers) = _split_host(\%opts);
    my $ua = Dispatch::Test::UA->new(
        timeout      => defined $opts{timeout} ? $opts{timeout} : 10,
        proxy        => undef,
        http_proxy   => undef,
        https_proxy  => undef,
        no_proxy     => [],
        max_redirect => defined $opts{max_redirect} ? $opts{max_redirect} : 0,
        keep_alive   => 0,
    );
    $ua->{_dt_host} = $host;
    my %req = (headers => $headers);
    $req{content} = $opts{content} if defined $opts{content};
    return $ua->request($method, $self->url($path), \%req);
}

# curl(ARGS...): runs the system's curl (-sS, at most 60 s) and returns its
# output and exit status; for clients the tests need curl for (uploads from
# files, --limit-rate, chunked bodies, -w figures).
sub curl {
    my ($self, @args) = @_;
    open(my $fh, '-|', 'curl', '-sS', '--max-time', '60', @args) or die "curl: $!";
    local $/;
    my $out = <$fh>;
    close $fh;
    return ($out, $? >> 8);
}

sub get {
    my ($self, $path, %opts) = @_;
    return $self->request('GET', $path, %opts);
}

sub _raw_request {
    my ($self, $r) = @_;
    my $method = $r->{method} || 'GET';
    my $path   = defined $r->{path} ? $r->{path} : '/';
    my ($host, $headers) = _split_host($r);
    $host = "127.0.0.1:$self->{port}" unless defined $host;
    my $content = $r->{content};
    utf8::encode($content) if defined $content && utf8::is_utf8($content);
    my $req = "$method $path HTTP/1.1\r\nHost: $host\r\nConnection: close\r\n";
    my $has_len;
    for my $k (sort keys %$headers) {
        next if lc $k eq 'connection';
        $has_len = 1 if lc $k eq 'content-length' || lc $k eq 'transfer-encoding';
        for my $v (ref $headers->{$k} eq 'ARRAY' ? @{ $headers->{$k} } : $headers->{$k}) {
            $req .= "$k: $v\r\n";
        }
    }
    if (!$has_len && (defined $content || $method eq 'POST' || $method eq 'PUT')) {
        $req .= 'Content-Length: ' . length(defined $content ? $content : '') . "\r\n";
    }
    $req .= "\r\n";
    $req .= $content if defined $content;
    return ($req, $method);
}

sub _parse_response {
    my ($data, $method, $eof_err) = @_;
    my $fail = sub { { status => 599, reason => 'Internal Exception', headers => {}, content => $_[0] } };
    my $i = index($data, "\r\n\r\n");
    return $fail->('incomplete response header' . ($eof_err ? ": $eof_err" : '')
                   . ' (got ' . length($data) . ' bytes)') if $i < 0;
    my $head = substr($data, 0, $i);
    my $body = substr($data, $i + 4);
    my ($sl, @lines) = split /\r\n/, $head;
    return $fail->("bad status line: $sl") unless $sl =~ m{^HTTP/\d\.\d\s+(\d{3})\s*(.*)$};
    my ($status, $reason) = ($1, $2);
    my %h;
    for my $l (@lines) {
        next unless $l =~ /^([^:]+):\s*(.*?)\s*$/;
        my ($k, $v) = (lc $1, $2);
        if (exists $h{$k}) {
            $h{$k} = [ $h{$k} ] unless ref $h{$k};
            push @{ $h{$k} }, $v;
        } else {
            $h{$k} = $v;
        }
    }
    my $res = { status => 0 + $status, reason => $reason, headers => \%h };
    if ($method eq 'HEAD' || $status =~ /^1|^204$|^304$/) {
        $res->{content} = '';
    } elsif (($h{'transfer-encoding'} || '') =~ /chunked/i) {
        my $out = '';
        while (1) {
            my $j = index($body, "\r\n");
            return $fail->('truncated chunked body') if $j < 0;
            my ($size) = substr($body, 0, $j) =~ /^([0-9a-fA-F]+)/;
            return $fail->('bad chunk size') unless defined $size;
            $size = hex $size;
            substr($body, 0, $j + 2, '');
            last if $size == 0;
            return $fail->('truncated chunk') if length($body) < $size + 2;
            $out .= substr($body, 0, $size);
            substr($body, 0, $size + 2, '');
        }
        $res->{content} = $out;
    } elsif (defined $h{'content-length'} && !ref $h{'content-length'}) {
        my $len = $h{'content-length'};
        return $fail->("truncated body: got " . length($body) . " of $len bytes"
                       . ($eof_err ? " ($eof_err)" : '')) if length($body) < $len;
        $res->{content} = substr($body, 0, $len);
    } else {
        $res->{content} = $body;
    }
    $res->{success} = $res->{status} =~ /^2/ ? 1 : '';
    return $res;
}

sub parallel {
    my ($self, $requests, %opts) = @_;
    my $conc    = $opts{concurrency} || 200;
    my $timeout = defined $opts{timeout} ? $opts{timeout} : 15;
    my $end     = time + $timeout;
    my @res;
    my @queue = (0 .. $#$requests);
    my %conn;    # fileno => {i, fh, out, off, in, state}
    my $rsel = IO::Select->new;
    my $wsel = IO::Select->new;
    my $addr = pack_sockaddr_in($self->{port}, inet_aton('127.0.0.1'));
    local $SIG{PIPE} = 'IGNORE';

    my $finish = sub {
        my ($c, $err) = @_;
        $rsel->remove($c->{fh});
        $wsel->remove($c->{fh});
        delete $conn{ fileno $c->{fh} };
        close $c->{fh};
        if ($c->{state} eq 'connect' || $c->{state} eq 'write') {
            $res[ $c->{i} ] = { status => 599, reason => 'Internal Exception', headers => {},
                                content => "$c->{state}: " . ($err || 'failed') };
        } else {
            $res[ $c->{i} ] = _parse_response($c->{in}, $c->{method}, $err);
        }
    };

    while (@queue || %conn) {
        while (@queue && keys(%conn) < $conc) {
            my $i = shift @queue;
            my ($req, $method) = $self->_raw_request($requests->[$i]);
            my $fh;
            unless (socket($fh, PF_INET, SOCK_STREAM, 0)) {
                $res[$i] = { status => 599, reason => 'Internal Exception', headers => {}, content => "socket: $!" };
                next;
            }
            $fh->blocking(0);
            my $c = { i => $i, fh => $fh, out => $req, off => 0, in => '', method => $method, state => 'connect' };
            $conn{ fileno $fh } = $c;
            if (connect($fh, $addr) || $! == EINPROGRESS || $! == EWOULDBLOCK) {
                $wsel->add($fh);
            } else {
                $finish->($c, "$!");
            }
        }
        last unless %conn;
        my $left = $end - time;
        if ($left <= 0) {
            $finish->($_, 'timeout after ' . $timeout . ' s') for values %conn;
            last;
        }
        my ($r, $w) = IO::Select->select($rsel, $wsel, undef, $left < 0.5 ? $left : 0.5);
        for my $fh (@{ $w || [] }) {
            my $c = $conn{ fileno $fh } or next;
            if ($c->{state} eq 'connect') {
                my $err = unpack('i', getsockopt($fh, SOL_SOCKET, SO_ERROR) || pack('i', 0));
                if ($err) { local $! = $err; $finish->($c, "$!"); next }
                $c->{state} = 'write';
            }
            my $n = syswrite($fh, $c->{out}, length($c->{out}) - $c->{off}, $c->{off});
            if (!defined $n) {
                next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
                $finish->($c, "$!");
                next;
            }
            $c->{off} += $n;
            if ($c->{off} >= length $c->{out}) {
                $c->{state} = 'read';
                $wsel->remove($fh);
                $rsel->add($fh);
            }
        }
        for my $fh (@{ $r || [] }) {
            my $c = $conn{ fileno $fh } or next;
            my $n = sysread($fh, $c->{in}, 65536, length $c->{in});
            if (!defined $n) {
                next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
                $finish->($c, "$!");
            } elsif ($n == 0) {
                $finish->($c, undef);
            }
        }
    }
    return wantarray ? @res : \@res;
}

# ---------------------------------------------------------------------------
# helpers for caching, limits and process hygiene

# PUBLISH dispatch:events NS/NAME; returns how many subscribers received it
sub publish {
    my ($self, $ns, $name) = @_;
    return $self->redis('PUBLISH', 'dispatch:events', "$ns/$name");
}

# INFO [section] as a hash of field => value
sub redis_info {
    my ($self, $section) = @_;
    my $text = $self->redis('INFO', defined $section ? ($section) : ());
    my %h;
    for my $l (split /\r?\n/, $text) {
        next if $l =~ /^#/ || $l !~ /:/;
        my ($k, $v) = split /:/, $l, 2;
        $h{$k} = $v;
    }
    return \%h;
}

# INFO commandstats as command => calls (lower-case names, e.g. hgetall)
sub redis_command_calls {
    my ($self) = @_;
    my $info = $self->redis_info('commandstats');
    my %calls;
    for my $k (keys %$info) {
        next unless $k =~ /^cmdstat_(.+)$/;
        my $cmd = $1;
        $calls{$cmd} = $1 if $info->{$k} =~ /(?:^|,)calls=(\d+)/;
    }
    return \%calls;
}

# Redis commands run since $before (a redis_command_calls result), except
# the ones named in @ignore (default: the test's own INFO and PING)
sub redis_commands_since {
    my ($self, $before, @ignore) = @_;
    @ignore = qw(info ping) unless @ignore;
    my %skip = map { lc($_) => 1 } @ignore;
    my $now = $self->redis_command_calls;
    my $n = 0;
    for my $cmd (keys %$now) {
        next if $skip{$cmd};
        $n += $now->{$cmd} - ($before->{$cmd} || 0);
    }
    return $n;
}

# One request on its own connection, sent now and read later:
#   my $h = $t->send_request({ path => '/t/hang' });
#   ... other requests ...
#   my $r = $t->read_response($h, timeout => 10);   # $r->{elapsed}: seconds since sent
#   my @r = $t->read_responses([$h1, $h2], timeout => 10);   # all at once
# The request hash is the one parallel() takes (method, path, host, headers,
# content). A response not complete within the timeout has status 599.
sub send_request {
    my ($self, $r) = @_;
    my ($req, $method) = $self->_raw_request($r || {});
    my $t0 = time;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port},
                                  Proto => 'tcp', Timeout => 5)
        or return { error => "connect: $!", method => $method, t0 => $t0 };
    binmode $s;
    local $SIG{PIPE} = 'IGNORE';
    my $off = 0;
    while ($off < length $req) {
        my $n = syswrite($s, $req, length($req) - $off, $off);
        if (!defined $n) {
            next if $! == EINTR;
            my $e = "$!";
            close $s;
            return { error => "write: $e", method => $method, t0 => $t0 };
        }
        $off += $n;
    }
    return { fh => $s, method => $method, t0 => $t0 };
}

sub read_response {
    my ($self, $h, %opts) = @_;
    my ($res) = $self->read_responses([$h], %opts);
    return $res;
}

# Reads the responses of several send_request handles at once, so that each
# one's `elapsed` is when its answer completed; in the order of the handles.
sub read_responses {
    my ($self, $handles, %opts) = @_;
    my $timeout = defined $opts{timeout} ? $opts{timeout} : 15;
    my $end = time + $timeout;
    my @res;
    my %open;    # fileno => index
    my $sel = IO::Select->new;
    my @in = ('') x @$handles;
    for my $i (0 .. $#$handles) {
        my $h = $handles->[$i];
        if ($h->{error}) {
            $res[$i] = { status => 599, reason => 'Internal Exception', headers => {},
                         content => $h->{error}, elapsed => time - $h->{t0} };
            next;
        }
        $open{ fileno $h->{fh} } = $i;
        $sel->add($h->{fh});
    }
    my $finish = sub {
        my ($i, $err) = @_;
        my $h = $handles->[$i];
        $sel->remove($h->{fh});
        delete $open{ fileno $h->{fh} };
        close $h->{fh};
        $res[$i] = $err && $err =~ /^timeout/
            ? { status => 599, reason => 'Internal Exception', headers => {}, content => "read: $err" }
            : _parse_response($in[$i], $h->{method}, $err);
        $res[$i]{elapsed} = time - $h->{t0};
    };
    while (%open) {
        my $left = $end - time;
        if ($left <= 0) {
            $finish->($_, "timeout after $timeout s") for values %open;
            last;
        }
        for my $fh ($sel->can_read($left < 0.5 ? $left : 0.5)) {
            my $i = $open{ fileno $fh };
            next unless defined $i;
            my $n = sysread($fh, $in[$i], 65536, length $in[$i]);
            if (!defined $n) {
                next if $! == EINTR || $! == EAGAIN;
                $finish->($i, "$!");
            } elsif ($n == 0) {
                $finish->($i, undef);
            }
        }
    }
    return @res;
}

# Sends $req (a parallel() request hash) in batches of `batch` (default 40)
# separate connections until every live worker process has answered at
# least once, at most `rounds` (default 10) batches. The location must add
# the worker's PID as a response header (default X-Worker):
#     add_header X-Worker $pid always;
# Returns (\%by_worker, \@responses): %by_worker maps each PID that answered
# to its responses ('?' for answers without the header).
sub ask_every_worker {
    my ($self, $req, %opts) = @_;
    my $batch  = $opts{batch}  || 40;
    my $rounds = $opts{rounds} || 10;
    my $header = lc($opts{header} || 'x-worker');
    my %want = map { $_ => 1 } $self->worker_pids;
    my (%by, @all);
    for (1 .. $rounds) {
        my @res = $self->parallel([ map { +{ %$req } } 1 .. $batch ],
                                  timeout => $opts{timeout} || 15);
        for my $r (@res) {
            my $w = $r->{headers}{$header};
            $w = '?' unless defined $w && !ref $w;
            push @{ $by{$w} }, $r;
            push @all, $r;
        }
        last unless grep { !$by{$_} } keys %want;
    }
    return (\%by, \@all);
}

# True when every live worker answered $req (a path or a parallel() request
# hash; see ask_every_worker for the X-Worker header it needs) and every
# answer had $status and exactly $body.
sub every_worker_says {
    my ($self, $req, $status, $body) = @_;
    $req = { path => $req } unless ref $req;
    my ($by, $all) = $self->ask_every_worker($req);
    return 0 if grep { !$by->{$_} } $self->worker_pids;
    return 0 if grep { $_->{status} != $status || $_->{content} ne $body } @$all;
    return 1;
}

# For diagnostics: the distinct answers each worker gives to $req.
sub worker_answers {
    my ($self, $req) = @_;
    $req = { path => $req } unless ref $req;
    my ($by) = $self->ask_every_worker($req);
    my @out;
    for my $w (sort keys %$by) {
        my %seen;
        $seen{"$_->{status} '$_->{content}'"}++ for @{ $by->{$w} };
        push @out, "worker $w: " . join(', ', map { "$_ x$seen{$_}" } sort keys %seen);
    }
    return join("\n", @out);
}

# every child process of the nginx master (workers, also those shutting down)
sub nginx_children {
    my ($self) = @_;
    my @pids = sort { $a <=> $b } map { $_->[0] } _children($self->{nginx_pid});
    return @pids;    # a count in scalar context
}

# /proc/PID/status as a hash (VmRSS etc. in kB, as numbers)
sub proc_status {
    my ($self, $pid) = @_;
    my %h;
    for my $l (split /\n/, _read_file("/proc/$pid/status")) {
        my ($k, $v) = $l =~ /^([^:]+):\s*(.*)$/ or next;
        $v = $1 if $v =~ /^(\d+)\s*kB$/;
        $h{$k} = $v;
    }
    return \%h;
}

sub rss_kb       { my ($self, $pid) = @_; return $self->proc_status($pid)->{VmRSS} }
sub fd_count     { my ($self, $pid) = @_; my @f = glob("/proc/$pid/fd/*"); return scalar @f }
sub thread_count { my ($self, $pid) = @_; my @t = glob("/proc/$pid/task/*"); return scalar @t }

# a file under the prefix (another log the test configured)
sub read_prefix_file {
    my ($self, $name) = @_;
    return _read_file(File::Spec->catfile($self->{prefix}, $name));
}

# random_file(NAME, SIZE): a file of SIZE random bytes under the prefix; its path
sub random_file {
    my ($self, $name, $size) = @_;
    my $path = File::Spec->catfile($self->{prefix}, $name);
    system("head -c $size /dev/urandom > $path") == 0 or die "cannot write $path";
    return $path;
}

# ---------------------------------------------------------------------------
# nginx -t

sub nginx_test_config {
    my ($proto, %args) = @_;
    delete $args{start};
    my %a;
    if (ref $proto) {
        %a = _check_args(%{ $proto->{args} }, %args);
    } else {
        %a = _check_args(%args);
    }
    my $dir = _new_tempdir();
    my ($port, $rport) = _free_ports(2);
    my $v = { prefix => $dir, port => $port, redis_port => $rport };
    my $conf = "$dir/nginx.conf";
    my $text = _config_text(\%a, $v);
    _write_file($conf, $text, 0644);
    for my $log (qw(error.log access.log)) { _write_file("$dir/$log", '', 0666) }
    my $out = "$dir/nginx-t.out";
    my $pid = _spawn($out, $NGINX, '-t', '-p', "$dir/", '-c', $conf);
    my $code;
    if (_reap($pid, 30)) {
        $code = $? >> 8;
        $code = 128 + ($? & 127) if $? & 127;
    } else {
        kill 'KILL', $pid;
        _reap($pid, 5);
        $code = 255;
    }
    my $output = _read_file($out);
    if ($ENV{DISPATCH_KEEP}) {
        Test::More::diag("Dispatch::Test: nginx -t prefix kept: $dir");
    } else {
        remove_tree($dir);
    }
    return ($code, $output, $text);
}

# ---------------------------------------------------------------------------
# clean-up

sub _cleanup {
    my ($self) = @_;
    return unless $$ == $self->{owner};
    $self->stop;
    delete $LIVE{"$self"};
    my $dir = $self->{prefix};
    return unless $dir && -d $dir && !$self->{cleaned}++;
    if ($ENV{DISPATCH_KEEP}) {
        Test::More::diag("Dispatch::Test: prefix kept: $dir");
    } else {
        remove_tree($dir);
    }
}

sub DESTROY {
    my ($self) = @_;
    local ($?, $!, $@);
    $self->_cleanup;
}

END {
    local ($?, $!, $@);
    for my $k (keys %LIVE) {
        my $t = $LIVE{$k} or next;
        $t->_cleanup;
    }
}

1;

__END__

=head1 NAME

Dispatch::Test - end-to-end harness for ngx_dispatch (nginx + redis-server)

=head1 SYNOPSIS

  use Test::More;
  use lib 't/lib';
  use Dispatch::Test;

  my $t = Dispatch::Test->new(server => 'location / { dispatch; }');
  $t->put_script('acme', 'main', 'export default { fetch() { ... } }');
  my $r = $t->get('/', host => 'acme.example');
  is $r->{status}, 200;
  done_testing;

See t/00-harness.t for every method in use.

=head1 HELPERS FOR CACHING, LIMITS AND PROCESSES

=over

=item publish(NS, NAME)

C<PUBLISH dispatch:events NS/NAME>; returns how many subscribers got it.

=item redis_info([SECTION]), redis_command_calls, redis_commands_since(BEFORE, [IGNORE...])

C<INFO> as a hash; C<INFO commandstats> as command =E<gt> calls; the number of
commands run since a C<redis_command_calls> snapshot (INFO and PING ignored).

=item send_request(REQ), read_response(H, timeout =E<gt> S), read_responses([H...], timeout =E<gt> S)

A request on its own connection, sent now and read later; each response
carries C<elapsed>, the seconds from sending until it was complete (read
several at once with C<read_responses>). Late: status 599.

=item ask_every_worker(REQ), every_worker_says(PATH, STATUS, BODY), worker_answers(PATH)

Batches of 40 requests until every live worker answered; the location must
say which worker it is: C<add_header X-Worker $pid always;>.

=item Dispatch::Test::free_port([ADDR]), Dispatch::Test::free_ports(N, [ADDR])

Free TCP ports on a loopback address (default 127.0.0.1) for servers the
test configures itself; never handed out twice in one process.

=item nginx_children, proc_status(PID), rss_kb(PID), fd_count(PID), thread_count(PID), read_prefix_file(NAME)

Process facts from /proc, and files under the prefix (e.g. another access log).

=back

=cut
