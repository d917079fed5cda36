// node:dns: not implemented here (no resolver is exposed to scripts):
// each function throws when called.
'use strict';
const names = ['lookup', 'lookupService', 'resolve', 'resolve4', 'resolve6', 'resolveAny', 'resolveCaa', 'resolveCname',
  'resolveMx', 'resolveNaptr', 'resolveNs', 'resolvePtr', 'resolveSoa', 'resolveSrv', 'resolveTxt', 'reverse',
  'getServers', 'setServers', 'setDefaultResultOrder', 'getDefaultResultOrder', 'Resolver'];
const unimplemented = require('node/unimplemented.js');
module.exports = unimplemented('dns', names, { promises: unimplemented('dns/promises', names) });
