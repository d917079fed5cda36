// node:cluster, as Workers has it: always the primary, and fork() throws.
'use strict';
const EventEmitter = require('node:events');
const cluster = new EventEmitter();
Object.assign(cluster, require('node/unimplemented.js')('cluster', ['fork', 'Worker', 'setupPrimary', 'setupMaster', 'disconnect'], {
  isMaster: true, isPrimary: true, isWorker: false, SCHED_NONE: 1, SCHED_RR: 2, schedulingPolicy: 2,
  settings: {}, workers: {},
}));
module.exports = cluster;
