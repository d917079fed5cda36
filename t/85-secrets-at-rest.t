#!/usr/bin/perl
# Issue 20: secret_text values are stored in Redis sealed (AES-256-GCM)
# under dispatch_secrets_key, which Redis never sees, and opened only into
# the isolate that binds them. A scan of every key and value Redis holds
# finds no secret in plain text, while the script still reads it. Rotation:
# with the new key first and the old one second, secrets sealed under the
# old key still open, and any change of the script's metadata (here a PATCH
# of its settings with nothing in it) seals them again under the new one;
# the old key can then go. A value sealed under a key nginx does not have,
# or tampered with, fails the script (500) with the reason in the error log,
# never a wrong value. Without the directive nginx -t warns.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Admin;

my $OLD = 'a1' x 32;
my $NEW = '5e' x 32;

my $t = admin_server(http => 'dispatch_secrets_key %%PREFIX%%/old.key;', start => 0);
Dispatch::Test::_write_file($t->prefix . "/$_->[0]", "$_->[1]\n", 0600) for ['old.key', $OLD], ['new.key', $NEW];
$t->start;

# Every value of every key, as Redis gives it back (strings, hashes, sets,
# lists, sorted sets), and the keys themselves, in one string.
sub redis_everything {
    my @all;
    my $keys = $t->redis('KEYS', '*') || [];
    for my $k (@$keys) {
        my $type = $t->redis('TYPE', $k);
        my $v = $type eq 'string' ? [ $t->redis('GET', $k) ]
              : $type eq 'hash'   ? $t->redis('HGETALL', $k)
              : $type eq 'set'    ? $t->redis('SMEMBERS', $k)
              : $type eq 'list'   ? $t->redis('LRANGE', $k, 0, -1)
              : $type eq 'zset'   ? $t->redis('ZRANGE', $k, 0, -1)
              : [ "unknown type $type" ];
        push @all, $k, @$v;
    }
    return join "\n", map { $_ // '' } @all;
}

# The secret_text bindings of a script as Redis holds them
sub stored_secrets {
    my ($ns, $name) = @_;
    my $meta = $t->redis('HGET', "dispatch:{$ns}:script:$name", 'metadata') // '{}';
    my $m = JSON::PP->new->decode($meta);
    return { map { $_->{name} => $_ } grep { $_->{type} eq 'secret_text' } @{ $m->{bindings} || [] } };
}

my $PUT_SECRET = 'correct-horse-battery-staple-7f3a';
my $UPLOADED   = 'uploaded-in-metadata-91c2e';
my $reader = 'export default { fetch(req, env) { return new Response(env.API_KEY + "|" + env.FROM_UPLOAD) } };';

envelope_ok(api($t, POST => '', json => { name => 'vault' }), 'a namespace');
envelope_ok(curl_upload($t, 'vault', 'reader',
    metadata => { main_module => 'worker.js',
                  bindings => [{ type => 'secret_text', name => 'FROM_UPLOAD', text => $UPLOADED }] },
    files => [[ 'worker.js', 'worker.js', 'application/javascript+module', $reader ]]),
    'an upload whose metadata carries a secret_text binding');
envelope_ok(api($t, PUT => '/vault/scripts/reader/secrets',
                json => { name => 'API_KEY', text => $PUT_SECRET, type => 'secret_text' }),
            'a secret put through the secrets endpoint');

ok $t->every_worker_says('/t/vault/reader', 200, "$PUT_SECRET|$UPLOADED"), 'the script reads both secrets in env';

{
    my $everything = redis_everything();
    unlike $everything, qr/\Q$PUT_SECRET\E/, 'no key or value in Redis holds the put secret in plain text';
    unlike $everything, qr/\Q$UPLOADED\E/, 'nor the uploaded one';
    my $s = stored_secrets('vault', 'reader');
    like $s->{API_KEY}{sealed} // '', qr/^v1:[0-9a-f]{8}:[0-9a-f]+$/, 'Redis holds API_KEY sealed (v1:KEYID:HEX)';
    ok !exists $s->{API_KEY}{text}, 'and no text field';
    like $s->{FROM_UPLOAD}{sealed} // '', qr/^v1:[0-9a-f]{8}:/, 'the uploaded one too';
}

{
    my $r = api($t, GET => '/vault/scripts/reader/settings');
    envelope_ok($r, 'GET .../settings');
    unlike $r->{content}, qr/sealed|\Q$PUT_SECRET\E/, 'shows neither the sealed value nor the secret';
}

# --- rotation: the new key first, the old one second
my $old_id = (split /:/, stored_secrets('vault', 'reader')->{API_KEY}{sealed})[1];
ok eval { $t->reload(http => 'dispatch_secrets_key %%PREFIX%%/new.key %%PREFIX%%/old.key;'); 1 },
   'reload with the new key first and the old one second' or diag $@;
ok $t->every_worker_says('/t/vault/reader', 200, "$PUT_SECRET|$UPLOADED"),
   'secrets sealed under the old key still open';
envelope_ok(api($t, PATCH => '/vault/scripts/reader/settings', json => {}),
            'PATCH .../settings with nothing in it (the re-sealing step)');
{
    my $s = stored_secrets('vault', 'reader');
    my @ids = map { (split /:/, $_->{sealed} // '')[1] // '' } values %$s;
    is scalar(grep { $_ ne $old_id && length } @ids), 2, 'both secrets are sealed again under the new key';
}
ok eval { $t->reload(http => 'dispatch_secrets_key %%PREFIX%%/new.key;'); 1 }, 'reload with the new key alone'
    or diag $@;
ok $t->every_worker_says('/t/vault/reader', 200, "$PUT_SECRET|$UPLOADED"), 'the script still reads both';
unlike redis_everything(), qr/\Q$PUT_SECRET\E|\Q$UPLOADED\E/, 'and Redis still holds neither in plain text';

# --- a value sealed under a key nginx lacks, or tampered with
{
    my $logsize = length $t->error_log;
    ok eval { $t->reload(http => 'dispatch_secrets_key %%PREFIX%%/old.key;'); 1 }, 'reload with the old key alone'
        or diag $@;
    my $r = $t->get('/t/vault/reader');
    is $r->{status}, 500, 'a secret sealed under a key nginx does not have fails the script';
    like substr($t->error_log, $logsize), qr/binding "\w+" \(secret_text\): it is sealed under key [0-9a-f]{8}, which dispatch_secrets_key does not name/,
        'the error log says which key is missing';
    unlike $r->{content}, qr/v1:/, 'the client sees nothing of the sealed value';

    ok eval { $t->reload(http => 'dispatch_secrets_key %%PREFIX%%/new.key;'); 1 }, 'back to the new key' or diag $@;
    my $key = 'dispatch:{vault}:script:reader';
    my $meta = $t->redis('HGET', $key, 'metadata');
    $meta =~ s/("name":"API_KEY"[^}]*"sealed":"v1:[0-9a-f]{8}:[0-9a-f]{30})([0-9a-f])/$1 . ($2 eq '0' ? '1' : '0')/e
        or $meta =~ s/("sealed":"v1:[0-9a-f]{8}:[0-9a-f]{30})([0-9a-f])([^}]*"name":"API_KEY")/$1 . ($2 eq '0' ? '1' : '0') . $3/e;
    $t->redis('HSET', $key, 'metadata', $meta, 'etag', 'tampered');
    $t->publish('vault', 'reader');
    $logsize = length $t->error_log;
    my $ok = $t->wait_for(sub { $t->get('/t/vault/reader')->{status} == 500 });
    ok $ok, 'a sealed value changed in Redis fails the script';
    like substr($t->error_log, $logsize), qr/API_KEY.*does not open under key/, 'the error log says it does not open';
}

# --- nginx -t
{
    my ($code, $out) = Dispatch::Test->nginx_test_config(server => 'location / { dispatch a b; }');
    is $code, 0, 'without dispatch_secrets_key the configuration is valid';
    like $out, qr/\[warn\].*no "dispatch_secrets_key": secret_text values are stored in Redis in plain text/,
        'but nginx -t warns that secrets are stored in plain text';
    ($code, $out) = Dispatch::Test->nginx_test_config(http => 'dispatch_secrets_key /nonexistent/key;',
                                                      server => 'location / { dispatch a b; }');
    isnt $code, 0, 'a key file that cannot be opened is refused';
    like $out, qr/dispatch_secrets_key.*cannot open "\/nonexistent\/key"/, 'naming the file';
    my $bad = $t->prefix . '/short.key';
    Dispatch::Test::_write_file($bad, "abcd\n", 0600);
    ($code, $out) = Dispatch::Test->nginx_test_config(http => "dispatch_secrets_key $bad;",
                                                      server => 'location / { dispatch a b; }');
    isnt $code, 0, 'a key that is not 64 hex digits is refused';
    like $out, qr/must hold a 256-bit key as 64 hex digits/, 'saying what a key is';
    my $loose = $t->prefix . '/loose.key';
    Dispatch::Test::_write_file($loose, "$NEW\n", 0644);
    ($code, $out) = Dispatch::Test->nginx_test_config(http => "dispatch_secrets_key $loose;",
                                                      server => 'location / { dispatch a b; }');
    is $code, 0, 'a key file others may read is accepted';
    like $out, qr/\[warn\].*readable by others than its owner/, 'with a warning';
}

$t->stop;
done_testing;
