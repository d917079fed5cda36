'use strict';
// node:_stream_readable (legacy name): node:stream's Readable.
module.exports = require('node:stream').Readable;
