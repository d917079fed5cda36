#!/usr/bin/perl
# Issue 16: HTMLRewriter against large and hostile input. A 16 MB document is
# rewritten, streaming, under dispatch_memory_limit 8m (every link rewritten,
# checked byte for byte by the client); an attribute or a comment past the
# rewriter's 1 MiB token limit, a nesting bomb 100,000 deep, a selector bomb
# and too many on() calls are answered with clear errors, while the worker
# keeps serving; deep nesting under the limit with a long descendant selector
# stays linear; tampered intrinsics do not reach the rewriter's internals.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP;
use Digest::SHA qw(sha256_hex);
use Time::HiRes qw(time);

my $t = Dispatch::Test->new(
    http => "dispatch_memory_limit 8m;\n    dispatch_cpu_limit 30s;\n    dispatch_wall_limit 60s;",
    server => q{
        location ~ ^/t/(?<script>[^/]*) { dispatch api $script; }
        location ~ ^/cpu/(?<script>[^/]*) { dispatch_cpu_limit 200ms; dispatch api $script; }
    },
);
my ($T, $F) = (JSON::PP::true, JSON::PP::false);

my $HELPERS = q{
    const utf8 = (text) => new TextEncoder().encode(text);
    // A body of pieces made one at a time by next(i) (null: the end).
    function generated(next) {
      let i = 0;
      return new ReadableStream({ pull(c) { const piece = next(i++); if (piece === null) c.close(); else c.enqueue(piece); } });
    }
    const rewrite = (setup, stream) => setup(new HTMLRewriter()).transform(new Response(stream));
    // "ok BYTES" or the error, read without holding the output.
    async function outcome(setup, stream) {
      try {
        const reader = rewrite(setup, stream).body.getReader();
        let n = 0;
        for (;;) { const { value, done } = await reader.read(); if (done) return `ok ${n}`; n += value.length; }
      } catch (e) { return `${e.name}: ${e.message}`; }
    }
    const repeat = (s, n) => utf8(s.repeat(n));
};
sub checks { my ($name, $code) = @_; return $t->run_checks('api', $name, $HELPERS . $code) }
# Each check in an isolate of its own: one's garbage is not another's memory.
sub each_check {
    my ($group, $prelude, %code) = @_;
    my %got;
    for my $name (sort keys %code) {
        my $r = checks(lc "$group-$name", "$prelude\nexport default { fetch: () => results({ $name: $code{$name} }) };");
        $got{$name} = $r->{$name};
    }
    return \%got;
}
sub still_serving {
    my ($what) = @_;
    my $r = $t->request('GET', '/t/alive');
    is $r->{content}, 'alive', "the worker still serves after $what";
}
$t->put_script('api', 'alive', q{export default { fetch: () => new Response('alive') };});
my @workers = $t->worker_pids;

# ---- 16 MB under an 8 MB memory limit ----

$t->put_script('api', 'big', $HELPERS . q{
    export default { fetch() {
      const lines = 64;  // per piece
      const total = 16 * 1024 * 1024;
      let made = 0;
      const body = generated((i) => {
        if (made >= total) return null;
        let s = '';
        for (let k = 0; k < lines; k++) s += `<p class=x><a href="/${i * lines + k}">link ${i * lines + k}</a> text &amp; more <!-- c --></p>\n`;
        made += s.length;
        return utf8(s);
      });
      return new HTMLRewriter()
        .on('a[href]', { element(e) { e.setAttribute('data-n', e.getAttribute('href').slice(1)); } })
        .onDocument({ end(end) { end.append('<!-- end -->', { html: true }); } })
        .transform(new Response(body, { headers: { 'content-type': 'text/html' } }));
    } };
});
my ($want, $made, $i) = ('', 0, 0);
while ($made < 16 * 1024 * 1024) {
    my $s = '';
    for my $k (0 .. 63) {
        my $n = $i * 64 + $k;
        $s .= qq{<p class=x><a href="/$n">link $n</a> text &amp; more <!-- c --></p>\n};
    }
    $made += length $s;
    $s =~ s{<a href="/(\d+)">}{<a href="/$1" data-n="$1">}g;
    $want .= $s;
    $i++;
}
$want .= '<!-- end -->';
my $start = time;
my $r = $t->request('GET', '/t/big');
is $r->{status}, 200, 'a 16 MB document is rewritten under dispatch_memory_limit 8m';
is length($r->{content}), length($want), 'all of it comes out (' . length($want) . ' bytes)';
is sha256_hex($r->{content}), sha256_hex($want), 'every link is rewritten and every other byte is as it was';
diag sprintf 'the 16 MB rewrite took %.1f s', time - $start;
unlike $t->error_log, qr/memory limit|condemned|exited on signal/i, 'no memory limit was hit and no worker died';

