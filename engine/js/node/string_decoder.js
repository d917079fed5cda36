// node:string_decoder: Debian's node-string-decoder (Node's StringDecoder
// as a package), on node:buffer. write() and end() also take any
// ArrayBufferView, as Node's do.
'use strict';
const { Buffer } = require('node:buffer');
const base = require('string_decoder/lib/string_decoder.js');

const asBuffer = (bytes) => (ArrayBuffer.isView(bytes) && !Buffer.isBuffer(bytes)
  ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes);

class StringDecoder extends base.StringDecoder {
  write(bytes) {
    return super.write(asBuffer(bytes));
  }

  end(bytes) {
    return super.end(asBuffer(bytes));
  }
}

module.exports = { StringDecoder };
