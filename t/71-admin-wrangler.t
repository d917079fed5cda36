#!/usr/bin/perl
# SPEC 4 with Cloudflare's own CLI: wrangler 4 (pinned in
# t/clients/package-lock.json, installed by scripts/setup-deps) pointed at
# us with CLOUDFLARE_API_BASE_URL=http://127.0.0.1:PORT/client/v4,
# CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN. `wrangler dispatch-namespace
# list|create|get|rename|delete`, and `wrangler deploy --dispatch-namespace`
# of a project with two modules, a KV binding, a var and a secret; a secret
# added through the secrets endpoint (the body `wrangler secret put` sends)
# survives the next deploy (keep_bindings). What wrangler sends:
# t/clients/REQUESTS.md.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Admin;
use File::Temp qw(tempdir);
use POSIX ();

my $WRANGLER = npm_tool_or_skip('.bin/wrangler');

my $t = admin_server();
my $dir = tempdir('dispatch-wrangler-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $project = "$dir/project";


# wrangler ARGS... in the project, at most 60 s; returns (output, exit status)
sub wrangler {
    my (@args) = @_;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if (!$pid) {
        chdir $project or die "$project: $!";
        open STDERR, '>&', \*STDOUT;
        %ENV = (
            PATH                    => $ENV{PATH},
            HOME                    => $dir,
            XDG_CONFIG_HOME         => "$dir/config",
            CLOUDFLARE_API_BASE_URL => $t->url('/client/v4'),
            CLOUDFLARE_ACCOUNT_ID   => $ACCOUNT,
            CLOUDFLARE_API_TOKEN    => $TOKEN,
            WRANGLER_SEND_METRICS   => 'false',
            WRANGLER_HIDE_BANNER    => 'true',
            WRANGLER_LOG_PATH       => "$dir/logs",
            NO_COLOR                => '1',
            FORCE_COLOR             => '0',
            CI                      => 'true',
        );
        { no warnings 'exec'; exec 'timeout', '60', $WRANGLER, @args }
        POSIX::_exit(127);
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return ($out, $? >> 8);
}

sub says_ok {
    my ($path, $body, $name) = @_;
    ok $t->every_worker_says($path, 200, $body), $name or diag $t->worker_answers($path);
}

# --- the project: two modules (one in a subdirectory), a KV binding, a var
write_file("$project/wrangler.toml", <<'TOML');
name = "storefront"
main = "src/index.js"
compatibility_date = "2025-01-01"
no_bundle = true
find_additional_modules = true
rules = [{ type = "ESModule", globs = ["**/*.js"] }]

[[kv_namespaces]]
binding = "KV"
id = "shopdata"

[vars]
GREETING = "hello"
TOML
write_file("$project/src/index.js", <<'JS');
import { label } from "./lib/label.js";
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.searchParams.has("put")) await env.KV.put("k", url.searchParams.get("put"));
    const kv = await env.KV.get("k");
    return new Response(`${label(env.GREETING)} key=${env.API_KEY} token=${env.TOKEN} kv=${kv}`);
  },
};
JS
write_file("$project/src/lib/label.js", qq{export function label(s) { return "[" + s + "]"; }\n});
write_file("$project/secrets.json", qq{{"API_KEY":"s3cret"}\n});

# --- dispatch-namespace create, list, get
{
    my ($out, $rc) = wrangler(qw(dispatch-namespace create shop));
    is $rc, 0, 'wrangler dispatch-namespace create shop exits 0' or diag $out;
    like $out, qr/Created dispatch namespace "shop" with ID "[^"]+"/, 'and says it created shop with its ID';
    my $got = envelope_ok(api($t, GET => '/shop'), 'the API knows shop');

    ($out, $rc) = wrangler(qw(dispatch-namespace list));
    is $rc, 0, 'wrangler dispatch-namespace list exits 0' or diag $out;
    like $out, qr/namespace_name: 'shop'/, 'and lists shop';

    ($out, $rc) = wrangler(qw(dispatch-namespace get shop));
    is $rc, 0, 'wrangler dispatch-namespace get shop exits 0' or diag $out;
    like $out, qr/namespace_name: 'shop'/, 'and shows shop';
    my $id = $got && $got->{namespace_id} // '?';
    like $out, qr/namespace_id: '\Q$id\E'/, 'with the id the API gives';

    ($out, $rc) = wrangler(qw(dispatch-namespace get nosuch));
    isnt $rc, 0, 'get of a namespace that does not exist fails';
    like $out, qr/\[code: \d+\]/, "and wrangler prints the API's numbered error" or diag $out;
}

