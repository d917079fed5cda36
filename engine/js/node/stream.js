// node:stream: Debian's node-readable-stream (Node's streams 3 as a
// package): Readable (with Readable.from), Writable, Duplex, Transform,
// PassThrough, pipeline and finished, and their promise forms. Their
// callbacks run from process.nextTick (microtasks), so they keep the
// AsyncLocalStorage frame of the code that drove them.
'use strict';
const EventEmitter = require('node:events');
const lib = 'readable-stream/lib/';
const Readable = require(`${lib}_stream_readable.js`);
const Writable = require(`${lib}_stream_writable.js`);
const Duplex = require(`${lib}_stream_duplex.js`);
const Transform = require(`${lib}_stream_transform.js`);
const PassThrough = require(`${lib}_stream_passthrough.js`);
const finished = require(`${lib}internal/streams/end-of-stream.js`);
const pipeline = require(`${lib}internal/streams/pipeline.js`);

// The legacy Stream: an EventEmitter, the base class of the others.
function Stream(options) {
  EventEmitter.call(this, options);
}
Object.setPrototypeOf(Stream.prototype, EventEmitter.prototype);
Object.setPrototypeOf(Stream, EventEmitter);
Stream.prototype.pipe = Readable.prototype.pipe;

const promises = {
  pipeline: (...streams) => new Promise((resolve, reject) => {
    pipeline(...streams, (error, value) => (error ? reject(error) : resolve(value)));
  }),
  finished: (stream, options = {}) => new Promise((resolve, reject) => {
    finished(stream, options, (error) => (error ? reject(error) : resolve()));
  }),
};

function isReadable(stream) {
  return !!(stream && stream.readable && !stream.destroyed && !(stream._readableState && stream._readableState.ended));
}

function isErrored(stream) {
  return !!(stream && ((stream._readableState && stream._readableState.errorEmitted) ||
    (stream._writableState && stream._writableState.errorEmitted)));
}

function isDisturbed(stream) {
  return !!(stream && stream._readableState && (stream._readableState.dataEmitted || stream._readableState.endEmitted));
}

Object.assign(Stream, {
  Stream,
  Readable,
  Writable,
  Duplex,
  Transform,
  PassThrough,
  finished,
  pipeline,
  promises,
  isReadable,
  isErrored,
  isDisturbed,
});
module.exports = Stream;
