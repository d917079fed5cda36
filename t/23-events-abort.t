#!/usr/bin/perl
# SPEC 5 (issue 4): Event, CustomEvent, EventTarget, AbortController and
# AbortSignal as the WHATWG DOM standard defines them and Cloudflare Workers
# exposes them. There is no DOM tree: every dispatch is at the target.
# Deliberately as workerd, not the standard: an exception thrown by a
# listener stops the dispatch and comes out of dispatchEvent().
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP qw(decode_json);

my $t = Dispatch::Test->new(
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch api $script; } },
);

sub run_checks {
    my ($name, $code, %req) = @_;
    return $t->run_checks('api', $name, $code, %req);
}
my ($T, $F) = (JSON::PP::true, JSON::PP::false);

# ---- Event and CustomEvent ----

my $got = run_checks('event', q{
    export default { fetch: () => results({
      defaults: () => {
        const e = new Event('ping');
        return [e.type, e.bubbles, e.cancelable, e.composed, e.defaultPrevented, e.isTrusted, e.eventPhase,
          e.target, e.currentTarget, typeof e.timeStamp, e.returnValue];
      },
      noType: () => new Event(),
      init: () => { const e = new Event('x', { bubbles: true, cancelable: true, composed: true }); return [e.bubbles, e.cancelable, e.composed]; },
      preventDefault: () => { const e = new Event('x', { cancelable: true }); e.preventDefault(); return [e.defaultPrevented, e.returnValue]; },
      notCancelable: () => { const e = new Event('x'); e.preventDefault(); return e.defaultPrevented; },
      phases: () => [Event.NONE, Event.CAPTURING_PHASE, Event.AT_TARGET, Event.BUBBLING_PHASE, new Event('x').AT_TARGET],
      custom: () => { const e = new CustomEvent('c', { detail: { n: 1 } }); return [e.type, e.detail, e instanceof Event]; },
      customNoDetail: () => new CustomEvent('c').detail,
      tag: () => [Object.prototype.toString.call(new Event('x')), Object.prototype.toString.call(new EventTarget())],
    }) };
});
is_deeply $got->{defaults}, ['ping', $F, $F, $F, $F, $F, 0, undef, undef, 'number', $T], 'new Event(type) defaults';
like $got->{noType}, qr/^threw TypeError/, 'an Event needs a type';
is_deeply $got->{init}, [$T, $T, $T], 'EventInit flags';
is_deeply $got->{preventDefault}, [$T, $F], 'preventDefault() on a cancelable event';
is $got->{notCancelable}, $F, 'preventDefault() does nothing on an event that is not cancelable';
is_deeply $got->{phases}, [0, 1, 2, 3, 2], 'the phase constants';
is_deeply $got->{custom}, ['c', { n => 1 }, $T], 'CustomEvent carries detail';
is $got->{customNoDetail}, undef, 'CustomEvent detail defaults to null';
is_deeply $got->{tag}, ['[object Event]', '[object EventTarget]'], 'Object.prototype.toString names them';

# ---- EventTarget ----

