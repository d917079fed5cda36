#!/usr/bin/perl
# Operations: a worker that serves the runtime's APIs for a while keeps its
# memory, file descriptors and threads flat. A bounded soak (wrk, ~60 s): a
# dozen scripts using streams and compression, WebCrypto, KV, the Cache API,
# HTMLRewriter, outbound fetch(), URL/URLPattern/FormData/MessageChannel,
# timers and waitUntil, exceptions, unhandled rejections and a dispatch.
# What the worker holds outside the isolates' heaps (RSS less
# dispatch_worker_isolate_memory_bytes) must not grow with the requests: a
# native leak of a few hundred bytes a request shows as tens of megabytes.
# (Isolates coming and going are left out: the worker keeps up to 64 MiB of
# heap chunks for new ones, which would hide such a leak.)
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Time::HiRes qw(sleep);

plan skip_all => 'wrk is needed (scripts/setup-deps installs it)'
    unless grep { -x "$_/wrk" } split /:/, $ENV{PATH};

my $phase_s = 15;
my $t = Dispatch::Test->new(
    workers => 1,
    http    => 'dispatch_cache_path %%PREFIX%%/cache keys_zone=soak:4m max_size=64m tenant_max_size=8m;
    dispatch_fetch_allow 127.0.0.1/32;',
    server  => q{
        location ~ ^/s/(?<script>[^/]+) { dispatch soak $script; }
        location = /up { return 200 "upstream body\n"; }
        location = /status { allow 127.0.0.1; deny all; dispatch_status; }
    },
);
my $port = $t->port;

# name => [script, what its first request answers]
my %soak = (
    hello => [<<'JS', qr/^200 hi$/],
export default { fetch() { return new Response('hi'); } };
JS
    stream => [<<'JS', qr/^200 chunk0body.*chunk19body$/s],
export default {
  async fetch(request) {
    const body = await request.text();
    const enc = new TextEncoder();
    const { readable, writable } = new TransformStream();
    const w = writable.getWriter();
    (async () => {
      for (let i = 0; i < 20; i++) await w.write(enc.encode('chunk' + i + body));
      await w.close();
    })();
    return new Response(readable.pipeThrough(new CompressionStream('gzip'))
                                .pipeThrough(new DecompressionStream('gzip')));
  }
};
JS
    crypto => [<<'JS', qr/^200 [0-9a-f-]{36} 32$/],
export default {
  async fetch() {
    const d = await crypto.subtle.digest('SHA-256', new TextEncoder().encode('x'.repeat(1000)));
    const k = await crypto.subtle.importKey('raw', new Uint8Array(32), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const s = await crypto.subtle.sign('HMAC', k, d);
    const a = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const pt = await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, a,
      await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, a, s));
    return new Response(crypto.randomUUID() + ' ' + pt.byteLength);
  }
};
JS
    kv => [<<'JS', qr/^200 500 [1-5]$/],
export default {
  async fetch(request, env) {
    const k = crypto.randomUUID();
    await env.KV.put(k, 'v'.repeat(500), { metadata: { a: 1 } });
    const v = await env.KV.get(k);
    const l = await env.KV.list({ limit: 5 });
    await env.KV.delete(k);
    return new Response(v.length + ' ' + l.keys.length);
  }
};
JS
    cache => [<<'JS', qr/^200 (miss|(cached){100})$/],
export default {
  async fetch() {
    const u = 'http://c.example/' + Math.floor(Math.random() * 100);
    let r = await caches.default.match(u);
    if (!r) {
      await caches.default.put(u, new Response('cached'.repeat(100), { headers: { 'cache-control': 'max-age=60' } }));
      r = new Response('miss');
    }
    if (Math.random() < 0.1) await caches.default.delete(u);
    return r;
  }
};
JS
    rewriter => [<<'JS', qr/^200 <html><body><a href="\/x" data-x="1">link<\/a><p>para!<\/p>/],
export default {
  fetch() {
    const html = '<html><body>' + '<a href="/x">link</a><p>para</p>'.repeat(50) + '</body></html>';
    return new HTMLRewriter()
      .on('a', { element(e) { e.setAttribute('data-x', '1'); } })
      .on('p', { text(t) { if (t.lastInTextNode) t.after('!'); } })
      .transform(new Response(html, { headers: { 'content-type': 'text/html' } }));
  }
};
JS
    fetch => [<<"JS", qr/^200 upstream body\n$/],
export default {
  async fetch() {
    const r = await fetch('http://127.0.0.1:$port/up', { headers: { 'x-a': 'b' } });
    return new Response(await r.text());
  }
};
JS
    misc => [<<'JS', qr/^200 misc 8 1 1 2$/],
