#!/usr/bin/perl
# V8's background thread (TurboFan's concurrent compiles, the GC's
# concurrent marking and sweeping) does work no tenant's CPU limit is
# charged for: a script with many large hot functions keeps it busy for
# seconds. It runs ten steps nicer than the worker's own threads, so it
# takes only CPU that nginx's workers leave; the worker's event loop and the
# CPU watchdog keep the worker's priority (worker_priority).
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;

my $t = Dispatch::Test->new(
    workers => 1,
    main    => 'worker_priority 3;',
    server  => q{ location / { dispatch tenants hello; } },
);
$t->put_script('tenants', 'hello', q{ export default { fetch() { return new Response('hello'); } }; });
is $t->get('/')->{content}, 'hello', 'the tenant answers';

my ($worker) = $t->worker_pids;
my %nice;    # thread name => [nice values]
for my $task (glob "/proc/$worker/task/*") {
    open my $fh, '<', "$task/stat" or next;
    my ($comm, $rest) = <$fh> =~ /^\d+ \((.*)\) (.*)$/ or next;
    push @{ $nice{$comm} }, (split / /, $rest)[16];
}
note join ', ', map { "$_: @{ $nice{$_} }" } sort keys %nice;
my @background = @{ $nice{'V8 DefaultWorke'} || [] };
is scalar(@background), 1, 'one V8 background thread';
is $background[0], 13, 'it runs at worker_priority + 10';
is_deeply $nice{nginx}, [3, 3], "the worker's event loop and its CPU watchdog keep worker_priority";

is scalar($t->error_log_alerts), 0, 'no alerts or crashes in the error log'
    or diag join "\n", $t->error_log_alerts;
done_testing;
