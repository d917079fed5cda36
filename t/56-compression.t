#!/usr/bin/perl
# SPEC 5: CompressionStream / DecompressionStream ('gzip', 'deflate',
# 'deflate-raw') and crypto.DigestStream, as Cloudflare Workers has them.
# What a script compresses is read back by the system's gzip and python3's
# zlib, and what they wrote is decompressed by the script; chunks are split at
# every boundary; truncated, corrupt and trailing data are TypeErrors; a
# decompression bomb (1 GiB of zeros) under dispatch_memory_limit 16m either
# streams out in constant memory or fails cleanly, and the worker lives on;
# streams abandoned mid-way (cancelled, aborted or dropped) give their native
# state back. DigestStream digests agree with crypto.subtle.digest, Perl's
# Digest::SHA / Digest::MD5 and sha256sum.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP qw(decode_json encode_json);
use MIME::Base64 qw(encode_base64 decode_base64);
use Digest::SHA qw(sha1_hex sha256_hex sha384_hex sha512_hex);
use Digest::MD5 qw(md5_hex);
use File::Temp qw(tempdir);

my $t = Dispatch::Test->new(
    http => q{
        dispatch_memory_limit 16m;
    },
    server => q{
        client_max_body_size 16m;
        location ~ ^/t/(?<script>[^/]*) { dispatch_cpu_limit 5s; dispatch api $script; }
        location ~ ^/bomb/(?<script>[^/]*) {
            dispatch_cpu_limit 120s;
            dispatch_wall_limit 120s;
            dispatch api $script;
        }
    },
);
my $dir = tempdir(CLEANUP => 1);

my $CHECKS = q{
    const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');
    const utf8 = (text) => new TextEncoder().encode(text);
    const concat = (pieces) => {
      let n = 0;
      for (const p of pieces) n += p.byteLength;
      const all = new Uint8Array(n);
      let o = 0;
      for (const p of pieces) { all.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), o); o += p.byteLength; }
      return all;
    };
    async function collect(readable) {
      const reader = readable.getReader();
      const pieces = [];
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return concat(pieces);
        pieces.push(value);
      }
    }
    // Writes the chunks and closes without waiting, reads all: the usual way.
    async function through(stream, chunks) {
      const writer = stream.writable.getWriter();
      for (const c of chunks) writer.write(c).catch(() => {});
      writer.close().catch(() => {});
      return collect(stream.readable);
    }
    const compress = (format, chunks) => through(new CompressionStream(format), chunks);
    const decompress = (format, chunks) => through(new DecompressionStream(format), chunks);
    const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
    // Some text and some bytes that do not compress: several 64 KiB pieces either way.
    function sample(size) {
      const out = new Uint8Array(size);
      let x = 12345;
      for (let i = 0; i < size; i++) {
        if ((i >> 12) % 2) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; out[i] = x >>> 24; }
        else out[i] = 'The quick brown fox jumps over the lazy dog. '.charCodeAt(i % 45);
      }
      return out;
    }
    const base64 = (bytes) => { let s = ''; for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]); return btoa(s); };
    const unbase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
};

sub run_checks {
    my ($name, $code, %req) = @_;
    return $t->run_checks('api', $name, $CHECKS . $code, %req);
}
my ($T, $F) = (JSON::PP::true, JSON::PP::false);

sub slurp { my ($f) = @_; open my $fh, '<:raw', $f or die "$f: $!"; local $/; return scalar <$fh> }
sub spew { my ($f, $d) = @_; open my $fh, '>:raw', $f or die "$f: $!"; print {$fh} $d; close $fh }

# The bytes sample(size) makes in the script.
sub sample {
    my ($size) = @_;
    my $text = 'The quick brown fox jumps over the lazy dog. ';
    my ($x, $out) = (12345, '');
    for my $i (0 .. $size - 1) {
        if (($i >> 12) % 2) {
            $x = ($x * 1103515245 + 12345) % 4294967296;
            $out .= chr($x >> 24);
        } else {
            $out .= substr($text, $i % 45, 1);
        }
    }
    return $out;
}

# ---- the interface ----

