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
const ObjectGetPrototypeOf = Object.getPrototypeOf;
const MathLog2 = Math.log2;
const ReflectGet = Reflect.get;
const GuardObjectKeys = Object.keys;
const GuardProxy = Proxy;

function guardToIntegerOrInfinity(value) {
  const number = +value;
  return number !== number ? 0 : MathTrunc(number);
}

function guardRefuse(what, count) {
  throw new RangeError(`${what}: ${count} elements cannot fit this script's memory limit`);
}

// Each guard's original, for Function.prototype.toString (memory_guards.js).
const GUARD_ORIGINALS = new WeakMap();
const WeakMapPrototypeGet = uncurryThis(WeakMap.prototype.get);
const WeakMapPrototypeSet = uncurryThis(WeakMap.prototype.set);

function guardRemember(guarded, original) {
  WeakMapPrototypeSet(GUARD_ORIGINALS, guarded, original);
}

function guardMethod(target, name, guarded) {
  guardRemember(guarded, target[name]);
  ObjectDefineProperty(target, name, { value: guarded, writable: true, enumerable: false, configurable: true });
}

// How many elements [start, end) covers of length, as slice and fill read
// their arguments.
function guardRangeCount(length, start, end) {
  const relative = (n, fallback) => {
    const k = n === undefined ? fallback : guardToIntegerOrInfinity(n);
    return k < 0 ? MathMax(length + k, 0) : MathMin(k, length);
  };
  return relative(end, length) - relative(start, 0);
}

function guardLengthOf(object) {
  return object === undefined || object === null ? 0 : guardToIntegerOrInfinity(object.length);
}

// A typed array's own element count, whatever its `length` property says.
function guardIsTypedArray(value) {
  return ArrayBufferIsView(value) && TypedArrayPrototypeGetSymbolToStringTag(value) !== undefined;
}

// A genuine array: its length is a data property that cannot lie. A Proxy
// around an array passes Array.isArray but answers `length` as it likes.
function guardIsGenuineArray(value) {
  return ArrayIsArray(value) && !native.isProxy(value);
}

// A view of object whose properties named in `pinned` answer what was read
// once: a getter or a Proxy that answers the guard one length and V8
// another cannot get past it, and every element V8 reads through the view
// is a call into JavaScript, which a stop request reaches.
function guardPin(object, pinned) {
  return new GuardProxy(object, {
    get(target, key) {
      return ObjectHasOwn(pinned, key) ? pinned[key] : ReflectGet(target, key);
    },
  });
}

// Refuses (a TypeError) an object whose `key` a getter answers: it could
// answer the guard one thing and V8 another. (A Proxy may lie too, but
// then every read V8 makes of it is a trap, in JavaScript, which a stop
// request reaches.)
function guardDataProperty(object, key, what) {
  let holder = object;
  for (let depth = 0; holder !== null && depth < 1000; depth++) {
    if (native.isProxy(holder)) return;
    const d = ReflectGetOwnPropertyDescriptor(holder, key);
    if (d !== undefined) {
      if (d.get !== undefined) throw new TypeError(`${what}: ${String(key)} as a getter is not supported`);
      return;
    }
    holder = ObjectGetPrototypeOf(holder);
  }
}

// The receiver a length walker runs on: itself when its length cannot lie
// (a genuine array, a primitive), else a view with the length pinned.
// Refuses a length past the bound.
function guardReceiver(self, what) {
  const length = guardLengthOf(self);
  if (length > GUARD_MAX_ELEMENTS) guardRefuse(what, length);
  return guardView(self, length);
}

// self, or a view of it whose length is the one the guard read. A string
// V8 could not walk in the CPU time left is read through a view too: V8
// walks a string receiver in C++ at up to ~100 ns a character
// (Array.prototype.join.call('a'.repeat(1.6e7)) or slice: past the last
// resort under the default memory limit), and through the view every
// character read is a trap (slower, but JavaScript a stop request reaches).
const GUARD_STRING_CHAR_NS = 100;
function guardView(self, length) {
  if (self === undefined || self === null) return self;  // the builtin throws its TypeError
  const type = typeof self;
  if (type === 'string' && length > 1e5 && length * GUARD_STRING_CHAR_NS / 1e6 > guardCpuBudgetMs()) {
    return guardPin(GuardObject(self), { __proto__: null, length });
  }
  if ((type !== 'object' && type !== 'function') || guardIsGenuineArray(self)) return self;
  return guardPin(self, { __proto__: null, length });
}

// apply, Reflect.apply and Reflect.construct copy an array-like of
// arguments whole (CreateListFromArrayLike, in C++) before they find there
// are too many to call with: anything but a genuine array is copied here,
// reading its length once.
const GUARD_MAX_ARGUMENTS = 1 << 20;
function guardArgumentList(list, what) {
  if (list === undefined || list === null || typeof list !== 'object' && typeof list !== 'function') {
    return list;  // the builtin throws its TypeError
  }
  const length = guardLengthOf(list);
  if (length > GUARD_MAX_ARGUMENTS) throw new RangeError(`${what}: ${length} arguments are too many`);
  if (guardIsGenuineArray(list)) return list;
  const copy = [];
  for (let i = 0; i < length; i++) ObjectDefineProperty(copy, i, { value: list[i], writable: true, enumerable: true, configurable: true });
  return copy;
}

// Replaces target[name] with a function that runs check(thisArg, args)
// first; name and length stay the original's. check may return the
// receiver the original runs on instead (a pinned view of thisArg), which
// is never handed back: a method that returns its receiver (sort, reverse)
// returns thisArg.
function guardWrap(target, name, check) {
  // One V8 adds after deserializing the snapshot is guarded then (lateStep).
  if (target[name] === undefined) {
    lateStep(() => target[name] !== undefined && (guardWrap(target, name, check), true));
    return;
  }
  const original = target[name];
  const guarded = {
    [name]() {
      const view = check(this, arguments);
      const receiver = view === undefined ? this : view;
      const result = ReflectApply(original, receiver, arguments);
      return result === receiver ? this : result;
    },
  }[name];
  ObjectDefineProperty(guarded, 'length', { value: original.length, configurable: true });
  guardMethod(target, name, guarded);
}

// Array.prototype methods walk `length` in C++ or Torque loops that only
// look at a termination request when they call JavaScript: over an
// array-like with a huge length ({length: 2**53 - 1}), or a sparse array
// in dictionary mode (new Array(2**28)), they run for hours, and some
// (sort, concat) ask V8 for a work array so long that V8 aborts the
// process. No array whose length exceeds what the memory limit holds can
// be dense, so past that length they refuse up front.
const GUARD_LENGTH_WALKERS = [
  'copyWithin', 'every', 'filter', 'find', 'findIndex', 'findLast', 'findLastIndex',
  'forEach', 'map', 'reduce', 'reduceRight', 'reverse', 'shift', 'some', 'splice',
  'unshift',
];
for (let i = 0; i < GUARD_LENGTH_WALKERS.length; i++) {
  const what = `Array.prototype.${GUARD_LENGTH_WALKERS[i]}`;
  guardWrap(Array.prototype, GUARD_LENGTH_WALKERS[i], (self) => guardReceiver(self, what));
}

// flat and flatMap walk every array they flatten, whose length a guard of
// the receiver never sees: [a].flat() of a sparse a of length 2 ** 32 - 1
// (or [1].flatMap(() => a)) looped in Torque until the last resort ended
// the worker. They flatten here, as the language defines it, in a loop a
// stop request reaches, and an array to flatten longer than the memory
// limit could hold is refused up front, as the receiver is.
const GuardReflectHas = Reflect.has;
const GuardReflectConstruct = Reflect.construct;
const GuardSymbolSpecies = Symbol.species;
const GUARD_MAX_INDEX = 2 ** 53 - 1;

// ArraySpeciesCreate(original, 0), in one realm.
function guardArraySpeciesCreate(original) {
  if (!ArrayIsArray(original)) return [];
  let C = original.constructor;
  if (C !== null && (typeof C === 'object' || typeof C === 'function')) {
    C = C[GuardSymbolSpecies];
    if (C === null) C = undefined;
  }
  if (C === undefined) return [];
  if (!guardIsConstructor(C)) throw new TypeError('object.constructor[Symbol.species] is not a constructor');
  return GuardReflectConstruct(C, [0]);
}

// A Proxy of value can be constructed only if value can; its trap touches
// nothing of value's.
const GUARD_CONSTRUCT_NOTHING = { __proto__: null, construct: () => GUARD_CONSTRUCT_NOTHING };
function guardIsConstructor(value) {
  if (typeof value !== 'function') return false;
  try {
    GuardReflectConstruct(new GuardProxy(value, GUARD_CONSTRUCT_NOTHING), []);
    return true;
  } catch {
    return false;
  }
}

