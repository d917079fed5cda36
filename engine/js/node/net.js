// node:net: Socket, connect() and createConnection() over cloudflare:sockets
// connect() (as workerd has them: TCP clients only, every rule of
// connect() applies: dispatch_fetch_allow, the request's connections and
// subrequests, the socket ends with its request); isIP and friends.
// Servers, BlockList and SocketAddress are not implemented.
'use strict';
const { Buffer } = require('node:buffer');
const { Duplex } = require('node:stream');

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
function isIPv4(input) {
  return IPV4.test(String(input));
}
function isIPv6(input) {
  const s = String(input);
  if (!s.includes(':')) return false;
  try {
    return new URL(`http://[${s}]/`).hostname.length > 2;
  } catch {
    return false;
  }
}
const isIP = (input) => (isIPv4(input) ? 4 : isIPv6(input) ? 6 : 0);

// connect(options[, listener]), connect(port[, host][, listener]); a path
// (a unix socket) is not supported.
function connectArgs(args) {
  let options = {};
  let i = 0;
  if (args[0] !== null && typeof args[0] === 'object') {
    options = { ...args[0] };
    i = 1;
  } else if (typeof args[0] === 'string' && !/^\d+$/.test(args[0])) {
    throw new TypeError('node:net: connecting to a path (a unix socket) is not supported');
  } else {
    options.port = args[0];
    i = 1;
    if (typeof args[1] === 'string') {
      options.host = args[1];
      i = 2;
    }
  }
  const listener = typeof args[i] === 'function' ? args[i] : undefined;
  if (options.path !== undefined) throw new TypeError('node:net: connecting to a path (a unix socket) is not supported');
  return { options, listener };
}

class Socket extends Duplex {
  constructor(options = {}) {
    super({ allowHalfOpen: !!(options && options.allowHalfOpen), decodeStrings: true });
    this.connecting = false;
    this.pending = true;
    this.bytesRead = 0;
    this.remoteAddress = undefined;
    this.remotePort = undefined;
    this.remoteFamily = undefined;
    this.localAddress = undefined;
    this.localPort = undefined;
    this._cf = null;
    this._cfWriter = null;
    this._cfReader = null;
    this._wantRead = false;
    this._reading = false;
    this._timeout = 0;
    this._timer = null;
    // As Node's: the peer's end ends this side too (unless allowHalfOpen),
    // and with both sides done the socket is destroyed ('close').
    this.on('end', () => {
      if (!this.allowHalfOpen) this.end();
      this._doneWith();
    });
    this.on('finish', () => this._doneWith());
  }

  _doneWith() {
    if (!this.destroyed && this._readableState.endEmitted && this._writableState.finished) this.destroy();
  }

  get readyState() {
    if (this.connecting) return 'opening';
    if (this._cf === null || this.destroyed) return 'closed';
    if (this.readable && this.writable) return 'open';
    return this.readable ? 'readOnly' : this.writable ? 'writeOnly' : 'closed';
  }

  get bytesWritten() {
    return this._writableState ? this._writableState.length + (this._written || 0) : 0;
  }

  connect(...args) {
    const { options, listener } = connectArgs(args);
    if (this._cf !== null) throw new Error('node:net: the socket is already connected');
    const port = Number(options.port);
    const host = options.host === undefined || options.host === null ? 'localhost' : String(options.host);
    if (listener) this.once('connect', listener);
    this.connecting = true;
    let socket;
    try {
      socket = internals.socketConnect({ hostname: host, port }, { allowHalfOpen: true });
    } catch (error) {
      this.connecting = false;
      queueMicrotask(() => this.destroy(error));
      return this;
    }
    this._cf = socket;
    this._cfWriter = socket.writable.getWriter();
    this._cfReader = socket.readable.getReader();
    socket.opened.then((info) => {
      if (this.destroyed) return;
      this.connecting = false;
      this.pending = false;
      const at = info.remoteAddress === undefined ? -1 : info.remoteAddress.lastIndexOf(':');
      if (at > 0) {
        this.remoteAddress = info.remoteAddress.slice(0, at).replace(/^\[|\]$/g, '');
        this.remotePort = Number(info.remoteAddress.slice(at + 1));
        this.remoteFamily = isIPv6(this.remoteAddress) ? 'IPv6' : 'IPv4';
      }
      this._touch();
      this.emit('connect');
      this.emit('ready');
      if (this._wantRead) this._read();
    }, (error) => this.destroy(error));
    socket.closed.then(undefined, (error) => this.destroy(error));
    return this;
  }

  _read() {
    if (this._cfReader === null || this.connecting) {
      this._wantRead = true;
      return;
    }
    if (this._reading) return;
    this._reading = true;
    this._cfReader.read().then(({ value, done }) => {
      this._reading = false;
      if (done) {
        this.push(null);
        return;
      }
      this.bytesRead += value.length;
      this._touch();
      if (this.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength))) this._read();
    }, (error) => {
      this._reading = false;
      this.destroy(error);
    });
  }

  _write(chunk, encoding, callback) {
    if (this._cfWriter === null) {
      callback(new Error('node:net: the socket is not connected'));
      return;
    }
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk;
    this._cfWriter.write(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)).then(() => {
      this._written = (this._written || 0) + bytes.byteLength;
      this._touch();
      callback();
    }, callback);
  }

  _final(callback) {
    if (this._cfWriter === null) {
      callback();
      return;
    }
    this._cfWriter.close().then(() => callback(), callback);
  }

  _destroy(error, callback) {
    this.connecting = false;
    if (this._timer !== null) clearTimeout(this._timer);
    this._timer = null;
    if (this._cf !== null) this._cf.close().then(undefined, () => {});
    callback(error);
  }

  // 'timeout' after ms without activity, as Node's (the socket stays open).
  setTimeout(ms, callback) {
    this._timeout = Number(ms) || 0;
    if (callback) {
      if (this._timeout === 0) this.removeListener('timeout', callback);
      else this.once('timeout', callback);
    }
    this._touch();
    return this;
  }

  _touch() {
    if (this._timer !== null) clearTimeout(this._timer);
    this._timer = null;
    if (this._timeout > 0 && !this.destroyed) {
      this._timer = setTimeout(() => {
        this._timer = null;
        this.emit('timeout');
      }, this._timeout);
    }
  }

  setNoDelay() {
    return this;
  }

  setKeepAlive() {
    return this;
  }

  ref() {
    return this;
  }

  unref() {
    return this;
  }

  address() {
    return {};
  }
}

function connect(...args) {
  const { options } = connectArgs(args);
  const socket = new Socket(options);
  return socket.connect(...args);
}

const unimplemented = require('node/unimplemented.js')('net', [
  'createServer', 'Server', 'BlockList', 'SocketAddress',
]);
module.exports = Object.assign(unimplemented, {
  Socket,
  Stream: Socket,
  connect,
  createConnection: connect,
  isIP,
  isIPv4,
  isIPv6,
});
