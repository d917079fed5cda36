#!/usr/bin/perl
# Findings of a sixth attack (branch attack2), on the second half of what
# was merged on the day of nodejs_compat, the Cache API, HTMLRewriter and
# dispatch_status: a hostile tenant who has read README.md and SPEC.md.
# Each case asserts what the README promises and failed on the commit it
# was found on, unless it says it pins a defence that held.
#
# Tried and held (no test kept): Buffer.alloc/allocUnsafe (zero-filled
# Uint8Arrays; every native that returns bytes fills or copies them all);
# zlib deflateSync of 480 MB of zeros under a 1g limit, and of 300 MB with
# dispatch_hang_timeout 250ms (a call makes at most 64 KiB of output, so
# at most ~66 MB of input: exceeded_cpu, the worker lives); AsyncLocalStorage
# enterWith in one request, read by a concurrent one of the same isolate
# at its start, after await, a shared promise and a timer (undefined);
# HTMLRewriter element, text and end-tag objects used after their handler
# (TypeError), async handlers, a transform inside a handler; :nth-of-type
# over 200000 distinct sibling names (quadratic, but one element per native
# call: exceeded_cpu); process.env (a copy of its own text bindings);
# getBuiltinModule names (bounded before the native); status label values
# and JSON log lines (escaped; names are validated before they get there).
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Hostile;
use File::Find;
use Digest::SHA qw(sha256_hex hmac_sha256_hex);
use Time::HiRes qw(sleep);

# A CPU limit that lets each case reach what it aims at (a native call
# past dispatch_hang_timeout, 1s, is what kills a worker), and a memory
# limit small enough to meet.
my $t = hostile_server(budget => 100,
    http => 'dispatch_cpu_limit 2s; dispatch_memory_limit 16m; '
          . 'dispatch_cache_path %%PREFIX%%/cache keys_zone=dcache:1m max_size=4m tenant_max_size=1m;');

# ---------------------------------------------------------------------------
# 1. HTMLRewriter matched [attr*=value] by comparing the value at every
# offset of the attribute (byte by byte with the 'i' flag), and counted one
# unit of work per simple selector whatever the lengths: one element whose
# 1 MB attribute is 'a's, against a 16000-character value of 'a's and a
# 'b', took 16G byte comparisons in one native call, which the watchdog
# cannot stop: the worker ran past dispatch_hang_timeout. Now a substring
# search is linear (memmem, on lowered copies for 'i'), and matching one
# element against the selectors may cost at most 16M steps (attributes
# looked up, bytes compared): past that the transform errors.
my $rewrite_js = q{
    export default { async fetch() {
      const html = '<p a="' + 'a'.repeat(ATTRLEN) + '">x</p>';
      let rw = new HTMLRewriter();
      for (const sel of SELECTORS) rw = rw.on(sel, { element(e) { e.setAttribute('hit', '1'); } });
      try {
        const out = await rw.transform(new Response(html)).text();
        return new Response('done ' + out.includes('hit="1"'));
      } catch (err) { return new Response(err.name + ': ' + err.message); }
    } };
};
hostile_case($t, 'HTMLRewriter [a*=v i] of a 16000-character v over a 1 MB attribute is quick',
    js => $rewrite_js =~ s/SELECTORS/['[a*="' + 'a'.repeat(16000) + 'b" i]']/r =~ s/ATTRLEN/(1 << 20) - 64/r,
    expect => [[200, 'done false']],
    within => 5,
    timeout => 20);

# (70 selectors over 256 KiB: 18M steps; a 1 MB attribute against more
# than 16 such selectors errors the same way, when the request's CPU limit
# does not stop it first.)
hostile_case($t, 'HTMLRewriter with 70 [a*=v] selectors over a 256 KiB attribute errors at the bound',
    js => $rewrite_js =~ s/SELECTORS/Array.from({ length: 70 }, (_, i) => '[a*="' + 'a'.repeat(200) + i + '"]')/r
                      =~ s/ATTRLEN/1 << 18/r,
    expect => [[200, qr/^TypeError: HTMLRewriter: matching one element against the selectors/]],
    within => 5,
    timeout => 20);

