// node:inspector: there is no inspector to reach; each function throws
// when called (as on Workers), url() answers undefined.
'use strict';
module.exports = require('node/unimplemented.js')('inspector', ['Session', 'open', 'close', 'waitForDebugger'], {
  url: () => undefined,
  console: globalThis.console,
  Network: {},
});
