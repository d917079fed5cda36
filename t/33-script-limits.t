#!/usr/bin/perl
# SPEC 2: dispatch_log_limit bounds the console lines a request writes (the
# rest are counted, not written), and a script's metadata.limits.cpu_ms
# bounds it together with dispatch_cpu_limit: the smaller applies.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;

my $t = Dispatch::Test->new(
    http   => q{
        dispatch_log_limit 5;
        log_format limits '$dispatch_script $dispatch_outcome $dispatch_cpu_ms';
    },
    server => q{
        access_log %%PREFIX%%/limits.log limits;
        location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; }
        location ~ ^/loose/(?<script>[^/]*) { dispatch_cpu_limit 5s; dispatch tenants $script; }
    },
);

$t->put_script('tenants', 'chatty', q{
    export default {
      fetch(request) {
        const tag = new URL(request.url).searchParams.get('tag');
        for (let i = 1; i <= 20; i++) console.log(`${tag} line ${i}`);
        return new Response('logged');
      }
    };
});

sub lines_of { my ($tag) = @_; my @l = $t->error_log =~ /console: \Q$tag\E line (\d+)/g; return @l; }

is $t->get('/t/chatty?tag=first')->{content}, 'logged', 'a request logging 20 lines answers';
ok $t->wait_for(sub { $t->error_log =~ /"tenants\/chatty": 15 line\(s\) past dispatch_log_limit \(5\) were not written/ }),
    'the lines past the limit are counted in one warning';
is_deeply [lines_of('first')], [1 .. 5], 'only the first 5 lines are written';
$t->get('/t/chatty?tag=second');
ok $t->wait_for(sub { lines_of('second') == 5 }), 'the limit is per request: the next one writes 5 again';

# metadata.limits.cpu_ms tighter than the location
$t->put_script('tenants', 'tight', q{ export default { fetch() { for (;;) {} } }; },
               metadata => '{"limits": {"cpu_ms": 20}}');
my $r = $t->get('/loose/tight');
is $r->{status}, 503, 'a script over its own metadata.limits.cpu_ms is stopped';
is $r->{content}, "exceeded_cpu\n", 'with exceeded_cpu';
ok $t->wait_for(sub { $t->read_prefix_file('limits.log') =~ /^tight exceeded_cpu (\d+)\.\d+$/m && $1 < 1000 }),
    'at its own 20 ms, long before the location\'s 5 s';

# a script asking for more than the location allows gets the location's
$t->put_script('tenants', 'greedy', q{ export default { fetch() { for (;;) {} } }; },
               metadata => '{"limits": {"cpu_ms": 60000}}');
$r = $t->get('/t/greedy');
is $r->{status}, 503, 'a script asking for more CPU than its location allows';
ok $t->wait_for(sub { $t->read_prefix_file('limits.log') =~ /^greedy exceeded_cpu (\d+)\.\d+$/m && $1 < 1000 }),
    'is stopped at the location\'s 50 ms';

my ($code, $out) = Dispatch::Test->nginx_test_config(http => 'dispatch_log_limit 0;',
                                                    server => 'location / { dispatch a b; }');
isnt $code, 0, 'dispatch_log_limit 0 is refused';
like $out, qr/"dispatch_log_limit" directive must not be zero in \S+nginx\.conf:\d+/, 'naming the directive';

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
done_testing;
