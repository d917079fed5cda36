#!/usr/bin/perl
# SPEC 3: env carries the bindings declared in the script's metadata, in
# Cloudflare's shapes; in the service-worker format they are globals;
# cloudflare:workers exports env and WorkerEntrypoint.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP qw(decode_json);

my $t = Dispatch::Test->new(
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch tenants $script; } },
);

my $bindings = q({"bindings":[
  {"type":"plain_text","name":"GREETING","text":"hello"},
  {"type":"secret_text","name":"TOKEN","text":"s3cr3t"},
  {"type":"json","name":"CONF","json":{"limits":[1,2],"on":true}}
]});

$t->put_script('tenants', 'env', q{
    export default {
      fetch(request, env) {
        return Response.json({
          greeting: env.GREETING, token: env.TOKEN, conf: env.CONF,
          confType: typeof env.CONF, undeclared: env.OTHER === undefined,
          keys: Object.keys(env).sort(),
        });
      }
    };
}, metadata => $bindings);

my $r = $t->get('/t/env');
is $r->{status}, 200, 'a script with bindings answers';
like $r->{content}, qr/"greeting":"hello"/, 'plain_text is a string in env';
like $r->{content}, qr/"token":"s3cr3t"/, 'secret_text is a string in env';
like $r->{content}, qr/"conf":\{"limits":\[1,2\],"on":true\}/, 'json is the parsed value';
like $r->{content}, qr/"confType":"object"/, 'json is an object, not a string';
like $r->{content}, qr/"undeclared":true/, 'a binding the script does not declare is undefined';
like $r->{content}, qr/"keys":\["CONF","GREETING","TOKEN"\]/, 'env holds exactly the declared bindings';

$t->put_script('tenants', 'sw', q{
    addEventListener('fetch', (event) => {
      event.respondWith(new Response(`${GREETING}/${TOKEN}/${CONF.limits.length}`));
    });
}, format => 'service-worker', metadata => $bindings);
is $t->get('/t/sw')->{content}, 'hello/s3cr3t/2', 'service-worker bindings are globals';

$t->put_script('tenants', 'noenv', q{
    export default { fetch(request, env) { return new Response(JSON.stringify(env)); } };
});
is $t->get('/t/noenv')->{content}, '{}', 'without metadata env is empty';

$t->put_script('tenants', 'badmeta', q{ export default { fetch() { return new Response('x'); } }; },
               metadata => '{"bindings": [{"type": "kv_namespace", "name": "KV", "namespace_id": "a/b"}]}');
is $t->get('/t/badmeta')->{status}, 500, 'an invalid kv namespace id fails the script';
ok $t->wait_for(sub { $t->error_log =~ /"tenants\/badmeta": .*namespace_id of 1-64 characters/ }),
    'and the error log says why';

$t->put_script('tenants', 'notjson', q{ export default { fetch() { return new Response('x'); } }; },
               metadata => '{not json');
is $t->get('/t/notjson')->{status}, 500, 'metadata that is not JSON fails the script';

# ---- cloudflare:workers: env importable, WorkerEntrypoint ----

$t->put_script('tenants', 'entrypoint', q{
    import { WorkerEntrypoint, DurableObject, WorkflowEntrypoint, RpcTarget, env } from 'cloudflare:workers';
    const atTop = env.GREETING;
    let made = 0;
    export class Counter extends DurableObject {}
    export default class extends WorkerEntrypoint {
      constructor(ctx, env) { super(ctx, env); made++; }
      async fetch(request) {
        this.ctx.waitUntil(Promise.resolve());
        return Response.json({
          atTop, made, path: new URL(request.url).pathname, args: arguments.length,
          fromThis: this.env.GREETING, sameEnv: this.env === env,
          ctx: Object.prototype.toString.call(this.ctx),
          bases: [typeof DurableObject, typeof WorkflowEntrypoint, typeof RpcTarget],
        });
      }
    }
}, metadata => $bindings);
{
    my $got = decode_json($t->get('/t/entrypoint/a')->{content});
    is $got->{atTop}, 'hello', "import { env } from 'cloudflare:workers' holds the bindings at the top level";
    is_deeply [ @$got{qw(fromThis sameEnv ctx args path)} ], ['hello', JSON::PP::true, '[object ExecutionContext]', 1, '/t/entrypoint/a'],
        'a default class extending WorkerEntrypoint: this.env (the same env), this.ctx, fetch(request)';
    is_deeply $got->{bases}, ['function', 'function', 'function'], 'DurableObject, WorkflowEntrypoint and RpcTarget are there to extend';
    is decode_json($t->get('/t/entrypoint/b')->{content})->{made}, 2, 'one instance for each request';
}
$t->put_script('tenants', 'plainclass', q{
    export default class { async fetch() { return new Response('never'); } }
});
is $t->get('/t/plainclass')->{status}, 500, 'a default class that does not extend WorkerEntrypoint is not a handler';
$t->put_script('tenants', 'otherplatform', q{
    import { EmailMessage } from 'cloudflare:email';
    export default { fetch() { return new Response('never'); } };
});
is $t->get('/t/otherplatform')->{status}, 500, 'cloudflare:email is not there (of the cloudflare:* modules, only workers and sockets are)';

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
done_testing;
