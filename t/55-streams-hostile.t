#!/usr/bin/perl
# The Streams API against hostile tenants (DESIGN.md, "Facts learned by
# attacking it"): a tenant that replaces Promise.prototype.then, makes every
# object a thenable, puts getters on Promise.prototype.constructor and
# Promise[Symbol.species], replaces Array.prototype[Symbol.iterator], puts
# setters on Object.prototype, hands in strategies and sources whose methods
# throw, lie or are getters, releases readers mid-read, or never stops
# pulling. The streams keep working as the standard says, reach no built-in
# internal, and the worker keeps answering other scripts.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP ();
use Time::HiRes qw(time);

my $t = Dispatch::Test->new(
    workers => 1,
    http    => "dispatch_memory_limit 64m;\n    dispatch_cpu_limit 200ms;",
    server  => q{ location ~ ^/t/(?<script>[^/]*) { dispatch api $script; } },
);

my $true = JSON::PP::true;
my $false = JSON::PP::false;

# during(install, restore, run): installs a tampering, runs run() (which
# starts stream work and returns what to look at later), lets every
# microtask run, restores, then answers the result of done(). Nothing of
# the tenant's own awaits a promise while the tampering is in place.
my $CHECKS = q{
    // (Its promise has an own constructor: awaiting it reads no getter installed meanwhile.)
    const during = (install, restore, run) => Object.defineProperty(new Promise((resolve) => {
      install();
      let look;
      try { look = run(); } catch (e) { restore(); throw e; }
      setTimeout(() => { restore(); resolve(look()); }, 20);
    }), 'constructor', { value: Promise });
    // No array of the tenant's is iterated or grown while a tampering is in place.
    const source = (...chunks) => new ReadableStream({ start(c) { for (let i = 0; i < chunks.length; i++) c.enqueue(chunks[i]); c.close(); } });
    const text = (v) => { if (!(v instanceof Uint8Array)) return `${v}`; let s = 'bytes '; for (let i = 0; i < v.length; i++) s += (i ? ',' : '') + v[i]; return s; };
    const sink = (log) => new WritableStream({ write(c) { log.text += `${text(c)};`; }, close() { log.text += 'close;'; } });
    const collect = async (rs) => { const out = []; for await (const c of rs) out.push(c); return out; };
    const settled = (p) => p.then((v) => ['fulfilled', v], (e) => ['rejected', e instanceof Error ? `${e.name}: ${e.message}` : e]);
    // Every kind of stream work that runs only on the built-ins' promises.
    const work = () => {
      const log = { text: '' };
      const ab = source(1, 2).tee();
      ab[0].pipeThrough(new TransformStream({ transform(c, ctl) { ctl.enqueue(c * 10); } })).pipeTo(sink(log));
      ab[1].pipeTo(sink(log));
      const bytes = new ReadableStream({ type: 'bytes', start(c) { c.enqueue(Uint8Array.of(7, 8)); c.close(); } });
      const xy = bytes.tee();
      xy[0].pipeTo(sink(log));
      xy[1].pipeThrough(new IdentityTransformStream()).pipeTo(sink(log));
      return () => log.text.split(';').filter((v) => v !== '').sort();
    };
    const WORK = ['1', '10', '2', '20', 'bytes 7,8', 'bytes 7,8', 'close', 'close', 'close', 'close'];
};

sub run_checks {
    my ($name, $code, %req) = @_;
    return $t->run_checks('api', $name, $CHECKS . $code, %req);
}

