#!/usr/bin/perl
# Issue 12: fetch() to https: verifies the certificate and the host name.
# The test makes a CA and server certificates with openssl; TLS upstreams
# are `listen ... ssl` servers of the test's own nginx; the names resolve
# through a test DNS server (Dispatch::TestDNS) named by `resolver`. Trusted
# through dispatch_fetch_trusted_certificate, a fetch by name and by IP
# address succeeds with SNI choosing the certificate; a certificate from
# another CA and a name the certificate does not carry are TypeErrors; a
# keep-alive connection is never reused across http/https or for another
# name (SNI).
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::TestDNS;
use Dispatch::TestPKI;
no strict 'refs';    # a check that threw is a string: looking into it gives undef

# ---- TLS material ----

my $p = Dispatch::TestPKI->new;
my $pki = $p->dir;
sub openssl { $p->openssl(@_) }
sub make_ca { $p->make_ca(@_) }
sub make_cert { $p->make_cert(@_) }
make_ca('ca', 'dispatch test CA');
make_ca('rogue-ca', 'some other CA');
make_cert('tls', 'ca', 'tls.test', 'DNS:tls.test', 'IP:127.0.0.1');
make_cert('other', 'ca', 'other.test', 'DNS:other.test');
make_cert('rogue', 'rogue-ca', 'tls.test', 'DNS:tls.test', 'IP:127.0.0.1');
chmod 0644, "$pki/ca.pem";
like openssl('verify', '-CAfile', "$pki/ca.pem", "$pki/tls.pem"), qr/: OK/, 'the test CA signed the server certificate';
unlike scalar(`openssl verify -CAfile $pki/ca.pem $pki/rogue.pem 2>&1`), qr/: OK$/m,
    'the rogue certificate does not verify against the test CA';

# ---- the servers ----

my $dns = Dispatch::TestDNS->new(records => {
    'tls.test'   => ['127.0.0.1'],
    'other.test' => ['127.0.0.1'],
    'wrong.test' => ['127.0.0.1'],
});
my ($tls, $rogue, $plain) = Dispatch::Test::free_ports(3);
my $t = Dispatch::Test->new(
    http => $dns->resolver_directive . qq{
    dispatch_fetch_allow 127.0.0.1/32;
    dispatch_fetch_trusted_certificate $pki/ca.pem;
    dispatch_subrequest_limit 100;
    log_format tls '\$server_port \$ssl_server_name \$request_uri \$connection \$connection_requests';
    access_log %%PREFIX%%/upstreams.log tls;
    keepalive_timeout 60s;
    server {
        listen 127.0.0.1:$tls ssl default_server;
        server_name tls.test;
        ssl_certificate $pki/tls.pem;
        ssl_certificate_key $pki/tls.key;
        location / { return 200 "tls.test"; }
    }
    server {
        listen 127.0.0.1:$tls ssl;
        server_name other.test;
        ssl_certificate $pki/other.pem;
        ssl_certificate_key $pki/other.key;
        location / { return 200 "other.test"; }
    }
    server {
        listen 127.0.0.1:$rogue ssl;
        ssl_certificate $pki/rogue.pem;
        ssl_certificate_key $pki/rogue.key;
        location / { return 200 "rogue"; }
    }
    server {
        listen 127.0.0.1:$plain;
        location / { return 200 "plain"; }
    }},
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; access_log off; } },
);
my ($out) = $t->curl('--cacert', "$pki/ca.pem", '--resolve', "tls.test:$tls:127.0.0.1", "https://tls.test:$tls/curl");
is $out, 'tls.test', 'the TLS upstream serves (curl, trusting the test CA)';

# ---- verification ----

