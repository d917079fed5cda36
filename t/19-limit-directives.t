#!/usr/bin/perl
# SPEC 2: the limit, pool and cache directives. `nginx -t` checks each of
# them as nginx checks its own: a bad time, size or number, a missing
# argument, a duplicate or a wrong context is refused with a message naming
# the directive and file:line. A configuration that sets every one of them at
# every level it is allowed at starts and serves. dispatch_script_max_size
# bounds a script, all its modules together.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;

my $LOC = 'location / { dispatch a b; }';

# name => [ contexts it is allowed in, kind of value, a good value ]
my %DIRECTIVES = (
    dispatch_cpu_limit          => [ [qw(http server location)], 'time',   '50ms' ],
    dispatch_startup_cpu_limit  => [ [qw(http)],                 'time',   '1s'   ],
    dispatch_wall_limit         => [ [qw(http server location)], 'time',   '30s'  ],
    dispatch_memory_limit       => [ [qw(http)],                 'size',   '128m' ],
    dispatch_worker_memory      => [ [qw(http)],                 'size',   '2g'   ],
    dispatch_script_concurrency => [ [qw(http server location)], 'number', '64'   ],
    dispatch_isolates           => [ [qw(http)],                 'number', '256'  ],
    dispatch_script_max_size    => [ [qw(http)],                 'size',   '10m'  ],
    dispatch_cache_ttl          => [ [qw(http)],                 'time',   '10s'  ],
    dispatch_stale_ttl          => [ [qw(http)],                 'time',   '1h'   ],
    dispatch_hang_timeout       => [ [qw(http)],                 'time',   '1s'   ],
);
my %BAD = (time => 'soon', size => 'lots', number => 'many');

# the configuration with $line placed in the given context
sub conf_with {
    my ($context, $line) = @_;
    return (http => $line, server => $LOC)                      if $context eq 'http';
    return (server => "$line\n$LOC")                            if $context eq 'server';
    return (server => "location / {\n$line\ndispatch a b;\n}")  if $context eq 'location';
    die "context $context";
}

sub nginx_t {
    my (%args) = @_;
    my ($code, $out, $text) = Dispatch::Test->nginx_test_config(%args);
    return ($code, $out, $text);
}

