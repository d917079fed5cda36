// node:_stream_wrap: not implemented here (as on Workers): it throws when called.
'use strict';
module.exports = require('node/unimplemented.js')('_stream_wrap', ['JSStreamSocket']).JSStreamSocket;
