#!/usr/bin/perl
# SPEC 4, the management API, as a new user drives it with nothing but curl
# and the README: create a namespace, upload the way Cloudflare's
# documentation does (curl -F), serve it, update it and see the new version
# at once on every worker, add a secret the script reads while no GET shows
# it, list and bulk-delete by tag, delete. Every endpoint answers in
# Cloudflare's envelope; every refused input leaves Redis byte-for-byte as
# it was; an upload under load is atomic (wrk sees the old or the new
# version, never a mix); a 404 followed by an upload is a 200 on every worker.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Admin;
use File::Temp qw(tempdir);
use Time::HiRes qw(time sleep);
use POSIX ();

my $t = admin_server();

sub says { my ($v) = @_; return qq{export default { fetch() { return new Response("$v"); } };\n} }
sub module_upload {
    my ($ns, $name, $code, %meta) = @_;
    return curl_upload($t, $ns, $name,
        metadata => { main_module => 'worker.js', %meta },
        files    => [[ 'worker.js', 'worker.js', 'application/javascript+module', $code ]]);
}
sub served { my ($ns, $name) = @_; return "/t/$ns/$name" }

# --- who may call
{
    envelope_error(api($t, GET => '', token => undef), 401, 'no Authorization header');
    envelope_error(api($t, GET => '', token => 'wrong-token'), 403, 'a wrong token');
}

# --- namespaces: create, get, list, and what they refuse
{
    my $res = envelope_ok(api($t, POST => '', json => { name => 'shop' }), 'POST .../namespaces {"name":"shop"}');
    is $res && $res->{namespace_name}, 'shop', 'the created namespace is named shop';
    ok $res && defined $res->{namespace_id} && length $res->{namespace_id}, 'and has a namespace_id';
    like $res && $res->{created_on} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/, 'and a created_on time (ISO 8601)';
    is $res && $res->{script_count}, 0, 'a new namespace has no scripts';

    my $got = envelope_ok(api($t, GET => '/shop'), 'GET .../namespaces/shop');
    is $got && $got->{namespace_name}, 'shop', 'get answers the namespace';
    is $got && $got->{namespace_id}, $res && $res->{namespace_id}, 'with the id it was created with';

    my $list = envelope_ok(api($t, GET => ''), 'GET .../namespaces');
    ok ref $list eq 'ARRAY' && (grep { $_->{namespace_name} eq 'shop' } @$list), 'the list holds shop';

    envelope_error(api($t, GET => '/nosuch'), 404, 'GET of a namespace that does not exist');
    envelope_error(api($t, POST => '', json => { name => 'shop' }), [400, 409], 'creating shop a second time');
    envelope_error(api($t, POST => '', json => { name => 'Bad.Name' }), 400, 'a namespace name outside a-z 0-9 - _');
    envelope_error(api($t, POST => '', json => {}), 400, 'create without a name');
    envelope_error(api($t, POST => '', content => '{"name":', headers => { 'Content-Type' => 'application/json' }),
                   400, 'create with malformed JSON');
    envelope_error(api($t, GET => '/shop/nothing-here/at-all'), [404, 405], 'a path the API does not have');
}