// FlattenIntoArray: the next index of target.
function guardFlattenInto(target, source, sourceLength, start, depth, mapper, thisArg, what) {
  let targetIndex = start;
  for (let sourceIndex = 0; sourceIndex < sourceLength; sourceIndex++) {
    if (!GuardReflectHas(source, sourceIndex)) continue;
    let element = source[sourceIndex];
    if (mapper !== undefined) element = ReflectApply(mapper, thisArg, [element, sourceIndex, source]);
    if (depth > 0 && ArrayIsArray(element)) {
      const length = guardLengthOf(element);
      if (length > GUARD_MAX_ELEMENTS) guardRefuse(what, length);
      targetIndex = guardFlattenInto(target, element, length, targetIndex, depth - 1, undefined, undefined, what);
    } else {
      if (targetIndex >= GUARD_MAX_INDEX) throw new TypeError(`${what}: the result is too long`);
      guardDefineElement(target, targetIndex, element);
      targetIndex++;
    }
  }
  return targetIndex;
}

function guardFlatSource(self, what) {
  if (self === undefined || self === null) throw new TypeError('Cannot convert undefined or null to object');
  const source = GuardObject(self);
  const length = guardLengthOf(source);
  if (length > GUARD_MAX_ELEMENTS) guardRefuse(what, length);
  return { source, length };
}

{
  const originals = { flat: Array.prototype.flat, flatMap: Array.prototype.flatMap };
  const methods = {
    flat() {
      const depthArg = arguments.length > 0 ? arguments[0] : undefined;
      const { source, length } = guardFlatSource(this, 'Array.prototype.flat');
      let depth = depthArg === undefined ? 1 : guardToIntegerOrInfinity(depthArg);
      if (depth < 0) depth = 0;
      const target = guardArraySpeciesCreate(source);
      guardFlattenInto(target, source, length, 0, depth, undefined, undefined, 'Array.prototype.flat');
      return target;
    },
    flatMap(mapper) {
      const thisArg = arguments.length > 1 ? arguments[1] : undefined;
      const { source, length } = guardFlatSource(this, 'Array.prototype.flatMap');
      if (typeof mapper !== 'function') throw new TypeError('flatMap mapper function is not callable');
      const target = guardArraySpeciesCreate(source);
      guardFlattenInto(target, source, length, 0, 1, mapper, thisArg, 'Array.prototype.flatMap');
      return target;
    },
  };
  guardRemember(methods.flat, originals.flat);
  guardRemember(methods.flatMap, originals.flatMap);
  ObjectDefineProperty(Array.prototype, 'flat', { value: methods.flat, writable: true, enumerable: false, configurable: true });
  ObjectDefineProperty(Array.prototype, 'flatMap', { value: methods.flatMap, writable: true, enumerable: false, configurable: true });
}

// join, sort, includes, indexOf and lastIndexOf are length walkers too,
// and one element can cost them far more than its 8 bytes: join turns each
// element into a string, and sort without a comparator two per comparison,
// where a BigInt's, an Error's, a Date's or a plain object's toString is
// builtins only (join of 4e6 200-bit BigInts or of 1e7 Errors: seconds); a
// default sort compares, and includes, indexOf and lastIndexOf test each
// element against the needle, in C++, and two distinct strings of a
// million equal characters, or two BigInts of a million bits, compare
// whole (1e5 elements: seconds). No stop request is seen in between. So
// past what is cheap for certain, the work is done in pieces with
// JavaScript between them, which a stop reaches: join in slices sized by
// the CPU time each takes, sort with a comparator that orders as the
// default one does, the searches in a loop here.
const guardedJoin = Array.prototype.join;
const guardedSort = Array.prototype.sort;
const guardedIncludes = Array.prototype.includes;
const guardedIndexOf = Array.prototype.indexOf;
const guardedLastIndexOf = Array.prototype.lastIndexOf;
const guardSame = Object.is;
const guardedTypedArrayJoin = TypedArrayPrototype.join;
const ArrayPrototypeJoinOf = uncurryThis(guardedJoin);

// An element whose string is cheap to make: a primitive other than a
// BigInt, or a genuine array (its toString calls join, which is this
// guard again: JavaScript). Strings are only copied.
function guardCheapToString(value) {
  const type = typeof value;
  return type === 'string' || type === 'number' || type === 'boolean' || value == null ||
    (type === 'object' && guardIsGenuineArray(value));
}

// A join runs whole in V8 over at most GUARD_JOIN_DIRECT cheap elements
// (a million doubles: ~90 ms), or GUARD_JOIN_DIRECT_BIGINTS of a BigInt64
// array (~23 ms). Past that, or with an element that is not cheap, it runs
// in slices: each about a millisecond of CPU, never more than
// GUARD_JOIN_SLICE_MAX elements (65,536 numbers: ~6 ms), starting small
// because one element can cost milliseconds.
const GUARD_JOIN_DIRECT = 1 << 20;
const GUARD_JOIN_DIRECT_BIGINTS = 65536;
const GUARD_JOIN_SLICE_FIRST = 8;
// So few elements are joined in V8 without a look at them: each costs at
// most a few milliseconds (a BigInt's string before V8 looks at a stop).
const GUARD_JOIN_UNSEEN = 16;
const GUARD_JOIN_SLICE_MAX = 65536;
const GUARD_JOIN_SLICE_MS = 1;
// The arrays being joined in slices: V8 answers '' for an array that
// contains itself by finding it on its own stack, which holds the slices.
const guardJoining = listNew();

function guardJoinInSlices(array, length, separator) {
  for (let i = 0; i < guardJoining.length; i++) if (guardJoining[i] === array) return '';
  listPush(guardJoining, array);
  try {
    const parts = listNew();
    let size = GUARD_JOIN_SLICE_FIRST;
    let left = native.cpuLeftMs();
    for (let start = 0; start < length;) {
      const end = MathMin(length, start + size);
      // Copied here, not by slice: slice would make the copy with the
      // array's species constructor, which the tenant chooses.
      const piece = listNew();
      for (let k = start; k < end; k++) piece[k - start] = array[k];
      listPush(parts, ArrayPrototypeJoinOf(piece, separator));
      start = end;
      const now = native.cpuLeftMs();
      const took = left - now;
      left = now;
      if (took < GUARD_JOIN_SLICE_MS / 4) size = MathMin(size * 2, GUARD_JOIN_SLICE_MAX);
      else if (took > GUARD_JOIN_SLICE_MS) size = MathMax(size >>> 1, 1);
    }
    return ArrayPrototypeJoinOf(parts, separator);
  } finally {
    guardJoining.length--;
  }
}

// Whether join may run whole in V8: short, and every element cheap.
function guardJoinIsCheap(array, length) {
  if (length > GUARD_JOIN_DIRECT) return false;
  for (let i = 0; i < length; i++) if (!guardCheapToString(array[i])) return false;
  return true;
}

guardMethod(Array.prototype, 'join', {
  join(separator) {
    const view = guardReceiver(this, 'Array.prototype.join');
    // An array-like is read through a view whose every read is a trap.
    if (!guardIsGenuineArray(view) || view.length <= GUARD_JOIN_UNSEEN) {
      return ReflectApply(guardedJoin, view, arguments);
    }
    const length = view.length;
    const sep = separator === undefined ? ',' : `${separator}`;
    if (guardJoinIsCheap(view, length)) return ReflectApply(guardedJoin, view, [sep]);
    return guardJoinInSlices(view, length, sep);
  },
}.join);

// A typed array's elements are numbers or BigInts: cheap, but 1e7 of them
// take a second (BigInt64Array: 3.5 s).
guardMethod(TypedArrayPrototype, 'join', {
  join(separator) {
    const tag = TypedArrayPrototypeGetSymbolToStringTag(this);
    const direct = tag === 'BigInt64Array' || tag === 'BigUint64Array' ? GUARD_JOIN_DIRECT_BIGINTS : GUARD_JOIN_DIRECT;
    if (tag === undefined || TypedArrayPrototypeGetLength(this) <= direct) {
      return ReflectApply(guardedTypedArrayJoin, this, arguments);
    }
    const sep = separator === undefined ? ',' : `${separator}`;
    return guardJoinInSlices(this, TypedArrayPrototypeGetLength(this), sep);
  },
}.join);

// Default sort order (SortCompare without a comparator): by ToString, in
// code units; undefined and holes never reach it.
function guardDefaultOrder(x, y) {
  const a = `${x}`;
  const b = `${y}`;
  return a < b ? -1 : a > b ? 1 : 0;
}

