#!/usr/bin/perl
# node:fs and node:fs/promises, as Workers has them (wrangler leaves them to
# the runtime from a 2025-09-15 compatibility date): a virtual file system
# in the isolate's memory. /bundle holds the script's own modules read-only,
# /tmp is writable, /dev has null, zero, full and random; errors carry
# Node's codes. /tmp's bytes count toward dispatch_memory_limit. And the
# other modules the preset leaves to the runtime at later dates (punycode,
# domain, cluster, vm, v8, worker_threads...): each imports, the small ones
# work, the rest throw ERR_METHOD_NOT_IMPLEMENTED when called.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP qw(decode_json);

my $t = Dispatch::Test->new(
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch api $script; } },
    http   => "dispatch_memory_limit 64m;\n    dispatch_cpu_limit 5s;",
);
my ($T, $F) = (JSON::PP::true, JSON::PP::false);
my $COMPAT = '{"compatibility_date":"2026-11-01","compatibility_flags":["nodejs_compat"],"main_module":"worker.js"}';

sub node_checks {
    my ($name, $code, %fields) = @_;
    $t->put_script('api', $name, $Dispatch::Test::RESULTS_JS . $code, metadata => $COMPAT, %fields);
    my $r = $t->get("/t/$name");
    is $r->{status}, 200, "the $name checks ran" or diag $r->{content};
    return eval { decode_json($r->{content}) } || {};
}

