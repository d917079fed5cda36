// node:os, as Workers has it: fixed answers about a machine scripts do not
// see.
'use strict';
module.exports = {
  EOL: '\n',
  arch: () => 'x64',
  availableParallelism: () => 1,
  cpus: () => [],
  devNull: '/dev/null',
  endianness: () => 'LE',
  freemem: () => 0,
  getPriority: () => 0,
  homedir: () => '/',
  hostname: () => 'localhost',
  loadavg: () => [0, 0, 0],
  machine: () => 'x86_64',
  networkInterfaces: () => ({}),
  platform: () => 'linux',
  release: () => '',
  setPriority: () => {},
  tmpdir: () => '/tmp',
  totalmem: () => 0,
  type: () => 'Linux',
  uptime: () => 0,
  userInfo: () => ({ uid: 0, gid: 0, username: '', homedir: '/', shell: null }),
  version: () => '',
  constants: { signals: {}, errno: {}, priority: {} },
};
