// node:readline: there is no terminal; each function throws when called (as on Workers).
'use strict';
const unimplemented = require('node/unimplemented.js');
module.exports = unimplemented('readline', ['Interface', 'clearLine', 'clearScreenDown', 'createInterface', 'cursorTo',
  'emitKeypressEvents', 'moveCursor'], { promises: unimplemented('readline/promises', ['Interface', 'Readline', 'createInterface']) });