my $got = node_checks('tmp', q{
    import fs, { readFileSync, writeFileSync, appendFileSync, existsSync, statSync, readdirSync, mkdirSync,
      rmSync, unlinkSync, rmdirSync, renameSync, copyFileSync, openSync, readSync, writeSync, closeSync,
      realpathSync, accessSync, lstatSync, constants } from 'node:fs';
    import bare from 'fs';
    const code = (f) => { try { f(); return 'no error'; } catch (e) { return [e.code, e.syscall, e.path, e.errno]; } };
    export default { fetch: () => results({
      roundTrip: () => { writeFileSync('/tmp/a.txt', 'héllo'); appendFileSync('/tmp/a.txt', Buffer.from('!'));
        return [readFileSync('/tmp/a.txt', 'utf8'), readFileSync('/tmp/a.txt').length, Buffer.isBuffer(readFileSync('/tmp/a.txt'))]; },
      exists: () => [existsSync('/tmp/a.txt'), existsSync('/tmp/none'), existsSync('/tmp'), existsSync('/nowhere/x')],
      stat: () => { const s = statSync('/tmp/a.txt'); const d = lstatSync('/tmp');
        return [s.isFile(), s.isDirectory(), s.size, d.isDirectory(), d.isFile(), s.mtime instanceof Date]; },
      mkdirRecursive: () => [mkdirSync('/tmp/x/y/z', { recursive: true }), mkdirSync('/tmp/x/y', { recursive: true }),
        readdirSync('/tmp/x', { recursive: true })],
      readdirTypes: () => { writeFileSync('/tmp/x/f', ''); return readdirSync('/tmp/x', { withFileTypes: true })
        .map((d) => [d.name, d.isFile(), d.isDirectory(), d.parentPath]); },
      rename: () => { renameSync('/tmp/x/f', '/tmp/x/g'); return [existsSync('/tmp/x/f'), existsSync('/tmp/x/g')]; },
      copy: () => { copyFileSync('/tmp/a.txt', '/tmp/b.txt'); writeFileSync('/tmp/a.txt', 'changed');
        return readFileSync('/tmp/b.txt', 'utf8'); },
      remove: () => { unlinkSync('/tmp/b.txt'); rmdirSync('/tmp/x/y/z'); rmSync('/tmp/x', { recursive: true });
        return [existsSync('/tmp/b.txt'), existsSync('/tmp/x'), rmSync('/tmp/none', { force: true }) ?? 'forced']; },
      fds: () => { const fd = openSync('/tmp/fd', 'w+'); const w = writeSync(fd, 'abcdef'); const buf = Buffer.alloc(3);
        const r = readSync(fd, buf, 0, 3, 2); writeSync(fd, 'XY', 1); closeSync(fd);
        return [fd >= 3, w, r, buf.toString(), readFileSync('/tmp/fd', 'latin1'), code(() => closeSync(fd))]; },
      realpath: () => [realpathSync('/tmp/../tmp/./a.txt'), realpathSync('/')],
      access: () => [accessSync('/tmp/a.txt', constants.R_OK | constants.W_OK) ?? 'ok', code(() => accessSync('/bundle/worker.js', constants.W_OK))],
      enoent: () => code(() => readFileSync('/tmp/nope')),
      eexist: () => code(() => mkdirSync('/tmp')),
      eisdir: () => code(() => readFileSync('/tmp')),
      enotdir: () => code(() => readdirSync('/tmp/a.txt')),
      enotempty: () => { mkdirSync('/tmp/full'); writeFileSync('/tmp/full/f', ''); return code(() => rmdirSync('/tmp/full')); },
      wx: () => code(() => writeFileSync('/tmp/a.txt', 'x', { flag: 'wx' })),
      message: () => { try { readFileSync('/tmp/nope'); } catch (e) { return e.message; } },
      bare: () => bare === fs && fs.promises === bare.promises,
      root: () => readdirSync('/'),
      hostNotReachable: () => [existsSync('/etc/passwd'), existsSync('/proc/self/environ'), code(() => readFileSync('/etc/hostname'))],
      pathTooLong: () => code(() => writeFileSync('/tmp/' + 'a'.repeat(5000), 'x')),
    }) };
});
is_deeply $got->{roundTrip}, ["h\x{e9}llo!", 7, $T], 'writeFileSync, appendFileSync, readFileSync on /tmp (utf8 and a Buffer)';
is_deeply $got->{exists}, [$T, $F, $T, $F], 'existsSync';
is_deeply $got->{stat}, [$T, $F, 7, $T, $F, $T], 'statSync and lstatSync: isFile, isDirectory, size, mtime';
is_deeply $got->{mkdirRecursive}, ['/tmp/x', undef, ['y', 'y/z']], 'mkdirSync recursive returns the first directory made; readdirSync recursive';
is_deeply $got->{readdirTypes}, [['f', $T, $F, '/tmp/x'], ['y', $F, $T, '/tmp/x']], 'readdirSync withFileTypes';
is_deeply $got->{rename}, [$F, $T], 'renameSync';
is $got->{copy}, "h\x{e9}llo!", 'copyFileSync copies the bytes';
is_deeply $got->{remove}, [$F, $F, 'forced'], 'unlinkSync, rmdirSync, rmSync recursive and force';
is_deeply $got->{fds}, [$T, 6, 3, 'cde', 'aXYdef', ['EBADF', 'close', undef, -9]], 'openSync, writeSync, readSync at a position, closeSync; a closed fd is EBADF';
is_deeply $got->{realpath}, ['/tmp/a.txt', '/'], 'realpathSync';
is_deeply $got->{access}, ['ok', ['EACCES', 'access', '/bundle/worker.js', -13]], 'accessSync: /tmp writable, /bundle not';
is_deeply $got->{enoent}, ['ENOENT', 'open', '/tmp/nope', -2], 'ENOENT with syscall, path and errno';
is_deeply $got->{eexist}, ['EEXIST', 'mkdir', '/tmp', -17], 'EEXIST';
is_deeply $got->{eisdir}, ['EISDIR', 'read', undef, -21], 'EISDIR';
is_deeply $got->{enotdir}, ['ENOTDIR', 'scandir', '/tmp/a.txt', -20], 'ENOTDIR';
is_deeply $got->{enotempty}, ['ENOTEMPTY', 'rmdir', '/tmp/full', -39], 'ENOTEMPTY';
is_deeply $got->{wx}, ['EEXIST', 'open', '/tmp/a.txt', -17], 'flag wx on an existing file is EEXIST';
is $got->{message}, "ENOENT: no such file or directory, open '/tmp/nope'", 'the message as Node words it';
is $got->{bare}, $T, 'bare "fs" is node:fs';
is_deeply $got->{root}, ['bundle', 'dev', 'tmp'], 'the root holds bundle, dev and tmp';
is_deeply $got->{hostNotReachable}, [$F, $F, ['ENOENT', 'open', '/etc/hostname', -2]], "the host's files are not there";
is_deeply $got->{pathTooLong}, ['ENAMETOOLONG', 'open', '/tmp/' . ('a' x 5000), -36], 'a path over 4096 bytes is ENAMETOOLONG';

