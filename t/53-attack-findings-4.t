#!/usr/bin/perl
# Findings of a fourth attack (branch attack4), found on eb8af57 by a reader
# of README.md only. Each case asserts what the README promises and fails on
# the commit it was found on.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Hostile;
use Time::HiRes qw(sleep);

my $t = hostile_server(budget => 90);

my $logpos;
my $mark = sub { $logpos = length $_[0]->error_log };
my $lines_of = sub {
    my ($t, $slug) = @_;
    return grep { /dispatch "tenants\/\Q$slug\E"/ } split /\n/, substr($t->error_log, $logpos);
};

# ---------------------------------------------------------------------------
# 1. dispatch_log_limit ("console lines one request may write to the error
# log; the rest are counted") does not cover the lines the engine writes for
# the request's own uncaught exceptions in timers: a setInterval callback
# that throws writes one ~270-byte line per firing. 258 lines in 300 ms from
# the handler; from ctx.waitUntil() work, 1572 lines until the CPU limit
# stopped it (dispatch_cpu_limit 50ms); with a larger CPU limit, one per
# millisecond for the 30 s waitUntil allows. (Microtask exceptions and
# console lines are counted: 100 written, then one warning.)
hostile_case($t, 'a throwing setInterval cannot write more lines than dispatch_log_limit',
    setup => $mark,
    js => q{
        export default { async fetch() {
          setInterval(() => { throw new Error('interval'); }, 0);
          await new Promise(r => setTimeout(r, 300));
          return new Response('ok');
        } };
    },
    expect => [[200, 'ok']],
    check => sub {
        my ($r, $t, $slug) = @_;
        my @l = grep { /uncaught exception in a timer/ } $lines_of->($t, $slug);
        cmp_ok(scalar(@l), '<=', 100, 'at most dispatch_log_limit exception lines')
            or diag(scalar(@l) . ' lines, e.g. ' . substr($l[-1] // '', 0, 200));
    });

hostile_case($t, 'a throwing setInterval in waitUntil work cannot flood the error log',
    setup => $mark,
    js => q{
        export default { fetch(req, env, ctx) {
          ctx.waitUntil(new Promise(() => { setInterval(() => { throw new Error('interval'); }, 0); }));
          return new Response('ok');
        } };
    },
    expect => [[200, 'ok']],
    check => sub {
        my ($r, $t, $slug) = @_;
        sleep 1.5;
        # (the slug itself holds "interval": count the exception lines)
        my @l = grep { /uncaught exception in a timer/ } $lines_of->($t, $slug);
        cmp_ok(scalar(@l), '<=', 100, 'at most dispatch_log_limit exception lines')
            or diag(scalar(@l) . ' lines');
    });

# ---------------------------------------------------------------------------
# 2. "Every line a request causes in the error log (console, exceptions,
# limits) names its client and request line": the line a limit writes when
# it stops a request's script does not.
#   [warn] 23613#23613: dispatch "tenants/loop": stopped: exceeded_cpu; 1 request(s) in flight fail with it
hostile_case($t, 'the line a CPU limit writes names the client and the request',
    setup => $mark,
    js => q{ export default { fetch() { for (;;) {} } }; },
    expect => [[503, "exceeded_cpu\n"]],
    check => sub {
        my ($r, $t, $slug) = @_;
        my @l = grep { /exceeded_cpu/ } $lines_of->($t, $slug);
        ok(@l, 'a line says the limit stopped it');
        my @bare = grep { !/client: 127\.0\.0\.1/ || !/request: "GET \/t\/\Q$slug\E HTTP\/1\.1"/ } @l;
        is(scalar(@bare), 0, 'each names client and request line') or diag(join "\n", @bare);
    });

hostile_case($t, 'the line a memory limit writes names the client and the request',
    setup => $mark,
    js => q{ export default { fetch() { const a = []; for (;;) a.push(new Uint8Array(1 << 20)); } }; },
    expect => [[503, "exceeded_memory\n"], [503, "exceeded_cpu\n"]],
    check => sub {
        my ($r, $t, $slug) = @_;
        my @l = grep { /exceeded_/ } $lines_of->($t, $slug);
        ok(@l, 'a line says the limit stopped it');
        my @bare = grep { !/client: 127\.0\.0\.1/ || !/request: "GET \/t\/\Q$slug\E HTTP\/1\.1"/ } @l;
        is(scalar(@bare), 0, 'each names client and request line') or diag(join "\n", @bare);
    });

done_testing;
