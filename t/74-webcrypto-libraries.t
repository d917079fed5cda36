#!/usr/bin/perl
# Issue 15: WebCrypto as apps use it, through the libraries Workers users
# bundle. jose and iron-webcrypto (pinned in t/clients/package-lock.json,
# installed by scripts/setup-deps) are bundled with esbuild as wrangler
# bundles a worker (ESM, the workerd/worker/browser conditions) from
# t/clients/workers/*.mjs, uploaded to Redis and called over HTTP. Node
# (t/clients/workers/node-side.mjs, the same libraries) signs the JWTs
# (ES256, RS256, EdDSA), encrypts the JWEs (dir + A256GCM, RSA-OAEP-256 +
# A256GCM) and seals iron data; it checks what the workers sign and seal.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Admin;
use JSON::PP qw(decode_json encode_json);
use File::Temp qw(tempdir);

npm_tool_or_skip('jose/package.json');
npm_tool_or_skip('iron-webcrypto/package.json');
my $esbuild = npm_tool_or_skip('.bin/esbuild');
my $npm = Dispatch::Admin::npm_dir();
my $workers = "$FindBin::Bin/clients/workers";
my $dir = tempdir(CLEANUP => 1);

my $t = Dispatch::Test->new(
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch_cpu_limit 5s; dispatch apps $script; } },
);

# esbuild as wrangler runs it: one ESM file, workerd's conditions first.
sub bundle {
    my ($name) = @_;
    local $ENV{NODE_PATH} = "$npm/node_modules";
    my $out = "$dir/$name.js";
    my $log = `'$esbuild' '$workers/$name-worker.mjs' --bundle --format=esm --platform=neutral --conditions=workerd,worker,browser --main-fields=browser,module,main --outfile='$out' --log-level=warning 2>&1`;
    is $?, 0, "$name: esbuild bundles the worker" or diag $log;
    open my $fh, '<', $out or return '';
    local $/;
    return <$fh>;
}

sub node_side {
    my (@args) = @_;
    my $got = `timeout 60 node '$workers/node-side.mjs' '$npm' @args 2>&1`;
    return eval { decode_json($got) } || do { diag "node-side.mjs @args: $got"; {} };
}

my $made = node_side('make');
ok $made->{tokens} && $made->{sealed}, 'Node made the tokens, JWEs and sealed data';

# ---- jose ----
$t->put_script('apps', 'jose', bundle('jose'));
my $r = $t->request('POST', '/t/jose', content => encode_json({
    map { $_ => $made->{$_} } qw(tokens jwks tampered expired otherRsa secret jwe oaepJwk) }),
    headers => { 'Content-Type' => 'application/json' });
is $r->{status}, 200, 'jose: the bundled worker answers' or diag $r->{content};
my $jose = eval { decode_json($r->{content}) } || {};
is $jose->{ES256}, 'ES256 user-1 read', 'jose: a JWT signed ES256 by Node verifies (issuer and audience checked)';
is $jose->{RS256}, 'RS256 user-1 read', 'jose: a JWT signed RS256 by Node verifies';
is $jose->{EdDSA}, 'EdDSA user-1 read', 'jose: a JWT signed EdDSA (Ed25519) by Node verifies';
is $jose->{tampered}, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED', 'jose: a token whose claims were changed is refused';
is $jose->{expired}, 'ERR_JWT_EXPIRED', 'jose: an expired token is refused';
is $jose->{wrongKey}, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED', 'jose: an RS256 token checked with another RSA key is refused';
is $jose->{dir}, 'dir A256GCM user-1', 'jose: a JWE with dir + A256GCM decrypts';
is $jose->{oaep}, 'RSA-OAEP-256 A256GCM hello from node', 'jose: a JWE with RSA-OAEP-256 + A256GCM decrypts';
is $jose->{oaepTampered}, 'ERR_JWE_DECRYPTION_FAILED', 'jose: a JWE whose tag was changed is refused';

# ---- iron-webcrypto ----
$t->put_script('apps', 'iron', bundle('iron'));
$r = $t->request('POST', '/t/iron', content => encode_json({ password => $made->{password}, sealed => $made->{sealed} }),
    headers => { 'Content-Type' => 'application/json' });
is $r->{status}, 200, 'iron: the bundled worker answers' or diag $r->{content};
my $iron = eval { decode_json($r->{content}) } || {};
is_deeply $iron->{fromNode}, { user => 'node', visits => 1 }, 'iron-webcrypto: the worker unseals what Node sealed';
is_deeply $iron->{back}, { user => 'worker', visits => 2 }, 'iron-webcrypto: the worker unseals what it sealed';
like $iron->{wrongPassword}, qr/Bad hmac value/, 'iron-webcrypto: another password is refused';

# ---- Node checks what the workers made ----
open my $fh, '>', "$dir/answers.json" or die;
print $fh encode_json({ jose => $jose, iron => $iron });
close $fh;
my $verdict = node_side('check', "$dir/answers.json");
is $verdict->{token}, 'worker', 'jose in Node verifies the EdDSA token the worker signed with a key it generated';
is $verdict->{sealed}, 'worker', 'iron-webcrypto in Node unseals what the worker sealed';

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
done_testing;
