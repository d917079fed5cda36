'use strict';
// node:_stream_transform (legacy name): node:stream's Transform.
module.exports = require('node:stream').Transform;
