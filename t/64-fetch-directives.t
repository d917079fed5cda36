#!/usr/bin/perl
# SPEC 2, issue 12: the directives of outbound fetch() (dispatch_fetch_allow,
# dispatch_fetch_trusted_certificate, dispatch_subrequest_limit, the fetch
# timeouts and connection bound) are checked by `nginx -t` with file:line
# messages, and $dispatch_subrequests is a variable for log_format.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use File::Temp ();

my $dir = File::Temp::tempdir(CLEANUP => 1);
chmod 0755, $dir;
system("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj '/CN=Test CA' "
       . "-keyout $dir/ca.key -out $dir/ca.pem 2>/dev/null") == 0
    or die "openssl failed";
open my $fh, '>', "$dir/empty.pem" or die $!;
print $fh "not a certificate\n";
close $fh;

my $location = 'location / { dispatch a b; }';

sub config_test {
    my ($http, $server) = @_;
    return Dispatch::Test->nginx_test_config(http => $http, server => $server || $location);
}

my ($code, $out) = config_test(qq{
    dispatch_fetch_allow 10.1.2.0/24 127.0.0.1/32:8443 fd00::/8;
    dispatch_fetch_allow "[::1]/128:8080" 192.168.1.1;
    dispatch_fetch_trusted_certificate $dir/ca.pem;
    dispatch_fetch_connect_timeout 5s;
    dispatch_fetch_send_timeout 30s;
    dispatch_fetch_read_timeout 2m;
    dispatch_fetch_connections 100;
    dispatch_subrequest_limit 10;
}, 'dispatch_subrequest_limit 20; location / { dispatch_subrequest_limit 5; dispatch a b; }');
is $code, 0, 'every fetch directive parses, in several lines and levels' or diag $out;

($code, $out) = config_test('resolver 127.0.0.1 valid=10s;');
is $code, 0, 'the system trust store is the default (no dispatch_fetch_trusted_certificate)'
    or diag $out;

($code, $out) = config_test('dispatch_fetch_allow 10.1.2.3/24;');
isnt $code, 0, 'an entry with host bits set is refused';
like $out, qr/invalid entry "10\.1\.2\.3\/24" in "dispatch_fetch_allow": host bits are set: the network is 10\.1\.2\.0\/24 in \S+nginx\.conf:\d+/,
    'with the reason, the directive and file:line';

($code, $out) = config_test('dispatch_fetch_allow 10.0.0.0/8 example.com;');
isnt $code, 0, 'a host name is no entry';
like $out, qr/invalid entry "example\.com" in "dispatch_fetch_allow": "example\.com" is not an IPv4 or IPv6 address/,
    'and the message says so';

($code, $out) = config_test('dispatch_fetch_allow 127.0.0.1/32:99999;');
isnt $code, 0, 'a port out of range is refused';
like $out, qr/invalid entry "127\.0\.0\.1\/32:99999" in "dispatch_fetch_allow": .*port of 1-65535/,
    'and the message names the port range';

($code, $out) = config_test('dispatch_fetch_allow 10.0.0.0/33;');
like $out, qr/the prefix length must be 0-32 for an IPv4 address/, 'a prefix too long is refused';

($code, $out) = config_test('', 'location / { dispatch_fetch_allow 10.0.0.0/8; dispatch a b; }');
isnt $code, 0, 'dispatch_fetch_allow is refused in a location';
like $out, qr/"dispatch_fetch_allow" directive is not allowed here/, 'with nginx\'s own message';

($code, $out) = config_test("dispatch_fetch_trusted_certificate $dir/missing.pem;");
isnt $code, 0, 'a missing certificate file fails';
like $out, qr/cannot read "\Q$dir\E\/missing\.pem" of "dispatch_fetch_trusted_certificate" \(2: No such file or directory\) in \S+nginx\.conf:\d+/,
    'naming the file, the reason and file:line';

($code, $out) = config_test("dispatch_fetch_trusted_certificate $dir/empty.pem;");
isnt $code, 0, 'a file without a certificate fails';
like $out, qr/no certificate could be loaded from "\Q$dir\E\/empty\.pem" of "dispatch_fetch_trusted_certificate": .* in \S+nginx\.conf:\d+/,
    'naming the file and file:line';

($code, $out) = config_test("dispatch_fetch_trusted_certificate $dir/ca.pem; dispatch_fetch_trusted_certificate $dir/ca.pem;");
like $out, qr/"dispatch_fetch_trusted_certificate" directive is duplicate/, 'a second certificate line is a duplicate';

for my $d ('dispatch_subrequest_limit 0', 'dispatch_fetch_connections 0',
           'dispatch_fetch_connect_timeout 0', 'dispatch_fetch_send_timeout 0',
           'dispatch_fetch_read_timeout 0') {
    my ($name) = $d =~ /^(\S+)/;
    ($code, $out) = config_test("$d;");
    like $out, qr/"\Q$name\E" directive must not be zero/, "$name 0 is refused";
}

($code, $out) = config_test('dispatch_subrequest_limit many;');
like $out, qr/"dispatch_subrequest_limit" directive invalid number/, 'a limit must be a number';

# the variable, and a worker started with every fetch directive
{
    my $t = Dispatch::Test->new(
        http => qq{
            log_format d '\$dispatch_script|\$dispatch_subrequests';
            dispatch_fetch_allow 127.0.0.1/32;
            dispatch_fetch_trusted_certificate $dir/ca.pem;
            dispatch_subrequest_limit 3;
        },
        server => q{
            access_log %%PREFIX%%/dispatch.log d;
            location /t/ { dispatch tenants hello; }
            location /plain { return 200 "plain\n"; }
        },
    );
    $t->put_script('tenants', 'hello', q{ export default { fetch() { return new Response('hello'); } }; });
    is $t->get('/t/')->{content}, 'hello', 'a worker with the fetch directives serves';
    is $t->get('/plain')->{content}, "plain\n", 'and other locations as usual';
    $t->wait_for(sub { ($t->read_prefix_file('dispatch.log') =~ tr/\n//) >= 2 }, timeout => 5);
    my @lines = split /\n/, $t->read_prefix_file('dispatch.log');
    is_deeply \@lines, [ 'hello|0', '-|-' ],
        '$dispatch_subrequests: 0 for a script that fetched nothing, empty elsewhere';
    is scalar($t->error_log_alerts), 0, 'no alert in the error log';
    $t->stop;
}

done_testing;
