// node:dns: not implemented here (no resolver is exposed to scripts):
// each function throws when called.
'use strict';
const names = ['lookup', 'lookupService', 'resolve', 'resolve4', 'resolve6', 'resolveAny', 'resolveCaa', 'resolveCname',
  'resolveMx', 'resolveNaptr', 'resolveNs', 'resolvePtr', 'resolveSoa', 'resolveSrv', 'resolveTxt', 'reverse',
  'getServers', 'setServers', 'setDefaultResultOrder', 'getDefaultResultOrder', 'Resolver'];
const unimplemented = require('node/unimplemented.js');
// The error codes, as Node names them (dns.NOTFOUND === 'ENOTFOUND')
const codes = {};
for (const code of ['NODATA', 'FORMERR', 'SERVFAIL', 'NOTFOUND', 'NOTIMP', 'REFUSED', 'BADQUERY', 'BADNAME', 'BADFAMILY',
  'BADRESP', 'CONNREFUSED', 'TIMEOUT', 'EOF', 'FILE', 'NOMEM', 'DESTRUCTION', 'BADSTR', 'BADFLAGS', 'NONAME', 'BADHINTS',
  'NOTINITIALIZED', 'LOADIPHLPAPI', 'ADDRGETNETWORKPARAMS', 'CANCELLED']) {
  codes[code] = `E${code}`;
}
const flags = { ADDRCONFIG: 32, V4MAPPED: 8, ALL: 16 };  // getaddrinfo's, on Linux
module.exports = unimplemented('dns', names, { ...codes, ...flags, promises: unimplemented('dns/promises', names, codes) });