my $got = run_checks('tampered', q{
    export default { fetch: () => results({
      baseline: () => during(() => {}, () => {}, work),
      promiseThen: () => {
        const original = Promise.prototype.then;
        let calls = 0;
        return during(() => { Promise.prototype.then = function () { calls++; throw new Error('hijacked then'); }; },
          () => { Promise.prototype.then = original; }, () => { const look = work(); return () => [look(), calls]; });
      },
      objectThen: () => {
        let calls = 0;
        return during(() => { Object.prototype.then = function () { calls++; }; },
          () => { delete Object.prototype.then; }, () => { const look = work(); return () => [look(), calls]; });
      },
      constructorGetter: () => {
        const descriptor = Object.getOwnPropertyDescriptor(Promise.prototype, 'constructor');
        let calls = 0;
        return during(() => { Object.defineProperty(Promise.prototype, 'constructor', { get() { calls++; throw new Error('constructor'); }, configurable: true }); },
          () => { Object.defineProperty(Promise.prototype, 'constructor', descriptor); },
          () => { const look = work(); return () => [look(), calls]; });
      },
      speciesGetter: () => {
        const descriptor = Object.getOwnPropertyDescriptor(Promise, Symbol.species);
        let calls = 0;
        return during(() => { Object.defineProperty(Promise, Symbol.species, { get() { calls++; for (;;) {} }, configurable: true }); },
          () => { Object.defineProperty(Promise, Symbol.species, descriptor); },
          () => { const look = work(); return () => [look(), calls]; });
      },
      arrayIterator: () => {
        const original = Array.prototype[Symbol.iterator];
        let calls = 0;
        return during(() => { Array.prototype[Symbol.iterator] = function () { calls++; throw new Error('iterated'); }; },
          () => { Array.prototype[Symbol.iterator] = original; }, () => { const look = work(); return () => [look(), calls]; });
      },
      setters: () => {
        const names = ['0', '1', '2', 'value', 'done', 'size', 'state', 'stream', 'reader', 'controller', 'queue', 'promise',
          'resolve', 'reject', 'chunk', 'close', 'error', 'buffer', 'byteOffset', 'byteLength', 'view', 'length'];
        let seen = '';
        return during(() => {
          for (let i = 0; i < names.length; i++) {
            const n = names[i];
            Object.defineProperty(Object.prototype, n, { __proto__: null, set(v) { seen += `set ${n};`; }, get() { seen += `get ${n};`; }, configurable: true });
          }
        }, () => { for (let i = 0; i < names.length; i++) delete Object.prototype[names[i]]; },
        () => { const look = work(); return () => [look(), seen]; });
      },
      typedArrayGetters: async () => {
        const proto = Object.getPrototypeOf(Uint8Array.prototype);
        const saved = ['byteLength', 'byteOffset', 'buffer', 'length'].map((n) => [n, Object.getOwnPropertyDescriptor(proto, n)]);
        const rs = new ReadableStream({ type: 'bytes', pull(c) { c.enqueue(new Uint8Array([1, 2, 3])); c.close(); } });
        for (const [n] of saved) Object.defineProperty(proto, n, { get() { return 1e9; }, configurable: true });
        let result;
        try { result = await rs.getReader({ mode: 'byob' }).read(new Uint8Array(2)); } finally { for (const [n, d] of saved) Object.defineProperty(proto, n, d); }
        return [Array.from(result.value), result.value.byteLength];
      },
    }) };
});
is_deeply $got->{baseline}, [qw(1 10 2 20), 'bytes 7,8', 'bytes 7,8', qw(close close close close)], 'tee, pipes and transforms deliver every chunk (baseline)';
is_deeply $got->{promiseThen}, [$got->{baseline}, 0], 'a throwing Promise.prototype.then is never called by the built-ins, and changes nothing';
is_deeply $got->{objectThen}, [$got->{baseline}, 0], 'an Object.prototype.then is never looked up on what the built-ins resolve their own promises with';
is_deeply $got->{constructorGetter}, [$got->{baseline}, 0], 'a Promise.prototype.constructor getter never runs for the built-ins\' own promises';
is_deeply $got->{speciesGetter}, [$got->{baseline}, 0], 'a looping Promise[Symbol.species] getter never runs';
is_deeply $got->{arrayIterator}, [$got->{baseline}, 0], 'a throwing Array.prototype[Symbol.iterator] is never called';
is_deeply $got->{setters}, [$got->{baseline}, ''], 'no setter or getter on Object.prototype sees the built-ins\' state';
is_deeply $got->{typedArrayGetters}, [[1, 2], 2], 'lying %TypedArray% getters do not move a BYOB read\'s window';

