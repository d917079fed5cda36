// Memory a script can make the engine hold outside V8's heap, where neither
// the heap limit nor the ArrayBuffer allocator sees it: each is charged to
// the isolate's dispatch_memory_limit here, before it is made, and given
// back when the object holding it is collected (native.chargeExternal).
// Past what is left, the constructor throws a RangeError the script can
// catch. These replace the tenant's globals only.

const ReflectConstruct = Reflect.construct;
const ReflectDeleteProperty = Reflect.deleteProperty;
const WASM_PAGE = 65536;

// Copies the static members and the prototype link of a replaced
// constructor, so that instanceof, prototype and statics behave as before.
// call(args), if given, answers a call without new.
function guardConstructor(holder, name, original, construct, call = undefined) {
  // A function expression, not a method: it must be a constructor.
  const guarded = function (...args) {
    if (new.target === undefined && call !== undefined) return call(args);
    return construct(args, new.target === undefined ? original : new.target);
  };
  guardConstructorAs(holder, name, original, guarded);
}

// holder[name] becomes guarded, a constructor standing in for original:
// the same prototype (whose constructor it becomes), name, length and
// statics.
function guardConstructorAs(holder, name, original, guarded) {
  ObjectDefineProperty(guarded, 'name', { value: name, configurable: true });
  ObjectDefineProperty(guarded, 'length', { value: original.length, configurable: true });
  ObjectDefineProperty(guarded, 'prototype', { value: original.prototype, writable: false });
  ObjectDefineProperty(original.prototype, 'constructor', {
    value: guarded, writable: true, enumerable: false, configurable: true,
  });
  const statics = ReflectOwnKeys(original);
  for (let i = 0; i < statics.length; i++) {
    const key = statics[i];
    if (key === 'length' || key === 'name' || key === 'prototype') continue;
    ObjectDefineProperty(guarded, key, ReflectGetOwnPropertyDescriptor(original, key));
  }
  guardMethod(holder, name, guarded);
}

// WebAssembly memories: their pages are a backing store the ArrayBuffer
// allocator never sees. A WebAssembly.Memory is charged its initial pages
// when it is made, and every grow() what it adds before it grows; the
// engine then follows its size after every run, since a memory.grow inside
// Wasm calls no JavaScript (native.trackWasmMemory). An instance's memory
// of its own is charged when the instance is made: its initial pages when
// the module exports it (and followed from then on), else its declared
// maximum, or the whole limit when it declares none, since the engine
// cannot see it grow (native.wasmOwnMemory).
// WebAssembly appears in a context made from the snapshot only once V8
// deserializes it: then lateStart() guards it (prelude.js).
lateStep(() => {
  if (typeof WebAssembly !== 'object' || WebAssembly === null) return false;
  const WasmMemory = WebAssembly.Memory;
  const wasmGrow = WasmMemory.prototype.grow;
  const pagesOf = (value) => {
    const n = +value;
    return n >= 0 && n <= 65536 ? MathTrunc(n) : 65537;  // too many: V8 refuses them anyway
  };
  guardConstructor(WebAssembly, 'Memory', WasmMemory, (args, newTarget) => {
    const memory = ReflectConstruct(WasmMemory, args, newTarget);
    native.trackWasmMemory(memory, 0);
    return memory;
  });
  guardMethod(WasmMemory.prototype, 'grow', {
    grow(delta) {
      native.trackWasmMemory(this, pagesOf(delta) * WASM_PAGE);
      return ReflectApply(wasmGrow, this, arguments);
    },
  }.grow);

  const WasmInstance = WebAssembly.Instance;
  const wasmInstantiate = WebAssembly.instantiate;
  const instanceExports = ReflectGetOwnPropertyDescriptor(WasmInstance.prototype, 'exports').get;
  const chargeInstance = (instance, module) => {
    const own = native.wasmOwnMemory(module);
    if (own === undefined) return;  // no memory of its own
    if (own[1] !== undefined) {
      native.trackWasmMemory(ReflectApply(instanceExports, instance, [])[own[1]], 0);
    } else {
      native.chargeExternal(instance, own[0], false);
    }
  };
  const newInstance = (args, newTarget) => {
    // Its own tables are made whole as it is made: 20 of 10M entries (a
    // module of 100 bytes) ran past dispatch_hang_timeout. The funcref
    // tables it imports grow its own arrays with them, in the one call
    // (Table.grow, Wasm's table.grow) that grows the table for every
    // instance importing it: charged at their largest, as long as it lives,
    // and bounded in entries across the live instances.
    native.wasmTableRoom(args[0]);
    const instance = ReflectConstruct(WasmInstance, args, newTarget);
    native.wasmImportsMade(instance, args[0]);
    chargeInstance(instance, args[0]);
    return instance;
  };
  guardConstructor(WebAssembly, 'Instance', WasmInstance, newInstance);
  // instantiate(module, imports) instantiates at once, through the guard
  // above; instantiate(bytes) would compile, which V8 refuses for scripts.
  guardMethod(WebAssembly, 'instantiate', {
    instantiate(source, imports) {
      if (!native.isWasmModule(source)) return ReflectApply(wasmInstantiate, WebAssembly, arguments);
      try {
        return PromiseResolve(newInstance([source, imports], WasmInstance));
      } catch (e) {
        return PromiseReject(e);
      }
    },
  }.instantiate);
  return true;
});

