// setTimeout, setInterval and their clear* functions, on the engine's
// timers (nginx timers in a worker). Callbacks only: a string is not
// evaluated, as on Workers. A timer belongs to the request that set it and
// ends with it.

const MAX_DELAY = 2 ** 31 - 1;

// The callback runs in the AsyncLocalStorage frame (node:async_hooks) that
// was current when it was set: V8 carries it into promise reactions only.
function timerCallback(callback, args, what) {
  if (typeof callback !== 'function') {
    throw new TypeError(`${what}: the callback must be a function (strings are not evaluated)`);
  }
  const frame = native.getContinuation();
  if (frame === undefined) return () => ReflectApply(callback, globalThis, args);
  return () => {
    native.setContinuation(frame);
    return ReflectApply(callback, globalThis, args);
  };
}

function timerDelay(ms, minimum) {
  const n = Number(ms);
  return NumberIsFinite(n) ? MathMin(MathMax(MathFloor(n), minimum), MAX_DELAY) : minimum;
}

function clearTimer(id) {
  if (typeof id === 'number') native.clearTimer(id);
}

defineGlobal('setTimeout', function setTimeout(callback, ms = 0, ...args) {
  return native.setTimer(timerCallback(callback, args, 'setTimeout'), timerDelay(ms, 0), false);
});
defineGlobal('setInterval', function setInterval(callback, ms = 0, ...args) {
  // At least 1 ms apart: an interval of 0 would spin the event loop.
  return native.setTimer(timerCallback(callback, args, 'setInterval'), timerDelay(ms, 1), true);
});
defineGlobal('clearTimeout', function clearTimeout(id) {
  clearTimer(id);
});
defineGlobal('clearInterval', function clearInterval(id) {
  clearTimer(id);
});