hostile_case($t, 'HTMLRewriter [a*=v i] still matches within a long attribute',
    js => $rewrite_js =~ s/SELECTORS/['[a*="AAAB" i]']/r =~ s/'">x<\/p>'/'aaab">x<\/p>'/r =~ s/ATTRLEN/1 << 18/r,
    expect => [[200, 'done true']]);

# ---------------------------------------------------------------------------
# 2. HTMLRewriter charged each open element a fixed size, but an element
# keeps its tag name while open, and a name may be as long as a token
# (1 MiB), 1024 of them open: 64 nested elements of 1 MiB names, one
# Uint8Array enqueued 64 times, held 64 MB outside a 16m isolate's budget
# (300 of them: a worker at 348 MB), and the rewrite finished. The names
# of open elements (and of the types :nth-of-type counts) are now charged.
hostile_case($t, 'HTMLRewriter: open elements with 1 MiB names count toward the memory limit',
    js => q{
        const open = new TextEncoder().encode('<q' + 'a'.repeat((1 << 20) - 100) + '>');
        export default { async fetch() {
          let sent = 0;
          const body = new ReadableStream({ pull(c) { if (sent++ < 64) c.enqueue(open); else c.close(); } });
          const rw = new HTMLRewriter().on('p', { element() {} });
          try {
            const reader = rw.transform(new Response(body)).body.getReader();
            let length = 0;
            for (;;) { const r = await reader.read(); if (r.done) break; length += r.value.length; }
            return new Response('done ' + length);
          } catch (err) { return new Response(err.name + ': ' + err.message); }
        } };
    },
    expect => [[200, qr/^RangeError: .*memory limit/]],
    timeout => 20);

# ---------------------------------------------------------------------------
# 3. A put writes its body to a temporary file as it comes, and each put
# was bounded by tenant_max_size alone: a script that starts many puts at
# once (up to 128, its bound on open files) of bodies that never end held
# 128 times tenant_max_size on the cache's disk, past max_size too, for as
# long as its waitUntil lived (here 40 puts of 900 KiB: 36 MB under a 1m
# tenant bound and a 4m node bound). Now the bytes of all of a script's
# puts in progress together are bounded by tenant_max_size: past it a put
# stops reading and stores nothing, as one too large does (here all of
# them: each meets the bound at its next piece).
sub tmp_bytes {
    my $sum = 0;
    my $dir = $t->prefix . '/cache/tmp';
    find(sub { $sum += -s $_ if -f $_ }, $dir) if -d $dir;
    return $sum;
}
hostile_case($t, 'puts in progress together stay within tenant_max_size on disk',
    js => q{
        const chunk = new Uint8Array(64 << 10).fill(97);
        function endless(stop) {
          let sent = 0;
          return new ReadableStream({
            async pull(c) {
              if (sent < 14) { sent++; c.enqueue(chunk); return; }
              await stop;
              c.error(new Error('given up'));
            },
          });
        }
        export default { async fetch(req, env, ctx) {
          const stop = new Promise(resolve => setTimeout(resolve, 2500));
          const cache = caches.default;
          const puts = [];
          for (let i = 0; i < 40; i++) {
            puts.push(cache.put('https://cache.test/endless' + i,
                                new Response(endless(stop), { headers: { 'cache-control': 'max-age=600' } })));
          }
          ctx.waitUntil(Promise.allSettled(puts));
          await new Promise(resolve => setTimeout(resolve, 500));
          return new Response('started');
        } };
    },
    expect => [[200, 'started']],
    check => sub {
        my $bytes = tmp_bytes();
        cmp_ok $bytes, '<=', 1 << 20, 'the temporary files of its puts hold at most tenant_max_size';
        sleep 3;
        is tmp_bytes(), 0, 'puts given up leave no temporary file';
    });