# /bundle: the script's own modules, read-only.
$got = node_checks('bundle', q{
    import { readFileSync, readdirSync, writeFileSync, unlinkSync, statSync } from 'node:fs';
    import { greeting } from './lib/greet.js';
    const code = (f) => { try { f(); return 'no error'; } catch (e) { return [e.code, e.syscall]; } };
    export default { fetch: () => results({
      list: () => readdirSync('/bundle', { recursive: true }),
      own: () => readFileSync('/bundle/lib/greet.js', 'utf8'),
      relative: () => [readFileSync('lib/greet.js', 'utf8') === readFileSync('/bundle/lib/greet.js', 'utf8'), process.cwd()],
      main: () => readFileSync('/bundle/worker.js', 'utf8').includes('readdirSync'),
      size: () => statSync('/bundle/lib/greet.js').size,
      imported: () => greeting,
      write: () => code(() => writeFileSync('/bundle/worker.js', 'x')),
      create: () => code(() => writeFileSync('/bundle/new.js', 'x')),
      unlink: () => code(() => unlinkSync('/bundle/worker.js')),
    }) };
}, 'module:lib/greet.js' => q{export const greeting = 'hi';});
is_deeply $got->{list}, ['lib', 'lib/greet.js', 'worker.js'], '/bundle lists the modules, by their names';
is $got->{own}, q{export const greeting = 'hi';}, 'a module reads as its source';
is $got->{main}, $T, 'the main module too';
is_deeply $got->{relative}, [$T, '/bundle'], 'a relative path is from process.cwd(), /bundle';
is $got->{size}, 29, 'its size';
is $got->{imported}, 'hi', 'the module still imports';
is_deeply $got->{write}, ['EPERM', 'open'], 'writing a /bundle file is EPERM';
is_deeply $got->{create}, ['EPERM', 'open'], 'creating one too';
is_deeply $got->{unlink}, ['EPERM', 'unlink'], 'and unlinking one';

