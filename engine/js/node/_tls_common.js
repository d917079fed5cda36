'use strict';
// node:_tls_common (legacy name): node:tls (not implemented here).
module.exports = require('node:tls');
