#!/usr/bin/perl
# Issue 17, the Debian package: scripts/package builds
# libnginx-mod-http-dispatch_VERSION_ARCH.deb with dh and dh_nginx; it names
# libnode108 and the other runtime libraries in Depends, holds the module,
# its load snippet and the directive docs where Debian's libnginx-mod-*
# packages put them, carries no RPATH, and the module it unpacks loads into
# the stock nginx through that snippet. `apt-get install` of it runs only
# where apt can install libnode108.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use File::Temp qw(tempdir);

my $root = $Dispatch::Test::REPO_ROOT;
for my $tool (qw(dpkg-buildpackage dh dh_nginx chrpath readelf)) {
    plan skip_all => "$tool is not installed (scripts/setup-deps installs it)"
        unless system("command -v $tool >/dev/null 2>&1") == 0;
}

my $tmp = tempdir('dispatch-package-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $arch = `dpkg --print-architecture`; chomp $arch;
my $version = `dpkg-parsechangelog -l $root/debian/changelog -S Version`; chomp $version;

# --reuse-build packages the module the other tests run against, as it is (a clean
# build of a second copy takes minutes); everything lands in $tmp.
my $out = `PACKAGE_DIR=$tmp/out $root/scripts/package --reuse-build 2>&1`;
is $?, 0, 'scripts/package --reuse-build succeeds' or diag $out;
my ($deb) = $out =~ m{^(/\S+\.deb)$}m;
ok $deb && -f $deb, 'it prints the path of the .deb it made' or diag $out;
$deb //= '';
like $deb, qr{/libnginx-mod-http-dispatch_\Q$version\E_\Q$arch\E\.deb$},
    "named libnginx-mod-http-dispatch_${version}_$arch.deb";
ok !-e "$root/libnginx-mod-http-dispatch_${version}_$arch.deb" && !-e "$root/../libnginx-mod-http-dispatch_${version}_$arch.deb",
    'nothing is written to the repository root or beside it';

my $info = `dpkg-deb --info $deb 2>&1`;
my ($depends) = $info =~ /^ Depends: (.*)$/m;
$depends //= '';
like $depends, qr/(^|, )libnode108(,|$)/, 'Depends names libnode108' or diag $info;
for my $lib (qw(libhiredis0.14 libjansson4 libssl3 zlib1g libicu72)) {
    like $depends, qr/(^|, )\Q$lib\E\b/, "Depends names $lib";
}
like $depends, qr/(^|, )nginx-abi-[\d.]+-\d+/, 'and the nginx ABI it was built for (dh_nginx)';
like $info, qr/^ Section: httpd$/m, 'in section httpd, as Debian\'s nginx modules';

my $contents = `dpkg-deb --contents $deb 2>&1`;
like $contents, qr{ \./usr/lib/nginx/modules/ngx_http_dispatch_module\.so$}m, 'it holds the module in nginx\'s module directory';
like $contents, qr{ \./usr/share/nginx/modules-available/mod-http-dispatch\.conf$}m,
    'and its load snippet in /usr/share/nginx/modules-available';
like $contents, qr{ \./usr/share/doc/libnginx-mod-http-dispatch/README\.md(\.gz)?$}m, 'and the README with the directives';
like $contents, qr{ \./usr/share/doc/libnginx-mod-http-dispatch/examples/router\.conf$}m, 'and the conf-examples';

my $ctl = "$tmp/control";
system('dpkg-deb', '-e', $deb, $ctl) == 0 or diag 'dpkg-deb -e failed';
my $postinst = -f "$ctl/postinst" ? do { local (@ARGV, $/) = "$ctl/postinst"; <> } : '';
like $postinst, qr/50-mod-http-dispatch\.conf/, 'the postinst enables it in modules-enabled (dh_nginx)';

my $x = "$tmp/x";
is system('dpkg-deb', '-x', $deb, $x), 0, 'dpkg-deb -x unpacks it';
my $so = "$x/usr/lib/nginx/modules/ngx_http_dispatch_module.so";
my $dyn = `readelf -d $so 2>&1`;
like $dyn, qr/\(NEEDED\).*libnode\.so\.108/, 'the packaged module needs libnode.so.108';
unlike $dyn, qr/\((RPATH|RUNPATH)\)/, 'and carries no RPATH or RUNPATH';
my $snippet = do { local (@ARGV, $/) = "$x/usr/share/nginx/modules-available/mod-http-dispatch.conf"; <> } // '';
is $snippet, "load_module modules/ngx_http_dispatch_module.so;\n", 'the snippet loads it from nginx\'s modules directory';

# The stock nginx loads the unpacked module through the snippet: with the
# prefix at the unpacked usr/lib/nginx, "modules/..." is the unpacked file.
my $port = Dispatch::Test::free_port();
my $conf = "$tmp/nginx.conf";
open my $fh, '>', $conf or die $!;
print $fh <<"CONF";
include $x/usr/share/nginx/modules-available/mod-http-dispatch.conf;
pid $tmp/nginx.pid;
events {}
http {
    dispatch_cpu_limit 20ms;
    server {
        listen 127.0.0.1:$port;
        location / { dispatch customers \$host; }
        location /client/v4/ { dispatch_admin; client_max_body_size 12m; }
    }
}
CONF
close $fh;
my $system_libnode = system(q{dpkg-query -W -f='${Status}' libnode108 2>/dev/null | grep -q 'install ok installed'}) == 0;
my ($unpacked_libnode) = glob('/opt/ngx_dispatch/libnode/usr/lib/*-linux-gnu');
my $ld = $system_libnode ? '' : "LD_LIBRARY_PATH=$unpacked_libnode ";
my $t_out = `${ld}/usr/sbin/nginx -t -p $x/usr/lib/nginx/ -c $conf -e $tmp/error.log 2>&1`;
is $?, 0, 'the stock nginx -t loads the unpacked module through its snippet, and knows its directives'
    . ($system_libnode ? '' : ' (LD_LIBRARY_PATH at the libnode setup-deps unpacked)') or diag $t_out;
SKIP: {
    skip 'libnode108 is installed by dpkg: the module finds it without help', 1 if $system_libnode;
    my $bare = `/usr/sbin/nginx -t -p $x/usr/lib/nginx/ -c $conf -e $tmp/error.log 2>&1`;
    like $bare, qr/libnode\.so\.108/, 'without LD_LIBRARY_PATH it does not find a libnode outside the system\'s paths (no RPATH)';
}

# apt-get install ./the.deb, where apt can satisfy libnode108
SKIP: {
    my $sim = `apt-get -s install libnode108 2>&1`;
    my $why = (grep { /\S/ } split /\n/, $sim)[-1] // '';
    skip "apt-get -s install libnode108 fails here ($why): apt cannot install the package's dependencies", 3 if $?;
    skip 'apt-get install needs root', 3 if $> != 0;
    my $inst = `DEBIAN_FRONTEND=noninteractive apt-get install -y -q $deb 2>&1`;
    is $?, 0, 'apt-get install ./libnginx-mod-http-dispatch_*.deb succeeds' or diag $inst;
    ok -l '/etc/nginx/modules-enabled/50-mod-http-dispatch.conf', 'it enables the module in /etc/nginx/modules-enabled';
    my $check = `/usr/sbin/nginx -t 2>&1`;
    is $?, 0, 'the system nginx -t passes with the module loaded' or diag $check;
    system('DEBIAN_FRONTEND=noninteractive apt-get purge -y -q libnginx-mod-http-dispatch >/dev/null 2>&1');
}

done_testing;
