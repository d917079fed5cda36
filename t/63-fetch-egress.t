#!/usr/bin/perl
# Issue 12: the egress policy no tenant can get around (SSRF). This test runs
# in a network namespace of its own: it re-execs itself under
# `unshare --net`, brings `lo` up, and runs nginx, redis, the upstreams, a
# test DNS server (Dispatch::TestDNS, named by `resolver`) and the client
# inside it, so a regression can never send a packet anywhere else.
#
# Without any dispatch_fetch_allow, every spelling of a loopback, private,
# link-local, CGNAT, multicast, unspecified, IPv4-mapped and NAT64 address,
# a name that resolves to one, and a name with one such address among public
# ones, is refused with a TypeError before a byte is sent (the upstream
# listening there accepts no connection); a public address passes the
# policy (and only fails to connect in the empty namespace).
# With `dispatch_fetch_allow 127.0.0.2/32:PORT`: exactly that port opens,
# a redirect from it to a refused address is refused, and a name that
# changes to a refused address is refused once it does.
# Without `resolver`, a name fails with a TypeError naming the directive.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";

BEGIN {
    unless ($ENV{DISPATCH_TEST_NETNS} || $^C) {    # (perl -c only compiles)
        if ($> != 0 || system('unshare --net true >/dev/null 2>&1') != 0) {
            plan skip_all => 'the SSRF tests run in a network namespace of their own, and '
                . '`unshare --net` is not possible here (it needs root, as in CI)';
        }
        $ENV{DISPATCH_TEST_NETNS} = 1;
        exec 'unshare', '--net', '--', $^X, (map { "-I$_" } grep { !ref } @INC), $0, @ARGV;
        die "exec unshare: $!";
    }
}

use Dispatch::Test;
use Dispatch::TestDNS;
use Dispatch::TestUpstream;
use JSON::PP qw(encode_json);
use Time::HiRes qw(sleep);
no strict 'refs';    # a check that threw is a string: looking into it gives undef

# ---- the namespace ----

system('ip', 'link', 'set', 'lo', 'up') == 0 or BAIL_OUT('cannot bring lo up in the new network namespace');
my @links = `ip -o link show`;
is scalar(@links), 1, 'this network namespace has one interface' or diag @links;
like $links[0] // '', qr/^\d+: lo: .*\bUP\b/, '... lo, up';
unlike scalar(`ip route show table all`), qr/^default/m, 'and no route out of it';

# ---- the servers ----

# Where a refused fetch would land: 127.0.0.1 and ::1 on one port (0.0.0.0,
# [::] and the IPv4-mapped spellings reach these as well).
my $victim   = Dispatch::TestUpstream->new(addr => '127.0.0.1');
my $P1       = $victim->port;
my $victim6  = Dispatch::TestUpstream->new(addr => '::1', port => $P1);
# The platform's own service, opened in the second configuration, and
# another port of the same address, which stays closed.
my $allowed  = Dispatch::TestUpstream->new(addr => '127.0.0.2');
my $P2       = $allowed->port;
my $closed   = Dispatch::TestUpstream->new(addr => '127.0.0.2');
my $P3       = $closed->port;
# what the rebinding name turns to: 127.0.0.1 on the allowed port
my $victim2  = Dispatch::TestUpstream->new(addr => '127.0.0.1', port => $P2);

my $dns = Dispatch::TestDNS->new(records => {
    'localhost'                => ['127.0.0.1'],
    'api.payments-example.com' => ['127.0.0.1'],            # public-looking, resolves to loopback
    'metadata.example.com'     => ['169.254.169.254'],
    'mixed.example.com'        => ['8.8.8.8', '127.0.0.1'], # one public, one loopback
    'mixed6.example.com'       => ['8.8.8.8', '::1'],
    'v6only.example.com'       => ['::1'],
    'public.example.com'       => ['8.8.8.8'],
    'svc.internal.test'        => ['127.0.0.2'],
    'rebind.example.com'       => ['127.0.0.2'],
});

my $BASE_HTTP = qq{
    dispatch_subrequest_limit 200;
    dispatch_wall_limit 20s;};
my $t = Dispatch::Test->new(
    http   => $BASE_HTTP . "\n    " . $dns->resolver_directive,
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; } },
);
like $t->config_text, qr/resolver 127\.0\.0\.1:\d+/, 'nginx names the test DNS server';
unlike $t->config_text, qr/dispatch_fetch_allow/, 'the first configuration has no dispatch_fetch_allow';

