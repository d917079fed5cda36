// node:stream: Debian's node-readable-stream (Node's streams 3 as a
// package): Readable (with Readable.from), Writable, Duplex, Transform,
// PassThrough, pipeline and finished, and their promise forms; here,
// Readable/Writable toWeb and fromWeb. Their
// callbacks run from process.nextTick (microtasks), so they keep the
// AsyncLocalStorage frame of the code that drove them.
'use strict';
const EventEmitter = require('node:events');
const lib = 'readable-stream/lib/';
const Readable = require(`${lib}_stream_readable.js`);
const Writable = require(`${lib}_stream_writable.js`);
const Duplex = require(`${lib}_stream_duplex.js`);
const Transform = require(`${lib}_stream_transform.js`);
const PassThrough = require(`${lib}_stream_passthrough.js`);
const finished = require(`${lib}internal/streams/end-of-stream.js`);
const pipeline = require(`${lib}internal/streams/pipeline.js`);

// The state getters newer Nodes have and streams 3 has not (libraries read
// stream.writableEnded, readableEnded, ...), from the same state fields.
const readableGetters = {
  readableEnded: (state) => state.endEmitted,
  readableObjectMode: (state) => state.objectMode,
  readableEncoding: (state) => state.encoding || null,
  readableAborted: (state) => !!(state.destroyed || state.errorEmitted) && !state.endEmitted,
};
const writableGetters = {
  writableEnded: (state) => state.ending,
  writableFinished: (state) => state.finished,
  writableObjectMode: (state) => state.objectMode,
  writableCorked: (state) => state.corked,
  writableNeedDrain: (state) => !state.destroyed && !state.ending && state.needDrain,
};
function defineStateGetters(proto, getters, stateName, whenAbsent) {
  for (const [name, get] of Object.entries(getters)) {
    if (Object.prototype.hasOwnProperty.call(proto, name)) continue;
    Object.defineProperty(proto, name, {
      get() {
        const state = this[stateName];
        return state ? get(state) : whenAbsent[name];
      },
      enumerable: false,
      configurable: true,
    });
  }
}
const absent = { readableEncoding: null, writableCorked: 0 };
defineStateGetters(Readable.prototype, readableGetters, '_readableState', absent);
defineStateGetters(Writable.prototype, writableGetters, '_writableState', absent);
defineStateGetters(Duplex.prototype, writableGetters, '_writableState', absent);

// Between node streams and the WHATWG ones (Response bodies, fetch): the
// static toWeb/fromWeb of newer Nodes, with backpressure both ways.
const { Buffer } = require('node:buffer');
const asBytes = (chunk) => (typeof chunk === 'string' ? Buffer.from(chunk) : chunk);

Readable.toWeb = function toWeb(readable) {
  return new ReadableStream({
    start(controller) {
      readable.on('data', (chunk) => {
        controller.enqueue(asBytes(chunk));
        if (controller.desiredSize <= 0) readable.pause();
      });
      readable.once('end', () => controller.close());
      readable.once('error', (error) => controller.error(error));
      readable.pause();
    },
    pull() {
      readable.resume();
    },
    cancel(reason) {
      readable.destroy(reason);
    },
  }, { highWaterMark: 1 });
};

Readable.fromWeb = function fromWeb(stream, options = {}) {
  const reader = stream.getReader();
  return new Readable({
    objectMode: false,
    ...options,
    read() {
      reader.read().then(({ value, done }) => this.push(done ? null : value), (error) => this.destroy(error));
    },
    destroy(error, callback) {
      reader.cancel(error).then(() => callback(error), () => callback(error));
    },
  });
};

Writable.toWeb = function toWeb(writable) {
  return new WritableStream({
    write(chunk) {
      return new Promise((resolve, reject) => {
        writable.write(chunk, (error) => (error ? reject(error) : resolve()));
      });
    },
    close() {
      return new Promise((resolve, reject) => {
        writable.once('error', reject);
        writable.end(resolve);
      });
    },
    abort(reason) {
      writable.destroy(reason);
    },
  });
};

Writable.fromWeb = function fromWeb(stream, options = {}) {
  const writer = stream.getWriter();
  return new Writable({
    ...options,
    write(chunk, encoding, callback) {
      writer.write(asBytes(chunk)).then(() => callback(), callback);
    },
    final(callback) {
      writer.close().then(() => callback(), callback);
    },
    destroy(error, callback) {
      writer.abort(error).then(() => callback(error), () => callback(error));
    },
  });
};

// The legacy Stream: an EventEmitter, the base class of the others.
function Stream(options) {
  EventEmitter.call(this, options);
}
Object.setPrototypeOf(Stream.prototype, EventEmitter.prototype);
Object.setPrototypeOf(Stream, EventEmitter);
Stream.prototype.pipe = Readable.prototype.pipe;

const isStream = (s) => s !== null && typeof s === 'object' && typeof s.pipe === 'function' && typeof s.on === 'function';

