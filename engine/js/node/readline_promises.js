// node:readline/promises: node:readline's promises.
'use strict';
module.exports = require('node:readline').promises;
