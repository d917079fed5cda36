// What the V8 of Workers has and V8 10.2 lacks, of the language's own
// library (ES2023-2025): libraries bundled for Workers call these without
// polyfills (esbuild lowers syntax, never library calls). Array and typed
// array copies (toSorted, toReversed, toSpliced, with), Object.groupBy and
// Map.groupBy, Promise.withResolvers, Promise.try, Array.fromAsync,
// String.prototype.isWellFormed/toWellFormed and the Set methods (union,
// intersection, ...), the iterator helpers (Iterator, Iterator.from, map, ...),
// explicit resource management (Symbol.dispose, DisposableStack, ...) and
// Uint8Array to and from base64 and hex (toBase64, fromBase64, setFromBase64,
// toHex, fromHex, setFromHex), RegExp.escape and Error.isError. Each is a non-enumerable
// method as V8 defines them.
// They work on the tenant's own values only: no engine state is reachable
// from them, so where the standard calls a method of its argument they do
// too, as the standard says.

const ArrayPrototypeSortOf = uncurryThis(Array.prototype.sort);
const TypedArrayPrototypeSort = uncurryThis(TypedArrayPrototype.sort);
const SetPrototypeHas = uncurryThis(Set.prototype.has);
const SetPrototypeAdd = uncurryThis(Set.prototype.add);
const SetPrototypeDelete = uncurryThis(Set.prototype.delete);
const SetPrototypeValues = uncurryThis(Set.prototype.values);
const SetPrototypeGetSize = uncurryThis(ObjectGetOwnPropertyDescriptor(Set.prototype, 'size').get);
const SetIteratorNext = uncurryThis(ObjectGetPrototypeOf(new Set().values()).next);
// (MapPrototypeGet, MapPrototypeSet: events.js; ObjectGetPrototypeOf: runaway_guards.js)
const BigIntOf = BigInt;
const ObjectCreate = Object.create;
const MAX_ARRAY_LENGTH = 2 ** 32 - 1;
const MAX_SAFE_LENGTH = 2 ** 53 - 1;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const TYPED_ARRAYS = {
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
};

function toIntegerOrInfinity(value) {
  const number = +value;
  if (number !== number || number === 0) return 0;
  return MathTrunc(number);
}

function lengthOfArrayLike(object) {
  const length = toIntegerOrInfinity(object.length);
  return length <= 0 ? 0 : MathMin(length, MAX_SAFE_LENGTH);
}

function relativeIndex(value, length, whenUndefined) {
  if (value === undefined) return whenUndefined;
  const relative = toIntegerOrInfinity(value);
  if (relative < 0) return MathMax(length + relative, 0);
  return MathMin(relative, length);
}

function checkComparator(comparefn) {
  if (comparefn !== undefined && typeof comparefn !== 'function') {
    throw new TypeError('The comparison function must be either a function or undefined');
  }
}

function arrayOfLength(length) {
  if (length > MAX_ARRAY_LENGTH) throw new RangeError('Invalid array length');
  return new Array(length);
}

function toObject(value, method) {
  if (value === undefined || value === null) throw new TypeError(`${method} called on null or undefined`);
  return Object(value);
}

// The typed array `this` is, checked as the standard's ValidateTypedArray,
// and a new one of the same kind (never the species) with `length` elements.
function typedArraySameType(array, length) {
  const name = TypedArrayPrototypeGetSymbolToStringTag(array);
  if (name === undefined) throw new TypeError('this is not a typed array.');
  return new TYPED_ARRAYS[name](length);
}

function defineMethods(target, methods) {
  const names = ReflectOwnKeys(methods);
  for (let i = 0; i < names.length; i++) {
    ObjectDefineProperty(target, names[i], {
      value: methods[names[i]], writable: true, enumerable: false, configurable: true,
    });
  }
}

function defineMissing(target, methods) {
  const names = ReflectOwnKeys(methods);
  const missing = {};
  for (let i = 0; i < names.length; i++) {
    if (!(names[i] in target)) {
      ObjectDefineProperty(missing, names[i], ObjectGetOwnPropertyDescriptor(methods, names[i]));
    }
  }
  defineMethods(target, missing);
}

// The keys of another set-like (the standard's GetSetRecord): its size,
// has and keys, checked before any is used.
function setRecord(other) {
  if (!isObject(other)) throw new TypeError('The argument must be an object');
  const rawSize = +other.size;
  if (rawSize !== rawSize) throw new TypeError("The 'size' property must be a number");
  const size = toIntegerOrInfinity(rawSize);
  if (size < 0) throw new RangeError("The 'size' property must not be negative");
  const has = other.has;
  if (typeof has !== 'function') throw new TypeError("The 'has' property must be a function");
  const keys = other.keys;
  if (typeof keys !== 'function') throw new TypeError("The 'keys' property must be a function");
  return { set: other, size, has, keys };
}

function setRecordHas(record, value) {
  return !!FunctionPrototypeCallOn(record.has, record.set, value);
}

// Calls each(value) for each key of the record until it returns true;
// returns whether one did (the iterator is closed then).
function someKeyOf(record, each) {
  const iterator = FunctionPrototypeCallOn(record.keys, record.set);
  if (!isObject(iterator)) throw new TypeError('keys() must return an object');
  const next = iterator.next;
  for (;;) {
    const step = FunctionPrototypeCallOn(next, iterator);
    if (!isObject(step)) throw new TypeError('The iterator result must be an object');
    if (step.done) return false;
    if (each(step.value)) {
      const close = iterator.return;
      if (close !== undefined && close !== null) FunctionPrototypeCallOn(close, iterator);
      return true;
    }
  }
}

