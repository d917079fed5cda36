#!/usr/bin/perl
# SPEC 6: platform failures answer a short text/plain line naming the
# outcome; details go to the error log tagged with namespace/script, and the
# body never shows a stack trace or a host path.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;

my $t = Dispatch::Test->new(
    workers => 2,
    server  => q{
        location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; }
        location /ns/ { dispatch $arg_ns app; }
    },
);

sub no_leak {
    my ($r, $what) = @_;
    unlike $r->{content}, qr{\bat \S+:\d+|/tmp/|/usr/|/opt/|worker\.js|Error:}, "$what: the body shows no stack or path";
}

my $r = $t->get('/t/nobody');
is $r->{status}, 404, 'a missing script is 404';
is $r->{content}, "not_found\n", 'with a line naming the outcome';
like $r->{headers}{'content-type'}, qr{^text/plain}, 'as text/plain';

$t->put_script('tenants', 'throws', q{
    export default { fetch() { throw new TypeError('secret detail 7731'); } };
});
$r = $t->get('/t/throws');
is $r->{status}, 500, 'a script that throws is 500';
is $r->{content}, "exception\n", 'named exception';
no_leak($r, 'throw');
ok $t->wait_for(sub { $t->error_log =~ /dispatch "tenants\/throws": uncaught exception: TypeError: secret detail 7731/ }),
    'the exception goes to the error log, tagged';

$t->put_script('tenants', 'deep', "function inner() {\n  throw new Error('deep');\n}\nexport default { fetch() { inner(); } };\n");
is $t->get('/t/deep')->{status}, 500, 'an exception thrown deeper down is 500';
ok $t->wait_for(sub { $t->error_log =~ /"tenants\/deep": uncaught exception: Error: deep; at inner \(worker\.js:2:\d+\); at Object\.fetch \(worker\.js:4:\d+\)/ }),
    'the stack goes to the error log on one line, with the tenant\'s lines';

$t->put_script('tenants', 'rejects', q{
    export default { async fetch() { await null; throw new Error('async failure'); } };
});
$r = $t->get('/t/rejects');
is $r->{status}, 500, 'a rejected promise is 500';
ok $t->wait_for(sub { $t->error_log =~ /"tenants\/rejects": uncaught exception: Error: async failure/ }),
    'and is logged';

$t->put_script('tenants', 'notresp', q{
    export default { fetch() { return { status: 200, body: 'fake' }; } };
});
$r = $t->get('/t/notresp');
is $r->{status}, 500, 'a result that is not a Response is 500';
ok $t->wait_for(sub { $t->error_log =~ /"tenants\/notresp": .*not a Response/ }), 'and the log says why';

$t->put_script('tenants', 'nohandler', q{ export default {}; });
is $t->get('/t/nohandler')->{status}, 500, 'a module without a fetch handler is 500';

$t->put_script('tenants', 'syntax', "export default {\n  fetch() {\n    return new Response('x';\n  }\n};\n");
$r = $t->get('/t/syntax');
is $r->{status}, 500, 'a script that does not compile is 500';
no_leak($r, 'syntax error');
ok $t->wait_for(sub { $t->error_log =~ /"tenants\/syntax": the script failed to start: worker\.js:3: SyntaxError/ }),
    'the error log names the line';

$t->put_script('tenants', 'toplevel', q{
    throw new Error('top-level failure');
    export default { fetch() { return new Response('never'); } };
});
is $t->get('/t/toplevel')->{status}, 500, 'a script whose top level throws is 500';

$t->redis('HSET', 'dispatch:{tenants}:script:nocode', 'etag', 'x');
is $t->get('/t/nocode')->{status}, 500, 'a stored script without code is 500';
ok $t->wait_for(sub { $t->error_log =~ /"tenants\/nocode": the stored script is invalid: the script has no "code" field/ }),
    'and the log says so';

# names outside the charset: 404 without asking Redis
$t->stop_redis;
for my $bad ('/t/Upper', '/t/dot.dot', '/t/', '/ns/?ns=a%2Fb', '/ns/?ns=' . ('a' x 64), '/ns/') {
    $r = $t->get($bad);
    is $r->{status}, 404, "a bad name ($bad) is 404 even with Redis down";
}

# Redis down: 503 store_unavailable, quickly
my $t0 = time;
$r = $t->get('/t/someone');
is $r->{status}, 503, 'with Redis down an uncached script is 503';
is $r->{content}, "store_unavailable\n", 'named store_unavailable';
cmp_ok time - $t0, '<=', 10, 'within ten times the 1 s timeout';
ok $t->wait_for(sub { $t->error_log =~ /dispatch: Redis at 127\.0\.0\.1:\d+ is unavailable/ }),
    'the error log says Redis is unavailable';

# Redis back: requests are served again without a reload
$t->start_redis;
$t->put_script('tenants', 'back', q{ export default { fetch() { return new Response('back'); } }; });
ok $t->wait_for(sub { my $x = $t->get('/t/back'); $x->{status} == 200 && $x->{content} eq 'back' },
                timeout => 15),
    'when Redis returns, scripts are served again';

is scalar($t->error_log_alerts), 0, 'no alerts or crashes in the error log'
    or diag join "\n", $t->error_log_alerts;
done_testing;
