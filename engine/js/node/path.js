// node:path: Debian's node-path-browserify (Node's POSIX path module as a
// package); win32 is absent here, as on Workers.
'use strict';
module.exports = require('path-browserify/index.js');