// Calls each(value) for the elements of set `this` as they are now (ones
// added meanwhile are visited, as a Set's own iterator does) until it
// returns true; returns whether one did.
function someElementOf(set, each) {
  const iterator = SetPrototypeValues(set);
  for (;;) {
    const step = SetIteratorNext(iterator);
    if (step.done) return false;
    if (each(step.value)) return true;
  }
}

function copyOfSet(set) {
  const copy = new Set();
  someElementOf(set, (value) => { SetPrototypeAdd(copy, value); return false; });
  return copy;
}

defineMissing(Array.prototype, {
  toSorted(comparefn) {
    checkComparator(comparefn);
    const object = toObject(this, 'Array.prototype.toSorted');
    const length = lengthOfArrayLike(object);
    const copy = arrayOfLength(length);
    for (let k = 0; k < length; k++) copy[k] = object[k];
    return ArrayPrototypeSortOf(copy, comparefn);
  },
  toReversed() {
    const object = toObject(this, 'Array.prototype.toReversed');
    const length = lengthOfArrayLike(object);
    const copy = arrayOfLength(length);
    for (let k = 0; k < length; k++) copy[k] = object[length - 1 - k];
    return copy;
  },
  toSpliced(start, skipCount, ...items) {
    const object = toObject(this, 'Array.prototype.toSpliced');
    const length = lengthOfArrayLike(object);
    const actualStart = relativeIndex(start, length, 0);
    let skip;
    if (arguments.length === 0) skip = 0;
    else if (arguments.length === 1) skip = length - actualStart;
    else skip = MathMin(MathMax(toIntegerOrInfinity(skipCount), 0), length - actualStart);
    const newLength = length + items.length - skip;
    if (newLength > MAX_SAFE_LENGTH) throw new TypeError('Invalid array length');
    const copy = arrayOfLength(newLength);
    let i = 0;
    for (let k = 0; k < actualStart; k++) copy[i++] = object[k];
    for (let k = 0; k < items.length; k++) copy[i++] = items[k];
    for (let k = actualStart + skip; k < length; k++) copy[i++] = object[k];
    return copy;
  },
  with(index, value) {
    const object = toObject(this, 'Array.prototype.with');
    const length = lengthOfArrayLike(object);
    const relative = toIntegerOrInfinity(index);
    const actual = relative >= 0 ? relative : length + relative;
    if (actual >= length || actual < 0) throw new RangeError('Invalid index');
    const copy = arrayOfLength(length);
    for (let k = 0; k < length; k++) copy[k] = k === actual ? value : object[k];
    return copy;
  },
});

defineMissing(TypedArrayPrototype, {
  toSorted(comparefn) {
    checkComparator(comparefn);
    const length = TypedArrayPrototypeGetLength(this);
    const copy = typedArraySameType(this, length);
    TypedArrayPrototypeSet(copy, this);
    return TypedArrayPrototypeSort(copy, comparefn);
  },
  toReversed() {
    const length = TypedArrayPrototypeGetLength(this);
    const copy = typedArraySameType(this, length);
    for (let k = 0; k < length; k++) copy[k] = this[length - 1 - k];
    return copy;
  },
  with(index, value) {
    const length = TypedArrayPrototypeGetLength(this);
    const relative = toIntegerOrInfinity(index);
    const actual = relative >= 0 ? relative : length + relative;
    const name = TypedArrayPrototypeGetSymbolToStringTag(this);
    const converted = name === 'BigInt64Array' || name === 'BigUint64Array' ? BigIntOf(value) : +value;
    if (actual >= TypedArrayPrototypeGetLength(this) || actual < 0) throw new RangeError('Invalid typed array index');
    const copy = typedArraySameType(this, length);
    TypedArrayPrototypeSet(copy, this);
    copy[actual] = converted;
    return copy;
  },
});

defineMissing(Object, {
  groupBy(items, callbackfn) {
    if (typeof callbackfn !== 'function') throw new TypeError('callbackfn must be a function');
    const groups = ObjectCreate(null);
    let k = 0;
    for (const value of items) {
      const key = callbackfn(value, k++);
      const property = typeof key === 'symbol' ? key : `${key}`;
      if (ObjectHasOwn(groups, property)) listPush(groups[property], value);
      else groups[property] = [value];
    }
    return groups;
  },
});

defineMissing(Map, {
  groupBy(items, callbackfn) {
    if (typeof callbackfn !== 'function') throw new TypeError('callbackfn must be a function');
    const groups = new Map();
    let k = 0;
    for (const value of items) {
      let key = callbackfn(value, k++);
      if (key === 0) key = 0;    // -0 is +0 as a key
      const group = MapPrototypeGet(groups, key);
      if (group === undefined) MapPrototypeSet(groups, key, [value]);
      else listPush(group, value);
    }
    return groups;
  },
});

// The standard's NewPromiseCapability(C): a fresh { promise, resolve, reject }.
function newPromiseCapability(C) {
  let resolve;
  let reject;
  const promise = new C((res, rej) => {
    if (resolve !== undefined || reject !== undefined) throw new TypeError('Promise executor has already been invoked with non-undefined arguments');
    resolve = res;
    reject = rej;
  });
  if (typeof resolve !== 'function' || typeof reject !== 'function') throw new TypeError('Promise resolve or reject function is not callable');
  return { promise, resolve, reject };
}

defineMissing(Promise, {
  withResolvers() {
    return newPromiseCapability(this);
  },
  // ES2025: callbackfn(...args) now, its result or exception as a promise of `this`.
  try(callbackfn, ...args) {
    if (!isObject(this)) throw new TypeError('Promise.try called on a non-object');
    const { promise, resolve, reject } = newPromiseCapability(this);
    let value;
    try {
      value = ReflectApply(callbackfn, undefined, args);
    } catch (error) {
      reject(error);
      return promise;
    }
    resolve(value);
    return promise;
  },
});

