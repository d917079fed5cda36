// node:_http_common: what libraries read of it (the method list, the
// token checks); the parser is not there.
'use strict';
const http = require('node:http');
const tokenRe = /^[\^_`a-zA-Z\-0-9!#$%&'*+.|~]+$/;
const headerCharRe = /[^\t\x20-\x7e\x80-\xff]/;
module.exports = require('node/unimplemented.js')('_http_common', ['freeParser', 'prepareError', 'HTTPParser'], {
  _checkIsHttpToken: (value) => tokenRe.test(value),
  _checkInvalidHeaderChar: (value) => headerCharRe.test(value),
  chunkExpression: /(?:^|\W)chunked(?:$|\W)/i,
  continueExpression: /(?:^|\W)100-continue(?:$|\W)/i,
  CRLF: '\r\n',
  methods: http.METHODS,
  parsers: { free: () => {}, alloc: () => undefined },
  kIncomingMessage: Symbol('IncomingMessage'),
  isLenient: () => false,
});
