#!/usr/bin/perl
# performance and scheduler (issue 15, SPEC 5): performance.now() and
# performance.timeOrigin as Workers has them (time origin 0, now() frozen
# while a script computes, moving on I/O), scheduler.wait(ms, { signal }),
# and a tenant that replaces the intrinsics they might use.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP ();

my ($T, $F) = (JSON::PP::true, JSON::PP::false);

my $t = Dispatch::Test->new(
    http   => q{ dispatch_cpu_limit 500ms; },
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch api $script; } },
);
$t->start;

sub run_checks { my ($name, $code) = @_; return $t->run_checks('api', $name, $code) }

# ---- performance ----

my $got = run_checks('performance', q{
    const atTopLevel = performance.now();
    export default { fetch: () => results({
      types: () => [typeof Performance, typeof performance, performance instanceof Performance],
      tag: () => Object.prototype.toString.call(performance),
      notConstructible: () => new Performance(),
      timeOrigin: () => performance.timeOrigin,
      nowIsDateNow: () => performance.now() === Date.now(),
      topLevel: () => typeof atTopLevel === 'number' && atTopLevel > 1.6e12,
      integral: () => Number.isInteger(performance.now()),
      // A busy loop of some 30 ms of CPU: the clock does not move.
      frozenWhileComputing: () => {
        const start = performance.now();
        let x = 0;
        for (let i = 0; i < 3e7; i++) x += i % 7;
        return [performance.now() - start, x > 0];
      },
      movesAcrossATimer: async () => {
        const start = performance.now();
        await new Promise((resolve) => setTimeout(resolve, 30));
        return performance.now() - start;
      },
      toJSON: () => JSON.stringify(performance),
      ownDateNow: () => {
        const saved = Date.now;
        Date.now = () => 42;
        try { return performance.now() !== 42; } finally { Date.now = saved; }
      },
    }) };
});
is_deeply $got->{types}, ['function', 'object', $T], 'performance is an instance of Performance';
is $got->{tag}, '[object Performance]', 'its toStringTag is Performance';
like $got->{notConstructible}, qr/^threw TypeError: Illegal constructor/, 'Performance cannot be constructed by a script';
is $got->{timeOrigin}, 0, 'performance.timeOrigin is 0, as on Workers';
is $got->{nowIsDateNow}, $T, 'performance.now() is Date.now(), as on Workers';
is $got->{topLevel}, $T, 'performance.now() works at the top level';
is $got->{integral}, $T, 'performance.now() has no resolution finer than a millisecond';
is_deeply $got->{frozenWhileComputing}, [0, $T], 'performance.now() does not move while a script computes';
cmp_ok $got->{movesAcrossATimer}, '>=', 25, 'performance.now() moves across an await of a timer';
is $got->{toJSON}, '{"timeOrigin":0}', 'performance.toJSON()';
is $got->{ownDateNow}, $T, 'a tenant\'s Date.now does not change performance.now()';

# ---- scheduler.wait ----

$got = run_checks('scheduler', q{
    let topLevel;
    try { topLevel = scheduler.wait(1); topLevel.catch(() => {}); } catch (e) { topLevel = e; }
    export default { fetch: () => results({
      types: () => [typeof Scheduler, typeof scheduler, scheduler instanceof Scheduler, Object.prototype.toString.call(scheduler)],
      returnsPromise: () => { const p = scheduler.wait(0); return p instanceof Promise; },
      resolvesUndefined: async () => [await scheduler.wait(1)],
      order: async () => {
        const order = [];
        const waits = [scheduler.wait(30).then(() => order.push(30)), scheduler.wait(5).then(() => order.push(5)),
                       scheduler.wait(15).then(() => order.push(15))];
        await Promise.all(waits);
        return order;
      },
      waitsLongEnough: async () => {
        const start = Date.now();
        await scheduler.wait(40);
        return Date.now() - start >= 35;
      },
      abort: async () => {
        const controller = new AbortController();
        const start = Date.now();
        const waiting = scheduler.wait(5000, { signal: controller.signal });
        setTimeout(() => controller.abort(new Error('stopped 7741')), 10);
        try { await waiting; return 'resolved'; } catch (e) { return [e.message, Date.now() - start < 2000]; }
      },
      abortedAlready: async () => {
        try { await scheduler.wait(10, { signal: AbortSignal.abort() }); return 'resolved'; } catch (e) { return e.name; }
      },
      abortAfterItResolved: async () => {
        const controller = new AbortController();
        await scheduler.wait(1, { signal: controller.signal });
        controller.abort();
        return 'fine';
      },
      badSignal: async () => { try { await scheduler.wait(1, { signal: {} }); return 'resolved'; } catch (e) { return `${e.name}: ${e.message}`; } },
      badOptions: async () => { try { await scheduler.wait(1, 5); return 'resolved'; } catch (e) { return e.name; } },
      noArgument: () => scheduler.wait(),
      notANumber: async () => { await scheduler.wait('soon'); return 'resolved at once'; },
      atTopLevel: async () => { try { await topLevel; return 'resolved'; } catch (e) { return e.message; } },
    }) };
});
is_deeply $got->{types}, ['function', 'object', $T, '[object Scheduler]'], 'scheduler is an instance of Scheduler';
is $got->{returnsPromise}, $T, 'scheduler.wait() returns a promise';
is_deeply $got->{resolvesUndefined}, [undef], 'it resolves to undefined';
is_deeply $got->{order}, [5, 15, 30], 'waits resolve in the order of their delays';
is $got->{waitsLongEnough}, $T, 'scheduler.wait(40) takes 40 ms';
is_deeply $got->{abort}, ['stopped 7741', $T], 'an abort rejects the wait with the signal\'s reason, at once';
is $got->{abortedAlready}, 'AbortError', 'a signal aborted already rejects it at once';
is $got->{abortAfterItResolved}, 'fine', 'an abort after it resolved does nothing';
like $got->{badSignal}, qr/^TypeError: .*signal must be an AbortSignal/, 'options.signal must be an AbortSignal';
is $got->{badOptions}, 'TypeError', 'options must be an object';
like $got->{noArgument}, qr/^threw TypeError/, 'the delay is required';
is $got->{notANumber}, 'resolved at once', 'a delay that is not a number waits 0 ms, as setTimeout';
like $got->{atTopLevel}, qr/only be set while a request is being handled/, 'at the top level it rejects: timers belong to requests';