# --- upload with curl as Cloudflare documents it, and serve it
{
    my $r = module_upload('shop', 'app', says('v1'));
    my $s = envelope_ok($r, 'curl -X PUT .../scripts/app -F metadata=... -F worker.js=@worker.js');
    is $s && $s->{id}, 'app', 'the upload answers the script, id app';
    ok $s && defined $s->{etag} && length $s->{etag}, 'with an etag';
    like $s && $s->{modified_on} // '', qr/^\d{4}-\d\d-\d\dT/, 'and modified_on';
    ok $t->every_worker_says(served('shop', 'app'), 200, 'v1'), 'every worker serves the upload at once'
        or diag $t->worker_answers(served('shop', 'app'));

    my $d = script_of(envelope_ok(api($t, GET => '/shop/scripts/app'), 'GET .../scripts/app'));
    is $d && $d->{id}, 'app', 'details name the script';
    is $d && $d->{etag}, $s && $s->{etag}, 'details carry the etag the upload answered';
    ok $d && exists $d->{created_on} && exists $d->{modified_on}, 'details carry created_on and modified_on';

    my $c = api($t, GET => '/shop/scripts/app/content');
    is $c->{status}, 200, 'GET .../scripts/app/content answers 200';
    like $c->{content}, qr/\Q${\ says('v1') }\E/, 'with the code as uploaded';

    my $ns = envelope_ok(api($t, GET => '/shop'), 'GET .../namespaces/shop after the upload');
    is $ns && $ns->{script_count}, 1, 'script_count counts the upload';

    # metadata as a file part (curl -F metadata=@metadata.json) is accepted too
    my $f = curl_upload($t, 'shop', 'app-file', metadata_as_file => 1,
        metadata => { main_module => 'worker.js' },
        files    => [[ 'worker.js', 'worker.js', 'application/javascript+module', says('from-file') ]]);
    envelope_ok($f, 'metadata sent as a file part');
    ok $t->every_worker_says(served('shop', 'app-file'), 200, 'from-file'), 'and served';

    # the service-worker form: body_part names the part
    my $sw = curl_upload($t, 'shop', 'sw',
        metadata => { body_part => 'script' },
        files    => [[ 'script', 'script.js', 'application/javascript',
                       qq{addEventListener("fetch", e => e.respondWith(new Response("sw")));\n} ]]);
    envelope_ok($sw, 'a service worker named by body_part');
    ok $t->every_worker_says(served('shop', 'sw'), 200, 'sw'), 'and served';
}

# --- an update is served by every worker at once; a 404 followed by an
#     upload is a 200 on every worker at once
{
    envelope_ok(module_upload('shop', 'app', says('v2')), 'uploading app again');
    ok $t->every_worker_says(served('shop', 'app'), 200, 'v2'),
        'the next request to every worker serves the new version (no wait)'
        or diag $t->worker_answers(served('shop', 'app'));

    ok $t->every_worker_says(served('shop', 'late'), 404, "not_found\n"), 'a script not there yet is 404 on every worker';
    envelope_ok(module_upload('shop', 'late', says('here')), 'then it is uploaded');
    ok $t->every_worker_says(served('shop', 'late'), 200, 'here'),
        'and the next request to every worker is 200, though each had just answered 404'
        or diag $t->worker_answers(served('shop', 'late'));
}

# --- secrets: the script reads env.NAME, no GET ever shows the value
{
    my $secret = 'correct-horse-battery-staple';
    envelope_ok(module_upload('shop', 'vault', qq{export default { fetch(r, env) { return new Response("key=" + env.API_KEY); } };\n}),
                'a script reading env.API_KEY');
    my $p = envelope_ok(api($t, PUT => '/shop/scripts/vault/secrets',
                            json => { name => 'API_KEY', text => $secret, type => 'secret_text' }),
                        'PUT .../scripts/vault/secrets {"name","text","type":"secret_text"}');
    is $p && $p->{name}, 'API_KEY', 'the answer names the secret';
    ok !defined($p && $p->{text}), 'and does not show its value';
    ok $t->every_worker_says(served('shop', 'vault'), 200, "key=$secret"), 'every worker reads the secret in env.API_KEY at once'
        or diag $t->worker_answers(served('shop', 'vault'));

    my $list = api($t, GET => '/shop/scripts/vault/secrets');
    my $l = envelope_ok($list, 'GET .../secrets');
    is_deeply $l, [{ name => 'API_KEY', type => 'secret_text' }], 'lists the name and type only';
    for my $get (['/shop/scripts/vault/secrets/API_KEY', 'GET .../secrets/API_KEY'],
                 ['/shop/scripts/vault/bindings',        'GET .../bindings'],
                 ['/shop/scripts/vault/settings',        'GET .../settings'],
                 ['/shop/scripts/vault',                 'GET .../scripts/vault']) {
        my $r = api($t, GET => $get->[0]);
        envelope_ok($r, $get->[1]);
        unlike $r->{content}, qr/\Q$secret\E/, "$get->[1] never shows the secret's value";
    }
    unlike $list->{content}, qr/\Q$secret\E/, 'nor does the list';

    envelope_error(api($t, PUT => '/shop/scripts/vault/secrets', json => { name => 'X', type => 'secret_text' }),
                   400, 'a secret without text');
    envelope_error(api($t, PUT => '/shop/scripts/nosuch/secrets', json => { name => 'X', text => 'y', type => 'secret_text' }),
                   404, 'a secret for a script that does not exist');
    envelope_error(api($t, GET => '/shop/scripts/vault/secrets/NOPE'), 404, 'GET of a secret that does not exist');

    envelope_ok(api($t, DELETE => '/shop/scripts/vault/secrets/API_KEY'), 'DELETE .../secrets/API_KEY');
    ok $t->every_worker_says(served('shop', 'vault'), 200, 'key=undefined'), 'every worker stops seeing it at once'
        or diag $t->worker_answers(served('shop', 'vault'));
    is_deeply envelope_ok(api($t, GET => '/shop/scripts/vault/secrets'), 'GET .../secrets after the delete'), [],
        'the list is empty';
}

