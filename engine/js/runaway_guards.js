// Guards on builtins a tenant could make run past every limit. V8 runs
// some builtins in C++ loops that never look at a termination request
// (DESIGN.md, "Facts learned by attacking it"): neither the CPU watchdog
// nor the memory budget can stop them once they started, only the last
// resort (the worker exits). Each guard checks its input first, cheaply,
// and throws a RangeError the script can catch. They replace the tenant's
// globals only; the built-ins keep the captured originals. Every entry says
// why it is here.

// An element takes at least 8 bytes however the array stores it.
const GUARD_BYTES_PER_ELEMENT = 8;
const GUARD_MAX_ELEMENTS = native.memoryLimit / GUARD_BYTES_PER_ELEMENT;
const GUARD_ITERATOR = Symbol.iterator;

function guardToIntegerOrInfinity(value) {
  const number = +value;
  return number !== number ? 0 : MathTrunc(number);
}

function guardRefuse(what, count) {
  throw new RangeError(`${what}: ${count} elements cannot fit this script's memory limit`);
}

function guardMethod(target, name, guarded) {
  ObjectDefineProperty(target, name, { value: guarded, writable: true, enumerable: false, configurable: true });
}

// Array.prototype.fill on an array in dictionary mode (new Array(6e7) is
// one) inserts element by element in C++, allocating without end.
const guardedFill = Array.prototype.fill;
guardMethod(Array.prototype, 'fill', {
  fill(value, start = undefined, end = undefined) {
    if (this !== undefined && this !== null) {
      const length = guardToIntegerOrInfinity(this.length);
      if (length > GUARD_MAX_ELEMENTS) {
        const relative = (n, fallback) => {
          const k = n === undefined ? fallback : guardToIntegerOrInfinity(n);
          return k < 0 ? MathMax(length + k, 0) : MathMin(k, length);
        };
        const count = relative(end, length) - relative(start, 0);
        if (count > GUARD_MAX_ELEMENTS) guardRefuse('Array.prototype.fill', count);
      }
    }
    return ReflectApply(guardedFill, this, arguments);
  },
}.fill);

// Array.from of an array-like (no iterator) copies `length` elements in
// C++ before any JavaScript runs again.
const guardedFrom = Array.from;
guardMethod(Array, 'from', {
  from(items, mapFn = undefined, thisArg = undefined) {
    if (items !== undefined && items !== null && items[GUARD_ITERATOR] == null) {
      const length = guardToIntegerOrInfinity(items.length);
      if (length > GUARD_MAX_ELEMENTS) guardRefuse('Array.from', length);
    }
    return ReflectApply(guardedFrom, this, arguments);
  },
}.from);