defineMissing(Array, {
  async fromAsync(asyncItems, mapfn = undefined, thisArg = undefined) {
    if (mapfn !== undefined && typeof mapfn !== 'function') throw new TypeError('mapfn must be a function');
    const out = typeof this === 'function' && this !== Array ? new this() : [];
    let k = 0;
    const put = async (value) => {
      const mapped = mapfn === undefined ? value : await FunctionPrototypeCallOn(mapfn, thisArg, value, k);
      ObjectDefineProperty(out, k++, { value: mapped, writable: true, enumerable: true, configurable: true });
    };
    if (asyncItems === undefined || asyncItems === null) throw new TypeError('asyncItems is not iterable');
    if (asyncItems[SymbolAsyncIterator] != null) {
      for await (const value of asyncItems) await put(value);
    } else if (asyncItems[SymbolIterator] != null) {
      for (const value of asyncItems) await put(await value);
    } else {
      const object = Object(asyncItems);
      const length = lengthOfArrayLike(object);
      for (let i = 0; i < length; i++) await put(await object[i]);
    }
    out.length = k;
    return out;
  },
});

defineMissing(String.prototype, {
  isWellFormed() {
    return RegExpPrototypeExec(LONE_SURROGATE, `${toObject(this, 'String.prototype.isWellFormed')}`) === null;
  },
  toWellFormed() {
    return toUSVString(`${toObject(this, 'String.prototype.toWellFormed')}`);
  },
});

defineMissing(Set.prototype, {
  union(other) {
    SetPrototypeGetSize(this);
    const record = setRecord(other);
    const result = copyOfSet(this);
    someKeyOf(record, (value) => { SetPrototypeAdd(result, value === 0 ? 0 : value); return false; });
    return result;
  },
  intersection(other) {
    const size = SetPrototypeGetSize(this);
    const record = setRecord(other);
    const result = new Set();
    if (size <= record.size) {
      someElementOf(this, (value) => {
        if (setRecordHas(record, value)) SetPrototypeAdd(result, value);
        return false;
      });
    } else {
      someKeyOf(record, (value) => {
        if (SetPrototypeHas(this, value)) SetPrototypeAdd(result, value === 0 ? 0 : value);
        return false;
      });
    }
    return result;
  },
  difference(other) {
    const size = SetPrototypeGetSize(this);
    const record = setRecord(other);
    const result = copyOfSet(this);
    if (size <= record.size) {
      someElementOf(this, (value) => {
        if (setRecordHas(record, value)) SetPrototypeDelete(result, value);
        return false;
      });
    } else {
      someKeyOf(record, (value) => { SetPrototypeDelete(result, value); return false; });
    }
    return result;
  },
  symmetricDifference(other) {
    SetPrototypeGetSize(this);
    const record = setRecord(other);
    const result = copyOfSet(this);
    someKeyOf(record, (value) => {
      const key = value === 0 ? 0 : value;
      if (SetPrototypeHas(this, key)) SetPrototypeDelete(result, key);
      else SetPrototypeAdd(result, key);
      return false;
    });
    return result;
  },
  isSubsetOf(other) {
    const size = SetPrototypeGetSize(this);
    const record = setRecord(other);
    if (size > record.size) return false;
    return !someElementOf(this, (value) => !setRecordHas(record, value));
  },
  isSupersetOf(other) {
    const size = SetPrototypeGetSize(this);
    const record = setRecord(other);
    if (size < record.size) return false;
    return !someKeyOf(record, (value) => !SetPrototypeHas(this, value));
  },
  isDisjointFrom(other) {
    const size = SetPrototypeGetSize(this);
    const record = setRecord(other);
    if (size <= record.size) return !someElementOf(this, (value) => setRecordHas(record, value));
    return !someKeyOf(record, (value) => SetPrototypeHas(this, value));
  },
});

// ---- Iterator helpers (ES2025) ----
//
// The global Iterator, Iterator.from, and map, filter, take, drop, flatMap,
// reduce, toArray, forEach, some, every, find on %IteratorPrototype%, which
// every iterator of the language (arrays, Maps, Sets, strings, generators)
// inherits. The iterator is the tenant's own object: its next and return are
// called as the standard says, through the captured call; argument checks
// that fail, an early stop and an exception of the callback close it
// (call its return), as the standard says. The helper objects are a state
// machine of their own (no generator): %IteratorHelperPrototype%'s next and
// return drive a step and a close function each helper makes.

const ObjectPrototypeIsPrototypeOf = Object.prototype.isPrototypeOf;
const ReflectSet = Reflect.set;
// What a step returns when the iterator is done: no tenant value is this object.
const ITERATION_DONE = {};

function iteratorThis(self, method) {
  if (!isObject(self)) throw new TypeError(`Iterator.prototype.${method} called on a non-object`);
  return self;
}

// IteratorClose with a normal or return completion: return()'s errors go to the caller.
function closeIterator(iterator) {
  const close = iterator.return;
  if (close === undefined || close === null) return;
  if (!isObject(FunctionPrototypeCallOn(close, iterator))) throw new TypeError('The iterator result must be an object');
}

// IteratorClose with a throw completion: `error` wins over anything return() does.
function closeAndThrow(iterator, error) {
  try {
    const close = iterator.return;
    if (close !== undefined && close !== null) FunctionPrototypeCallOn(close, iterator);
  } catch {
    // the first error is the one thrown
  }
  throw error;
}

function callableOrClose(iterator, fn) {
  if (typeof fn !== 'function') closeAndThrow(iterator, new TypeError(`${typeof fn} is not a function`));
}

