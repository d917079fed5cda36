'use strict';
// node:constants (deprecated in Node): os.constants' signals and errno are
// empty here, as node:os reports a machine scripts do not see.
module.exports = {};
