// node:http: STATUS_CODES, METHODS, maxHeaderSize, the header validators
// and an Agent (it pools nothing: fetch() makes the connections, as on
// Workers), so that a bundle that imports node:http (wrangler leaves it to
// the runtime from a compatibility date of 2025-08-15) starts and its
// libraries' top levels run (agentkeepalive extends Agent). Requests and
// servers are not implemented: each throws when called.
'use strict';
const EventEmitter = require('node:events');

const STATUS_CODES = {
  100: 'Continue', 101: 'Switching Protocols', 102: 'Processing', 103: 'Early Hints', 200: 'OK', 201: 'Created',
  202: 'Accepted', 203: 'Non-Authoritative Information', 204: 'No Content', 205: 'Reset Content',
  206: 'Partial Content', 207: 'Multi-Status', 208: 'Already Reported', 226: 'IM Used', 300: 'Multiple Choices',
  301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 304: 'Not Modified', 305: 'Use Proxy',
  307: 'Temporary Redirect', 308: 'Permanent Redirect', 400: 'Bad Request', 401: 'Unauthorized',
  402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 406: 'Not Acceptable',
  407: 'Proxy Authentication Required', 408: 'Request Timeout', 409: 'Conflict', 410: 'Gone', 411: 'Length Required',
  412: 'Precondition Failed', 413: 'Payload Too Large', 414: 'URI Too Long', 415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable', 417: 'Expectation Failed', 418: "I'm a Teapot", 421: 'Misdirected Request',
  422: 'Unprocessable Entity', 423: 'Locked', 424: 'Failed Dependency', 425: 'Too Early', 426: 'Upgrade Required',
  428: 'Precondition Required', 429: 'Too Many Requests', 431: 'Request Header Fields Too Large',
  451: 'Unavailable For Legal Reasons', 500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway',
  503: 'Service Unavailable', 504: 'Gateway Timeout', 505: 'HTTP Version Not Supported',
  506: 'Variant Also Negotiates', 507: 'Insufficient Storage', 508: 'Loop Detected', 509: 'Bandwidth Limit Exceeded',
  510: 'Not Extended', 511: 'Network Authentication Required'
};

const METHODS = ['ACL', 'BIND', 'CHECKOUT', 'CONNECT', 'COPY', 'DELETE', 'GET', 'HEAD', 'LINK', 'LOCK', 'M-SEARCH', 'MERGE',
  'MKACTIVITY', 'MKCALENDAR', 'MKCOL', 'MOVE', 'NOTIFY', 'OPTIONS', 'PATCH', 'POST', 'PROPFIND', 'PROPPATCH', 'PURGE', 'PUT',
  'QUERY', 'REBIND', 'REPORT', 'SEARCH', 'SOURCE', 'SUBSCRIBE', 'TRACE', 'UNBIND', 'UNLINK', 'UNLOCK', 'UNSUBSCRIBE'];

class Agent extends EventEmitter {
  constructor(options) {
    super();
    this.options = { __proto__: null, ...options, path: null };
    this.defaultPort = 80;
    this.protocol = 'http:';
    this.keepAlive = Boolean(this.options.keepAlive);
    this.keepAliveMsecs = this.options.keepAliveMsecs || 1000;
    this.maxSockets = this.options.maxSockets || Infinity;
    this.maxFreeSockets = this.options.maxFreeSockets || 256;
    this.maxTotalSockets = this.options.maxTotalSockets || Infinity;
    this.totalSocketCount = 0;
    this.scheduling = this.options.scheduling || 'lifo';
    this.requests = { __proto__: null };
    this.sockets = { __proto__: null };
    this.freeSockets = { __proto__: null };
  }

  getName(options = {}) {
    return `${options.host || 'localhost'}:${options.port || ''}:${options.localAddress || ''}${options.family === 4 || options.family === 6 ? `:${options.family}` : ''}`;
  }

  destroy() {}
}

const TOKEN = /^[\^_`a-zA-Z\-0-9!#$%&'*+.|~]+$/;
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

function validateHeaderName(name) {
  if (typeof name !== 'string' || !name || !TOKEN.test(name)) {
    const error = new TypeError(`Header name must be a valid HTTP token ["${name}"]`);
    error.code = 'ERR_INVALID_HTTP_TOKEN';
    throw error;
  }
}

function validateHeaderValue(name, value) {
  if (value === undefined) {
    const error = new TypeError(`Invalid value "${value}" for header "${name}"`);
    error.code = 'ERR_HTTP_INVALID_HEADER_VALUE';
    throw error;
  }
  if (INVALID_VALUE.test(String(value))) {
    const error = new TypeError(`Invalid character in header content ["${name}"]`);
    error.code = 'ERR_INVALID_CHAR';
    throw error;
  }
}

module.exports = require('node/unimplemented.js')('http', [
  'request', 'get', 'createServer', 'Server', 'ClientRequest', 'IncomingMessage', 'OutgoingMessage', 'ServerResponse',
], {
  STATUS_CODES,
  METHODS,
  Agent,
  globalAgent: new Agent({ keepAlive: true, scheduling: 'lifo', timeout: 5000 }),
  maxHeaderSize: 16384,
  validateHeaderName,
  validateHeaderValue,
  setMaxIdleHTTPParsers: () => {},
});