# ---- oversized tokens ----

my $got = each_check('tokens', '',
    hugeAttribute => q{() => outcome((r) => r.on('a', { element() {} }), generated((i) => i === 0 ? utf8('<a href="') : i <= 40 ? repeat('x', 64 * 1024) : i === 41 ? utf8('">') : null))},
    hugeAttributeNoHandler => q{() => outcome((r) => r, generated((i) => i === 0 ? utf8('<a title="') : i <= 40 ? repeat('y', 64 * 1024) : null))},
    unterminatedComment => q{() => outcome((r) => r.onDocument({ comments() {} }), generated((i) => i === 0 ? utf8('<p>x<!--') : i <= 40 ? repeat('-', 64 * 1024) : null))},
    hugeDoctype => q{() => outcome((r) => r, generated((i) => i === 0 ? utf8('<!DOCTYPE ') : i <= 40 ? repeat('h', 64 * 1024) : null))},
    underLimit => q{() => outcome((r) => r.on('a', { element(e) { e.setAttribute('b', String(e.getAttribute('href').length)); } }),
        generated((i) => i === 0 ? utf8('<a href="') : i <= 8 ? repeat('z', 64 * 1024) : i === 9 ? utf8('">') : null))},
    bigText => q{() => outcome((r) => r.on('p', { text() {} }), generated((i) => i === 0 ? utf8('<p>') : i <= 64 ? repeat('t', 64 * 1024) : null))},
    oneBytePieces => q{() => outcome((r) => r.on('a', { element() {} }), generated((i) => i === 0 ? utf8('<a href="') : i <= 200000 ? utf8('q') : i === 200001 ? utf8('">') : null))},
);
like $got->{$_}, qr/^TypeError: HTMLRewriter: a tag, comment or doctype is longer than 1048576 bytes/, "$_: refused with a clear error past the 1 MiB token limit"
    for qw(hugeAttribute hugeAttributeNoHandler unterminatedComment hugeDoctype);
# <a href="z..." b="524288">: the attribute as written, the new one serialised
is $got->{underLimit}, 'ok ' . (length('<a href="" b="524288">') + 8 * 65536), 'a 512 KiB attribute is fine';
is $got->{bigText}, 'ok ' . (3 + 64 * 65536), 'text is never held whole: 4 MiB of text in one node streams through';
is $got->{oneBytePieces}, 'ok 200011', 'a 200 KB attribute in 1-byte pieces is tokenized without starting over';
still_serving('oversized tokens');

# ---- nesting, selector and handler bombs ----