// Node's pipeline also takes functions (an async generator over the stage
// before it; the first called with nothing, the last awaited) and
// iterables, which the packaged streams 3 does not: each function stage
// starts a new run of streams from what it yields.
function pipelineStages(streams, callback) {
  if (streams.length === 1 && Array.isArray(streams[0])) streams = streams[0];
  if (streams.every(isStream)) return pipeline(...streams, callback);
  const runs = [];
  let run = [];
  let last = null;
  for (let i = 0; i < streams.length; i++) {
    let stage = streams[i];
    if (typeof stage === 'function') {
      if (i === 0) {
        stage = stage();
      } else if (i === streams.length - 1) {
        last = stage;
        break;
      } else {
        const source = run[run.length - 1];
        runs.push(run);
        run = [];
        stage = stage(source);
      }
    }
    run.push(isStream(stage) ? stage : Readable.from(stage));
  }
  runs.push(run);
  const all = runs.flat();
  let pending = runs.length + (last ? 1 : 0);
  let failed = false;
  let value;
  const done = (error) => {
    if (failed) return;
    if (error) {
      failed = true;
      for (const s of all) if (typeof s.destroy === 'function' && !s.destroyed) s.destroy(error);
      callback(error);
      return;
    }
    if (--pending === 0) callback(undefined, value);
  };
  runs.forEach((r, i) => {
    if (i === runs.length - 1 && !last) {
      if (r.length > 1) pipeline(...r, (error) => done(error));
      else finished(r[0], (error) => done(error));
      return;
    }
    // A function stage reads this run's tail to its end (or its error):
    // pipeline() would destroy the tail as soon as its writable side ends.
    for (let k = 0; k < r.length - 1; k++) {
      r[k].on('error', (error) => r[k + 1].destroy(error));
      r[k].pipe(r[k + 1]);
    }
    done();
  });
  if (last) {
    // An async generator's body runs only as it is iterated: drain it.
    const consume = async () => {
      const result = last(run[run.length - 1]);
      if (result === null || typeof result !== 'object' || typeof result[Symbol.asyncIterator] !== 'function') return result;
      let final;
      for await (const item of result) final = item;
      return final;
    };
    Promise.resolve().then(consume).then((v) => {
      value = v;
      done();
    }, done);
  }
  return run[run.length - 1];
}

function pipelineCallback(...args) {
  const callback = args.pop();
  if (typeof callback !== 'function') throw new TypeError('The "callback" argument must be of type function');
  return pipelineStages(args, callback);
}

const promises = {
  pipeline: (...streams) => new Promise((resolve, reject) => {
    pipelineStages(streams, (error, value) => (error ? reject(error) : resolve(value)));
  }),
  finished: (stream, options = {}) => new Promise((resolve, reject) => {
    finished(stream, options, (error) => (error ? reject(error) : resolve()));
  }),
};

function isReadable(stream) {
  return !!(stream && stream.readable && !stream.destroyed && !(stream._readableState && stream._readableState.ended));
}

function isErrored(stream) {
  return !!(stream && ((stream._readableState && stream._readableState.errorEmitted) ||
    (stream._writableState && stream._writableState.errorEmitted)));
}

function isDisturbed(stream) {
  return !!(stream && stream._readableState && (stream._readableState.dataEmitted || stream._readableState.endEmitted));
}

// A stream destroyed with an AbortError when signal aborts.
function addAbortSignal(signal, stream) {
  if (signal === undefined || typeof signal.addEventListener !== 'function') {
    throw new TypeError('The "signal" argument must be an instance of AbortSignal');
  }
  const onAbort = () => {
    const error = new Error('The operation was aborted');
    error.name = 'AbortError';
    error.code = 'ABORT_ERR';
    error.cause = signal.reason;
    stream.destroy(error);
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  return stream;
}

let defaultHighWaterMark = 16 * 1024;
let defaultObjectHighWaterMark = 16;

Object.assign(Stream, {
  Stream,
  Readable,
  Writable,
  Duplex,
  Transform,
  PassThrough,
  finished,
  pipeline: pipelineCallback,
  promises,
  isReadable,
  isErrored,
  isDisturbed,
  isDestroyed: (stream) => !!(stream && stream.destroyed),
  isWritable: (stream) => !!(stream && stream.writable && !stream.destroyed && !stream.writableEnded),
  destroy: (stream, error) => { stream.destroy(error); },
  addAbortSignal,
  getDefaultHighWaterMark: (objectMode) => (objectMode ? defaultObjectHighWaterMark : defaultHighWaterMark),
  setDefaultHighWaterMark: (objectMode, value) => {
    if (!Number.isInteger(value) || value < 0) throw new RangeError('The "value" argument must be a non-negative integer');
    if (objectMode) defaultObjectHighWaterMark = value;
    else defaultHighWaterMark = value;
  },
  ...require('node/unimplemented.js')('stream', ['compose', 'duplexPair']),
});
module.exports = Stream;