# /dev, the callback forms, fs/promises and streams.
$got = node_checks('devices', q{
    import fs from 'node:fs';
    import fsp, { readFile, writeFile, mkdir, readdir, stat, rm, open } from 'node:fs/promises';
    export default { fetch: () => results({
      null: () => { fs.writeFileSync('/dev/null', 'gone'); return fs.readFileSync('/dev/null').length; },
      zero: () => { const fd = fs.openSync('/dev/zero'); const b = Buffer.alloc(4, 1); fs.readSync(fd, b); fs.closeSync(fd); return [...b]; },
      random: () => { const fd = fs.openSync('/dev/random'); const b = Buffer.alloc(64); fs.readSync(fd, b); fs.closeSync(fd); return b.some((x) => x !== 0); },
      full: () => { try { fs.writeFileSync('/dev/full', 'x'); return 'wrote'; } catch (e) { return e.code; } },
      isDevice: () => fs.statSync('/dev/null').isCharacterDevice(),
      callback: () => new Promise((resolve) => fs.writeFile('/tmp/cb', 'cb', (err) => fs.readFile('/tmp/cb', 'utf8', (err2, text) => resolve([err, err2, text])))),
      callbackError: () => new Promise((resolve) => fs.stat('/tmp/none', (err) => resolve(err.code))),
      promises: async () => { await mkdir('/tmp/p/q', { recursive: true }); await writeFile('/tmp/p/q/f.json', '{"v":1}');
        const v = JSON.parse(await readFile('/tmp/p/q/f.json', 'utf8')).v; const names = await readdir('/tmp/p/q');
        const size = (await stat('/tmp/p/q/f.json')).size; await rm('/tmp/p', { recursive: true });
        return [v, names, size, fs.existsSync('/tmp/p'), fsp === fs.promises]; },
      promiseError: async () => { try { await readFile('/tmp/none'); } catch (e) { return e.code; } },
      handle: async () => { const h = await open('/tmp/h', 'w+'); await h.write('hello'); const { bytesRead, buffer } = await h.read(Buffer.alloc(5), 0, 5, 0);
        await h.close(); return [bytesRead, buffer.toString()]; },
      streams: () => new Promise((resolve, reject) => { const w = fs.createWriteStream('/tmp/s'); w.write('ab'); w.end('cd', () => {
        let out = ''; fs.createReadStream('/tmp/s', { encoding: 'utf8' }).on('data', (c) => { out += c; }).on('end', () => resolve(out)).on('error', reject); }); }),
      opendir: async () => { fs.mkdirSync('/tmp/od'); fs.writeFileSync('/tmp/od/a', ''); fs.mkdirSync('/tmp/od/b');
        const names = []; for await (const d of await fsp.opendir('/tmp/od')) names.push([d.name, d.isDirectory()]);
        const dir = fs.opendirSync('/tmp/od'); const first = dir.readSync().name; dir.closeSync();
        let closed; try { dir.readSync(); } catch (e) { closed = e.code; } return [names, first, closed]; },
      symlinks: async () => { fs.mkdirSync('/tmp/L'); fs.writeFileSync('/tmp/L/f', 'via link'); fs.symlinkSync('L', '/tmp/ln');
        await fsp.symlink('/tmp/ln/f', '/tmp/lf'); fs.symlinkSync('loop2', '/tmp/loop1'); fs.symlinkSync('loop1', '/tmp/loop2');
        fs.symlinkSync('/bundle/worker.js', '/tmp/bw');
        const out = [fs.readFileSync('/tmp/ln/f', 'utf8'), fs.readFileSync('/tmp/lf', 'utf8'), fs.readlinkSync('/tmp/ln'),
          fs.lstatSync('/tmp/ln').isSymbolicLink(), fs.statSync('/tmp/ln').isDirectory(), fs.realpathSync('/tmp/lf')];
        for (const f of [() => fs.readFileSync('/tmp/loop1'), () => fs.readlinkSync('/tmp/L'), () => fs.writeFileSync('/tmp/bw', 'x')]) {
          try { f(); out.push('no error'); } catch (e) { out.push(e.code); } }
        fs.unlinkSync('/tmp/ln'); out.push(fs.existsSync('/tmp/L/f'), fs.existsSync('/tmp/lf'));
        return out; },
      openAsBlob: async () => { fs.writeFileSync('/tmp/blob', 'blob text'); const b = await fs.openAsBlob('/tmp/blob', { type: 'text/plain' }); return [await b.text(), b.type]; },
      notImplemented: () => { try { fs.watch('/tmp'); } catch (e) { return [e.code, typeof fs.globSync, typeof fsp.glob]; } },
    }) };
});
is $got->{null}, 0, '/dev/null swallows writes and reads empty';
is_deeply $got->{zero}, [0, 0, 0, 0], '/dev/zero reads zeros';
is $got->{random}, $T, '/dev/random reads random bytes';
is $got->{full}, 'ENOSPC', '/dev/full is ENOSPC on write';
is $got->{isDevice}, $T, 'a /dev entry is a character device';
is_deeply $got->{callback}, [undef, undef, 'cb'], 'the callback forms';
is $got->{callbackError}, 'ENOENT', 'a callback gets the error';
is_deeply $got->{promises}, [1, ['f.json'], 7, $F, $T], 'node:fs/promises mkdir, writeFile, readFile, readdir, stat, rm';
is $got->{promiseError}, 'ENOENT', 'a promise rejects with the error';
is_deeply $got->{handle}, [5, 'hello'], 'a FileHandle writes and reads';
is $got->{streams}, 'abcd', 'createWriteStream and createReadStream';
is_deeply $got->{opendir}, [[['a', $F], ['b', $T]], 'a', 'ERR_DIR_CLOSED'], 'opendir: a Dir, async iteration, readSync, closeSync';
is_deeply $got->{symlinks}, ['via link', 'via link', 'L', $T, $T, '/tmp/L/f', 'ELOOP', 'EINVAL', 'EPERM', $T, $F],
    'symbolic links: followed, readlink, lstat, realpath; a loop is ELOOP; one into /bundle is read-only; unlink removes the link';
is_deeply $got->{openAsBlob}, ['blob text', 'text/plain'], 'openAsBlob';
is_deeply $got->{notImplemented}, ['ERR_METHOD_NOT_IMPLEMENTED', 'function', 'function'], 'watch and glob are there and throw';