// Strings this long or shorter compare in a few cache lines.
const GUARD_SHORT_STRING = 256;

function guardCheapToCompare(value) {
  const type = typeof value;
  return type === 'number' || type === 'boolean' || value == null ||
    (type === 'string' && value.length <= GUARD_SHORT_STRING);
}

guardMethod(Array.prototype, 'sort', {
  sort(comparefn) {
    const view = guardReceiver(this, 'Array.prototype.sort');
    let args = arguments;
    if (comparefn === undefined && guardIsGenuineArray(view)) {
      const length = view.length;
      for (let i = 0; i < length; i++) {
        if (!guardCheapToCompare(view[i])) { args = [guardDefaultOrder]; break; }
      }
    }
    const result = ReflectApply(guardedSort, view, args);
    return result === view ? this : result;
  },
}.sort);

// includes, indexOf and lastIndexOf with a needle that compares in O(1)
// run in V8; a long string or a BigInt is looked for here, each comparison
// a call: V8 10.2 looks at a stop request in a loop only every ~135 KB of
// bytecode run, or in a call, and a comparison of two long strings with
// === is neither (t/69-attack-findings-9.t). For a string or a BigInt,
// Object.is is === and SameValueZero.
function guardCostlyNeedle(needle) {
  return typeof needle === 'bigint' || (typeof needle === 'string' && needle.length > GUARD_SHORT_STRING);
}

// Where a search starts, as includes and indexOf read fromIndex.
function guardSearchStart(length, fromIndex) {
  const n = guardToIntegerOrInfinity(fromIndex);
  return n >= 0 ? n : MathMax(length + n, 0);
}

// search(array, length, needle, fromIndex, fromIndexGiven) for a genuine
// array and a costly needle; the builtin for everything else.
function guardSearchMethod(name, original, search) {
  const what = `Array.prototype.${name}`;
  guardMethod(Array.prototype, name, {
    [name](searchElement, fromIndex = undefined) {
      const view = guardReceiver(this, what);
      if (!guardCostlyNeedle(searchElement) || !guardIsGenuineArray(view)) {
        return ReflectApply(original, view, arguments);
      }
      return search(view, view.length, searchElement, fromIndex, arguments.length > 1);
    },
  }[name]);
}

guardSearchMethod('includes', guardedIncludes, (array, length, needle, fromIndex) => {
  if (length === 0) return false;
  for (let k = guardSearchStart(length, fromIndex); k < length; k++) {
    if (guardSame(array[k], needle)) return true;
  }
  return false;
});

guardSearchMethod('indexOf', guardedIndexOf, (array, length, needle, fromIndex) => {
  if (length === 0) return -1;
  for (let k = guardSearchStart(length, fromIndex); k < length; k++) {
    if (k in array && guardSame(array[k], needle)) return k;
  }
  return -1;
});

guardSearchMethod('lastIndexOf', guardedLastIndexOf, (array, length, needle, fromIndex, given) => {
  if (length === 0) return -1;
  const n = given ? guardToIntegerOrInfinity(fromIndex) : length - 1;
  for (let k = n >= 0 ? MathMin(n, length - 1) : length + n; k >= 0; k--) {
    if (k in array && guardSame(array[k], needle)) return k;
  }
  return -1;
});

// Object.fromEntries inserts every key in one Torque loop, and V8 hashes a
// string of over 16,383 characters by its length alone: a thousand
// distinct 100,000-character keys collide, and each insertion compares
// the new key whole with every one before it (seconds, no stop request
// seen). Here each insertion is its own call, as a script's own loop
// would make it.
const guardedFromEntries = Object.fromEntries;
guardMethod(Object, 'fromEntries', {
  fromEntries(iterable) {
    if (iterable === undefined || iterable === null) return ReflectApply(guardedFromEntries, this, arguments);
    const object = {};
    for (const entry of iterable) {
      if (typeof entry !== 'object' && typeof entry !== 'function' || entry === null) {
        throw new TypeError(`Iterator value ${typeof entry === 'symbol' ? 'Symbol()' : entry} is not an entry object`);
      }
      const key = entry[0];
      const value = entry[1];
      ObjectDefineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
    }
    return object;
  },
}.fromEntries);

// slice copies only its range, so the range is what is bounded.
// slice copies, and fill writes, only their range [start, end): arguments
// `first` and `first + 1`, read once here and handed on as numbers (a
// valueOf answering the guard 2 ** 32 - 3 and V8 0 had slice or fill walk
// a sparse array of length 2 ** 32 - 1 to the last resort).
function guardRange(what, first) {
  return (self, args) => {
    const length = guardLengthOf(self);
    if (length > GUARD_MAX_ELEMENTS) {
      for (let i = first; i < first + 2 && i < args.length; i++) {
        if (args[i] !== undefined) args[i] = guardToIntegerOrInfinity(args[i]);
      }
      const count = guardRangeCount(length, args[first], args[first + 1]);
      if (count > GUARD_MAX_ELEMENTS) guardRefuse(what, count);
    }
    return guardView(self, length);
  };
}
guardWrap(Array.prototype, 'slice', guardRange('Array.prototype.slice', 0));

// concat spreads every array and spreadable argument into one new array.
// What it spreads is read once here and pinned; an object it would not
// spread stays itself (it is an element of the result), so one whose
// isConcatSpreadable a getter answers is refused.
const GUARD_SPREADABLE = Symbol.isConcatSpreadable;
function guardConcatItem(item, counted) {
  if (typeof item !== 'object' || item === null) return item;
  if (guardIsGenuineArray(item) && item[GUARD_SPREADABLE] === undefined) {
    counted.total += item.length;
    return item;
  }
  const flag = item[GUARD_SPREADABLE];
  const spread = flag !== undefined ? !!flag : ArrayIsArray(item);
  if (!spread) {
    guardDataProperty(item, GUARD_SPREADABLE, 'Array.prototype.concat');
    return item;
  }
  const length = guardLengthOf(item);
  counted.total += length;
  return guardPin(item, { __proto__: null, length, [GUARD_SPREADABLE]: true });
}
const guardedConcat = Array.prototype.concat;
guardMethod(Array.prototype, 'concat', {
  concat(...items) {
    const counted = { total: 0 };
    const receiver = guardConcatItem(this, counted);
    for (let i = 0; i < items.length; i++) items[i] = guardConcatItem(items[i], counted);
    if (counted.total > GUARD_MAX_ELEMENTS) guardRefuse('Array.prototype.concat', counted.total);
    return ReflectApply(guardedConcat, receiver, items);
  },
}.concat);

// Object.keys and its kin make one string (or pair) per index of a typed
// array in a single C++ call: 8 bytes of buffer become tens of heap bytes.
const GUARD_KEY_BYTES = 32;
// (Its own count, not its `length` property, which a script may redefine.)
// And about half a microsecond a key, so they are sized by the CPU time
// left too: under the default 128m memory limit, keys of a Uint8Array(3e6)
// (3 MB) fit the memory bound and took each of these past the last resort.
// A string (or a String object) has a key per character as well, which
// these list alike: Object.keys('a'.repeat(3e6)) went past the last resort
// too. `strings`: 'all' counts strings and String objects, 'objects' String
// objects only (Reflect.ownKeys refuses a primitive), else neither.
const GUARD_KEY_NS = 500;
function guardTypedArrayKeys(value, what, strings = undefined) {
  let length;
  if (guardIsTypedArray(value)) length = TypedArrayPrototypeGetLength(value);
  else if (strings === 'all' && typeof value === 'string') length = value.length;
  else if (strings !== undefined) length = guardStringObjectLength(value);
  else return;
  if (length * GUARD_KEY_BYTES > native.memoryLimit) guardRefuse(what, length);
  if (length > 1e5 && length * GUARD_KEY_NS / 1e6 > guardCpuBudgetMs()) {
    throw new RangeError(`${what}: the keys of ${length} elements cannot be listed in the CPU time this request has left`);
  }
}

// The length of a String object over 1e5 characters, else 0. Its own
// `length` can be neither changed nor faked smaller, so only an object
// with a long one is asked whether it holds a string.
function guardStringObjectLength(value) {
  if (typeof value !== 'object' || value === null || native.isProxy(value) || ArrayIsArray(value) ||
      !ObjectHasOwn(value, 'length')) {
    return 0;
  }
  const d = ReflectGetOwnPropertyDescriptor(value, 'length');
  if (typeof d.value !== 'number' || d.value <= 1e5 || d.writable || d.configurable) return 0;
  return guardHasSlot(GuardStringValueOf, value) ? d.value : 0;
}
for (const name of ['keys', 'values', 'entries', 'getOwnPropertyNames', 'getOwnPropertyDescriptors']) {
  guardWrap(Object, name, (self, args) => guardTypedArrayKeys(args[0], `Object.${name}`, 'all'));
}
guardWrap(Reflect, 'ownKeys', (self, args) => guardTypedArrayKeys(args[0], 'Reflect.ownKeys', 'objects'));

