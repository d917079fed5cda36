// node:tty: nothing is a terminal (isatty is false); the streams throw (as on Workers).
'use strict';
module.exports = require('node/unimplemented.js')('tty', ['ReadStream', 'WriteStream'], { isatty: () => false });
