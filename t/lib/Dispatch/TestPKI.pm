package Dispatch::TestPKI;
# A throwaway PKI for TLS tests: CAs and server certificates (EC P-256)
# made with openssl in a temporary directory the nginx workers can read.
#   my $pki = Dispatch::TestPKI->new;
#   $pki->make_ca('ca', 'dispatch test CA');
#   $pki->make_cert('tls', 'ca', 'tls.test', 'DNS:tls.test', 'IP:127.0.0.1');
#   $pki->dir . '/tls.pem', '/tls.key', '/ca.pem'
use strict;
use warnings;
use File::Temp qw(tempdir);
use Dispatch::Test;

sub new {
    my ($class) = @_;
    my $dir = tempdir('dispatch-pki-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    chmod 0755, $dir;    # nginx's workers (nobody) read the keys at start as root, the engine the CA
    return bless { dir => $dir }, $class;
}

sub dir { $_[0]{dir} }

sub openssl {
    my ($self, @args) = @_;
    my $out = `openssl @args 2>&1`;
    die "openssl @args failed:\n$out" if $?;
    return $out;
}

sub make_ca {
    my ($self, $name, $cn) = @_;
    my $d = $self->{dir};
    $self->openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
                   '-keyout', "$d/$name.key", '-out', "$d/$name.pem", '-days', '2', '-subj', "'/CN=$cn'",
                   '-addext', "'basicConstraints=critical,CA:TRUE'", '-addext', "'keyUsage=critical,keyCertSign,cRLSign'");
    chmod 0644, "$d/$name.pem";
}

sub make_cert {
    my ($self, $name, $ca, $cn, @san) = @_;
    my $d = $self->{dir};
    $self->openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
                   '-keyout', "$d/$name.key", '-out', "$d/$name.csr", '-subj', "'/CN=$cn'");
    Dispatch::Test::_write_file("$d/$name.ext", "subjectAltName=" . join(',', @san) . "\n"
        . "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n");
    $self->openssl('x509', '-req', '-in', "$d/$name.csr", '-CA', "$d/$ca.pem", '-CAkey', "$d/$ca.key",
                   '-CAcreateserial', '-days', '2', '-out', "$d/$name.pem", '-extfile', "$d/$name.ext");
    chmod 0644, "$d/$name.key", "$d/$name.pem";
}

1;
