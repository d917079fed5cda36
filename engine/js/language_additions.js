// What the V8 of Workers has and V8 10.2 lacks, of the language's own
// library (ES2023-2025): libraries bundled for Workers call these without
// polyfills (esbuild lowers syntax, never library calls). Array and typed
// array copies (toSorted, toReversed, toSpliced, with), Object.groupBy and
// Map.groupBy, Promise.withResolvers, Array.fromAsync,
// String.prototype.isWellFormed/toWellFormed and the Set methods (union,
// intersection, ...). Each is a non-enumerable method as V8 defines them.
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

defineMissing(Promise, {
  withResolvers() {
    let resolve;
    let reject;
    const promise = new this((res, rej) => { resolve = res; reject = rej; });
    return { promise, resolve, reject };
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