my $got = run_checks('shapes', q{
    export default { fetch: () => results({
      classes: () => [typeof CompressionStream, typeof DecompressionStream, typeof crypto.DigestStream],
      instances: () => ['gzip', 'deflate', 'deflate-raw'].flatMap((f) => [new CompressionStream(f), new DecompressionStream(f)])
        .every((s) => s instanceof TransformStream && s.readable instanceof ReadableStream && s.writable instanceof WritableStream),
      tags: () => [Object.prototype.toString.call(new CompressionStream('gzip')),
        Object.prototype.toString.call(new DecompressionStream('deflate'))],
      sameSides: () => { const s = new CompressionStream('gzip'); return s.readable === s.readable && s.writable === s.writable; },
      badFormat: () => new CompressionStream('br'),
      badFormatD: () => new DecompressionStream('GZIP'),
      noFormat: () => new CompressionStream(),
      noNew: () => CompressionStream('gzip'),
      getterOnOther: () => Object.getOwnPropertyDescriptor(CompressionStream.prototype, 'readable').get.call({}),
      stringChunk: async () => {
        const s = new CompressionStream('gzip');
        const write = s.writable.getWriter().write('text');
        const read = s.readable.getReader().read();
        const out = [];
        for (const p of [write, read]) { try { await p; out.push('ok'); } catch (e) { out.push(e.name); } }
        return out;
      },
      digestShape: () => { const d = new crypto.DigestStream('SHA-256'); return [d instanceof WritableStream,
        Object.prototype.toString.call(d), d.digest instanceof Promise, d.digest === d.digest]; },
      digestBadAlgorithm: () => new crypto.DigestStream('SHA-3'),
      digestGetterOnOther: () => Object.getOwnPropertyDescriptor(crypto.DigestStream.prototype, 'digest').get.call(new WritableStream()),
    }) };
});
is_deeply $got->{classes}, ['function', 'function', 'function'], 'CompressionStream, DecompressionStream and crypto.DigestStream exist';
is $got->{instances}, $T, 'both are TransformStreams with a ReadableStream and a WritableStream, in every format';
is_deeply $got->{tags}, ['[object CompressionStream]', '[object DecompressionStream]'], 'their toStringTags';
is $got->{sameSides}, $T, 'readable and writable are the same objects each time';
like $got->{badFormat}, qr/^threw TypeError: .*'gzip', 'deflate' or 'deflate-raw'/, 'an unknown format is a TypeError';
like $got->{badFormatD}, qr/^threw TypeError/, 'formats are case-sensitive';
like $got->{noFormat}, qr/^threw TypeError/, 'the format is required';
like $got->{noNew}, qr/^threw TypeError/, 'the constructor needs new';
like $got->{getterOnOther}, qr/^threw TypeError/, 'the readable getter on another object is a TypeError';
is_deeply $got->{stringChunk}, ['TypeError', 'TypeError'], 'a chunk that is not a BufferSource errors both sides with a TypeError';
is_deeply $got->{digestShape}, [$T, '[object DigestStream]', $T, $T], 'a DigestStream is a WritableStream with a digest promise';
like $got->{digestBadAlgorithm}, qr/^threw NotSupportedError/, 'an unknown digest algorithm is a NotSupportedError';
like $got->{digestGetterOnOther}, qr/^threw TypeError/, 'digest on another WritableStream is a TypeError';

# ---- what the script compresses, the system's tools read ----

