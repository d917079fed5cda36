// node:buffer: Debian's node-buffer (feross/buffer 6, the Node.js Buffer on
// Uint8Array), plus what Node's module has beside it and that package has
// not: base64url, atob/btoa, Blob and File, constants, isUtf8/isAscii.
// Every Buffer's bytes are a Uint8Array's, so the isolate's memory budget
// sees them as any other (a huge Buffer.alloc is a huge Uint8Array).
'use strict';
const base = require('buffer/index.js');
const Buffer = base.Buffer;

// base64url (RFC 4648 §5) through base64, as Node's encodings have it.
const toBase64 = (s) => {
  let out = String(s).replace(/-/g, '+').replace(/_/g, '/');
  while (out.length % 4 !== 0) out += '=';
  return out;
};
const fromBase64 = (s) => s.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const isBase64url = (encoding) => typeof encoding === 'string' && encoding.toLowerCase() === 'base64url';

const originalFrom = Buffer.from;
Buffer.from = function from(value, encodingOrOffset, length) {
  if (typeof value === 'string' && isBase64url(encodingOrOffset)) {
    return originalFrom.call(this, toBase64(value), 'base64');
  }
  return originalFrom.call(this, value, encodingOrOffset, length);
};
const originalToString = Buffer.prototype.toString;
Buffer.prototype.toString = function toString(encoding, start, end) {
  if (isBase64url(encoding)) return fromBase64(originalToString.call(this, 'base64', start, end));
  return originalToString.apply(this, arguments);
};
const originalByteLength = Buffer.byteLength;
Buffer.byteLength = function byteLength(value, encoding) {
  if (typeof value === 'string' && isBase64url(encoding)) {
    return originalByteLength(toBase64(value), 'base64');
  }
  return originalByteLength(value, encoding);
};
const originalIsEncoding = Buffer.isEncoding;
Buffer.isEncoding = function isEncoding(encoding) {
  return isBase64url(encoding) || originalIsEncoding(encoding);
};
const originalWrite = Buffer.prototype.write;
Buffer.prototype.write = function write(string, offset, length, encoding) {
  for (let i = 1; i < arguments.length; i++) {
    if (isBase64url(arguments[i])) {
      const args = Array.prototype.slice.call(arguments);
      args[0] = toBase64(string);
      args[i] = 'base64';
      return originalWrite.apply(this, args);
    }
  }
  return originalWrite.apply(this, arguments);
};
const originalFill = Buffer.prototype.fill;
Buffer.prototype.fill = function fill(value, offset, end, encoding) {
  for (let i = 1; i < arguments.length; i++) {
    if (isBase64url(arguments[i]) && typeof value === 'string') {
      const args = Array.prototype.slice.call(arguments);
      args[0] = toBase64(value);
      args[i] = 'base64';
      return originalFill.apply(this, args);
    }
  }
  return originalFill.apply(this, arguments);
};

// Node's per-encoding methods, which libraries call directly (busboy's
// chunk.latin1Slice): xSlice(start, end) is toString(x, start, end) and
// xWrite(string, offset, length) is write(string, offset, length, x).
for (const [name, encoding] of [['ascii', 'ascii'], ['base64', 'base64'], ['base64url', 'base64url'], ['latin1', 'latin1'],
  ['hex', 'hex'], ['ucs2', 'ucs2'], ['utf8', 'utf8']]) {
  Object.defineProperty(Buffer.prototype, `${name}Slice`, {
    value: { [`${name}Slice`](start = 0, end = this.length) { return this.toString(encoding, start, end); } }[`${name}Slice`],
    writable: true, configurable: true,
  });
  Object.defineProperty(Buffer.prototype, `${name}Write`, {
    value: { [`${name}Write`](string, offset = 0, length = this.length - offset) { return this.write(string, offset, length, encoding); } }[`${name}Write`],
    writable: true, configurable: true,
  });
}

// The lower-case "Uint" spellings Node added beside readBigUInt64BE & co.
for (const name of ['readBigUInt64BE', 'readBigUInt64LE', 'writeBigUInt64BE', 'writeBigUInt64LE']) {
  const alias = name.replace('UInt', 'Uint');
  if (!(alias in Buffer.prototype) && typeof Buffer.prototype[name] === 'function') {
    Object.defineProperty(Buffer.prototype, alias, { value: Buffer.prototype[name], writable: true, configurable: true });
  }
}

// Buffer.copyBytesFrom(view, offset, length): a copy of the view's elements as bytes.
Buffer.copyBytesFrom = function copyBytesFrom(view, offset = 0, length) {
  if (!ArrayBuffer.isView(view) || view instanceof DataView) {
    throw new TypeError('The "view" argument must be an instance of TypedArray');
  }
  const size = view.BYTES_PER_ELEMENT;
  const end = length === undefined ? view.length : Math.min(view.length, offset + length);
  const start = Math.min(offset, view.length);
  return Buffer.from(new Uint8Array(view.buffer, view.byteOffset + start * size, Math.max(0, end - start) * size));
};

const kMaxLength = base.kMaxLength;
let decoder = null;

function isUtf8(input) {
  try {
    decoder ??= new TextDecoder('utf-8', { fatal: true });
    decoder.decode(input);
    return true;
  } catch {
    return false;
  }
}

function isAscii(input) {
  const bytes = ArrayBuffer.isView(input)
    ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength)
    : new Uint8Array(input);
  for (let i = 0; i < bytes.length; i++) if (bytes[i] > 0x7f) return false;
  return true;
}

function transcode() {
  throw new Error('buffer.transcode is not implemented');
}

module.exports = {
  Buffer,
  SlowBuffer: base.SlowBuffer,
  INSPECT_MAX_BYTES: base.INSPECT_MAX_BYTES,
  kMaxLength,
  kStringMaxLength: 2 ** 29 - 24,
  constants: { MAX_LENGTH: kMaxLength, MAX_STRING_LENGTH: 2 ** 29 - 24 },
  atob: globalThis.atob,
  btoa: globalThis.btoa,
  Blob: globalThis.Blob,
  File: globalThis.File,
  isUtf8,
  isAscii,
  transcode,
};
