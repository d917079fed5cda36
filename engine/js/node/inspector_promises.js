// node:inspector/promises: as node:inspector.
'use strict';
module.exports = require('node:inspector');