// A Proxy's ownKeys trap answers V8 an array-like that V8 copies whole
// (CreateListFromArrayLike, in C++) before it looks at one element: a trap
// answering {length: 1.3e8}, or a sparse array that long, had V8 allocate
// and fill a 1 GB list in one call no stop request reaches, whatever took
// the keys (Object.keys, for-in, spread, JSON.stringify, structuredClone):
// 2.6 s of a worker under a 50 ms CPU limit, its peak RSS from 28 MB to
// 1 GB under a 16m memory limit. So a Proxy is made with a handler of the
// runtime's standing in for the script's: when V8 asks it for a trap it
// looks the trap up in the script's handler then (a handler changed later
// is obeyed) and gives a function calling it with the script's handler as
// `this`, as V8 would; an ownKeys trap's answer longer than the memory
// limit's element count is a RangeError, and one that is not a genuine
// array is copied into one, its length read once. V8 then checks the list
// in C++ at up to about a microsecond a key (types, duplicates): a genuine
// array of 1e6 distinct keys, grown over earlier requests, held
// Reflect.ownKeys of the Proxy 0.9 s under a 50 ms CPU limit; so a long
// list is sized by the CPU time left too.
const GUARD_PROXY_KEY_NS = 1000;
function guardKeyList(list) {
  if (list === null || (typeof list !== 'object' && typeof list !== 'function')) return list;  // V8's TypeError
  const length = guardLengthOf(list);
  if (length > GUARD_MAX_ELEMENTS) guardRefuse("A Proxy's ownKeys trap", length);
  if (length > 1e5 && length * GUARD_PROXY_KEY_NS / 1e6 > guardCpuBudgetMs()) {
    throw new RangeError(`A Proxy's ownKeys trap: a list of ${length} keys cannot be checked in the CPU time this request has left`);
  }
  if (guardIsGenuineArray(list)) return list;
  const copy = [];
  for (let i = 0; i < length; i++) guardDefineElement(copy, i, list[i]);
  return copy;
}

// A Proxy with no ownKeys trap has V8 list its target's own keys in one C++
// call: a typed array's (or a String object's) indices are sized by the CPU
// time left first, as Object.keys of the target itself is
// (Object.keys(new Proxy(new Uint8Array(1e7), {})) went past the last resort).
function guardIndexKeys(target) {
  guardTypedArrayKeys(target, "A Proxy's keys", 'objects');
  return ReflectOwnKeys(target);
}

function guardProxyHandler(handler, target) {
  if (handler === null || (typeof handler !== 'object' && typeof handler !== 'function')) return handler;  // V8's TypeError
  const calls = { __proto__: null };  // trap name -> { trap, call }
  const listsIndices = guardIsTypedArray(target) || guardStringObjectLength(target) > 0;
  return new GuardProxy(handler, {
    get(script, name) {
      const trap = ReflectGet(script, name);
      if (typeof trap !== 'function') {
        if (name === 'ownKeys' && listsIndices && (trap === undefined || trap === null)) return guardIndexKeys;
        return trap;  // V8 throws for what is not undefined or null
      }
      const known = calls[name];
      if (known !== undefined && known.trap === trap) return known.call;
      const call = name === 'ownKeys'
        ? function () { return guardKeyList(ReflectApply(trap, script, arguments)); }
        : function () { return ReflectApply(trap, script, arguments); };
      calls[name] = { __proto__: null, trap, call };
      return call;
    },
  });
}

{
  const revocable = GuardProxy.revocable;
  // Bound: a constructor without a prototype property, as Proxy is.
  const guarded = FunctionPrototypeCallOn(Function.prototype.bind, function (target, handler) {
    if (new.target === undefined) throw new TypeError("Constructor Proxy requires 'new'");
    return new GuardProxy(target, guardProxyHandler(handler, target));
  }, undefined);
  ObjectDefineProperty(guarded, 'name', { value: 'Proxy', configurable: true });
  const statics = {
    revocable(target, handler) { return revocable(target, guardProxyHandler(handler, target)); },
  };
  guardRemember(statics.revocable, revocable);
  ObjectDefineProperty(guarded, 'revocable', { value: statics.revocable, writable: true, enumerable: false, configurable: true });
  guardMethod(globalThis, 'Proxy', guarded);
}

// getOwnPropertyDescriptors, entries and values of an object whose
// properties are a dictionary make their answer in one C++ loop that looks
// every key up again (3e5 properties: 0.8 s and 0.6 s in one call, and a
// run given a CPU limit of seconds builds millions). Past GUARD_OWN_KEYS_DIRECT
// enumerable own keys the answer is made here, a key a turn, as the
// language defines it.
// (A Proxy's every step is a trap already: JavaScript.)
const GUARD_OWN_KEYS_DIRECT = 4096;
const GuardObject = Object;

// The object's own keys when they are too many for one C++ call, else
// undefined (and the builtin runs). Counted by Object.keys (its enumerable
// string keys, the ones these copy: 60 ns for a few, where Reflect.ownKeys
// takes 500 ns) before they are listed.
function guardManyOwnKeys(object, what) {
  if (object === undefined || object === null) return undefined;
  guardTypedArrayKeys(object, what, 'all');
  const target = GuardObject(object);
  if (native.isProxy(target) || GuardObjectKeys(target).length <= GUARD_OWN_KEYS_DIRECT) return undefined;
  return ReflectOwnKeys(target);
}

function guardDefineElement(array, index, value) {
  ObjectDefineProperty(array, index, { value, writable: true, enumerable: true, configurable: true });
}

const guardedDescriptors = Object.getOwnPropertyDescriptors;
guardMethod(Object, 'getOwnPropertyDescriptors', {
  getOwnPropertyDescriptors(object) {
    const keys = guardManyOwnKeys(object, 'Object.getOwnPropertyDescriptors');
    if (keys === undefined) return ReflectApply(guardedDescriptors, this, arguments);
    const target = GuardObject(object);
    const descriptors = {};
    for (let i = 0; i < keys.length; i++) {
      const descriptor = ReflectGetOwnPropertyDescriptor(target, keys[i]);
      if (descriptor !== undefined) guardDefineElement(descriptors, keys[i], descriptor);
    }
    return descriptors;
  },
}.getOwnPropertyDescriptors);

for (const name of ['entries', 'values']) {
  const original = Object[name];
  guardMethod(Object, name, {
    [name](object) {
      const keys = guardManyOwnKeys(object, `Object.${name}`);
      if (keys === undefined) return ReflectApply(original, this, arguments);
      const target = GuardObject(object);
      const answer = [];
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i];
        if (typeof key !== 'string') continue;
        const descriptor = ReflectGetOwnPropertyDescriptor(target, key);
        if (descriptor === undefined || !descriptor.enumerable) continue;
        const value = target[key];
        guardDefineElement(answer, answer.length, name === 'entries' ? [key, value] : value);
      }
      return answer;
    },
  }[name]);
}

// Object.assign, defineProperties and create likewise (8e5 properties
// assigned: 0.75 s in one call; 4e5 descriptors defined: 1.25 s).
const guardedAssign = Object.assign;
guardMethod(Object, 'assign', {
  assign(target, source) {
    if (target === undefined || target === null) return ReflectApply(guardedAssign, this, arguments);
    const to = GuardObject(target);
    for (let i = 1; i < arguments.length; i++) {
      const from = arguments[i];
      const keys = guardManyOwnKeys(from, 'Object.assign');
      if (keys === undefined) {
        ReflectApply(guardedAssign, this, [to, from]);
        continue;
      }
      const object = GuardObject(from);
      for (let k = 0; k < keys.length; k++) {
        const descriptor = ReflectGetOwnPropertyDescriptor(object, keys[k]);
        if (descriptor !== undefined && descriptor.enumerable) to[keys[k]] = object[keys[k]];
      }
    }
    return to;
  },
}.assign);

function guardIsObject(value) {
  return (typeof value === 'object' && value !== null) || typeof value === 'function';
}

function guardReadAccessor(object, descriptor, key, what) {
  if (!(key in object)) return;
  const fn = object[key];
  if (fn !== undefined && typeof fn !== 'function') throw new TypeError(`${what} must be a function`);
  descriptor[key] = fn;
}