# --- tags: list by tag, bulk delete by tag
{
    envelope_ok(module_upload('shop', "gold-$_", says("gold-$_"), tags => ['gold', 'paid']), "gold-$_ tagged gold, paid") for 1 .. 2;
    envelope_ok(module_upload('shop', "free-$_", says("free-$_"), tags => ['free']), "free-$_ tagged free") for 1 .. 3;

    my $names = sub { my ($res) = @_; [ sort map { $_->{id} // $_->{script_name} // '?' } map { script_of($_) } @{ $res || [] } ] };
    my $gold = envelope_ok(api($t, GET => '/shop/scripts?tags=gold:yes'), 'GET .../scripts?tags=gold:yes');
    is_deeply $names->($gold), ['gold-1', 'gold-2'], 'lists the scripts tagged gold';
    my $free = envelope_ok(api($t, GET => '/shop/scripts?tags=free:yes,paid:no'), 'GET .../scripts?tags=free:yes,paid:no');
    is_deeply $names->($free), ['free-1', 'free-2', 'free-3'], 'lists those tagged free and not paid';
    my $all = envelope_ok(api($t, GET => '/shop/scripts'), 'GET .../scripts');
    cmp_ok scalar(@{ $all || [] }), '>=', 5, 'without tags it lists every script';

    my (@seen, $cursor);
    for (1 .. 10) {
        my $r = api($t, GET => '/shop/scripts?tags=free:yes&limit=2' . (defined $cursor ? "&cursor=$cursor" : ''));
        my $page = envelope_ok($r, 'a page of at most 2');
        cmp_ok scalar(@{ $page || [] }), '<=', 2, 'limit=2 answers at most 2';
        push @seen, @{ $names->($page) };
        $cursor = $r->{json} && $r->{json}{result_info} && $r->{json}{result_info}{cursor};
        last unless defined $cursor && length $cursor;
    }
    is_deeply [ sort @seen ], ['free-1', 'free-2', 'free-3'], 'the pages together hold each free script once';

    is_deeply envelope_ok(api($t, GET => '/shop/scripts/gold-1/tags'), 'GET .../scripts/gold-1/tags'), ['gold', 'paid'],
        'a script lists its tags';
    envelope_error(api($t, PUT => '/shop/scripts/gold-1/tags', json => [ map { "t$_" } 1 .. 9 ]), 400, 'nine tags');

    my $before = redis_state($t);
    my $del = api($t, DELETE => '/shop/scripts?tags=free:yes');
    my $gone = envelope_ok($del, 'DELETE .../scripts?tags=free:yes');
    like $del->{content}, qr/free-1/, 'the answer names what it deleted'
        and like $del->{content}, qr/free-3/, 'every one of it';
    unlike $del->{content}, qr/gold-/, 'and nothing else';
    ok $t->every_worker_says(served('shop', 'free-2'), 404, "not_found\n"), 'the deleted scripts are 404 on every worker at once'
        or diag $t->worker_answers(served('shop', 'free-2'));
    ok $t->every_worker_says(served('shop', 'gold-2'), 200, 'gold-2'), 'the others still serve';
    ok !exists redis_state($t)->{'dispatch:{shop}:script:free-1'}, "the deleted scripts' keys are gone from Redis";
    ok exists $before->{'dispatch:{shop}:script:free-1'}, '(they were there before)';
}

# --- every refusal leaves Redis byte-for-byte unchanged, and the old
#     version keeps serving
{
    envelope_ok(module_upload('shop', 'keep', says('kept')), 'a script that refusals must not touch');
    ok $t->every_worker_says(served('shop', 'keep'), 200, 'kept'), 'served';
    my $before = redis_state($t);
    my $unchanged = sub {
        my ($name) = @_;
        is_deeply redis_state($t), $before, "$name: Redis is byte-for-byte unchanged (DUMP of every dispatch:* key)";
    };
    my $refused = sub {
        my ($name, $r, $re) = @_;
        envelope_error($r, 400, $name, $re);
        $unchanged->($name);
    };

    $refused->('a syntax error on line 3',
        module_upload('shop', 'keep', "export default {\n  fetch() {\n    return new Response(;\n  }\n};\n"),
        qr/worker\.js.*\b3\b|\bline 3\b/);
    $refused->('a top-level throw',
        module_upload('shop', 'keep', qq{throw new Error("boom at start");\nexport default {};\n}), qr/boom at start/);
    $refused->('main_module naming no part',
        curl_upload($t, 'shop', 'keep', metadata => { main_module => 'main.js' },
                    files => [[ 'worker.js', 'worker.js', 'application/javascript+module', says('x') ]]),
        qr/main\.js/);
    $refused->('an import of a module not uploaded',
        module_upload('shop', 'keep', qq{import x from "./missing.js";\nexport default { fetch() { return new Response(x); } };\n}),
        qr/missing\.js/);
    $refused->('no metadata part',
        curl_upload($t, 'shop', 'keep', files => [[ 'worker.js', 'worker.js', 'application/javascript+module', says('x') ]]));
    $refused->('metadata that is not JSON',
        curl_upload($t, 'shop', 'keep', metadata => '{"main_module":',
                    files => [[ 'worker.js', 'worker.js', 'application/javascript+module', says('x') ]]));
    $refused->('an unknown binding type',
        module_upload('shop', 'keep', says('x'), bindings => [{ type => 'teleporter', name => 'T' }]), qr/teleporter/);
    $refused->('a multipart body cut short',
        api($t, PUT => '/shop/scripts/keep',
            headers => { 'Content-Type' => 'multipart/form-data; boundary=XyZ' },
            content => qq{--XyZ\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n{"main_module":"worker.js"}\r\n--XyZ\r\nContent-Disposition: form-data; name="worker.js"; filename="worker.js"\r\n\r\nexport default}));
    $refused->('a multipart body without its boundary',
        api($t, PUT => '/shop/scripts/keep', headers => { 'Content-Type' => 'multipart/form-data' },
            content => "--a\r\n\r\n--a--\r\n"));
    $refused->('garbage under multipart/form-data',
        api($t, PUT => '/shop/scripts/keep', headers => { 'Content-Type' => 'multipart/form-data; boundary=b' },
            content => "\x00\xff" x 100));
    $refused->('a script name with a dot', module_upload('shop', 'bad.name', says('x')));
    $refused->('an upper-case script name', module_upload('shop', 'Keep', says('x')));
    $refused->('a script name of 64 characters', module_upload('shop', 'k' x 64, says('x')));

    for my $evil ('..%2Fkeep', '..%2F..%2Fshop', '%2E%2E%2Fkeep', 'a%2Fb', '%00keep', 'keep%0a') {
        my $r = module_upload('shop', $evil, says('evil'));
        ok $r->{status} == 400 || $r->{status} == 404, "the script name '$evil' is refused (400 or 404)"
            or diag "$r->{status} $r->{content}";
        # nginx itself refuses a URI holding %00 (400, its own page) before any location runs
        ok +(ref $r->{json} eq 'HASH' && !$r->{json}{success}) || ($evil eq '%00keep' && $r->{status} == 400),
            "'$evil': in Cloudflare's envelope, success false (or nginx's own 400)";
        $unchanged->("the script name '$evil'");
    }
    my $r = module_upload('sh..op', 'keep', says('x'));
    envelope_error($r, [400, 404], 'a namespace name with dots');
    $unchanged->('a namespace name with dots');

    ok $t->every_worker_says(served('shop', 'keep'), 200, 'kept'), 'after every refusal the old version still serves';
}

# --- every endpoint's error envelope for what is not there
{
    envelope_error(api($t, GET    => '/shop/scripts/nosuch'), 404, 'GET of a script that does not exist', qr/./);
    envelope_error(api($t, GET    => '/shop/scripts/nosuch/content'), 404, 'its content');
    envelope_error(api($t, GET    => '/shop/scripts/nosuch/settings'), 404, 'its settings');
    envelope_error(api($t, GET    => '/shop/scripts/nosuch/bindings'), 404, 'its bindings');
    envelope_error(api($t, GET    => '/shop/scripts/nosuch/secrets'), 404, 'its secrets');
    envelope_error(api($t, GET    => '/shop/scripts/nosuch/tags'), 404, 'its tags');
    envelope_error(api($t, DELETE => '/shop/scripts/nosuch'), 404, 'DELETE of a script that does not exist');
    envelope_error(api($t, GET    => '/nosuch/scripts'), 404, 'the scripts of a namespace that does not exist');
    envelope_error(api($t, DELETE => '/nosuch'), 404, 'DELETE of a namespace that does not exist');
    envelope_error(api($t, PATCH  => '/shop'), [404, 405], 'a method the path does not have');
}

# --- settings and content replaced on their own
{
    my $s = envelope_ok(api($t, GET => '/shop/scripts/keep/settings'), 'GET .../scripts/keep/settings');
    ok ref $s eq 'HASH' && ref $s->{bindings} eq 'ARRAY', 'settings hold the bindings';
    my $patch = api($t, PATCH => '/shop/scripts/keep/settings',
        headers => { 'Content-Type' => 'multipart/form-data; boundary=sEt' },
        content => qq{--sEt\r\nContent-Disposition: form-data; name="settings"\r\nContent-Type: application/json\r\n\r\n}
                 . qq{{"bindings":[{"type":"plain_text","name":"GREETING","text":"hi"}],"tags":["kept"]}\r\n--sEt--\r\n});
    envelope_ok($patch, 'PATCH .../settings (multipart, a settings part, as Cloudflare takes it)');
    my $b = envelope_ok(api($t, GET => '/shop/scripts/keep/bindings'), 'GET .../bindings after it');
    ok ref $b eq 'ARRAY' && (grep { $_->{name} eq 'GREETING' && $_->{type} eq 'plain_text' } @$b), 'the new binding is there';
    is_deeply envelope_ok(api($t, GET => '/shop/scripts/keep/tags'), 'GET .../tags after it'), ['kept'], 'and the new tags';
}

# --- an upload under load: wrk on the tenant while it is replaced 50 times
SKIP: {
    skip 'wrk is not installed (scripts/setup-deps installs it)', 6 unless -x '/usr/bin/wrk' || `command -v wrk`;
    # two modules and a binding, all three carrying the version: an answer
    # mixing versions would show two numbers
    my $version = sub {
        my ($n) = @_;
        return curl_upload($t, 'shop', 'load',
            metadata => { main_module => 'main.js', bindings => [{ type => 'plain_text', name => 'V', text => "v$n" }] },
            files => [[ 'main.js', 'main.js', 'application/javascript+module',
                        qq{import { part } from "./part.js";\nconst MAIN = "v$n";\n}
                      . qq{export default { fetch(r, env) { return new Response(MAIN + "/" + part + "/" + env.V); } };\n} ],
                      [ 'part.js', 'part.js', 'application/javascript+module', qq{export const part = "v$n";\n} ]]);
    };
    envelope_ok($version->(0), 'version 0 of a two-module script with a binding');
    ok $t->every_worker_says(served('shop', 'load'), 200, 'v0/v0/v0'), 'served';

    my $dir = tempdir('dispatch-wrk-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    open my $lua, '>', "$dir/check.lua" or die $!;
    print {$lua} <<'LUA';
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) ok = 0; mixed = 0; failed = 0; versions = {} end
function response(status, headers, body)
  if status ~= 200 then failed = failed + 1; return end
  local a, b, c = body:match("^v(%d+)/v(%d+)/v(%d+)$")
  if a and a == b and b == c then ok = ok + 1; versions[a] = true else mixed = mixed + 1 end
end
function done(summary, latency, requests)
  local o, m, f, seen = 0, 0, 0, {}
  for _, t in ipairs(threads) do
    o = o + t:get("ok"); m = m + t:get("mixed"); f = f + t:get("failed")
    for v in pairs(t:get("versions")) do seen[v] = true end
  end
  local n = 0
  for _ in pairs(seen) do n = n + 1 end
  io.write(string.format("CHECK ok=%d mixed=%d failed=%d versions=%d\n", o, m, f, n))
end
LUA
    close $lua;
    my $out = "$dir/wrk.out";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>', $out; open STDERR, '>&', \*STDOUT;
        { no warnings 'exec'; exec 'wrk', '-t', '2', '-c', '4', '-d', '12s', '--timeout', '5s', '-s', "$dir/check.lua", $t->url(served('shop', 'load')) }
        POSIX::_exit(127);
    }
    sleep 0.5;
    my ($uploaded, $t0) = (0, time);
    for my $n (1 .. 50) {
        my $r = $version->($n);
        $uploaded++ if $r->{status} == 200 && $r->{json} && $r->{json}{success};
        last if time - $t0 > 10;
    }
    my $took = time - $t0;
    my $end = time + 20;
    sleep 0.1 while waitpid($pid, POSIX::WNOHANG()) == 0 && time < $end;
    kill 'KILL', $pid if kill 0, $pid;
    my $report = do { local $/; open my $fh, '<', $out; <$fh> // '' };
    is $uploaded, 50, 'all 50 replacements were accepted while wrk ran' or diag sprintf('%d in %.1fs', $uploaded, $took);
    my ($ok, $mixed, $failed, $versions) = $report =~ /CHECK ok=(\d+) mixed=(\d+) failed=(\d+) versions=(\d+)/;
    ok defined $ok && $ok > 0, 'wrk got answers' or diag $report;
    is $failed, 0, 'no request failed (every answer a 200)' or diag $report;
    is $mixed, 0, 'every answer came from one version: main module, imported module and binding agree' or diag $report;
    unlike $report, qr/Socket errors|Non-2xx/, 'wrk saw no socket error and no non-2xx answer' or diag $report;
    cmp_ok $versions // 0, '>', 1, 'and answers came from more than one version while it was replaced';
    ok $t->every_worker_says(served('shop', 'load'), 200, 'v50/v50/v50'), 'afterwards every worker serves the last version';
}

# --- delete a script, then the namespace with all its scripts
{
    my $d = api($t, DELETE => '/shop/scripts/keep');
    envelope_ok($d, 'DELETE .../scripts/keep');
    ok $t->every_worker_says(served('shop', 'keep'), 404, "not_found\n"), 'a deleted script is 404 on every worker at once'
        or diag $t->worker_answers(served('shop', 'keep'));
    envelope_error(api($t, GET => '/shop/scripts/keep'), 404, 'its details are gone');
    envelope_ok(api($t, DELETE => '/shop/scripts/gold-1?force=true'), 'DELETE with ?force=true');

    envelope_ok(api($t, DELETE => '/shop'), 'DELETE .../namespaces/shop');
    ok $t->every_worker_says(served('shop', 'app'), 404, "not_found\n"), "the namespace's scripts are 404 on every worker at once"
        or diag $t->worker_answers(served('shop', 'app'));
    envelope_error(api($t, GET => '/shop'), 404, 'the namespace is gone');
    is_deeply [ grep { /\{shop\}/ } keys %{ redis_state($t) } ], [], 'no dispatch:{shop}:* key is left in Redis';
    ok !$t->redis('SISMEMBER', 'dispatch:namespaces', 'shop'), 'shop left dispatch:namespaces';
}

is_deeply [ $t->error_log_alerts ], [], 'no alert, crit or emerg in the error log';
done_testing;