$got = run_checks('target', q{
    export default { fetch: () => results({
      order: () => {
        const t = new EventTarget(); const seen = [];
        t.addEventListener('x', () => seen.push(1));
        t.addEventListener('x', () => seen.push(2));
        t.addEventListener('y', () => seen.push('y'));
        t.dispatchEvent(new Event('x'));
        return seen;
      },
      duringDispatch: () => {
        const t = new EventTarget(); let seen;
        t.addEventListener('x', function (e) { seen = [e.target === t, e.currentTarget === t, this === t, e.eventPhase]; });
        const e = new Event('x');
        t.dispatchEvent(e);
        return [...seen, e.target === t, e.currentTarget, e.eventPhase];
      },
      duplicate: () => {
        const t = new EventTarget(); let n = 0; const f = () => n++;
        t.addEventListener('x', f); t.addEventListener('x', f); t.addEventListener('x', f, { capture: true });
        t.dispatchEvent(new Event('x'));
        return n;
      },
      remove: () => {
        const t = new EventTarget(); let n = 0; const f = () => n++;
        t.addEventListener('x', f); t.addEventListener('x', f, true);
        t.removeEventListener('x', f);
        t.dispatchEvent(new Event('x'));
        t.removeEventListener('x', f, { capture: true });
        t.dispatchEvent(new Event('x'));
        return n;
      },
      once: () => {
        const t = new EventTarget(); let n = 0;
        t.addEventListener('x', () => n++, { once: true });
        t.dispatchEvent(new Event('x')); t.dispatchEvent(new Event('x'));
        return n;
      },
      handleEvent: () => {
        const t = new EventTarget(); const listener = { seen: null, handleEvent(e) { this.seen = [e.type, this === listener]; } };
        t.addEventListener('x', listener);
        t.dispatchEvent(new Event('x'));
        return listener.seen;
      },
      nullListener: () => { const t = new EventTarget(); t.addEventListener('x', null); return t.dispatchEvent(new Event('x')); },
      signalRemoves: () => {
        const t = new EventTarget(); const c = new AbortController(); let n = 0;
        t.addEventListener('x', () => n++, { signal: c.signal });
        t.dispatchEvent(new Event('x')); c.abort(); t.dispatchEvent(new Event('x'));
        return n;
      },
      abortedSignal: () => {
        const t = new EventTarget(); let n = 0;
        t.addEventListener('x', () => n++, { signal: AbortSignal.abort() });
        t.dispatchEvent(new Event('x'));
        return n;
      },
      badSignal: () => new EventTarget().addEventListener('x', () => {}, { signal: {} }),
      canceled: () => {
        const t = new EventTarget();
        t.addEventListener('x', (e) => e.preventDefault());
        return [t.dispatchEvent(new Event('x', { cancelable: true })), t.dispatchEvent(new Event('x'))];
      },
      passive: () => {
        const t = new EventTarget(); const e = new Event('x', { cancelable: true });
        t.addEventListener('x', (ev) => ev.preventDefault(), { passive: true });
        return [t.dispatchEvent(e), e.defaultPrevented];
      },
      stopImmediate: () => {
        const t = new EventTarget(); const seen = [];
        t.addEventListener('x', (e) => { seen.push(1); e.stopImmediatePropagation(); });
        t.addEventListener('x', () => seen.push(2));
        t.dispatchEvent(new Event('x'));
        return seen;
      },
      addedDuring: () => {
        const t = new EventTarget(); const seen = [];
        t.addEventListener('x', () => { seen.push(1); t.addEventListener('x', () => seen.push('late')); });
        t.dispatchEvent(new Event('x'));
        return seen;
      },
      removedDuring: () => {
        const t = new EventTarget(); const seen = []; const second = () => seen.push(2);
        t.addEventListener('x', () => { seen.push(1); t.removeEventListener('x', second); });
        t.addEventListener('x', second);
        t.dispatchEvent(new Event('x'));
        return seen;
      },
      redispatch: () => {
        const t = new EventTarget(); const e = new Event('x'); let inner;
        t.addEventListener('x', () => { try { t.dispatchEvent(e); } catch (err) { inner = err.name; } });
        t.dispatchEvent(e);
        return [inner, t.dispatchEvent(e)];
      },
      notAnEvent: () => new EventTarget().dispatchEvent({ type: 'x' }),
      listenerThrows: () => {
        const t = new EventTarget(); const seen = [];
        t.addEventListener('x', () => { throw new RangeError('from listener'); });
        t.addEventListener('x', () => seen.push('second'));
        try { t.dispatchEvent(new Event('x')); } catch (e) { seen.push(`${e.name}: ${e.message}`); }
        return seen;
      },
      subclass: () => {
        class Emitter extends EventTarget { fire(n) { this.dispatchEvent(new CustomEvent('n', { detail: n })); } }
        const em = new Emitter(); let got;
        em.addEventListener('n', (e) => { got = e.detail; });
        em.fire(7);
        return [got, em instanceof EventTarget];
      },
    }) };
});
is_deeply $got->{order}, [1, 2], 'listeners of the type run in the order added';
is_deeply $got->{duringDispatch}, [$T, $T, $T, 2, $T, undef, 0],
    'during dispatch target, currentTarget, this and AT_TARGET are set; afterwards currentTarget is null';
