#!/usr/bin/perl
# SPEC 2: dispatch_quarantine_zone NAME:SIZE [period=TIME]; the shared-memory
# zone of the penalty box. `nginx -t` accepts it in http with or without a
# period and refuses a zone under 8 pages, a bad or too short period, a
# missing :SIZE, an unknown parameter, a duplicate and any other context, each
# with a message naming the directive and file:line. Without the directive,
# a configuration that dispatches gets a default zone of 1m named "dispatch";
# one that does not dispatch gets none. nginx starts with the zone, serves,
# and keeps serving across reloads (the zone's state is handed over).
# The penalty box itself is driven by the engine; its tests come with it.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use POSIX ();

my $D   = 'dispatch_quarantine_zone';
my $LOC = 'location / { dispatch a b; }';

sub nginx_t { return Dispatch::Test->nginx_test_config(@_) }

# the line of $text on which $needle first appears (1-based)
sub line_of {
    my ($text, $needle) = @_;
    my @lines = split /\n/, $text;
    for my $i (0 .. $#lines) { return $i + 1 if index($lines[$i], $needle) >= 0 }
    return 0;
}

# --- accepted
for my $line ("$D q:1m;", "$D q:1m period=5s;", "$D q:32k period=1500ms;",
              "$D penalty_box:4m period=1m;") {
    my ($code, $out) = nginx_t(http => $line, server => $LOC);
    is $code, 0, "'$line' is accepted" or diag $out;
}

{
    my ($code, $out) = nginx_t(http => "$D q:1m;", server => 'location / { return 204; }');
    is $code, 0, 'the directive is accepted without any dispatch location' or diag $out;
}

# --- refused, with the directive and file:line named
my $page = POSIX::sysconf(POSIX::_SC_PAGESIZE()) || 4096;
my $small = 8 * $page - 1;
my $min_k = 8 * $page / 1024;
for my $case (
    [ "$D q:16k;",              qr/zone "q" of "\Q$D\E" is too small: at least ${min_k}k/, 'a zone under 8 pages' ],
    [ "$D q:$small;",           qr/zone "q" of "\Q$D\E" is too small/,                  'a zone one byte under 8 pages' ],
    [ "$D q;",                  qr/invalid zone "q" in "\Q$D\E": expected NAME:SIZE/,   'a zone without :SIZE' ],
    [ "$D :1m;",                qr/invalid zone ":1m" in "\Q$D\E": expected NAME:SIZE/, 'a zone without a name' ],
    [ "$D q:;",                 qr/invalid zone size "q:" in "\Q$D\E"/,                 'an empty size' ],
    [ "$D q:lots;",             qr/invalid zone size "q:lots" in "\Q$D\E"/,             'a bad size' ],
    [ "$D q:1m period=soon;",   qr/invalid period "period=soon" in "\Q$D\E": a time of at least 1s/, 'a bad period' ],
    [ "$D q:1m period=500ms;",  qr/invalid period "period=500ms" in "\Q$D\E"/,          'a period under 1s' ],
    [ "$D q:1m period=0;",      qr/invalid period "period=0" in "\Q$D\E"/,              'a period of 0' ],
    [ "$D q:1m period=;",       qr/invalid period "period=" in "\Q$D\E"/,               'an empty period' ],
    [ "$D q:1m colour=blue;",   qr/invalid parameter "colour=blue" in "\Q$D\E"/,        'an unknown parameter' ],
) {
    my ($line, $re, $what) = @$case;
    my ($code, $out, $text) = nginx_t(http => $line, server => $LOC);
    isnt $code, 0, "$what is refused ($line)";
    my $n = line_of($text, $line);
    like $out, qr/\[emerg\].*$re.* in \S+nginx\.conf:$n\b/, "$what: the message names the directive and file:line"
        or diag $out;
}

{
    my ($code, $out) = nginx_t(http => "$D;", server => $LOC);
    isnt $code, 0, 'the directive without a zone is refused';
    like $out, qr/invalid number of arguments in "\Q$D\E" directive in \S+nginx\.conf:\d+/,
        "nginx's message for a missing argument";

    ($code, $out) = nginx_t(http => "$D q:1m period=5s extra;", server => $LOC);
    isnt $code, 0, 'a third argument is refused';
    like $out, qr/invalid number of arguments in "\Q$D\E" directive/, "with nginx's message";

    ($code, $out) = nginx_t(http => "$D q:1m;\n$D r:1m;", server => $LOC);
    isnt $code, 0, 'a second zone is refused';
    like $out, qr/"\Q$D\E" directive is duplicate in \S+nginx\.conf:\d+/, 'as a duplicate';

    ($code, $out) = nginx_t(server => "$D q:1m;\n$LOC");
    isnt $code, 0, 'the directive at server level is refused';
    like $out, qr/"\Q$D\E" directive is not allowed here in \S+nginx\.conf:\d+/, "with nginx's message";

    ($code, $out) = nginx_t(server => "location / {\n$D q:1m;\ndispatch a b;\n}");
    isnt $code, 0, 'the directive at location level is refused';
    like $out, qr/"\Q$D\E" directive is not allowed here/, "with nginx's message";

    ($code, $out) = nginx_t(main => "$D q:1m;", server => $LOC);
    isnt $code, 0, 'the directive outside http is refused';
    like $out, qr/"\Q$D\E" directive is not allowed here in \S+nginx\.conf:\d+/, "with nginx's message";

    ($code, $out) = nginx_t(http => "limit_req_zone \$binary_remote_addr zone=q:1m rate=1r/s;\n$D q:1m;",
                            server => $LOC);
    isnt $code, 0, "a name another module's zone has is refused";
    like $out, qr/shared memory zone "q" is already declared for a different use/, "with nginx's message";
}

# --- the shared mappings of a worker (rw-s), as sizes in bytes
sub shared_mappings {
    my ($pid) = @_;
    no warnings 'portable';    # 64-bit addresses
    open my $fh, '<', "/proc/$pid/maps" or return ();
    my @sizes;
    while (my $l = <$fh>) {
        my ($from, $to, $perms) = $l =~ /^([0-9a-f]+)-([0-9a-f]+) (\S+)/ or next;
        push @sizes, hex($to) - hex($from) if $perms eq 'rw-s';
    }
    return @sizes;
}

my $TLOC = q{
    location ~ ^/t/(?<script>[^/]*) {
        add_header X-Worker $pid always;
        dispatch tenants $script;
    }
};

# --- no dispatch location: no zone
{
    my $t = Dispatch::Test->new(server => 'location / { return 204; }');
    my ($w) = $t->worker_pids;
    ok $w, 'nginx without dispatch locations starts';
    ok !(grep { $_ == 1024 * 1024 } shared_mappings($w)),
        'and maps no zone of 1m' or diag join ' ', shared_mappings($w);
    $t->stop;
}

# --- the default zone; reloads keep serving
{
    my $t = Dispatch::Test->new(workers => 2, server => $TLOC);
    $t->put_script('tenants', 'hello', q{
        export default { fetch() { return new Response("hello\n"); } };
    });
    ok $t->every_worker_says('/t/hello', 200, "hello\n"), 'with the default zone, every worker serves';
    my ($w) = $t->worker_pids;
    ok((grep { $_ == 1024 * 1024 } shared_mappings($w)), 'a worker maps the default zone of 1m')
        or diag join ' ', shared_mappings($w);

    $t->reload;
    ok $t->every_worker_says('/t/hello', 200, "hello\n"), 'after a reload, every worker serves';

    $t->reload(http => "$D penalty:2m period=5s;");
    ok $t->every_worker_says('/t/hello', 200, "hello\n"), 'after a reload to a named zone of 2m, every worker serves';
    ($w) = $t->worker_pids;
    ok((grep { $_ == 2 * 1024 * 1024 } shared_mappings($w)), 'a worker maps the zone of 2m')
        or diag join ' ', shared_mappings($w);

    $t->reload(http => "$D penalty:2m period=30s;");
    ok $t->every_worker_says('/t/hello', 200, "hello\n"), 'after a reload that keeps the zone and changes the period, every worker serves';

    $t->reload;
    ok $t->every_worker_says('/t/hello', 200, "hello\n"), 'and after one more reload';

    # a worker that dies is replaced, and the zone serves the new one
    my @before = $t->worker_pids;
    kill 'KILL', $before[0];
    ok $t->wait_for(sub { my @now = $t->worker_pids; @now == 2 && !grep { $_ == $before[0] } @now }),
        'a killed worker is replaced';
    ok $t->every_worker_says('/t/hello', 200, "hello\n"), 'and every worker serves';

    is scalar($t->error_log_alerts), 1, 'no alerts but the killed worker in the error log'
        or diag join "\n", $t->error_log_alerts;
}

done_testing;
