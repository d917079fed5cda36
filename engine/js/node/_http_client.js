// node:_http_client: node:http's ClientRequest (it throws here, as http.request does).
'use strict';
module.exports = { ClientRequest: require('node:http').ClientRequest };
