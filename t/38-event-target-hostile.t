#!/usr/bin/perl
# EventTarget and AbortSignal against a tenant that replaced the
# intrinsics they might use (Map and Array methods, the array iterator,
# Reflect.apply, Event's getters, dispatchEvent itself): listeners are
# still added, called, removed and fired on abort, and none of the
# tenant's replacements is called or handed the built-ins' lists.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use JSON::PP ();

my ($T, $F) = (JSON::PP::true, JSON::PP::false);

my $t = Dispatch::Test->new(
    server => q{ location ~ ^/t/(?<script>[^/]*) { dispatch api $script; } },
);
$t->start;

my $got = $t->run_checks('api', 'events-hostile', q{
    // The test's own tools, taken before anything is replaced.
    const apply = Reflect.apply;
    const define = Object.defineProperty;
    const describe = Object.getOwnPropertyDescriptor;
    const { addEventListener: add, removeEventListener: remove, dispatchEvent: dispatch } = EventTarget.prototype;
    const seen = [];
    const note = (name) => { seen[seen.length] = String(name); };
    const spy = (object, name) => {
      const original = object[name];
      object[name] = function (...args) { note(name); return apply(original, this, args); };
      return () => { object[name] = original; };
    };
    const spyGetter = (object, name) => {
      const descriptor = describe(object, name);
      define(object, name, { get() { note(name); return apply(descriptor.get, this, []); }, configurable: true });
      return () => define(object, name, descriptor);
    };
    export default { fetch: () => {
      const calls = [];
      const called = (name) => () => { calls[calls.length] = name; };
      const target = new EventTarget();
      const controller = new AbortController();
      const removed = called('removed');
      const restore = [
        spy(Map.prototype, 'get'), spy(Map.prototype, 'set'), spy(Map.prototype, 'delete'),
        spy(Array.prototype, 'push'), spy(Array.prototype, 'some'), spy(Array.prototype, 'slice'),
        spy(Array.prototype, 'find'), spy(Array.prototype, 'indexOf'), spy(Array.prototype, 'splice'),
        spy(Array.prototype, Symbol.iterator), spy(EventTarget.prototype, 'dispatchEvent'),
        spy(EventTarget.prototype, 'addEventListener'), spy(Event.prototype, 'preventDefault'), spy(Reflect, 'apply'),
        spyGetter(Event.prototype, 'type'), spyGetter(Event.prototype, 'defaultPrevented'),
        spyGetter(AbortSignal.prototype, 'aborted'),
      ];
      let notCanceled;
      try {
        apply(add, target, ['x', called('once'), { once: true }]);
        apply(dispatch, target, [new Event('x')]);
        apply(dispatch, target, [new Event('x')]);
        apply(add, target, ['y', removed]);
        apply(remove, target, ['y', removed]);
        apply(dispatch, target, [new Event('y')]);
        apply(add, controller.signal, ['abort', called('abort listener'), { signal: new AbortController().signal }]);
        controller.signal.onabort = called('onabort');
        controller.abort();
        apply(add, target, ['z', (e) => { e.returnValue = false; }]);
        notCanceled = apply(dispatch, target, [new Event('z', { cancelable: true })]);
      } finally {
        for (let i = 0; i < restore.length; i++) restore[i]();
      }
      return results({ calls: () => calls, seen: () => seen, notCanceled: () => notCanceled });
    } };
});
is_deeply $got->{calls}, ['once', 'abort listener', 'onabort'],
    'listeners are called (once, once only), removed, and fired on abort with the intrinsics replaced';
is $got->{notCanceled}, $F, 'returnValue = false cancels, and dispatchEvent says so';
is_deeply $got->{seen}, [], 'no intrinsic the tenant replaced was called by EventTarget or AbortSignal';

done_testing;
