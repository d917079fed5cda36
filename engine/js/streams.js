// The WHATWG Streams Standard as Cloudflare Workers has it: ReadableStream
// (default and byte streams, default and BYOB readers, tee, pipes, async
// iteration, from()), WritableStream, TransformStream, the queuing
// strategies, TextEncoderStream, TextDecoderStream, and Workers'
// IdentityTransformStream and FixedLengthStream. Written from the
// standard's algorithms; the names below follow them.
//
// Every public object keeps its state in one private field holding a
// record: a null-prototype object with all its fields defined when it is
// made, so that neither reading nor assigning a field ever reaches a getter
// or a setter a tenant put on Object.prototype. The algorithms work on the
// records; a record is never handed to tenant code.
//
// Promises. A reaction to a promise (the standard's "upon fulfillment") is
// an `await` in an async function (streamReact): `await` adds the reaction
// inside V8 without looking up `then`, and for a promise whose own
// `constructor` is Promise it looks up nothing at all. So every promise the
// built-ins wait on themselves is made by streamPromise(true), which gives
// it that own, read-only `constructor`; promises handed to tenants are
// plain. The built-ins resolve their own promises only with primitives,
// with frozen null-prototype objects, or through resolveWithObject (which
// takes the object's prototype away while the resolve function looks for
// `then`): resolving with an ordinary object would look up `then` and could
// find a tenant's Object.prototype.then. Promises given to tenants are
// resolved as the standard says ({ value, done } objects included), so a
// tenant's own then can only reach its own promises.
//
// ArrayBuffers cannot be detached from JavaScript here (V8 10.2 has no
// ArrayBuffer.prototype.transfer), so the standard's TransferArrayBuffer
// keeps the buffer: chunks and BYOB views are not detached (see README).

// ---- promises ----

const STREAM_INTERNAL_CONSTRUCTOR = ObjectFreeze({ __proto__: null, value: Promise });

// A promise the built-ins wait on themselves gets an own, read-only
// `constructor` (Promise): awaiting it reads nothing a tenant can change.
function streamInternal(promise) {
  ObjectDefineProperty(promise, 'constructor', STREAM_INTERNAL_CONSTRUCTOR);
  return promise;
}

// { promise, resolve, reject, settled }; internal: see streamInternal.
function streamPromise(internal) {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  if (internal) streamInternal(promise);
  return { __proto__: null, promise, resolve, reject, settled: false };
}

// value must be a primitive (objects go through resolveWithObject).
function streamResolve(record, value) {
  if (record.settled) return;
  record.settled = true;
  record.resolve(value);
}

function streamReject(record, reason) {
  if (record.settled) return;
  record.settled = true;
  record.reject(reason);
}

// Resolves with an object (extensible, without an own `then`, which the
// caller makes sure of) without finding any `then` on its prototype chain.
function resolveWithObject(resolve, object) {
  const prototype = ReflectGetPrototypeOf(object);
  ObjectSetPrototypeOf(object, null);
  try {
    resolve(object);
  } finally {
    ObjectSetPrototypeOf(object, prototype);
  }
}

const ReflectGetPrototypeOf = Reflect.getPrototypeOf;

function streamResolved(internal) {
  const promise = PromiseResolve(undefined);
  return internal ? streamInternal(promise) : promise;
}

function streamRejected(reason, internal) {
  const promise = PromiseReject(reason);
  return internal ? streamInternal(promise) : promise;
}

// The standard's "upon fulfillment / upon rejection" of value (a promise or
// anything else, taken as a promise resolved with it). Neither step may
// throw; the promise this returns is never looked at.
async function streamReact(value, onFulfilled, onRejected) {
  let result;
  try {
    result = await value;
  } catch (error) {
    if (onRejected !== undefined) onRejected(error);
    return;
  }
  if (onFulfilled !== undefined) onFulfilled(result);
}

function streamNoop() {}

// The standard's "set promise.[[PromiseIsHandled]] to true".
function streamMarkHandled(promise) {
  streamReact(promise, undefined, streamNoop);
}

// A fresh internal promise following value: fulfilled with undefined, or
// rejected with its reason.
function streamFollow(value) {
  const record = streamPromise(true);
  streamReact(value, () => streamResolve(record, undefined), (error) => streamReject(record, error));
  return record.promise;
}

// A promise handed to a tenant that settles as the internal `promise` does
// (fulfilled with undefined).
function streamPublic(promise) {
  const record = streamPromise(false);
  streamReact(promise, () => streamResolve(record, undefined), (error) => streamReject(record, error));
  return record.promise;
}

// The standard's "queue a microtask".
async function streamMicrotask(callback) {
  await undefined;
  callback();
}

// Calls a tenant's method as WebIDL calls a callback returning a promise:
// an exception becomes a rejected promise. The result is awaited by the caller.
function streamCallPromise(method, thisArg, args) {
  try {
    return ReflectApply(method, thisArg, args);
  } catch (error) {
    return streamRejected(error, true);
  }
}

// An own data property of a built-in's object, undefined when absent: a
// lookup that reached Object.prototype would run a tenant's getter.
function streamOwn(object, key) {
  const descriptor = ReflectGetOwnPropertyDescriptor(object, key);
  return descriptor === undefined ? undefined : descriptor.value;
}

// ---- queues ----

// A FIFO of values in a null-prototype list; shift() is O(1).
function queueNew() {
  return { __proto__: null, items: listNew(), head: 0 };
}

function queueLength(queue) {
  return queue.items.length - queue.head;
}

function queuePush(queue, value) {
  listPush(queue.items, value);
}

function queuePeek(queue) {
  return queue.items[queue.head];
}

function queueAt(queue, index) {
  return queue.items[queue.head + index];
}

function queueShift(queue) {
  const items = queue.items;
  const value = items[queue.head];
  items[queue.head] = undefined;
  queue.head++;
  if (queue.head === items.length) {
    queue.items = listNew();
    queue.head = 0;
  } else if (queue.head >= 1024 && queue.head * 2 >= items.length) {
    const rest = listNew();
    for (let i = queue.head; i < items.length; i++) listPush(rest, items[i]);
    queue.items = rest;
    queue.head = 0;
  }
  return value;
}

// Takes every value out, in order, as a list.
function queueDrain(queue) {
  const out = listNew();
  for (let i = queue.head; i < queue.items.length; i++) listPush(out, queue.items[i]);
  queue.items = listNew();
  queue.head = 0;
  return out;
}

// The standard's queue-with-sizes, on a controller record (queue, queueTotalSize).
function enqueueValueWithSize(container, value, size) {
  if (typeof size !== 'number' || size !== size || size < 0) {
    throw new RangeError('The size of a chunk must be a non-negative number');
  }
  if (size === Infinity) throw new RangeError('The size of a chunk must be finite');
  queuePush(container.queue, { __proto__: null, value, size });
  container.queueTotalSize += size;
}

function dequeueValue(container) {
  const pair = queueShift(container.queue);
  container.queueTotalSize -= pair.size;
  if (container.queueTotalSize < 0) container.queueTotalSize = 0;
  return pair.value;
}

function resetQueue(container) {
  container.queue = queueNew();
  container.queueTotalSize = 0;
}

// ---- WebIDL conversions the streams use ----

// A dictionary member that must be a callback function, or undefined.
function streamCallback(value, what) {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw new TypeError(`${what} must be a function`);
  return value;
}

// An `object` argument that may be left out (undefined and null mean "none").
function streamOptionalObject(value, what) {
  if (value === undefined || value === null) return null;
  if (!isObject(value)) throw new TypeError(`${what} must be an object`);
  return value;
}

// [EnforceRange] unsigned long long.
function streamEnforceRange(value, what) {
  const number = +value;
  if (number !== number || number === Infinity || number === -Infinity) {
    throw new TypeError(`${what} must be a finite number`);
  }
  const integer = MathTrunc(number) + 0;
  if (integer < 0 || integer > 9007199254740991) throw new TypeError(`${what} is out of range`);
  return integer;
}

// QueuingStrategy -> { highWaterMark: number or undefined, size: function or undefined }.
function streamStrategy(strategy, what) {
  if (strategy === undefined || strategy === null) return { __proto__: null, highWaterMark: undefined, size: undefined };
  if (!isObject(strategy)) throw new TypeError(`${what}: the strategy must be an object`);
  const highWaterMark = strategy.highWaterMark;
  const hwm = highWaterMark === undefined ? undefined : +highWaterMark;
  const size = streamCallback(strategy.size, `${what}: the strategy's size`);
  return { __proto__: null, highWaterMark: hwm, size };
}

function extractHighWaterMark(strategy, defaultHWM) {
  const hwm = strategy.highWaterMark;
  if (hwm === undefined) return defaultHWM;
  if (hwm !== hwm || hwm < 0) throw new RangeError('The highWaterMark must be a non-negative number');
  return hwm;
}

function streamSizeOne() {
  return 1;
}

// The size algorithm calls the tenant's size(chunk) with no `this`; its
// result is an unrestricted double.
function extractSizeAlgorithm(strategy) {
  const size = strategy.size;
  if (size === undefined) return streamSizeOne;
  return (chunk) => +ReflectApply(size, undefined, [chunk]);
}

// ---- the public classes' WebIDL shape ----

// Makes the operations and attributes of a class enumerable, as WebIDL
// does, and sets its Symbol.toStringTag.
function streamInterface(cls, tag) {
  const proto = cls.prototype;
  const keys = ReflectOwnKeys(proto);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    if (key === 'constructor' || typeof key !== 'string') continue;
    ObjectDefineProperty(proto, key, { __proto__: null, enumerable: true });
  }
  const statics = ReflectOwnKeys(cls);
  for (let i = 0; i < statics.length; i++) {
    const key = statics[i];
    if (key === 'length' || key === 'name' || key === 'prototype' || typeof key !== 'string') continue;
    ObjectDefineProperty(cls, key, { __proto__: null, enumerable: true });
  }
  setToStringTag(proto, tag);
}

// The typed array constructors as they were when the isolate started, by
// name, with their element sizes; a BYOB read answers with the same kind of view.
const STREAM_VIEW_TYPES = {
  __proto__: null,
  Int8Array: { __proto__: null, ctor: globalThis.Int8Array, size: 1 },
  Uint8Array: { __proto__: null, ctor: globalThis.Uint8Array, size: 1 },
  Uint8ClampedArray: { __proto__: null, ctor: globalThis.Uint8ClampedArray, size: 1 },
  Int16Array: { __proto__: null, ctor: globalThis.Int16Array, size: 2 },
  Uint16Array: { __proto__: null, ctor: globalThis.Uint16Array, size: 2 },
  Int32Array: { __proto__: null, ctor: globalThis.Int32Array, size: 4 },
  Uint32Array: { __proto__: null, ctor: globalThis.Uint32Array, size: 4 },
  Float32Array: { __proto__: null, ctor: globalThis.Float32Array, size: 4 },
  Float64Array: { __proto__: null, ctor: globalThis.Float64Array, size: 8 },
  BigInt64Array: { __proto__: null, ctor: globalThis.BigInt64Array, size: 8 },
  BigUint64Array: { __proto__: null, ctor: globalThis.BigUint64Array, size: 8 },
};

// { buffer, byteOffset, byteLength } of an ArrayBufferView, read through
// the captured getters; null for anything else.
function viewParts(view) {
  if (!ArrayBufferIsView(view)) return null;
  if (TypedArrayPrototypeGetSymbolToStringTag(view) !== undefined) {
    return {
      __proto__: null,
      buffer: TypedArrayPrototypeGetBuffer(view),
      byteOffset: TypedArrayPrototypeGetByteOffset(view),
      byteLength: TypedArrayPrototypeGetByteLength(view),
      type: STREAM_VIEW_TYPES[TypedArrayPrototypeGetSymbolToStringTag(view)],
    };
  }
  return {
    __proto__: null,
    buffer: DataViewPrototypeGetBuffer(view),
    byteOffset: DataViewPrototypeGetByteOffset(view),
    byteLength: DataViewPrototypeGetByteLength(view),
    type: undefined,
  };
}

// A detached buffer (a WebAssembly.Memory that grew detaches its old one)
// has no bytes and no view can be made on it.
function isDetachedBuffer(buffer) {
  if (ArrayBufferPrototypeGetByteLength(buffer) !== 0) return false;
  try {
    new Uint8Array(buffer, 0, 0);
    return false;
  } catch {
    return true;
  }
}

// A new ArrayBuffer holding a copy of length bytes of buffer from offset.
function cloneBufferBytes(buffer, offset, length) {
  const copy = new ArrayBuffer(length);
  TypedArrayPrototypeSet(new Uint8Array(copy), new Uint8Array(buffer, offset, length));
  return copy;
}

function copyBufferBytes(to, toOffset, from, fromOffset, length) {
  TypedArrayPrototypeSet(new Uint8Array(to, toOffset, length), new Uint8Array(from, fromOffset, length));
}

function makeView(ctor, buffer, byteOffset, length) {
  return ctor === undefined ? new DataView(buffer, byteOffset, length) : new ctor(buffer, byteOffset, length);
}

// ---- ReadableStream: the abstract operations ----

// Filled in by the classes' static blocks: (public object) -> record, or
// undefined when the object is not of that class.
let readableRecordOf;
let readerRecordOf;
let readableControllerRecordOf;
let newReadableStreamObject; // (record) -> ReadableStream
let newDefaultReaderObject; // (record) -> ReadableStreamDefaultReader
let newBYOBReaderObject; // (record) -> ReadableStreamBYOBReader
let newDefaultControllerObject; // (record) -> ReadableStreamDefaultController
let newByteControllerObject; // (record) -> ReadableByteStreamController
let newBYOBRequestObject; // (record) -> ReadableStreamBYOBRequest

function rsRecordNew() {
  return {
    __proto__: null,
    object: undefined,
    state: 'readable',
    storedError: undefined,
    disturbed: false,
    reader: undefined,
    controller: undefined,
    source: null, // an internal source given to readableStreamCreate & co
    fixedLength: -1, // a FixedLengthStream's readable side: its expected length
  };
}

function rsNew() {
  const stream = rsRecordNew();
  stream.object = newReadableStreamObject(stream);
  return stream;
}

function rsIsLocked(stream) {
  return stream.reader !== undefined;
}

// CreateReadableStream: a default stream with the built-ins' own algorithms.
function rsCreate(startAlgorithm, pullAlgorithm, cancelAlgorithm, highWaterMark = 1, sizeAlgorithm = streamSizeOne) {
  const stream = rsNew();
  rdcSetUp(stream, rdcRecordNew(), startAlgorithm, pullAlgorithm, cancelAlgorithm, highWaterMark, sizeAlgorithm);
  return stream;
}

// CreateReadableByteStream.
function rsCreateByte(startAlgorithm, pullAlgorithm, cancelAlgorithm, highWaterMark = 0, autoAllocateChunkSize = undefined) {
  const stream = rsNew();
  rbcSetUp(stream, rbcRecordNew(), startAlgorithm, pullAlgorithm, cancelAlgorithm, highWaterMark, autoAllocateChunkSize);
  return stream;
}

// ReadableStreamCancel; the promise is internal.
function rsCancel(stream, reason) {
  stream.disturbed = true;
  if (stream.state === 'closed') return streamResolved(true);
  if (stream.state === 'errored') return streamRejected(stream.storedError, true);
  rsClose(stream);
  const reader = stream.reader;
  if (reader !== undefined && reader.byob) {
    const requests = queueDrain(reader.requests);
    for (let i = 0; i < requests.length; i++) requests[i].close(undefined);
  }
  const controller = stream.controller;
  const sourceCancel = controller.byte ? rbcCancelSteps(controller, reason) : rdcCancelSteps(controller, reason);
  return streamFollow(sourceCancel);
}

function rsClose(stream) {
  stream.state = 'closed';
  const reader = stream.reader;
  if (reader === undefined) return;
  streamResolve(reader.closed, undefined);
  if (!reader.byob) {
    const requests = queueDrain(reader.requests);
    for (let i = 0; i < requests.length; i++) requests[i].close();
  }
}

function rsError(stream, error) {
  stream.state = 'errored';
  stream.storedError = error;
  const reader = stream.reader;
  if (reader === undefined) return;
  streamReject(reader.closed, error);
  streamMarkHandled(reader.closed.promise);
  readerErrorRequests(reader, error);
}

function readerErrorRequests(reader, error) {
  const requests = queueDrain(reader.requests);
  for (let i = 0; i < requests.length; i++) requests[i].error(error);
}

function rsAddRequest(stream, request) {
  queuePush(stream.reader.requests, request);
}

function rsNumRequests(stream) {
  return stream.reader === undefined ? 0 : queueLength(stream.reader.requests);
}