# /tmp's bytes count toward dispatch_memory_limit: 200 MB under a 64m limit
# fails (an error or 503), and the worker goes on serving.
$t->put_script('api', 'tmpbomb', q{
    import { appendFileSync, writeFileSync } from 'node:fs';
    export default { fetch() {
      const piece = new Uint8Array(1024 * 1024).fill(120);
      try { for (let i = 0; i < 200; i++) writeFileSync(`/tmp/f${i % 50}`, piece, { flag: 'a' }); return new Response('wrote 200 MB'); }
      catch (e) { return new Response(e.name); }
    } };
}, metadata => $COMPAT);
my $r = $t->get('/t/tmpbomb');
ok $r->{content} eq 'RangeError' || $r->{status} == 503, '200 MB into /tmp under a 64m limit: a RangeError or 503'
    or diag "$r->{status} $r->{content}";
$t->put_script('api', 'small', q{ export default { fetch() { return new Response('still here'); } }; });
is $t->get('/t/small')->{content}, 'still here', 'and the worker goes on serving';

# /tmp holds at most 10000 entries.
$got = node_checks('manyfiles', q{
    import { writeFileSync, rmSync } from 'node:fs';
    export default { fetch: () => results({
      entries: () => { let i = 0; try { for (; i < 20000; i++) writeFileSync(`/tmp/e${i}`, ''); return 'no limit'; }
        catch (e) { for (let j = 0; j < i; j++) rmSync(`/tmp/e${j}`); writeFileSync('/tmp/again', ''); return [e.code, i]; } },
    }) };
});
is_deeply $got->{entries}, ['ENOSPC', 10000], '/tmp holds 10000 entries, then ENOSPC (and room again after removing)';

# Each request has its own /tmp, as on Workers: a request does not see the
# files of one before it, and an ended request's files are let go (30 MB a
# request, eight requests, under the 64m limit).
$t->put_script('api', 'perrequest', q{
    import { writeFileSync, readdirSync } from 'node:fs';
    export default { fetch(request) {
      const before = readdirSync('/tmp');
      writeFileSync('/tmp/mine', new Uint8Array(30 * 1024 * 1024));
      return new Response(JSON.stringify(before));
    } };
}, metadata => $COMPAT);
my @seen = map { my $r = $t->get('/t/perrequest'); "$r->{status} $r->{content}" } 1 .. 8;
is_deeply \@seen, [('200 []') x 8], "a request's /tmp starts empty, and 30 MB in each of eight requests fits a 64m limit";

# File descriptors are the request's own too, at most 1024 open.
$t->put_script('api', 'fdsper', q{
    import { openSync, closeSync, fstatSync, cpSync, mkdirSync } from 'node:fs';
    const code = (f) => { try { f(); return 'no error'; } catch (e) { return e.code; } };
    export default { fetch(request) {
      const fd = Number(new URL(request.url).searchParams.get('fd'));
      const other = code(() => fstatSync(fd));
      const mine = openSync('/dev/null');
      const fds = [];
      const limit = code(() => { for (;;) fds.push(openSync('/dev/null')); });
      const opened = fds.length + 1;
      for (const each of fds) closeSync(each);
      mkdirSync('/tmp/d/e', { recursive: true });
      return Response.json([mine, other, limit, opened, code(() => cpSync('/tmp/d', '/tmp/d/e/f', { recursive: true }))]);
    } };
}, metadata => $COMPAT);
my $first = eval { decode_json($t->get('/t/fdsper?fd=-1')->{content}) } || [];
my $second = eval { decode_json($t->get("/t/fdsper?fd=$first->[0]")->{content}) } || [];
is_deeply [@$second[1 .. 4]], ['EBADF', 'EMFILE', 1024, 'ERR_FS_CP_EINVAL'],
    "another request's fd is EBADF; 1024 open fds, then EMFILE; cp into its own subdirectory is refused";

