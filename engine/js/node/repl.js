// node:repl: there is no REPL; each function throws when called (as on Workers).
'use strict';
module.exports = require('node/unimplemented.js')('repl', ['start', 'REPLServer', 'Recoverable'], {
  REPL_MODE_SLOPPY: Symbol('repl-sloppy'), REPL_MODE_STRICT: Symbol('repl-strict'),
  builtinModules: [], writer: (value) => String(value),
});