# ---- a hostile tenant ----

$got = run_checks('scheduler-hostile', q{
    const RealPromise = Promise;
    const realThen = Promise.prototype.then;
    let seen = [];
    export default { fetch: async () => {
      const controller = new AbortController();
      globalThis.setTimeout = () => { seen.push('setTimeout'); };
      globalThis.Promise = function FakePromise() { seen.push('Promise'); };
      Object.defineProperty(AbortSignal.prototype, 'aborted', { get() { seen.push('aborted'); return true; } });
      Object.defineProperty(AbortSignal.prototype, 'reason', { get() { seen.push('reason'); return 'fake'; } });
      Date.now = () => { seen.push('Date.now'); return 1; };
      const waited = scheduler.wait(5, { signal: new AbortController().signal });
      const stamp = performance.now();
      const file = new File(['x'], 'f.txt');
      const isReal = waited instanceof RealPromise;
      const cancelled = scheduler.wait(5000, { signal: controller.signal });
      Promise.prototype.then = function () { seen.push('then'); return realThen.apply(this, arguments); };
      controller.abort('why 1209');
      await waited;
      let reason;
      try { await cancelled; } catch (e) { reason = e; }
      Promise.prototype.then = realThen;
      globalThis.Promise = RealPromise;
      return results({ isReal: () => isReal, reason: () => reason, stamp: () => stamp > 1, fileTime: () => file.lastModified > 1, seen: () => seen });
    } };
});
is $got->{isReal}, $T, 'scheduler.wait() makes a real promise when globalThis.Promise was replaced';
is $got->{reason}, 'why 1209', 'it rejects with the real reason when AbortSignal\'s getters were replaced';
is $got->{stamp}, $T, 'performance.now() ignores a replaced Date.now';
is $got->{fileTime}, $T, 'nor does a File\'s lastModified';
is_deeply $got->{seen}, [], 'no built-in calls a function the tenant replaced (an abort event\'s timeStamp included)';

# AbortSignal.timeout() (abort.js) ran on globalThis.setTimeout and
# Number.isFinite as the tenant left them: now on the engine's own.
$got = run_checks('timeout-hostile', q{
    const seen = [];
    export default { fetch: async () => {
      const realSetTimeout = setTimeout;
      globalThis.setTimeout = (callback) => { seen.push('setTimeout'); callback(); };
      Number.isFinite = () => { seen.push('isFinite'); return true; };
      const signal = AbortSignal.timeout(20);
      const abortedAtOnce = signal.aborted;
      globalThis.setTimeout = realSetTimeout;
      await scheduler.wait(60);
      return results({ abortedAtOnce: () => abortedAtOnce, reason: () => signal.reason.name, seen: () => seen });
    } };
});
is $got->{abortedAtOnce}, $F, 'AbortSignal.timeout() does not run a tenant\'s setTimeout';
is $got->{reason}, 'TimeoutError', 'and still aborts with a TimeoutError on time';
is_deeply $got->{seen}, [], 'no function the tenant replaced was called';

# queueMicrotask (navigator.js) on the captured Promise.resolve and then.
$got = run_checks('microtask-hostile', q{
    const seen = [];
    export default { fetch: async () => {
      const realThen = Promise.prototype.then;
      const realResolve = Promise.resolve;
      let ran = false;
      Promise.prototype.then = function () { seen.push('then'); return realThen.apply(this, arguments); };
      Promise.resolve = function () { seen.push('resolve'); return realResolve.apply(this, arguments); };
      queueMicrotask(() => { ran = true; });
      Promise.prototype.then = realThen;
      Promise.resolve = realResolve;
      await scheduler.wait(1);
      return results({ ran: () => ran, seen: () => seen });
    } };
});
is $got->{ran}, $T, 'queueMicrotask() runs its callback when Promise.resolve and then were replaced';
is_deeply $got->{seen}, [], 'without calling them';

done_testing;