# Runs each URL through fetch() in one request; returns name => "fetched STATUS"
# or "threw NAME: message".
sub attempt_all {
    my ($name, %urls) = @_;
    return $t->run_checks('tenants', $name, 'const URLS = ' . encode_json(\%urls) . ';' . q{
        export default { fetch() {
          return results(Object.fromEntries(Object.entries(URLS).map(([k, u]) =>
            [k, () => fetch(u).then(async (r) => `fetched ${r.status} ${await r.text()}`)])));
        } };
    });
}
my $REFUSED = qr/^threw TypeError: .*(not allowed|dispatch_fetch_allow)/i;

# ---- without any allowance: every spelling refused ----

my %spellings = (
    '127.0.0.1'                  => "http://127.0.0.1:$P1/s/plain",
    '127.1 (short form)'         => "http://127.1:$P1/s/short",
    '2130706433 (decimal)'       => "http://2130706433:$P1/s/decimal",
    '0x7f.0.0.1 (hex)'           => "http://0x7f.0.0.1:$P1/s/hex",
    '0177.0.0.1 (octal)'         => "http://0177.0.0.1:$P1/s/octal",
    '127.0.0.2 (all of 127/8)'   => "http://127.0.0.2:$P2/s/127-2",
    'https://127.0.0.1'          => "https://127.0.0.1:$P1/s/https",
    '[::1]'                      => "http://[::1]:$P1/s/v6-loopback",
    '[::ffff:127.0.0.1]'         => "http://[::ffff:127.0.0.1]:$P1/s/v4-mapped",
    '[::ffff:7f00:1]'            => "http://[::ffff:7f00:1]:$P1/s/v4-mapped-hex",
    '[64:ff9b::7f00:1] (NAT64)'  => "http://[64:ff9b::7f00:1]:$P1/s/nat64",
    '[::] (unspecified)'         => "http://[::]:$P1/s/v6-unspecified",
    '0.0.0.0'                    => "http://0.0.0.0:$P1/s/unspecified",
    '10.0.0.1'                   => "http://10.0.0.1:$P1/s/10",
    '172.16.0.1'                 => "http://172.16.0.1:$P1/s/172",
    '192.168.0.1'                => "http://192.168.0.1:$P1/s/192",
    '169.254.169.254 (metadata)' => "http://169.254.169.254/latest/meta-data/",
    '100.64.0.1 (CGNAT)'         => "http://100.64.0.1:$P1/s/cgnat",
    '[fe80::1] (link-local)'     => "http://[fe80::1]:$P1/s/v6-link-local",
    '[fc00::1] (unique local)'   => "http://[fc00::1]:$P1/s/v6-ula",
    '224.0.0.1 (multicast)'      => "http://224.0.0.1:$P1/s/multicast",
    'localhost (DNS)'            => "http://localhost:$P1/s/localhost",
    'a public-looking name resolving to 127.0.0.1' => "http://api.payments-example.com:$P1/s/public-looking",
    'a name resolving to 169.254.169.254'          => "http://metadata.example.com/latest/meta-data/",
    'a name resolving to ::1'                      => "http://v6only.example.com:$P1/s/v6-name",
    'a name: one public, one loopback address'     => "http://mixed.example.com:$P1/s/mixed",
    'a name: one public, one ::1'                  => "http://mixed6.example.com:$P1/s/mixed6",
);
my $c = attempt_all('refused', %spellings);
is scalar(keys %$c), scalar(keys %spellings), 'every spelling was tried';
for my $k (sort keys %spellings) {
    like $c->{$k}, $REFUSED, "$k: refused with a TypeError";
}
like $c->{'127.0.0.1'}, qr/127\.0\.0\.1/, 'the message names the address';
like $c->{'10.0.0.1'}, qr/10\.0\.0\.1/, '... 10.0.0.1 too';
like $c->{'a public-looking name resolving to 127.0.0.1'}, qr/127\.0\.0\.1/, '... and the address a name resolved to';
is $victim->accepts, 0, 'the upstream on 127.0.0.1 accepted no connection';
is $victim6->accepts, 0, 'the upstream on ::1 accepted no connection';
is $allowed->accepts, 0, 'the one on 127.0.0.2 neither';
my %asked = map { ($_->[0] => 1) } $dns->queries;
ok $asked{'api.payments-example.com'} && $asked{'mixed.example.com'}, 'the names were resolved through the test DNS server';

