// node:http2: not implemented here: each function throws when called. Its
// header and method constants are there, which libraries read at their top
// level (wrangler leaves node:http2 to the runtime from a compatibility date
// of 2025-08-15).
'use strict';
const constants = {};
for (const name of [':status', ':method', ':authority', ':scheme', ':path', ':protocol', 'accept-encoding', 'accept-language',
  'accept-ranges', 'accept', 'access-control-allow-credentials', 'access-control-allow-headers',
  'access-control-allow-methods', 'access-control-allow-origin', 'access-control-expose-headers',
  'access-control-request-headers', 'access-control-request-method', 'age', 'authorization', 'cache-control',
  'connection', 'content-disposition', 'content-encoding', 'content-length', 'content-type', 'cookie', 'date', 'etag',
  'forwarded', 'host', 'if-modified-since', 'if-none-match', 'if-range', 'last-modified', 'link', 'location', 'range',
  'referer', 'server', 'set-cookie', 'strict-transport-security', 'transfer-encoding', 'te', 'upgrade',
  'upgrade-insecure-requests', 'user-agent', 'vary', 'x-content-type-options', 'x-frame-options', 'keep-alive',
  'proxy-connection', 'x-xss-protection', 'alt-svc', 'content-security-policy', 'early-data', 'expect-ct', 'origin',
  'purpose', 'timing-allow-origin', 'x-forwarded-for', 'priority', 'accept-charset', 'access-control-max-age', 'allow',
  'content-language', 'content-location', 'content-md5', 'content-range', 'dnt', 'expect', 'expires', 'from',
  'if-match', 'if-unmodified-since', 'max-forwards', 'prefer', 'proxy-authenticate', 'proxy-authorization', 'refresh',
  'retry-after', 'trailer', 'tk', 'via', 'warning', 'www-authenticate', 'http2-settings']) {
  constants[`HTTP2_HEADER_${name.replace(/^:/, '').replace(/-/g, '_').toUpperCase()}`] = name;
}
for (const method of ['ACL', 'BASELINE-CONTROL', 'BIND', 'CHECKIN', 'CHECKOUT', 'CONNECT', 'COPY', 'DELETE', 'GET', 'HEAD',
  'LABEL', 'LINK', 'LOCK', 'MERGE', 'MKACTIVITY', 'MKCALENDAR', 'MKCOL', 'MKREDIRECTREF', 'MKWORKSPACE', 'MOVE',
  'OPTIONS', 'ORDERPATCH', 'PATCH', 'POST', 'PRI', 'PROPFIND', 'PROPPATCH', 'PUT', 'REBIND', 'REPORT', 'SEARCH', 'TRACE',
  'UNBIND', 'UNCHECKOUT', 'UNLINK', 'UNLOCK', 'UPDATE', 'UPDATEREDIRECTREF', 'VERSION-CONTROL']) {
  constants[`HTTP2_METHOD_${method.replace(/-/g, '_')}`] = method;
}

module.exports = require('node/unimplemented.js')('http2', [
  'connect', 'createServer', 'createSecureServer', 'getDefaultSettings', 'getPackedSettings', 'getUnpackedSettings',
  'performServerHandshake', 'Http2ServerRequest', 'Http2ServerResponse',
], { constants, sensitiveHeaders: Symbol('nodejs.http2.sensitiveHeaders') });
