// node:_http_incoming: node:http's IncomingMessage (it throws here).
'use strict';
module.exports = require('node/unimplemented.js')('_http_incoming', ['readStart', 'readStop'], {
  IncomingMessage: require('node:http').IncomingMessage,
});
