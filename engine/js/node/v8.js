// node:v8: the engine is not reachable from scripts; each function throws when called.
'use strict';
module.exports = require('node/unimplemented.js')('v8', ['cachedDataVersionTag', 'getHeapSnapshot',
  'getHeapStatistics', 'getHeapSpaceStatistics', 'getHeapCodeStatistics', 'setFlagsFromString', 'serialize',
  'deserialize', 'Serializer', 'Deserializer', 'DefaultSerializer', 'DefaultDeserializer', 'writeHeapSnapshot',
  'takeCoverage', 'stopCoverage', 'setHeapSnapshotNearHeapLimit', 'queryObjects', 'isStringOneByteRepresentation'], {
  promiseHooks: {}, startupSnapshot: { isBuildingSnapshot: () => false },
});
