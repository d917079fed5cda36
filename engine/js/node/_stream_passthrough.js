'use strict';
// node:_stream_passthrough (legacy name): node:stream's PassThrough.
module.exports = require('node:stream').PassThrough;
