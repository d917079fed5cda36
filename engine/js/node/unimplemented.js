// The modules Workers has and this runtime does not implement (yet): a
// module with Node's export names, so that a bundle that imports one (as
// wrangler's leaves node:zlib, node:net… to the runtime) links and starts,
// and each function throws a clear error when called, as workerd does for
// what it cannot do.
'use strict';

module.exports = function unimplemented(moduleName, functions, values = {}) {
  const exports = {};
  for (const name of functions) {
    exports[name] = function notImplemented() {
      const error = new Error(`node:${moduleName} ${name}() is not implemented in this runtime`);
      error.code = 'ERR_METHOD_NOT_IMPLEMENTED';
      throw error;
    };
    Object.defineProperty(exports[name], 'name', { value: name });
  }
  return Object.assign(exports, values);
};
