#!/usr/bin/perl
# A client's Host header reaches a script only when the URL Standard reads
# it as a host (README Containment: request.url is a URL new URL() takes;
# anything else is a 400 before the script). Judged by the web-platform-tests
# vectors in shared/conformance/url/: every http(s)/ws(s) input of
# urltestdata.json whose host is an IPv6 literal or plain ASCII (no `%`,
# which the module refuses outright, as it does bytes above 0x7f: a name
# comes in its ASCII form), and every ASCII input of toascii.json, is sent as
# the Host of a request: the script must answer when the vector parses, 400
# must come when it fails. Plus the IPv6 forms the vectors leave out (a "::"
# that stands for one group, at either end; too many or too few groups).
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP;

my ($shared) = grep { -d "$_/conformance/url" } "$FindBin::Bin/../../shared", '/work/shared';
plan skip_all => 'shared/conformance/url not found beside the repository' unless $shared;

sub vectors {
    my ($file) = @_;
    open my $fh, '<:raw', "$shared/conformance/url/$file" or die "$file: $!";
    local $/;
    return grep { ref $_ eq 'HASH' } @{ JSON::PP->new->decode(<$fh>) };
}
my $ascii = qr/^[\x21-\x24\x26-\x7e]+\z/;   # printable ASCII but `%`
my (%cases, $literals);
for my $row (vectors('urltestdata.json')) {
    next unless $row->{input} =~ m{^(?:https?|wss?)://(\[[^\]/]*\]|[^/?#\[\]@\\]*)(?::\d*)?(?:[/?#\\]|$)};
    my $host = $1;
    next unless $host =~ $ascii;
    $literals++ if $host =~ /^\[/;
    $cases{$host} = $row->{failure} ? 'refused' : 'parsed';
}
for my $row (vectors('toascii.json')) {
    next unless $row->{input} =~ $ascii;
    $cases{$row->{input}} = defined $row->{output} ? 'parsed' : 'refused';
}
ok $literals >= 20, "the vectors hold bracketed hosts ($literals)";
ok keys(%cases) >= 120, 'and ' . scalar(keys %cases) . ' hosts in all';
# nginx's own check refuses a host with an empty label, before any module
# runs: the URL Standard takes these, nginx answers 400.
my %nginx_refuses = map { $_ => 1 } '.', '..', 'foo.09..', 'x..xn--zca';
my %more = (
    '[1:2:3:4:5:6:7::]'   => 'parsed',    # "::" for the last group
    '[::2:3:4:5:6:7:8]'   => 'parsed',    # and for the first
    '[1:2:3::5:6:7:8]'    => 'parsed',
    '[::]'                => 'parsed',
    '[::ffff:1.2.3.4]'    => 'parsed',
    '[1:2:3:4:5:6:1.2.3.4]' => 'parsed',
    '[1:2:3:4:5:6:7:8::]' => 'refused',   # nine groups
    '[1:2:3:4:5:6:7]'     => 'refused',   # seven, no "::"
    '[12345::]'           => 'refused',   # five digits in a group
    '[::1:]'              => 'refused',
    '[1:::2]'             => 'refused',
);
%cases = (%cases, %more);

my $t = Dispatch::Test->new(server => q{ location / { dispatch tenants echo; } });
$t->put_script('tenants', 'echo', q{export default { fetch(request) { return new Response(new URL(request.url).hostname); } };});
for my $host (sort keys %cases) {
    my $r = $t->get('/', headers => { Host => $host });
    if ($nginx_refuses{$host}) {
        is $r->{status}, 400, "Host $host: nginx refuses an empty label (400)";
    } elsif ($cases{$host} eq 'parsed') {
        is $r->{status}, 200, "Host $host: the URL Standard parses it, the script answers";
    } else {
        is $r->{status}, 400, "Host $host: the URL Standard refuses it, 400 before the script";
    }
}
is scalar($t->error_log_alerts), 0, 'no alerts or crashes' or diag join "\n", $t->error_log_alerts;
$t->stop;
done_testing;
