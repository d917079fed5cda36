'use strict';
// node:sys (legacy name): node:util.
module.exports = require('node:util');
