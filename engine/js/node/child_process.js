// node:child_process: there are no processes to start; each function
// throws when called (as on Workers).
'use strict';
module.exports = require('node/unimplemented.js')('child_process', ['ChildProcess', '_forkChild', 'exec', 'execFile',
  'execFileSync', 'execSync', 'fork', 'spawn', 'spawnSync']);
