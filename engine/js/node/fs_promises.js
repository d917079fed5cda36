// node:fs/promises: node:fs's promise forms (node/fs.js).
'use strict';
module.exports = require('node:fs').promises;
