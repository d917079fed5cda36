// node:net: sockets are not implemented here; isIP and friends are.
'use strict';
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
function isIPv4(input) {
  return IPV4.test(String(input));
}
function isIPv6(input) {
  const s = String(input);
  if (!s.includes(':')) return false;
  try {
    return new URL(`http://[${s}]/`).hostname.length > 2;
  } catch {
    return false;
  }
}
module.exports = require('node/unimplemented.js')('net', [
  'connect', 'createConnection', 'createServer', 'Socket', 'Server', 'BlockList', 'SocketAddress',
], {
  isIP: (input) => (isIPv4(input) ? 4 : isIPv6(input) ? 6 : 0),
  isIPv4,
  isIPv6,
});