// ReadableStreamFulfillReadRequest and ReadableStreamFulfillReadIntoRequest.
function rsFulfillRequest(stream, chunk, done) {
  const request = queueShift(stream.reader.requests);
  if (done) request.close(chunk);
  else request.chunk(chunk);
}

function rsHasDefaultReader(stream) {
  return stream.reader !== undefined && !stream.reader.byob;
}

function rsHasBYOBReader(stream) {
  return stream.reader !== undefined && stream.reader.byob;
}

// ---- readers ----

function readerRecordNew(byob, internal) {
  return {
    __proto__: null,
    object: undefined,
    byob,
    stream: undefined,
    closed: undefined,
    requests: queueNew(), // read requests, or read-into requests for a BYOB reader
    internal, // its promises are the built-ins' own (see streamPromise)
  };
}

// AcquireReadableStreamDefaultReader / AcquireReadableStreamBYOBReader,
// with SetUpReadableStream*Reader. internal readers are never handed to tenants.
function readerAcquire(stream, byob, internal) {
  if (rsIsLocked(stream)) throw new TypeError('This ReadableStream is locked to a reader');
  if (byob && !stream.controller.byte) {
    throw new TypeError('A BYOB reader can only be used with a byte stream (type: "bytes")');
  }
  const reader = readerRecordNew(byob, internal);
  readerInitialize(reader, stream);
  reader.object = byob ? newBYOBReaderObject(reader) : newDefaultReaderObject(reader);
  return reader;
}

// ReadableStreamReaderGenericInitialize.
function readerInitialize(reader, stream) {
  reader.stream = stream;
  stream.reader = reader;
  reader.closed = streamPromise(reader.internal);
  if (stream.state === 'closed') {
    streamResolve(reader.closed, undefined);
  } else if (stream.state === 'errored') {
    streamReject(reader.closed, stream.storedError);
    streamMarkHandled(reader.closed.promise);
  }
}

function readerReleasedError() {
  return new TypeError('The reader was released: its lock on the stream is gone');
}

// ReadableStreamDefaultReaderRelease / ReadableStreamBYOBReaderRelease.
function readerRelease(reader) {
  const stream = reader.stream;
  const error = readerReleasedError();
  if (stream.state === 'readable') {
    streamReject(reader.closed, error);
  } else {
    reader.closed = streamPromise(reader.internal);
    streamReject(reader.closed, error);
  }
  streamMarkHandled(reader.closed.promise);
  const controller = stream.controller;
  if (controller.byte) rbcReleaseSteps(controller);
  stream.reader = undefined;
  reader.stream = undefined;
  readerErrorRequests(reader, readerReleasedError());
}

// ReadableStreamDefaultReaderRead with a read request { chunk(v), close(), error(e) }.
function readerRead(reader, request) {
  const stream = reader.stream;
  stream.disturbed = true;
  if (stream.state === 'closed') request.close();
  else if (stream.state === 'errored') request.error(stream.storedError);
  else if (stream.controller.byte) rbcPullSteps(stream.controller, request);
  else rdcPullSteps(stream.controller, request);
}

// A read request settling a promise handed to a tenant with { value, done }.
function readRequestForPromise(record) {
  return {
    __proto__: null,
    chunk(value) {
      record.settled = true;
      record.resolve({ value, done: false });
    },
    close(value) {
      record.settled = true;
      record.resolve({ value, done: true });
    },
    error(error) {
      streamReject(record, error);
    },
  };
}

// A read request settling an internal promise with a frozen null-prototype
// { value, done }: resolving with it finds no `then`.
function readRequestForInternal(record) {
  return {
    __proto__: null,
    chunk(value) {
      record.settled = true;
      record.resolve(ObjectFreeze({ __proto__: null, value, done: false }));
    },
    close(value) {
      record.settled = true;
      record.resolve(ObjectFreeze({ __proto__: null, value, done: true }));
    },
    error(error) {
      streamReject(record, error);
    },
  };
}

// ---- ReadableStreamDefaultController ----

function rdcRecordNew() {
  return {
    __proto__: null,
    object: undefined,
    byte: false,
    stream: undefined,
    queue: queueNew(),
    queueTotalSize: 0,
    started: false,
    closeRequested: false,
    pullAgain: false,
    pulling: false,
    strategySize: undefined,
    strategyHWM: 0,
    pullAlgorithm: undefined,
    cancelAlgorithm: undefined,
  };
}

function rdcSetUp(stream, controller, startAlgorithm, pullAlgorithm, cancelAlgorithm, highWaterMark, sizeAlgorithm) {
  controller.object = newDefaultControllerObject(controller);
  controller.strategySize = sizeAlgorithm;
  readableControllerStart(stream, controller, startAlgorithm, pullAlgorithm, cancelAlgorithm, highWaterMark);
}

// The part of SetUpReadableStreamDefaultController and
// SetUpReadableByteStreamController both kinds share.
function readableControllerStart(stream, controller, startAlgorithm, pullAlgorithm, cancelAlgorithm, highWaterMark) {
  controller.stream = stream;
  controller.strategyHWM = highWaterMark;
  controller.pullAlgorithm = pullAlgorithm;
  controller.cancelAlgorithm = cancelAlgorithm;
  stream.controller = controller;
  const startResult = startAlgorithm();
  streamReact(startResult, () => {
    controller.started = true;
    readableCallPullIfNeeded(controller);
  }, (error) => readableControllerError(controller, error));
}

// ReadableStreamDefaultControllerCallPullIfNeeded and ReadableByteStreamControllerCallPullIfNeeded.
function readableCallPullIfNeeded(controller) {
  if (!(controller.byte ? rbcShouldCallPull(controller) : rdcShouldCallPull(controller))) return;
  if (controller.pulling) {
    controller.pullAgain = true;
    return;
  }
  controller.pulling = true;
  const pullAlgorithm = controller.pullAlgorithm;
  streamReact(pullAlgorithm(), () => {
    controller.pulling = false;
    if (controller.pullAgain) {
      controller.pullAgain = false;
      readableCallPullIfNeeded(controller);
    }
  }, (error) => readableControllerError(controller, error));
}

function readableControllerError(controller, error) {
  if (controller.byte) rbcError(controller, error);
  else rdcError(controller, error);
}

function rdcShouldCallPull(controller) {
  const stream = controller.stream;
  if (!rdcCanCloseOrEnqueue(controller)) return false;
  if (!controller.started) return false;
  if (rsIsLocked(stream) && rsNumRequests(stream) > 0) return true;
  return rdcDesiredSize(controller) > 0;
}

function rdcClearAlgorithms(controller) {
  controller.pullAlgorithm = undefined;
  controller.cancelAlgorithm = undefined;
  controller.strategySize = undefined;
}

function rdcClose(controller) {
  if (!rdcCanCloseOrEnqueue(controller)) return;
  controller.closeRequested = true;
  if (queueLength(controller.queue) === 0) {
    rdcClearAlgorithms(controller);
    rsClose(controller.stream);
  }
}

function rdcEnqueue(controller, chunk) {
  if (!rdcCanCloseOrEnqueue(controller)) return;
  const stream = controller.stream;
  if (rsIsLocked(stream) && rsNumRequests(stream) > 0) {
    rsFulfillRequest(stream, chunk, false);
  } else {
    let size;
    try {
      size = controller.strategySize(chunk);
    } catch (error) {
      rdcError(controller, error);
      throw error;
    }
    // The size function may have closed or errored the stream; the chunk
    // then has nowhere to go.
    if (controller.strategySize === undefined) return;
    try {
      enqueueValueWithSize(controller, chunk, size);
    } catch (error) {
      rdcError(controller, error);
      throw error;
    }
  }
  readableCallPullIfNeeded(controller);
}

function rdcError(controller, error) {
  const stream = controller.stream;
  if (stream.state !== 'readable') return;
  resetQueue(controller);
  rdcClearAlgorithms(controller);
  rsError(stream, error);
}

function rdcDesiredSize(controller) {
  const state = controller.stream.state;
  if (state === 'errored') return null;
  if (state === 'closed') return 0;
  return controller.strategyHWM - controller.queueTotalSize;
}

function rdcHasBackpressure(controller) {
  return !rdcShouldCallPull(controller);
}

function rdcCanCloseOrEnqueue(controller) {
  return !controller.closeRequested && controller.stream.state === 'readable';
}

function rdcCancelSteps(controller, reason) {
  resetQueue(controller);
  const cancelAlgorithm = controller.cancelAlgorithm;
  rdcClearAlgorithms(controller);
  return cancelAlgorithm === undefined ? undefined : cancelAlgorithm(reason);
}

function rdcPullSteps(controller, request) {
  const stream = controller.stream;
  if (queueLength(controller.queue) > 0) {
    const chunk = dequeueValue(controller);
    if (controller.closeRequested && queueLength(controller.queue) === 0) {
      rdcClearAlgorithms(controller);
      rsClose(stream);
    } else {
      readableCallPullIfNeeded(controller);
    }
    request.chunk(chunk);
  } else {
    rsAddRequest(stream, request);
    readableCallPullIfNeeded(controller);
  }
}

// ---- ReadableByteStreamController ----

function rbcRecordNew() {
  return {
    __proto__: null,
    object: undefined,
    byte: true,
    stream: undefined,
    queue: queueNew(), // { buffer, byteOffset, byteLength }
    queueTotalSize: 0,
    started: false,
    closeRequested: false,
    pullAgain: false,
    pulling: false,
    strategyHWM: 0,
    pullAlgorithm: undefined,
    cancelAlgorithm: undefined,
    autoAllocateChunkSize: undefined,
    byobRequest: null, // a BYOB request record
    pendingPullIntos: queueNew(),
  };
}

function rbcSetUp(stream, controller, startAlgorithm, pullAlgorithm, cancelAlgorithm, highWaterMark,
  autoAllocateChunkSize) {
  controller.object = newByteControllerObject(controller);
  controller.autoAllocateChunkSize = autoAllocateChunkSize;
  readableControllerStart(stream, controller, startAlgorithm, pullAlgorithm, cancelAlgorithm, highWaterMark);
}

function rbcShouldCallPull(controller) {
  const stream = controller.stream;
  if (stream.state !== 'readable') return false;
  if (controller.closeRequested) return false;
  if (!controller.started) return false;
  if (rsNumRequests(stream) > 0) return true;
  return rbcDesiredSize(controller) > 0;
}

function rbcClearAlgorithms(controller) {
  controller.pullAlgorithm = undefined;
  controller.cancelAlgorithm = undefined;
}

function rbcClearPendingPullIntos(controller) {
  rbcInvalidateBYOBRequest(controller);
  controller.pendingPullIntos = queueNew();
}

function rbcInvalidateBYOBRequest(controller) {
  const request = controller.byobRequest;
  if (request === null) return;
  request.controller = undefined;
  request.view = null;
  controller.byobRequest = null;
}

function rbcDesiredSize(controller) {
  const state = controller.stream.state;
  if (state === 'errored') return null;
  if (state === 'closed') return 0;
  return controller.strategyHWM - controller.queueTotalSize;
}

function rbcClose(controller) {
  const stream = controller.stream;
  if (controller.closeRequested || stream.state !== 'readable') return;
  if (controller.queueTotalSize > 0) {
    controller.closeRequested = true;
    return;
  }
  if (queueLength(controller.pendingPullIntos) > 0) {
    const first = queuePeek(controller.pendingPullIntos);
    if (first.bytesFilled % first.elementSize !== 0) {
      const error = new TypeError('The stream closed in the middle of an element the BYOB reader asked for');
      rbcError(controller, error);
      throw error;
    }
  }
  rbcClearAlgorithms(controller);
  rsClose(stream);
}

// Closes a byte stream for a built-in source (closeRequested and errored
// streams are left alone) and ends BYOB reads still waiting, as a source
// calling byobRequest.respond(0) after close() would.
function rbcCloseFromSource(controller) {
  if (controller.closeRequested || controller.stream.state !== 'readable') return;
  try {
    rbcClose(controller);
  } catch {
    return; // a BYOB read waits for part of an element: rbcClose errored the stream
  }
  if (controller.stream.state === 'closed' && queueLength(controller.pendingPullIntos) > 0) rbcRespond(controller, 0);
}

function rbcError(controller, error) {
  const stream = controller.stream;
  if (stream.state !== 'readable') return;
  rbcClearPendingPullIntos(controller);
  resetQueue(controller);
  rbcClearAlgorithms(controller);
  rsError(stream, error);
}

// ReadableByteStreamControllerEnqueue; parts = viewParts(chunk).
function rbcEnqueue(controller, chunk, parts) {
  const stream = controller.stream;
  if (controller.closeRequested || stream.state !== 'readable') return;
  const { buffer, byteOffset, byteLength } = parts;
  if (isDetachedBuffer(buffer)) throw new TypeError('The chunk\'s buffer is detached');
  if (queueLength(controller.pendingPullIntos) > 0) {
    const first = queuePeek(controller.pendingPullIntos);
    if (isDetachedBuffer(first.buffer)) throw new TypeError('The BYOB request\'s buffer is detached');
    rbcInvalidateBYOBRequest(controller);
    if (first.readerType === 'none') rbcEnqueueDetachedPullIntoToQueue(controller, first);
  }
  if (rsHasDefaultReader(stream)) {
    rbcProcessReadRequestsUsingQueue(controller);
    if (rsNumRequests(stream) === 0) {
      rbcEnqueueChunkToQueue(controller, buffer, byteOffset, byteLength, chunk);
    } else {
      if (queueLength(controller.pendingPullIntos) > 0) rbcShiftPendingPullInto(controller);
      const view = parts.type !== undefined && parts.type.ctor === Uint8Array ? chunk
        : new Uint8Array(buffer, byteOffset, byteLength);
      rsFulfillRequest(stream, view, false);
    }
  } else if (rsHasBYOBReader(stream)) {
    rbcEnqueueChunkToQueue(controller, buffer, byteOffset, byteLength, undefined);
    const filled = rbcProcessPullIntoDescriptorsUsingQueue(controller);
    for (let i = 0; i < filled.length; i++) rbcCommitPullIntoDescriptor(stream, filled[i]);
  } else {
    rbcEnqueueChunkToQueue(controller, buffer, byteOffset, byteLength, chunk);
  }
  readableCallPullIfNeeded(controller);
}

// view: the Uint8Array enqueued, handed on as it is when a default reader
// takes the whole entry (no new view object).
function rbcEnqueueChunkToQueue(controller, buffer, byteOffset, byteLength, view) {
  const whole = view !== undefined && TypedArrayPrototypeGetSymbolToStringTag(view) === 'Uint8Array' ? view : undefined;
  queuePush(controller.queue, { __proto__: null, buffer, byteOffset, byteLength, view: whole });
  controller.queueTotalSize += byteLength;
}

function rbcEnqueueClonedChunkToQueue(controller, buffer, byteOffset, byteLength) {
  let clone;
  try {
    clone = cloneBufferBytes(buffer, byteOffset, byteLength);
  } catch (error) {
    rbcError(controller, error);
    throw error;
  }
  rbcEnqueueChunkToQueue(controller, clone, 0, byteLength, undefined);
}

function rbcEnqueueDetachedPullIntoToQueue(controller, descriptor) {
  if (descriptor.bytesFilled > 0) {
    rbcEnqueueClonedChunkToQueue(controller, descriptor.buffer, descriptor.byteOffset, descriptor.bytesFilled);
  }
  rbcShiftPendingPullInto(controller);
}

function rbcShiftPendingPullInto(controller) {
  return queueShift(controller.pendingPullIntos);
}

function rbcProcessReadRequestsUsingQueue(controller) {
  const reader = controller.stream.reader;
  while (queueLength(reader.requests) > 0) {
    if (controller.queueTotalSize === 0) return;
    rbcFillReadRequestFromQueue(controller, queueShift(reader.requests));
  }
}

function rbcFillReadRequestFromQueue(controller, request) {
  const entry = queueShift(controller.queue);
  controller.queueTotalSize -= entry.byteLength;
  rbcHandleQueueDrain(controller);
  const view = entry.view !== undefined ? entry.view : new Uint8Array(entry.buffer, entry.byteOffset, entry.byteLength);
  request.chunk(view);
}

function rbcHandleQueueDrain(controller) {
  if (controller.queueTotalSize === 0 && controller.closeRequested) {
    rbcClearAlgorithms(controller);
    rsClose(controller.stream);
  } else {
    readableCallPullIfNeeded(controller);
  }
}

function rbcProcessPullIntoDescriptorsUsingQueue(controller) {
  const filled = listNew();
  while (queueLength(controller.pendingPullIntos) > 0) {
    if (controller.queueTotalSize === 0) break;
    const descriptor = queuePeek(controller.pendingPullIntos);
    if (rbcFillPullIntoDescriptorFromQueue(controller, descriptor)) {
      rbcShiftPendingPullInto(controller);
      listPush(filled, descriptor);
    }
  }
  return filled;
}

