// node:dgram: there are no UDP sockets; each function throws when called (as on Workers).
'use strict';
module.exports = require('node/unimplemented.js')('dgram', ['createSocket', 'Socket']);
