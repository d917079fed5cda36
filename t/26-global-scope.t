#!/usr/bin/perl
# The global scope as Workers has it: globalThis is a
# ServiceWorkerGlobalScope (a WorkerGlobalScope, an EventTarget) with
# addEventListener/dispatchEvent, reportError(), the event interfaces
# (ErrorEvent, MessageEvent, PromiseRejectionEvent, ExtendableEvent,
# FetchEvent), and MessageChannel/MessagePort. Each check is the JavaScript
# next to what it must answer.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;

my $t = Dispatch::Test->new(
    http   => 'dispatch_log_limit 1000;',
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch api $script; } },
);

my $CHECK = <<'JS';
    const check = (value, expected) => {
      const a = JSON.stringify(value, (k, v) => (v === undefined ? '<undefined>' : v));
      const b = JSON.stringify(expected, (k, v) => (v === undefined ? '<undefined>' : v));
      return a === b ? 'ok' : `got ${a}, want ${b}`;
    };
    const errorName = (f) => { try { f(); return 'no exception'; } catch (e) { return e.name; } };
    const tick = () => new Promise((resolve) => setTimeout(resolve, 5));
JS

my $got = $t->run_checks('api', 'scope', $CHECK . <<'JS');
    export default { fetch: () => results({
      response_web_socket_is_null: () => check([new Response('x').webSocket, Response.json({}).webSocket,
        errorName(() => Object.getOwnPropertyDescriptor(Response.prototype, 'webSocket').get.call({}))], [null, null, 'TypeError']),
      global_is_a_service_worker_global_scope: () => check([
        globalThis instanceof ServiceWorkerGlobalScope, self instanceof WorkerGlobalScope, globalThis instanceof EventTarget,
        Object.prototype.toString.call(globalThis), errorName(() => new WorkerGlobalScope()),
        typeof WorkerGlobalScope, Object.keys(globalThis).includes('addEventListener'),
      ], [true, true, true, '[object ServiceWorkerGlobalScope]', 'TypeError', 'function', false]),
      global_event_listeners: () => {
        const seen = [];
        const listener = (e) => seen.push(e.type);
        addEventListener('custom', listener);
        const notCancelled = dispatchEvent(new Event('custom'));
        globalThis.removeEventListener('custom', listener);
        dispatchEvent(new Event('custom'));
        self.addEventListener('once', (e) => seen.push(e.type), { once: true });
        self.dispatchEvent(new CustomEvent('once'));
        self.dispatchEvent(new CustomEvent('once'));
        return check([seen, notCancelled, addEventListener.length, dispatchEvent.length], [['custom', 'once'], true, 2, 1]);
      },
      report_error_fires_an_error_event: () => {
        let got;
        const listener = (e) => { got = [e instanceof ErrorEvent, e.type, e.message, e.error.message, e.cancelable]; e.preventDefault(); };
        addEventListener('error', listener);
        reportError(new RangeError('reported 4471'));
        removeEventListener('error', listener);
        return check([got, errorName(() => reportError())], [[true, 'error', 'RangeError: reported 4471', 'reported 4471', true], 'TypeError']);
      },
      report_error_without_listener_logs: () => {
        reportError(new Error('uncaught report 9182'));
        return 'ok';
      },
      event_interfaces: () => {
        const err = new Error('x');
        const ee = new ErrorEvent('error', { message: 'm', filename: 'f.js', lineno: 3, colno: -1, error: err });
        const me = new MessageEvent('message', { data: { a: 1 }, origin: 'https://o', lastEventId: '7' });
        const p = Promise.resolve();
        const pre = new PromiseRejectionEvent('unhandledrejection', { promise: p, reason: 'why' });
        const xe = new ExtendableEvent('install');
        return check([
          [ee.message, ee.filename, ee.lineno, ee.colno, ee.error === err, ee instanceof Event],
          [me.data, me.origin, me.lastEventId, me.source, me.ports, Object.isFrozen(me.ports)],
          [pre.promise === p, pre.reason],
          [xe instanceof Event, errorName(() => xe.waitUntil(p))],
          errorName(() => new PromiseRejectionEvent('unhandledrejection', {})),
          errorName(() => new MessageEvent()),
          [typeof FetchEvent, errorName(() => new FetchEvent('fetch'))],
          [new ErrorEvent('e').message, new ErrorEvent('e').error, new MessageEvent('m').data],
        ], [
          ['m', 'f.js', 3, 4294967295, true, true],
          [{ a: 1 }, 'https://o', '7', null, [], true],
          [true, 'why'],
          [true, 'InvalidStateError'],
          'TypeError', 'TypeError',
          ['function', 'TypeError'],
          ['', undefined, null],
        ]);
      },
      message_channel_delivers_clones_in_order_later: async () => {
        const { port1, port2 } = new MessageChannel();
        const got = [];
        port2.onmessage = (e) => got.push([e.data, e instanceof MessageEvent, e.target === port2]);
        const sent = { n: 1, nested: [1, 2] };
        port1.postMessage(sent);
        port1.postMessage('second');
        const synchronously = got.length;
        await tick();
        return check([synchronously, got, got[0][0] !== sent], [0, [[{ n: 1, nested: [1, 2] }, true, true], ['second', true, true]], true]);
      },
      message_port_listeners_wait_for_start: async () => {
        const { port1, port2 } = new MessageChannel();
        const got = [];
        port1.addEventListener('message', (e) => got.push(e.data));
        port2.postMessage('a');
        await tick();
        const before = got.length;
        port1.start();
        await tick();
        port2.postMessage('b');
        await tick();
        return check([before, got], [0, ['a', 'b']]);
      },
      message_port_close_stops_delivery: async () => {
        const { port1, port2 } = new MessageChannel();
        const got = [];
        port2.onmessage = (e) => got.push(e.data);
        port1.close();
        port1.postMessage('lost');
        port2.postMessage('lost too');
        await tick();
        return check(got, []);
      },
      message_port_errors: () => check([
        errorName(() => new MessageChannel().port1.postMessage(() => 1)),
        errorName(() => new MessageChannel().port1.postMessage(1, [new ArrayBuffer(1)])),
        errorName(() => new MessageChannel().port1.postMessage(1, { transfer: [] })),
        errorName(() => new MessagePort()),
        errorName(() => MessagePort.prototype.start.call({})),
      ], ['DataCloneError', 'DataCloneError', 'DataCloneError', 'TypeError', 'TypeError']),
      dictionary_getters_on_object_prototype_are_not_read: async () => {
        let reads = 0;
        const names = ['bubbles', 'cancelable', 'composed', 'ports', 'source', 'filename', 'lineno', 'detail', 'status', 'headers'];
        for (const name of names) Object.defineProperty(Object.prototype, name, { get() { reads++; return undefined; }, configurable: true });
        try {
          new Event('x');
          new CustomEvent('y');
          new Response('body');
          const { port1, port2 } = new MessageChannel();
          port2.onmessage = () => {};
          port1.postMessage(1);
          const quiet = (e) => e.preventDefault();
          addEventListener('error', quiet);
          reportError(new Error('quiet'));
          removeEventListener('error', quiet);
          await tick();
        } finally {
          for (const name of names) delete Object.prototype[name];
        }
        return check(reads, 0);
      },
      a_throwing_onmessage_does_not_stop_the_next: async () => {
        const { port1, port2 } = new MessageChannel();
        const got = [];
        port2.onmessage = (e) => { got.push(e.data); if (e.data === 1) throw new Error('onmessage threw 5521'); };
        port1.postMessage(1);
        port1.postMessage(2);
        await tick();
        return check(got, [1, 2]);
      },
    }) };
