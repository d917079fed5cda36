// node:worker_threads, as Workers has it: the main thread, no workers
// (Worker throws); the message classes are the globals.
'use strict';
const environmentData = new Map();
module.exports = require('node/unimplemented.js')('worker_threads', ['Worker', 'markAsUntransferable',
  'isMarkedAsUntransferable', 'moveMessagePortToContext', 'receiveMessageOnPort', 'postMessageToThread'], {
  isMainThread: true, parentPort: null, resourceLimits: {}, threadId: 0, workerData: null,
  SHARE_ENV: Symbol.for('nodejs.worker_threads.SHARE_ENV'),
  BroadcastChannel: globalThis.BroadcastChannel, MessageChannel: globalThis.MessageChannel,
  MessagePort: globalThis.MessagePort,
  getEnvironmentData: (key) => environmentData.get(key),
  setEnvironmentData: (key, value) => {
    if (value === undefined) environmentData.delete(key);
    else environmentData.set(key, value);
  },
});