// ToPropertyDescriptor: what defineProperty would read of it, read now.
function guardToPropertyDescriptor(object) {
  if (!guardIsObject(object)) {
    throw new TypeError(`Property description must be an object: ${typeof object === 'symbol' ? 'Symbol()' : object}`);
  }
  const descriptor = { __proto__: null };
  if ('enumerable' in object) descriptor.enumerable = !!object.enumerable;
  if ('configurable' in object) descriptor.configurable = !!object.configurable;
  if ('value' in object) descriptor.value = object.value;
  if ('writable' in object) descriptor.writable = !!object.writable;
  guardReadAccessor(object, descriptor, 'get', 'Getter');
  guardReadAccessor(object, descriptor, 'set', 'Setter');
  if (('get' in descriptor || 'set' in descriptor) && ('value' in descriptor || 'writable' in descriptor)) {
    throw new TypeError('Invalid property descriptor. Cannot both specify accessors and a value or writable attribute');
  }
  return descriptor;
}

// ObjectDefineProperties with the keys read: every descriptor is read
// before any property is defined.
function guardDefineAll(object, properties, keys) {
  const props = GuardObject(properties);
  const pending = listNew();
  for (let i = 0; i < keys.length; i++) {
    const own = ReflectGetOwnPropertyDescriptor(props, keys[i]);
    if (own === undefined || !own.enumerable) continue;
    listPush(pending, keys[i]);
    listPush(pending, guardToPropertyDescriptor(props[keys[i]]));
  }
  for (let i = 0; i < pending.length; i += 2) ObjectDefineProperty(object, pending[i], pending[i + 1]);
  return object;
}

const guardedDefineProperties = Object.defineProperties;
guardMethod(Object, 'defineProperties', {
  defineProperties(object, properties) {
    const keys = guardIsObject(object) ? guardManyOwnKeys(properties, 'Object.defineProperties') : undefined;
    if (keys === undefined) return ReflectApply(guardedDefineProperties, this, arguments);
    return guardDefineAll(object, properties, keys);
  },
}.defineProperties);

const guardedCreate = Object.create;
guardMethod(Object, 'create', {
  create(prototype, properties) {
    const keys = properties !== undefined && (prototype === null || guardIsObject(prototype))
      ? guardManyOwnKeys(properties, 'Object.create') : undefined;
    if (keys === undefined) return ReflectApply(guardedCreate, this, arguments);
    return guardDefineAll(ReflectApply(guardedCreate, this, [prototype]), properties, keys);
  },
}.create);
// JSON.stringify of a typed array writes one key per element in C++. A
// replacer array's elements are read in a C++ loop too: a sparse one of
// length 2 ** 32 - 1 held the worker until the last resort ended it. One
// longer than the memory limit could hold is refused; a genuine array
// longer than GUARD_REPLACER_DIRECT is made the list V8
// would make of it here (its strings, numbers and String and Number
// objects as strings, each once, in order), in a loop a stop request
// reaches, and V8 is given that.
const GUARD_REPLACER_DIRECT = 1024;
const GuardStringValueOf = uncurryThis(String.prototype.valueOf);
const GuardNumberValueOf = uncurryThis(Number.prototype.valueOf);

function guardHasSlot(valueOf, value) {
  try {
    valueOf(value);
    return true;
  } catch {
    return false;
  }
}

function guardPropertyList(replacer) {
  const length = replacer.length;  // a genuine array's: it cannot lie
  const list = [];
  const seen = { __proto__: null };
  for (let k = 0; k < length; k++) {
    const v = replacer[k];
    let item;
    if (typeof v === 'string') item = v;
    else if (typeof v === 'number') item = `${v}`;
    else if (typeof v === 'object' && v !== null &&
             (guardHasSlot(GuardStringValueOf, v) || guardHasSlot(GuardNumberValueOf, v))) item = `${v}`;
    if (item !== undefined && seen[item] !== true) {
      seen[item] = true;
      guardDefineElement(list, list.length, item);
    }
  }
  return list;
}

// And a typed array takes about a microsecond an element (3e6 under the
// default 128m memory limit: past the last resort), most of it V8 listing
// its keys in one C++ call; between values V8 looks at a stop request. So
// each typed array V8 is about to write, at any depth, is sized by the CPU
// time left: the one handed over here, and, when the isolate was ever
// given a buffer of more bytes (a typed array has at most that many
// elements) than could be written in that time, every value through a replacer function
// of the guard's, which sees what toJSON and the tenant's replacer gave
// (a replacer array lists an object's keys itself). Below that bound,
// V8's JSON.stringify is called as is (a replacer function in every call
// would double the time of a small object's). With one, V8 writes arrays
// on a path of larger C++ frames: they nest ~2,700 deep, not ~7,000.
const GUARD_JSON_ELEMENT_NS = 1000;
const guardedStringify = JSON.stringify;

function guardJSONTypedArray(value) {
  if (!guardIsTypedArray(value)) return;
  const length = TypedArrayPrototypeGetLength(value);
  if (length * GUARD_JSON_ELEMENT_NS / 1e6 > guardCpuBudgetMs()) {
    throw new RangeError(`JSON.stringify: ${length} elements cannot be written in the CPU time this request has left`);
  }
}

// JSON.stringify for the tenant's globals and Response.json.
function guardJSONStringify(value, replacer, space) {
  guardTypedArrayKeys(value, 'JSON.stringify');
  guardJSONTypedArray(value);
  if (guardIsGenuineArray(replacer) && replacer.length > GUARD_REPLACER_DIRECT) {
    if (replacer.length > GUARD_MAX_ELEMENTS) guardRefuse('JSON.stringify: the replacer', replacer.length);
    replacer = guardPropertyList(replacer);
  }
  const worstMs = ArrayIsArray(replacer) ? 0 : native.largestBuffer() * GUARD_JSON_ELEMENT_NS / 1e6;
  if (worstMs > GUARD_GRACE_MS && worstMs > guardCpuBudgetMs()) {
    const tenant = typeof replacer === 'function' ? replacer : undefined;
    replacer = function (key, v) {
      const result = tenant === undefined ? v : ReflectApply(tenant, this, [key, v]);
      guardJSONTypedArray(result);
      return result;
    };
  }
  return ReflectApply(guardedStringify, undefined, [value, replacer, space]);
}
guardMethod(JSON, 'stringify', {
  stringify(value, replacer, space) {
    return guardJSONStringify(value, replacer, space);
  },
}.stringify);

const guardedApply = Function.prototype.apply;
guardMethod(Function.prototype, 'apply', {
  apply(thisArg, list) {
    return ReflectApply(guardedApply, this, [thisArg, guardArgumentList(list, 'Function.prototype.apply')]);
  },
}.apply);
const guardedReflectApply = Reflect.apply;
guardMethod(Reflect, 'apply', {
  apply(target, thisArg, list) {
    return ReflectApply(guardedReflectApply, this, [target, thisArg, guardArgumentList(list, 'Reflect.apply')]);
  },
}.apply);
const guardedReflectConstruct = Reflect.construct;
guardMethod(Reflect, 'construct', {
  construct(target, list, newTarget = target) {
    return ReflectApply(guardedReflectConstruct, this, [target, guardArgumentList(list, 'Reflect.construct'), newTarget]);
  },
}.construct);

// Array.prototype.fill on an array in dictionary mode (new Array(6e7) is
// one) inserts element by element in C++, allocating without end.
guardWrap(Array.prototype, 'fill', guardRange('Array.prototype.fill', 1));

// Array.from and a typed array's from of an array-like (no iterator) copy `length` elements in one loop before any JavaScript runs
// again (a typed array made of {length: 5e7}: 3.9 s in one call).
// What they read (whether there is an iterator, the length) is what V8
// sees: an array-like goes through a pinned view, whose every element read
// is a trap (JavaScript, where a stop lands), and an iterator that a getter
// hands out is refused (it could answer V8 otherwise).
function guardArrayLikeSource(items, what) {
  if (typeof items !== 'object' && typeof items !== 'function' || items === null) return items;
  if (items[GUARD_ITERATOR] != null) {
    guardDataProperty(items, GUARD_ITERATOR, what);
    return items;
  }
  const length = guardLengthOf(items);
  if (length > GUARD_MAX_ELEMENTS) guardRefuse(what, length);
  return guardPin(items, { __proto__: null, length, [GUARD_ITERATOR]: undefined });
}

// fn's arguments with the first made a guarded source.
function guardFromArguments(args, what) {
  const copy = [];
  for (let i = 0; i < args.length; i++) copy[i] = args[i];
  if (copy.length > 0) copy[0] = guardArrayLikeSource(copy[0], what);
  return copy;
}

const guardedFrom = Array.from;
guardMethod(Array, 'from', {
  from(items, mapFn = undefined, thisArg = undefined) {
    return ReflectApply(guardedFrom, this, guardFromArguments(arguments, 'Array.from'));
  },
}.from);

