// node:stream/consumers: read a node stream, a web ReadableStream or any
// async iterable of chunks to its end.
'use strict';
const { Buffer } = require('node:buffer');

async function chunks(stream) {
  const out = [];
  for await (const chunk of stream) out.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return out;
}

async function buffer(stream) {
  return Buffer.concat((await chunks(stream)).map((c) => (Buffer.isBuffer(c) ? c : Buffer.from(c.buffer ? new Uint8Array(c.buffer, c.byteOffset, c.byteLength) : c))));
}

async function text(stream) {
  return (await buffer(stream)).toString('utf8');
}

module.exports = {
  arrayBuffer: async (stream) => {
    const b = await buffer(stream);
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  },
  blob: async (stream) => new Blob(await chunks(stream)),
  buffer,
  json: async (stream) => JSON.parse(await text(stream)),
  text,
};
