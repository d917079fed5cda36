// node:_http_server: node:http's Server and ServerResponse (they throw here).
'use strict';
const http = require('node:http');
module.exports = require('node/unimplemented.js')('_http_server', ['setupConnectionsTracking', 'storeHTTPOptions',
  '_connectionListener', 'httpServerPreClose'], {
  STATUS_CODES: http.STATUS_CODES,
  Server: http.Server,
  ServerResponse: http.ServerResponse,
  kServerResponse: Symbol('ServerResponse'),
});
