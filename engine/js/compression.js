// CompressionStream and DecompressionStream ('gzip', 'deflate', 'deflate-raw')
// and crypto.DigestStream, as Cloudflare Workers has them. The work is
// native (engine/src/api/compression.cc, crypto.cc); its state sits behind a
// handle that only these functions hold, freed when the stream ends, errors,
// is cancelled or aborted, and else when the handle is collected.
//
// A (de)compression stream makes output only as its reader asks for it: a
// written chunk is handed to zlib, and each pull of the readable side takes
// one piece (64 KiB at most) out; the write settles once its output has all
// been read. So a decompression bomb streams out in constant memory to a
// reader that keeps up, and meets the memory limit (a RangeError) otherwise.
// As with any TransformStream, a writer that waits on its write before
// anything reads waits for good.

const ZLIB_FORMATS = ['gzip', 'deflate', 'deflate-raw'];
const ZLIB_NOT_BYTES = 'This TransformStream is being used as a byte stream, but received an object of '
  + 'non-ArrayBuffer/ArrayBufferView type on its writable side.';

// The writable side's controller, read without looking anything up at call time.
const WritableStreamDefaultControllerError = uncurryThis(WritableStreamDefaultController.prototype.error);
const WritableStreamDefaultControllerGetSignal = uncurryThis(
  ObjectGetOwnPropertyDescriptor(WritableStreamDefaultController.prototype, 'signal').get);
const AbortSignalGetReason = uncurryThis(ObjectGetOwnPropertyDescriptor(AbortSignal.prototype, 'reason').get);

function isBufferSource(value) {
  return isArrayBuffer(value) || ArrayBufferIsView(value);
}

// { readable, writable } of a zlib stream of format, either way.
function zlibStreams(format, decompress) {
  const handle = native.zlibCreate(format, decompress);
  let readableController; // the readable side's
  let writableController; // the writable side's
  let pending = null;     // the write or close whose output is being read out: a streamPromise record
  let closing = false;    // pending is the close
  let demand = false;     // the readable side has pulled and got nothing yet
  let pumping = false;
  let finished = false;   // closed, errored, cancelled or aborted: the handle is freed

  const settle = (error, failed) => {
    const record = pending;
    pending = null;
    if (record === null) return;
    if (failed) streamReject(record, error);
    else streamResolve(record, undefined);
  };

  // The end of the stream, whichever way: the native state goes at once.
  const finish = () => {
    finished = true;
    native.freeNative(handle);
  };

  // Both sides error with error (zlib refused the data, a chunk was not bytes).
  const fail = (error) => {
    if (finished) return;
    finish();
    readableStreamControllerError(readableController, error);
    if (writableController !== undefined) WritableStreamDefaultControllerError(writableController, error);
    settle(error, true);
  };

  // Hands the reader the next piece while it wants one and there is input.
  const pump = () => {
    if (pumping) return;
    pumping = true;
    try {
      while (demand && pending !== null && !finished) {
        let piece;
        try {
          piece = native.zlibRead(handle);
          if (piece !== null) {
            demand = false;
            readableStreamControllerEnqueue(readableController, piece);
            continue;
          }
        } catch (error) {
          fail(error);
          return;
        }
        // The input written so far gave all it gives.
        if (closing) {
          finish();
          readableStreamControllerClose(readableController);
        }
        settle(undefined, false);
      }
    } finally {
      pumping = false;
    }
  };

  // A write or the close, waited on until its output has been read out.
  const begin = (isClose) => {
    pending = streamPromise(true);
    closing = isClose;
    const promise = pending.promise;
    pump();
    return promise;
  };

  const readable = readableByteStreamCreate({
    __proto__: null,
    start(controller) {
      readableController = controller;
    },
    pull() {
      demand = true;
      pump();
    },
    cancel(reason) {
      if (finished) return;
      finish();
      if (writableController !== undefined) WritableStreamDefaultControllerError(writableController, reason);
      settle(reason, true);
    },
  });

  const writable = writableStreamCreate({
    __proto__: null,
    start(controller) {
      writableController = controller;
      // An abort does not wait for a write that waits for its reader.
      const signal = WritableStreamDefaultControllerGetSignal(controller);
      abortSignalAddAlgorithm(signal, () => {
        if (finished) return;
        const reason = AbortSignalGetReason(signal);
        finish();
        readableStreamControllerError(readableController, reason);
        settle(reason, true);
      });
    },
    write(chunk) {
      if (finished) return streamRejected(new TypeError('The stream is closed'), true);
      try {
        if (!isBufferSource(chunk)) throw new TypeError(ZLIB_NOT_BYTES);
        native.zlibWrite(handle, chunk);
      } catch (error) {
        fail(error);
        throw error;
      }
      return begin(false);
    },
    close() {
      if (finished) return streamRejected(new TypeError('The stream is closed'), true);
      native.zlibEnd(handle);
      return begin(true);
    },
    abort() {
      // The signal's algorithm above has done it all.
      if (!finished) finish();
    },
  });

  return { __proto__: null, readable, writable };
}

