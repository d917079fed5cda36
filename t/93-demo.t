#!/usr/bin/perl
# Issue 17, the demo is the product: scripts/demo brings up the platform on
# loopback (router by subdomain, three tenants uploaded through the
# management API with curl, an outside API reached by fetch(), the status
# page where the module has it), every curl command it prints answers what
# it says, and `scripts/demo stop` leaves no process behind.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use File::Temp qw(tempdir);
use JSON::PP ();
use Time::HiRes qw(sleep time);

my $root = $Dispatch::Test::REPO_ROOT;
Dispatch::Test->module_path;    # bails out when the module is not built
my ($port, $upstream, $redis) = Dispatch::Test::free_ports(3);
my $run = tempdir('dispatch-demo-XXXXXX', TMPDIR => 1, CLEANUP => 1);
# Ports and directory of its own, so it collides with neither a running
# demo nor other tests; DEMO_SETUP=0: the module is built already.
my $env = "DEMO_SETUP=0 DEMO_PORT=$port DEMO_UPSTREAM_PORT=$upstream DEMO_REDIS_PORT=$redis DEMO_RUN_DIR=$run";
my $started = 0;
END { system("$env $root/scripts/demo stop >/dev/null 2>&1") if $started }

sub pid_of { my ($f) = @_; open my $fh, '<', $f or return; my $p = <$fh>; chomp $p if defined $p; return $p }
# running: in /proc and not a zombie waiting for its (re)parent
sub running {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return 0;
    my ($state) = (<$fh> // '') =~ /\) (\S)/;
    return defined $state && $state ne 'Z';
}
sub children {
    my ($ppid) = @_;
    my @kids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my ($pid, $parent) = (<$fh> // '') =~ /^(\d+) \(.*\) \S (\d+)/ or next;
        push @kids, $pid if $parent == $ppid;
    }
    return @kids;
}
sub processes_naming_run_dir {
    my @found;
    for my $cmd (glob '/proc/[0-9]*/cmdline') {
        open my $fh, '<', $cmd or next;
        my $line = do { local $/; <$fh> } // '';
        my ($pid) = $cmd =~ m{/proc/(\d+)/};
        push @found, $pid if index($line, $run) >= 0 && running($pid);
    }
    return @found;
}

my $t0 = time;
my $out = `$env $root/scripts/demo 2>&1`;
$started = 1;
is $?, 0, 'scripts/demo starts the platform' or diag $out;
cmp_ok time - $t0, '<', 30, 'and is quick to start';
like $out, qr/nginx on 127\.0\.0\.1:$port .*redis on 127\.0\.0\.1:$redis/, 'on the ports it was given';
my $nginx = pid_of("$run/nginx.pid");
my $redis_pid = pid_of("$run/redis.pid");
ok $nginx && running($nginx), 'nginx runs, its PID in DEMO_RUN_DIR';
ok $redis_pid && running($redis_pid), 'redis-server runs, its PID in DEMO_RUN_DIR';
my @workers = $nginx ? children($nginx) : ();
is scalar(@workers), 2, 'nginx has its 2 workers';

my @commands = $out =~ /^\s+(curl .*)$/mg;
my $json = JSON::PP->new;
sub envelope { my ($text) = @_; my $j = eval { $json->decode($text) }; return $j }

# What each printed command must answer, in the order printed.
my @expect = (
    [ qr{^curl http://counter\.demo\.localhost:$port/ }, 'the KV counter counts its first visit',
      sub { is $_[0], "visit number 1\n", $_[1] } ],
    [ qr{^curl http://quotes\.demo\.localhost:$port/ }, 'the quotes tenant answers what the outside API said, through fetch()',
      sub { like $_[0], qr{^quote of the moment, from http://127\.0\.0\.1:$upstream/quote at \d{4}-\d\d-\d\dT[^:]+:\d\d:\d\d\S*: Simplicity is prerequisite for reliability\.\n\z}, $_[1] } ],
    [ qr{^curl -i http://spin\.demo\.localhost:$port/ }, 'the spinning tenant is stopped: 503 exceeded_cpu',
      sub { like $_[0], qr{\AHTTP/1\.1 503 .*\r\n\r\nexceeded_cpu: Worker "spin" exceeded CPU time limit \(50ms\)\.\n\z}s, $_[1] } ],
    [ qr{^curl http://counter\.demo\.localhost:$port/ }, 'while the counter carries on (second visit)',
      sub { is $_[0], "visit number 2\n", $_[1] } ],
    [ qr{^curl -i http://nobody\.demo\.localhost:$port/ }, 'an unknown subdomain is the router\'s 404',
      sub { like $_[0], qr{\AHTTP/1\.1 404 .*\r\n\r\nno tenant called "nobody" here\n\z}s, $_[1] } ],
    [ qr{^curl -H 'Authorization: Bearer \S+' http://127\.0\.0\.1:$port/client/v4/\S+/namespaces/customers/scripts$},
      'the management API lists the three tenants uploaded with curl',
      sub { my $j = envelope($_[0]);
            is_deeply [ sort map { $_->{id} } @{ ($j && $j->{success} && $j->{result}) || [] } ], [qw(counter quotes spin)], $_[1]
                or diag $_[0] } ],
    [ qr{^curl -X PUT -H 'Authorization: Bearer \S+' http://127\.0\.0\.1:$port/client/v4/\S+/customers/scripts/counter -F .*counter-v2\.js},
      'the printed upload replaces the counter',
      sub { my $j = envelope($_[0]); ok $j && $j->{success} && $j->{result}{id} eq 'counter', $_[1] or diag $_[0] } ],
    [ qr{^curl http://counter\.demo\.localhost:$port/ }, 'the next visit is served by the new version, with the count kept in KV',
      sub { is $_[0], "version 2 says: you are visitor 3\n", $_[1] } ],
);
push @expect, [ qr{^curl http://demo\.localhost:$port/status$}, 'the status page answers with the tenants\' namespace in it',
                sub { like $_[0], qr/customers/, $_[1] } ];

is scalar(@commands), scalar(@expect), 'it prints ' . scalar(@expect) . ' commands to try (the status page too)'
    or diag join "\n", @commands;
for my $i (0 .. $#expect) {
    my ($pattern, $name, $check) = @{ $expect[$i] };
    my $cmd = $commands[$i] // '';
    like $cmd, $pattern, "command " . ($i + 1) . " is the one for: $name";
    # status counters are flushed at most every second: give it two
    my $tries = $cmd =~ m{/status} ? 4 : 1;
    my $answer;
    for (1 .. $tries) {
        # exactly as printed, through a shell as a reader would paste it
        # (stderr: curl's progress meter, shown when stdout is no terminal)
        open my $sh, '-|', 'bash', '-c', "exec 2>/dev/null\n$cmd" or die "bash: $!";
        $answer = do { local $/; <$sh> } // '';
        close $sh;
        last if $answer =~ /customers/ || $tries == 1;
        sleep 0.5;
    }
    $check->($answer, $name);
}
unlike Dispatch::Test::_read_file("$run/error.log"), qr/no "dispatch_secrets_key"/,
    'the demo seals secrets (no warning about plain-text secrets)';

my $stop = `$env $root/scripts/demo stop 2>&1`;
is $?, 0, 'scripts/demo stop succeeds' or diag $stop;
$started = 0;
my $deadline = time + 10;
sleep 0.1 while time < $deadline && grep { running($_) } grep { defined } $nginx, $redis_pid, @workers;
ok !($nginx && running($nginx)), 'the nginx master is gone';
ok !(grep { running($_) } @workers), 'its workers are gone';
ok !($redis_pid && running($redis_pid)), 'redis-server is gone';
is_deeply [ processes_naming_run_dir() ], [], 'no process names the demo\'s directory';
ok !-e "$run/nginx.pid" && !-e "$run/redis.pid", 'and the PID files are removed';

done_testing;