my $DEEP = q{
    const deep = (n, open, close = '') => generated((i) => i === 0 ? repeat(open, n) : i === 1 && close ? repeat(close, n) : null);
};
$got = each_check('bombs', $DEEP,
    nestingBomb => q{() => outcome((r) => r.on('div', { element() {} }), deep(100000, '<div>'))},
    nestingBombNoHandler => q{() => outcome((r) => r, deep(100000, '<span>'))},
    nestingUnderLimit => q{() => outcome((r) => r.on('b', { element(e) { e.setAttribute('d', '1'); } }), deep(1000, '<b>', '</b>'))},
    autoClosed => q{() => outcome((r) => r.on('p', { element() {} }), deep(100000, '<p>x'))},
    voids => q{() => outcome((r) => r.on('br', { element() {} }), deep(100000, '<br>'))},
    strayEndTags => q{() => outcome((r) => r.on('i', { element() {} }), generated((i) => i === 0 ? repeat('<i>', 1000) : i < 20 ? repeat('</u>', 10000) : null))},
    longSelector => q{async () => { let n = 0; const out = await outcome((r) => r.on(Array(1000).fill('div').join(' ') + ' p', { element() { n++; } }),
        generated((i) => i === 0 ? repeat('<div>', 1001) : i === 1 ? repeat('<p></p>', 1000) : null)); return [out, n]; }},
    childChain => q{async () => { let n = 0; await outcome((r) => r.on(Array(500).fill('div').join(' > '), { element() { n++; } }),
        generated((i) => i === 0 ? repeat('<div>', 1000) : null)); return n; }},
    selectorBomb => q{() => { new HTMLRewriter().on(Array(5000).fill('a').join(' '), {}); return 'accepted'; }},
    compoundBomb => q{() => { new HTMLRewriter().on(Array(4097).fill('a').join(','), {}); return 'accepted'; }},
    manyOn => q{() => { const r = new HTMLRewriter(); for (let i = 0; i < 2000; i++) r.on('p', { element() {} }); return 'accepted'; }},
    manyHandlers => q{async () => { let n = 0; const r = (x) => { for (let i = 0; i < 1000; i++) x.on('p', { element() { n++; } }); return x; };
        const out = await outcome(r, generated((i) => i === 0 ? repeat('<p>', 2000) : null)); return [out, n]; }},
    heldContent => q{async () => { const big = 'x'.repeat(100000); let n = 0;
        const out = await outcome((r) => r.on('b', { element(e) { n++; e.after(big); e.append(big); } }), deep(1000, '<b>', '</b>')); return [out, n]; }},
    bigChunk => q{() => outcome((r) => r.on('p', { text() {} }), generated((i) => i === 0 ? repeat('<p>0123456789abcdef', 128 * 1024) : null))},
    cancelInHandler => q{async () => { const res = new HTMLRewriter().on('p', { element() { reader.cancel('stop'); } }).transform(new Response('<p>a</p>'.repeat(10)));
        const reader = res.body.getReader(); try { const r = await reader.read(); return r.done ? 'done' : 'value'; } catch (e) { return `${e.name}: ${e.message}`; } }},
    throwInEndTag => q{() => outcome((r) => r.on('p', { element(e) { e.onEndTag(() => { throw new SyntaxError('end'); }); } }), generated((i) => i === 0 ? utf8('<p>x</p>') : null))},
    manySelectorsTotal => q{() => outcome((r) => { for (let i = 0; i < 1000; i++) r.on('a b c d e', {}); return r; }, generated(() => null))},
);
like $got->{nestingBomb}, qr/^TypeError: HTMLRewriter: elements nest more than 1024 deep/, 'a nesting bomb 100,000 deep is refused with a clear error';
like $got->{nestingBombNoHandler}, qr/^TypeError: HTMLRewriter: elements nest more than 1024 deep/, 'also when no handler matches';
is $got->{nestingUnderLimit}, 'ok ' . (1000 * 3 + 1000 * 4 + 1000 * 6), '1000 levels deep is fine';
is $got->{autoClosed}, 'ok 400000', '100,000 <p> that close each other do not nest';
is $got->{voids}, 'ok 400000', '100,000 void elements do not nest';
is $got->{strayEndTags}, 'ok ' . (3000 + 19 * 40000), 'stray end tags under a deep stack pass through';
is_deeply $got->{longSelector}, ['ok ' . (5 * 1001 + 7 * 1000), 1000], 'a 1000-compound descendant selector over 1000 levels matches in linear time';
is $got->{childChain}, 501, 'a 500-compound child chain matches where it should';
like $got->{selectorBomb}, qr/^threw TypeError: Invalid selector/, 'a selector of 5000 compounds is a TypeError';
like $got->{compoundBomb}, qr/^threw TypeError: Invalid selector/, 'a selector list of 4097 compounds is a TypeError';
like $got->{manyOn}, qr/^threw TypeError: HTMLRewriter.on: more than 1024 selectors/, 'more than 1024 on() calls is a TypeError';
is_deeply $got->{manyHandlers}, ['ok 6000', 2000 * 1000], '1000 handlers on 2000 elements all run';
like $got->{heldContent}[0], qr/^RangeError: .*memory limit/, 'content held for 1000 open end tags (200 MB) meets the memory limit as a RangeError';
cmp_ok $got->{heldContent}[1], '<', 100, 'as soon as what is held is past it, not when it goes out';
is $got->{bigChunk}, 'ok ' . (19 * 128 * 1024), 'a 2.4 MB chunk is rewritten in slices under the 8m limit';
is $got->{cancelInHandler}, 'done', 'a handler that cancels the body it is rewriting ends the stream cleanly';
is $got->{throwInEndTag}, 'SyntaxError: end', 'an end tag handler that throws errors the stream with its exception';
like $got->{manySelectorsTotal}, qr/^TypeError: HTMLRewriter: the selectors have more than 4096 compound selectors/, 'selectors over 4096 compounds in all are refused';
still_serving('the bombs');

