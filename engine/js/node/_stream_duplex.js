'use strict';
// node:_stream_duplex (legacy name): node:stream's Duplex.
module.exports = require('node:stream').Duplex;