export default {
  async fetch(request, env, ctx) {
    const m = new URLPattern({ pathname: '/s/:name' }).exec(new URL(request.url));
    const h = new Headers({ a: '1' });
    h.append('b', '2');
    const f = new FormData();
    f.append('x', new Blob(['abc']));
    const form = await new Response(f).formData();
    const c = structuredClone({ a: [new Map([[1, 2]])] });
    const ch = new MessageChannel();
    const got = new Promise(r => { ch.port2.onmessage = e => r(e.data); });
    ch.port1.postMessage({ n: 1 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 1);
    ctx.waitUntil(new Promise(r => setTimeout(r, 2)));
    const d = await got;
    return new Response([m.pathname.groups.name, (await form.get('x').text()).length + 5,
                         c.a.length, d.n, [...h].length].join(' '));
  }
};
JS
    throw => [<<'JS', qr/^500 /],
export default { fetch() { throw new Error('boom'); } };
JS
    reject => [<<'JS', qr/^200 r$/],
export default { fetch() { Promise.reject(new Error('nobody')); return new Response('r'); } };
JS
    router => [<<'JS', qr/^200 hi$/],
export default { fetch(request, env) { return env.CUSTOMERS.get('hello').fetch(request); } };
JS
);
my %meta = (
    kv     => '{"bindings":[{"type":"kv_namespace","name":"KV","namespace_id":"soak-kv"}]}',
    router => '{"bindings":[{"type":"dispatch_namespace","name":"CUSTOMERS","namespace":"soak"}]}',
);
for my $name (sort keys %soak) {
    $t->put_script('soak', $name, $soak{$name}[0], $meta{$name} ? (metadata => $meta{$name}) : ());
}

for my $name (sort keys %soak) {
    my $r = $name eq 'stream' ? $t->request('POST', "/s/$name", content => 'body') : $t->get("/s/$name");
    like "$r->{status} $r->{content}", $soak{$name}[1], "$name answers as it should";
}

# wrk goes round the scripts
my @paths = map { "/s/$_" } sort keys %soak;
my $lua = $t->prefix . '/round.lua';
open my $fh, '>', $lua or die "$lua: $!";
print $fh 'paths = {', join(',', map { "\"$_\"" } @paths), "}\n", <<'LUA';
i = 0
request = function()
  i = i + 1
  local p = paths[(i % #paths) + 1]
  if p == "/s/stream" then return wrk.format("POST", p, nil, "body") end
  return wrk.format("GET", p)
end
LUA
close $fh;

my ($worker) = my @workers = $t->worker_pids;

sub isolate_memory_kb {
    sleep 1.1;    # the gauges are published once a second
    my ($m) = $t->get('/status')->{content}
        =~ /^dispatch_worker_isolate_memory_bytes\{[^}]*\} (\d+)$/m;
    return ($m // 0) / 1024;
}

my (@native, @fds, @threads, $requests);
for my $phase (0 .. 3) {
    my $out = `wrk -t1 -c8 -d${phase_s}s -s $lua http://127.0.0.1:$port/ 2>&1`;
    my ($n) = $out =~ /(\d+) requests in/;
    $requests += $n // 0 if $phase > 0;
    my $heaps = isolate_memory_kb();
    my $native = $t->rss_kb($worker) - $heaps;
    push @native, $native;
    push @fds, $t->fd_count($worker);
    push @threads, $t->thread_count($worker);
    note sprintf "phase %d: %s requests, RSS outside the isolates' heaps %.1f MB, %d fds, %d threads",
        $phase, $n // '?', $native / 1024, $fds[-1], $threads[-1];
}
is_deeply [ $t->worker_pids ], \@workers, 'the worker served the whole soak';
cmp_ok $requests, '>', 10000, "the soak after its warm-up phase was $requests requests";

# phase 0 warms up (isolates, caches, connections); the next three must not grow
my $growth = $native[3] - $native[1];
cmp_ok $growth, '<', 16 * 1024,
    sprintf('memory outside the heaps stays flat: %+.1f MB over %d requests (%+.0f bytes a request)',
            $growth / 1024, $requests, $growth * 1024 / ($requests || 1));
cmp_ok $fds[3] - $fds[1], '<=', 8, "file descriptors stay flat ($fds[1] -> $fds[3])";
is $threads[3], $threads[1], "threads stay flat ($threads[1])";

# every request of the soak ended as its script meant: ok, or the thrower's exception
my $status = $t->get('/status')->{content};
my @other = grep { !/outcome="ok"/ && !/script="throw",outcome="exception"/ }
            $status =~ /^(dispatch_requests_total\{.*)$/mg;
is_deeply \@other, [], 'no request ended otherwise (no limit, no overload)';
is scalar($t->error_log_alerts), 0, 'no alerts or crashes in the error log'
    or diag join "\n", $t->error_log_alerts;
done_testing;
