// node:sqlite: not implemented here (as on Workers): each function throws when called.
'use strict';
module.exports = require('node/unimplemented.js')('sqlite', ['DatabaseSync', 'StatementSync', 'backup'], {
  constants: { SQLITE_CHANGESET_OMIT: 0, SQLITE_CHANGESET_REPLACE: 1, SQLITE_CHANGESET_ABORT: 2 },
});
