// node:dns/promises: node:dns's promises (not implemented here).
'use strict';
module.exports = require('node:dns').promises;
