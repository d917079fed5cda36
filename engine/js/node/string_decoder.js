// node:string_decoder: Debian's node-string-decoder (Node's StringDecoder
// as a package), on node:buffer.
'use strict';
module.exports = require('string_decoder/lib/string_decoder.js');
