// node:tls: not implemented here: each function throws when called.
'use strict';
module.exports = require('node/unimplemented.js')('tls', [
  'connect', 'createServer', 'createSecureContext', 'checkServerIdentity', 'getCiphers', 'TLSSocket', 'Server',
  'SecureContext',
], { DEFAULT_MIN_VERSION: 'TLSv1.2', DEFAULT_MAX_VERSION: 'TLSv1.3', rootCertificates: [] });