function rbcFillPullIntoDescriptorFromQueue(controller, descriptor) {
  const maxBytesToCopy = MathMin(controller.queueTotalSize, descriptor.byteLength - descriptor.bytesFilled);
  const maxBytesFilled = descriptor.bytesFilled + maxBytesToCopy;
  let totalBytesToCopyRemaining = maxBytesToCopy;
  let ready = false;
  const maxAlignedBytes = maxBytesFilled - (maxBytesFilled % descriptor.elementSize);
  if (maxAlignedBytes >= descriptor.minimumFill) {
    totalBytesToCopyRemaining = maxAlignedBytes - descriptor.bytesFilled;
    ready = true;
  }
  const queue = controller.queue;
  while (totalBytesToCopyRemaining > 0) {
    const head = queuePeek(queue);
    const bytesToCopy = MathMin(totalBytesToCopyRemaining, head.byteLength);
    const destStart = descriptor.byteOffset + descriptor.bytesFilled;
    copyBufferBytes(descriptor.buffer, destStart, head.buffer, head.byteOffset, bytesToCopy);
    if (head.byteLength === bytesToCopy) {
      queueShift(queue);
    } else {
      head.byteOffset += bytesToCopy;
      head.byteLength -= bytesToCopy;
      head.view = undefined;
    }
    controller.queueTotalSize -= bytesToCopy;
    descriptor.bytesFilled += bytesToCopy;
    totalBytesToCopyRemaining -= bytesToCopy;
  }
  return ready;
}

function rbcConvertPullIntoDescriptor(descriptor) {
  return makeView(descriptor.viewConstructor, descriptor.buffer, descriptor.byteOffset,
    descriptor.bytesFilled / descriptor.elementSize);
}

function rbcCommitPullIntoDescriptor(stream, descriptor) {
  let done = false;
  if (stream.state === 'closed') done = true;
  const view = rbcConvertPullIntoDescriptor(descriptor);
  if (descriptor.readerType === 'default') rsFulfillRequest(stream, view, done);
  else rsFulfillRequest(stream, view, done);
}

// A BYOB request record, made when a source first asks for it.
function rbcGetBYOBRequest(controller) {
  if (controller.byobRequest === null && queueLength(controller.pendingPullIntos) > 0) {
    const first = queuePeek(controller.pendingPullIntos);
    const view = new Uint8Array(first.buffer, first.byteOffset + first.bytesFilled, first.byteLength - first.bytesFilled);
    const request = { __proto__: null, object: undefined, controller, view };
    request.object = newBYOBRequestObject(request);
    controller.byobRequest = request;
  }
  return controller.byobRequest;
}

function rbcPullSteps(controller, request) {
  const stream = controller.stream;
  if (controller.queueTotalSize > 0) {
    rbcFillReadRequestFromQueue(controller, request);
    return;
  }
  const size = controller.autoAllocateChunkSize;
  if (size !== undefined) {
    let buffer;
    try {
      buffer = new ArrayBuffer(size);
    } catch (error) {
      request.error(error);
      return;
    }
    queuePush(controller.pendingPullIntos, {
      __proto__: null,
      buffer,
      bufferByteLength: size,
      byteOffset: 0,
      byteLength: size,
      bytesFilled: 0,
      minimumFill: 1,
      elementSize: 1,
      viewConstructor: Uint8Array,
      readerType: 'default',
    });
  }
  rsAddRequest(stream, request);
  readableCallPullIfNeeded(controller);
}

function rbcReleaseSteps(controller) {
  if (queueLength(controller.pendingPullIntos) > 0) {
    const first = queuePeek(controller.pendingPullIntos);
    first.readerType = 'none';
    controller.pendingPullIntos = queueNew();
    queuePush(controller.pendingPullIntos, first);
  }
}

function rbcCancelSteps(controller, reason) {
  rbcClearPendingPullIntos(controller);
  resetQueue(controller);
  const cancelAlgorithm = controller.cancelAlgorithm;
  rbcClearAlgorithms(controller);
  return cancelAlgorithm === undefined ? undefined : cancelAlgorithm(reason);
}

// ReadableByteStreamControllerPullInto; parts = viewParts(view), min in elements.
function rbcPullInto(controller, parts, min, request) {
  const stream = controller.stream;
  const elementSize = parts.type === undefined ? 1 : parts.type.size;
  const descriptor = {
    __proto__: null,
    buffer: parts.buffer,
    bufferByteLength: ArrayBufferPrototypeGetByteLength(parts.buffer),
    byteOffset: parts.byteOffset,
    byteLength: parts.byteLength,
    bytesFilled: 0,
    minimumFill: min * elementSize,
    elementSize,
    viewConstructor: parts.type === undefined ? undefined : parts.type.ctor,
    readerType: 'byob',
  };
  if (queueLength(controller.pendingPullIntos) > 0) {
    queuePush(controller.pendingPullIntos, descriptor);
    rsAddRequest(stream, request);
    return;
  }
  if (stream.state === 'closed') {
    request.close(makeView(descriptor.viewConstructor, descriptor.buffer, descriptor.byteOffset, 0));
    return;
  }
  if (controller.queueTotalSize > 0) {
    if (rbcFillPullIntoDescriptorFromQueue(controller, descriptor)) {
      const view = rbcConvertPullIntoDescriptor(descriptor);
      rbcHandleQueueDrain(controller);
      request.chunk(view);
      return;
    }
    if (controller.closeRequested) {
      const error = new TypeError('The stream closed in the middle of an element the BYOB reader asked for');
      rbcError(controller, error);
      request.error(error);
      return;
    }
  }
  queuePush(controller.pendingPullIntos, descriptor);
  rsAddRequest(stream, request);
  readableCallPullIfNeeded(controller);
}

function rbcRespond(controller, bytesWritten) {
  const first = queuePeek(controller.pendingPullIntos);
  if (controller.stream.state === 'closed') {
    if (bytesWritten !== 0) throw new TypeError('bytesWritten must be 0 once the stream is closed');
  } else {
    if (bytesWritten === 0) throw new TypeError('bytesWritten must be more than 0 while the stream is readable');
    if (first.bytesFilled + bytesWritten > first.byteLength) {
      throw new RangeError('bytesWritten is more than the BYOB request\'s view holds');
    }
  }
  rbcRespondInternal(controller, bytesWritten);
}

function rbcRespondInternal(controller, bytesWritten) {
  const first = queuePeek(controller.pendingPullIntos);
  rbcInvalidateBYOBRequest(controller);
  if (controller.stream.state === 'closed') rbcRespondInClosedState(controller, first);
  else rbcRespondInReadableState(controller, bytesWritten, first);
  readableCallPullIfNeeded(controller);
}

function rbcRespondInClosedState(controller, first) {
  if (first.readerType === 'none') rbcShiftPendingPullInto(controller);
  const stream = controller.stream;
  if (rsHasBYOBReader(stream)) {
    const filled = listNew();
    while (filled.length < rsNumRequests(stream) && queueLength(controller.pendingPullIntos) > 0) {
      listPush(filled, rbcShiftPendingPullInto(controller));
    }
    for (let i = 0; i < filled.length; i++) rbcCommitPullIntoDescriptor(stream, filled[i]);
  }
}

function rbcRespondInReadableState(controller, bytesWritten, descriptor) {
  const stream = controller.stream;
  descriptor.bytesFilled += bytesWritten;
  if (descriptor.readerType === 'none') {
    rbcEnqueueDetachedPullIntoToQueue(controller, descriptor);
    const filled = rbcProcessPullIntoDescriptorsUsingQueue(controller);
    for (let i = 0; i < filled.length; i++) rbcCommitPullIntoDescriptor(stream, filled[i]);
    return;
  }
  if (descriptor.bytesFilled < descriptor.minimumFill) return;
  rbcShiftPendingPullInto(controller);
  const remainderSize = descriptor.bytesFilled % descriptor.elementSize;
  if (remainderSize > 0) {
    const end = descriptor.byteOffset + descriptor.bytesFilled;
    rbcEnqueueClonedChunkToQueue(controller, descriptor.buffer, end - remainderSize, remainderSize);
  }
  descriptor.bytesFilled -= remainderSize;
  const filled = rbcProcessPullIntoDescriptorsUsingQueue(controller);
  rbcCommitPullIntoDescriptor(stream, descriptor);
  for (let i = 0; i < filled.length; i++) rbcCommitPullIntoDescriptor(stream, filled[i]);
}

function rbcRespondWithNewView(controller, parts) {
  const first = queuePeek(controller.pendingPullIntos);
  if (controller.stream.state === 'closed') {
    if (parts.byteLength !== 0) throw new TypeError('The view must be empty once the stream is closed');
  } else if (parts.byteLength === 0) {
    throw new TypeError('The view must not be empty while the stream is readable');
  }
  if (first.byteOffset + first.bytesFilled !== parts.byteOffset) {
    throw new RangeError('The view must start where the BYOB request\'s view starts');
  }
  if (first.bufferByteLength !== ArrayBufferPrototypeGetByteLength(parts.buffer)) {
    throw new RangeError('The view\'s buffer must be as long as the BYOB request\'s');
  }
  if (first.bytesFilled + parts.byteLength > first.byteLength) {
    throw new RangeError('The view is longer than the BYOB request\'s view');
  }
  first.buffer = parts.buffer;
  rbcRespondInternal(controller, parts.byteLength);
}

// BYOB reader read: ReadableStreamBYOBReaderRead.
function byobReaderRead(reader, parts, min, request) {
  const stream = reader.stream;
  stream.disturbed = true;
  if (stream.state === 'errored') request.error(stream.storedError);
  else rbcPullInto(stream.controller, parts, min, request);
}

// ---- the ReadableStream classes ----

const STREAM_NOT_READABLE = 'The stream is not readable';

// UnderlyingSource: its members are read in WebIDL's (alphabetical) order.
function setUpFromUnderlyingSource(stream, source, strategy) {
  let autoAllocateChunkSize;
  let cancel;
  let pull;
  let start;
  let type;
  if (source !== null) {
    const auto = source.autoAllocateChunkSize;
    if (auto !== undefined) autoAllocateChunkSize = streamEnforceRange(auto, 'autoAllocateChunkSize');
    cancel = streamCallback(source.cancel, 'The underlying source\'s cancel');
    pull = streamCallback(source.pull, 'The underlying source\'s pull');
    start = streamCallback(source.start, 'The underlying source\'s start');
    type = source.type;
    if (type !== undefined) {
      type = toDOMString(type);
      if (type !== 'bytes') throw new TypeError(`'${type}' is not a valid ReadableStream type (only "bytes" is)`);
    }
  }
  if (type === 'bytes') {
    if (strategy.size !== undefined) {
      throw new RangeError('A byte stream\'s queuing strategy cannot have a size function');
    }
    const highWaterMark = extractHighWaterMark(strategy, 0);
    if (autoAllocateChunkSize === 0) throw new TypeError('autoAllocateChunkSize must be greater than 0');
    const controller = rbcRecordNew();
    const algorithms = sourceAlgorithms(source, start, pull, cancel, () => controller.object);
    rbcSetUp(stream, controller, algorithms.start, algorithms.pull, algorithms.cancel, highWaterMark, autoAllocateChunkSize);
    return;
  }
  const sizeAlgorithm = extractSizeAlgorithm(strategy);
  const highWaterMark = extractHighWaterMark(strategy, 1);
  const controller = rdcRecordNew();
  const algorithms = sourceAlgorithms(source, start, pull, cancel, () => controller.object);
  rdcSetUp(stream, controller, algorithms.start, algorithms.pull, algorithms.cancel, highWaterMark, sizeAlgorithm);
}

// The algorithms calling a tenant's underlying source (this = the source).
function sourceAlgorithms(source, start, pull, cancel, controllerObject) {
  return {
    __proto__: null,
    start: start === undefined ? streamNoop : () => ReflectApply(start, source, [controllerObject()]),
    pull: pull === undefined ? streamNoop : () => streamCallPromise(pull, source, [controllerObject()]),
    cancel: cancel === undefined ? streamNoop : (reason) => streamCallPromise(cancel, source, [reason]),
  };
}

function streamPipeOptions(options) {
  if (options === undefined || options === null) {
    return { __proto__: null, preventAbort: false, preventCancel: false, preventClose: false, signal: undefined };
  }
  if (!isObject(options)) throw new TypeError('The pipe options must be an object');
  const preventAbort = !!options.preventAbort;
  const preventCancel = !!options.preventCancel;
  const preventClose = !!options.preventClose;
  const signal = options.signal;
  if (signal !== undefined && !abortSignalIs(signal)) throw new TypeError('The pipe option signal must be an AbortSignal');
  return { __proto__: null, preventAbort, preventCancel, preventClose, signal };
}

class ReadableStream {
  #stream;

  constructor(underlyingSource = undefined, strategy = undefined) {
    if (underlyingSource === INTERNAL) {
      this.#stream = strategy;
      return;
    }
    const source = streamOptionalObject(underlyingSource, 'ReadableStream: the underlying source');
    const queuing = streamStrategy(strategy, 'ReadableStream');
    const stream = rsRecordNew();
    stream.object = this;
    this.#stream = stream;
    setUpFromUnderlyingSource(stream, source, queuing);
  }