// IteratorStep: the result object, or ITERATION_DONE.
function iteratorStep(iterator, next) {
  const result = FunctionPrototypeCallOn(next, iterator);
  if (!isObject(result)) throw new TypeError('The iterator result must be an object');
  return result.done ? ITERATION_DONE : result;
}

function iteratorStepValue(iterator, next) {
  const result = iteratorStep(iterator, next);
  return result === ITERATION_DONE ? result : result.value;
}

// GetIteratorFlattenable (without reading next): strings are iterated only for Iterator.from.
function iteratorFlattenable(value, strings) {
  if (!isObject(value) && !(strings && typeof value === 'string')) throw new TypeError(`${typeof value} is not an iterator or iterable`);
  const method = value[SymbolIterator];
  const iterator = method === undefined || method === null ? value : FunctionPrototypeCallOn(method, value);
  if (!isObject(iterator)) throw new TypeError('The iterator must be an object');
  return iterator;
}

// The take and drop limit, as the standard converts it: the iterator is
// closed if that throws or gives NaN or a negative number.
function iteratorLimitOrClose(iterator, limit) {
  let number;
  try {
    number = +limit;
  } catch (error) {
    closeAndThrow(iterator, error);
  }
  const integer = toIntegerOrInfinity(number);
  if (number !== number || integer < 0) closeAndThrow(iterator, new RangeError('The limit must be a non-negative number'));
  return integer;
}

// Calls fn(value, counter) for each value until stop(what fn returned):
// then closes the iterator and returns that value; ITERATION_DONE at the end.
function iterateUntil(self, method, fn, stop) {
  const iterator = iteratorThis(self, method);
  callableOrClose(iterator, fn);
  const next = iterator.next;
  for (let counter = 0; ; counter++) {
    const value = iteratorStepValue(iterator, next);
    if (value === ITERATION_DONE) return value;
    let result;
    try {
      result = fn(value, counter);
    } catch (error) {
      closeAndThrow(iterator, error);
    }
    if (stop(result)) {
      closeIterator(iterator);
      return value;
    }
  }
}

function Iterator() {
  if (new.target === undefined || new.target === Iterator) throw new TypeError('Abstract class Iterator not directly constructable');
}

const HELPER_START = 0;
const HELPER_SUSPENDED = 1;
const HELPER_RUNNING = 2;
const HELPER_DONE = 3;

// %IteratorHelperPrototype%: step() gives the next value or ITERATION_DONE,
// close() closes what the helper iterates (return() while not done).
class IteratorHelper {
  #state = HELPER_START;
  #step;
  #close;

  constructor(step, close) {
    this.#step = step;
    this.#close = close;
  }