# An ended request's /tmp is let go when the next request starts, whether
# or not that one uses node:fs: 24 MB left in /tmp (a 32 MB buffer) does
# not make the next request's 40 MB exceed the 64m limit.
$t->put_script('api', 'leftover', q{
    import { appendFileSync } from 'node:fs';
    export default { fetch(request) {
      if (new URL(request.url).search !== '?write') return new Response(`${new Uint8Array(40 * 1024 * 1024).fill(2).length}`);
      const piece = new Uint8Array(1024 * 1024).fill(1);
      for (let i = 0; i < 24; i++) appendFileSync('/tmp/big', piece);
      return new Response('wrote');
    } };
}, metadata => $COMPAT);
my @leftover = map { my $r = $t->get($_); "$r->{status} $r->{content}" } '/t/leftover?write', '/t/leftover', '/t/leftover?write', '/t/leftover';
is_deeply \@leftover, ['200 wrote', '200 41943040', '200 wrote', '200 41943040'],
    "a request after one that left 24 MB in its /tmp has the memory";

# Hostile: with the methods node:fs calls through replaced by spies, no
# native and none of the loader's internals reach tenant code.
$got = node_checks('fstamper', q{
    import fs from 'node:fs';
    const seen = [];
    const originals = [];
    const apply = Reflect.apply;
    const spy = (target, key) => {
      const original = target[key];
      originals.push([target, key, original]);
      target[key] = function (...args) { seen[seen.length] = this; for (const a of args) seen[seen.length] = a; return apply(original, this, args); };
    };
    const nativeCode = (v) => v.name === '' && /\[native code\]/.test(apply(Function.prototype.toString, v, []));
    const engineOwned = (v) => (typeof v === 'function' && (/^(bundleNames|bundleFile|requestSlot)$/.test(v.name) || nativeCode(v))) ||
      (v !== null && typeof v === 'object' && ('bundleFile' in v || 'nodeSource' in v));
    export default { fetch: async () => {
      for (const [target, key] of [[Map.prototype, 'set'], [Map.prototype, 'get'], [Array.prototype, 'push'], [Array.prototype, 'sort'],
        [String.prototype, 'split'], [Uint8Array.prototype, 'set'], [Uint8Array.prototype, 'subarray'], [Object, 'assign'],
        [Function.prototype, 'call'], [Function.prototype, 'apply'], [Array.prototype, 'filter'], [Array.prototype, 'map']]) spy(target, key);
      fs.writeFileSync('/tmp/t', 'x'); fs.appendFileSync('/tmp/t', 'y'); fs.readdirSync('/bundle', { recursive: true });
      fs.readFileSync('/bundle/worker.js'); fs.mkdirSync('/tmp/d/e', { recursive: true }); fs.renameSync('/tmp/t', '/tmp/d/t');
      await fs.promises.readFile('/tmp/d/t'); fs.rmSync('/tmp/d', { recursive: true });
      try { fs.readFileSync('/tmp/none'); } catch {}
      for (const [target, key, original] of originals) target[key] = original;
      return results({ recorded: () => seen.length > 10, leaked: () => seen.filter(engineOwned).length,
        detector: () => [engineOwned(function bundleFile() {}), engineOwned(() => {})] });
    } };
});
is_deeply $got->{detector}, [$T, $F], "the check tells the loader's functions from the tenant's";
is $got->{recorded}, $T, 'the spies saw the calls node:fs made';
is $got->{leaked}, 0, 'and no native nor the internals reached tenant code';

# One tenant's /tmp is not another's.
$t->put_script('api', 'writer', q{
    import { writeFileSync } from 'node:fs';
    export default { fetch() { writeFileSync('/tmp/secret', 'mine'); return new Response('ok'); } };
}, metadata => $COMPAT);
$t->put_script('api', 'reader', q{
    import { existsSync } from 'node:fs';
    export default { fetch() { return new Response(String(existsSync('/tmp/secret'))); } };
}, metadata => $COMPAT);
is $t->get('/t/writer')->{content}, 'ok', 'a tenant writes /tmp/secret';
is $t->get('/t/reader')->{content}, 'false', "another tenant's /tmp does not have it";