is $got->{duplicate}, 2, 'the same listener added twice runs once; with capture it is another listener';
is $got->{remove}, 1, 'removeEventListener() matches on listener and capture';
is $got->{once}, 1, 'once: the listener runs once';
is_deeply $got->{handleEvent}, ['x', $T], 'an object listener\'s handleEvent() runs with the object as this';
is $got->{nullListener}, $T, 'a null listener is ignored';
is $got->{signalRemoves}, 1, 'signal: aborting removes the listener';
is $got->{abortedSignal}, 0, 'signal: an aborted signal adds nothing';
like $got->{badSignal}, qr/^threw TypeError/, 'signal: must be an AbortSignal';
is_deeply $got->{canceled}, [$F, $T], 'dispatchEvent() is false when a listener canceled the event';
is_deeply $got->{passive}, [$T, $F], 'passive: preventDefault() is ignored';
is_deeply $got->{stopImmediate}, [1], 'stopImmediatePropagation() stops the remaining listeners';
is_deeply $got->{addedDuring}, [1], 'a listener added during dispatch waits for the next one';
is_deeply $got->{removedDuring}, [1], 'a listener removed during dispatch does not run';
is_deeply $got->{redispatch}, ['InvalidStateError', $T], 'dispatching an event being dispatched is an InvalidStateError';
like $got->{notAnEvent}, qr/^threw TypeError/, 'dispatchEvent() needs an Event';
is_deeply $got->{listenerThrows}, ['RangeError: from listener'],
    'a listener\'s exception comes out of dispatchEvent() and stops the dispatch (as workerd)';
is_deeply $got->{subclass}, [7, $T], 'classes can extend EventTarget';

# ---- AbortController and AbortSignal ----

$got = run_checks('abort', q{
    export default { fetch: () => results({
      fresh: () => { const s = new AbortController().signal; return [s.aborted, s.reason, s instanceof EventTarget, s.onabort]; },
      abortDefault: () => {
        const c = new AbortController(); c.abort();
        const r = c.signal.reason;
        return [c.signal.aborted, r instanceof DOMException, r.name, r.code];
      },
      abortReason: () => { const c = new AbortController(); c.abort({ why: 'custom' }); return c.signal.reason; },
      eventsOnce: () => {
        const c = new AbortController(); const seen = [];
        c.signal.addEventListener('abort', (e) => seen.push(['listener', e.type, e.target === c.signal]));
        c.signal.onabort = (e) => seen.push(['onabort', e.type]);
        c.abort('first'); c.abort('second');
        return [seen, c.signal.reason];
      },
      onabortReplaced: () => {
        const c = new AbortController(); const seen = [];
        c.signal.onabort = () => seen.push('old');
        c.signal.onabort = () => seen.push('new');
        c.abort();
        return seen;
      },
      throwIfAborted: () => { const c = new AbortController(); c.signal.throwIfAborted(); c.abort(new RangeError('stop')); c.signal.throwIfAborted(); },
      staticAbort: () => { const s = AbortSignal.abort(); return [s.aborted, s.reason.name]; },
      staticAbortReason: () => AbortSignal.abort('because').reason,
      illegal: () => new AbortSignal(),
      anyLater: () => {
        const a = new AbortController(); const b = new AbortController();
        const s = AbortSignal.any([a.signal, b.signal]); let fired = 0;
        s.addEventListener('abort', () => fired++);
        const before = s.aborted;
        b.abort('b went'); a.abort('a went');
        return [before, s.aborted, s.reason, fired];
      },
      anyAlready: () => AbortSignal.any([new AbortController().signal, AbortSignal.abort('early')]).reason,
      anyBad: () => AbortSignal.any([{}]),
      timeoutNow: () => { const s = AbortSignal.timeout(10000); return s.aborted; },
      timeoutNegative: () => AbortSignal.timeout(-1),
      timeout: async () => {
        const s = AbortSignal.timeout(20);
        const reason = await new Promise((resolve) => s.addEventListener('abort', () => resolve(s.reason)));
        return [s.aborted, reason instanceof DOMException, reason.name, reason.code];
      },
      tags: () => [Object.prototype.toString.call(new AbortController()), Object.prototype.toString.call(AbortSignal.abort())],
    }) };
});
is_deeply $got->{fresh}, [$F, undef, $T, undef], 'a new signal is not aborted, has no reason, is an EventTarget';
is_deeply $got->{abortDefault}, [$T, $T, 'AbortError', 20], 'abort() without a reason: an AbortError DOMException';
is_deeply $got->{abortReason}, { why => 'custom' }, 'abort(reason) keeps the reason';
is_deeply $got->{eventsOnce}, [[['listener', 'abort', $T], ['onabort', 'abort']], 'first'],
    'abort fires one "abort" event to listeners and onabort; a second abort() changes nothing';