const GuardTypedArray = ObjectGetPrototypeOf(Uint8Array);
const guardedTypedArrayFrom = GuardTypedArray.from;
guardMethod(GuardTypedArray, 'from', {
  from(source, mapFn = undefined, thisArg = undefined) {
    return ReflectApply(guardedTypedArrayFrom, this, guardFromArguments(arguments, 'TypedArray.from'));
  },
}.from);

// set(source) reads an array-like (or an array, or a string's characters:
// set('1'.repeat(5e7)) was one call past the hang timeout) element by
// element too.
guardWrap(TypedArrayPrototype, 'set', (self, args) => {
  const source = args[0];
  const type = typeof source;
  const arrayLike = type === 'object' && source !== null && !guardIsTypedArray(source) && !guardIsGenuineArray(source);
  if (arrayLike || (type === 'string' && source.length > GUARD_SHORT_STRING)) {
    const length = guardLengthOf(source);
    if (length > GUARD_MAX_ELEMENTS) guardRefuse('TypedArray.prototype.set', length);
    args[0] = guardPin(GuardObject(source), { __proto__: null, length });
  }
});

// (The typed array constructors read an array-like the same way, but
// stay V8's: replacing them would slow every new Uint8Array(n), and change
// a prototype's constructor, which sends every subarray and slice down
// V8's slow species path. README says so.)

// The next guards bound CPU, not memory: what a builtin may do is sized by
// the CPU time the run has left, plus a grace well inside
// dispatch_hang_timeout (at least 250 ms), at a rate slower than V8's worst
// case on this kind of machine, so that a refused call is one that would
// have run far past the limit, never one that fits.
const GUARD_GRACE_MS = 200;

function guardCpuBudgetMs() {
  return native.cpuLeftMs() + GUARD_GRACE_MS;
}

// JSON.parse of a huge text is one C++ call (40 MB: over a second). Parsing
// runs at 50 MB/s or faster; only texts over 1 MB are measured.
const GUARD_PARSE_BYTES_PER_MS = 50000;
const guardedParse = JSON.parse;

// V8 hashes a string of over 16,383 characters by its length alone, and
// JSON.parse looks each key up in the string table comparing it character
// by character (about 1.3 ns each) with every earlier key of its length:
// 700 distinct 16,400-character keys (11 MB) took 5 s in that one call.
// So the long keys of a text over 1 MB are counted first. Each aligned
// 8,192-character block without a quote lies inside a token at least that
// long, and a token whose closing quote a colon follows is a key (escaped
// backslashes and quotes are masked first, keeping every length).
const GUARD_HASHED_CHARS = 16383;
const GUARD_KEY_BLOCK = 8192;
const GUARD_KEY_COMPARE_NS = 2;
const guardReplaceAll = uncurryThis(String.prototype.replaceAll);
const guardLastIndexOf = uncurryThis(String.prototype.lastIndexOf);

function guardIsJsonSpace(code) {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
}

// The long keys of a JSON text, and a bound on the milliseconds JSON.parse
// would spend comparing them: each with every other, whatever their lengths.
function guardLongKeys(source) {
  let text = source;
  if (StringPrototypeIndexOf(text, '\\') !== -1) {
    text = guardReplaceAll(guardReplaceAll(text, '\\\\', '__'), '\\"', '__');
  }
  const length = text.length;
  let keys = 0;
  let chars = 0;
  for (let block = 0; block + GUARD_KEY_BLOCK <= length;) {
    const close = StringPrototypeIndexOf(text, '"', block);
    if (close === -1) break;
    if (close >= block + GUARD_KEY_BLOCK) {
      let next = close + 1;
      while (next < length && guardIsJsonSpace(StringPrototypeCharCodeAt(text, next))) next++;
      const size = close - guardLastIndexOf(text, '"', block) - 1;
      if (next < length && StringPrototypeCharCodeAt(text, next) === 0x3a && size > GUARD_HASHED_CHARS) {
        keys++;
        chars += size;
      }
    }
    block = (MathFloor(close / GUARD_KEY_BLOCK) + 1) * GUARD_KEY_BLOCK;
  }
  return { __proto__: null, keys, ms: keys * chars / 2 * GUARD_KEY_COMPARE_NS / 1e6 };
}

// Throws the RangeError for a text JSON.parse could not finish in time.
function guardJsonText(source) {
  if (source.length <= 1e6) return;
  if (source.length > guardCpuBudgetMs() * GUARD_PARSE_BYTES_PER_MS) {
    throw new RangeError(`JSON.parse: ${source.length} characters cannot be parsed in the CPU time this request has left`);
  }
  const long = guardLongKeys(source);
  if (long.ms > guardCpuBudgetMs()) {
    throw new RangeError(`JSON.parse: ${long.keys} keys of over ${GUARD_HASHED_CHARS} characters cannot be parsed in the CPU time this request has left`);
  }
}

// JSON.parse for the built-ins' own callers of what a tenant or the
// network hands them (body.json(), KV's 'json', a JWK).
function parseTenantJson(source) {
  guardJsonText(source);
  return JSONParse(source);
}

guardMethod(JSON, 'parse', {
  parse(text, reviver = undefined) {
    // Converted once, here: a toString that answers the guard a short text
    // and V8 a huge one cannot get past it.
    const source = typeof text === 'string' ? text : `${text}`;
    guardJsonText(source);
    return ReflectApply(guardedParse, this, arguments.length > 1 ? [source, reviver] : [source]);
  },
}.parse);

// %TypedArray%.prototype.sort without a comparator sorts in C++ (4e6
// elements: about a second). At most 10 ns per element and comparison.
// Its own count, not its `length` property: an own `length` of 1 made the
// guard pass 2e7 elements to V8 (the last resort).
const GUARD_SORT_NS = 10;
guardWrap(TypedArrayPrototype, 'sort', (self, args) => {
  if (args[0] !== undefined || !guardIsTypedArray(self)) return;  // a comparator calls JavaScript; V8 refuses what is not a typed array
  const length = TypedArrayPrototypeGetLength(self);
  if (length > 1e5 && length * MathLog2(length) * GUARD_SORT_NS / 1e6 > guardCpuBudgetMs()) {
    throw new RangeError(`TypedArray.prototype.sort: ${length} elements cannot be sorted in the CPU time this request has left`);
  }
});

// toLocaleString of an array or a typed array formats every element in one
// Torque loop, and a number's, BigInt's or Date's toLocaleString is ICU in
// C++: no JavaScript runs, so no stop request is seen (a Uint8Array(1e7)
// or an Array of 4e6 numbers: past dispatch_hang_timeout, the worker
// exits). Each element takes about 0.5-2 us with the default locale, and
// 25-75 us with locales or options (a formatter made per element). At most
// 5 us, or 200 us with either argument, per element.
const GUARD_LOCALE_NS = 5000;
const GUARD_LOCALE_OPTIONS_NS = 200000;
function guardLocaleWork(length, args, what) {
  const ns = args[0] === undefined && args[1] === undefined ? GUARD_LOCALE_NS : GUARD_LOCALE_OPTIONS_NS;
  const ms = length * ns / 1e6;
  if (ms > GUARD_GRACE_MS && ms > guardCpuBudgetMs()) {
    throw new RangeError(`${what}: ${length} elements cannot be formatted in the CPU time this request has left`);
  }
}
guardWrap(Array.prototype, 'toLocaleString', (self, args) => {
  if (args.length > 0) args[0] = guardLocaleList(args[0]);
  const view = guardReceiver(self, 'Array.prototype.toLocaleString');
  guardLocaleWork(guardLengthOf(view), args, 'Array.prototype.toLocaleString');
  return view;
});
guardWrap(TypedArrayPrototype, 'toLocaleString', (self, args) => {
  if (args.length > 0) args[0] = guardLocaleList(args[0]);
  if (guardIsTypedArray(self)) {
    guardLocaleWork(TypedArrayPrototypeGetLength(self), args, 'TypedArray.prototype.toLocaleString');
  }
});

