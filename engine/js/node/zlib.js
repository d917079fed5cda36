// node:zlib: not implemented here (CompressionStream and
// DecompressionStream are): each function throws when called.
'use strict';
module.exports = require('node/unimplemented.js')('zlib', [
  'createGzip', 'createGunzip', 'createDeflate', 'createInflate', 'createDeflateRaw', 'createInflateRaw',
  'createUnzip', 'createBrotliCompress', 'createBrotliDecompress',
  'gzip', 'gunzip', 'deflate', 'inflate', 'deflateRaw', 'inflateRaw', 'unzip', 'brotliCompress', 'brotliDecompress',
  'gzipSync', 'gunzipSync', 'deflateSync', 'inflateSync', 'deflateRawSync', 'inflateRawSync', 'unzipSync',
  'brotliCompressSync', 'brotliDecompressSync', 'crc32',
  'Gzip', 'Gunzip', 'Deflate', 'Inflate', 'DeflateRaw', 'InflateRaw', 'Unzip', 'BrotliCompress', 'BrotliDecompress',
], { constants: {} });
