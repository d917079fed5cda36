// node:module: there is no CommonJS loader for scripts here.
'use strict';
module.exports = require('node/unimplemented.js')('module', [
  'createRequire', 'register', 'syncBuiltinESMExports', 'findSourceMap', 'SourceMap',
], {
  builtinModules: ['assert', 'assert/strict', 'async_hooks', 'buffer', 'crypto', 'diagnostics_channel', 'events',
    'path', 'path/posix', 'process', 'querystring', 'stream', 'stream/consumers', 'stream/promises', 'stream/web',
    'string_decoder', 'timers', 'timers/promises', 'url', 'util', 'util/types'],
  isBuiltin: (name) => typeof internals.builtin(String(name)) !== 'undefined',
});