# the policy refuses by address, not everything: public ones pass it and only
# fail to connect here, where nothing leads out
$c = attempt_all('public', 'a public address' => "http://8.8.8.8:$P1/", 'a public name' => "http://public.example.com:$P1/");
for my $k ('a public address', 'a public name') {
    like $c->{$k}, qr/^threw TypeError/, "$k: fails in this namespace";
    unlike $c->{$k}, qr/not allowed|dispatch_fetch_allow/i, '... but not by the policy';
}

# ---- with dispatch_fetch_allow 127.0.0.2/32:P2 ----

$t->reload(http => $BASE_HTTP . "\n    " . $dns->resolver_directive . "\n    dispatch_fetch_allow 127.0.0.2/32:$P2;");
$c = attempt_all('allowed',
    'the allowed address and port'      => "http://127.0.0.2:$P2/echo/allowed",
    'a name resolving to it'            => "http://svc.internal.test:$P2/echo/by-name",
    'another port of that address'      => "http://127.0.0.2:$P3/echo/other-port",
    '127.0.0.1, still'                  => "http://127.0.0.1:$P1/s/still",
    'a redirect to 127.0.0.1'           => "http://127.0.0.2:$P2/redirect/302?to=" . uri("http://127.0.0.1:$P1/s/redirected"),
    'a redirect to localhost'           => "http://127.0.0.2:$P2/redirect/307?to=" . uri("http://localhost:$P1/s/redirected-name"),
    'a redirect to 127.0.0.1, same port' => "http://127.0.0.2:$P2/redirect/301?to=" . uri("http://127.0.0.1:$P2/s/same-port"),
);
like $c->{'the allowed address and port'}, qr/^fetched 200 /, "dispatch_fetch_allow 127.0.0.2/32:$P2 opens that address and port";
like $c->{'a name resolving to it'}, qr/^fetched 200 /, '... reached by a name as well';
like $c->{'another port of that address'}, $REFUSED, 'another port of the same address stays refused';
is $closed->accepts, 0, '... its upstream accepted no connection';
like $c->{'127.0.0.1, still'}, $REFUSED, 'addresses outside the allowance stay refused';
like $c->{'a redirect to 127.0.0.1'}, $REFUSED, 'a redirect from the allowed upstream to 127.0.0.1 is refused';
like $c->{'a redirect to localhost'}, $REFUSED, '... to a name that resolves to it as well';
like $c->{'a redirect to 127.0.0.1, same port'}, $REFUSED, '... and to 127.0.0.1 on the allowed port';
is scalar($allowed->requests_for(qr{^/redirect/})), 3, 'the allowed upstream was asked and answered with the redirects';
is $victim->accepts, 0, 'the upstream on 127.0.0.1 still accepted no connection';
is $victim2->accepts, 0, '... nor the one on 127.0.0.1, port ' . $P2;

# a name checked on every resolution: it changes to a refused address
$c = attempt_all('rebind-1', 'first' => "http://rebind.example.com:$P2/close");
like $c->{first}, qr/^fetched 200 bye/, 'a name that resolves to the allowed address is fetched';
$dns->set('rebind.example.com' => ['127.0.0.1']);
sleep 2.2;    # resolver valid=1s
$c = attempt_all('rebind-2', 'then' => "http://rebind.example.com:$P2/s/rebound");
like $c->{then}, $REFUSED, 'once it resolves to 127.0.0.1, it is refused';
is $victim2->accepts, 0, '... and 127.0.0.1 accepted no connection';

# ---- without a resolver ----

$t->reload(http => $BASE_HTTP . "\n    dispatch_fetch_allow 127.0.0.2/32:$P2;");
unlike $t->config_text, qr/\bresolver\b/, 'a configuration without `resolver`';
$c = attempt_all('no-resolver',
    'a name'        => "http://svc.internal.test:$P2/echo/no-resolver",
    'an IP address' => "http://127.0.0.2:$P2/echo/no-resolver-ip",
);
like $c->{'a name'}, qr/^threw TypeError: .*\bresolver\b/, 'a name fails with a TypeError naming the resolver directive';
like $c->{'an IP address'}, qr/^fetched 200 /, 'an IP address needs no resolver';

is $victim->accepts + $victim6->accepts + $victim2->accepts, 0, 'in all, no refused address accepted a connection';
is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
$_->stop for $victim, $victim6, $allowed, $closed, $victim2;
$dns->stop;
done_testing;

sub uri { my ($s) = @_; $s =~ s/([^A-Za-z0-9._~-])/sprintf '%%%02X', ord $1/ge; return $s }