hostile_case($t, 'two puts in progress together within tenant_max_size both store',
    js => q{
        function body(n) {
          let left = n;
          return new ReadableStream({ async pull(c) {
            await new Promise(resolve => setTimeout(resolve, 5));
            if (left === 0) return c.close();
            left -= 65536; c.enqueue(new Uint8Array(65536).fill(98));
          } });
        }
        export default { async fetch() {
          const cache = caches.default;
          const headers = { 'cache-control': 'max-age=600' };
          await Promise.all([cache.put('https://cache.test/two1', new Response(body(6 << 16), { headers })),
                             cache.put('https://cache.test/two2', new Response(body(6 << 16), { headers }))]);
          const a = await cache.match('https://cache.test/two1');
          const b = await cache.match('https://cache.test/two2');
          return new Response((a ? (await a.arrayBuffer()).byteLength : 'miss') + ' ' +
                              (b ? (await b.arrayBuffer()).byteLength : 'miss'));
        } };
    },
    expect => [[200, '393216 393216']]);

# ---------------------------------------------------------------------------
# 4. A body being read holds a file, at most 128 per isolate and 512 per
# worker process; a script that keeps half-read bodies in a global holds its
# files across requests. Four scripts holding 128 each (a few requests,
# then nothing) took every file of the worker for good: every other tenant's
# matched body failed to read (500) and its puts stored nothing. Now, when
# the worker has no file left, the least recently read body lets go of its
# own (it opens it again when read next).
# Another tenant: a put and a match of its own, read to the end.
my $another_tenant_js = q{
    export default { async fetch() {
      await caches.default.put('https://cache.test/mine', new Response('m'.repeat(100000),
                               { headers: { 'cache-control': 'max-age=600' } }));
      const res = await caches.default.match('https://cache.test/mine');
      if (!res) return new Response('miss');
      return new Response('read ' + (await res.text()).length);
    } };
};
my $holder_js = q{
    const held = [];
    export default { async fetch(req) {
      const q = new URL(req.url).searchParams;
      if (q.has('put')) {
        await caches.default.put('https://cache.test/held', new Response('h'.repeat(200000),
                                 { headers: { 'cache-control': 'max-age=600' } }));
        return new Response('put');
      }
      let errors = 0;
      for (let i = 0; i < 130; i++) {
        const reader = (await caches.default.match('https://cache.test/held')).body.getReader();
        try { await reader.read(); held.push(reader); } catch { errors++; }
      }
      return new Response('holding ' + held.length);
    } };
};
hostile_case($t, "another tenant's matched body still reads while four scripts hold 512 half-read bodies",
    setup => sub {
        my ($t) = @_;
        for my $i (1 .. 4) {
            $t->put_script('tenants', "holder$i", $holder_js);
            is $t->get("/t/holder$i?put=1")->{content}, 'put', "holder$i stored its entry";
            is $t->get("/t/holder$i")->{content}, 'holding 128', "holder$i holds 128 half-read bodies";
        }
    },
    js => $another_tenant_js,
    expect => [[200, 'read 100000']],
    check => sub {
        my ($r, $t) = @_;
        is $t->get('/t/holder1')->{content}, 'holding 129',
            'a holder still reads a body of its own (within its bound)';
    });