JS

for my $name (sort keys %$got) {
    is $got->{$name}, 'ok', $name;
}
is scalar(keys %$got), 12, 'every global scope check ran';
like $t->error_log, qr/Uncaught Error: uncaught report 9182/, 'reportError with no listener writes the error to the log as uncaught';
unlike $t->error_log, qr/reported 4471/, 'a listener that cancels the error event keeps it out of the log';
like $t->error_log, qr/Uncaught Error: onmessage threw 5521/, 'an exception from onmessage is reported as uncaught';

# A delivery timer dies with the request that set it; the next request's
# post delivers what was queued before it.
$t->put_script('api', 'channel', <<'JS');
    const { port1, port2 } = new MessageChannel();
    const got = [];
    port2.onmessage = (e) => got.push(e.data);
    export default { async fetch(request) {
      const n = new URL(request.url).searchParams.get('n');
      port1.postMessage(n);
      if (n === 'first') return new Response('posted');
      await new Promise((resolve) => setTimeout(resolve, 5));
      return new Response(got.join(','));
    } };
JS
is $t->get('/t/channel?n=first')->{content}, 'posted', 'a message posted as a request ends';
is $t->get('/t/channel?n=second')->{content}, 'first,second', 'is delivered with the next request\'s message';

# Promises rejected with no handler: an 'unhandledrejection' event at the
# global scope, else a line in the error log, as on Workers.
$t->put_script('api', 'rejections', <<'JS');
    const seen = [];
    addEventListener('unhandledrejection', (e) => {
      seen.push([e instanceof PromiseRejectionEvent, e.reason && e.reason.message, e.promise instanceof Promise]);
      if (e.reason && e.reason.message === 'cancelled 3318') e.preventDefault();
    });
    export default { async fetch() {
      Promise.reject(new Error('nobody handles 6620'));
      Promise.reject(new Error('cancelled 3318'));
      const late = Promise.reject(new Error('handled a microtask later 1207'));
      await null;
      late.catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 1));
      for (let i = 0; i < 300; i++) Promise.reject(i);
      await new Promise((resolve) => setTimeout(resolve, 1));
      return Response.json(seen.slice(0, 2));
    } };
JS
is $t->get('/t/rejections')->{content}, '[[true,"nobody handles 6620",true],[true,"cancelled 3318",true]]',
    'an unhandled rejection fires unhandledrejection at the global scope, once, after the turn\'s microtasks';
like $t->error_log, qr/Uncaught \(in promise\) Error: nobody handles 6620/, 'an unhandled rejection nobody cancels is logged as uncaught';
unlike $t->error_log, qr/cancelled 3318/, 'a listener that cancels it keeps it out of the log';
unlike $t->error_log, qr/handled a microtask later 1207/, 'a rejection handled before the turn ends is not reported';
like $t->error_log, qr/200 more promises were rejected with no handler in this turn/,
    'past 100 in a turn, the rest are counted in one line';
unlike $t->error_log, qr/Uncaught \(in promise\) 100,/, 'and not each logged';

# The service-worker format: 'fetch' listeners answer, other types reach the global target.
$t->put_script('api', 'sw', <<'JS', format => 'service-worker');
    let errors = 0;
    addEventListener('error', (e) => { errors++; e.preventDefault(); });
    addEventListener('fetch', (event) => {
      reportError(new Error('sw report'));
      event.respondWith(new Response(`errors=${errors} ${typeof dispatchEvent} ${self instanceof ServiceWorkerGlobalScope}`));
    });
JS
my $r = $t->get('/t/sw');
is $r->{content}, 'errors=1 function true', 'a service worker listens for error events beside fetch';

done_testing;
