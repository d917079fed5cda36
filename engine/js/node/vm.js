// node:vm: not implemented here (as on Workers): each function throws when called.
'use strict';
module.exports = require('node/unimplemented.js')('vm', ['Script', 'createContext', 'createScript', 'isContext',
  'runInContext', 'runInNewContext', 'runInThisContext', 'compileFunction', 'measureMemory', 'SourceTextModule',
  'SyntheticModule', 'Module'], {
  constants: { USE_MAIN_CONTEXT_DEFAULT_LOADER: Symbol('USE_MAIN_CONTEXT_DEFAULT_LOADER'),
    DONT_CONTEXTIFY: Symbol('DONT_CONTEXTIFY') },
});