// V8 10.2 looks at a stop request when a JavaScript function is entered,
// and inside a loop only every ~135 KB of bytecode run; a call of a C++
// builtin is neither. A loop calling one of these on megabytes each time
// (toUpperCase of a two-byte string, localeCompare, normalize, a
// Collator's compare, BigInt.asUintN of a huge BigInt) ran for seconds
// past a stop, and so did sort or filter handed one of them as the
// callback. Called through a function of ours, each call is a point where
// a stop lands (t/69-attack-findings-9.t).
//
// A locale list is canonicalized in one C++ loop too (2e6 locales: over a
// second): one is a few tags, at most GUARD_MAX_LOCALES here, copied once
// (a getter cannot answer the guard one length and V8 another).
const GUARD_MAX_LOCALES = 256;
function guardLocaleList(locales) {
  if (locales === undefined || typeof locales === 'string' || locales === null) return locales;
  if (typeof locales !== 'object' && typeof locales !== 'function') return locales;
  if (!ArrayIsArray(locales) && guardIsLocale(locales)) return locales;
  const length = guardLengthOf(locales);
  if (length > GUARD_MAX_LOCALES) {
    throw new RangeError(`Intl: ${length} locales are too many (at most ${GUARD_MAX_LOCALES})`);
  }
  const copy = [];
  for (let k = 0; k < length; k++) if (k in locales) copy[k] = locales[k];
  copy.length = length;
  return copy;
}

// An Intl.Locale stands for one locale (V8 reads its tag, not a list).
const guardLocaleToString = uncurryThis(Intl.Locale.prototype.toString);
function guardIsLocale(value) {
  try {
    guardLocaleToString(value);
    return true;
  } catch {
    return false;
  }
}

// target[name] through a function of ours; the argument at localesAt, if
// given, is a locale list.
function guardInterruptible(target, name, localesAt = -1) {
  if (typeof target[name] !== 'function') return;
  guardWrap(target, name, localesAt < 0 ? guardNothing : (self, args) => {
    if (args.length > localesAt) args[localesAt] = guardLocaleList(args[localesAt]);
  });
}
function guardNothing() {}
guardInterruptible(String.prototype, 'localeCompare', 1);
guardInterruptible(String.prototype, 'toLocaleUpperCase', 0);
guardInterruptible(String.prototype, 'toLocaleLowerCase', 0);
for (const name of ['normalize', 'toUpperCase', 'toLowerCase']) guardInterruptible(String.prototype, name);
for (const name of ['encodeURI', 'encodeURIComponent', 'decodeURI', 'decodeURIComponent', 'escape', 'unescape']) {
  guardInterruptible(globalThis, name);
}
guardInterruptible(BigInt, 'asUintN');
guardInterruptible(BigInt, 'asIntN');
guardInterruptible(Number.prototype, 'toLocaleString', 0);
guardInterruptible(BigInt.prototype, 'toLocaleString', 0);
for (const name of ['toLocaleString', 'toLocaleDateString', 'toLocaleTimeString']) {
  guardInterruptible(Date.prototype, name, 0);
}
guardInterruptible(Intl, 'getCanonicalLocales', 0);

// Each call of these walks all of its input in C++, milliseconds on what a
// script can build in a fraction of its CPU limit, and a loop of them (or
// a filter or map handed one) ran on past the stop: a frozen object of
// 3e5 properties each time asked isFrozen, frozen again, or asked its
// symbols (dictionary properties are walked, not cached); a typed array of
// 6e7 elements searched, filled, reversed or copied within; a BigInt of
// millions of bits made a string; the time zones of
// Intl.supportedValuesOf; Date.parse of a string of megabytes
// (t/69-attack-findings-9.t).
for (const name of ['freeze', 'seal', 'preventExtensions', 'isFrozen', 'isSealed', 'getOwnPropertySymbols']) {
  guardInterruptible(Object, name);
}
for (const name of ['indexOf', 'lastIndexOf', 'includes', 'fill', 'copyWithin', 'reverse']) {
  guardInterruptible(TypedArrayPrototype, name);
}
guardInterruptible(BigInt.prototype, 'toString');
// Spread syntax hands a builtin 1e5 arguments without a call of ours:
// String.fromCodePoint(...codes) builds its string in C++. Past
// GUARD_CODE_POINTS_DIRECT it gets them in pieces (handed on whole, they
// would be on the stack twice: past its limit).
const GUARD_CODE_POINTS_DIRECT = 4096;
const guardedFromCodePoint = String.fromCodePoint;
guardMethod(String, 'fromCodePoint', {
  fromCodePoint(codePoint) {
    const count = arguments.length;
    if (count <= GUARD_CODE_POINTS_DIRECT) return ReflectApply(guardedFromCodePoint, this, arguments);
    let result = '';
    for (let start = 0; start < count; start += GUARD_CODE_POINTS_DIRECT) {
      const end = MathMin(count, start + GUARD_CODE_POINTS_DIRECT);
      const piece = listNew();
      for (let k = start; k < end; k++) piece[k - start] = arguments[k];
      result += ReflectApply(guardedFromCodePoint, this, piece);
    }
    return result;
  },
}.fromCodePoint);
guardInterruptible(Intl, 'supportedValuesOf');
guardInterruptible(Date, 'parse');
guardInterruptible(Error, 'captureStackTrace');

// An Intl.Locale's lists are made by ICU on every read (timeZones: a loop
// of reads ran 5 s past a stop), and __lookupGetter__/__lookupSetter__ walk
// the whole prototype chain in C++ (one of 1e5 objects: a millisecond a
// call): each read or call is a function of ours.
function guardInterruptibleGetter(prototype, name) {
  const descriptor = ObjectGetOwnPropertyDescriptor(prototype, name);
  if (descriptor === undefined || typeof descriptor.get !== 'function') return;
  const getter = descriptor.get;
  const guarded = ObjectGetOwnPropertyDescriptor({
    get [name]() { return ReflectApply(getter, this, []); },
  }, name).get;
  ObjectDefineProperty(prototype, name, {
    get: guarded, set: descriptor.set, enumerable: descriptor.enumerable, configurable: true,
  });
  guardRemember(guarded, getter);
}
for (const name of ['calendars', 'collations', 'hourCycles', 'numberingSystems', 'textInfo', 'timeZones', 'weekInfo']) {
  guardInterruptibleGetter(Intl.Locale.prototype, name);
}
guardInterruptible(Object.prototype, '__lookupGetter__');
guardInterruptible(Object.prototype, '__lookupSetter__');

// WebAssembly.validate decodes the whole module in C++ (2e7 bytes of
// code: tens of milliseconds a call). WebAssembly appears late (prelude.js).
// WebAssembly.Module.exports and imports make an object for each of up to
// 100,000 entries in one C++ call (~20 ms), and a loop of them ran past
// the stop until the worker ended.
// WebAssembly.Module.customSections decodes every custom section's name and
// copies each match into an ArrayBuffer in one C++ call, more than linearly
// (the ArrayBuffers' bookkeeping): 600,000 empty sections (a 2.4 MB module)
// took over a second, past dispatch_hang_timeout. A module's sections
// (counted as the engine compiled it) are sized by the CPU time left.
const GUARD_CUSTOM_SECTIONS_PER_MS = 200;
lateStep(() => {
  if (typeof WebAssembly !== 'object' || WebAssembly === null) return false;
  guardInterruptible(WebAssembly, 'validate');
  guardInterruptible(WebAssembly.Module, 'exports');
  guardInterruptible(WebAssembly.Module, 'imports');
  guardWrap(WebAssembly.Module, 'customSections', (self, args) => {
    const count = native.wasmCustomSections(args[0]);
    if (count > guardCpuBudgetMs() * GUARD_CUSTOM_SECTIONS_PER_MS) {
      throw new RangeError(`WebAssembly.Module.customSections: a module of ${count} custom sections `
        + 'cannot be read within the CPU time this request has left');
    }
  });
  return true;
});

// A Segments object's containing(i) and each step of its iterator look for
// the next break in C++, through the whole text when there is none (a
// sentence of 1e7 characters: 80 ms a call). Its prototype is only reached
// through a Segments object: it is guarded when segment() makes the first.
let guardSegmentsDone = false;
function guardSegments(segments) {
  if (guardSegmentsDone) return;
  guardSegmentsDone = true;
  const prototype = ObjectGetPrototypeOf(segments);
  guardInterruptible(prototype, 'containing');
  guardInterruptible(prototype, GUARD_ITERATOR);
}

// new Date(string) parses in C++ to the end of what it is handed (a comment
// of megabytes): the constructor is a function of ours too. Called without
// new, Date ignores its arguments and answers a string. new Date() and
// new Date(x) construct directly: through Reflect.construct every Date
// cost 290 ns instead of 60.
const GuardedDate = Date;
const DateStandIn = function (value) {
  if (new.target === undefined) return ReflectApply(GuardedDate, undefined, []);
  if (new.target === DateStandIn) {
    if (arguments.length === 0) return new GuardedDate();
    if (arguments.length === 1) return new GuardedDate(value);
  }
  return guardedReflectConstruct(GuardedDate, arguments, new.target);
};
guardConstructorAs(globalThis, 'Date', GuardedDate, DateStandIn);