# the line of $text on which $needle first appears (1-based)
sub line_of {
    my ($text, $needle) = @_;
    my @lines = split /\n/, $text;
    for my $i (0 .. $#lines) { return $i + 1 if index($lines[$i], $needle) >= 0 }
    return 0;
}

for my $name (sort keys %DIRECTIVES) {
    my ($contexts, $kind, $good) = @{ $DIRECTIVES{$name} };

    for my $ctx (@$contexts) {
        my ($code, $out) = nginx_t(conf_with($ctx, "$name $good;"));
        is $code, 0, "$name $good is accepted at $ctx level" or diag $out;
    }

    my $bad = $BAD{$kind};
    my ($code, $out, $text) = nginx_t(conf_with($contexts->[0], "$name $bad;"));
    isnt $code, 0, "$name refuses a bad $kind ($bad)";
    my $line = line_of($text, "$name $bad;");
    like $out, qr/"\Q$name\E".* in \S+nginx\.conf:$line\b/,
        "$name: the message names the directive and file:line ($line)";

    ($code, $out) = nginx_t(conf_with($contexts->[0], "$name;"));
    isnt $code, 0, "$name without a value is refused";
    like $out, qr/invalid number of arguments in "\Q$name\E" directive in \S+nginx\.conf:\d+/,
        "$name: nginx's message for a missing argument";

    ($code, $out) = nginx_t(conf_with($contexts->[0], "$name $good;\n$name $good;"));
    isnt $code, 0, "$name twice in one block is refused";
    like $out, qr/"\Q$name\E" directive is duplicate in \S+nginx\.conf:\d+/, "$name: as a duplicate";

    for my $ctx (grep { my $c = $_; !grep { $_ eq $c } @$contexts } qw(server location)) {
        ($code, $out) = nginx_t(conf_with($ctx, "$name $good;"));
        isnt $code, 0, "$name is refused at $ctx level";
        like $out, qr/"\Q$name\E" directive is not allowed here in \S+nginx\.conf:\d+/,
            "$name at $ctx level: nginx's message";
    }
}

# numbers that make no sense as a bound
for my $case ([ 'dispatch_isolates', '0' ], [ 'dispatch_isolates', '-1' ],
              [ 'dispatch_script_concurrency', '0' ], [ 'dispatch_script_concurrency', '-3' ]) {
    my ($name, $v) = @$case;
    my ($code, $out) = nginx_t(conf_with('http', "$name $v;"));
    isnt $code, 0, "$name $v is refused";
    like $out, qr/"\Q$name\E".* in \S+nginx\.conf:\d+/, "$name $v: the message names the directive";
}

# sizes and times in every unit nginx knows
my ($code, $out) = nginx_t(http => "dispatch_memory_limit 65536k;\ndispatch_worker_memory 1G;\n"
                                 . "dispatch_script_max_size 1048576;\ndispatch_cache_ttl 1500ms;\n"
                                 . "dispatch_stale_ttl 2h;\ndispatch_startup_cpu_limit 1s;",
                           server => $LOC);
is $code, 0, 'sizes in k, G and bytes, times in ms, s and h are accepted' or diag $out;

# every directive at every level it is allowed at: nginx starts and serves
{
    my $t = Dispatch::Test->new(
        http => q{
            dispatch_cpu_limit 100ms;
            dispatch_startup_cpu_limit 1s;
            dispatch_wall_limit 10s;
            dispatch_memory_limit 64m;
            dispatch_worker_memory 512m;
            dispatch_script_concurrency 32;
            dispatch_isolates 16;
            dispatch_script_max_size 4k;
            dispatch_cache_ttl 5s;
            dispatch_stale_ttl 1m;
        },
        server => q{
            dispatch_cpu_limit 80ms;
            dispatch_wall_limit 8s;
            dispatch_script_concurrency 16;
            location ~ ^/t/(?<script>[^/]*) {
                dispatch_cpu_limit 50ms;
                dispatch_wall_limit 5s;
                dispatch_script_concurrency 8;
                dispatch tenants $script;
            }
        },
    );
    $t->put_script('tenants', 'hello', q{
        export default { fetch() { return new Response("hello\n"); } };
    });
    my $r = $t->get('/t/hello');
    is $r->{status}, 200, 'a configuration with every directive at every level starts and serves';
    is $r->{content}, "hello\n", 'with the script\'s answer';

    # dispatch_script_max_size 4k: the script, all modules together
    my $pad = sub { '/*' . ('x' x ($_[0] - 4)) . '*/' };
    $t->put_script('tenants', 'small', $pad->(2000) . q{
        export default { fetch() { return new Response("small\n"); } };
    });
    is $t->get('/t/small')->{content}, "small\n", 'a script under dispatch_script_max_size runs';

    $t->put_script('tenants', 'large', $pad->(8000) . q{
        export default { fetch() { return new Response("large\n"); } };
    });
    $r = $t->get('/t/large');
    is $r->{status}, 500, 'a script over dispatch_script_max_size answers 500';
    is $r->{content}, "exception\n", 'with the short outcome line';
    ok $t->wait_for(sub { $t->error_log =~ /dispatch "tenants\/large".*dispatch_script_max_size/ }),
        'the error log, tagged with the script, names dispatch_script_max_size';

    $t->put_script('tenants', 'modsmall', q{
        import { word } from "./lib.js";
        export default { fetch() { return new Response(word); } };
    }, 'module:lib.js' => $pad->(1000) . 'export const word = "from lib\n";');
    is $t->get('/t/modsmall')->{content}, "from lib\n", 'a script with a module, together under the limit, runs';

    $t->put_script('tenants', 'modlarge', q{
        import { word } from "./lib.js";
        export default { fetch() { return new Response(word); } };
    }, 'module:lib.js' => $pad->(3000) . 'export const word = "from lib\n";',
       'module:more.js' => $pad->(2000) . 'export const other = 1;');
    $r = $t->get('/t/modlarge');
    is $r->{status}, 500, 'modules that each fit but together exceed dispatch_script_max_size answer 500';
    ok $t->wait_for(sub { $t->error_log =~ /dispatch "tenants\/modlarge".*dispatch_script_max_size/ }),
        'and the error log names dispatch_script_max_size';

    is scalar($t->error_log_alerts), 0, 'no alerts or crashes in the error log'
        or diag join "\n", $t->error_log_alerts;
}

done_testing;