  get locked() {
    return rsIsLocked(this.#stream);
  }

  cancel(reason = undefined) {
    if (!isObject(this) || !(#stream in this)) return streamRejected(new TypeError('Illegal invocation'), false);
    const stream = this.#stream;
    if (rsIsLocked(stream)) return streamRejected(new TypeError('Cannot cancel a stream that is locked to a reader'), false);
    return streamPublic(rsCancel(stream, reason));
  }

  getReader(options = undefined) {
    const stream = this.#stream;
    let mode;
    if (options !== undefined && options !== null) {
      if (!isObject(options)) throw new TypeError('getReader: the options must be an object');
      mode = options.mode;
      if (mode !== undefined) {
        mode = toDOMString(mode);
        if (mode !== 'byob') throw new TypeError(`getReader: '${mode}' is not a valid mode (only "byob" is)`);
      }
    }
    return readerAcquire(stream, mode === 'byob', false).object;
  }

  pipeThrough(transform, options = undefined) {
    const stream = this.#stream;
    requireArgs(arguments.length, 1, 'pipeThrough');
    if (!isObject(transform)) throw new TypeError('pipeThrough: the first argument must be a { readable, writable } pair');
    const readable = transform.readable;
    const readableRecord = readableRecordOf(readable);
    if (readableRecord === undefined) throw new TypeError('pipeThrough: transform.readable must be a ReadableStream');
    const writable = transform.writable;
    const writableRecord = writableRecordOf(writable);
    if (writableRecord === undefined) throw new TypeError('pipeThrough: transform.writable must be a WritableStream');
    const opts = streamPipeOptions(options);
    if (rsIsLocked(stream)) throw new TypeError('pipeThrough: this stream is locked');
    if (wsIsLocked(writableRecord)) throw new TypeError('pipeThrough: transform.writable is locked');
    const promise = rsPipeTo(stream, writableRecord, opts.preventClose, opts.preventAbort, opts.preventCancel,
      opts.signal, true);
    streamMarkHandled(promise);
    return readable;
  }

  pipeTo(destination, options = undefined) {
    try {
      const stream = this.#stream;
      const dest = writableRecordOf(destination);
      if (dest === undefined) throw new TypeError('pipeTo: the destination must be a WritableStream');
      const opts = streamPipeOptions(options);
      if (rsIsLocked(stream)) throw new TypeError('pipeTo: this stream is locked');
      if (wsIsLocked(dest)) throw new TypeError('pipeTo: the destination is locked');
      return rsPipeTo(stream, dest, opts.preventClose, opts.preventAbort, opts.preventCancel, opts.signal, false);
    } catch (error) {
      return streamRejected(error, false);
    }
  }

  tee() {
    const branches = rsTee(this.#stream);
    return [branches[0].object, branches[1].object];
  }

  values(options = undefined) {
    const stream = this.#stream;
    let preventCancel = false;
    if (options !== undefined && options !== null) {
      if (!isObject(options)) throw new TypeError('values: the options must be an object');
      preventCancel = !!options.preventCancel;
    }
    return newReadableStreamIterator(readerAcquire(stream, false, true), preventCancel);
  }

  static from(asyncIterable) {
    requireArgs(arguments.length, 1, 'ReadableStream.from');
    return rsFromIterable(asyncIterable).object;
  }

  static {
    readableRecordOf = (value) => (isObject(value) && #stream in value ? value.#stream : undefined);
    newReadableStreamObject = (record) => new ReadableStream(INTERNAL, record);
    registerInspector('ReadableStream', (value) => {
      if (!(#stream in value)) return undefined;
      const stream = value.#stream;
      return { locked: rsIsLocked(stream), state: stream.state, supportsBYOB: stream.controller !== undefined && stream.controller.byte };
    });
  }
}

streamInterface(ReadableStream, 'ReadableStream');
ObjectDefineProperty(ReadableStream.prototype, SymbolAsyncIterator, {
  __proto__: null, value: ReadableStream.prototype.values, writable: true, configurable: true, enumerable: false,
});
defineGlobal('ReadableStream', ReadableStream);

// The reader classes share their generic part through this record field.
class ReadableStreamDefaultReader {
  #reader;

  constructor(stream) {
    requireArgs(arguments.length, 1, 'ReadableStreamDefaultReader');
    if (stream === INTERNAL) {
      this.#reader = arguments[1];
      return;
    }
    const record = readableRecordOf(stream);
    if (record === undefined) throw new TypeError('ReadableStreamDefaultReader: the argument must be a ReadableStream');
    const reader = readerAcquireFor(record, false);
    reader.object = this;
    this.#reader = reader;
  }

  get closed() {
    return this.#reader.closed.promise;
  }

  cancel(reason = undefined) {
    if (!isObject(this) || !(#reader in this)) return streamRejected(new TypeError('Illegal invocation'), false);
    return readerCancel(this.#reader, reason);
  }

  read() {
    if (!isObject(this) || !(#reader in this)) return streamRejected(new TypeError('Illegal invocation'), false);
    const reader = this.#reader;
    if (reader.stream === undefined) return streamRejected(new TypeError('The reader has no stream: its lock was released'), false);
    const record = streamPromise(false);
    readerRead(reader, readRequestForPromise(record));
    return record.promise;
  }

  releaseLock() {
    const reader = this.#reader;
    if (reader.stream === undefined) return;
    readerRelease(reader);
  }

  static {
    newDefaultReaderObject = (record) => new ReadableStreamDefaultReader(INTERNAL, record);
    readerRecordOf = (value) => (isObject(value) && #reader in value ? value.#reader : undefined);
  }
}

streamInterface(ReadableStreamDefaultReader, 'ReadableStreamDefaultReader');
defineGlobal('ReadableStreamDefaultReader', ReadableStreamDefaultReader);

// A reader made by a public constructor: like readerAcquire, without making its object.
function readerAcquireFor(stream, byob) {
  if (rsIsLocked(stream)) throw new TypeError('This ReadableStream is locked to a reader');
  if (byob && !stream.controller.byte) {
    throw new TypeError('A BYOB reader can only be used with a byte stream (type: "bytes")');
  }
  const reader = readerRecordNew(byob, false);
  readerInitialize(reader, stream);
  return reader;
}

function readerCancel(reader, reason) {
  if (reader.stream === undefined) {
    return streamRejected(new TypeError('The reader has no stream: its lock was released'), false);
  }
  return streamPublic(rsCancel(reader.stream, reason));
}

let byobReaderRecordOf;

class ReadableStreamBYOBReader {
  #reader;

  constructor(stream) {
    requireArgs(arguments.length, 1, 'ReadableStreamBYOBReader');
    if (stream === INTERNAL) {
      this.#reader = arguments[1];
      return;
    }
    const record = readableRecordOf(stream);
    if (record === undefined) throw new TypeError('ReadableStreamBYOBReader: the argument must be a ReadableStream');
    const reader = readerAcquireFor(record, true);
    reader.object = this;
    this.#reader = reader;
  }

  get closed() {
    return this.#reader.closed.promise;
  }

  cancel(reason = undefined) {
    if (!isObject(this) || !(#reader in this)) return streamRejected(new TypeError('Illegal invocation'), false);
    return readerCancel(this.#reader, reason);
  }

  read(view, options = undefined) {
    if (!isObject(this) || !(#reader in this)) return streamRejected(new TypeError('Illegal invocation'), false);
    const reader = this.#reader;
    const record = streamPromise(false);
    try {
      requireArgs(arguments.length, 1, 'ReadableStreamBYOBReader.read');
      const parts = viewParts(view);
      if (parts === null) throw new TypeError('read: the argument must be an ArrayBufferView');
      if (parts.byteLength === 0) throw new TypeError('read: the view must not be empty');
      if (ArrayBufferPrototypeGetByteLength(parts.buffer) === 0) {
        throw new TypeError('read: the view\'s buffer must not be empty or detached');
      }
      let min = 1;
      if (options !== undefined && options !== null) {
        if (!isObject(options)) throw new TypeError('read: the options must be an object');
        if (options.min !== undefined) min = streamEnforceRange(options.min, 'read: options.min');
      }
      if (min === 0) throw new TypeError('read: options.min must be greater than 0');
      const elements = parts.type === undefined ? parts.byteLength : parts.byteLength / parts.type.size;
      if (min > elements) throw new RangeError('read: options.min is more than the view holds');
      if (reader.stream === undefined) throw new TypeError('The reader has no stream: its lock was released');
      byobReaderRead(reader, parts, min, readRequestForPromise(record));
    } catch (error) {
      streamReject(record, error);
    }
    return record.promise;
  }

  releaseLock() {
    const reader = this.#reader;
    if (reader.stream === undefined) return;
    readerRelease(reader);
  }

  static {
    newBYOBReaderObject = (record) => new ReadableStreamBYOBReader(INTERNAL, record);
    byobReaderRecordOf = (value) => (isObject(value) && #reader in value ? value.#reader : undefined);
  }
}

streamInterface(ReadableStreamBYOBReader, 'ReadableStreamBYOBReader');
defineGlobal('ReadableStreamBYOBReader', ReadableStreamBYOBReader);

class ReadableStreamDefaultController {
  #controller;

  constructor(...args) {
    if (args[0] !== INTERNAL) throw new TypeError('Illegal constructor');
    this.#controller = args[1];
  }

  get desiredSize() {
    return rdcDesiredSize(this.#controller);
  }

  close() {
    const controller = this.#controller;
    if (!rdcCanCloseOrEnqueue(controller)) throw new TypeError('The stream is closed or closing: it cannot be closed again');
    rdcClose(controller);
  }

  enqueue(chunk = undefined) {
    const controller = this.#controller;
    if (!rdcCanCloseOrEnqueue(controller)) throw new TypeError('The stream is closed or closing: it cannot take more chunks');
    rdcEnqueue(controller, chunk);
  }

  error(e = undefined) {
    rdcError(this.#controller, e);
  }

  static {
    newDefaultControllerObject = (record) => new ReadableStreamDefaultController(INTERNAL, record);
    readableControllerRecordOf = (value) => (isObject(value) && #controller in value ? value.#controller : undefined);
  }
}

streamInterface(ReadableStreamDefaultController, 'ReadableStreamDefaultController');
defineGlobal('ReadableStreamDefaultController', ReadableStreamDefaultController);

let byteControllerRecordOf;

class ReadableByteStreamController {
  #controller;

  constructor(...args) {
    if (args[0] !== INTERNAL) throw new TypeError('Illegal constructor');
    this.#controller = args[1];
  }

  get byobRequest() {
    const request = rbcGetBYOBRequest(this.#controller);
    return request === null ? null : request.object;
  }

  get desiredSize() {
    return rbcDesiredSize(this.#controller);
  }

  close() {
    const controller = this.#controller;
    if (controller.closeRequested) throw new TypeError('The stream is already closing');
    if (controller.stream.state !== 'readable') throw new TypeError(STREAM_NOT_READABLE);
    rbcClose(controller);
  }

  enqueue(chunk) {
    const controller = this.#controller;
    requireArgs(arguments.length, 1, 'ReadableByteStreamController.enqueue');
    const parts = viewParts(chunk);
    if (parts === null) throw new TypeError('enqueue: a byte stream takes ArrayBufferViews only');
    if (parts.byteLength === 0) throw new TypeError('enqueue: the chunk must not be empty');
    if (ArrayBufferPrototypeGetByteLength(parts.buffer) === 0) throw new TypeError('enqueue: the chunk\'s buffer is empty or detached');
    if (controller.closeRequested) throw new TypeError('The stream is closing: it cannot take more chunks');
    if (controller.stream.state !== 'readable') throw new TypeError(STREAM_NOT_READABLE);
    rbcEnqueue(controller, chunk, parts);
  }

  error(e = undefined) {
    rbcError(this.#controller, e);
  }

  static {
    newByteControllerObject = (record) => new ReadableByteStreamController(INTERNAL, record);
    byteControllerRecordOf = (value) => (isObject(value) && #controller in value ? value.#controller : undefined);
  }
}

streamInterface(ReadableByteStreamController, 'ReadableByteStreamController');
defineGlobal('ReadableByteStreamController', ReadableByteStreamController);

class ReadableStreamBYOBRequest {
  #request;

  constructor(...args) {
    if (args[0] !== INTERNAL) throw new TypeError('Illegal constructor');
    this.#request = args[1];
  }

  get view() {
    return this.#request.view;
  }

  respond(bytesWritten) {
    const request = this.#request;
    requireArgs(arguments.length, 1, 'ReadableStreamBYOBRequest.respond');
    const bytes = streamEnforceRange(bytesWritten, 'respond: bytesWritten');
    if (request.controller === undefined) throw new TypeError('This BYOB request has already been answered');
    if (isDetachedBuffer(TypedArrayPrototypeGetBuffer(request.view))) throw new TypeError('The BYOB request\'s buffer is detached');
    rbcRespond(request.controller, bytes);
  }

  respondWithNewView(view) {
    const request = this.#request;
    requireArgs(arguments.length, 1, 'ReadableStreamBYOBRequest.respondWithNewView');
    const parts = viewParts(view);
    if (parts === null) throw new TypeError('respondWithNewView: the argument must be an ArrayBufferView');
    if (request.controller === undefined) throw new TypeError('This BYOB request has already been answered');
    if (isDetachedBuffer(parts.buffer)) throw new TypeError('The view\'s buffer is detached');
    rbcRespondWithNewView(request.controller, parts);
  }

  static {
    newBYOBRequestObject = (record) => new ReadableStreamBYOBRequest(INTERNAL, record);
  }
}

streamInterface(ReadableStreamBYOBRequest, 'ReadableStreamBYOBRequest');
defineGlobal('ReadableStreamBYOBRequest', ReadableStreamBYOBRequest);

// ---- tee ----

// ReadableStreamTee (cloneForBranch2 false) -> a list of two stream records.
function rsTee(stream) {
  return stream.controller.byte ? rsByteTee(stream) : rsDefaultTee(stream);
}

// The part both tees share: the cancel algorithms and the promise they return.
function teeState(stream) {
  const state = {
    __proto__: null,
    reading: false,
    readAgain: false,
    readAgainForBranch1: false,
    readAgainForBranch2: false,
    canceled1: false,
    canceled2: false,
    reason1: undefined,
    reason2: undefined,
    branch1: undefined,
    branch2: undefined,
    cancelPromise: streamPromise(true),
    cancel1: undefined,
    cancel2: undefined,
  };
  const bothCanceled = () => {
    const result = rsCancel(stream, [state.reason1, state.reason2]);
    streamReact(result, () => streamResolve(state.cancelPromise, undefined),
      (error) => streamReject(state.cancelPromise, error));
  };
  state.cancel1 = (reason) => {
    state.canceled1 = true;
    state.reason1 = reason;
    if (state.canceled2) bothCanceled();
    return state.cancelPromise.promise;
  };
  state.cancel2 = (reason) => {
    state.canceled2 = true;
    state.reason2 = reason;
    if (state.canceled1) bothCanceled();
    return state.cancelPromise.promise;
  };
  return state;
}

function teeResult(state) {
  const branches = listNew();
  listPush(branches, state.branch1);
  listPush(branches, state.branch2);
  return branches;
}

function rsDefaultTee(stream) {
  const reader = readerAcquire(stream, false, true);
  const state = teeState(stream);
  const readRequest = {
    __proto__: null,
    chunk(chunk) {
      streamMicrotask(() => {
        state.readAgain = false;
                if (!state.canceled1) rdcEnqueueFromTee(state.branch1.controller, chunk);
        if (!state.canceled2) rdcEnqueueFromTee(state.branch2.controller, chunk);
        state.reading = false;
        if (state.readAgain) pullAlgorithm();
      });
    },
    close() {
      state.reading = false;
      if (!state.canceled1) rdcClose(state.branch1.controller);
      if (!state.canceled2) rdcClose(state.branch2.controller);
      if (!state.canceled1 || !state.canceled2) streamResolve(state.cancelPromise, undefined);
    },
    error() {
      state.reading = false;
    },
  };
  const pullAlgorithm = () => {
    if (state.reading) {
      state.readAgain = true;
      return undefined;
    }
    state.reading = true;
    readerRead(reader, readRequest);
    return undefined;
  };
  state.branch1 = rsCreate(streamNoop, pullAlgorithm, state.cancel1);
  state.branch2 = rsCreate(streamNoop, pullAlgorithm, state.cancel2);
  streamReact(reader.closed.promise, undefined, (error) => {
    rdcError(state.branch1.controller, error);
    rdcError(state.branch2.controller, error);
    if (!state.canceled1 || !state.canceled2) streamResolve(state.cancelPromise, undefined);
  });
  return teeResult(state);
}

// A branch's size algorithm is the built-in one (1): enqueueing cannot throw.
function rdcEnqueueFromTee(controller, chunk) {
  if (rdcCanCloseOrEnqueue(controller)) rdcEnqueue(controller, chunk);
}

function rsByteTee(stream) {
  let reader = readerAcquire(stream, false, true);
  const state = teeState(stream);
  const controller1 = () => state.branch1.controller;
  const controller2 = () => state.branch2.controller;
  const enqueueCopy = (controller, bytes) => {
    if (controller.closeRequested || controller.stream.state !== 'readable') return;
    rbcEnqueue(controller, bytes, viewParts(bytes));
  };
  const closeBranch = (controller) => {
    if (!controller.closeRequested && controller.stream.state === 'readable') rbcClose(controller);
  };
  const cloneFailed = (error) => {
    rbcError(controller1(), error);
    rbcError(controller2(), error);
    const result = rsCancel(stream, error);
    streamReact(result, () => streamResolve(state.cancelPromise, undefined),
      (reason) => streamReject(state.cancelPromise, reason));
  };
  const pullAgain = () => {
    if (state.readAgainForBranch1) pull1Algorithm();
    else if (state.readAgainForBranch2) pull2Algorithm();
  };
  const forwardReaderError = (thisReader) => {
    streamReact(thisReader.closed.promise, undefined, (error) => {
      if (thisReader !== reader) return;
      rbcError(controller1(), error);
      rbcError(controller2(), error);
      if (!state.canceled1 || !state.canceled2) streamResolve(state.cancelPromise, undefined);
    });
  };
  const defaultReadRequest = {
    __proto__: null,
    chunk(chunk) {
      streamMicrotask(() => {
        state.readAgainForBranch1 = false;
        state.readAgainForBranch2 = false;
        let chunk2 = chunk;
        if (!state.canceled1 && !state.canceled2) {
          try {
            chunk2 = copyBytes(chunk);
          } catch (error) {
            cloneFailed(error);
            return;
          }
        }
        if (!state.canceled1) enqueueCopy(controller1(), chunk);
        if (!state.canceled2) enqueueCopy(controller2(), chunk2);
        state.reading = false;
        pullAgain();
      });
    },
    close() {
      state.reading = false;
      if (!state.canceled1) closeBranch(controller1());
      if (!state.canceled2) closeBranch(controller2());
      if (queueLength(controller1().pendingPullIntos) > 0) rbcRespond(controller1(), 0);
      if (queueLength(controller2().pendingPullIntos) > 0) rbcRespond(controller2(), 0);
      if (!state.canceled1 || !state.canceled2) streamResolve(state.cancelPromise, undefined);
    },
    error() {
      state.reading = false;
    },
  };
  const pullWithDefaultReader = () => {
    if (reader.byob) {
      readerRelease(reader);
      reader = readerAcquire(stream, false, true);
      forwardReaderError(reader);
    }
    readerRead(reader, defaultReadRequest);
  };
  const pullWithBYOBReader = (view, forBranch2) => {
    if (!reader.byob) {
      readerRelease(reader);
      reader = readerAcquire(stream, true, true);
      forwardReaderError(reader);
    }
    const byobBranch = forBranch2 ? controller2 : controller1;
    const otherBranch = forBranch2 ? controller1 : controller2;
    const request = {
      __proto__: null,
      chunk(chunk) {
        streamMicrotask(() => {
          state.readAgainForBranch1 = false;
          state.readAgainForBranch2 = false;
          const byobCanceled = forBranch2 ? state.canceled2 : state.canceled1;
          const otherCanceled = forBranch2 ? state.canceled1 : state.canceled2;
          if (!otherCanceled) {
            let cloned;
            try {
              cloned = copyBytes(chunk);
            } catch (error) {
              cloneFailed(error);
              return;
            }
            if (!byobCanceled) rbcRespondWithNewView(byobBranch(), viewParts(chunk));
            enqueueCopy(otherBranch(), cloned);
          } else if (!byobCanceled) {
            rbcRespondWithNewView(byobBranch(), viewParts(chunk));
          }
          state.reading = false;
          pullAgain();
        });
      },
      close(chunk) {
        state.reading = false;
        const byobCanceled = forBranch2 ? state.canceled2 : state.canceled1;
        const otherCanceled = forBranch2 ? state.canceled1 : state.canceled2;
        if (!byobCanceled) closeBranch(byobBranch());
        if (!otherCanceled) closeBranch(otherBranch());
        if (chunk !== undefined) {
          if (!byobCanceled) rbcRespondWithNewView(byobBranch(), viewParts(chunk));
          if (!otherCanceled && queueLength(otherBranch().pendingPullIntos) > 0) rbcRespond(otherBranch(), 0);
        }
        if (!byobCanceled || !otherCanceled) streamResolve(state.cancelPromise, undefined);
      },
      error() {
        state.reading = false;
      },
    };
    byobReaderRead(reader, viewParts(view), 1, request);
  };
  const pullBranch = (controller, forBranch2) => {
    if (state.reading) {
      if (forBranch2) state.readAgainForBranch2 = true;
      else state.readAgainForBranch1 = true;
      return undefined;
    }
    state.reading = true;
    const byobRequest = rbcGetBYOBRequest(controller);
    if (byobRequest === null) pullWithDefaultReader();
    else pullWithBYOBReader(byobRequest.view, forBranch2);
    return undefined;
  };
  const pull1Algorithm = () => pullBranch(controller1(), false);
  const pull2Algorithm = () => pullBranch(controller2(), true);
  state.branch1 = rsCreateByte(streamNoop, pull1Algorithm, state.cancel1);
  state.branch2 = rsCreateByte(streamNoop, pull2Algorithm, state.cancel2);
  forwardReaderError(reader);
  return teeResult(state);
}

// ---- pipes ----

const AbortSignalPrototypeGetAborted = uncurryThis(ObjectGetOwnPropertyDescriptor(AbortSignal.prototype, 'aborted').get);
const AbortSignalPrototypeGetReason = uncurryThis(ObjectGetOwnPropertyDescriptor(AbortSignal.prototype, 'reason').get);

// An internal promise fulfilled once every promise in list is, rejected
// with the first rejection.
function streamWaitForAll(list) {
  const record = streamPromise(true);
  let pending = list.length;
  if (pending === 0) streamResolve(record, undefined);
  for (let i = 0; i < list.length; i++) {
    streamReact(list[i], () => {
      if (--pending === 0) streamResolve(record, undefined);
    }, (error) => streamReject(record, error));
  }
  return record.promise;
}

// ReadableStreamPipeTo. Every chunk read is written at once, without waiting
// for the write; reading waits while the destination applies backpressure.
function rsPipeTo(source, dest, preventClose, preventAbort, preventCancel, signal, internal) {
  const reader = readerAcquire(source, false, true);
  const writer = writerAcquire(dest, true);
  source.disturbed = true;
  const result = streamPromise(internal);
  let shuttingDown = false;
  let finished = false;
  let reading = false;
  let waitingForReady = false;
  let looping = false;
  let again = false;
  let currentWrite = streamResolved(true);

  const finalize = (isError, error) => {
    finished = true;
    writerRelease(writer);
    readerRelease(reader);
    if (isError) streamReject(result, error);
    else streamResolve(result, undefined);
  };
  // Waits until every chunk read has been written (its write settled).
  const afterWrites = (then) => {
    if (dest.state !== 'writable' || wsCloseQueuedOrInFlight(dest)) {
      then();
      return;
    }
    const last = currentWrite;
    const next = () => {
      if (last === currentWrite) then();
      else afterWrites(then);
    };
    streamReact(last, next, next);
  };
  const shutdownWithAction = (action, originalIsError, originalError) => {
    if (shuttingDown) return;
    shuttingDown = true;
    afterWrites(() => {
      streamReact(action(), () => finalize(originalIsError, originalError), (error) => finalize(true, error));
    });
  };
  const shutdown = (isError, error) => {
    if (shuttingDown) return;
    shuttingDown = true;
    afterWrites(() => finalize(isError, error));
  };
  const sourceErrored = (error) => {
    if (!preventAbort) shutdownWithAction(() => wsAbort(dest, error, true), true, error);
    else shutdown(true, error);
  };
  const destErrored = (error) => {
    if (!preventCancel) shutdownWithAction(() => rsCancel(source, error), true, error);
    else shutdown(true, error);
  };
  const sourceClosed = () => {
    if (!preventClose) shutdownWithAction(() => writerCloseWithErrorPropagation(writer), false, undefined);
    else shutdown(false, undefined);
  };
  const destClosed = () => {
    const error = new TypeError('The destination stream is closed or closing');
    if (!preventCancel) shutdownWithAction(() => rsCancel(source, error), true, error);
    else shutdown(true, error);
  };

  const readRequest = {
    __proto__: null,
    chunk(chunk) {
      reading = false;
      if (shuttingDown) return;
      currentWrite = writerWrite(writer, chunk);
      loop();
    },
    close() {
      reading = false;
    },
    error() {
      reading = false;
    },
  };
  // Reads while the destination wants more. A chunk that arrives at once
  // continues the loop here rather than recursing.
  const loop = () => {
    if (looping) {
      again = true;
      return;
    }
    looping = true;
    do {
      again = false;
      if (shuttingDown || reading || waitingForReady || source.state !== 'readable') break;
      const desiredSize = writerDesiredSize(writer);
      if (desiredSize === null) break;
      if (desiredSize <= 0) {
        waitingForReady = true;
        streamReact(writer.ready.promise, () => {
          waitingForReady = false;
          loop();
        }, () => {
          waitingForReady = false;
        });
        break;
      }
      reading = true;
      readerRead(reader, readRequest);
    } while (again);
    looping = false;
  };

  if (signal !== undefined) {
    const abortAlgorithm = () => {
      if (finished) return;
      const error = AbortSignalPrototypeGetReason(signal);
      shutdownWithAction(() => {
        const actions = listNew();
        if (!preventAbort && dest.state === 'writable') listPush(actions, wsAbort(dest, error, true));
        if (!preventCancel && source.state === 'readable') listPush(actions, rsCancel(source, error));
        return streamWaitForAll(actions);
      }, true, error);
    };
    if (AbortSignalPrototypeGetAborted(signal)) {
      abortAlgorithm();
      return result.promise;
    }
    abortSignalAddAlgorithm(signal, abortAlgorithm);
  }

  if (source.state === 'errored') sourceErrored(source.storedError);
  else if (dest.state === 'errored') destErrored(dest.storedError);
  else if (source.state === 'closed') sourceClosed();
  else if (wsCloseQueuedOrInFlight(dest) || dest.state === 'closed') destClosed();
  streamReact(reader.closed.promise, sourceClosed, sourceErrored);
  streamReact(writer.closed.promise, undefined, destErrored);
  loop();
  return result.promise;
}

// ---- async iteration ----

const AsyncIteratorPrototype = ReflectGetPrototypeOf(ReflectGetPrototypeOf(async function* () {}.prototype));

let newReadableStreamIterator; // (reader record, preventCancel) -> iterator

class ReadableStreamAsyncIterator {
  #reader;
  #preventCancel;
  #finished = false;
  #busy = false;
  #pending = queueNew(); // next()/return() calls waiting for the one running

  constructor(...args) {
    if (args[0] !== INTERNAL) throw new TypeError('Illegal constructor');
    this.#reader = args[1];
    this.#preventCancel = args[2];
  }

  next() {
    if (!isObject(this) || !(#reader in this)) return streamRejected(new TypeError('Illegal invocation'), false);
    const record = streamPromise(false);
    this.#schedule(() => this.#nextSteps(record));
    return record.promise;
  }

  return(value = undefined) {
    if (!isObject(this) || !(#reader in this)) return streamRejected(new TypeError('Illegal invocation'), false);
    const record = streamPromise(false);
    this.#schedule(() => this.#returnSteps(record, value));
    return record.promise;
  }

  // One step at a time, in the order they were asked for, as WebIDL's
  // ongoing promise makes them.
  #schedule(step) {
    if (this.#busy) {
      queuePush(this.#pending, step);
      return;
    }
    this.#busy = true;
    step();
  }

  #stepDone() {
    if (queueLength(this.#pending) > 0) queueShift(this.#pending)();
    else this.#busy = false;
  }

  #nextSteps(record) {
    if (this.#finished) {
      record.resolve({ value: undefined, done: true });
      this.#stepDone();
      return;
    }
    const reader = this.#reader;
    readerRead(reader, {
      __proto__: null,
      chunk: (value) => {
        record.resolve({ value, done: false });
        this.#stepDone();
      },
      close: () => {
        this.#finished = true;
        readerRelease(reader);
        record.resolve({ value: undefined, done: true });
        this.#stepDone();
      },
      error: (error) => {
        this.#finished = true;
        readerRelease(reader);
        record.reject(error);
        this.#stepDone();
      },
    });
  }

  #returnSteps(record, value) {
    if (this.#finished) {
      record.resolve({ value, done: true });
      this.#stepDone();
      return;
    }
    this.#finished = true;
    const reader = this.#reader;
    if (!this.#preventCancel) {
      const result = rsCancel(reader.stream, value);
      readerRelease(reader);
      streamReact(result, () => {
        record.resolve({ value, done: true });
        this.#stepDone();
      }, (error) => {
        record.reject(error);
        this.#stepDone();
      });
      return;
    }
    readerRelease(reader);
    record.resolve({ value, done: true });
    this.#stepDone();
  }

  static {
    newReadableStreamIterator = (reader, preventCancel) => new ReadableStreamAsyncIterator(INTERNAL, reader, preventCancel);
  }
}

ObjectSetPrototypeOf(ReadableStreamAsyncIterator.prototype, AsyncIteratorPrototype);
delete ReadableStreamAsyncIterator.prototype.constructor;
streamInterface(ReadableStreamAsyncIterator, 'ReadableStream AsyncIterator');

// ---- ReadableStream.from ----

// ReadableStreamFromIterable: the iterator comes from GetIterator(async),
// falling back to the sync iterator as the language does.
function rsFromIterable(asyncIterable) {
  let method = asyncIterable === undefined || asyncIterable === null ? undefined : asyncIterable[SymbolAsyncIterator];
  let iterator;
  let sync = false;
  if (method === undefined || method === null) {
    method = asyncIterable === undefined || asyncIterable === null ? undefined : asyncIterable[SymbolIterator];
    if (method === undefined || method === null) throw new TypeError('ReadableStream.from: the argument is not iterable');
    sync = true;
  }
  if (typeof method !== 'function') throw new TypeError('ReadableStream.from: the argument is not iterable');
  iterator = ReflectApply(method, asyncIterable, []);
  if (!isObject(iterator)) throw new TypeError('ReadableStream.from: the iterator must be an object');
  const nextMethod = iterator.next;
  let stream;
  const pullAlgorithm = () => {
    const record = streamPromise(true);
    let nextResult;
    try {
      nextResult = ReflectApply(nextMethod, iterator, []);
    } catch (error) {
      return streamRejected(error, true);
    }
    const onResult = (iterResult) => {
      if (!isObject(iterResult)) {
        streamReject(record, new TypeError('ReadableStream.from: the iterator\'s next() must give an object'));
        return;
      }
      let done;
      let value;
      try {
        done = !!iterResult.done;
        value = iterResult.value;
      } catch (error) {
        streamReject(record, error);
        return;
      }
      if (done) {
        rdcClose(stream.controller);
        streamResolve(record, undefined);
      } else if (sync) {
        // The async-from-sync iterator awaits the value.
        streamReact(value, (settled) => {
          rdcEnqueueChecked(stream.controller, settled, record);
        }, (error) => streamReject(record, error));
      } else {
        rdcEnqueueChecked(stream.controller, value, record);
      }
    };
    if (sync) {
      // The result of a sync next() is used as it is (not awaited).
      onResult(nextResult);
    } else {
      streamReact(nextResult, onResult, (error) => streamReject(record, error));
    }
    return record.promise;
  };
  const cancelAlgorithm = (reason) => {
    let returnMethod;
    try {
      returnMethod = iterator.return;
    } catch (error) {
      return streamRejected(error, true);
    }
    if (returnMethod === undefined || returnMethod === null) return undefined;
    const record = streamPromise(true);
    let returnResult;
    try {
      if (typeof returnMethod !== 'function') throw new TypeError('ReadableStream.from: the iterator\'s return is not a function');
      returnResult = ReflectApply(returnMethod, iterator, [reason]);
    } catch (error) {
      return streamRejected(error, true);
    }
    streamReact(returnResult, (value) => {
      if (!isObject(value)) streamReject(record, new TypeError('ReadableStream.from: the iterator\'s return() must give an object'));
      else streamResolve(record, undefined);
    }, (error) => streamReject(record, error));
    return record.promise;
  };
  stream = rsCreate(streamNoop, pullAlgorithm, cancelAlgorithm, 0);
  return stream;
}

function rdcEnqueueChecked(controller, value, record) {
  try {
    rdcEnqueue(controller, value);
    streamResolve(record, undefined);
  } catch (error) {
    streamReject(record, error);
  }
}

// ---- WritableStream: the abstract operations ----

let writableRecordOf; // (value) -> record or undefined
let newWritableStreamObject;
let newWriterObject;
let newWritableControllerObject;

const WS_CLOSE_SENTINEL = ObjectFreeze({ __proto__: null });

function wsRecordNew() {
  return {
    __proto__: null,
    object: undefined,
    state: 'writable',
    storedError: undefined,
    writer: undefined,
    controller: undefined,
    inFlightWriteRequest: undefined,
    closeRequest: undefined,
    inFlightCloseRequest: undefined,
    pendingAbortRequest: undefined,
    writeRequests: queueNew(),
    backpressure: false,
  };
}

function wsIsLocked(stream) {
  return stream.writer !== undefined;
}

// CreateWritableStream with the built-ins' own algorithms.
function wsCreate(startAlgorithm, writeAlgorithm, closeAlgorithm, abortAlgorithm, highWaterMark = 1,
  sizeAlgorithm = streamSizeOne) {
  const stream = wsRecordNew();
  stream.object = newWritableStreamObject(stream);
  wdcSetUp(stream, wdcRecordNew(), startAlgorithm, writeAlgorithm, closeAlgorithm, abortAlgorithm, highWaterMark,
    sizeAlgorithm);
  return stream;
}

// WritableStreamAbort; internal: the promise is waited on by the built-ins only.
function wsAbort(stream, reason, internal) {
  if (stream.state === 'closed' || stream.state === 'errored') return streamResolved(internal);
  const signal = stream.controller.signal;
  abortSignalAbort(signal, reason);
  const state = stream.state;
  if (state === 'closed' || state === 'errored') return streamResolved(internal);
  if (stream.pendingAbortRequest !== undefined) return stream.pendingAbortRequest.promise.promise;
  let wasAlreadyErroring = false;
  if (state === 'erroring') {
    wasAlreadyErroring = true;
    reason = undefined;
  }
  const promise = streamPromise(internal);
  stream.pendingAbortRequest = { __proto__: null, promise, reason, wasAlreadyErroring };
  if (!wasAlreadyErroring) wsStartErroring(stream, reason);
  return promise.promise;
}

function wsClose(stream, internal) {
  const state = stream.state;
  if (state === 'closed' || state === 'errored') {
    return streamRejected(new TypeError('The stream is closed or errored: it cannot be closed'), internal);
  }
  const promise = streamPromise(internal);
  stream.closeRequest = promise;
  const writer = stream.writer;
  if (writer !== undefined && stream.backpressure && state === 'writable') streamResolve(writer.ready, undefined);
  wdcClose(stream.controller);
  return promise.promise;
}

function wsAddWriteRequest(stream, internal) {
  const promise = streamPromise(internal);
  queuePush(stream.writeRequests, promise);
  return promise.promise;
}

function wsDealWithRejection(stream, error) {
  if (stream.state === 'writable') {
    wsStartErroring(stream, error);
    return;
  }
  wsFinishErroring(stream);
}

function wsStartErroring(stream, reason) {
  const controller = stream.controller;
  stream.state = 'erroring';
  stream.storedError = reason;
  const writer = stream.writer;
  if (writer !== undefined) writerEnsureReadyPromiseRejected(writer, reason);
  if (!wsHasOperationMarkedInFlight(stream) && controller.started) wsFinishErroring(stream);
}

function wsFinishErroring(stream) {
  stream.state = 'errored';
  resetQueue(stream.controller); // the controller's [[ErrorSteps]]
  const storedError = stream.storedError;
  const requests = queueDrain(stream.writeRequests);
  for (let i = 0; i < requests.length; i++) streamReject(requests[i], storedError);
  const abortRequest = stream.pendingAbortRequest;
  if (abortRequest === undefined) {
    wsRejectCloseAndClosedPromiseIfNeeded(stream);
    return;
  }
  stream.pendingAbortRequest = undefined;
  if (abortRequest.wasAlreadyErroring) {
    streamReject(abortRequest.promise, storedError);
    wsRejectCloseAndClosedPromiseIfNeeded(stream);
    return;
  }
  const promise = wdcAbortSteps(stream.controller, abortRequest.reason);
  streamReact(promise, () => {
    streamResolve(abortRequest.promise, undefined);
    wsRejectCloseAndClosedPromiseIfNeeded(stream);
  }, (reason) => {
    streamReject(abortRequest.promise, reason);
    wsRejectCloseAndClosedPromiseIfNeeded(stream);
  });
}

function wsFinishInFlightWrite(stream) {
  streamResolve(stream.inFlightWriteRequest, undefined);
  stream.inFlightWriteRequest = undefined;
}

function wsFinishInFlightWriteWithError(stream, error) {
  streamReject(stream.inFlightWriteRequest, error);
  stream.inFlightWriteRequest = undefined;
  wsDealWithRejection(stream, error);
}

function wsFinishInFlightClose(stream) {
  streamResolve(stream.inFlightCloseRequest, undefined);
  stream.inFlightCloseRequest = undefined;
  if (stream.state === 'erroring') {
    stream.storedError = undefined;
    if (stream.pendingAbortRequest !== undefined) {
      streamResolve(stream.pendingAbortRequest.promise, undefined);
      stream.pendingAbortRequest = undefined;
    }
  }
  stream.state = 'closed';
  const writer = stream.writer;
  if (writer !== undefined) streamResolve(writer.closed, undefined);
}

function wsFinishInFlightCloseWithError(stream, error) {
  streamReject(stream.inFlightCloseRequest, error);
  stream.inFlightCloseRequest = undefined;
  if (stream.pendingAbortRequest !== undefined) {
    streamReject(stream.pendingAbortRequest.promise, error);
    stream.pendingAbortRequest = undefined;
  }
  wsDealWithRejection(stream, error);
}

function wsCloseQueuedOrInFlight(stream) {
  return stream.closeRequest !== undefined || stream.inFlightCloseRequest !== undefined;
}

function wsHasOperationMarkedInFlight(stream) {
  return stream.inFlightWriteRequest !== undefined || stream.inFlightCloseRequest !== undefined;
}

function wsRejectCloseAndClosedPromiseIfNeeded(stream) {
  if (stream.closeRequest !== undefined) {
    streamReject(stream.closeRequest, stream.storedError);
    stream.closeRequest = undefined;
  }
  const writer = stream.writer;
  if (writer !== undefined) {
    streamReject(writer.closed, stream.storedError);
    streamMarkHandled(writer.closed.promise);
  }
}

function wsUpdateBackpressure(stream, backpressure) {
  const writer = stream.writer;
  if (writer !== undefined && backpressure !== stream.backpressure) {
    if (backpressure) writer.ready = streamPromise(writer.internal);
    else streamResolve(writer.ready, undefined);
  }
  stream.backpressure = backpressure;
}

// ---- WritableStreamDefaultWriter ----

function writerRecordNew(internal) {
  return { __proto__: null, object: undefined, stream: undefined, closed: undefined, ready: undefined, internal };
}

// AcquireWritableStreamDefaultWriter; internal writers are never handed to tenants.
function writerAcquire(stream, internal) {
  const writer = writerRecordNew(internal);
  writerSetUp(writer, stream);
  writer.object = newWriterObject(writer);
  return writer;
}

function writerSetUp(writer, stream) {
  if (wsIsLocked(stream)) throw new TypeError('This WritableStream is locked to a writer');
  writer.stream = stream;
  stream.writer = writer;
  const state = stream.state;
  const internal = writer.internal;
  writer.ready = streamPromise(internal);
  writer.closed = streamPromise(internal);
  if (state === 'writable') {
    if (wsCloseQueuedOrInFlight(stream) || !stream.backpressure) streamResolve(writer.ready, undefined);
  } else if (state === 'erroring') {
    streamReject(writer.ready, stream.storedError);
    streamMarkHandled(writer.ready.promise);
  } else if (state === 'closed') {
    streamResolve(writer.ready, undefined);
    streamResolve(writer.closed, undefined);
  } else {
    streamReject(writer.ready, stream.storedError);
    streamMarkHandled(writer.ready.promise);
    streamReject(writer.closed, stream.storedError);
    streamMarkHandled(writer.closed.promise);
  }
}

function writerCloseWithErrorPropagation(writer) {
  const stream = writer.stream;
  const state = stream.state;
  if (wsCloseQueuedOrInFlight(stream) || state === 'closed') return streamResolved(writer.internal);
  if (state === 'errored') return streamRejected(stream.storedError, writer.internal);
  return wsClose(stream, writer.internal);
}

function writerEnsureClosedPromiseRejected(writer, error) {
  if (writer.closed.settled) writer.closed = streamPromise(writer.internal);
  streamReject(writer.closed, error);
  streamMarkHandled(writer.closed.promise);
}

function writerEnsureReadyPromiseRejected(writer, error) {
  if (writer.ready.settled) writer.ready = streamPromise(writer.internal);
  streamReject(writer.ready, error);
  streamMarkHandled(writer.ready.promise);
}

function writerDesiredSize(writer) {
  const stream = writer.stream;
  const state = stream.state;
  if (state === 'errored' || state === 'erroring') return null;
  if (state === 'closed') return 0;
  return wdcDesiredSize(stream.controller);
}

function writerRelease(writer) {
  const stream = writer.stream;
  const error = new TypeError('The writer was released: its lock on the stream is gone');
  writerEnsureReadyPromiseRejected(writer, error);
  writerEnsureClosedPromiseRejected(writer, error);
  stream.writer = undefined;
  writer.stream = undefined;
}

function writerWrite(writer, chunk) {
  const stream = writer.stream;
  const internal = writer.internal;
  const controller = stream.controller;
  const chunkSize = wdcGetChunkSize(controller, chunk);
  if (stream !== writer.stream) return streamRejected(new TypeError('The writer was released while sizing the chunk'), internal);
  const state = stream.state;
  if (state === 'errored') return streamRejected(stream.storedError, internal);
  if (wsCloseQueuedOrInFlight(stream) || state === 'closed') {
    return streamRejected(new TypeError('The stream is closed or closing: it cannot be written to'), internal);
  }
  if (state === 'erroring') return streamRejected(stream.storedError, internal);
  const promise = wsAddWriteRequest(stream, internal);
  wdcWrite(controller, chunk, chunkSize);
  return promise;
}

// ---- WritableStreamDefaultController ----

function wdcRecordNew() {
  return {
    __proto__: null,
    object: undefined,
    stream: undefined,
    queue: queueNew(),
    queueTotalSize: 0,
    signal: undefined,
    started: false,
    strategySize: undefined,
    strategyHWM: 1,
    writeAlgorithm: undefined,
    closeAlgorithm: undefined,
    abortAlgorithm: undefined,
  };
}

function wdcSetUp(stream, controller, startAlgorithm, writeAlgorithm, closeAlgorithm, abortAlgorithm, highWaterMark,
  sizeAlgorithm) {
  controller.object = newWritableControllerObject(controller);
  controller.stream = stream;
  stream.controller = controller;
  controller.signal = abortSignalCreate();
  controller.strategySize = sizeAlgorithm;
  controller.strategyHWM = highWaterMark;
  controller.writeAlgorithm = writeAlgorithm;
  controller.closeAlgorithm = closeAlgorithm;
  controller.abortAlgorithm = abortAlgorithm;
  wsUpdateBackpressure(stream, wdcGetBackpressure(controller));
  const startResult = startAlgorithm();
  streamReact(startResult, () => {
    controller.started = true;
    wdcAdvanceQueueIfNeeded(controller);
  }, (error) => {
    controller.started = true;
    wsDealWithRejection(stream, error);
  });
}

function wdcClearAlgorithms(controller) {
  controller.writeAlgorithm = undefined;
  controller.closeAlgorithm = undefined;
  controller.abortAlgorithm = undefined;
  controller.strategySize = undefined;
}

function wdcAbortSteps(controller, reason) {
  const abortAlgorithm = controller.abortAlgorithm;
  wdcClearAlgorithms(controller);
  return abortAlgorithm === undefined ? undefined : abortAlgorithm(reason);
}

function wdcClose(controller) {
  enqueueValueWithSize(controller, WS_CLOSE_SENTINEL, 0);
  wdcAdvanceQueueIfNeeded(controller);
}

function wdcGetChunkSize(controller, chunk) {
  const size = controller.strategySize;
  if (size === undefined) return 1;
  try {
    return size(chunk);
  } catch (error) {
    wdcErrorIfNeeded(controller, error);
    return 1;
  }
}

function wdcDesiredSize(controller) {
  return controller.strategyHWM - controller.queueTotalSize;
}

function wdcWrite(controller, chunk, chunkSize) {
  try {
    enqueueValueWithSize(controller, chunk, chunkSize);
  } catch (error) {
    wdcErrorIfNeeded(controller, error);
    return;
  }
  const stream = controller.stream;
  if (!wsCloseQueuedOrInFlight(stream) && stream.state === 'writable') {
    wsUpdateBackpressure(stream, wdcGetBackpressure(controller));
  }
  wdcAdvanceQueueIfNeeded(controller);
}

function wdcAdvanceQueueIfNeeded(controller) {
  const stream = controller.stream;
  if (!controller.started) return;
  if (stream.inFlightWriteRequest !== undefined) return;
  const state = stream.state;
  if (state === 'closed' || state === 'errored') return;
  if (state === 'erroring') {
    wsFinishErroring(stream);
    return;
  }
  if (queueLength(controller.queue) === 0) return;
  const value = queuePeek(controller.queue).value;
  if (value === WS_CLOSE_SENTINEL) wdcProcessClose(controller);
  else wdcProcessWrite(controller, value);
}

function wdcErrorIfNeeded(controller, error) {
  if (controller.stream.state === 'writable') wdcError(controller, error);
}

function wdcProcessClose(controller) {
  const stream = controller.stream;
  stream.inFlightCloseRequest = stream.closeRequest;
  stream.closeRequest = undefined;
  dequeueValue(controller);
  const closeAlgorithm = controller.closeAlgorithm;
  wdcClearAlgorithms(controller);
  const result = closeAlgorithm === undefined ? undefined : closeAlgorithm();
  streamReact(result, () => wsFinishInFlightClose(stream), (reason) => wsFinishInFlightCloseWithError(stream, reason));
}

function wdcProcessWrite(controller, chunk) {
  const stream = controller.stream;
  stream.inFlightWriteRequest = queueShift(stream.writeRequests);
  const writeAlgorithm = controller.writeAlgorithm;
  const result = writeAlgorithm === undefined ? undefined : writeAlgorithm(chunk);
  streamReact(result, () => {
    wsFinishInFlightWrite(stream);
    if (queueLength(controller.queue) > 0) dequeueValue(controller);
    if (!wsCloseQueuedOrInFlight(stream) && stream.state === 'writable') {
      wsUpdateBackpressure(stream, wdcGetBackpressure(controller));
    }
    wdcAdvanceQueueIfNeeded(controller);
  }, (reason) => {
    if (stream.state === 'writable') wdcClearAlgorithms(controller);
    wsFinishInFlightWriteWithError(stream, reason);
  });
}

function wdcGetBackpressure(controller) {
  return wdcDesiredSize(controller) <= 0;
}

function wdcError(controller, error) {
  const stream = controller.stream;
  wdcClearAlgorithms(controller);
  wsStartErroring(stream, error);
}

// ---- the WritableStream classes ----

// UnderlyingSink: its members are read in WebIDL's (alphabetical) order.
function setUpFromUnderlyingSink(stream, sink, strategy) {
  let abort;
  let close;
  let start;
  let write;
  if (sink !== null) {
    abort = streamCallback(sink.abort, 'The underlying sink\'s abort');
    close = streamCallback(sink.close, 'The underlying sink\'s close');
    start = streamCallback(sink.start, 'The underlying sink\'s start');
    if (sink.type !== undefined) throw new RangeError('A WritableStream\'s underlying sink cannot have a type');
    write = streamCallback(sink.write, 'The underlying sink\'s write');
  }
  const sizeAlgorithm = extractSizeAlgorithm(strategy);
  const highWaterMark = extractHighWaterMark(strategy, 1);
  const controller = wdcRecordNew();
  const controllerObject = () => controller.object;
  wdcSetUp(stream, controller,
    start === undefined ? streamNoop : () => ReflectApply(start, sink, [controllerObject()]),
    write === undefined ? streamNoop : (chunk) => streamCallPromise(write, sink, [chunk, controllerObject()]),
    close === undefined ? streamNoop : () => streamCallPromise(close, sink, []),
    abort === undefined ? streamNoop : (reason) => streamCallPromise(abort, sink, [reason]),
    highWaterMark, sizeAlgorithm);
}

class WritableStream {
  #stream;

  constructor(underlyingSink = undefined, strategy = undefined) {
    if (underlyingSink === INTERNAL) {
      this.#stream = strategy;
      return;
    }
    const sink = streamOptionalObject(underlyingSink, 'WritableStream: the underlying sink');
    const queuing = streamStrategy(strategy, 'WritableStream');
    const stream = wsRecordNew();
    stream.object = this;
    this.#stream = stream;
    setUpFromUnderlyingSink(stream, sink, queuing);
  }

  get locked() {
    return wsIsLocked(this.#stream);
  }

  abort(reason = undefined) {
    if (!isObject(this) || !(#stream in this)) return streamRejected(new TypeError('Illegal invocation'), false);
    const stream = this.#stream;
    if (wsIsLocked(stream)) return streamRejected(new TypeError('Cannot abort a stream that is locked to a writer'), false);
    return wsAbort(stream, reason, false);
  }

  close() {
    if (!isObject(this) || !(#stream in this)) return streamRejected(new TypeError('Illegal invocation'), false);
    const stream = this.#stream;
    if (wsIsLocked(stream)) return streamRejected(new TypeError('Cannot close a stream that is locked to a writer'), false);
    if (wsCloseQueuedOrInFlight(stream)) return streamRejected(new TypeError('The stream is already closing'), false);
    return wsClose(stream, false);
  }

  getWriter() {
    return writerAcquire(this.#stream, false).object;
  }

  static {
    writableRecordOf = (value) => (isObject(value) && #stream in value ? value.#stream : undefined);
    newWritableStreamObject = (record) => new WritableStream(INTERNAL, record);
    registerInspector('WritableStream', (value) => {
      if (!(#stream in value)) return undefined;
      return { locked: wsIsLocked(value.#stream), state: value.#stream.state };
    });
  }
}

streamInterface(WritableStream, 'WritableStream');
defineGlobal('WritableStream', WritableStream);

const WRITER_RELEASED = 'The writer has no stream: its lock was released';

class WritableStreamDefaultWriter {
  #writer;

  constructor(stream) {
    requireArgs(arguments.length, 1, 'WritableStreamDefaultWriter');
    if (stream === INTERNAL) {
      this.#writer = arguments[1];
      return;
    }
    const record = writableRecordOf(stream);
    if (record === undefined) throw new TypeError('WritableStreamDefaultWriter: the argument must be a WritableStream');
    const writer = writerRecordNew(false);
    writerSetUp(writer, record);
    writer.object = this;
    this.#writer = writer;
  }

  get closed() {
    return this.#writer.closed.promise;
  }

  get desiredSize() {
    const writer = this.#writer;
    if (writer.stream === undefined) throw new TypeError(WRITER_RELEASED);
    return writerDesiredSize(writer);
  }

  get ready() {
    return this.#writer.ready.promise;
  }

  abort(reason = undefined) {
    if (!isObject(this) || !(#writer in this)) return streamRejected(new TypeError('Illegal invocation'), false);
    const writer = this.#writer;
    if (writer.stream === undefined) return streamRejected(new TypeError(WRITER_RELEASED), false);
    return wsAbort(writer.stream, reason, false);
  }

  close() {
    if (!isObject(this) || !(#writer in this)) return streamRejected(new TypeError('Illegal invocation'), false);
    const writer = this.#writer;
    const stream = writer.stream;
    if (stream === undefined) return streamRejected(new TypeError(WRITER_RELEASED), false);
    if (wsCloseQueuedOrInFlight(stream)) return streamRejected(new TypeError('The stream is already closing'), false);
    return wsClose(stream, false);
  }

  releaseLock() {
    const writer = this.#writer;
    if (writer.stream === undefined) return;
    writerRelease(writer);
  }

  write(chunk = undefined) {
    if (!isObject(this) || !(#writer in this)) return streamRejected(new TypeError('Illegal invocation'), false);
    const writer = this.#writer;
    if (writer.stream === undefined) return streamRejected(new TypeError(WRITER_RELEASED), false);
    return writerWrite(writer, chunk);
  }

  static {
    newWriterObject = (record) => new WritableStreamDefaultWriter(INTERNAL, record);
  }
}

streamInterface(WritableStreamDefaultWriter, 'WritableStreamDefaultWriter');
defineGlobal('WritableStreamDefaultWriter', WritableStreamDefaultWriter);

class WritableStreamDefaultController {
  #controller;

  constructor(...args) {
    if (args[0] !== INTERNAL) throw new TypeError('Illegal constructor');
    this.#controller = args[1];
  }

  get signal() {
    return this.#controller.signal;
  }

  error(e = undefined) {
    const controller = this.#controller;
    if (controller.stream.state !== 'writable') return;
    wdcError(controller, e);
  }

  static {
    newWritableControllerObject = (record) => new WritableStreamDefaultController(INTERNAL, record);
  }
}

streamInterface(WritableStreamDefaultController, 'WritableStreamDefaultController');
defineGlobal('WritableStreamDefaultController', WritableStreamDefaultController);

// ---- TransformStream: the abstract operations ----

let transformRecordOf;
let newTransformStreamObject;
let newTransformControllerObject;
let transformControllerRecordOf;

function tsRecordNew() {
  return {
    __proto__: null,
    object: undefined,
    readable: undefined,
    writable: undefined,
    backpressure: undefined,
    backpressureChangePromise: undefined,
    controller: undefined,
  };
}

// InitializeTransformStream; the readable side is a byte stream when bytes
// is true (IdentityTransformStream), readableSize then unused.
function tsInitialize(stream, startPromise, writableHWM, writableSize, readableHWM, readableSize, bytes = false) {
  const startAlgorithm = () => startPromise;
  stream.writable = wsCreate(startAlgorithm, (chunk) => tsSinkWrite(stream, chunk), () => tsSinkClose(stream),
    (reason) => tsSinkAbort(stream, reason), writableHWM, writableSize);
  const pullAlgorithm = () => tsSourcePull(stream);
  const cancelAlgorithm = (reason) => tsSourceCancel(stream, reason);
  stream.readable = bytes ? rsCreateByte(startAlgorithm, pullAlgorithm, cancelAlgorithm, readableHWM)
    : rsCreate(startAlgorithm, pullAlgorithm, cancelAlgorithm, readableHWM, readableSize);
  tsSetBackpressure(stream, true);
}

function tsError(stream, error) {
  readableControllerError(stream.readable.controller, error);
  tsErrorWritableAndUnblockWrite(stream, error);
}

function tsErrorWritableAndUnblockWrite(stream, error) {
  tdcClearAlgorithms(stream.controller);
  wdcErrorIfNeeded(stream.writable.controller, error);
  tsUnblockWrite(stream);
}

function tsUnblockWrite(stream) {
  if (stream.backpressure) tsSetBackpressure(stream, false);
}

function tsSetBackpressure(stream, backpressure) {
  if (stream.backpressureChangePromise !== undefined) streamResolve(stream.backpressureChangePromise, undefined);
  stream.backpressureChangePromise = streamPromise(true);
  stream.backpressure = backpressure;
}

function tdcRecordNew() {
  return {
    __proto__: null,
    object: undefined,
    stream: undefined,
    transformAlgorithm: undefined,
    flushAlgorithm: undefined,
    cancelAlgorithm: undefined,
    finishPromise: undefined,
  };
}

function tdcSetUp(stream, controller, transformAlgorithm, flushAlgorithm, cancelAlgorithm) {
  controller.object = newTransformControllerObject(controller);
  controller.stream = stream;
  stream.controller = controller;
  controller.transformAlgorithm = transformAlgorithm;
  controller.flushAlgorithm = flushAlgorithm;
  controller.cancelAlgorithm = cancelAlgorithm;
}

function tdcClearAlgorithms(controller) {
  controller.transformAlgorithm = undefined;
  controller.flushAlgorithm = undefined;
  controller.cancelAlgorithm = undefined;
}

function tsReadableCanEnqueue(controller) {
  return controller.byte ? !controller.closeRequested && controller.stream.state === 'readable'
    : rdcCanCloseOrEnqueue(controller);
}

function tdcEnqueue(controller, chunk) {
  const stream = controller.stream;
  const readableController = stream.readable.controller;
  if (!tsReadableCanEnqueue(readableController)) {
    throw new TypeError('The readable side is closed or errored: it cannot take more chunks');
  }
  try {
    if (readableController.byte) {
      const parts = viewParts(chunk);
      if (parts === null) throw new TypeError(IDENTITY_NOT_BYTES);
      if (parts.byteLength > 0) rbcEnqueue(readableController, chunk, parts);
    } else {
      rdcEnqueue(readableController, chunk);
    }
  } catch (error) {
    tsErrorWritableAndUnblockWrite(stream, error);
    throw stream.readable.storedError;
  }
  const backpressure = readableController.byte ? !rbcShouldCallPull(readableController) : rdcHasBackpressure(readableController);
  if (backpressure !== stream.backpressure && backpressure) tsSetBackpressure(stream, true);
}

function tdcError(controller, error) {
  tsError(controller.stream, error);
}

function tdcTerminate(controller) {
  const stream = controller.stream;
  const readableController = stream.readable.controller;
  if (readableController.byte) rbcCloseFromSource(readableController);
  else rdcClose(readableController);
  tsErrorWritableAndUnblockWrite(stream, new TypeError('The TransformStream was terminated'));
}

// TransformStreamDefaultControllerPerformTransform: an internal promise.
function tdcPerformTransform(controller, chunk) {
  const record = streamPromise(true);
  const transformAlgorithm = controller.transformAlgorithm;
  let result;
  try {
    result = transformAlgorithm === undefined ? undefined : transformAlgorithm(chunk);
  } catch (error) {
    result = streamRejected(error, true);
  }
  streamReact(result, () => streamResolve(record, undefined), (error) => {
    tsError(controller.stream, error);
    streamReject(record, error);
  });
  return record.promise;
}

function tsSinkWrite(stream, chunk) {
  const controller = stream.controller;
  if (!stream.backpressure) return tdcPerformTransform(controller, chunk);
  const record = streamPromise(true);
  streamReact(stream.backpressureChangePromise.promise, () => {
    const writable = stream.writable;
    if (writable.state === 'erroring') {
      streamReject(record, writable.storedError);
      return;
    }
    streamReact(tdcPerformTransform(controller, chunk), () => streamResolve(record, undefined),
      (error) => streamReject(record, error));
  }, (error) => streamReject(record, error));
  return record.promise;
}

function tsSinkAbort(stream, reason) {
  const controller = stream.controller;
  if (controller.finishPromise !== undefined) return controller.finishPromise.promise;
  const readable = stream.readable;
  const finish = streamPromise(true);
  controller.finishPromise = finish;
  const cancelAlgorithm = controller.cancelAlgorithm;
  const result = cancelAlgorithm === undefined ? undefined : cancelAlgorithm(reason);
  tdcClearAlgorithms(controller);
  streamReact(result, () => {
    if (readable.state === 'errored') {
      streamReject(finish, readable.storedError);
    } else {
      readableControllerError(stream.readable.controller, reason);
      streamResolve(finish, undefined);
    }
  }, (error) => {
    readableControllerError(stream.readable.controller, error);
    streamReject(finish, error);
  });
  return finish.promise;
}

function tsSinkClose(stream) {
  const controller = stream.controller;
  if (controller.finishPromise !== undefined) return controller.finishPromise.promise;
  const readable = stream.readable;
  const finish = streamPromise(true);
  controller.finishPromise = finish;
  const flushAlgorithm = controller.flushAlgorithm;
  let result;
  try {
    result = flushAlgorithm === undefined ? undefined : flushAlgorithm();
  } catch (error) {
    result = streamRejected(error, true);
  }
  tdcClearAlgorithms(controller);
  streamReact(result, () => {
    if (readable.state === 'errored') {
      streamReject(finish, readable.storedError);
    } else {
      const readableController = readable.controller;
      if (readableController.byte) rbcCloseFromSource(readableController);
      else rdcClose(readableController);
      streamResolve(finish, undefined);
    }
  }, (error) => {
    readableControllerError(stream.readable.controller, error);
    streamReject(finish, error);
  });
  return finish.promise;
}

function tsSourcePull(stream) {
  tsSetBackpressure(stream, false);
  return stream.backpressureChangePromise.promise;
}

function tsSourceCancel(stream, reason) {
  const controller = stream.controller;
  if (controller.finishPromise !== undefined) return controller.finishPromise.promise;
  const writable = stream.writable;
  const finish = streamPromise(true);
  controller.finishPromise = finish;
  const cancelAlgorithm = controller.cancelAlgorithm;
  const result = cancelAlgorithm === undefined ? undefined : cancelAlgorithm(reason);
  tdcClearAlgorithms(controller);
  streamReact(result, () => {
    if (writable.state === 'errored') {
      streamReject(finish, writable.storedError);
    } else {
      wdcErrorIfNeeded(writable.controller, reason);
      tsUnblockWrite(stream);
      streamResolve(finish, undefined);
    }
  }, (error) => {
    wdcErrorIfNeeded(writable.controller, error);
    tsUnblockWrite(stream);
    streamReject(finish, error);
  });
  return finish.promise;
}

// The default transform: the chunk passes through unchanged.
function tsIdentityTransform(controller) {
  return (chunk) => {
    tdcEnqueue(controller, chunk);
    return undefined;
  };
}

// ---- the TransformStream classes ----

class TransformStream {
  #stream;

  constructor(transformer = undefined, writableStrategy = undefined, readableStrategy = undefined) {
    if (transformer === INTERNAL) {
      this.#stream = writableStrategy;
      return;
    }
    const object = streamOptionalObject(transformer, 'TransformStream: the transformer');
    const writableQueuing = streamStrategy(writableStrategy, 'TransformStream');
    const readableQueuing = streamStrategy(readableStrategy, 'TransformStream');
    // Transformer: its members are read in WebIDL's (alphabetical) order.
    let cancel;
    let flush;
    let start;
    let transform;
    if (object !== null) {
      cancel = streamCallback(object.cancel, 'The transformer\'s cancel');
      flush = streamCallback(object.flush, 'The transformer\'s flush');
      if (object.readableType !== undefined) throw new RangeError('The transformer cannot have a readableType');
      start = streamCallback(object.start, 'The transformer\'s start');
      transform = streamCallback(object.transform, 'The transformer\'s transform');
      if (object.writableType !== undefined) throw new RangeError('The transformer cannot have a writableType');
    }
    const readableHWM = extractHighWaterMark(readableQueuing, 0);
    const readableSize = extractSizeAlgorithm(readableQueuing);
    const writableHWM = extractHighWaterMark(writableQueuing, 1);
    const writableSize = extractSizeAlgorithm(writableQueuing);
    const stream = tsRecordNew();
    stream.object = this;
    this.#stream = stream;
    const startPromise = streamPromise(true);
    tsInitialize(stream, startPromise.promise, writableHWM, writableSize, readableHWM, readableSize);
    const controller = tdcRecordNew();
    const controllerObject = () => controller.object;
    tdcSetUp(stream, controller,
      transform === undefined ? tsIdentityTransform(controller)
        : (chunk) => streamCallPromise(transform, object, [chunk, controllerObject()]),
      flush === undefined ? streamNoop : () => streamCallPromise(flush, object, [controllerObject()]),
      cancel === undefined ? streamNoop : (reason) => streamCallPromise(cancel, object, [reason]));
    if (start !== undefined) {
      const result = ReflectApply(start, object, [controller.object]);
      streamReact(result, () => streamResolve(startPromise, undefined), (error) => streamReject(startPromise, error));
    } else {
      streamResolve(startPromise, undefined);
    }
  }

  get readable() {
    return this.#stream.readable.object;
  }

  get writable() {
    return this.#stream.writable.object;
  }

  static {
    transformRecordOf = (value) => (isObject(value) && #stream in value ? value.#stream : undefined);
    newTransformStreamObject = (record) => new TransformStream(INTERNAL, record);
  }
}

streamInterface(TransformStream, 'TransformStream');
defineGlobal('TransformStream', TransformStream);

class TransformStreamDefaultController {
  #controller;

  constructor(...args) {
    if (args[0] !== INTERNAL) throw new TypeError('Illegal constructor');
    this.#controller = args[1];
  }

  get desiredSize() {
    const readableController = this.#controller.stream.readable.controller;
    return readableController.byte ? rbcDesiredSize(readableController) : rdcDesiredSize(readableController);
  }

  enqueue(chunk = undefined) {
    tdcEnqueue(this.#controller, chunk);
  }

  error(reason = undefined) {
    tdcError(this.#controller, reason);
  }

  terminate() {
    tdcTerminate(this.#controller);
  }

  static {
    newTransformControllerObject = (record) => new TransformStreamDefaultController(INTERNAL, record);
    transformControllerRecordOf = (value) => (isObject(value) && #controller in value ? value.#controller : undefined);
  }
}

streamInterface(TransformStreamDefaultController, 'TransformStreamDefaultController');
defineGlobal('TransformStreamDefaultController', TransformStreamDefaultController);

// ---- queuing strategies ----

function strategyHighWaterMark(init, what) {
  if (!isObject(init)) throw new TypeError(`${what}: the argument must be an object with a highWaterMark`);
  const highWaterMark = init.highWaterMark;
  if (highWaterMark === undefined) throw new TypeError(`${what}: highWaterMark is required`);
  return +highWaterMark;
}

// One size function per isolate for each strategy, as the standard has it.
const byteLengthSize = {
  size(chunk) {
    return chunk.byteLength;
  },
}.size;
const countSize = {
  size() {
    return 1;
  },
}.size;

class ByteLengthQueuingStrategy {
  #highWaterMark;

  constructor(init) {
    requireArgs(arguments.length, 1, 'ByteLengthQueuingStrategy');
    this.#highWaterMark = strategyHighWaterMark(init, 'ByteLengthQueuingStrategy');
  }

  get highWaterMark() {
    return this.#highWaterMark;
  }

  get size() {
    void this.#highWaterMark;
    return byteLengthSize;
  }
}

streamInterface(ByteLengthQueuingStrategy, 'ByteLengthQueuingStrategy');
defineGlobal('ByteLengthQueuingStrategy', ByteLengthQueuingStrategy);

class CountQueuingStrategy {
  #highWaterMark;

  constructor(init) {
    requireArgs(arguments.length, 1, 'CountQueuingStrategy');
    this.#highWaterMark = strategyHighWaterMark(init, 'CountQueuingStrategy');
  }

  get highWaterMark() {
    return this.#highWaterMark;
  }

  get size() {
    void this.#highWaterMark;
    return countSize;
  }
}

streamInterface(CountQueuingStrategy, 'CountQueuingStrategy');
defineGlobal('CountQueuingStrategy', CountQueuingStrategy);

// ---- the internal API the other built-ins use ----
// Streams are passed and returned as the public objects. Sources and sinks
// are the built-ins' own objects: their methods are read once, as own
// properties, and called with the object as `this`; the controller they get
// is the public controller object (never seen by tenants unless the
// built-in hands it out).

const IDENTITY_NOT_BYTES = 'This TransformStream is being used as a byte stream, but received a value that is not a BufferSource.';
const STREAM_NOT_BYTES = 'This ReadableStream did not return bytes.';

// The start/pull/cancel algorithms of a built-in's source { start?, pull?, cancel? }.
function internalSourceAlgorithms(source, controllerObject) {
  const start = streamOwn(source, 'start');
  const pull = streamOwn(source, 'pull');
  const cancel = streamOwn(source, 'cancel');
  return {
    __proto__: null,
    start: start === undefined ? streamNoop : () => ReflectApply(start, source, [controllerObject()]),
    pull: pull === undefined ? streamNoop : () => streamCallPromise(pull, source, [controllerObject()]),
    cancel: cancel === undefined ? streamNoop : (reason) => streamCallPromise(cancel, source, [reason]),
  };
}

// (value) -> true for a ReadableStream; never throws.
function readableStreamIs(value) {
  return readableRecordOf(value) !== undefined;
}

// A default ReadableStream over a built-in's source; highWaterMark 1 and size 1 by default.
function readableStreamCreate(source, highWaterMark = 1, sizeAlgorithm = streamSizeOne) {
  const stream = rsNew();
  stream.source = source;
  const controller = rdcRecordNew();
  const algorithms = internalSourceAlgorithms(source, () => controller.object);
  rdcSetUp(stream, controller, algorithms.start, algorithms.pull, algorithms.cancel, highWaterMark, sizeAlgorithm);
  return stream.object;
}

// A byte ReadableStream (type 'bytes') over a built-in's source; highWaterMark 0 by default.
function readableByteStreamCreate(source, highWaterMark = 0, autoAllocateChunkSize = undefined) {
  const stream = rsNew();
  stream.source = source;
  const controller = rbcRecordNew();
  const algorithms = internalSourceAlgorithms(source, () => controller.object);
  rbcSetUp(stream, controller, algorithms.start, algorithms.pull, algorithms.cancel, highWaterMark, autoAllocateChunkSize);
  return stream.object;
}

// A byte stream yielding bytes (a Uint8Array, as one chunk, not copied) and
// closing; source.bytes is that array.
function readableStreamFromBytes(bytes) {
  return readableByteStreamCreate({
    __proto__: null,
    bytes,
    start(controller) {
      if (TypedArrayPrototypeGetByteLength(this.bytes) === 0) readableStreamControllerClose(controller);
    },
    pull(controller) {
      readableStreamControllerEnqueue(controller, this.bytes);
      readableStreamControllerClose(controller);
    },
  });
}

// The record of a default or byte controller object; TypeError for anything else.
function readableControllerRecord(controller) {
  const record = readableControllerRecordOf(controller);
  if (record !== undefined) return record;
  const byte = byteControllerRecordOf(controller);
  if (byte === undefined) throw new TypeError('Not a ReadableStream controller');
  return byte;
}

// Enqueues as controller.enqueue(chunk) does (TypeError when closed or not bytes for a byte stream).
function readableStreamControllerEnqueue(controller, chunk) {
  const record = readableControllerRecord(controller);
  if (!record.byte) {
    if (!rdcCanCloseOrEnqueue(record)) throw new TypeError('The stream is closed or closing: it cannot take more chunks');
    rdcEnqueue(record, chunk);
    return;
  }
  const parts = viewParts(chunk);
  if (parts === null) throw new TypeError('A byte stream takes ArrayBufferViews only');
  if (parts.byteLength === 0) return;
  if (record.closeRequested || record.stream.state !== 'readable') {
    throw new TypeError('The stream is closed or closing: it cannot take more chunks');
  }
  rbcEnqueue(record, chunk, parts);
}

// Closes the stream once its queue drains; nothing if it is closing, closed or errored.
function readableStreamControllerClose(controller) {
  const record = readableControllerRecord(controller);
  if (record.byte) rbcCloseFromSource(record);
  else rdcClose(record);
}

// Errors the stream (nothing if it is no longer readable).
function readableStreamControllerError(controller, error) {
  const record = readableControllerRecord(controller);
  if (record.byte) rbcError(record, error);
  else rdcError(record, error);
}

// The controller's desiredSize (null when errored, 0 when closed).
function readableStreamControllerDesiredSize(controller) {
  const record = readableControllerRecord(controller);
  return record.byte ? rbcDesiredSize(record) : rdcDesiredSize(record);
}

// Whether a reader holds the stream.
function readableStreamIsLocked(stream) {
  return rsIsLocked(readableRecordOf(stream));
}

// Whether the stream has ever been read or canceled.
function readableStreamIsDisturbed(stream) {
  return readableRecordOf(stream).disturbed;
}

// A ReadableStreamDefaultReader for the built-ins (TypeError if locked); its promises are internal.
function readableStreamGetReader(stream) {
  return readerAcquire(readableRecordOf(stream), false, true).object;
}

// The next read: an internal promise of a frozen null-prototype { value, done }.
function readableStreamReaderRead(reader) {
  const record = readerRecordOf(reader);
  const promise = streamPromise(true);
  if (record.stream === undefined) {
    streamReject(promise, new TypeError('The reader has no stream: its lock was released'));
  } else {
    readerRead(record, readRequestForInternal(promise));
  }
  return promise.promise;
}

// reader.releaseLock() without looking it up.
function readableStreamReaderRelease(reader) {
  const record = readerRecordOf(reader);
  if (record.stream !== undefined) readerRelease(record);
}

// ReadableStreamCancel: an internal promise fulfilled with undefined.
function readableStreamCancel(stream, reason) {
  return rsCancel(readableRecordOf(stream), reason);
}

// ReadableStreamTee: [branch1, branch2]; a byte stream's branches get copies of each chunk.
function readableStreamTee(stream) {
  const branches = rsTee(readableRecordOf(stream));
  return [branches[0].object, branches[1].object];
}

// Every chunk, concatenated, as one Uint8Array: an internal promise. Locks
// the stream for good. A chunk that is not bytes rejects with a TypeError and
// cancels the stream. One chunk comes back as a view of its bytes, uncopied.
function readableStreamReadAllBytes(stream) {
  const record = readableRecordOf(stream);
  const result = streamPromise(true);
  let reader;
  try {
    reader = readerAcquire(record, false, true);
  } catch (error) {
    streamReject(result, error);
    return result.promise;
  }
  const chunks = listNew();
  let total = 0;
  let done = false;
  let looping = false;
  let delivered = false;
  const fail = (error) => {
    done = true;
    streamReject(result, error);
  };
  const request = {
    __proto__: null,
    chunk(chunk) {
      let bytes;
      try {
        if (!isArrayBuffer(chunk) && !ArrayBufferIsView(chunk)) throw new TypeError(STREAM_NOT_BYTES);
        bytes = viewBytes(chunk);
      } catch (error) {
        fail(error);
        streamMarkHandled(rsCancel(record, error));
        return;
      }
      listPush(chunks, bytes);
      total += TypedArrayPrototypeGetByteLength(bytes);
      if (looping) delivered = true;
      else pump();
    },
    close() {
      done = true;
      let out;
      try {
        if (chunks.length === 1) {
          out = chunks[0];
        } else {
          out = new Uint8Array(total);
          let offset = 0;
          for (let i = 0; i < chunks.length; i++) {
            TypedArrayPrototypeSet(out, chunks[i], offset);
            offset += TypedArrayPrototypeGetByteLength(chunks[i]);
          }
        }
      } catch (error) {
        streamReject(result, error);
        return;
      }
      result.settled = true;
      resolveWithObject(result.resolve, out);
    },
    error(error) {
      fail(error);
    },
  };
  const pump = () => {
    looping = true;
    do {
      delivered = false;
      readerRead(reader, request);
    } while (delivered && !done);
    looping = false;
  };
  pump();
  return result.promise;
}

// The source given to readableStreamCreate & co, while nothing has read,
// locked or disturbed the stream; else null.
function readableStreamSource(stream) {
  const record = readableRecordOf(stream);
  if (record === undefined || record.disturbed || rsIsLocked(record)) return null;
  return record.source;
}

// A FixedLengthStream readable side's expected length while nothing has read it, else -1.
function fixedLengthOf(readable) {
  const record = readableRecordOf(readable);
  if (record === undefined || record.disturbed || rsIsLocked(record)) return -1;
  return record.fixedLength;
}

// (value) -> true for a WritableStream; never throws.
function writableStreamIs(value) {
  return writableRecordOf(value) !== undefined;
}

// (value) -> true for a TransformStream; never throws.
function transformStreamIs(value) {
  return transformRecordOf(value) !== undefined;
}

// A TransformStream with the built-ins' transform(chunk, controller) and
// flush(controller) (each returns a promise or undefined; flush may be undefined).
function transformStreamCreate(transform, flush, readableHWM = 0, writableHWM = 1) {
  const stream = tsCreateInternal((chunk, controller) => transform(chunk, controller.object),
    flush === undefined ? undefined : (controller) => flush(controller.object), readableHWM, writableHWM, false);
  stream.object = newTransformStreamObject(stream);
  return stream.object;
}

// controller.enqueue(chunk) of a TransformStreamDefaultController, without looking it up.
function transformStreamControllerEnqueue(controller, chunk) {
  tdcEnqueue(transformControllerRecordOf(controller), chunk);
}

// controller.error(e) of a TransformStreamDefaultController.
function transformStreamControllerError(controller, error) {
  tdcError(transformControllerRecordOf(controller), error);
}

// A WritableStream over a built-in's sink { start?, write(chunk, controller)?, close()?, abort(reason)? }.
function writableStreamCreate(sink, highWaterMark = 1, sizeAlgorithm = streamSizeOne) {
  const start = streamOwn(sink, 'start');
  const write = streamOwn(sink, 'write');
  const close = streamOwn(sink, 'close');
  const abort = streamOwn(sink, 'abort');
  const stream = wsRecordNew();
  stream.object = newWritableStreamObject(stream);
  const controller = wdcRecordNew();
  wdcSetUp(stream, controller,
    start === undefined ? streamNoop : () => ReflectApply(start, sink, [controller.object]),
    write === undefined ? streamNoop : (chunk) => streamCallPromise(write, sink, [chunk, controller.object]),
    close === undefined ? streamNoop : () => streamCallPromise(close, sink, []),
    abort === undefined ? streamNoop : (reason) => streamCallPromise(abort, sink, [reason]),
    highWaterMark, sizeAlgorithm);
  return stream.object;
}

// ---- TextEncoderStream, TextDecoderStream, IdentityTransformStream, FixedLengthStream ----

// A transform stream record with the built-ins' transform(chunk, controller
// record) and flush(controller record) (either may return a promise); its
// readable side is a byte stream when bytes is true. The caller makes its object.
function tsCreateInternal(transform, flush, readableHWM, writableHWM, bytes) {
  const stream = tsRecordNew();
  const startPromise = streamResolved(true);
  tsInitialize(stream, startPromise, writableHWM, streamSizeOne, readableHWM, streamSizeOne, bytes);
  const controller = tdcRecordNew();
  tdcSetUp(stream, controller, (chunk) => transform(chunk, controller),
    flush === undefined ? streamNoop : () => flush(controller), streamNoop);
  return stream;
}

// The readable and writable getters the stream-pair classes share.
function streamPairInterface(cls, tag, recordOf) {
  const getters = {
    get readable() {
      return recordOf(this).readable.object;
    },
    get writable() {
      return recordOf(this).writable.object;
    },
  };
  ObjectDefineProperty(cls.prototype, 'readable', ReflectGetOwnPropertyDescriptor(getters, 'readable'));
  ObjectDefineProperty(cls.prototype, 'writable', ReflectGetOwnPropertyDescriptor(getters, 'writable'));
  streamInterface(cls, tag);
}

// The bytes of an ArrayBuffer or ArrayBufferView as a Uint8Array (no copy), or null.
function bufferSourceBytes(chunk) {
  if (ArrayBufferIsView(chunk)) return viewBytes(chunk);
  if (isArrayBuffer(chunk)) return new Uint8Array(chunk);
  return null;
}

class TextEncoderStream {
  #stream;

  constructor() {
    let pending = ''; // a high surrogate the last chunk ended with
    this.#stream = tsCreateInternal((chunk, controller) => {
      let text = toDOMString(chunk);
      if (pending !== '') {
        text = pending + text;
        pending = '';
      }
      const last = text.length === 0 ? 0 : StringPrototypeCharCodeAt(text, text.length - 1);
      if (last >= 0xD800 && last <= 0xDBFF) {
        pending = StringPrototypeSlice(text, text.length - 1);
        text = StringPrototypeSlice(text, 0, text.length - 1);
      }
      if (text !== '') tdcEnqueue(controller, utf8Encode(toUSVString(text)));
    }, (controller) => {
      if (pending !== '') tdcEnqueue(controller, utf8Encode('\uFFFD'));
    }, 0, 1, false);
  }

  get encoding() {
    void this.#stream;
    return 'utf-8';
  }

  static {
    streamPairInterface(TextEncoderStream, 'TextEncoderStream', (value) => value.#stream);
  }
}

defineGlobal('TextEncoderStream', TextEncoderStream);

// TextDecoder's own streaming decode, captured before tenant code runs.
const TextDecoderPrototypeDecode = TextDecoder.prototype.decode;
const textDecoderGetter = (name) => uncurryThis(ObjectGetOwnPropertyDescriptor(TextDecoder.prototype, name).get);
const TextDecoderPrototypeGetEncoding = textDecoderGetter('encoding');
const TextDecoderPrototypeGetFatal = textDecoderGetter('fatal');
const TextDecoderPrototypeGetIgnoreBOM = textDecoderGetter('ignoreBOM');
const TEXT_DECODE_STREAM = ObjectFreeze({ __proto__: null, stream: true });

class TextDecoderStream {
  #stream;
  #decoder;

  constructor(label = 'utf-8', options = undefined) {
    const decoder = new TextDecoder(label, options);
    this.#decoder = decoder;
    this.#stream = tsCreateInternal((chunk, controller) => {
      if (bufferSourceBytes(chunk) === null) {
        throw new TypeError('TextDecoderStream: each chunk must be an ArrayBuffer or an ArrayBufferView');
      }
      const text = ReflectApply(TextDecoderPrototypeDecode, decoder, [chunk, TEXT_DECODE_STREAM]);
      if (text !== '') tdcEnqueue(controller, text);
    }, (controller) => {
      const text = ReflectApply(TextDecoderPrototypeDecode, decoder, []);
      if (text !== '') tdcEnqueue(controller, text);
    }, 0, 1, false);
  }

  get encoding() {
    return TextDecoderPrototypeGetEncoding(this.#decoder);
  }

  get fatal() {
    return TextDecoderPrototypeGetFatal(this.#decoder);
  }

  get ignoreBOM() {
    return TextDecoderPrototypeGetIgnoreBOM(this.#decoder);
  }

  static {
    streamPairInterface(TextDecoderStream, 'TextDecoderStream', (value) => value.#stream);
  }
}

defineGlobal('TextDecoderStream', TextDecoderStream);

// Workers' byte-only TransformStream; its readable side is a byte stream.
// check(bytes, controller record) and flush(controller record) let
// FixedLengthStream count what passes.
function identityTransformRecord(options, check, flush) {
  let highWaterMark = 0;
  if (options !== undefined && options !== null) {
    if (!isObject(options)) throw new TypeError('IdentityTransformStream: the options must be an object');
    if (options.highWaterMark !== undefined) highWaterMark = streamEnforceRange(options.highWaterMark, 'highWaterMark');
  }
  return tsCreateInternal((chunk, controller) => {
    const bytes = bufferSourceBytes(chunk);
    if (bytes === null) throw new TypeError(IDENTITY_NOT_BYTES);
    if (check !== undefined) check(bytes, controller);
    if (TypedArrayPrototypeGetByteLength(bytes) > 0) tdcEnqueue(controller, bytes);
  }, flush, highWaterMark, 1, true);
}

class IdentityTransformStream {
  #stream;

  constructor(options = undefined) {
    this.#stream = identityTransformRecord(options, undefined, undefined);
  }

  static {
    streamPairInterface(IdentityTransformStream, 'IdentityTransformStream', (value) => value.#stream);
  }
}

defineGlobal('IdentityTransformStream', IdentityTransformStream);

// expectedLength: a non-negative integer up to 2^53 - 1, a number or a bigint.
function fixedLengthExpected(value) {
  let length = value;
  if (typeof value === 'bigint') {
    if (value < 0n || value > 9007199254740991n) throw new RangeError('FixedLengthStream: expectedLength is out of range');
    length = Number(value);
  } else {
    length = +value;
    if (!NumberIsInteger(length) || length < 0 || length > 9007199254740991) {
      throw new RangeError('FixedLengthStream: expectedLength must be a non-negative integer up to 2^53 - 1');
    }
  }
  return length + 0;
}

class FixedLengthStream {
  #stream;

  constructor(expectedLength, options = undefined) {
    requireArgs(arguments.length, 1, 'FixedLengthStream');
    const expected = fixedLengthExpected(expectedLength);
    let seen = 0;
    const stream = identityTransformRecord(options, (bytes) => {
      seen += TypedArrayPrototypeGetByteLength(bytes);
      if (seen > expected) throw new TypeError('Attempt to write too many bytes through a FixedLengthStream.');
    }, () => {
      if (seen < expected) throw new TypeError('FixedLengthStream did not see all expected bytes before close().');
    });
    stream.readable.fixedLength = expected;
    this.#stream = stream;
  }

  static {
    streamPairInterface(FixedLengthStream, 'FixedLengthStream', (value) => value.#stream);
  }
}

defineGlobal('FixedLengthStream', FixedLengthStream);
