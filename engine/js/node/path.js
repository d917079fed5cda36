// node:path: Debian's node-path-browserify (Node's POSIX path module as a
// package); win32 is absent here, as on Workers.
'use strict';
const path = require('path-browserify/index.js');
// POSIX: the path itself, as Node's
path.toNamespacedPath = (p) => p;
module.exports = path;