  next() {
    if (!isObject(this) || !(#state in this)) throw new TypeError('next called on an object that is not an Iterator Helper');
    if (this.#state === HELPER_RUNNING) throw new TypeError('Iterator Helper is already running');
    if (this.#state === HELPER_DONE) return { value: undefined, done: true };
    this.#state = HELPER_RUNNING;
    let value = ITERATION_DONE;
    try {
      value = this.#step();
    } finally {
      this.#state = value === ITERATION_DONE ? HELPER_DONE : HELPER_SUSPENDED;
    }
    return value === ITERATION_DONE ? { value: undefined, done: true } : { value, done: false };
  }

  return() {
    if (!isObject(this) || !(#state in this)) throw new TypeError('return called on an object that is not an Iterator Helper');
    const state = this.#state;
    if (state === HELPER_RUNNING) throw new TypeError('Iterator Helper is already running');
    if (state !== HELPER_DONE) {
      this.#state = state === HELPER_START ? HELPER_DONE : HELPER_RUNNING;
      try {
        this.#close();
      } finally {
        this.#state = HELPER_DONE;
      }
    }
    return { value: undefined, done: true };
  }
}

// %WrapForValidIteratorPrototype%: what Iterator.from gives for an iterator
// that does not inherit from Iterator.prototype.
class WrappedIterator {
  #iterator;
  #next;

  constructor(iterator, next) {
    this.#iterator = iterator;
    this.#next = next;
  }

  next() {
    return FunctionPrototypeCallOn(this.#next, this.#iterator);
  }

  return() {
    const iterator = this.#iterator;
    const close = iterator.return;
    if (close === undefined || close === null) return { value: undefined, done: true };
    return FunctionPrototypeCallOn(close, iterator);
  }
}

// A helper over the iterator `self`: step(iterator, next) as the helper's
// step, closing the iterator when it returns early.
function iteratorHelper(iterator, step) {
  const next = iterator.next;
  return new IteratorHelper(() => step(iterator, next), () => closeIterator(iterator));
}

// The helper of map and filter: each value `each` maps (or ITERATION_DONE to skip it).
function mappingHelper(self, method, fn, each) {
  const iterator = iteratorThis(self, method);
  callableOrClose(iterator, fn);
  let counter = 0;
  return iteratorHelper(iterator, (_, next) => {
    for (;;) {
      const value = iteratorStepValue(iterator, next);
      if (value === ITERATION_DONE) return value;
      let mapped;
      try {
        mapped = each(value, fn(value, counter++));
      } catch (error) {
        closeAndThrow(iterator, error);
      }
      if (mapped !== ITERATION_DONE) return mapped;
    }
  });
}

if (!('Iterator' in globalThis)) {
  for (const cls of [IteratorHelper, WrappedIterator]) {
    ObjectSetPrototypeOf(cls.prototype, IteratorPrototype);
    delete cls.prototype.constructor;
  }
  setToStringTag(IteratorHelper.prototype, 'Iterator Helper');
  ObjectDefineProperty(Iterator, 'prototype', { value: IteratorPrototype, writable: false });
  defineGlobal('Iterator', Iterator);
  defineMethods(Iterator, {
    from(value) {
      const iterator = iteratorFlattenable(value, true);
      const next = iterator.next;
      if (FunctionPrototypeCallOn(ObjectPrototypeIsPrototypeOf, IteratorPrototype, iterator)) return iterator;
      return new WrappedIterator(iterator, next);
    },
  });
  // constructor and @@toStringTag are accessors, as ES2025 has them: a
  // setter that writes an own property of the object it is called on
  // (SetterThatIgnoresPrototypeProperties), never of Iterator.prototype.
  const ignoringPrototype = (self, key, value) => {
    if (!isObject(self)) throw new TypeError('Cannot set a property of a non-object');
    if (self === IteratorPrototype) throw new TypeError('Cannot assign to this property of Iterator.prototype');
    if (ObjectGetOwnPropertyDescriptor(self, key) === undefined) {
      ObjectDefineProperty(self, key, { value, writable: true, enumerable: true, configurable: true });
    } else if (!ReflectSet(self, key, value)) {
      throw new TypeError('Cannot assign to a read only property');
    }
  };
  const accessors = {
    get constructor() { return Iterator; },
    set constructor(value) { ignoringPrototype(this, 'constructor', value); },
    get [SymbolToStringTag]() { return 'Iterator'; },
    set [SymbolToStringTag](value) { ignoringPrototype(this, SymbolToStringTag, value); },
  };
  for (const key of ['constructor', SymbolToStringTag]) {
    const { get, set } = ObjectGetOwnPropertyDescriptor(accessors, key);
    ObjectDefineProperty(IteratorPrototype, key, { get, set, enumerable: false, configurable: true });
  }
}

defineMissing(IteratorPrototype, {
  map(mapper) {
    return mappingHelper(this, 'map', mapper, (value, mapped) => mapped);
  },
  filter(predicate) {
    return mappingHelper(this, 'filter', predicate, (value, selected) => (selected ? value : ITERATION_DONE));
  },
  take(limit) {
    const iterator = iteratorThis(this, 'take');
    let remaining = iteratorLimitOrClose(iterator, limit);
    return iteratorHelper(iterator, (_, next) => {
      if (remaining === 0) {
        closeIterator(iterator);
        return ITERATION_DONE;
      }
      if (remaining !== Infinity) remaining--;
      return iteratorStepValue(iterator, next);
    });
  },
  drop(limit) {
    const iterator = iteratorThis(this, 'drop');
    let remaining = iteratorLimitOrClose(iterator, limit);
    return iteratorHelper(iterator, (_, next) => {
      while (remaining > 0) {
        if (remaining !== Infinity) remaining--;
        if (iteratorStep(iterator, next) === ITERATION_DONE) return ITERATION_DONE;
      }
      return iteratorStepValue(iterator, next);
    });
  },
  flatMap(mapper) {
    const iterator = iteratorThis(this, 'flatMap');
    callableOrClose(iterator, mapper);
    const next = iterator.next;
    let counter = 0;
    let inner;
    let innerNext;
    const step = () => {
      for (;;) {
        if (inner === undefined) {
          const value = iteratorStepValue(iterator, next);
          if (value === ITERATION_DONE) return value;
          try {
            inner = iteratorFlattenable(mapper(value, counter++), false);
            innerNext = inner.next;
          } catch (error) {
            inner = undefined;
            closeAndThrow(iterator, error);
          }
        }
        let value;
        try {
          value = iteratorStepValue(inner, innerNext);
        } catch (error) {
          inner = undefined;
          closeAndThrow(iterator, error);
        }
        if (value !== ITERATION_DONE) return value;
        inner = undefined;
      }
    };
    const close = () => {
      const current = inner;
      inner = undefined;
      if (current !== undefined) {
        try {
          closeIterator(current);
        } catch (error) {
          closeAndThrow(iterator, error);
        }
      }
      closeIterator(iterator);
    };
    return new IteratorHelper(step, close);
  },
  reduce(reducer) {
    const iterator = iteratorThis(this, 'reduce');
    callableOrClose(iterator, reducer);
    const next = iterator.next;
    let accumulator = arguments[1];
    let counter = 0;
    if (arguments.length < 2) {
      accumulator = iteratorStepValue(iterator, next);
      if (accumulator === ITERATION_DONE) throw new TypeError('Reduce of empty iterator with no initial value');
      counter = 1;
    }
    for (;;) {
      const value = iteratorStepValue(iterator, next);
      if (value === ITERATION_DONE) return accumulator;
      try {
        accumulator = reducer(accumulator, value, counter++);
      } catch (error) {
        closeAndThrow(iterator, error);
      }
    }
  },
  toArray() {
    const iterator = iteratorThis(this, 'toArray');
    const next = iterator.next;
    const items = listNew();
    for (;;) {
      const value = iteratorStepValue(iterator, next);
      if (value === ITERATION_DONE) return listToArray(items);
      listPush(items, value);
    }
  },
  forEach(fn) {
    iterateUntil(this, 'forEach', fn, () => false);
  },
  some(predicate) {
    return iterateUntil(this, 'some', predicate, (result) => !!result) !== ITERATION_DONE;
  },
  every(predicate) {
    return iterateUntil(this, 'every', predicate, (result) => !result) === ITERATION_DONE;
  },
  find(predicate) {
    const found = iterateUntil(this, 'find', predicate, (result) => !!result);
    return found === ITERATION_DONE ? undefined : found;
  },
});

// ---- Explicit resource management (TC39, ES2026) ----
//
// Symbol.dispose and Symbol.asyncDispose (esbuild's lowering of `using`
// looks them up first), SuppressedError, DisposableStack and
// AsyncDisposableStack, and %IteratorPrototype%[Symbol.dispose] and
// %AsyncIteratorPrototype%[Symbol.asyncDispose]. A stack keeps its
// resources in a list of its own and disposes them last first; the methods
// it calls are the tenant's, with the tenant's values, as the proposal says.

const SymbolDispose = Symbol.dispose || Symbol('Symbol.dispose');
const SymbolAsyncDispose = Symbol.asyncDispose || Symbol('Symbol.asyncDispose');
const ReferenceErrorIntrinsic = ReferenceError;
// (AsyncIteratorPrototype: streams.js)

function defineValue(target, key, value) {
  ObjectDefineProperty(target, key, { value, writable: true, enumerable: false, configurable: true });
}

function SuppressedError(error, suppressed, message) {
  const object = ReflectConstruct(Error, [], new.target === undefined ? SuppressedError : new.target);
  if (message !== undefined) defineValue(object, 'message', `${message}`);
  defineValue(object, 'error', error);
  defineValue(object, 'suppressed', suppressed);
  return object;
}

// GetMethod: undefined for undefined or null, else a function or a TypeError.
function getMethod(value, key) {
  const method = value[key];
  if (method === undefined || method === null) return undefined;
  if (typeof method !== 'function') throw new TypeError(`${typeof key === 'symbol' ? 'The dispose method' : key} is not a function`);
  return method;
}

function requireDisposer(onDispose) {
  if (typeof onDispose !== 'function') throw new TypeError('onDispose must be a function');
  return onDispose;
}

// The resource `value` is (CreateDisposableResource): { value, method }.
// An async stack disposes with Symbol.asyncDispose, else Symbol.dispose
// (whose result is not awaited).
function disposableResource(value, async) {
  if (value === undefined || value === null) return { value: undefined, method: undefined };
  if (!isObject(value)) throw new TypeError('The value to dispose must be an object');
  let method = async ? getMethod(value, SymbolAsyncDispose) : undefined;
  if (method === undefined) {
    const dispose = getMethod(value, SymbolDispose);
    method = async && dispose !== undefined ? async () => { FunctionPrototypeCallOn(dispose, value); } : dispose;
  }
  if (method === undefined) throw new TypeError(`The value has no ${async ? 'Symbol.asyncDispose or ' : ''}Symbol.dispose method`);
  return { value, method };
}

// DisposeResources: the last added first; an error after an earlier one
// becomes a SuppressedError of the two.
function disposeResources(resources) {
  let failed = false;
  let error;
  for (let i = resources.length - 1; i >= 0; i--) {
    try {
      FunctionPrototypeCallOn(resources[i].method, resources[i].value);
    } catch (thrown) {
      error = failed ? new SuppressedError(thrown, error) : thrown;
      failed = true;
    }
  }
  if (failed) throw error;
}

async function disposeResourcesAsync(resources) {
  let failed = false;
  let error;
  let needsAwait = false;
  let hasAwaited = false;
  for (let i = resources.length - 1; i >= 0; i--) {
    const { value, method } = resources[i];
    if (method === undefined) {
      needsAwait = true;    // `await using x = null`: one turn of the loop
      continue;
    }
    try {
      const result = FunctionPrototypeCallOn(method, value);
      hasAwaited = true;
      await result;
    } catch (thrown) {
      error = failed ? new SuppressedError(thrown, error) : thrown;
      failed = true;
    }
  }
  if (needsAwait && !hasAwaited) await undefined;
  if (failed) throw error;
}

// DisposableStack (async false) and AsyncDisposableStack (async true).
function disposableStackClass(name, async) {
  const stackClass = class {
    #disposed = false;
    #resources = listNew();

    get disposed() {
      return this.#disposed;
    }

    use(value) {
      this.#live();
      if (async || (value !== undefined && value !== null)) listPush(this.#resources, disposableResource(value, async));
      return value;
    }

    adopt(value, onDispose) {
      this.#live();
      requireDisposer(onDispose);
      listPush(this.#resources, { value: undefined, method: () => onDispose(value) });
      return value;
    }

    defer(onDispose) {
      this.#live();
      listPush(this.#resources, { value: undefined, method: requireDisposer(onDispose) });
    }

    move() {
      this.#live();
      const moved = new stackClass();
      moved.#resources = this.#resources;
      this.#resources = listNew();
      this.#disposed = true;
      return moved;
    }

    dispose() {
      const resources = this.#take();
      if (resources !== undefined) disposeResources(resources);
    }

    async disposeAsync() {
      const resources = this.#take();
      if (resources !== undefined) await disposeResourcesAsync(resources);
    }

    #live() {
      if (this.#disposed) throw new ReferenceErrorIntrinsic(`${name} already disposed`);
    }

    // The resources to dispose, once: undefined if the stack is disposed already.
    #take() {
      if (this.#disposed) return undefined;
      const resources = this.#resources;
      this.#disposed = true;
      this.#resources = listNew();
      return resources;
    }
  };
  const prototype = stackClass.prototype;
  ObjectDefineProperty(stackClass, 'name', { value: name });
  ReflectDeleteProperty(prototype, async ? 'dispose' : 'disposeAsync');
  defineValue(prototype, async ? SymbolAsyncDispose : SymbolDispose, prototype[async ? 'disposeAsync' : 'dispose']);
  setToStringTag(prototype, name);
  return stackClass;
}

if (!('SuppressedError' in globalThis)) {
  ObjectSetPrototypeOf(SuppressedError, Error);
  ObjectSetPrototypeOf(SuppressedError.prototype, Error.prototype);
  ObjectDefineProperty(SuppressedError, 'prototype', { writable: false });
  defineValue(SuppressedError.prototype, 'name', 'SuppressedError');
  defineValue(SuppressedError.prototype, 'message', '');
  defineGlobal('SuppressedError', SuppressedError);
}
if (!('dispose' in Symbol)) ObjectDefineProperty(Symbol, 'dispose', { value: SymbolDispose });
if (!('asyncDispose' in Symbol)) ObjectDefineProperty(Symbol, 'asyncDispose', { value: SymbolAsyncDispose });
if (!('DisposableStack' in globalThis)) defineGlobal('DisposableStack', disposableStackClass('DisposableStack', false));
if (!('AsyncDisposableStack' in globalThis)) defineGlobal('AsyncDisposableStack', disposableStackClass('AsyncDisposableStack', true));
defineMissing(IteratorPrototype, {
  [SymbolDispose]() {
    const close = getMethod(this, 'return');
    if (close !== undefined) FunctionPrototypeCallOn(close, this);
  },
});
defineMissing(AsyncIteratorPrototype, {
  async [SymbolAsyncDispose]() {
    const close = getMethod(this, 'return');
    if (close !== undefined) await FunctionPrototypeCallOn(close, this, undefined);
  },
});

// ---- Uint8Array to and from base64 and hex (ES2026) ----

// The Uint8Array `this` or an argument is (the standard's ValidateUint8Array).
function validateUint8Array(value) {
  if (TypedArrayPrototypeGetSymbolToStringTag(value) !== 'Uint8Array') throw new TypeError('not a Uint8Array');
  return value;
}

// The alphabet and lastChunkHandling of an options object, read in the
// standard's order (its getters run, as the standard says).
function base64Options(options, withLastChunk) {
  if (options !== undefined && !isObject(options)) throw new TypeError('The options must be an object');
  const alphabet = options === undefined ? undefined : options.alphabet;
  if (alphabet !== undefined && alphabet !== 'base64' && alphabet !== 'base64url') {
    throw new TypeError('alphabet must be "base64" or "base64url"');
  }
  if (!withLastChunk) return { url: alphabet === 'base64url', omitPadding: options !== undefined && !!options.omitPadding };
  const last = options === undefined ? undefined : options.lastChunkHandling;
  if (last !== undefined && last !== 'loose' && last !== 'strict' && last !== 'stop-before-partial') {
    throw new TypeError('lastChunkHandling must be "loose", "strict" or "stop-before-partial"');
  }
  return { url: alphabet === 'base64url', last: last ?? 'loose' };
}

// The standard's FromBase64: at most maxLength bytes of string, how much of
// it was read, and whether it stopped at bad input.
function fromBase64(string, url, last, maxLength) {
  const table = base64Table();
  const length = string.length;
  const bytes = new Uint8Array(MathMin(maxLength, MathFloor((length * 3) / 4) + 3));
  let written = 0;
  let read = 0;
  let chunk = 0;
  let chunkLength = 0;
  const result = (error) => ({ read, bytes: TypedArrayPrototypeSubarray(bytes, 0, written), error });
  // The last 2 or 3 characters: 1 or 2 bytes, the bits left over zero when strict.
  const finalChunk = (strict) => {
    if (chunkLength === 2) {
      if (strict && (chunk & 0xF) !== 0) return false;
      bytes[written++] = chunk >> 4;
    } else {
      if (strict && (chunk & 0x3) !== 0) return false;
      bytes[written++] = chunk >> 10;
      bytes[written++] = (chunk >> 2) & 0xFF;
    }
    return true;
  };
  const skipSpace = (i) => {
    while (i < length && isAsciiWhitespace(StringPrototypeCharCodeAt(string, i))) i++;
    return i;
  };
  if (maxLength === 0) return result(false);
  let index = 0;
  for (;;) {
    index = skipSpace(index);
    if (index === length) {
      if (chunkLength > 0) {
        if (last === 'stop-before-partial') return result(false);
        if (last === 'strict' || chunkLength === 1) return result(true);
        finalChunk(false);
      }
      read = length;
      return result(false);
    }
    const c = StringPrototypeCharCodeAt(string, index++);
    if (c === 0x3D) { // '='
      if (chunkLength < 2) return result(true);
      index = skipSpace(index);
      if (chunkLength === 2) {
        if (index === length) return result(last !== 'stop-before-partial');
        if (StringPrototypeCharCodeAt(string, index) === 0x3D) index = skipSpace(index + 1);
      }
      if (index < length || !finalChunk(last === 'strict')) return result(true);
      read = length;
      return result(false);
    }
    let value = c < 128 ? table[c] : 255;
    if (url ? value === 62 || value === 63 : value >= 64) return result(true);
    if (value === 255) return result(true);
    if (value >= 64) value -= 2; // '-' and '_' of base64url
    const remaining = maxLength - written;
    if ((remaining === 1 && chunkLength === 2) || (remaining === 2 && chunkLength === 3)) return result(false);
    chunk = (chunk << 6) | value;
    if (++chunkLength === 4) {
      bytes[written++] = chunk >> 16;
      bytes[written++] = (chunk >> 8) & 0xFF;
      bytes[written++] = chunk & 0xFF;
      chunk = 0;
      chunkLength = 0;
      read = index;
      if (written === maxLength) return result(false);
    }
  }
}

// The standard's FromHex: pairs of hex digits, at most maxLength bytes.
function fromHex(string, maxLength) {
  const length = string.length;
  const bytes = new Uint8Array(MathMin(maxLength, length >> 1));
  let read = 0;
  let written = 0;
  const digit = (c) => (c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x41 && c <= 0x46 ? c - 0x37
    : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1);
  let error = length % 2 !== 0;
  while (!error && read < length && written < maxLength) {
    const high = digit(StringPrototypeCharCodeAt(string, read));
    const low = digit(StringPrototypeCharCodeAt(string, read + 1));
    if (high < 0 || low < 0) {
      error = true;
      break;
    }
    read += 2;
    bytes[written++] = (high << 4) | low;
  }
  return { read, bytes: TypedArrayPrototypeSubarray(bytes, 0, written), error };
}

function stringArgument(value) {
  if (typeof value !== 'string') throw new TypeError('The input must be a string');
  return value;
}

// Into the Uint8Array target: what was decoded before any error is kept.
function setFrom(target, decoded, what) {
  const bytes = decoded.bytes;
  for (let i = 0; i < TypedArrayPrototypeGetLength(bytes); i++) target[i] = bytes[i];
  if (decoded.error) throw new SyntaxError(`The input is not valid ${what}`);
  return { read: decoded.read, written: TypedArrayPrototypeGetLength(bytes) };
}

const LOWER_HEX_DIGITS = '0123456789abcdef';
let hexPairs = null; // byte -> its two digits; built on first use

defineMissing(Uint8Array, {
  fromBase64(string) {
    stringArgument(string);
    const { url, last } = base64Options(arguments[1], true);
    const decoded = fromBase64(string, url, last, MAX_SAFE_LENGTH);
    if (decoded.error) throw new SyntaxError('The input is not valid base64');
    return new Uint8Array(decoded.bytes);
  },
  fromHex(string) {
    const decoded = fromHex(stringArgument(string), MAX_SAFE_LENGTH);
    if (decoded.error) throw new SyntaxError('The input is not valid hex');
    return new Uint8Array(decoded.bytes);
  },
});

defineMissing(Uint8Array.prototype, {
  toBase64() {
    validateUint8Array(this);
    const { url, omitPadding } = base64Options(arguments[0], false);
    // base64Encode pads base64 and never base64url; the standard pads both
    // unless omitPadding.
    let out = base64Encode(this, url);
    if (omitPadding) {
      let end = out.length;
      while (end > 0 && StringPrototypeCharCodeAt(out, end - 1) === 0x3D) end--;
      return StringPrototypeSlice(out, 0, end);
    }
    while (out.length % 4 !== 0) out += '=';
    return out;
  },
  toHex() {
    validateUint8Array(this);
    if (hexPairs === null) {
      hexPairs = [];
      for (let i = 0; i < 256; i++) hexPairs[i] = LOWER_HEX_DIGITS[i >> 4] + LOWER_HEX_DIGITS[i & 15];
    }
    // In chunks of 8 KiB, as base64Encode builds its string.
    const length = TypedArrayPrototypeGetLength(this);
    let out = '';
    let chunk = '';
    for (let i = 0; i < length; i++) {
      chunk += hexPairs[this[i]];
      if (chunk.length >= 8192) {
        out += chunk;
        chunk = '';
      }
    }
    return out + chunk;
  },
  setFromBase64(string) {
    validateUint8Array(this);
    stringArgument(string);
    const { url, last } = base64Options(arguments[1], true);
    return setFrom(this, fromBase64(string, url, last, TypedArrayPrototypeGetLength(this)), 'base64');
  },
  setFromHex(string) {
    validateUint8Array(this);
    stringArgument(string);
    return setFrom(this, fromHex(string, TypedArrayPrototypeGetLength(this)), 'hex');
  },
});

// ---- Error.isError (ES2026) ----

// Whether a value is an error by its internal slot (native.isError), not by
// its prototype chain or Symbol.toStringTag, which any object can borrow.
if (!('isError' in Error)) {
  defineMethods(Error, {
    isError(value) {
      return native.isError(value);
    },
  });
}

// ---- RegExp.escape (ES2025) ----

// Characters RegExp.escape writes as \xHH or \uHHHH: the punctuators a
// pattern may give meaning to, white space and line terminators.
const REGEXP_ESCAPE_OTHER = ',-=<>#&!%:;@~\'`"\u0020\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007' +
  '\u2008\u2009\u200A\u202F\u205F\u3000\uFEFF\u2028\u2029';
const REGEXP_SYNTAX = '^$\\.*+?()[]{}|/';
const REGEXP_CONTROL = { __proto__: null, 9: 't', 10: 'n', 11: 'v', 12: 'f', 13: 'r' };

function hexEscape(unit, width) {
  return (width === 2 ? '\\x' : '\\u') + StringPrototypePadStart(NumberPrototypeToString(unit, 16), width, '0');
}

if (!('escape' in RegExp)) {
  defineMethods(RegExp, {
    escape(string) {
      if (typeof string !== 'string') throw new TypeError('RegExp.escape takes a string');
      let out = '';
      for (let i = 0; i < string.length; i++) {
        const c = StringPrototypeCharCodeAt(string, i);
        const isLead = c >= 0xD800 && c <= 0xDBFF;
        const next = i + 1 < string.length ? StringPrototypeCharCodeAt(string, i + 1) : 0;
        if (isLead && next >= 0xDC00 && next <= 0xDFFF) {
          out += string[i] + string[i + 1]; // a whole astral code point is itself
          i++;
        } else if (i === 0 && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A))) {
          out += hexEscape(c, 2);
        } else if (StringPrototypeIncludes(REGEXP_SYNTAX, string[i])) {
          out += `\\${string[i]}`;
        } else if (REGEXP_CONTROL[c] !== undefined) {
          out += `\\${REGEXP_CONTROL[c]}`;
        } else if (StringPrototypeIncludes(REGEXP_ESCAPE_OTHER, string[i]) || (c >= 0xD800 && c <= 0xDFFF)) {
          out += hexEscape(c, c <= 0xFF ? 2 : 4);
        } else {
          out += string[i];
        }
      }
      return out;
    },
  });
}
