#!/usr/bin/perl
# A client's Host header that is an IPv6 literal reaches a script only when
# the URL Standard reads it as one (README Containment: request.url is a URL
# new URL() takes; anything else is a 400 before the script). Judged by the
# web-platform-tests vectors in shared/conformance/url/urltestdata.json:
# every http(s) input whose host is in brackets is sent as the Host of a
# request, and the answer must be the script's when the vector parses and
# 400 when it fails. Plus the forms the vectors leave out (a "::" that
# stands for one group, at either end; the longest valid and invalid ones).
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP;

my ($shared) = grep { -d "$_/conformance/url" } "$FindBin::Bin/../../shared", '/work/shared';
plan skip_all => 'shared/conformance/url not found beside the repository' unless $shared;

my %cases;
{
    open my $fh, '<:raw', "$shared/conformance/url/urltestdata.json" or die $!;
    local $/;
    for my $row (@{ JSON::PP->new->decode(<$fh>) }) {
        next unless ref $row eq 'HASH';
        next unless $row->{input} =~ m{^https?://(\[[^\]/]*\])(?::\d*)?(?:[/?#]|$)};
        $cases{$1} = $row->{failure} ? 'refused' : 'parsed';
    }
}
ok keys(%cases) >= 20, 'the vectors hold bracketed hosts (' . scalar(keys %cases) . ')';
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
    if ($cases{$host} eq 'parsed') {
        is $r->{status}, 200, "Host $host: the URL Standard parses it, the script answers";
    } else {
        is $r->{status}, 400, "Host $host: the URL Standard refuses it, 400 before the script";
    }
}
is scalar($t->error_log_alerts), 0, 'no alerts or crashes' or diag join "\n", $t->error_log_alerts;
$t->stop;
done_testing;
