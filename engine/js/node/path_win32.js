// node:path/win32: Windows paths are not implemented here (node:path is
// POSIX): each function throws when called.
'use strict';
module.exports = require('node/unimplemented.js')('path/win32', [
  'basename', 'dirname', 'extname', 'format', 'isAbsolute', 'join', 'normalize', 'parse', 'relative', 'resolve',
  'toNamespacedPath', 'matchesGlob',
], { sep: '\\', delimiter: ';' });