# ---- rewriters abandoned mid-way give their memory back ----

# Each holds an unfinished 512 KiB tag when it is cancelled or dropped: 20 a
# request, 100 requests, under the 8m limit.
$t->put_script('api', 'abandon', $HELPERS . q{
    export default { async fetch(request) {
      const mode = new URL(request.url).searchParams.get('mode');
      for (let i = 0; i < 20; i++) {
        const source = new ReadableStream({ pull(c) {
          const k = this.k = (this.k ?? 0) + 1;
          if (k === 1) c.enqueue(utf8('<p>hello</p><a href="'));
          else if (k <= 9) c.enqueue(repeat('x', 64 * 1024));
          else return new Promise(() => {});  // and then nothing more, ever
        } });
        const reader = new HTMLRewriter().on('a', { element() {} }).transform(new Response(source)).body.getReader();
        const first = await reader.read();
        if (new TextDecoder().decode(first.value) !== '<p>hello</p>') throw new Error('unexpected first piece');
        reader.read().catch(() => {});
        await new Promise((resolve) => setTimeout(resolve, 0));
        if (mode === 'cancel') await reader.cancel('enough');
      }
      return new Response('ok');
    } };
});
for my $mode (qw(cancel drop)) {
    my $errors = 0;
    for (1 .. 100) { $errors++ if $t->request('GET', "/t/abandon?mode=$mode")->{status} != 200 }
    is $errors, 0, "$mode: 2000 rewriters abandoned with 512 KiB tags in their buffers, every request answered under the 8m limit";
}

# ---- the tokenizer's work counts against the CPU limit ----

# One 1 MiB piece enqueued again and again: the script itself does almost
# nothing; the native tokenizer does the work (500 MiB of it).
$t->put_script('api', 'cpu', $HELPERS . q{
    const piece = repeat('<p class=a>x', 1024 * 1024 / 12);
    export default { async fetch() {
      const body = generated((i) => i < 500 ? piece : null);
      const out = await outcome((r) => r.on('div', { element() {} }), body);
      return new Response(out);
    } };
});
$r = $t->request('GET', '/cpu/cpu');
is $r->{status}, 503, 'a rewrite that tokenizes 500 MiB is stopped by dispatch_cpu_limit 200ms';
is $r->{content}, "exceeded_cpu\n", 'as exceeded_cpu';
still_serving('the CPU limit');

# ---- random soup with random edits ----

