#!/usr/bin/perl
# SPEC 4 with Cloudflare's TypeScript SDK (npm `cloudflare`, pinned in
# t/clients/package-lock.json, installed by scripts/setup-deps), pointed at
# us with its baseURL option: client.workersForPlatforms.dispatch.namespaces
# create, get, list; scripts upload, get, content, list by tag, secrets,
# tags, delete by tag, delete. t/clients/sdk.cjs makes one SDK call per run
# and prints its result; what the SDK sends: t/clients/REQUESTS.md.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Admin;
use JSON::PP ();

sub as_json { return JSON::PP->new->canonical->encode([@_]) }

npm_tool_or_skip('cloudflare/package.json');
my $t = admin_server();

# One SDK call: sdk(COMMAND, ARGS...) -> {ok, result} or {ok: false, status, errors}
sub sdk {
    my (@args) = @_;
    local $ENV{DISPATCH_NPM_DIR} = Dispatch::Admin::npm_dir();
    local $ENV{CF_BASE_URL}      = $t->url('/client/v4');
    local $ENV{CF_ACCOUNT_ID}    = $ACCOUNT;
    local $ENV{CF_API_TOKEN}     = $TOKEN;
    local $ENV{CLOUDFLARE_BASE_URL};
    open(my $fh, '-|', 'timeout', '30', 'node', "$FindBin::Bin/clients/sdk.cjs", @args) or die "node: $!";
    local $/;
    my $out = <$fh> // '';
    close $fh;
    my $r = eval { JSON::PP->new->utf8->decode($out) };
    return $r || { ok => 0, status => 'no answer', errors => [], message => "node exited $?: $out" };
}