// String.raw reads raw.length segments in one C++ loop (a raw array-like
// of length 1e8, or a Uint8Array(5e7): seconds in one call): it is done
// here, as the language defines it, each segment a turn of a loop of ours.
const guardedRaw = String.raw;
guardMethod(String, 'raw', {
  raw(template, ...substitutions) {
    if (template === undefined || template === null) return ReflectApply(guardedRaw, String, [template]);
    const literals = template.raw;
    if (literals === undefined || literals === null) return ReflectApply(guardedRaw, String, [{ raw: literals }]);
    const length = MathMin(MathMax(guardToIntegerOrInfinity(literals.length), 0), 2 ** 53 - 1);
    let result = '';
    for (let i = 0; i < length; i++) {
      result += `${literals[i]}`;
      if (i + 1 < length && i < substitutions.length) result += `${substitutions[i]}`;
    }
    return result;
  },
}.raw);

// Each Intl service: supportedLocalesOf takes a locale list (the
// constructors are guarded in memory_guards.js), and its methods convert
// what they are handed (a number of a million digits) in C++.
const GUARD_INTL_METHODS = {
  Collator: [],
  DateTimeFormat: ['formatToParts', 'formatRange', 'formatRangeToParts'],
  DisplayNames: ['of'],
  ListFormat: [],
  NumberFormat: ['formatToParts', 'formatRange', 'formatRangeToParts'],
  PluralRules: ['select', 'selectRange'],
  RelativeTimeFormat: ['format', 'formatToParts'],
  Segmenter: [],
};
const GUARD_INTL_SERVICES = ReflectOwnKeys(GUARD_INTL_METHODS);
for (let i = 0; i < GUARD_INTL_SERVICES.length; i++) {
  const service = Intl[GUARD_INTL_SERVICES[i]];
  if (typeof service !== 'function') continue;
  guardInterruptible(service, 'supportedLocalesOf', 0);
  const methods = GUARD_INTL_METHODS[GUARD_INTL_SERVICES[i]];
  for (let j = 0; j < methods.length; j++) guardInterruptible(service.prototype, methods[j]);
}

// A ListFormat formats its whole list in one ICU call (2e6 items: over half
// a second): the list is read here, in JavaScript, and sized by the CPU
// time left at 1 us an item.
const GUARD_LIST_ITEM_NS = 1000;
for (const name of ['format', 'formatToParts']) {
  const original = Intl.ListFormat.prototype[name];
  guardMethod(Intl.ListFormat.prototype, name, {
    [name](list) {
      if (list === undefined) return ReflectApply(original, this, arguments);
      const items = listNew();
      for (const item of list) listPush(items, item);
      const ms = items.length * GUARD_LIST_ITEM_NS / 1e6;
      if (ms > GUARD_GRACE_MS && ms > guardCpuBudgetMs()) {
        throw new RangeError(`Intl.ListFormat.prototype.${name}: ${items.length} items cannot be formatted in the CPU time this request has left`);
      }
      return ReflectApply(original, this, [listToArray(items)]);
    },
  }[name]);
}

// A Collator's compare, a NumberFormat's and a DateTimeFormat's format are
// bound C++ builtins, the same function each time one is read: so is each
// one's stand-in.
const GUARD_BOUND_STAND_INS = new WeakMap();
function guardBoundGetter(prototype, name) {
  const getter = ObjectGetOwnPropertyDescriptor(prototype, name).get;
  const guarded = ObjectGetOwnPropertyDescriptor({
    get [name]() {
      const bound = ReflectApply(getter, this, []);
      let standIn = WeakMapPrototypeGet(GUARD_BOUND_STAND_INS, bound);
      if (standIn === undefined) {
        standIn = (...args) => ReflectApply(bound, undefined, args);
        ObjectDefineProperty(standIn, 'name', { value: '', configurable: true });
        ObjectDefineProperty(standIn, 'length', { value: bound.length, configurable: true });
        WeakMapPrototypeSet(GUARD_BOUND_STAND_INS, bound, standIn);
      }
      return standIn;
    },
  }, name).get;
  ObjectDefineProperty(prototype, name, { get: guarded, set: undefined, enumerable: false, configurable: true });
  guardRemember(guarded, getter);
}
guardBoundGetter(Intl.Collator.prototype, 'compare');
guardBoundGetter(Intl.NumberFormat.prototype, 'format');
guardBoundGetter(Intl.DateTimeFormat.prototype, 'format');

// String.prototype.repeat, padStart and padEnd make a string that is cheap
// to build and flattened later in one C++ call that no termination reaches;
// one longer than the memory limit could hold is refused up front. (A
// receiver that is not a string is made one first, and that is repeated.)
guardWrap(String.prototype, 'repeat', (self, args) => {
  if (self === undefined || self === null) return undefined;  // the builtin's TypeError
  const text = typeof self === 'string' ? self : `${self}`;
  const count = guardToIntegerOrInfinity(args[0]);
  args[0] = count;  // what the original is called with: read once
  if (text.length * count > native.memoryLimit) {
    throw new RangeError(`String.prototype.repeat: ${text.length * count} characters cannot fit this script's memory limit`);
  }
  return text;
});
// (The length is read once, here, and handed on: a valueOf answering the
// guard 1 and V8 2 ** 29 made a 536M-character string, 0.8 s of one call.)
for (const name of ['padStart', 'padEnd']) {
  guardWrap(String.prototype, name, (self, args) => {
    if (self === undefined || self === null) return undefined;  // the builtin's TypeError
    const text = typeof self === 'string' ? self : `${self}`;
    const length = guardToIntegerOrInfinity(args[0]);
    args[0] = length;  // what the original is called with
    if (length > native.memoryLimit) {
      throw new RangeError(`String.prototype.${name}: the result cannot fit this script's memory limit`);
    }
    return text;
  });
}

// split, replace, replaceAll, match and matchAll walk the whole string in
// one C++ call (a global regexp over 1e8 characters: seconds). Texts over
// 1M characters are sized by the CPU time the request has left, at 20
// characters a microsecond.
// A receiver that is not a string (a String object, an object whose
// toString gives megabytes) is made one here, once, and that string is what
// V8 walks: it went past the guard unmeasured, to the last resort. So do
// RegExp.prototype's [Symbol.replace], [Symbol.split], [Symbol.match] and
// [Symbol.matchAll], which these call and a script may call itself
// (/a/g[Symbol.replace](text, 'b') over 8e6 characters: the last resort).
const GUARD_TEXT_CHARS_PER_MS = 20000;
function guardText(value, what) {
  const text = typeof value === 'string' ? value : `${value}`;
  if (text.length > 1e6 && text.length > guardCpuBudgetMs() * GUARD_TEXT_CHARS_PER_MS) {
    throw new RangeError(`${what}: ${text.length} characters cannot be walked in the CPU time this request has left`);
  }
  return text;
}
for (const name of ['split', 'replace', 'replaceAll', 'match', 'matchAll']) {
  guardWrap(String.prototype, name, (self) => {
    if (self === undefined || self === null) return undefined;  // the builtin throws its TypeError
    return guardText(self, `String.prototype.${name}`);
  });
}
for (const symbol of [Symbol.split, Symbol.replace, Symbol.match, Symbol.matchAll]) {
  const what = `RegExp.prototype[${symbol.description}]`;
  guardWrap(RegExp.prototype, symbol, (self, args) => {
    if (self === null || (typeof self !== 'object' && typeof self !== 'function')) return;  // the builtin's TypeError
    args[0] = guardText(args[0], what);  // what the original is called with
  });
}

// String.prototype.lastIndexOf searches backwards naively: a pattern that
// matches all but its last character everywhere costs the text's length
// times the pattern's (2e5 x 1e5 characters: seconds) in one C++ call. At
// a million character comparisons a millisecond. The receiver and the
// pattern are made strings here, once, and those are searched: a String
// object or an object whose toString gave the text went past the guard
// unmeasured (6 s, the last resort).
const GUARD_COMPARES_PER_MS = 1e6;
guardWrap(String.prototype, 'lastIndexOf', (self, args) => {
  if (self === undefined || self === null) return undefined;  // the builtin's TypeError
  const text = typeof self === 'string' ? self : `${self}`;
  const pattern = typeof args[0] === 'string' ? args[0] : `${args[0]}`;
  args[0] = pattern;  // what the original is called with
  const work = text.length * pattern.length;
  if (pattern.length > 1000 && work > guardCpuBudgetMs() * GUARD_COMPARES_PER_MS) {
    throw new RangeError(`String.prototype.lastIndexOf: a ${pattern.length}-character pattern in ${text.length} characters cannot be searched in the CPU time this request has left`);
  }
  return text;
});
