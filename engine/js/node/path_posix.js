// node:path/posix: node:path itself (POSIX is all there is).
'use strict';
module.exports = require('node:path').posix;