my $c = $t->run_checks('tenants', 'verify', qq{ const TLS = $tls, ROGUE = $rogue; } . q{
    const get = async (u) => { const r = await fetch(u); return `${r.status} ${await r.text()}`; };
    export default { fetch() { return results({
      'by name': () => get(`https://tls.test:${TLS}/by-name`),
      'by IP address': () => get(`https://127.0.0.1:${TLS}/by-ip`),
      'another name (SNI)': () => get(`https://other.test:${TLS}/by-sni`),
      // after a verified connection to the same address and port:
      'a name the certificate does not carry': () => get(`https://wrong.test:${TLS}/wrong-name`),
      'a certificate from another CA': () => get(`https://tls.test:${ROGUE}/rogue-ca`),
      'the other CA, by IP address': () => get(`https://127.0.0.1:${ROGUE}/rogue-ca-ip`),
    }); } };
});
is $c->{'by name'}, '200 tls.test', 'https by name, the CA trusted through dispatch_fetch_trusted_certificate';
is $c->{'by IP address'}, '200 tls.test', 'https by IP address (the certificate has the IP in its subjectAltName)';
is $c->{'another name (SNI)'}, '200 other.test', 'SNI: the server presents the certificate of the name asked for';
like $c->{'a name the certificate does not carry'}, qr/^threw TypeError: .*(wrong\.test|host ?name|hostname)/i,
    'a certificate without the name asked for: a TypeError that says so';
like $c->{'a certificate from another CA'}, qr/^threw TypeError: .*certificate/i,
    'a certificate from a CA not trusted: a TypeError mentioning the certificate';
like $c->{'the other CA, by IP address'}, qr/^threw TypeError: .*certificate/i, '... by IP address as well';
my $log = $t->read_prefix_file('upstreams.log');
unlike $log, qr{^$tls \S+ /wrong-name }m, 'the request for the wrong name was never sent';
unlike $log, qr{^$rogue \S+ /rogue-ca}m, 'nor those to the untrusted server';
like $log, qr{^$tls tls\.test /by-name }m, 'the fetch by name sent SNI tls.test';
like $log, qr{^$tls - /by-ip }m, 'the fetch by IP address sent no SNI (RFC 6066: no IP literals)';

# ---- keep-alive never crosses TLS and plain, nor names ----

$c = $t->run_checks('tenants', 'pool', qq{ const TLS = $tls, PLAIN = $plain; } . q{
    const get = async (u) => { const r = await fetch(u); return `${r.status} ${await r.text()}`; };
    export default { fetch() { return results({
      'plain first': () => get(`http://127.0.0.1:${PLAIN}/plain-first`),
      'then https to the same address and port': () => get(`https://127.0.0.1:${PLAIN}/tls-after-plain`),
      'https first': () => get(`https://127.0.0.1:${TLS}/tls-first`),
      'then plain to the same address and port': () => get(`http://127.0.0.1:${TLS}/plain-after-tls`),
      'tls.test': () => get(`https://tls.test:${TLS}/sni-a`),
      'then other.test, same address and port': () => get(`https://other.test:${TLS}/sni-b`),
    }); } };
});
is $c->{'plain first'}, '200 plain', 'a plain fetch leaves a keep-alive connection';
like $c->{'then https to the same address and port'}, qr/^threw TypeError/,
    'https to the same address and port does not reuse it (a TLS handshake with a plain server fails)';
is $c->{'https first'}, '200 tls.test', 'an https fetch leaves a keep-alive connection';
like $c->{'then plain to the same address and port'}, qr/^400 .*plain HTTP request was sent to HTTPS port/is,
    'http to the same address and port does not reuse it (nginx says the plain request came to its TLS port)';
is $c->{'tls.test'}, '200 tls.test', 'a fetch to tls.test';
is $c->{'then other.test, same address and port'}, '200 other.test', 'then one to other.test on the same address and port';
$log = $t->read_prefix_file('upstreams.log');
unlike $log, qr{/tls-after-plain}, 'the plain server never saw the https request';
my ($sni_a, $conn_a) = $log =~ m{^$tls (\S+) /sni-a (\d+)}m;
my ($sni_b, $conn_b) = $log =~ m{^$tls (\S+) /sni-b (\d+)}m;
is $sni_b, 'other.test', 'the request for other.test came with SNI other.test';
isnt $conn_b, $conn_a, '... on a connection of its own ($connection)';

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
$dns->stop;
done_testing;