// Intl: ICU allocates outside V8 (a DateTimeFormat holds tens of KiB), in a
// process-wide allocator no isolate can be charged by. Each object is
// charged an estimate measured on this V8 and ICU (6000 kept
// DateTimeFormats took 350 MB: about 60 KiB each), and one isolate keeps at
// most 2000 of them.
const INTL_ESTIMATES = {
  DateTimeFormat: 64 << 10,
  NumberFormat: 32 << 10,
  Collator: 32 << 10,
  PluralRules: 16 << 10,
  RelativeTimeFormat: 32 << 10,
  ListFormat: 16 << 10,
  DisplayNames: 16 << 10,
  Segmenter: 16 << 10,
  Locale: 4 << 10,
};
if (typeof Intl === 'object' && Intl !== null) {
  const names = ReflectOwnKeys(INTL_ESTIMATES);
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    const original = Intl[name];
    if (typeof original !== 'function') continue;
    const bytes = INTL_ESTIMATES[name];
    guardConstructor(Intl, name, original, (args, newTarget) => {
      // A locale list is read in one C++ loop (runaway_guards.js).
      if (args.length > 0 && name !== 'Locale') args[0] = guardLocaleList(args[0]);
      const object = ReflectConstruct(original, args, newTarget);
      native.chargeExternal(object, bytes, true);
      return object;
    });
  }
}

if (typeof Intl === 'object' && Intl !== null) {
  // V8's own Intl.v8BreakIterator is no standard API (nor on Workers), and
  // adoptText() copies the text into ICU where nothing counts it: gone.
  ReflectDeleteProperty(Intl, 'v8BreakIterator');

  // Intl.Segmenter.prototype.segment(text) copies the text into ICU (two
  // bytes a character) for as long as the Segments object lives.
  if (typeof Intl.Segmenter === 'function') {
    const segment = Intl.Segmenter.prototype.segment;
    guardMethod(Intl.Segmenter.prototype, 'segment', {
      segment(input) {
        const text = `${input}`;
        const segments = ReflectApply(segment, this, [text]);
        native.chargeExternal(segments, text.length * 2 + (16 << 10), true);
        guardSegments(segments);
        return segments;
      },
    }.segment);
  }
}

// A guarded builtin still reads as native code ("function fill() { [native
// code] }"), as libraries that detect native functions by their source
// expect; so does this toString itself.
const guardedToString = Function.prototype.toString;
guardMethod(Function.prototype, 'toString', {
  toString() {
    const original = typeof this === 'function' ? WeakMapPrototypeGet(GUARD_ORIGINALS, this) : undefined;
    return ReflectApply(guardedToString, original === undefined ? this : original, arguments);
  },
}.toString);