my $size = 300_000;
my $plain = sample($size);
$got = run_checks('compress', qq{
    const data = sample($size);
    // Chunks of uneven sizes, one empty, one a DataView, one an ArrayBuffer.
    const chunks = () => [data.subarray(0, 1), new Uint8Array(0), data.subarray(1, 70000),
      new DataView(data.buffer, 70000, 100000), data.slice(170000, 250000).buffer, data.subarray(250000)];
    export default { fetch: () => results({
      gzip: async () => base64(await compress('gzip', chunks())),
      deflate: async () => base64(await compress('deflate', chunks())),
      raw: async () => base64(await compress('deflate-raw', chunks())),
      empty: async () => base64(await compress('gzip', [])),
    }) };
});
for my $format (qw(gzip deflate raw)) {
    my $bytes = decode_base64($got->{$format} // '');
    cmp_ok length($bytes), '<', $size / 2 + 1000, "$format: the output is compressed";
    spew("$dir/$format.z", $bytes);
}
is `gzip -dc $dir/gzip.z 2>&1`, $plain, 'gzip -d reads what CompressionStream("gzip") wrote';
spew("$dir/empty.gz", decode_base64($got->{empty} // ''));
is `gzip -dc $dir/empty.gz 2>&1`, '', 'gzip -d reads an empty gzip stream from it';
SKIP: {
    skip 'python3 is not installed', 2 unless `python3 -c 'print(1)' 2>/dev/null` =~ /1/;
    my $py = q{import sys, zlib; d = open(sys.argv[1], 'rb').read(); sys.stdout.buffer.write(zlib.decompress(d, int(sys.argv[2])))};
    is `python3 -c "$py" $dir/deflate.z 15 2>&1`, $plain, 'python3 zlib reads what CompressionStream("deflate") wrote';
    is `python3 -c "$py" $dir/raw.z -15 2>&1`, $plain, 'python3 zlib (raw) reads what CompressionStream("deflate-raw") wrote';
}

# ---- what the system's tools compress, the script reads ----

spew("$dir/plain", $plain);
my $gz = `gzip -c $dir/plain`;
my %inputs = (gzip => encode_base64($gz, ''));
SKIP: {
    skip 'python3 is not installed', 0 unless `python3 -c 'print(1)' 2>/dev/null` =~ /1/;
    my $py = q{import sys, zlib, base64; d = open(sys.argv[1], 'rb').read(); c = zlib.compressobj(9, zlib.DEFLATED, int(sys.argv[2])); print(base64.b64encode(c.compress(d) + c.flush()).decode())};
    chomp($inputs{deflate} = `python3 -c "$py" $dir/plain 15`);
    chomp($inputs{'deflate-raw'} = `python3 -c "$py" $dir/plain -15`);
}
$got = run_checks('decompress', q{
    const inputs = } . encode_json(\%inputs) . q{;
    export default { fetch: () => results(Object.fromEntries(Object.entries(inputs).map(([format, text]) => [format, async () => {
      const bytes = await decompress(format, [unbase64(text)]);
      return [bytes.length, hex(await crypto.subtle.digest('SHA-256', bytes))];
    }]))) };
});
for my $format (sort keys %inputs) {
    is_deeply $got->{$format}, [$size, sha256_hex($plain)], "DecompressionStream('$format') reads what " . ($format eq 'gzip' ? 'gzip' : 'python3 zlib') . ' wrote';
}

# ---- round trips, chunks split everywhere ----

$got = run_checks('splits', q{
    const text = utf8('Round trip: ' + 'abcdefghij'.repeat(20) + ' \u00e9\u{1F98A} the end.');
    export default { fetch: () => results(Object.fromEntries(['gzip', 'deflate', 'deflate-raw'].map((format) => [format, async () => {
      const compressed = await compress(format, [text]);
      const wrong = [];
      // Every split point in two, the compressed side and the plain side.
      for (let i = 0; i <= compressed.length; i++) {
        const back = await decompress(format, [compressed.subarray(0, i), compressed.subarray(i)]);
        if (!equal(back, text)) wrong.push(`decompress split at ${i}`);
      }
      for (let i = 0; i <= text.length; i += 7) {
        const again = await compress(format, [text.subarray(0, i), text.subarray(i)]);
        if (!equal(await decompress(format, [again]), text)) wrong.push(`compress split at ${i}`);
      }
      // One byte at a time, with empty chunks between.
      const bytes = [];
      for (let i = 0; i < compressed.length; i++) bytes.push(compressed.subarray(i, i + 1), new Uint8Array(0));
      if (!equal(await decompress(format, bytes), text)) wrong.push('bytewise decompress');
      const plainBytes = Array.from(text, (b) => new Uint8Array([b]));
      if (!equal(await decompress(format, [await compress(format, plainBytes)]), text)) wrong.push('bytewise compress');
      // Three ways, across the header and the trailer.
      for (let i = 1; i < 12; i++) {
        const j = compressed.length - i;
        const back = await decompress(format, [compressed.subarray(0, i), compressed.subarray(i, j), compressed.subarray(j)]);
        if (!equal(back, text)) wrong.push(`three-way split at ${i}/${j}`);
      }
      return [compressed.length > 10, wrong];
    }]))) };
});
for my $format (qw(gzip deflate deflate-raw)) {
    is_deeply $got->{$format}, [$T, []], "$format: round trips with chunks split at every boundary";
}

$got = run_checks('large', q{
    const data = sample(1 << 20);
    export default { fetch: () => results({
      pieces: async () => {
        const compressed = await compress('gzip', [data]);
        const stream = new DecompressionStream('gzip');
        const writer = stream.writable.getWriter();
        writer.write(compressed);
        writer.close();
        const reader = stream.readable.getReader();
        const sizes = [];
        const pieces = [];
        for (;;) { const { value, done } = await reader.read(); if (done) break; sizes.push(value.length); pieces.push(value); }
        return [equal(concat(pieces), data), Math.max(...sizes), sizes.length >= 16];
      },
      byob: async () => {
        const compressed = await compress('deflate', [data]);
        const stream = new DecompressionStream('deflate');
        const writer = stream.writable.getWriter();
        writer.write(compressed);
        writer.close();
        const reader = stream.readable.getReader({ mode: 'byob' });
        let total = 0;
        for (;;) { const { value, done } = await reader.read(new Uint8Array(1000)); if (done) break; total += value.length; }
        return total;
      },
      pipeThrough: async () => {
        const source = new ReadableStream({ start(c) { c.enqueue(data.subarray(0, 5000)); c.enqueue(data.subarray(5000)); c.close(); } });
        const back = await collect(source.pipeThrough(new CompressionStream('deflate-raw')).pipeThrough(new DecompressionStream('deflate-raw')));
        return equal(back, data);
      },
    }) };
});
is_deeply $got->{pieces}, [$T, 65536, $T], 'a megabyte comes out in pieces of at most 64 KiB';
is $got->{byob}, 1 << 20, 'the readable side is a byte stream: a BYOB reader reads it in small views';
is $got->{pipeThrough}, $T, 'pipeThrough a CompressionStream and a DecompressionStream gives the data back';

# ---- bad input ----

$got = run_checks('bad-input', q{
    const text = sample(100000);
    const fails = async (format, chunks) => {
      try { await decompress(format, chunks); } catch (e) { return `${e.name}: ${e.message}`; }
      return 'no error';
    };
    export default { fetch: async () => {
      const gzip = await compress('gzip', [text]);
      const deflate = await compress('deflate', [text]);
      const raw = await compress('deflate-raw', [text]);
      const corrupt = gzip.slice();
      corrupt[gzip.length >> 1] ^= 0x55;
      const badCrc = gzip.slice();
      badCrc[gzip.length - 6] ^= 1;
      return results({
        truncated: () => fails('gzip', [gzip.subarray(0, gzip.length - 4)]),
        truncatedDeflate: () => fails('deflate', [deflate.subarray(0, 100)]),
        truncatedRaw: () => fails('deflate-raw', [raw.subarray(0, raw.length >> 1)]),
        empty: () => fails('gzip', []),
        corrupt: () => fails('gzip', [corrupt]),
        badCrc: () => fails('gzip', [badCrc]),
        trailing: () => fails('gzip', [gzip, new Uint8Array([0])]),
        trailingSameChunk: () => fails('deflate', [concat([deflate, new Uint8Array([1, 2, 3])])]),
        twoMembers: () => fails('gzip', [concat([gzip, gzip])]),
        notGzip: () => fails('gzip', [text]),
        gzipAsDeflate: () => fails('deflate', [gzip]),
        deflateAsGzip: () => fails('gzip', [deflate]),
        writeAfterClose: async () => {
          const s = new CompressionStream('gzip');
          const writer = s.writable.getWriter();
          writer.close().catch(() => {});
          try { await writer.write(text); } catch (e) { return e.name; }
          return 'no error';
        },
        workerAlive: async () => equal(await decompress('gzip', [gzip]), text),
      });
    } };
});
like $got->{truncated}, qr/^TypeError: Called close\(\) on a decompression stream with incomplete data/, 'truncated gzip: TypeError';
like $got->{truncatedDeflate}, qr/^TypeError: Called close\(\)/, 'truncated deflate: TypeError';
like $got->{truncatedRaw}, qr/^TypeError: Called close\(\)/, 'truncated deflate-raw: TypeError';
like $got->{empty}, qr/^TypeError: Called close\(\)/, 'no input at all: TypeError';
like $got->{corrupt}, qr/^TypeError: Decompression failed: /, 'corrupt data: TypeError naming zlib\'s complaint';
like $got->{badCrc}, qr/^TypeError: Decompression failed: incorrect data check/, 'a wrong CRC: TypeError';
like $got->{trailing}, qr/^TypeError: Trailing bytes after end of compressed data/, 'a byte after the end, in its own chunk: TypeError';
like $got->{trailingSameChunk}, qr/^TypeError: Trailing bytes after end of compressed data/, 'bytes after the end in the same chunk: TypeError';
like $got->{twoMembers}, qr/^TypeError: Trailing bytes/, 'a second gzip member is trailing data, as in Workers and Chrome';
like $got->{notGzip}, qr/^TypeError: Decompression failed: incorrect header check/, 'data that is not gzip: TypeError';
like $got->{gzipAsDeflate}, qr/^TypeError: Decompression failed/, 'gzip read as deflate: TypeError';
like $got->{deflateAsGzip}, qr/^TypeError: Decompression failed/, 'deflate read as gzip: TypeError';
is $got->{writeAfterClose}, 'TypeError', 'a write after close is a TypeError';
is $got->{workerAlive}, $T, 'and good data still decompresses';

# ---- a decompression bomb under dispatch_memory_limit 16m ----

system("head -c 1073741824 /dev/zero | gzip -c > $dir/bomb.gz") == 0 or die 'cannot make the bomb';
my $bomb = slurp("$dir/bomb.gz");
cmp_ok length($bomb), '<', 1_200_000, 'the bomb: 1 GiB of zeros is about 1 MB gzipped';
$t->put_script('api', 'bomb-discard', q{
    export default { async fetch(request) {
      const stream = new DecompressionStream('gzip');
      const writer = stream.writable.getWriter();
      writer.write(await request.arrayBuffer()).catch(() => {});
      writer.close().catch(() => {});
      const reader = stream.readable.getReader();
      let total = 0, pieces = 0, nonZero = 0;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        total += value.length;
        pieces++;
        if (value[value.length - 1] !== 0) nonZero++;
      }
      return Response.json({ total, pieces, nonZero });
    } };
});
$t->put_script('api', 'bomb-keep', q{
    export default { async fetch(request) {
      const kept = [];
      try {
        const stream = new DecompressionStream('gzip');
        const writer = stream.writable.getWriter();
        writer.write(await request.arrayBuffer()).catch(() => {});
        writer.close().catch(() => {});
        const reader = stream.readable.getReader();
        for (;;) { const { value, done } = await reader.read(); if (done) break; kept.push(value); }
      } catch (e) {
        return Response.json({ error: `${e.name}: ${e.message}`, kept: kept.length });
      }
      return Response.json({ kept: kept.length });
    } };
});
$t->put_script('api', 'bomb-response', $CHECKS . q{
    export default { async fetch(request) {
      const body = new Uint8Array(await request.arrayBuffer());
      const source = new ReadableStream({ start(c) { c.enqueue(body); c.close(); } });
      return new Response(await collect(source.pipeThrough(new DecompressionStream('gzip'))));
    } };
});
my ($worker) = $t->worker_pids;
my $r = $t->request('GET', '/t/shapes');
my $rss_before = $t->rss_kb($worker);
$r = $t->request('POST', '/bomb/bomb-discard', content => $bomb, timeout => 120);
is $r->{status}, 200, 'a reader that reads and drops the pieces of the bomb is answered';
is_deeply eval { decode_json($r->{content}) }, { total => 1 << 30, pieces => 1 << 14, nonZero => 0 },
    'it read all of 1 GiB, in 16384 pieces of 64 KiB'
    or diag $r->{content};
my $rss_after = $t->rss_kb($worker);
cmp_ok $rss_after - $rss_before, '<', 64 * 1024, "the worker's RSS stayed flat while it streamed ($rss_before kB -> $rss_after kB)";

for my $script (qw(bomb-keep bomb-response)) {
    $r = $t->request('POST', "/bomb/$script", content => $bomb, timeout => 120);
    # A RangeError the script catches, the same uncaught (500), or the limit stopping it (503).
    my $clean = $r->{status} == 503 && $r->{content} =~ /exceeded_memory/
        || $r->{status} == 200 && $r->{content} =~ /"error":"RangeError: /
        || $r->{status} == 500 && $t->error_log =~ /"api\/$script": uncaught exception: RangeError: Cannot allocate/;
    ok $clean, "$script: keeping the bomb's output meets the memory limit cleanly ($r->{status})" or diag $r->{content};
    is $t->request('GET', '/t/shapes')->{status}, 200, "$script: the next request is answered";
    is_deeply [$t->worker_pids], [$worker], "$script: by the same worker, which never died";
}
unlike $t->error_log, qr/\[alert\]|signal \d+|exited on signal/, 'no worker crashed';

# ---- DigestStream ----

my @chunks = ("The quick brown fox ", "\x{e9}\x{1F98A} ", sample(100_000), '');
my $all = join '', map { my $c = $_; utf8::encode($c) if utf8::is_utf8($c); $c } @chunks;
spew("$dir/digest-input", $all);
$got = run_checks('digest-stream', q{
    const parts = () => [
      'The quick brown fox ',                        // a string, as UTF-8
      utf8('\u00e9\u{1F98A} ').buffer,               // an ArrayBuffer
      new DataView(sample(100000).buffer),           // a DataView
      new Uint8Array(0),                             // nothing
    ];
    const all = () => concat([utf8('The quick brown fox '), utf8('\u00e9\u{1F98A} '), sample(100000)]);
    const viaStream = async (algorithm) => {
      const stream = new crypto.DigestStream(algorithm);
      const writer = stream.getWriter();
      for (const part of parts()) await writer.write(part);
      await writer.close();
      return hex(await stream.digest);
    };
    const algorithms = ['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512', 'MD5'];
    export default { fetch: () => results({
      stream: async () => { const out = {}; for (const a of algorithms) out[a] = await viaStream(a); return out; },
      subtle: async () => { const out = {}; for (const a of algorithms) out[a] = hex(await crypto.subtle.digest(a, all())); return out; },
      objectName: () => viaStream({ name: 'sha-256' }),
      empty: async () => { const s = new crypto.DigestStream('SHA-256'); await s.getWriter().close(); return hex(await s.digest); },
      pipeTo: async () => {
        const stream = new crypto.DigestStream('SHA-256');
        await new ReadableStream({ start(c) { for (const p of parts()) c.enqueue(p); c.close(); } }).pipeTo(stream);
        return hex(await stream.digest);
      },
      aborted: async () => {
        const stream = new crypto.DigestStream('SHA-512');
        const writer = stream.getWriter();
        await writer.write(utf8('x'));
        await writer.abort(new Error('gave up'));
        try { await stream.digest; } catch (e) { return `rejected: ${e.message}`; }
        return 'resolved';
      },
      badChunk: async () => {
        const stream = new crypto.DigestStream('SHA-1');
        const writer = stream.getWriter();
        const out = [];
        try { await writer.write(42); } catch (e) { out.push(e.name); }
        try { await stream.digest; } catch (e) { out.push(e.name); }
        return out;
      },
    }) };
});
my %want = ('SHA-1' => sha1_hex($all), 'SHA-256' => sha256_hex($all), 'SHA-384' => sha384_hex($all),
            'SHA-512' => sha512_hex($all), 'MD5' => md5_hex($all));
is_deeply $got->{stream}, \%want, 'DigestStream of several chunks: the digest of their concatenation (Digest::SHA, Digest::MD5)';
is_deeply $got->{subtle}, \%want, 'crypto.subtle.digest of the concatenation agrees, MD5 included (as on Workers)';
my ($sum) = split ' ', `sha256sum $dir/digest-input`;
is $got->{stream}{'SHA-256'}, $sum, 'and so does sha256sum';
is $got->{objectName}, $want{'SHA-256'}, 'the algorithm may be {name} in any case';
is $got->{empty}, sha256_hex(''), 'a DigestStream closed at once digests nothing';
is $got->{pipeTo}, $want{'SHA-256'}, 'a ReadableStream piped to a DigestStream';
is $got->{aborted}, 'rejected: gave up', 'an aborted DigestStream rejects its digest with the reason';
is_deeply $got->{badChunk}, ['TypeError', 'TypeError'], 'a chunk that is not bytes or a string errors the stream and its digest';

# ---- streams abandoned mid-way give their native state back ----

$t->put_script('api', 'abandon', $Dispatch::Test::RESULTS_JS . $CHECKS . q{
    const data = sample(200000);
    let compressed;
    export default { async fetch(request) {
      compressed ??= await compress('gzip', [data]);
      const mode = new URL(request.url).searchParams.get('mode');
      for (let i = 0; i < 20; i++) {
        const stream = i % 2 ? new DecompressionStream('gzip') : new CompressionStream('deflate');
        const writer = stream.writable.getWriter();
        writer.write(i % 2 ? compressed : data).catch(() => {});
        const reader = stream.readable.getReader();
        await reader.read();
        if (mode === 'cancel') await reader.cancel('enough');
        else if (mode === 'abort') await writer.abort('enough');
        const digest = new crypto.DigestStream('SHA-256');
        const digestWriter = digest.getWriter();
        await digestWriter.write(data);
        if (mode === 'abort') await digestWriter.abort('enough');
      }
      return new Response('ok');
    } };
});
for my $mode (qw(cancel abort drop)) {
    my $errors = 0;
    $errors++ for grep { $t->request('GET', "/t/abandon?mode=$mode")->{status} != 200 } 1 .. 10;
    my $before = $t->rss_kb($worker);
    for (1 .. 100) { $errors++ if $t->request('GET', "/t/abandon?mode=$mode")->{status} != 200 }
    my $after = $t->rss_kb($worker);
    is $errors, 0, "$mode: 2000 abandoned (de)compression streams and 2000 digests, every request answered";
    cmp_ok $after - $before, '<', 32 * 1024, "$mode: the worker's RSS did not grow with them ($before kB -> $after kB)";
}

# ---- hostile tenants ----

$got = run_checks('tampered', q{
    const seen = [];
    for (const name of ['start', 'pull', 'cancel', 'write', 'close', 'abort', 'type', 'highWaterMark', 'size',
      'autoAllocateChunkSize']) {
      Object.defineProperty(Object.prototype, name, { get() { seen.push(name); return undefined; }, configurable: true });
    }
    ReadableStreamDefaultController.prototype.enqueue = () => seen.push('enqueue');
    ReadableByteStreamController.prototype.enqueue = () => seen.push('byte enqueue');
    WritableStreamDefaultController.prototype.error = () => seen.push('error');
    globalThis.Uint8Array = function () { seen.push('Uint8Array'); };
    export default { fetch: async () => {
      const text = new TextEncoder().encode('tampered '.repeat(100));
      seen.length = 0;
      const c = new CompressionStream('gzip');
      const w = c.writable.getWriter();
      w.write(text);
      w.close();
      const r = c.readable.getReader();
      const pieces = [];
      for (;;) { const { value, done } = await r.read(); if (done) break; pieces.push(value); }
      const d = new DecompressionStream('gzip');
      const dw = d.writable.getWriter();
      for (const p of pieces) dw.write(p);
      dw.close();
      const dr = d.readable.getReader();
      let length = 0;
      for (;;) { const { value, done } = await dr.read(); if (done) break; length += value.length; }
      const digest = new crypto.DigestStream('SHA-256');
      const digestWriter = digest.getWriter();
      await digestWriter.write(text);
      await digestWriter.close();
      await digest.digest;
      const out = { length, seen: seen.slice() };
      for (const name of ['start', 'pull', 'cancel', 'write', 'close', 'abort', 'type', 'highWaterMark', 'size',
        'autoAllocateChunkSize']) delete Object.prototype[name];
      return new Response(JSON.stringify(out));
    } };
});
is_deeply $got, { length => 900, seen => [] }, 'with getters on Object.prototype and the controllers\' methods replaced, the streams work and none of it is reached';

done_testing;
