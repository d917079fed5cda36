#!/usr/bin/perl
# SPEC 5: the WHATWG Streams API as Cloudflare Workers has it:
# ReadableStream (default and byte streams, default and BYOB readers, tee,
# pipeTo/pipeThrough, async iteration, from), WritableStream,
# TransformStream, the queuing strategies, TextEncoderStream,
# TextDecoderStream, IdentityTransformStream and FixedLengthStream.
# Each tenant runs a list of checks and answers {check: result}; a check
# that throws answers "threw <name>: <message>".
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP ();

my $t = Dispatch::Test->new(
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch api $script; } },
);

my $true = JSON::PP::true;
my $false = JSON::PP::false;

my $CHECKS = q{
    const bytes = (view) => Array.from(view instanceof ArrayBuffer ? new Uint8Array(view) : new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
    const collect = async (rs) => { const out = []; for await (const c of rs) out.push(c); return out; };
    const tick = (n = 10) => new Promise((r) => { let i = 0; const go = () => (++i >= n ? r() : Promise.resolve().then(go)); go(); });
    const settled = (p) => p.then((v) => ['fulfilled', v], (e) => ['rejected', e instanceof Error ? `${e.name}: ${e.message}` : e]);
    const writeAll = (ts, chunks) => { const w = ts.writable.getWriter(); for (const c of chunks) w.write(c).catch(() => {}); w.close().catch(() => {}); };
    const source = (...chunks) => new ReadableStream({ start(c) { for (const x of chunks) c.enqueue(x); c.close(); } });
};

sub run_checks {
    my ($name, $code, %req) = @_;
    return $t->run_checks('api', $name, $CHECKS . $code, %req);
}

# ---- default ReadableStream ----

my $got = run_checks('readable', q{
    export default { fetch: () => results({
      reads: async () => {
        const r = source('a', 'b').getReader();
        return [await r.read(), await r.read(), await r.read()];
      },
      pullOnDemand: async () => {
        const log = [];
        let n = 0;
        const rs = new ReadableStream({ pull(c) { log.push(`pull ${n}`); c.enqueue(n++); } }, { highWaterMark: 2 });
        await tick();
        log.push(`desired ${rs.getReader === undefined}`);
        const r = rs.getReader();
        await r.read();
        await tick();
        return log;
      },
      desiredSize: () => {
        let ctrl;
        const rs = new ReadableStream({ start(c) { ctrl = c; } }, { highWaterMark: 3 });
        const before = ctrl.desiredSize;
        ctrl.enqueue('x');
        const after = ctrl.desiredSize;
        const r = rs.getReader();
        r.read();
        ctrl.close();
        return [before, after, ctrl.desiredSize];
      },
      sizeStrategy: () => {
        let ctrl;
        new ReadableStream({ start(c) { ctrl = c; } }, { highWaterMark: 10, size: (chunk) => chunk.length });
        ctrl.enqueue('abcd');
        return ctrl.desiredSize;
      },
      badSize: () => {
        let ctrl;
        const rs = new ReadableStream({ start(c) { ctrl = c; } }, { size: () => -1 });
        try { ctrl.enqueue('x'); } catch (e) { return [e.name, rs.locked, ctrl.desiredSize]; }
        return 'no error';
      },
      negativeHWM: () => new ReadableStream({}, { highWaterMark: -1 }),
      badType: () => new ReadableStream({ type: 'nope' }),
      startError: async () => settled(new ReadableStream({ start() { return Promise.reject(new Error('boom')); } }).getReader().read()),
      pullError: async () => settled(new ReadableStream({ pull() { throw new RangeError('pulled'); } }).getReader().closed),
      controllerError: async () => {
        const rs = new ReadableStream({ start(c) { c.enqueue(1); c.error(new Error('bad')); } });
        return settled(rs.getReader().read());
      },
      closeTwice: () => new ReadableStream({ start(c) { c.close(); c.close(); } }),
      enqueueAfterClose: () => { let ctrl; new ReadableStream({ start(c) { ctrl = c; } }); ctrl.close(); ctrl.enqueue(1); },
      cancelReason: async () => {
        let reason;
        const rs = new ReadableStream({ cancel(r) { reason = r; } });
        const result = await rs.cancel('why');
        return [reason, result, rs.locked];
      },
      cancelThroughReader: async () => {
        let reason;
        const r = new ReadableStream({ cancel(r2) { reason = r2; } }).getReader();
        await r.cancel('reader');
        return [reason, await r.read()];
      },
      cancelLocked: async () => {
        const rs = new ReadableStream();
        rs.getReader();
        return settled(rs.cancel());
      },
      lockedTwice: () => { const rs = new ReadableStream(); rs.getReader(); return rs.getReader(); },
      releaseRejectsPending: async () => {
        const r = new ReadableStream().getReader();
        const pending = r.read();
        r.releaseLock();
        return [await settled(pending), await settled(r.closed)];
      },
      releaseUnlocks: () => { const rs = new ReadableStream(); rs.getReader().releaseLock(); return [rs.locked, typeof rs.getReader()]; },
      readerConstructor: () => { const rs = new ReadableStream(); const r = new ReadableStreamDefaultReader(rs); return [rs.locked, r instanceof ReadableStreamDefaultReader]; },
      closedResolves: async () => { const r = source().getReader(); return [await r.closed, (await r.read()).done]; },
      byobOnDefault: () => new ReadableStream().getReader({ mode: 'byob' }),
    }) };
});
is_deeply $got->{reads}, [{value => 'a', done => $false}, {value => 'b', done => $false}, {done => $true}],
    'reads give { value, done } then done';
is_deeply $got->{pullOnDemand}, ['pull 0', 'pull 1', 'desired false', 'pull 2'],
    'pull fills the queue up to the highWaterMark, then runs again only when a read takes a chunk';
is_deeply $got->{desiredSize}, [3, 2, 0], 'desiredSize is highWaterMark minus the queue, 0 once closed';
is $got->{sizeStrategy}, 6, 'the strategy size() measures each chunk';
is_deeply $got->{badSize}, ['RangeError', $false, undef], 'a negative size() errors the stream (desiredSize null) and throws a RangeError';
like $got->{negativeHWM}, qr/^threw RangeError/, 'a negative highWaterMark is a RangeError';
like $got->{badType}, qr/^threw TypeError/, 'an unknown type is a TypeError';
is_deeply $got->{startError}, ['rejected', 'Error: boom'], 'a rejected start() errors the stream';
is_deeply $got->{pullError}, ['rejected', 'RangeError: pulled'], 'an exception in pull() errors the stream';
is_deeply $got->{controllerError}, ['rejected', 'Error: bad'], 'controller.error() discards the queue and errors reads';
like $got->{closeTwice}, qr/^threw TypeError/, 'closing twice is a TypeError';
like $got->{enqueueAfterClose}, qr/^threw TypeError/, 'enqueue after close is a TypeError';
is_deeply $got->{cancelReason}, ['why', undef, $false], 'cancel(reason) hands the reason to the source\'s cancel and fulfils with undefined';
is_deeply $got->{cancelThroughReader}, ['reader', {done => $true}], 'reader.cancel() cancels the stream, which then reads as done';
like $got->{cancelLocked}[1], qr/^TypeError/, 'cancel() on a locked stream rejects with a TypeError';
like $got->{lockedTwice}, qr/^threw TypeError/, 'a second getReader() on a locked stream is a TypeError';
like $got->{releaseRejectsPending}[0][1], qr/^TypeError/, 'releaseLock() rejects a pending read with a TypeError';
like $got->{releaseRejectsPending}[1][1], qr/^TypeError/, 'releaseLock() rejects the reader\'s closed promise';
is_deeply $got->{releaseUnlocks}, [$false, 'object'], 'releaseLock() unlocks the stream';
is_deeply $got->{readerConstructor}, [$true, $true], 'new ReadableStreamDefaultReader(stream) locks it';
is_deeply $got->{closedResolves}, [undef, $true], 'a reader\'s closed fulfils when the stream closes';
like $got->{byobOnDefault}, qr/^threw TypeError/, 'a BYOB reader needs a byte stream';

# ---- byte streams and BYOB readers ----

$got = run_checks('bytes', q{
    export default { fetch: () => results({
      respond: async () => {
        const rs = new ReadableStream({ type: 'bytes', pull(c) {
          const view = c.byobRequest.view;
          view[0] = 1; view[1] = 2;
          c.byobRequest.respond(2);
        } });
        const r = rs.getReader({ mode: 'byob' });
        const { value, done } = await r.read(new Uint8Array(8));
        return [value.constructor.name, value.byteLength, bytes(value), done];
      },
      respondWithNewView: async () => {
        const rs = new ReadableStream({ type: 'bytes', pull(c) {
          const v = c.byobRequest.view;
          const mine = new Uint8Array(v.buffer, v.byteOffset, 3);
          mine.set([9, 8, 7]);
          c.byobRequest.respondWithNewView(mine);
        } });
        const { value } = await rs.getReader({ mode: 'byob' }).read(new Uint8Array(5));
        return bytes(value);
      },
      viewType: async () => {
        const rs = new ReadableStream({ type: 'bytes', start(c) { c.enqueue(new Uint8Array([1, 0, 2, 0, 3])); c.close(); } });
        const r = rs.getReader({ mode: 'byob' });
        const a = await r.read(new Uint16Array(4));
        const b = await settled(r.read(new Uint16Array(4)));
        return [a.value.constructor.name, Array.from(a.value), b[1]];
      },
      minOption: async () => {
        let pulls = 0;
        const rs = new ReadableStream({ type: 'bytes', pull(c) { pulls++; c.enqueue(new Uint8Array([pulls])); } });
        const { value } = await rs.getReader({ mode: 'byob' }).read(new Uint8Array(3), { min: 3 });
        return [bytes(value), pulls];
      },
      minTooBig: async () => settled(new ReadableStream({ type: 'bytes' }).getReader({ mode: 'byob' }).read(new Uint8Array(2), { min: 3 })),
      emptyView: async () => settled(new ReadableStream({ type: 'bytes' }).getReader({ mode: 'byob' }).read(new Uint8Array(0))),
      queuedThenBYOB: async () => {
        const rs = new ReadableStream({ type: 'bytes', start(c) { c.enqueue(new Uint8Array([1, 2, 3, 4, 5])); c.close(); } });
        const r = rs.getReader({ mode: 'byob' });
        const out = [];
        for (;;) { const { value, done } = await r.read(new Uint8Array(2)); if (done) break; out.push(bytes(value)); }
        return out;
      },
      autoAllocate: async () => {
        let size;
        const rs = new ReadableStream({ type: 'bytes', autoAllocateChunkSize: 16, pull(c) {
          size = c.byobRequest.view.byteLength;
          c.byobRequest.view[0] = 42;
          c.byobRequest.respond(1);
        } });
        const { value } = await rs.getReader().read();
        return [size, value.constructor.name, bytes(value)];
      },
      autoAllocateZero: () => new ReadableStream({ type: 'bytes', autoAllocateChunkSize: 0 }),
      noByobRequestWithoutRead: () => { let req; new ReadableStream({ type: 'bytes', start(c) { req = c.byobRequest; } }); return req; },
      defaultReaderBytes: async () => {
        const rs = new ReadableStream({ type: 'bytes', start(c) { c.enqueue(new Uint8Array([5, 6])); c.close(); } });
        return (await collect(rs)).map(bytes);
      },
      enqueueNotBytes: () => new ReadableStream({ type: 'bytes', start(c) { c.enqueue('text'); } }),
      byteSizeStrategy: () => new ReadableStream({ type: 'bytes' }, { size: () => 1 }),
      respondTooMuch: async () => {
        let error;
        const rs = new ReadableStream({ type: 'bytes', pull(c) { try { c.byobRequest.respond(9); } catch (e) { error = e.name; c.byobRequest.respond(1); } } });
        await rs.getReader({ mode: 'byob' }).read(new Uint8Array(2));
        return error;
      },
      closeWithPendingBYOB: async () => {
        let ctrl;
        const rs = new ReadableStream({ type: 'bytes', start(c) { ctrl = c; } });
        const r = rs.getReader({ mode: 'byob' });
        const pending = r.read(new Uint8Array(4));
        await tick();
        ctrl.close();
        ctrl.byobRequest.respond(0);
        const { value, done } = await pending;
        return [done, value.byteLength];
      },
      releaseBYOB: async () => {
        const r = new ReadableStream({ type: 'bytes' }).getReader({ mode: 'byob' });
        const pending = r.read(new Uint8Array(1));
        r.releaseLock();
        return settled(pending);
      },
    }) };
});
is_deeply $got->{respond}, ['Uint8Array', 2, [1, 2], $false], 'respond(n) fulfils a BYOB read with the n bytes written into byobRequest.view';
is_deeply $got->{respondWithNewView}, [9, 8, 7], 'respondWithNewView() fulfils a BYOB read with the view given';
is_deeply [@{ $got->{viewType} }[0, 1]], ['Uint16Array', [1, 2]], 'a BYOB read answers with the kind of view it was given, whole elements only';
like $got->{viewType}[2], qr/^TypeError/, 'a byte left over from a whole element when the stream closes is a TypeError';
is_deeply $got->{minOption}, [[1, 2, 3], 3], 'read(view, { min }) waits until min elements are filled';
like $got->{minTooBig}[1], qr/^RangeError/, 'min larger than the view is a RangeError';
like $got->{emptyView}[1], qr/^TypeError/, 'a BYOB read into an empty view is a TypeError';
is_deeply $got->{queuedThenBYOB}, [[1, 2], [3, 4], [5]], 'queued bytes are split across BYOB reads';
is_deeply $got->{autoAllocate}, [16, 'Uint8Array', [42]], 'autoAllocateChunkSize gives default reads a byobRequest of that size';
like $got->{autoAllocateZero}, qr/^threw TypeError/, 'autoAllocateChunkSize 0 is a TypeError';
is $got->{noByobRequestWithoutRead}, undef, 'byobRequest is null while nothing asks for bytes';
is_deeply $got->{defaultReaderBytes}, [[5, 6]], 'a default reader reads a byte stream\'s chunks as Uint8Arrays';
like $got->{enqueueNotBytes}, qr/^threw TypeError/, 'a byte stream takes only ArrayBufferViews';
like $got->{byteSizeStrategy}, qr/^threw RangeError/, 'a byte stream\'s strategy cannot have size()';
is $got->{respondTooMuch}, 'RangeError', 'respond() with more bytes than the view holds is a RangeError';
is_deeply $got->{closeWithPendingBYOB}, [$true, 0], 'close() then respond(0) ends a pending BYOB read with an empty view, done';
like $got->{releaseBYOB}[1], qr/^TypeError/, 'releasing a BYOB reader rejects its pending read with a TypeError';

# ---- tee ----

$got = run_checks('tee', q{
    export default { fetch: () => results({
      both: async () => { const [a, b] = source(1, 2).tee(); return [await collect(a), await collect(b)]; },
      lockedSource: () => { const rs = source(); rs.tee(); return rs.locked; },
      cancelBoth: async () => {
        let reason;
        const [a, b] = new ReadableStream({ cancel(r) { reason = r; } }).tee();
        await Promise.all([a.cancel('one'), b.cancel('two')]);
        return reason;
      },
      cancelOne: async () => {
        let canceled = false;
        const [a, b] = new ReadableStream({ start(c) { c.enqueue('x'); c.close(); }, cancel() { canceled = true; } }).tee();
        const cancelled = a.cancel();
        return [canceled, await collect(b), await cancelled];
      },
      errorBoth: async () => {
        const [a, b] = new ReadableStream({ start(c) { c.error(new Error('e')); } }).tee();
        return [await settled(a.getReader().read()), await settled(b.getReader().read())];
      },
      byteCopies: async () => {
        const [a, b] = new ReadableStream({ type: 'bytes', start(c) { c.enqueue(new Uint8Array([1, 2])); c.close(); } }).tee();
        const x = (await a.getReader().read()).value;
        const y = (await b.getReader().read()).value;
        x[0] = 99;
        return [x.buffer === y.buffer, bytes(y)];
      },
      byteBranchesAreBytes: async () => {
        const [a, b] = new ReadableStream({ type: 'bytes', start(c) { c.enqueue(new Uint8Array([1, 2, 3])); c.close(); } }).tee();
        const r = a.getReader({ mode: 'byob' });
        const first = await r.read(new Uint8Array(2));
        return [bytes(first.value), (await collect(b)).map(bytes)];
      },
    }) };
});
is_deeply $got->{both}, [[1, 2], [1, 2]], 'both branches of tee() get every chunk';
is $got->{lockedSource}, $true, 'tee() locks the original stream';
is_deeply $got->{cancelBoth}, ['one', 'two'], 'cancelling both branches cancels the source with both reasons';
is_deeply $got->{cancelOne}, [$false, ['x'], undef], 'cancelling one branch leaves the source and the other branch running (its cancel() settles when the source closes)';
is_deeply [map { $_->[1] } @{ $got->{errorBoth} }], ['Error: e', 'Error: e'], 'an error reaches both branches';
is_deeply $got->{byteCopies}, [$false, [1, 2]], 'a byte stream\'s branches get independent copies of each chunk';
is_deeply $got->{byteBranchesAreBytes}, [[1, 2], [[1, 2], [3]]], 'a byte stream\'s branches are byte streams (BYOB readers work; the other branch gets what the BYOB read took)';

# ---- pipeTo and pipeThrough ----

$got = run_checks('pipes', q{
    const sink = (log, extra = {}) => new WritableStream({ write(c) { log.push(c); }, close() { log.push('close'); }, abort(r) { log.push(`abort ${r}`); }, ...extra });
    export default { fetch: () => results({
      basic: async () => { const log = []; const r = await source(1, 2).pipeTo(sink(log)); return [log, r]; },
      preventClose: async () => { const log = []; const ws = sink(log); await source(1).pipeTo(ws, { preventClose: true }); return [log, ws.locked]; },
      abortsDest: async () => {
        const log = [];
        const rs = new ReadableStream({ start(c) { c.error('broken'); } });
        return [await settled(rs.pipeTo(sink(log))), log];
      },
      preventAbort: async () => {
        const log = [];
        const rs = new ReadableStream({ start(c) { c.error('broken'); } });
        await rs.pipeTo(sink(log), { preventAbort: true }).catch(() => {});
        return log;
      },
      cancelsSource: async () => {
        let reason;
        const rs = new ReadableStream({ cancel(r) { reason = r; } });
        const ws = new WritableStream({ start(c) { c.error('sink broke'); } });
        return [await settled(rs.pipeTo(ws)), reason];
      },
      preventCancel: async () => {
        let canceled = false;
        const rs = new ReadableStream({ cancel() { canceled = true; } });
        const ws = new WritableStream({ start(c) { c.error('sink broke'); } });
        await rs.pipeTo(ws, { preventCancel: true }).catch(() => {});
        return [canceled, rs.locked];
      },
      signal: async () => {
        const log = [];
        let canceled;
        const ac = new AbortController();
        const rs = new ReadableStream({ cancel(r) { canceled = r.name; } });
        const piped = rs.pipeTo(sink(log), { signal: ac.signal });
        ac.abort();
        const result = await settled(piped);
        return [result[0], canceled, log.length === 1 && log[0].startsWith('abort')];
      },
      signalAlreadyAborted: async () => settled(source(1).pipeTo(new WritableStream(), { signal: AbortSignal.abort('stop') })),
      badSignal: async () => settled(source().pipeTo(new WritableStream(), { signal: {} })),
      notWritable: async () => settled(source().pipeTo({})),
      locksBoth: () => { const rs = new ReadableStream(); const ws = new WritableStream(); rs.pipeTo(ws); return [rs.locked, ws.locked]; },
      backpressure: async () => {
        let pulls = 0;
        const rs = new ReadableStream({ pull(c) { pulls++; c.enqueue(pulls); } }, { highWaterMark: 0 });
        let release;
        const ws = new WritableStream({ write() { return new Promise((r) => { release = r; }); } }, { highWaterMark: 1 });
        rs.pipeTo(ws).catch(() => {});
        await tick(50);
        return pulls;
      },
      pipeThrough: async () => collect(source(1, 2, 3).pipeThrough(new TransformStream({ transform(c, ctl) { ctl.enqueue(c * 2); } }))),
      pipeThroughBadPair: () => source().pipeThrough({ readable: 1, writable: 2 }),
    }) };
});
is_deeply $got->{basic}, [[1, 2, 'close'], undef], 'pipeTo writes every chunk, closes the destination and fulfils with undefined';
is_deeply $got->{preventClose}, [[1], $false], 'preventClose leaves the destination open (and unlocked)';
is_deeply $got->{abortsDest}, [['rejected', 'broken'], ['abort broken']], 'a source error aborts the destination and rejects the pipe';
is_deeply $got->{preventAbort}, [], 'preventAbort leaves the destination alone';
is_deeply $got->{cancelsSource}, [['rejected', 'sink broke'], 'sink broke'], 'a destination error cancels the source';
is_deeply $got->{preventCancel}, [$false, $false], 'preventCancel leaves the source uncancelled (and unlocked)';
is_deeply $got->{signal}, ['rejected', 'AbortError', $true], 'aborting the signal cancels the source and aborts the destination';
is_deeply $got->{signalAlreadyAborted}, ['rejected', 'stop'], 'an already aborted signal rejects with its reason';
like $got->{badSignal}[1], qr/^TypeError/, 'signal must be an AbortSignal';
like $got->{notWritable}[1], qr/^TypeError/, 'pipeTo needs a WritableStream';
is_deeply $got->{locksBoth}, [$true, $true], 'a pipe locks both streams';
cmp_ok $got->{backpressure}, '<=', 3, 'a pipe stops reading while the destination applies backpressure';
is_deeply $got->{pipeThrough}, [2, 4, 6], 'pipeThrough returns the transform\'s readable side';
like $got->{pipeThroughBadPair}, qr/^threw TypeError/, 'pipeThrough needs a { readable, writable } pair';

# ---- async iteration and ReadableStream.from ----

$got = run_checks('iteration', q{
    export default { fetch: () => results({
      forAwait: async () => collect(source('a', 'b')),
      breakCancels: async () => {
        let reason = 'not canceled';
        const rs = new ReadableStream({ pull(c) { c.enqueue(1); }, cancel(r) { reason = r; } });
        for await (const c of rs) break;
        return [reason, rs.locked];
      },
      preventCancel: async () => {
        let canceled = false;
        const rs = new ReadableStream({ pull(c) { c.enqueue(1); }, cancel() { canceled = true; } });
        for await (const c of rs.values({ preventCancel: true })) break;
        return [canceled, rs.locked];
      },
      iteratorShape: () => {
        const it = new ReadableStream().values();
        const proto = Object.getPrototypeOf(it);
        return [typeof it.next, typeof it.return, Object.getPrototypeOf(proto) === Object.getPrototypeOf(Object.getPrototypeOf(Object.getPrototypeOf((async function* () {})()))),
          ReadableStream.prototype[Symbol.asyncIterator] === ReadableStream.prototype.values];
      },
      errorRejects: async () => settled(collect(new ReadableStream({ start(c) { c.error(new TypeError('it broke')); } }))),
      fromArray: async () => collect(ReadableStream.from(['x', Promise.resolve('y')])),
      fromAsyncGenerator: async () => collect(ReadableStream.from((async function* () { yield 1; yield 2; })())),
      fromStream: async () => collect(ReadableStream.from(source(7))),
      fromCancelReturns: async () => {
        let returned = false;
        const it = { [Symbol.asyncIterator]() { return { next: async () => ({ value: 1, done: false }), return: async () => { returned = true; return {}; } }; } };
        await ReadableStream.from(it).cancel('stop');
        return returned;
      },
      fromNotIterable: () => ReadableStream.from(5),
    }) };
});
is_deeply $got->{forAwait}, ['a', 'b'], 'for await...of reads every chunk';
is_deeply $got->{breakCancels}, [undef, $false], 'leaving a for await loop early cancels the stream and unlocks it';
is_deeply $got->{preventCancel}, [$false, $false], 'values({ preventCancel: true }) leaves the stream uncancelled';
is_deeply $got->{iteratorShape}, [qw(function function), $true, $true], 'the iterator inherits from %AsyncIteratorPrototype%; @@asyncIterator is values';
like $got->{errorRejects}[1], qr/^TypeError: it broke/, 'a stream error rejects the iteration';
is_deeply $got->{fromArray}, ['x', 'y'], 'ReadableStream.from() takes a sync iterable and awaits its values';
is_deeply $got->{fromAsyncGenerator}, [1, 2], 'ReadableStream.from() takes an async iterable';
is_deeply $got->{fromStream}, [7], 'ReadableStream.from() takes a ReadableStream';
is $got->{fromCancelReturns}, $true, 'cancelling a from() stream calls the iterator\'s return()';
like $got->{fromNotIterable}, qr/^threw TypeError/, 'ReadableStream.from() needs an iterable';

# ---- WritableStream ----

$got = run_checks('writable', q{
    export default { fetch: () => results({
      order: async () => {
        const log = [];
        const ws = new WritableStream({ start() { log.push('start'); }, write(c) { log.push(`write ${c}`); }, close() { log.push('close'); } });
        const w = ws.getWriter();
        w.write('a'); w.write('b');
        await w.close();
        return log;
      },
      writesWait: async () => {
        const log = [];
        let finish;
        const ws = new WritableStream({ write(c) { log.push(`start ${c}`); return new Promise((r) => { finish = () => { log.push(`end ${c}`); r(); }; }); } });
        const w = ws.getWriter();
        w.write(1); w.write(2);
        await tick(); finish(); await tick(); finish(); await tick();
        return log;
      },
      backpressure: async () => {
        const ws = new WritableStream({ write() { return new Promise(() => {}); } }, new CountQueuingStrategy({ highWaterMark: 2 }));
        const w = ws.getWriter();
        const sizes = [w.desiredSize];
        w.write(1); sizes.push(w.desiredSize);
        w.write(2); sizes.push(w.desiredSize);
        let ready = false;
        w.ready.then(() => { ready = true; });
        await tick();
        return [sizes, ready];
      },
      abortReason: async () => {
        let reason;
        const ws = new WritableStream({ abort(r) { reason = r; } });
        await ws.abort('enough');
        return [reason, await settled(ws.getWriter().closed)];
      },
      abortWaitsForWrite: async () => {
        const log = [];
        let finish;
        const ws = new WritableStream({ write() { log.push('write'); return new Promise((r) => { finish = r; }); }, abort() { log.push('abort'); } });
        const w = ws.getWriter();
        const written = settled(w.write(1));
        await tick();
        const aborted = w.abort('x');
        log.push('abort called');
        finish();
        await aborted;
        return [log, await written];
      },
      queuedWritesRejected: async () => {
        const ws = new WritableStream({ write() { return new Promise(() => {}); } });
        const w = ws.getWriter();
        w.write(1);
        const second = settled(w.write(2));
        w.abort('stop');
        return await second;
      },
      signal: async () => {
        let signal;
        const ws = new WritableStream({ start(c) { signal = c.signal; } });
        const before = signal.aborted;
        ws.abort('why');
        return [before, signal.aborted, signal.reason];
      },
      sinkErrorRejects: async () => {
        const w = new WritableStream({ write() { throw new Error('no'); } }).getWriter();
        return [await settled(w.write(1)), await settled(w.closed)];
      },
      controllerError: async () => {
        let ctrl;
        const w = new WritableStream({ start(c) { ctrl = c; } }).getWriter();
        ctrl.error(new RangeError('stop'));
        return settled(w.write(1));
      },
      closeTwice: async () => { const w = new WritableStream().getWriter(); w.close(); return settled(w.close()); },
      writeAfterClose: async () => { const w = new WritableStream().getWriter(); w.close(); return settled(w.write(1)); },
      releaseLock: async () => {
        const ws = new WritableStream();
        const w = ws.getWriter();
        w.releaseLock();
        return [ws.locked, await settled(w.closed), await settled(w.write(1))];
      },
      sinkType: () => new WritableStream({ type: 'bytes' }),
      lockedAbort: async () => { const ws = new WritableStream(); ws.getWriter(); return settled(ws.abort()); },
    }) };
});
is_deeply $got->{order}, ['start', 'write a', 'write b', 'close'], 'start, then each write in order, then close';
is_deeply $got->{writesWait}, ['start 1', 'end 1', 'start 2', 'end 2'], 'a write waits for the one before to finish';
is_deeply $got->{backpressure}, [[2, 1, 0], $false], 'desiredSize counts queued writes; ready stays pending at 0';
is_deeply $got->{abortReason}, ['enough', ['rejected', 'enough']], 'abort(reason) reaches the sink and errors the stream with it';
is_deeply $got->{abortWaitsForWrite}, [['write', 'abort called', 'abort'], ['fulfilled', undef]], 'abort waits for the write in flight before calling the sink\'s abort';
is_deeply $got->{queuedWritesRejected}, ['rejected', 'stop'], 'abort rejects the writes still queued';
is_deeply $got->{signal}, [$false, $true, 'why'], 'the controller\'s signal aborts with the abort reason';
is_deeply $got->{sinkErrorRejects}, [['rejected', 'Error: no'], ['rejected', 'Error: no']], 'an exception in write() rejects the write and errors the stream';
is_deeply $got->{controllerError}, ['rejected', 'RangeError: stop'], 'controller.error() errors the stream';
like $got->{closeTwice}[1], qr/^TypeError/, 'closing twice rejects with a TypeError';
like $got->{writeAfterClose}[1], qr/^TypeError/, 'writing after close rejects with a TypeError';
is $got->{releaseLock}[0], $false, 'releaseLock() unlocks the stream';
like $got->{releaseLock}[1][1], qr/^TypeError/, 'a released writer\'s closed rejects with a TypeError';
like $got->{releaseLock}[2][1], qr/^TypeError/, 'a released writer cannot write';
like $got->{sinkType}, qr/^threw RangeError/, 'an underlying sink with a type is a RangeError';
like $got->{lockedAbort}[1], qr/^TypeError/, 'abort() on a locked stream rejects with a TypeError';

# ---- TransformStream ----

$got = run_checks('transform', q{
    export default { fetch: () => results({
      identity: async () => { const ts = new TransformStream(); writeAll(ts, [1, 2]); return collect(ts.readable); },
      flush: async () => {
        const ts = new TransformStream({ transform(c, ctl) { ctl.enqueue(c); }, flush(ctl) { ctl.enqueue('end'); } });
        writeAll(ts, ['a']);
        return collect(ts.readable);
      },
      backpressure: async () => {
        let transforms = 0;
        const ts = new TransformStream({ transform(c, ctl) { transforms++; ctl.enqueue(c); } });
        const w = ts.writable.getWriter();
        w.write(1); w.write(2); w.write(3);
        await tick(20);
        const before = transforms;
        const r = ts.readable.getReader();
        await r.read(); await r.read();
        await tick(20);
        return [before, transforms];
      },
      transformError: async () => {
        const ts = new TransformStream({ transform() { throw new Error('bad chunk'); } });
        const w = ts.writable.getWriter();
        const read = settled(ts.readable.getReader().read());
        const write = settled(w.write(1));
        return [await write, await read];
      },
      terminate: async () => {
        const ts = new TransformStream({ transform(c, ctl) { ctl.enqueue(c); ctl.terminate(); } });
        const w = ts.writable.getWriter();
        w.write('last').catch(() => {});
        const out = await collect(ts.readable);
        return [out, await settled(w.closed)];
      },
      cancelReadable: async () => {
        let reason;
        const ts = new TransformStream({ cancel(r) { reason = r; } });
        await ts.readable.cancel('no more');
        return [reason, await settled(ts.writable.getWriter().closed)];
      },
      startAndStrategies: async () => {
        const ts = new TransformStream({ start(ctl) { ctl.enqueue('from start'); } }, undefined, { highWaterMark: 2 });
        const r = ts.readable.getReader();
        return (await r.read()).value;
      },
      readableType: () => new TransformStream({ readableType: 'bytes' }),
      desiredSize: () => { let size; new TransformStream({ start(c) { size = c.desiredSize; } }); return size; },
    }) };
});
is_deeply $got->{identity}, [1, 2], 'a TransformStream without transform() passes chunks through';
is_deeply $got->{flush}, ['a', 'end'], 'flush() runs when the writable side closes and may enqueue';
is_deeply $got->{backpressure}, [0, 2], 'transform() waits for the readable side to be read (backpressure, readable highWaterMark 0)';
is_deeply $got->{transformError}, [['rejected', 'Error: bad chunk'], ['rejected', 'Error: bad chunk']], 'an exception in transform() errors both sides';
is_deeply $got->{terminate}, [['last'], ['rejected', 'TypeError: The TransformStream was terminated']], 'terminate() closes the readable side and errors the writable side';
is_deeply $got->{cancelReadable}, ['no more', ['rejected', 'no more']], 'cancelling the readable side calls cancel() and errors the writable side';
is $got->{startAndStrategies}, 'from start', 'start() may enqueue';
like $got->{readableType}, qr/^threw RangeError/, 'a transformer with readableType is a RangeError';
is $got->{desiredSize}, 0, 'the controller\'s desiredSize is the readable side\'s (highWaterMark 0 by default)';

# ---- queuing strategies and WebIDL shape ----

$got = run_checks('shape', q{
    const names = ['ReadableStream', 'ReadableStreamDefaultReader', 'ReadableStreamBYOBReader', 'ReadableStreamDefaultController',
      'ReadableByteStreamController', 'ReadableStreamBYOBRequest', 'WritableStream', 'WritableStreamDefaultWriter',
      'WritableStreamDefaultController', 'TransformStream', 'TransformStreamDefaultController', 'ByteLengthQueuingStrategy',
      'CountQueuingStrategy', 'TextEncoderStream', 'TextDecoderStream', 'IdentityTransformStream', 'FixedLengthStream'];
    export default { fetch: () => results({
      byteLength: () => { const s = new ByteLengthQueuingStrategy({ highWaterMark: 16 }); return [s.highWaterMark, s.size(new Uint8Array(5)), s.size === new ByteLengthQueuingStrategy({ highWaterMark: 1 }).size]; },
      count: () => { const s = new CountQueuingStrategy({ highWaterMark: 3 }); return [s.highWaterMark, s.size('anything'), s.size.length]; },
      strategyNeedsHWM: () => new CountQueuingStrategy({}),
      tags: () => names.map((n) => Object.prototype.toString.call(globalThis[n].prototype)),
      lengths: () => names.map((n) => globalThis[n].length),
      methodLengths: () => [ReadableStream.prototype.pipeTo.length, ReadableStream.prototype.pipeThrough.length, ReadableStreamBYOBReader.prototype.read.length,
        ReadableStream.from.length, WritableStreamDefaultWriter.prototype.write.length, ReadableStreamBYOBRequest.prototype.respond.length],
      enumerable: () => [Object.keys(ReadableStream.prototype), Object.keys(ReadableStream), Object.keys(TransformStream.prototype)],
      notGlobalNames: () => ['readableStreamCreate', 'rsCancel', 'streamReact'].map((n) => typeof globalThis[n]),
      illegal: () => names.filter((n) => { try { new globalThis[n](); return false; } catch (e) { return true; } }),
      notEnumerableGlobal: () => Object.keys(globalThis).filter((k) => names.includes(k)),
    }) };
});
is_deeply $got->{byteLength}, [16, 5, $true], 'ByteLengthQueuingStrategy measures byteLength, with one size function per isolate';
is_deeply $got->{count}, [3, 1, 0], 'CountQueuingStrategy counts chunks';
like $got->{strategyNeedsHWM}, qr/^threw TypeError/, 'a strategy needs a highWaterMark';
is_deeply $got->{tags}, [map { "[object $_]" } qw(ReadableStream ReadableStreamDefaultReader ReadableStreamBYOBReader
    ReadableStreamDefaultController ReadableByteStreamController ReadableStreamBYOBRequest WritableStream
    WritableStreamDefaultWriter WritableStreamDefaultController TransformStream TransformStreamDefaultController
    ByteLengthQueuingStrategy CountQueuingStrategy TextEncoderStream TextDecoderStream IdentityTransformStream
    FixedLengthStream)], 'every class has its Symbol.toStringTag';
is_deeply $got->{lengths}, [0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1], 'constructor lengths are WebIDL\'s';
is_deeply $got->{methodLengths}, [1, 1, 1, 1, 0, 1], 'method lengths count the required arguments';
is_deeply $got->{enumerable}, [[qw(locked cancel getReader pipeThrough pipeTo tee values)], ['from'], [qw(readable writable)]],
    'operations and attributes are enumerable, as WebIDL makes them';
is_deeply $got->{notGlobalNames}, [qw(undefined undefined undefined)], 'the internals are not globals';
is_deeply $got->{illegal}, [qw(ReadableStreamDefaultReader ReadableStreamBYOBReader ReadableStreamDefaultController
    ReadableByteStreamController ReadableStreamBYOBRequest WritableStreamDefaultWriter WritableStreamDefaultController
    TransformStreamDefaultController ByteLengthQueuingStrategy CountQueuingStrategy FixedLengthStream)],
    'controllers and requests cannot be constructed; readers, writers and strategies need their argument';
is_deeply $got->{notEnumerableGlobal}, [], 'the globals are not enumerable';

# ---- TextEncoderStream, TextDecoderStream ----

$got = run_checks('text', q{
    export default { fetch: () => results({
      encode: async () => { const ts = new TextEncoderStream(); writeAll(ts, ['h\u00e9', '', '\u20ac']); return (await collect(ts.readable)).map(bytes); },
      encodeSplitPair: async () => { const ts = new TextEncoderStream(); writeAll(ts, ['\uD83D', '\uDE00']); return (await collect(ts.readable)).map(bytes); },
      encodeLoneAtEnd: async () => { const ts = new TextEncoderStream(); writeAll(ts, ['a\uD83D']); return (await collect(ts.readable)).map(bytes); },
      encoderShape: () => [new TextEncoderStream().encoding, Object.keys(TextEncoderStream.prototype)],
      decodeSplit: async () => {
        const ts = new TextDecoderStream();
        writeAll(ts, [new Uint8Array([0xE2, 0x82]), new Uint8Array([0xAC, 0xF0, 0x9F]), new Uint8Array([0x98, 0x80])]);
        return (await collect(ts.readable)).join('|');
      },
      decodeBOM: async () => { const ts = new TextDecoderStream(); writeAll(ts, [new Uint8Array([0xEF, 0xBB]), new Uint8Array([0xBF, 0x61])]); return (await collect(ts.readable)).join(''); },
      keepBOM: async () => { const ts = new TextDecoderStream('utf-8', { ignoreBOM: true }); writeAll(ts, [new Uint8Array([0xEF, 0xBB, 0xBF, 0x61])]); return (await collect(ts.readable)).join('').length; },
      fatal: async () => {
        const ts = new TextDecoderStream('utf-8', { fatal: true });
        writeAll(ts, [new Uint8Array([0xFF])]);
        return settled(collect(ts.readable));
      },
      fatalAtEnd: async () => {
        const ts = new TextDecoderStream('utf-8', { fatal: true });
        writeAll(ts, [new Uint8Array([0xE2, 0x82])]);
        return settled(collect(ts.readable));
      },
      replacementAtEnd: async () => { const ts = new TextDecoderStream(); writeAll(ts, [new Uint8Array([0x61, 0xE2])]); return (await collect(ts.readable)).join(''); },
      utf16: async () => { const ts = new TextDecoderStream('utf-16le'); writeAll(ts, [new Uint8Array([0x61]), new Uint8Array([0x00, 0x62, 0x00])]); return [(await collect(ts.readable)).join(''), ts.encoding]; },
      notBytes: async () => { const ts = new TextDecoderStream(); writeAll(ts, ['text']); return settled(collect(ts.readable)); },
      badLabel: () => new TextDecoderStream('nope'),
      decoderShape: () => { const d = new TextDecoderStream('latin1', { fatal: true }); return [d.encoding, d.fatal, d.ignoreBOM]; },
    }) };
});
is_deeply $got->{encode}, [[0x68, 0xc3, 0xa9], [0xe2, 0x82, 0xac]], 'TextEncoderStream encodes each chunk as UTF-8 (empty output is not enqueued)';
is_deeply $got->{encodeSplitPair}, [[0xf0, 0x9f, 0x98, 0x80]], 'a surrogate pair split across chunks encodes as one character';
is_deeply $got->{encodeLoneAtEnd}, [[0x61], [0xef, 0xbf, 0xbd]], 'a high surrogate left at the end becomes U+FFFD';
is_deeply $got->{encoderShape}, ['utf-8', [qw(encoding readable writable)]], 'TextEncoderStream has encoding, readable and writable';
is $got->{decodeSplit}, "\x{20ac}|\x{1f600}", 'TextDecoderStream joins multi-byte characters split across chunks';
is $got->{decodeBOM}, 'a', 'a BOM split across chunks is dropped';
is $got->{keepBOM}, 2, 'ignoreBOM keeps the BOM';
like $got->{fatal}[1], qr/^TypeError/, 'fatal: invalid bytes error the stream with a TypeError';
like $got->{fatalAtEnd}[1], qr/^TypeError/, 'fatal: an unfinished character at the end errors the stream';
is $got->{replacementAtEnd}, "a\x{fffd}", 'without fatal, an unfinished character at the end is U+FFFD';
is_deeply $got->{utf16}, ['ab', 'utf-16le'], 'TextDecoderStream decodes utf-16le, an odd byte carried over';
like $got->{notBytes}[1], qr/^TypeError/, 'TextDecoderStream takes only bytes';
like $got->{badLabel}, qr/^threw RangeError/, 'an unknown encoding is a RangeError';
is_deeply $got->{decoderShape}, ['windows-1252', $true, $false], 'TextDecoderStream has encoding, fatal and ignoreBOM';

# ---- IdentityTransformStream, FixedLengthStream ----

$got = run_checks('identity', q{
    export default { fetch: () => results({
      passes: async () => { const ts = new IdentityTransformStream(); writeAll(ts, [new Uint8Array([1, 2]), new Uint16Array([0x0403]).buffer]); return (await collect(ts.readable)).map(bytes); },
      notBytes: async () => {
        const ts = new IdentityTransformStream();
        const w = ts.writable.getWriter();
        ts.readable.getReader().read().catch(() => {});
        return settled(w.write('text'));
      },
      byob: async () => {
        const ts = new IdentityTransformStream();
        writeAll(ts, [new Uint8Array([1, 2, 3])]);
        const r = ts.readable.getReader({ mode: 'byob' });
        const a = await r.read(new Uint8Array(2));
        const b = await r.read(new Uint8Array(2));
        const c = await r.read(new Uint8Array(2));
        return [bytes(a.value), bytes(b.value), c.done];
      },
      fixedExact: async () => { const ts = new FixedLengthStream(3); writeAll(ts, [new Uint8Array([1]), new Uint8Array([2, 3])]); return (await collect(ts.readable)).map(bytes); },
      fixedTooMany: async () => { const ts = new FixedLengthStream(2); writeAll(ts, [new Uint8Array([1, 2, 3])]); return settled(collect(ts.readable)); },
      fixedTooFew: async () => { const ts = new FixedLengthStream(4); writeAll(ts, [new Uint8Array([1, 2, 3])]); return settled(collect(ts.readable)); },
      fixedBYOB: async () => {
        const ts = new FixedLengthStream(4);
        writeAll(ts, [new Uint8Array([1, 2, 3, 4])]);
        const r = ts.readable.getReader({ mode: 'byob' });
        return bytes((await r.read(new Uint8Array(4), { min: 4 })).value);
      },
      fixedBigInt: () => { new FixedLengthStream(5n); return 'ok'; },
      fixedNegative: () => new FixedLengthStream(-1),
      fixedFraction: () => new FixedLengthStream(1.5),
      fixedTooLarge: () => new FixedLengthStream(2 ** 53),
      fixedZero: async () => { const ts = new FixedLengthStream(0); writeAll(ts, []); return collect(ts.readable); },
    }) };
});
is_deeply $got->{passes}, [[1, 2], [3, 4]], 'IdentityTransformStream passes ArrayBuffers and views through as bytes';
is_deeply $got->{notBytes}, ['rejected', 'TypeError: This TransformStream is being used as a byte stream, but received a value that is not a BufferSource.'],
    'IdentityTransformStream rejects a chunk that is not bytes, with Workers\' message';
is_deeply $got->{byob}, [[1, 2], [3], $true], 'the readable side of an IdentityTransformStream takes BYOB readers';
is_deeply $got->{fixedExact}, [[1], [2, 3]], 'FixedLengthStream passes exactly expectedLength bytes';
like $got->{fixedTooMany}[1], qr/^TypeError: .*too many bytes/, 'FixedLengthStream errors on more bytes than expected';
like $got->{fixedTooFew}[1], qr/^TypeError: .*expected bytes/, 'FixedLengthStream errors on fewer bytes than expected';
is_deeply $got->{fixedBYOB}, [1, 2, 3, 4], 'the readable side of a FixedLengthStream takes BYOB readers';
is $got->{fixedBigInt}, 'ok', 'FixedLengthStream takes a bigint length';
like $got->{fixedNegative}, qr/^threw RangeError/, 'a negative length is a RangeError';
like $got->{fixedFraction}, qr/^threw RangeError/, 'a fractional length is a RangeError';
like $got->{fixedTooLarge}, qr/^threw RangeError/, 'a length past 2^53 - 1 is a RangeError';
is_deeply $got->{fixedZero}, [], 'FixedLengthStream(0) closes with no bytes';

done_testing;
