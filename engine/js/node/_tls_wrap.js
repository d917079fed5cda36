'use strict';
// node:_tls_wrap (legacy name): node:tls (not implemented here).
module.exports = require('node:tls');