# The other modules wrangler's preset leaves to the runtime from 2025-09 on.
$got = node_checks('others', q{
    import punycode from 'node:punycode';
    import domain from 'node:domain';
    import cluster from 'node:cluster';
    import consoleModule from 'node:console';
    import { isatty } from 'node:tty';
    import { isMainThread, Worker } from 'node:worker_threads';
    import { performance as perf } from 'node:perf_hooks';
    import { Agent } from 'node:_http_agent';
    import { Agent as HttpAgent } from 'node:http';
    import { _checkIsHttpToken } from 'node:_http_common';
    import { STATUS_CODES } from 'node:_http_server';
    import { spawn } from 'node:child_process';
    import vm from 'node:vm';
    import v8 from 'node:v8';
    import { createSocket } from 'node:dgram';
    import { createInterface } from 'node:readline';
    import readlinePromises from 'node:readline/promises';
    import { start } from 'node:repl';
    import { DatabaseSync } from 'node:sqlite';
    import { createTracing } from 'node:trace_events';
    import { WASI } from 'node:wasi';
    import inspector from 'node:inspector';
    import inspectorPromises from 'node:inspector/promises';
    import { ClientRequest } from 'node:_http_client';
    import { IncomingMessage } from 'node:_http_incoming';
    import { OutgoingMessage } from 'node:_http_outgoing';
    import streamWrap from 'node:_stream_wrap';
    const thrown = (f) => { try { f(); return 'no error'; } catch (e) { return e.code; } };
    export default { fetch: () => results({
      punycode: () => [punycode.toASCII('mañana.com'), punycode.toUnicode('xn--maana-pta.com'), punycode.encode('☃-⌘'),
        punycode.decode('--dqo34k'), punycode.toASCII('例え.テスト'), punycode.ucs2.decode('\uD834\uDF06'), punycode.ucs2.encode([0x1D306])],
      domain: () => { const d = domain.create(); let seen; d.run(() => { seen = domain.active === d; }); return [seen, domain.active]; },
      cluster: () => [cluster.isPrimary, cluster.isWorker, thrown(() => cluster.fork())],
      console: () => { const c = new consoleModule.Console(); c.log('via Console'); consoleModule.warn('via node:console'); return [typeof consoleModule.log, typeof c.error]; },
      tty: () => isatty(1),
      workers: () => [isMainThread, thrown(() => new Worker('x'))],
      perf: () => perf === performance,
      httpInternals: () => [Agent === HttpAgent, _checkIsHttpToken('GET'), _checkIsHttpToken('a b'), STATUS_CODES[404]],
      stubs: () => [spawn, vm.runInNewContext, v8.getHeapStatistics, createSocket, createInterface, readlinePromises.createInterface,
        start, DatabaseSync, createTracing, WASI, inspector.open, inspectorPromises.Session, ClientRequest, IncomingMessage,
        OutgoingMessage, streamWrap].map((f) => thrown(() => f())),
    }) };
});
is_deeply $got->{punycode}, ['xn--maana-pta.com', "ma\x{f1}ana.com", '--dqo34k', "\x{2603}-\x{2318}", 'xn--r8jz45g.xn--zckzah',
    [0x1D306], "\x{1D306}"], 'node:punycode: toASCII, toUnicode, encode, decode, ucs2 (Node\'s examples)';
is_deeply $got->{domain}, [$T, undef], 'node:domain run sets the active domain';
is_deeply $got->{cluster}, [$T, $F, 'ERR_METHOD_NOT_IMPLEMENTED'], 'node:cluster: the primary; fork throws';
is_deeply $got->{console}, ['function', 'function'], "node:console: the console's methods and Console";
ok $t->wait_for(sub { $t->error_log =~ /via Console/ && $t->error_log =~ /via node:console/ }), 'which write to the log as console does';
is $got->{tty}, $F, 'node:tty isatty is false';
is_deeply $got->{workers}, [$T, 'ERR_METHOD_NOT_IMPLEMENTED'], 'node:worker_threads: the main thread; Worker throws';
is $got->{perf}, $T, 'node:perf_hooks performance is the global';
is_deeply $got->{httpInternals}, [$T, $T, $F, 'Not Found'], 'node:_http_agent, _http_common, _http_server';
is_deeply $got->{stubs}, [('ERR_METHOD_NOT_IMPLEMENTED') x 16],
    'child_process, vm, v8, dgram, readline, repl, sqlite, trace_events, wasi, inspector, _http_client/incoming/outgoing, _stream_wrap: throw when called';

is scalar($t->error_log_alerts), 0, 'no crash' or diag join "\n", $t->error_log_alerts;
done_testing;
