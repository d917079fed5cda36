'use strict';
// node:_stream_writable (legacy name): node:stream's Writable.
module.exports = require('node:stream').Writable;
