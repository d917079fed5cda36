// node:https: node:http's Agent for port 443 and a globalAgent, so that a
// bundle that imports node:https starts (wrangler leaves it to the runtime
// from a compatibility date of 2025-08-15); requests and servers are not
// implemented: each throws when called.
'use strict';
const http = require('node:http');

class Agent extends http.Agent {
  constructor(options) {
    super(options);
    this.defaultPort = 443;
    this.protocol = 'https:';
    this.maxCachedSessions = this.options.maxCachedSessions ?? 100;
  }
}

module.exports = require('node/unimplemented.js')('https', ['request', 'get', 'createServer', 'Server'], {
  Agent,
  globalAgent: new Agent({ keepAlive: true, scheduling: 'lifo', timeout: 5000 }),
});
