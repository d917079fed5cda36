// node:trace_events: nothing is traced; createTracing throws (as on Workers).
'use strict';
module.exports = require('node/unimplemented.js')('trace_events', ['createTracing'], {
  getEnabledCategories: () => undefined,
});
