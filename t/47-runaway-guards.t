#!/usr/bin/perl
# Issue 9: the builtins an attacker can make uninterruptible are refused
# before they run (engine/js/runaway_guards.js): each throws a RangeError the
# script can catch, within 10x the CPU limit, and the worker lives on.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Time::HiRes qw(time);

my $t = Dispatch::Test->new(
    workers => 1,
    http    => 'dispatch_cpu_limit 50ms;',
    server  => q{ location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; } },
);
my @workers = $t->worker_pids;
$t->put_script('tenants', 'good', q{ export default { fetch() { return new Response('good'); } }; });

# Each runaway, run inside try/catch: the script reports what it caught.
sub refused_in_time {
    my ($name, $what, $js) = @_;
    $t->put_script('tenants', $name, qq{
        export default {
          fetch() {
            try { $js; return new Response('ran'); }
            catch (e) { return new Response(e.name); }
          }
        };
    });
    my $t0 = time;
    my $r = $t->get("/t/$name", timeout => 30);
    my $took = time - $t0;
    is "$r->{status} $r->{content}", '200 RangeError', "$what throws a RangeError the script catches";
    cmp_ok $took, '<', 0.5, sprintf("$what: within 10x the CPU limit (%.3fs)", $took);
    is_deeply [ $t->worker_pids ], \@workers, "$what: the worker lives on";
    is $t->get('/t/good')->{content}, 'good', "$what: a good tenant answers right after";
}

refused_in_time('lastindexof', 'generic lastIndexOf over a length of 2**53 - 1',
    q{Array.prototype.lastIndexOf.call({ length: 2 ** 53 - 1 }, 1)});
refused_in_time('generic-join', 'generic join over 2**26',
    q{Array.prototype.join.call({ length: 2 ** 26 }, ',')});
refused_in_time('holey-join', 'join of a holey array of length 2**30',
    q{new Array(2 ** 30).join('x')});
refused_in_time('json-parse', 'JSON.parse of 40 MB',
    q{JSON.parse('[' + '1,'.repeat(2e7) + '1]')});
refused_in_time('typed-sort', 'sorting a 4e6-element typed array',
    q{new Float64Array(4e6).sort()});
refused_in_time('repeat', 'a repeated string longer than the memory limit holds',
    q{'ab'.repeat(2 ** 28).indexOf('c')});
refused_in_time('string-lastindexof', 'a quadratic String.prototype.lastIndexOf',
    q{'a'.repeat(2e5).lastIndexOf('a'.repeat(1e5) + 'b')});
refused_in_time('fill', 'fill of a dictionary-mode array',
    q{new Array(6e7).fill(1.5)});

# What fits is not refused.
$t->put_script('tenants', 'fits', q{
    export default {
      fetch() {
        const parsed = JSON.parse('[' + '1,'.repeat(5e5) + '1]');
        const sorted = new Float64Array(1e5).sort();
        const joined = new Array(1e5).join('x');
        return new Response([parsed.length, sorted.length, joined.length].join(' '));
      }
    };
});
is $t->get('/t/fits')->{content}, '500001 100000 99999', 'the same builtins on inputs that fit run as ever';

# Libraries that detect native functions by their source still see native code.
$t->put_script('tenants', 'native-source', q{
    export default {
      fetch() {
        const guarded = [Array.prototype.fill, Array.prototype.map, JSON.parse, Array.from,
                         Function.prototype.apply, Function.prototype.toString, Intl.DateTimeFormat];
        return new Response(guarded.map((f) => /\{ \[native code\] \}$/.test(Function.prototype.toString.call(f))).join(' '));
      }
    };
});
is $t->get('/t/native-source')->{content}, join(' ', ('true') x 7), 'guarded builtins still read as native code';

# Throwing a 100 MB string: the log line about it is bounded, the worker lives.
$t->put_script('tenants', 'throw-big', q{ export default { fetch() { throw 'x'.repeat(1e8); } }; });
my $r = $t->get('/t/throw-big', timeout => 30);
is "$r->{status} $r->{content}", "500 exception\n", 'throwing a 100 MB string answers 500 exception';
my ($line) = grep { /throw-big.*uncaught exception/ } split /\n/, $t->error_log;
cmp_ok length($line // ''), '<', 8192, 'and its log line is bounded';
is_deeply [ $t->worker_pids ], \@workers, 'the worker is the same throughout';
is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;

$t->stop;
done_testing;