# ---- strategies, sources and sinks that misbehave ----

$got = run_checks('strategies', q{
    const enqueueWith = (size) => {
      let ctrl;
      const rs = new ReadableStream({ start(c) { ctrl = c; } }, { size });
      let thrown;
      try { ctrl.enqueue('x'); } catch (e) { thrown = e instanceof Error ? e.name : e; }
      return settled(rs.getReader().closed).then((closed) => [thrown, closed[0]]);
    };
    export default { fetch: () => results({
      sizeThrows: () => enqueueWith(() => { throw 'size says no'; }),
      sizeNaN: () => enqueueWith(() => NaN),
      sizeInfinity: () => enqueueWith(() => Infinity),
      sizeNegative: () => enqueueWith(() => -1),
      sizeObject: () => enqueueWith(() => ({ valueOf() { throw 'valueOf'; } })),
      hwmGetterThrows: () => new ReadableStream({}, { get highWaterMark() { throw new Error('hwm getter'); } }),
      hwmNaN: () => new WritableStream({}, { highWaterMark: NaN }),
      sizeGetterThrows: () => new TransformStream({}, { get size() { throw new Error('size getter'); } }),
      sizeNotFunction: () => new ReadableStream({}, { size: 5 }),
      writableSizeThrows: async () => {
        const w = new WritableStream({}, { size() { throw new Error('ws size'); } }).getWriter();
        return [await settled(w.write(1)), await settled(w.closed)];
      },
      sizeReentrantClose: async () => {
        let ctrl;
        const rs = new ReadableStream({ start(c) { ctrl = c; } }, { size() { ctrl.close(); return 1; } });
        ctrl.enqueue('x');
        return collect(rs);
      },
      sizeReentrantError: async () => {
        let ctrl;
        const rs = new ReadableStream({ start(c) { ctrl = c; } }, { size() { ctrl.error('inside'); return 1; } });
        try { ctrl.enqueue('x'); } catch (e) { return ['threw', e]; }
        return settled(rs.getReader().read());
      },
      sourceGetters: async () => {
        let reads = 0;
        let pulls = 0;
        const rs = new ReadableStream({ get pull() { reads++; return (c) => { pulls++; c.enqueue(pulls); if (pulls === 3) c.close(); }; } });
        const out = await collect(rs);
        return [reads, out];
      },
      sinkGetterThrows: () => new WritableStream({ get write() { throw new Error('sink getter'); } }),
      startThrows: () => new ReadableStream({ start() { throw new Error('start threw'); } }),
      transformStartThrows: () => new TransformStream({ start() { throw new Error('ts start'); } }),
      autoAllocateHuge: async () => {
        const rs = new ReadableStream({ type: 'bytes', autoAllocateChunkSize: 2 ** 52 });
        return settled(rs.getReader().read());
      },
    }) };
});
is_deeply $got->{sizeThrows}, ['size says no', 'rejected'], 'a size() that throws errors the stream and enqueue throws its exception';
is_deeply $got->{sizeNaN}, ['RangeError', 'rejected'], 'a size() of NaN is a RangeError that errors the stream';
is_deeply $got->{sizeInfinity}, ['RangeError', 'rejected'], 'a size() of Infinity is a RangeError';
is_deeply $got->{sizeNegative}, ['RangeError', 'rejected'], 'a size() of -1 is a RangeError';
is_deeply $got->{sizeObject}, ['valueOf', 'rejected'], 'a size() whose result throws when converted errors the stream';
is $got->{hwmGetterThrows}, 'threw Error: hwm getter', 'a highWaterMark getter that throws makes the constructor throw it';
like $got->{hwmNaN}, qr/^threw RangeError/, 'a NaN highWaterMark is a RangeError';
is $got->{sizeGetterThrows}, 'threw Error: size getter', 'a size getter that throws makes the constructor throw it';
like $got->{sizeNotFunction}, qr/^threw TypeError/, 'a size that is not a function is a TypeError';
is_deeply $got->{writableSizeThrows}, [['rejected', 'Error: ws size'], ['rejected', 'Error: ws size']], 'a writable strategy size() that throws errors the stream';
is_deeply $got->{sizeReentrantClose}, [], 'a size() that closes the stream while its chunk is measured leaves a closed stream';
is_deeply $got->{sizeReentrantError}, ['rejected', 'inside'], 'a size() that errors the stream leaves an errored stream';
is_deeply $got->{sourceGetters}, [1, [1, 2, 3]], 'an underlying source\'s methods are read once, when the stream is made';
is $got->{sinkGetterThrows}, 'threw Error: sink getter', 'an underlying sink getter that throws makes the constructor throw it';
is $got->{startThrows}, 'threw Error: start threw', 'a start() that throws makes the constructor throw';
is $got->{transformStartThrows}, 'threw Error: ts start', 'a transformer start() that throws makes the constructor throw';
like $got->{autoAllocateHuge}[1], qr/^RangeError/, 'an autoAllocateChunkSize past the memory limit fails the read with a RangeError';

