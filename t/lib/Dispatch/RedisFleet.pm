package Dispatch::RedisFleet;

# Redis beyond one server, for the fleet tests (t/96-*.t and up): a Redis
# Cluster of masters with one replica each, or a master and a replica
# watched by Redis Sentinel, on loopback ports picked at run time, every
# process started here and stopped by its PID. Commands go through
# redis-cli (`-c` follows a cluster's redirects).

use strict;
use warnings;

use Carp qw(croak);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use Dispatch::Test;

our $REDIS_CLI      = $ENV{DISPATCH_REDIS_CLI}      || 'redis-cli';

sub _new {
    my ($class, %a) = @_;
    my $dir = tempdir('dispatch-fleet-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    return bless { dir => $dir, pids => {}, %a }, $class;
}

sub _start_server {
    my ($self, $port, @extra) = @_;
    my $d = "$self->{dir}/$port";
    mkdir $d;
    my $pid = Dispatch::Test::_spawn("$d/stdout", $Dispatch::Test::REDIS_SERVER,
        '--bind', '127.0.0.1', '--port', $port, '--save', '', '--appendonly', 'no',
        '--dir', $d, '--logfile', "$d/redis.log",
        # a replica is in sync at once, not after Redis 7's 5 s wait
        '--repl-diskless-sync-delay', '0', @extra);
    $self->{pids}{$port} = $pid;
    my $end = time + 10;
    until (($self->cli_at($port, 'PING') // '') eq 'PONG') {
        croak "Dispatch::RedisFleet: redis on $port did not start:\n" . _slurp("$d/redis.log")
            if time > $end || !Dispatch::Test::_alive($pid);
        sleep 0.05;
    }
    return $pid;
}

# Ports for cluster nodes: Redis Cluster's bus listens on port + 10000, so
# both must be free, and the port at most 55535. Taken from 10000-22000
# (bus 20000-32000), below the kernel's ephemeral range, where the ports
# Dispatch::Test::free_ports hands out live.
my %TAKEN;
sub cluster_ports {
    my ($n) = @_;
    my @ports;
    my $tries = 0;
    while (@ports < $n) {
        die "Dispatch::RedisFleet: no free port pairs" if ++$tries > 10000;
        my $p = 10000 + int(rand(12000));
        next if $TAKEN{$p} || $TAKEN{$p + 10000};
        my @s = map { IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $_,
                                            Proto => 'tcp', Listen => 1, ReuseAddr => 0) }
                ($p, $p + 10000);
        next unless $s[0] && $s[1];
        close $_ for @s;
        $TAKEN{$p} = $TAKEN{$p + 10000} = 1;
        push @ports, $p;
    }
    return @ports;
}

sub _slurp { my ($f) = @_; open my $fh, '<', $f or return ''; local $/; return <$fh> }

# redis-cli against one server; the reply as redis-cli --no-raw prints it
# is awkward to read, so --raw: one line per element.
sub cli_at {
    my ($self, $port, @args) = @_;
    my @cmd = ($REDIS_CLI, '--raw', '-p', $port, @args);
    # "Could not connect" while a server starts is expected: not for the TAP
    open my $saved, '>&', \*STDERR or die $!;
    open STDERR, '>', '/dev/null' or die $!;
    my $ok = open my $fh, '-|', @cmd;
    open STDERR, '>&', $saved or die $!;
    $ok or croak "Dispatch::RedisFleet: cannot run $REDIS_CLI: $!";
    local $/;
    my $out = <$fh>;
    close $fh;
    return undef unless defined $out;
    $out =~ s/\n\z//;
    return $out;
}

# A cluster: masters (3) with replicas (1 each), node timeout 1 s so that a
# failover takes seconds.
sub cluster {
    my ($class, %a) = @_;
    my $self = $class->_new(kind => 'cluster');
    my $masters  = $a{masters}  // 3;
    my $replicas = $a{replicas} // 1;
    my @ports = cluster_ports($masters * (1 + $replicas));
    for my $p (@ports) {
        # the bus port is port + 10000: it must be free too
        $self->_start_server($p, '--cluster-enabled', 'yes',
            '--cluster-config-file', "nodes-$p.conf", '--cluster-node-timeout', '1000',
            '--cluster-replica-validity-factor', '0');
    }
    $self->{ports} = \@ports;
    my $out = `$REDIS_CLI --cluster create @{[ map { "127.0.0.1:$_" } @ports ]} --cluster-replicas $replicas --cluster-yes 2>&1`;
    croak "Dispatch::RedisFleet: cluster create failed:\n$out" if $?;
    $self->wait_cluster_ok or croak "Dispatch::RedisFleet: the cluster did not come up";
    for my $p (@ports) {
        next unless ($self->cli_at($p, 'ROLE') // '') =~ /^slave/;
        $self->wait_in_sync($p) or croak "Dispatch::RedisFleet: replica $p did not sync";
    }
    return $self;
}

sub ports { @{ $_[0]{ports} } }

# "cluster=127.0.0.1:P1,127.0.0.1:P2,…" for dispatch_redis
sub seeds {
    my ($self, @which) = @_;
    @which = $self->ports unless @which;
    return join ',', map { "127.0.0.1:$_" } @which;
}

sub wait_cluster_ok {
    my ($self, $timeout) = @_;
    my $end = time + ($timeout // 20);
    while (time < $end) {
        my $ok = 1;
        for my $p (grep { $self->alive($_) } $self->ports) {
            my $info = $self->cli_at($p, 'CLUSTER', 'INFO') // '';
            $ok = 0 unless $info =~ /cluster_state:ok/;
        }
        return 1 if $ok;
        sleep 0.1;
    }
    return 0;
}

# A command on the cluster, following redirects.
sub cli {
    my ($self, @args) = @_;
    my $port = (grep { $self->alive($_) } $self->ports)[0]
        // croak "Dispatch::RedisFleet: no node alive";
    my @cmd = ($REDIS_CLI, '--raw', '-c', '-p', $port, @args);
    open my $fh, '-|', @cmd or croak "cannot run $REDIS_CLI: $!";
    local $/;
    my $out = <$fh>;
    close $fh;
    $out =~ s/\n\z// if defined $out;
    return $out;
}

# The master of a key's slot: its port.
sub master_of {
    my ($self, $key) = @_;
    my $slot = $self->cli('CLUSTER', 'KEYSLOT', $key);
    for my $p (grep { $self->alive($_) } $self->ports) {
        my $role = $self->cli_at($p, 'ROLE') // '';
        next unless $role =~ /^master/;
        my $nodes = $self->cli_at($p, 'CLUSTER', 'NODES') // '';
        for my $line (split /\n/, $nodes) {
            my @f = split / /, $line;
            next unless $f[2] =~ /myself/ && $f[2] =~ /master/;
            for my $range (@f[8 .. $#f]) {
                my ($a, $b) = split /-/, $range;
                $b //= $a;
                return $p if $a =~ /^\d+$/ && $slot >= $a && $slot <= $b;
            }
        }
    }
    return undef;
}

# The replica of a master, by port.
sub replica_of {
    my ($self, $master) = @_;
    for my $p (grep { $self->alive($_) && $_ != $master } $self->ports) {
        my $role = $self->cli_at($p, 'ROLE') // '';
        my @r = split /\n/, $role;
        return $p if $r[0] eq 'slave' && $r[2] == $master;
    }
    return undef;
}

# Stored as Dispatch::Test::put_script stores it, on the cluster (one slot).
sub put_script {
    my ($self, $ns, $name, $code, %fields) = @_;
    my $key = "dispatch:{$ns}:script:$name";
    my $r = $self->cli('HSET', $key, 'code', $code, %fields);
    croak "put_script: $r" if defined $r && $r =~ /ERR|MOVED/;
    $self->cli('SADD', "dispatch:{$ns}:scripts", $name);
    $self->cli('SADD', 'dispatch:namespaces', $ns);
    return 1;
}

# A master and a replica watched by sentinels (3, quorum 2): a master that
# stays away 1 s is down.
sub sentinel {
    my ($class, %a) = @_;
    my $self = $class->_new(kind => 'sentinel', master_name => $a{master_name} // 'dispatch');
    my $n = $a{sentinels} // 3;
    my ($master, $replica, @sentinels) = Dispatch::Test::free_ports(2 + $n);
    $self->_start_server($master);
    $self->_start_server($replica, '--replicaof', '127.0.0.1', $master);
    $self->wait_in_sync($replica) or croak "Dispatch::RedisFleet: the replica did not sync";
    for my $s (@sentinels) {
        my $d = "$self->{dir}/$s";
        mkdir $d;
        open my $fh, '>', "$d/sentinel.conf" or die $!;
        print $fh <<"CONF";
bind 127.0.0.1
port $s
dir $d
logfile $d/sentinel.log
sentinel monitor $self->{master_name} 127.0.0.1 $master 2
sentinel down-after-milliseconds $self->{master_name} 1000
sentinel failover-timeout $self->{master_name} 5000
sentinel parallel-syncs $self->{master_name} 1
CONF
        close $fh;
        $self->{pids}{$s} = Dispatch::Test::_spawn("$d/stdout", $Dispatch::Test::REDIS_SERVER,
                                                      "$d/sentinel.conf", '--sentinel');
    }
    $self->{ports} = [$master, $replica];
    $self->{sentinels} = \@sentinels;
    my $end = time + 15;
    for my $s (@sentinels) {
        until (($self->cli_at($s, 'SENTINEL', 'get-master-addr-by-name', $self->{master_name}) // '')
               =~ /\Q127.0.0.1\E/) {
            croak "Dispatch::RedisFleet: sentinel $s did not come up" if time > $end;
            sleep 0.1;
        }
    }
    # the sentinels know the replica and each other before a failover works
    $end = time + 15;
    until ((($self->cli_at($sentinels[0], 'SENTINEL', 'replicas', $self->{master_name}) // '') =~ /$replica/)
           && (($self->cli_at($sentinels[0], 'SENTINEL', 'sentinels', $self->{master_name}) // '') =~ /$sentinels[-1]/)) {
        croak "Dispatch::RedisFleet: the sentinels did not learn the set-up" if time > $end;
        sleep 0.1;
    }
    return $self;
}

# A replica's link to its master is up (its first sync is done).
sub wait_in_sync {
    my ($self, $port, $timeout) = @_;
    my $end = time + ($timeout // 15);
    while (time < $end) {
        return 1 if ($self->cli_at($port, 'INFO', 'replication') // '') =~ /master_link_status:up/;
        sleep 0.05;
    }
    return 0;
}

sub sentinel_ports { @{ $_[0]{sentinels} } }
sub master_name { $_[0]{master_name} }

# The master's port, as the sentinels say.
sub sentinel_master {
    my ($self) = @_;
    my $r = $self->cli_at($self->{sentinels}[0], 'SENTINEL', 'get-master-addr-by-name',
                          $self->{master_name}) // '';
    my (undef, $port) = split /\n/, $r;
    return $port;
}

sub alive { my ($self, $port) = @_; return Dispatch::Test::_alive($self->{pids}{$port}) }

# SIGSTOP / SIGCONT a node: it stops answering (and replicating) while its
# connections stay open.
sub signal_node {
    my ($self, $port, $sig) = @_;
    my $pid = $self->{pids}{$port} or croak "no process on $port";
    kill $sig, $pid;
}

sub kill_node {
    my ($self, $port, $sig) = @_;
    my $pid = $self->{pids}{$port} or croak "no process on $port";
    kill $sig // 'KILL', $pid;
    Dispatch::Test::_reap($pid, 10);
    delete $self->{pids}{$port};
}

sub stop {
    my ($self) = @_;
    for my $port (keys %{ $self->{pids} }) {
        my $pid = $self->{pids}{$port};
        kill 'TERM', $pid;
        unless (Dispatch::Test::_reap($pid, 5)) { kill 'KILL', $pid; Dispatch::Test::_reap($pid, 5) }
    }
    $self->{pids} = {};
}

sub DESTROY { $_[0]->stop }

1;
