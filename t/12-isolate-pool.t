#!/usr/bin/perl
# SPEC 2: dispatch_isolates N bounds the live isolates of a worker process;
# beyond it the least recently used one is retired - never one with a
# request in flight. A retired tenant comes back from a fresh global state.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use IO::Select;
use Time::HiRes qw(sleep);

my $t = Dispatch::Test->new(
    workers => 1,
    http    => 'dispatch_isolates 3;',
    server  => q{ location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; } },
);
my @workers = $t->worker_pids;

# each tenant counts its requests in a global: "NAME:COUNT"; ?hang never answers
my @tenants = map { "t$_" } 0 .. 9;
for my $name (@tenants, 'holder') {
    $t->put_script('tenants', $name, qq{
        let n = 0;
        export default {
          fetch(request) {
            n++;
            if (new URL(request.url).searchParams.has('hang')) return new Promise(() => {});
            return new Response('$name:' + n);
          }
        };
    });
}

sub visit {
    my @out;
    for my $name (@_) {
        my $r = $t->get("/t/$name");
        push @out, $r->{status} == 200 ? $r->{content} : "$name:status $r->{status}";
    }
    return join(' ', @out);
}

# ten tenants in rotation through a pool of three
my @rounds = map { visit(@tenants) } 1 .. 3;
is $rounds[0], join(' ', map { "$_:1" } @tenants), 'ten tenants through a pool of 3: every request answered by its tenant';
is $rounds[1], join(' ', map { "$_:1" } @tenants),
    'in the second round every tenant starts from fresh global state: its isolate was retired';
is $rounds[2], join(' ', map { "$_:1" } @tenants), 'and in the third';

# the pool now holds t7 t8 t9: they keep their isolates
is visit(qw(t7 t8 t9 t7 t8 t9)), 't7:2 t8:2 t9:2 t7:3 t8:3 t9:3',
    'tenants that fit in the pool keep their isolates and global state';

# least recently used first: t7 t8 t9 -> t0 retires t7; t8 used; t1 retires t9
is visit(qw(t0 t8 t1 t8 t0 t9 t7)), 't0:1 t8:4 t1:1 t8:5 t0:2 t9:1 t7:1',
    'the isolate retired is the least recently used one';

# an isolate with a request in flight is never retired, even when it is the
# least recently used
my $h = $t->send_request({ path => '/t/holder?hang=1' });
sleep 0.3;
is visit(qw(t2 t3 t4 t5)), 't2:1 t3:1 t4:1 t5:1', 'four other tenants are served meanwhile';
ok !IO::Select->new($h->{fh})->can_read(0), 'the request in flight is still waiting, undisturbed';
is visit('holder'), 'holder:2', 'its isolate was kept (global state intact) although least recently used';
close $h->{fh};

# concurrent requests over more tenants than the pool holds
my @reqs = map { +{ path => '/t/' . $tenants[$_ % 10] } } 0 .. 99;
my @res = $t->parallel(\@reqs, concurrency => 100);
my @wrong = grep { $res[$_]{status} != 200 || $res[$_]{content} !~ /^\Q$tenants[$_ % 10]\E:\d+$/ } 0 .. 99;
is scalar(@wrong), 0, '100 concurrent requests over 10 tenants, pool of 3: all answered by the right tenant'
    or diag join "\n", map { "#$_: $res[$_]{status} $res[$_]{content}" } @wrong[0 .. ($#wrong < 9 ? $#wrong : 9)];

is_deeply [ $t->worker_pids ], \@workers, 'the worker process is the same';
is scalar($t->error_log_alerts), 0, 'no alerts or crashes in the error log'
    or diag join "\n", $t->error_log_alerts;
done_testing;