# ---- readers released, internals out of reach ----

$got = run_checks('readers', q{
    export default { fetch: () => results({
      releasedMidRead: async () => {
        let ctrl;
        const rs = new ReadableStream({ start(c) { ctrl = c; } });
        const r1 = rs.getReader();
        const pending = settled(r1.read());
        r1.releaseLock();
        ctrl.enqueue('kept');
        const r2 = rs.getReader();
        return [(await pending)[0], (await r2.read()).value];
      },
      releaseInsidePull: async () => {
        let reader;
        const rs = new ReadableStream({ pull(c) { reader.releaseLock(); c.enqueue('late'); } });
        reader = rs.getReader();
        const first = await settled(reader.read());
        return [first[0], (await rs.getReader().read()).value];
      },
      byobReleasedMidRead: async () => {
        let ctrl;
        const rs = new ReadableStream({ type: 'bytes', start(c) { ctrl = c; } });
        const r1 = rs.getReader({ mode: 'byob' });
        const pending = settled(r1.read(new Uint8Array(4)));
        await null;
        r1.releaseLock();
        ctrl.enqueue(new Uint8Array([1, 2]));
        const second = await rs.getReader().read();
        return [(await pending)[0], Array.from(second.value)];
      },
      respondAfterRelease: async () => {
        let ctrl;
        const rs = new ReadableStream({ type: 'bytes', start(c) { ctrl = c; } });
        const r1 = rs.getReader({ mode: 'byob' });
        r1.read(new Uint8Array(4)).catch(() => {});
        await null;
        const request = ctrl.byobRequest;
        r1.releaseLock();
        request.view[0] = 9;
        request.respond(1);
        return Array.from((await rs.getReader().read()).value);
      },
      ownKeys: () => {
        let ctrl, byob;
        const rs = new ReadableStream({ type: 'bytes', start(c) { ctrl = c; }, pull(c) { byob = c.byobRequest; } });
        const reader = rs.getReader({ mode: 'byob' });
        reader.read(new Uint8Array(1));
        let wsController;
        const ws = new WritableStream({ start(c) { wsController = c; } });
        const ts = new TransformStream();
        const objects = [rs, ctrl, reader, ws, wsController, ws.getWriter(), ts, ts.readable.values(), new TextEncoderStream(), new FixedLengthStream(1)];
        return objects.map((o) => Reflect.ownKeys(o).length);
      },
      brandChecks: () => {
        const calls = [
          () => ReadableStream.prototype.getReader.call({}),
          () => ReadableStreamDefaultController.prototype.enqueue.call({}, 1),
          () => ReadableByteStreamController.prototype.close.call(Object.create(ReadableByteStreamController.prototype)),
          () => WritableStream.prototype.getWriter.call(new ReadableStream()),
          () => Object.getOwnPropertyDescriptor(TransformStream.prototype, 'readable').get.call(new TextEncoderStream()),
          () => Object.getOwnPropertyDescriptor(TextEncoderStream.prototype, 'readable').get.call(new TransformStream()),
        ];
        return calls.map((f) => { try { f(); return 'no error'; } catch (e) { return e.name; } });
      },
      promiseRejectsOnBadThis: async () => [await settled(ReadableStream.prototype.cancel.call(5)), await settled(WritableStream.prototype.abort.call({}))],
      abortListenerThrows: async () => {
        let signal;
        const ws = new WritableStream({ start(c) { signal = c.signal; } });
        const log = [];
        const rs = new ReadableStream({ start(c) { c.error('source broke'); } });
        await null;
        signal.addEventListener('abort', () => { log.push('listener'); throw new Error('listener threw'); });
        const piped = await settled(rs.pipeTo(ws));
        return [piped, log];
      },
      subclass: async () => {
        class Mine extends ReadableStream { constructor() { super({ start(c) { c.enqueue('sub'); c.close(); } }); } }
        const m = new Mine();
        return [m instanceof Mine, (await m.getReader().read()).value];
      },
      detachedView: async () => {
        if (typeof WebAssembly !== 'object') return 'skipped';
        const memory = new WebAssembly.Memory({ initial: 1 });
        let ctrl;
        const rs = new ReadableStream({ type: 'bytes', start(c) { ctrl = c; } });
        const pending = settled(rs.getReader({ mode: 'byob' }).read(new Uint8Array(memory.buffer, 0, 8)));
        await null;
        const request = ctrl.byobRequest;
        memory.grow(1); // detaches the buffer the read was given
        let respond;
        try { request.respond(1); respond = 'no error'; } catch (e) { respond = e.name; }
        let enqueue;
        try { ctrl.enqueue(new Uint8Array([1])); enqueue = 'no error'; } catch (e) { enqueue = e.name; }
        ctrl.error('done');
        return [respond, enqueue, (await pending)[0]];
      },
    }) };
});
is_deeply $got->{releasedMidRead}, ['rejected', 'kept'], 'a read pending when its reader is released rejects; the next chunk goes to the next reader';
is_deeply $got->{releaseInsidePull}, ['rejected', 'late'], 'a pull() that releases the reader: the pending read rejects, the chunk waits for the next reader';
is_deeply $got->{byobReleasedMidRead}, ['rejected', [1, 2]], 'a released BYOB read does not take the bytes that come after';
is_deeply $got->{respondAfterRelease}, [9], 'a byobRequest answered after its reader left gives its bytes to the next reader';
is_deeply $got->{ownKeys}, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 'no stream object has an own property holding its state';
is_deeply $got->{brandChecks}, [('TypeError') x 6], 'methods and getters called on the wrong object throw a TypeError';
like $got->{promiseRejectsOnBadThis}[0][1], qr/^TypeError/, 'cancel() on the wrong object rejects with a TypeError';
like $got->{promiseRejectsOnBadThis}[1][1], qr/^TypeError/, 'abort() on the wrong object rejects with a TypeError';
is_deeply $got->{abortListenerThrows}, [['rejected', 'source broke'], ['listener']], 'an abort listener that throws does not stop a pipe from aborting its destination';
is_deeply $got->{subclass}, [$true, 'sub'], 'a subclass of ReadableStream works';
SKIP: {
    skip 'no WebAssembly.Memory', 1 if ($got->{detachedView} // '') eq 'skipped';
    is_deeply $got->{detachedView}, ['TypeError', 'TypeError', 'rejected'], 'a BYOB view whose buffer is detached meanwhile is refused with a TypeError, not a crash';
}

# ---- runaway and memory ----

$t->put_script('api', 'good', q{ export default { fetch: () => new Response('good') }; });

$t->put_script('api', 'forever', q{
    export default { async fetch() {
      const rs = new ReadableStream({ pull(c) { for (;;) c.enqueue(1); } });
      await rs.getReader().read();
      return new Response('never');
    } };
});
my $start = time;
my $r = $t->request('GET', '/t/forever');
isnt $r->{status}, 200, 'a pull() that enqueues forever is stopped by the CPU limit';
cmp_ok time - $start, '<', 10, 'and it does not hang';
is $t->request('GET', '/t/good')->{content}, 'good', 'the worker still answers another script';

$t->put_script('api', 'pullforever', q{
    export default { async fetch() {
      const rs = new ReadableStream({ pull(c) { c.enqueue(1); } }, { highWaterMark: Infinity });
      await new Promise((r) => setTimeout(r, 1000));
      return new Response('never');
    } };
});
$r = $t->request('GET', '/t/pullforever');
isnt $r->{status}, 200, 'a pull() run again and again with an infinite highWaterMark is stopped by a limit';
is $t->request('GET', '/t/good')->{content}, 'good', 'the worker still answers another script after it';

$t->put_script('api', 'unreadtee', q{
    export default { async fetch() {
      const rs = new ReadableStream({ pull(c) { c.enqueue(new Uint8Array(1 << 20)); } });
      const [a] = rs.tee();
      const reader = a.getReader();
      for (let i = 0; i < 1000; i++) await reader.read();
      return new Response('all read');
    } };
});
$r = $t->request('GET', '/t/unreadtee');
isnt $r->{status}, 200, 'a tee whose other branch is never read is bounded by the memory limit';
is $t->request('GET', '/t/good')->{content}, 'good', 'the worker still answers another script after the memory limit';

$got = run_checks('abort-iterator', q{
    export default { fetch: () => results({
      pipeAbortedUnseen: async () => {
        let seen = 0;
        const original = Array.prototype[Symbol.iterator];
        const ac = new AbortController();
        const rs = new ReadableStream({ pull(c) { c.enqueue(new Uint8Array(1)); } });
        const ws = new WritableStream({ write() { return new Promise((r) => setTimeout(r, 5)); } });
        const piping = rs.pipeTo(ws, { signal: ac.signal }).catch((e) => e.name);
        Array.prototype[Symbol.iterator] = function () { seen++; return original.call(this); };
        try {
          ac.abort();
          return [await piping, seen];
        } finally {
          Array.prototype[Symbol.iterator] = original;
        }
      },
    }) };
});
is_deeply $got->{pipeAbortedUnseen}, ['AbortError', 0],
    "aborting a pipe runs its abort algorithm without the tenant's Array.prototype[Symbol.iterator]";

$got = run_checks('decoder-tampered', q{
    export default { fetch: () => results({
      decodesUnseen: async () => {
        const TA = Object.getPrototypeOf(Uint8Array.prototype);
        const saved = {
          set: TA.set, subarray: TA.subarray, slice: TA.slice,
          length: Object.getOwnPropertyDescriptor(TA, 'length'),
          includes: String.prototype.includes, apply: Function.prototype.apply,
        };
        let seen = 0;
        const bytes = new TextEncoder().encode('h\u00e9\u20ac\u{1F600}!');
        const pieces = [bytes.slice(0, 2), bytes.slice(2, 5), bytes.slice(5, 8), bytes.slice(8)];
        TA.set = function (...a) { seen++; return saved.set.apply(this, a); };
        TA.subarray = function (...a) { seen++; return saved.subarray.apply(this, a); };
        Object.defineProperty(TA, 'length', { get() { seen++; return saved.length.get.call(this); }, configurable: true });
        String.prototype.includes = function () { seen++; return false; };
        try {
          const decoder = new TextDecoder('utf-8', { fatal: true });
          let text = '';
          for (const p of pieces) text += decoder.decode(p, { stream: true });
          text += decoder.decode();
          return [text, seen];
        } finally {
          TA.set = saved.set;
          TA.subarray = saved.subarray;
          Object.defineProperty(TA, 'length', saved.length);
          String.prototype.includes = saved.includes;
        }
      },
    }) };
});
is_deeply $got->{decodesUnseen}, ["h\x{e9}\x{20ac}\x{1F600}!", 0],
    "TextDecoder (and so TextDecoderStream) decodes without the tenant's %TypedArray%.prototype or String.prototype methods";

done_testing;