$got = $t->run_checks('api', 'fuzz', $HELPERS . q{
    let seed = 4242;
    const random = (n) => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n;
    const parts = ['<', '>', '</', '<!--', '-->', '--!>', '<!', '<?', '/>', '/', '=', '"', "'", ' ', '\n', '-', '!', '<![CDATA[', ']]>',
      'a', 'p', 'li', 'script', 'style', 'title', 'textarea', 'plaintext', 'svg', 'math', 'foreignObject', 'td', 'tr', 'table', 'option',
      'select', 'dd', 'dt', '<script>', '</script>', '<!--<script>', '<p>', '<li>', '<b>', '</b>', '<svg>', '</svg>', '<br>', 'x', 'é'];
    // Tag soup with random bytes (NUL, 0xFF, broken UTF-8) strewn in.
    const soup = () => {
      const out = [];
      while (out.length < 6000) {
        if (random(10) === 0) out.push(random(256));
        else for (const b of utf8(parts[random(parts.length)])) out.push(b);
      }
      return Uint8Array.from(out);
    };
    async function go(bytes, pieces, edit) {
      let i = 0;
      const stream = new ReadableStream({ pull(c) {
        if (i >= bytes.length) { c.close(); return; }
        const n = pieces(); c.enqueue(bytes.slice(i, i + n)); i += n;
      } });
      const r = new HTMLRewriter().on('*', {
        element(e) {
          [...e.attributes];
          if (edit && random(5) === 0) { e.setAttribute('z', 'q'); e.before('B'); e.after('A'); e.append('P'); }
          if (e.canHaveContent && random(3) === 0) e.onEndTag((t) => { if (edit) t.before('E'); });
          if (edit && random(20) === 0) e.remove();
        },
        text(t) { t.text; if (edit && random(10) === 0) t.replace('R'); },
        comments(c) { c.text; },
      }).on('p > b, li:nth-child(odd), svg *, :not(a) [x]', { element() {} }).onDocument({ doctype() {}, end(e) { e.append('END'); } });
      return new Uint8Array(await r.transform(new Response(stream)).arrayBuffer());
    }
    export default { fetch: () => results({ rounds: async () => {
      const bad = [];
      let edited = 0;
      for (let round = 0; round < 12; round++) {
        const bytes = soup();
        try {
          const out = await go(bytes, () => random(50) + 1, false);
          if (out.length !== bytes.length + 3 || !bytes.every((x, k) => x === out[k])) bad.push(`round ${round}: bytes changed`);
          if ((await go(bytes, () => random(5) + 1, true)).length > 0) edited++;
        } catch (e) {
          if (!/nest more than/.test(e.message)) bad.push(`round ${round}: ${e.name}: ${e.message}`);
        }
      }
      return [bad, edited > 6];
    } }) };
}, timeout => 120);
is_deeply $got->{rounds}, [[], $T], 'random soup with random bytes passes through unchanged, and random edits on it always end in a document';
still_serving('random soup');

# ---- tampered intrinsics ----

$got = checks('tampered', q{
    export default { async fetch() {
      const decoder = new TextDecoder();  // before toLowerCase is replaced: it is not the rewriter's
      const calls = Object.create(null);
      let n = 0;
      const log = (c) => { calls[n++] = c; };
      const then = Promise.prototype.then;
      const push = Array.prototype.push;
      const exec = RegExp.prototype.exec;
      const lower = String.prototype.toLowerCase;
      // (the tenant's own reader.read() results look up `then`, as the Streams standard says: not counted)
      Object.defineProperty(Object.prototype, 'then', { get() { if (!('done' in this)) log('Object.prototype.then'); return undefined; }, configurable: true });
      Promise.prototype.then = function (...args) { log('Promise.prototype.then'); return then.apply(this, args); };
      Array.prototype.push = function () { log('push'); };
      String.prototype.toLowerCase = () => 'hacked';
      RegExp.prototype.exec = () => { log('exec'); return null; };
      Object.defineProperty(Array.prototype, '0', { set(v) { log('set 0'); }, configurable: true });
      let out = '';
      try {
        const res = new HTMLRewriter().on('A', { element(e) { e.setAttribute('X', '1'); e.tagName = 'B'; e.onEndTag((t) => { t.after('!'); }); } })
          .on('p', { text(t) { if (t.text) t.replace('T'); } })
          .transform(new Response('<a href=/>x</a><p>text</p>'));
        const reader = res.body.getReader();
        for (;;) { const r = await reader.read(); if (r.done) break; out += decoder.decode(r.value); }
      } catch (e) { out = `${e.name}: ${e.message}`; }
      delete Object.prototype.then;
      delete Array.prototype[0];
      Promise.prototype.then = then;
      Array.prototype.push = push;
      RegExp.prototype.exec = exec;
      String.prototype.toLowerCase = lower;
      return new Response(JSON.stringify([out, Object.values(calls)]));
    } };
});
is_deeply $got, ['<b href=/ x="1">x</b>!<p>T</p>', []], 'with Object.prototype.then, Promise.prototype.then, push, exec, toLowerCase and an index setter tampered, the rewriter works and calls none of them';
still_serving('tampering');

is_deeply [sort $t->worker_pids], [sort @workers], 'no worker was replaced';
done_testing;