is_deeply $got->{onabortReplaced}, ['new'], 'setting onabort again replaces the handler';
like $got->{throwIfAborted}, qr/^threw RangeError: stop/, 'throwIfAborted() throws the reason once aborted';
is_deeply $got->{staticAbort}, [$T, 'AbortError'], 'AbortSignal.abort()';
is $got->{staticAbortReason}, 'because', 'AbortSignal.abort(reason)';
like $got->{illegal}, qr/^threw TypeError/, 'new AbortSignal() is a TypeError';
is_deeply $got->{anyLater}, [$F, $T, 'b went', 1], 'AbortSignal.any() follows the first of its signals to abort';
is $got->{anyAlready}, 'early', 'AbortSignal.any() of an aborted signal is aborted at once';
like $got->{anyBad}, qr/^threw TypeError/, 'AbortSignal.any() needs AbortSignals';
is $got->{timeoutNow}, $F, 'AbortSignal.timeout() is not aborted at once';
like $got->{timeoutNegative}, qr/^threw TypeError/, 'AbortSignal.timeout() needs a non-negative delay';
is_deeply $got->{timeout}, [$T, $T, 'TimeoutError', 23], 'AbortSignal.timeout() aborts later with a TimeoutError';
is_deeply $got->{tags}, ['[object AbortController]', '[object AbortSignal]'], 'Object.prototype.toString names them';

# ---- a handler that gives up on slow work with AbortSignal.timeout ----

$t->put_script('api', 'deadline', q{
    function work(ms, signal) {
      return new Promise((resolve, reject) => {
        signal.throwIfAborted();
        const timer = setTimeout(() => resolve(`done in ${ms}ms`), ms);
        signal.addEventListener('abort', () => { clearTimeout(timer); reject(signal.reason); }, { once: true });
      });
    }
    export default {
      async fetch(request) {
        const ms = Number(new URL(request.url).searchParams.get('ms'));
        try {
          return new Response(await work(ms, AbortSignal.timeout(100)));
        } catch (e) {
          if (e.name === 'TimeoutError') return new Response('gave up\n', { status: 504 });
          throw e;
        }
      },
    };
});
my $r = $t->get('/t/deadline?ms=5');
is $r->{status}, 200, 'deadline: work within the timeout answers';
is $r->{content}, 'done in 5ms', 'deadline: with its result';
$r = $t->get('/t/deadline?ms=3000');
is $r->{status}, 504, 'deadline: slower work is abandoned when the signal times out';
is $r->{content}, "gave up\n", 'deadline: the handler saw a TimeoutError';

is scalar($t->error_log_alerts), 0, 'no alerts in the error log' or diag join "\n", $t->error_log_alerts;
done_testing;
