// node:zlib: gzip, deflate (zlib format) and raw deflate, both ways, in
// the synchronous, callback and stream forms, on the engine's zlib (the
// natives behind CompressionStream: zlib's memory and every piece of output
// count toward dispatch_memory_limit, so a decompression bomb meets it as a
// RangeError). unzip/createUnzip tell gzip from zlib by the first bytes.
// Options (level, windowBits, dictionary…) are not taken; Brotli and crc32
// are not implemented: they throw when called.
'use strict';
const { Buffer } = require('node:buffer');
const { Transform } = require('node:stream');

function bytesOf(data) {
  if (typeof data === 'string') return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new TypeError('The "buffer" argument must be of type string or an instance of Buffer, TypedArray, DataView or ArrayBuffer');
}

// 'gzip' | 'deflate' | 'deflate-raw' for a method, 'unzip' picks by the first bytes.
function formatOf(kind, first) {
  if (kind !== 'unzip') return kind;
  return first !== undefined && first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b ? 'gzip' : 'deflate';
}

// Reads out every piece the input gave.
function drain(handle, out) {
  for (;;) {
    const piece = internals.zlibRead(handle);
    if (piece === null) return;
    out.push(piece);
  }
}

function wrapError(error) {
  if (error instanceof RangeError) return error;
  const wrapped = new Error(error && error.message);
  wrapped.code = 'Z_DATA_ERROR';
  wrapped.errno = -3;
  return wrapped;
}

function processSync(kind, decompress, data) {
  const bytes = bytesOf(data);
  const handle = internals.zlibCreate(formatOf(kind, bytes), decompress);
  const out = [];
  try {
    internals.zlibWrite(handle, bytes);
    drain(handle, out);
    internals.zlibEnd(handle);
    drain(handle, out);
  } catch (error) {
    throw wrapError(error);
  } finally {
    internals.free(handle);
  }
  return Buffer.concat(out);
}

class ZlibTransform extends Transform {
  #kind;
  #decompress;
  #handle = null;

  constructor(kind, decompress, options) {
    super(options);
    this.#kind = kind;
    this.#decompress = decompress;
  }

  _transform(chunk, encoding, callback) {
    const out = [];
    try {
      const bytes = bytesOf(typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk);
      if (this.#handle === null) this.#handle = internals.zlibCreate(formatOf(this.#kind, bytes), this.#decompress);
      internals.zlibWrite(this.#handle, bytes);
      drain(this.#handle, out);
    } catch (error) {
      callback(wrapError(error));
      return;
    }
    for (const piece of out) this.push(Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength));
    callback();
  }

  _flush(callback) {
    const out = [];
    try {
      if (this.#handle === null) this.#handle = internals.zlibCreate(formatOf(this.#kind, undefined), this.#decompress);
      internals.zlibEnd(this.#handle);
      drain(this.#handle, out);
    } catch (error) {
      callback(wrapError(error));
      return;
    }
    this._release();
    for (const piece of out) this.push(Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength));
    callback();
  }

  _destroy(error, callback) {
    this._release();
    callback(error);
  }

  _release() {
    if (this.#handle !== null) internals.free(this.#handle);
    this.#handle = null;
  }
}

const unimplemented = require('node/unimplemented.js')('zlib', [
  'createBrotliCompress', 'createBrotliDecompress', 'brotliCompress', 'brotliDecompress',
  'brotliCompressSync', 'brotliDecompressSync', 'crc32', 'BrotliCompress', 'BrotliDecompress',
]);

const KINDS = [
  // [name, Class name, format, decompress]
  ['gzip', 'Gzip', 'gzip', false], ['gunzip', 'Gunzip', 'gzip', true],
  ['deflate', 'Deflate', 'deflate', false], ['inflate', 'Inflate', 'deflate', true],
  ['deflateRaw', 'DeflateRaw', 'deflate-raw', false], ['inflateRaw', 'InflateRaw', 'deflate-raw', true],
  ['unzip', 'Unzip', 'unzip', true],
];

const zlib = { ...unimplemented };
for (const [name, className, kind, decompress] of KINDS) {
  const sync = (data, options) => processSync(kind, decompress, data);
  zlib[`${name}Sync`] = sync;
  zlib[name] = (data, options, callback) => {
    if (typeof options === 'function') callback = options;
    if (typeof callback !== 'function') throw new TypeError('The "callback" argument must be of type function');
    let result;
    let failure = null;
    try {
      result = sync(data);
    } catch (error) {
      failure = error;
    }
    queueMicrotask(() => (failure ? callback(failure) : callback(null, result)));
  };
  const Class = { [className]: class extends ZlibTransform {
    constructor(options) {
      super(kind, decompress, options);
    }
  } }[className];
  zlib[className] = Class;
  zlib[`create${className}`] = (options) => new Class(options);
}

zlib.constants = {
  Z_NO_FLUSH: 0, Z_PARTIAL_FLUSH: 1, Z_SYNC_FLUSH: 2, Z_FULL_FLUSH: 3, Z_FINISH: 4, Z_BLOCK: 5,
  Z_OK: 0, Z_STREAM_END: 1, Z_NEED_DICT: 2, Z_ERRNO: -1, Z_STREAM_ERROR: -2, Z_DATA_ERROR: -3,
  Z_MEM_ERROR: -4, Z_BUF_ERROR: -5, Z_VERSION_ERROR: -6,
  Z_NO_COMPRESSION: 0, Z_BEST_SPEED: 1, Z_BEST_COMPRESSION: 9, Z_DEFAULT_COMPRESSION: -1,
};

// zlib.codes: the return codes by name and by number, as Node's
zlib.codes = {
  Z_OK: 0, Z_STREAM_END: 1, Z_NEED_DICT: 2, Z_ERRNO: -1, Z_STREAM_ERROR: -2, Z_DATA_ERROR: -3, Z_MEM_ERROR: -4,
  Z_BUF_ERROR: -5, Z_VERSION_ERROR: -6,
};
for (const [name, code] of Object.entries(zlib.codes)) zlib.codes[code] = name;

module.exports = zlib;
