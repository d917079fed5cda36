#!/usr/bin/perl
# An upload whose top level throws answers 400 with what it threw (as
# Cloudflare's 10021 does), but no API answer shows a secret's value: the
# top level runs with the script's secrets (globals of a service worker,
# `env` of cloudflare:workers), so each secret's value (4 bytes or more)
# is replaced in that text by [secret NAME]. Under dispatch_secrets_key too.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Admin;
use Time::HiRes qw(time);

my $t = admin_server(http => 'dispatch_secrets_key %%PREFIX%%/secrets.key;', start => 0);
Dispatch::Test::_write_file($t->prefix . '/secrets.key', ('c3' x 32) . "\n", 0600);
$t->start;

envelope_ok(api($t, POST => '', json => { name => 'acme' }), 'a namespace');
sub first_version {
    envelope_ok(curl_upload($t, 'acme', 'app',
        metadata => { main_module => 'worker.js' },
        files    => [[ 'worker.js', 'worker.js', 'application/javascript+module',
                       "export default { fetch() { return new Response('v1'); } };\n" ]]),
        'a first version');
}
first_version();
for my $s (['TOKEN', 'tok-3f9a1c-secret'], ['TOKEN_PREFIX', 'tok-3f9a'], ['PIN', 'abc']) {
    envelope_ok(api($t, PUT => '/acme/scripts/app/secrets',
                    json => { name => $s->[0], text => $s->[1], type => 'secret_text' }),
                "the secret $s->[0] is set");
}

sub upload_error {
    my ($format, $code, %meta) = @_;
    my $main = $format eq 'module' ? 'main_module' : 'body_part';
    my $type = $format eq 'module' ? 'application/javascript+module' : 'application/javascript';
    my $res = curl_upload($t, 'acme', 'app', metadata => { $main => 'worker.js', %meta },
                          files => [[ 'worker.js', 'worker.js', $type, $code ]]);
    my $err = envelope_error($res, 400, "an upload whose top level throws ($format)");
    return $err ? "$err->{code} $err->{message}" : '';
}

# ES modules: the secrets through cloudflare:workers' env at the top level
my $msg = upload_error('module', <<'JS');
import { env } from 'cloudflare:workers';
throw new Error(`token=${env.TOKEN} prefix=${env.TOKEN_PREFIX} pin=${env.PIN}`);
export default { fetch() { return new Response('v2'); } };
JS
is $msg, "10021 the script failed validation: Error: token=[secret TOKEN] prefix=[secret TOKEN_PREFIX] pin=abc\n    at worker.js:2:7",
    'a module that throws its secrets: the message is kept, each value of 4 bytes or more replaced';
unlike $msg, qr/3f9a/, 'no part of the secrets\' values is in the answer';

# a service worker: the secrets are globals
$msg = upload_error('service-worker', <<'JS');
throw new Error('the token is ' + TOKEN + TOKEN);
JS
like $msg, qr/the token is \[secret TOKEN\]\[secret TOKEN\]/,
    'a service worker that throws a secret twice: both are replaced';

# a secret given in the upload itself, in its bindings
$msg = upload_error('module', <<'JS', bindings => [{ type => 'secret_text', name => 'NEW_KEY', text => 'new-key-77d0' }]);
import { env } from 'cloudflare:workers';
throw new Error(`new=${env.NEW_KEY}`);
JS
like $msg, qr/new=\[secret NEW_KEY\]/, 'a secret the upload binds itself is replaced too';

# the answer shows the message's first 2000 bytes, and the engine cuts a
# message at 4 KiB ("..."): a value that starts before the first cut is
# replaced whole, or as far as the engine kept it; none of it is shown
my $pem = join '', map { chr(65 + ($_ * 7) % 26) } 1 .. 3000;
envelope_ok(api($t, PUT => '/acme/scripts/app/secrets', json => { name => 'KEY_PEM', text => $pem, type => 'secret_text' }),
            'a 3000-byte secret');
envelope_ok(api($t, PUT => '/acme/scripts/app/secrets', json => { name => 'KEY_500', text => substr($pem, 7, 500), type => 'secret_text' }),
            'a 500-byte one');
$msg = upload_error('module', <<'JS');
import { env } from 'cloudflare:workers';
throw new Error('x'.repeat(1900) + env.KEY_500);
JS
like $msg, qr/x{1900}\[secret KEY_500\]$/, 'a value across the 2000-byte cut is replaced whole';
$msg = upload_error('module', <<'JS');
import { env } from 'cloudflare:workers';
throw new Error('x'.repeat(1500) + env.KEY_PEM);
JS
like $msg, qr/x{1500}\[secret KEY_PEM\]$/, 'a value the engine cut at 4 KiB is replaced as far as it was kept';
unlike $msg, qr/${\ substr($pem, 0, 8)}|${\ substr($pem, 7, 8)}/, 'no byte of either is shown';

# matching stays quick whatever the uploader picks for the values and the text
envelope_ok(api($t, PUT => '/acme/scripts/app/secrets', json => { name => 'SLOW', text => ('a' x 50_000) . 'b', type => 'secret_text' }),
            'a secret that is all but one byte a run of one letter');
my $t0 = time;
$msg = upload_error('module', "throw new Error('a'.repeat(1_000_000));\n");
cmp_ok time - $t0, '<', 3, sprintf('its upload is answered at once (%.2f s)', time - $t0);

# the rest of the message is what the script threw
$msg = upload_error('module', "throw new TypeError('missing config: REGION');\n");
is $msg, "10021 the script failed validation: TypeError: missing config: REGION\n    at worker.js:1:7",
    'a message without secrets is answered as thrown';

is api($t, GET => '/acme/scripts/app/content')->{content}, "export default { fetch() { return new Response('v1'); } };\n",
    'no refused upload changed the script';
is $t->get('/t/acme/app')->{content}, 'v1', 'which still serves';

# without dispatch_secrets_key (values stored in plain text): the same
$t->stop;
$t = admin_server();
envelope_ok(api($t, POST => '', json => { name => 'acme' }), 'a namespace on a server without a secrets key');
first_version();
envelope_ok(api($t, PUT => '/acme/scripts/app/secrets', json => { name => 'TOKEN', text => 'plain-9c41', type => 'secret_text' }),
            'a secret, stored in plain text');
$msg = upload_error('service-worker', "throw new Error('the token is ' + TOKEN);\n");
like $msg, qr/the token is \[secret TOKEN\]\n/, 'its value is replaced in the answer too';

done_testing;
