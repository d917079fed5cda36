// node:_http_agent, as Workers has it: node:http's Agent.
'use strict';
const http = require('node:http');
module.exports = { Agent: http.Agent, globalAgent: http.globalAgent };