function zlibFormat(format, what) {
  const name = toDOMString(format);
  if (!ArrayPrototypeIncludes(ZLIB_FORMATS, name)) {
    throw new TypeError(`${what}: the format must be 'gzip', 'deflate' or 'deflate-raw', not '${name}'`);
  }
  return name;
}

// Both classes are TransformStreams to instanceof, as on Workers; their
// readable and writable are their own.
function zlibStreamClass(decompress) {
  const what = decompress ? 'DecompressionStream' : 'CompressionStream';
  let readableOf;
  let writableOf;
  class ZlibStream {
    #readable;
    #writable;

    constructor(format) {
      requireArgs(arguments.length, 1, what);
      const streams = zlibStreams(zlibFormat(format, what), decompress);
      this.#readable = streams.readable;
      this.#writable = streams.writable;
    }

    get readable() {
      return this.#readable;
    }

    get writable() {
      return this.#writable;
    }
  }
  ObjectDefineProperty(ZlibStream, 'name', { value: what, configurable: true });
  ObjectSetPrototypeOf(ZlibStream.prototype, TransformStream.prototype);
  ObjectSetPrototypeOf(ZlibStream, TransformStream);
  setToStringTag(ZlibStream.prototype, what);
  return ZlibStream;
}

defineGlobal('CompressionStream', zlibStreamClass(false));
defineGlobal('DecompressionStream', zlibStreamClass(true));

// ---- crypto.DigestStream ----

// Gives a built-in's object a private field: the constructor returns the
// object it is given, so a subclass's fields land on it.
class DigestStreamBase {
  constructor(object) {
    return object;
  }
}

class DigestStreamFields extends DigestStreamBase {
  #digest;

  constructor(object, digest) {
    super(object);
    this.#digest = digest;
  }

  static digestOf(object) {
    if (!isObject(object) || !(#digest in object)) throw new TypeError('Illegal invocation: not a DigestStream');
    return object.#digest;
  }
}

// A WritableStream whose `digest` is a promise of the digest of every byte
// written, settled when the stream is closed (or rejected when it is aborted).
// Chunks: ArrayBuffers, views, or strings (as UTF-8).
class DigestStream {
  constructor(algorithm) {
    requireArgs(arguments.length, 1, 'DigestStream');
    const { name } = cryptoAlgorithm(algorithm, CRYPTO_DIGESTS);
    const handle = native.digestCreate(name);
    const digest = streamPromise(false);
    streamMarkHandled(digest.promise);
    const sink = {
      __proto__: null,
      write(chunk) {
        try {
          let bytes = chunk;
          if (typeof chunk === 'string') bytes = utf8Encode(chunk);
          else if (!isBufferSource(chunk)) {
            throw new TypeError('DigestStream is a byte stream but received an object of '
              + 'non-ArrayBuffer/ArrayBufferView/string type on its writable side.');
          }
          for (let at = 0; at !== -1;) at = native.digestUpdate(handle, bytes, at); // a piece per call
        } catch (error) {
          // The stream errors with it, and no abort follows.
          native.freeNative(handle);
          streamReject(digest, error);
          throw error;
        }
      },
      close() {
        const result = native.digestFinish(handle);
        digest.settled = true;
        digest.resolve(result);
      },
      abort(reason) {
        native.freeNative(handle);
        streamReject(digest, reason);
      },
    };
    const stream = writableStreamCreate(sink);
    const prototype = new.target.prototype;
    ObjectSetPrototypeOf(stream, isObject(prototype) ? prototype : DigestStream.prototype);
    return new DigestStreamFields(stream, digest.promise);
  }

  get digest() {
    return DigestStreamFields.digestOf(this);
  }
}
ObjectSetPrototypeOf(DigestStream.prototype, WritableStream.prototype);
ObjectSetPrototypeOf(DigestStream, WritableStream);
setToStringTag(DigestStream.prototype, 'DigestStream');
ObjectDefineProperty(Crypto.prototype, 'DigestStream', {
  value: DigestStream, writable: true, configurable: true, enumerable: false,
});