# The same with puts: each held its temporary file open for as long as its
# body took, out of the same 512, so four scripts starting 128 puts of
# bodies that never end (kept by waitUntil for 30 s, and again) shut every
# other tenant out of the cache. Now a put opens its file only within a
# write; puts in progress stay bounded at 128 per isolate.
my $putter_js = q{
    export default { async fetch(req, env, ctx) {
      const stop = new Promise(resolve => setTimeout(resolve, 3000));
      const puts = [];
      for (let i = 0; i < 128; i++) {
        let sent = false;
        const body = new ReadableStream({ async pull(c) {
          if (!sent) { sent = true; c.enqueue(new Uint8Array(16)); return; }
          await stop;
          c.error(new Error('given up'));
        } });
        puts.push(caches.default.put('https://cache.test/endless' + i,
                                     new Response(body, { headers: { 'cache-control': 'max-age=600' } })));
      }
      ctx.waitUntil(Promise.allSettled(puts));
      await new Promise(resolve => setTimeout(resolve, 200));
      return new Response('putting');
    } };
};
hostile_case($t, "another tenant's put and matched body still work while four scripts have 512 puts in progress",
    setup => sub {
        my ($t) = @_;
        for my $i (1 .. 4) {
            $t->put_script('tenants', "putter$i", $putter_js);
            is $t->get("/t/putter$i")->{content}, 'putting', "putter$i started 128 puts";
        }
    },
    js => $another_tenant_js,
    expect => [[200, 'read 100000']]);

# ---------------------------------------------------------------------------
# 5. node:crypto's createHash/createHmac (and crypto.DigestStream) handed
# a whole buffer to one native call: under dispatch_memory_limit 1g (a limit
# an operator may set), SHA-512 of 900 MB ran 1.5 s where the watchdog
# cannot stop it, and the worker was killed past dispatch_hang_timeout. Now
# a call hashes at most 4 MiB and the loop over the pieces is JavaScript:
# the request stops with exceeded_cpu.
my $big = hostile_server(http => 'dispatch_memory_limit 1g;');
my $COMPAT = '{"compatibility_date":"2025-09-01","compatibility_flags":["nodejs_compat"]}';
hostile_case($big, 'node:crypto createHash over 900 MB stops at the CPU limit',
    js => q{
        import crypto from 'node:crypto';
        export default { async fetch() {
          const hex = crypto.createHash('sha512').update(new Uint8Array(900 << 20)).digest('hex');
          return new Response('hashed ' + hex.slice(0, 8));
        } };
    },
    fields => { metadata => $COMPAT },
    expect => [[503, "exceeded_cpu\n"]],
    timeout => 20);

my $n = (9 << 20) + 3;
hostile_case($big, 'node:crypto createHash and createHmac over 9 MiB in pieces give the right digests',
    js => q{
        import crypto from 'node:crypto';
        export default { async fetch() {
          const data = new Uint8Array(N).fill(7);
          const view = new DataView(data.buffer, 1, N - 1);
          return new Response(crypto.createHash('sha256').update(data).digest('hex') + ' ' +
                              crypto.createHmac('sha256', 'k').update(view).digest('hex'));
        } };
    } =~ s/N/$n/gr,
    fields => { metadata => $COMPAT },
    expect => [[200, sha256_hex("\x07" x $n) . ' ' . hmac_sha256_hex("\x07" x ($n - 1), 'k')]],
    timeout => 20);

# 6. crypto.subtle.digest copied its input and handed the copy to one
# native call: 600 MB under a 1g limit needed 1.2 GB (503 exceeded_memory),
# and a long input ran where the watchdog cannot stop it. Past 4 MiB it now
# hashes the script's bytes in place, in pieces of at most 4 MiB
# (digestUpdate), and the CPU limit stops it.
hostile_case($big, 'crypto.subtle.digest over 600 MB hashes in place and stops at the CPU limit',
    js => q{
        export default { async fetch() {
          const d = await crypto.subtle.digest('SHA-512', new Uint8Array(600 << 20));
          return new Response('hashed ' + new Uint8Array(d)[0]);
        } };
    },
    expect => [[503, "exceeded_cpu\n"]],
    timeout => 30);

hostile_case($big, 'crypto.subtle.digest over 9 MiB in pieces gives the right digest',
    js => q{
        export default { async fetch() {
          const data = new Uint8Array(N).fill(7);
          const d = await crypto.subtle.digest('SHA-256', new DataView(data.buffer, 1, N - 1));
          return new Response([...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, '0')).join(''));
        } };
    } =~ s/N/$n/gr,
    expect => [[200, sha256_hex("\x07" x ($n - 1))]],
    timeout => 20);

done_testing();
