// node:_http_outgoing: node:http's OutgoingMessage (it throws here) and header checks.
'use strict';
const http = require('node:http');
module.exports = {
  OutgoingMessage: http.OutgoingMessage,
  validateHeaderName: http.validateHeaderName,
  validateHeaderValue: http.validateHeaderValue,
};