sub sdk_ok {
    my ($name, @args) = @_;
    my $r = sdk(@args);
    ok $r->{ok}, "$name: the SDK call succeeds"
        or diag "status $r->{status}: " . JSON::PP->new->canonical->encode($r->{errors} // []) . " $r->{message}";
    return $r->{ok} ? $r->{result} : undef;
}

sub sdk_fails {
    my ($name, $status, @args) = @_;
    my $r = sdk(@args);
    ok !$r->{ok} && ($r->{status} // '') eq $status, "$name: the SDK throws with status $status"
        or diag explain $r;
    ok ref $r->{errors} eq 'ARRAY' && @{ $r->{errors} } && $r->{errors}[0]{code} =~ /^\d+$/,
        "$name: carrying the envelope's numbered errors";
}

sub worker { my ($v) = @_; return qq{export default { fetch(r, env) { return new Response("$v " + env.SECRET); } };\n} }

# --- namespaces
{
    my $ns = sdk_ok('namespaces.create({name: "saas"})', 'ns-create', 'saas');
    is $ns && $ns->{namespace_name}, 'saas', 'answers the namespace, named saas';
    ok $ns && length($ns->{namespace_id} // ''), 'with a namespace_id';
    my $got = sdk_ok('namespaces.get("saas")', 'ns-get', 'saas');
    is $got && $got->{namespace_id}, $ns && $ns->{namespace_id}, 'get answers the same namespace';
    my $list = sdk_ok('namespaces.list()', 'ns-list');
    ok ref $list eq 'ARRAY' && (grep { $_->{namespace_name} eq 'saas' } @$list), 'the list holds saas';
    sdk_fails('namespaces.get of one that does not exist', 404, 'ns-get', 'nosuch');
}

# --- upload (metadata as a JSON file part, the module in a part named
#     "files"), get, content, serve
{
    my $s = sdk_ok('scripts.update(...) with metadata and files', 'upload', 'saas', 'alpha', worker('alpha-v1'), 'gold,paid');
    is $s && $s->{id}, 'alpha', 'the upload answers the script, id alpha';
    ok $s && length($s->{etag} // ''), 'with an etag';
    ok $t->every_worker_says('/t/saas/alpha', 200, 'alpha-v1 undefined'), 'every worker serves it at once'
        or diag $t->worker_answers('/t/saas/alpha');

    my $d = script_of(sdk_ok('scripts.get("alpha")', 'script-get', 'saas', 'alpha'));
    is $d && $d->{id}, 'alpha', 'details name alpha';
    is $d && $d->{etag}, $s && $s->{etag}, 'with the etag of the upload';
    is_deeply [ sort @{ ($d && $d->{tags}) || [] } ], ['gold', 'paid'], 'and its tags';

    my $c = sdk_ok('scripts.content.get("alpha")', 'content-get', 'saas', 'alpha');
    like $c && $c->{body}, qr/alpha-v1/, 'the content is the code uploaded';

    is_deeply sdk_ok('scripts.tags.list("alpha")', 'tags-list', 'saas', 'alpha'), ['gold', 'paid'], 'tags.list answers its tags';

    sdk_ok('a second script', 'upload', 'saas', 'beta', worker('beta-v1'), 'free');
    sdk_ok('a third script', 'upload', 'saas', 'gamma', worker('gamma-v1'), 'free,paid');
    sdk_ok('alpha updated', 'upload', 'saas', 'alpha', worker('alpha-v2'), 'gold,paid');
    ok $t->every_worker_says('/t/saas/alpha', 200, 'alpha-v2 undefined'), 'every worker serves the update at once'
        or diag $t->worker_answers('/t/saas/alpha');

    sdk_fails('scripts.get of one that does not exist', 404, 'script-get', 'saas', 'nosuch');
    sdk_fails('an upload whose module does not compile', 400, 'upload', 'saas', 'broken', "export default {\n  fetch( {\n};\n", '');
}

# --- list by tag (GET .../scripts?tags=...)
{
    my $names = sub { [ sort map { script_of($_)->{id} // '?' } @{ $_[0] || [] } ] };
    is_deeply $names->(sdk_ok('list by tags=paid:yes', 'list-by-tag', 'saas', 'paid:yes')), ['alpha', 'gamma'],
        'tags=paid:yes lists alpha and gamma';
    is_deeply $names->(sdk_ok('list by tags=free:yes,paid:no', 'list-by-tag', 'saas', 'free:yes,paid:no')), ['beta'],
        'tags=free:yes,paid:no lists beta';
}

# --- secrets: put, list, get, delete; never a value back
{
    my $p = sdk_ok('secrets.update({name: "SECRET", text, type: "secret_text"})',
                   'secret-put', 'saas', 'alpha', 'SECRET', 'hunter2-hunter2');
    is $p && $p->{name}, 'SECRET', 'answers the secret by name';
    ok $t->every_worker_says('/t/saas/alpha', 200, 'alpha-v2 hunter2-hunter2'), 'every worker reads env.SECRET at once'
        or diag $t->worker_answers('/t/saas/alpha');
    my $list = sdk_ok('secrets.list("alpha")', 'secret-list', 'saas', 'alpha');
    is_deeply $list, [{ name => 'SECRET', type => 'secret_text' }], 'lists the name and type only';
    my $one = sdk_ok('secrets.get("SECRET")', 'secret-get', 'saas', 'alpha', 'SECRET');
    is $one && $one->{name}, 'SECRET', 'get answers the secret by name';
    unlike as_json($p, $list, $one), qr/hunter2/, 'no answer shows the value';
    my $settings = sdk_ok('settings.get("alpha")', 'settings-get', 'saas', 'alpha');
    unlike as_json($settings), qr/hunter2/, 'nor do the settings';

    sdk_ok('an upload of alpha without the secret', 'upload', 'saas', 'alpha', worker('alpha-v3'), 'gold,paid');
    ok $t->every_worker_says('/t/saas/alpha', 200, 'alpha-v3 hunter2-hunter2'), 'a secret outlives an upload that does not name it'
        or diag $t->worker_answers('/t/saas/alpha');

    sdk_ok('secrets.delete("SECRET")', 'secret-delete', 'saas', 'alpha', 'SECRET');
    ok $t->every_worker_says('/t/saas/alpha', 200, 'alpha-v3 undefined'), 'every worker stops seeing it at once'
        or diag $t->worker_answers('/t/saas/alpha');
    sdk_fails('secrets.get of a deleted secret', 404, 'secret-get', 'saas', 'alpha', 'SECRET');
}

# --- delete by tag, delete a script, delete the namespace
{
    my $gone = sdk_ok('DELETE .../scripts?tags=free:yes', 'delete-by-tag', 'saas', 'free:yes');
    like as_json($gone), qr/beta/, 'answers what it deleted: beta';
    like as_json($gone), qr/gamma/, 'and gamma';
    ok $t->every_worker_says('/t/saas/beta', 404, "not_found\n"), 'beta is 404 on every worker at once'
        or diag $t->worker_answers('/t/saas/beta');

    sdk_ok('scripts.delete("alpha")', 'script-delete', 'saas', 'alpha');
    ok $t->every_worker_says('/t/saas/alpha', 404, "not_found\n"), 'alpha is 404 on every worker at once'
        or diag $t->worker_answers('/t/saas/alpha');
    sdk_fails('scripts.delete of one already deleted', 404, 'script-delete', 'saas', 'alpha');

    sdk_ok('namespaces.delete("saas")', 'ns-delete', 'saas');
    sdk_fails('namespaces.get of the deleted namespace', 404, 'ns-get', 'saas');
}

is_deeply [ $t->error_log_alerts ], [], 'no alert, crit or emerg in the error log';
done_testing;