# --- deploy: two modules, KV, a var and a secret from --secrets-file
{
    my ($out, $rc) = wrangler(qw(deploy --dispatch-namespace shop --secrets-file secrets.json));
    is $rc, 0, 'wrangler deploy --dispatch-namespace shop exits 0' or diag $out;
    like $out, qr/Uploaded storefront/, 'and says it uploaded storefront';
    like $out, qr/Dispatch Namespace: shop/, 'into the namespace shop';

    says_ok('/t/shop/storefront', '[hello] key=s3cret token=undefined kv=null',
            'every worker serves it at once: both modules, the var and the secret');
    my $r = $t->get('/t/shop/storefront?put=before');
    is $r->{content}, '[hello] key=s3cret token=undefined kv=before', 'the KV binding writes and reads';

    my $d = script_of(envelope_ok(api($t, GET => '/shop/scripts/storefront'), 'the API has the details'));
    is $d && $d->{id}, 'storefront', 'of storefront';
    my $b = api($t, GET => '/shop/scripts/storefront/bindings');
    my %by = map { $_->{name} => $_ } @{ envelope_ok($b, 'GET .../bindings') || [] };
    is $by{KV} && $by{KV}{type}, 'kv_namespace', 'KV is a kv_namespace binding';
    is $by{KV} && $by{KV}{namespace_id}, 'shopdata', 'of namespace_id shopdata';
    is $by{GREETING} && $by{GREETING}{type}, 'plain_text', 'GREETING is plain_text';
    is $by{API_KEY} && $by{API_KEY}{type}, 'secret_text', 'API_KEY is secret_text';
    unlike $b->{content}, qr/s3cret/, 'whose value the bindings never show';
}

# --- a secret through the secrets endpoint, as `wrangler secret put` sends
#     it, survives the next deploy (wrangler sends keep_bindings secret_text)
{
    envelope_ok(api($t, PUT => '/shop/scripts/storefront/secrets',
                    json => { name => 'TOKEN', text => 't0ken', type => 'secret_text' }),
                'PUT .../secrets {"name":"TOKEN","text":"t0ken","type":"secret_text"}');
    says_ok('/t/shop/storefront', '[hello] key=s3cret token=t0ken kv=before', 'every worker sees TOKEN at once');

    (my $toml = do { local $/; open my $fh, '<', "$project/wrangler.toml"; <$fh> }) =~ s/"hello"/"welcome"/;
    write_file("$project/wrangler.toml", $toml);
    my ($out, $rc) = wrangler(qw(deploy --dispatch-namespace shop --secrets-file secrets.json));
    is $rc, 0, 'a second deploy exits 0' or diag $out;
    says_ok('/t/shop/storefront', '[welcome] key=s3cret token=t0ken kv=before',
            'every worker serves it at once; the secret set through the endpoint is kept');
}

# --- rename: the scripts move, their KV data stays
{
    my ($out, $rc) = wrangler(qw(dispatch-namespace rename shop market));
    is $rc, 0, 'wrangler dispatch-namespace rename shop market exits 0' or diag $out;
    like $out, qr/Renamed dispatch namespace "shop" to "market"/, 'and says so';
    says_ok('/t/market/storefront', '[welcome] key=s3cret token=t0ken kv=before',
            'the script serves under the new name, its KV data still there');
    ok $t->every_worker_says('/t/shop/storefront', 404, "not_found\n"), 'and no longer under the old one'
        or diag $t->worker_answers('/t/shop/storefront');
    ($out, $rc) = wrangler(qw(dispatch-namespace list));
    like $out, qr/namespace_name: 'market'/, 'the list shows market';
    unlike $out, qr/namespace_name: 'shop'/, 'and not shop';
}

# --- delete
{
    my ($out, $rc) = wrangler(qw(dispatch-namespace delete market));
    is $rc, 0, 'wrangler dispatch-namespace delete market exits 0' or diag $out;
    like $out, qr/Deleted dispatch namespace "market"/, 'and says so';
    ok $t->every_worker_says('/t/market/storefront', 404, "not_found\n"), 'its script is 404 on every worker at once'
        or diag $t->worker_answers('/t/market/storefront');
    ($out, $rc) = wrangler(qw(dispatch-namespace get market));
    isnt $rc, 0, 'get of the deleted namespace fails';
}

is_deeply [ $t->error_log_alerts ], [], 'no alert, crit or emerg in the error log';
done_testing;
