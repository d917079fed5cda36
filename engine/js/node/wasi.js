// node:wasi: not implemented here (as on Workers): WASI throws when called.
'use strict';
module.exports = require('node/unimplemented.js')('wasi', ['WASI']);
