#!/usr/bin/perl
# SPEC 2: the variables $dispatch_namespace, $dispatch_script,
# $dispatch_outcome and $dispatch_cpu_ms in a log_format: one access-log line
# per request, with the evaluated names, the outcome (ok, exception,
# exceeded_cpu, exceeded_memory, exceeded_wall, overloaded, not_found,
# store_unavailable) and the CPU milliseconds spent in JavaScript.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;

my $t = Dispatch::Test->new(
    workers    => 1,
    redis_conf => 'dispatch_redis 127.0.0.1:%%REDIS_PORT%% timeout=500ms;',
    http       => q{
        log_format d '$dispatch_namespace|$dispatch_script|$dispatch_outcome|$dispatch_cpu_ms';
        dispatch_memory_limit 32m;
    },
    server => q{
        access_log %%PREFIX%%/dispatch.log d;
        location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; }
        location /n/ { dispatch $arg_ns greet; }
        location ~ ^/w/(?<script>[^/]*) { dispatch_wall_limit 300ms; dispatch tenants $script; }
        location ~ ^/c/(?<script>[^/]*) {
            dispatch_script_concurrency 1;
            dispatch_wall_limit 500ms;
            dispatch tenants $script;
        }
        location ~ ^/m/(?<script>[^/]*) { dispatch_cpu_limit 5s; dispatch tenants $script; }
    },
);

$t->put_script('tenants', 'hello', q{ export default { fetch() { return new Response('hello'); } }; });
$t->put_script('shop', 'greet', q{ export default { fetch() { return new Response('greet'); } }; });
$t->put_script('tenants', 'throws', q{ export default { fetch() { throw new Error('no'); } }; });
$t->put_script('tenants', 'spin', q{ export default { fetch() { for (;;) {} } }; });
$t->put_script('tenants', 'hang', q{ export default { fetch() { return new Promise(() => {}); } }; });
$t->put_script('tenants', 'bomb', q{
    export default { fetch() { const k = []; for (;;) k.push(new ArrayBuffer(8 << 20)); } };
});

my %status;
$status{hello}  = $t->get('/t/hello')->{status};
$status{greet}  = $t->get('/n/?ns=shop')->{status};
$status{nobody} = $t->get('/t/nobody')->{status};
$status{throws} = $t->get('/t/throws')->{status};
$status{spin}   = $t->get('/t/spin', timeout => 20)->{status};
$status{hang}   = $t->get('/w/hang', timeout => 20)->{status};
$status{bomb}   = $t->get('/m/bomb', timeout => 30)->{status};
my @busy = $t->parallel([ map { +{ path => '/c/hang' } } 1 .. 2 ], timeout => 20);
$t->stop_redis;
$status{away}   = $t->get('/t/away', timeout => 20)->{status};

is_deeply \%status, { hello => 200, greet => 200, nobody => 404, throws => 500, spin => 503,
                      hang => 504, bomb => 503, away => 503 },
    'the requests answered as expected';
is_deeply [ sort map { $_->{status} } @busy ], [ 503, 504 ], 'one of two concurrent requests was refused';

my $NUM = qr/\d+(?:\.\d+)?/;
my @lines;
$t->wait_for(sub {
    @lines = split /\n/, $t->read_prefix_file('dispatch.log');
    @lines >= 10;
}, timeout => 5);
is scalar(@lines), 10, 'one line per request in the log' or diag join "\n", @lines;

sub line_for {
    my ($ns, $script) = @_;
    my @l = grep { index($_, "$ns|$script|") == 0 } @lines;
    return wantarray ? @l : $l[0] // '';
}

like line_for('tenants', 'hello'), qr/^tenants\|hello\|ok\|$NUM$/,
    'a request answered by its script: namespace, script, ok, CPU ms';
my ($cpu_ok) = line_for('tenants', 'hello') =~ /\|($NUM)$/;
cmp_ok $cpu_ok // 1e9, '<', 50, 'a trivial script spent less than the 50ms limit';
like line_for('shop', 'greet'), qr/^shop\|greet\|ok\|$NUM$/, 'a namespace taken from a variable is logged as evaluated';
like line_for('tenants', 'nobody'), qr/^tenants\|nobody\|not_found\|(?:$NUM|-)$/, 'a missing script: not_found';
like line_for('tenants', 'throws'), qr/^tenants\|throws\|exception\|$NUM$/, 'a script that throws: exception';
like line_for('tenants', 'spin'), qr/^tenants\|spin\|exceeded_cpu\|$NUM$/, 'a runaway script: exceeded_cpu';
my ($cpu_spin) = line_for('tenants', 'spin') =~ /\|($NUM)$/;
cmp_ok $cpu_spin // 0, '>=', 40, 'its CPU ms show it ran up to the 50ms limit';
like line_for('tenants', 'hang'), qr/^tenants\|hang\|exceeded_wall\|$NUM$/, 'no Response in time: exceeded_wall';
like line_for('tenants', 'bomb'), qr/^tenants\|bomb\|exceeded_memory\|$NUM$/, 'a memory bomb: exceeded_memory';
is scalar(grep { /^tenants\|hang\|overloaded\|(?:$NUM|-)$/ } @lines), 1,
    'a request beyond dispatch_script_concurrency: overloaded';
like line_for('tenants', 'away'), qr/^tenants\|away\|store_unavailable\|(?:$NUM|-)$/, 'Redis down: store_unavailable';

is scalar($t->error_log_alerts), 0, 'no alerts or crashes in the error log'
    or diag join "\n", $t->error_log_alerts;
done_testing;
