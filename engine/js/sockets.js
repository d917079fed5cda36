// `cloudflare:sockets`: connect() as workerd has it, over the engine's
// outbound streams (engine/src/api/sockets.h, socket_client.h). The engine
// decides where a socket may go (dispatch_fetch_allow, as for fetch()),
// counts it among its request's connections and subrequests, and closes it
// when the request ends. Here: the address and options, the Socket, its
// streams (readable: bytes as they arrive, never read ahead of the script by
// more than a window; writable: bytes only, each write waiting on the
// engine's send buffer) and its promises.
//
// Made when a script first imports cloudflare:sockets (or node:net connects):
// a function the snapshot holds uncompiled costs every other cold start
// next to nothing.

let socketsModule = null;
function socketsConnect() {
  if (socketsModule === null) socketsModule = makeSockets();
  return socketsModule.connect;
}

function makeSockets() {
  const SOCKET_MAX_WRITE = 65536;          // the engine's send buffer takes a piece this big
  const SOCKET_MAX_HOST = 255;
  const SOCKET_HOST_CHARS = /^[A-Za-z0-9._\-[\]:]*$/;
  const SOCKET_PORT = /^:[0-9]{1,5}$/;
  const SocketPromiseThen = NativeStreamPromiseThen;

  function socketInvalidAddress() {
    return new TypeError('Specified address is empty string, contains unsupported characters or is too long.');
  }

  // "host:port", "[v6]:port" or { hostname, port } -> { host, port }, host as
  // the engine takes it (an IPv6 address in brackets). A string without a
  // port gets 443, as workerd's does.
  function socketAddress(address) {
    let host;
    let port;
    if (isObject(address)) {
      host = toDOMString(address.hostname);
      const number = +address.port;
      if (!NumberIsInteger(number) || number < 0 || number > 65535) {
        throw new TypeError('connect(): the port must be an integer from 1 to 65535');
      }
      port = number;
      if (StringPrototypeIndexOf(host, ':') !== -1 && StringPrototypeSlice(host, 0, 1) !== '[') host = `[${host}]`;
    } else {
      const text = toDOMString(address);
      let rest;
      if (StringPrototypeSlice(text, 0, 1) === '[') {
        const end = StringPrototypeIndexOf(text, ']');
        if (end === -1) throw new TypeError('Specified address could not be parsed.');
        host = StringPrototypeSlice(text, 0, end + 1);
        rest = StringPrototypeSlice(text, end + 1);
      } else {
        const colon = StringPrototypeIndexOf(text, ':');
        host = colon === -1 ? text : StringPrototypeSlice(text, 0, colon);
        rest = colon === -1 ? '' : StringPrototypeSlice(text, colon);
      }
      if (rest === '') {
        port = 443;
      } else if (StringPrototypeSlice(rest, 0, 1) === ':' && RegExpPrototypeExec(SOCKET_PORT, rest) !== null) {
        port = +StringPrototypeSlice(rest, 1);
        if (port > 65535) throw new TypeError('Specified address could not be parsed.');
      } else {
        throw new TypeError('Specified address could not be parsed.');
      }
    }
    if (host === '' || host === '[]' || host.length > SOCKET_MAX_HOST
        || RegExpPrototypeExec(SOCKET_HOST_CHARS, host) === null) {
      throw socketInvalidAddress();
    }
    if (port === 0) throw new TypeError('connect(): port 0 cannot be connected to');
    return { __proto__: null, host, port };
  }

  function socketSecureTransport(value) {
    if (value === undefined) return 'off';
    const kind = toDOMString(value);
    if (kind !== 'off' && kind !== 'on' && kind !== 'starttls') {
      throw new TypeError(`Unsupported value in secureTransport socket option: ${kind}`);
    }
    return kind;
  }

  // A promise and its settling functions, with the built-ins' own Promise.
  function socketDeferred() {
    const deferred = { __proto__: null, promise: undefined, resolve: undefined, reject: undefined };
    deferred.promise = new Promise((resolve, reject) => {
      deferred.resolve = resolve;
      deferred.reject = reject;
    });
    streamMarkHandled(deferred.promise);
    return deferred;
  }

  // One Socket's state. id 0: none in the engine (refused before it was asked).
  function socketState(id, host, port, secureTransport, allowHalfOpen) {
    return {
      __proto__: null,
      id,
      host,
      port,
      secureTransport,
      allowHalfOpen,
      readable: null,
      writable: null,
      opened: null,       // the public promise of { remoteAddress, localAddress }
      closed: socketDeferred(),
      done: false,        // closed is settled; the engine's socket is gone
      readEnded: false,
      writeEnded: false,
      detached: false,    // startTls() took its connection
      upgrading: false,   // startTls() was called: the writable side flushes, no FIN
      gate: null,         // an upgraded socket's: writes wait until the engine upgrades
      tlsStarted: false,
      upgraded: false,
      failure: null,      // the error the engine reported, or the refusal
    };
  }

  // The socket ends: the engine's connection goes, the streams stop, closed
  // settles (rejected with error, if any) unless the caller settles it later.
  function socketFinish(state, error, settleLater = false) {
    if (state.done) return;
    state.done = true;
    if (state.id !== 0 && !state.detached) native.socketClose(state.id);
    const reason = error !== undefined ? error : new TypeError('The socket is closed.');
    const writable = writableRecordOf(state.writable);
    if (writable.state === 'writable' || writable.state === 'erroring') {
      streamMarkHandled(wsAbort(writable, reason, true));
    }
    if (!state.readEnded) {
      state.readEnded = true;
      const readable = readableRecordOf(state.readable);
      if (readable.state === 'readable') {
        if (error !== undefined) rbcError(readable.controller, error);
        else streamMarkHandled(rsCancel(readable, undefined));
      }
    }
    if (settleLater) return;
    if (error !== undefined) state.closed.reject(error);
    else state.closed.resolve(undefined);
  }

  // The peer's end of data: without allowHalfOpen the socket closes with it
  // (as workerd's: its writable side closes once what it holds is sent),
  // else once its writable side has closed too.
  function socketReadEnded(state) {
    state.readEnded = true;
    if (state.allowHalfOpen && !state.writeEnded) return;
    const writable = writableRecordOf(state.writable);
    if (!state.writeEnded && writable.state === 'writable' && !wsCloseQueuedOrInFlight(writable)) {
      streamReact(wsClose(writable, true), () => socketFinish(state, undefined), (error) => socketFinish(state, error));
      return;
    }
    socketFinish(state, undefined);
  }

  function socketRead(state) {
    if (state.failure !== null) throw state.failure;
    if (state.done || state.detached) return null;
    let got;
    try {
      got = native.socketRead(state.id);
    } catch (error) {
      socketFinish(state, error);
      throw error;
    }
    if (got === null) {
      socketReadEnded(state);
      return got;
    }
    if (TypedArrayPrototypeGetSymbolToStringTag(got) === 'Uint8Array') return got;
    return SocketPromiseThen(got, (box) => {
      if (box[0] === null && !state.detached) socketReadEnded(state);
      return box;
    }, (error) => {
      if (state.detached) return ObjectFreeze([null]);
      socketFinish(state, error);
      throw error;
    });
  }

  async function socketWrite(state, chunk) {
    if (typeof chunk === 'string') {
      throw new TypeError('This WritableStream only supports writing byte types.');
    }
    const bytes = bufferSourceBytes(chunk);
    if (bytes === null) throw new TypeError('This WritableStream only supports writing byte types.');
    if (state.failure !== null) throw state.failure;
    if (state.detached) throw new TypeError('The socket was upgraded by startTls(): write to the new one.');
    if (state.gate !== null) {
      try {
        await state.gate;
      } catch (error) {
        socketFinish(state, error);
        throw error;
      }
    }
    const length = TypedArrayPrototypeGetByteLength(bytes);
    for (let offset = 0; offset < length; offset += SOCKET_MAX_WRITE) {
      const piece = length <= SOCKET_MAX_WRITE ? bytes
        : TypedArrayPrototypeSubarray(bytes, offset, MathMin(length, offset + SOCKET_MAX_WRITE));
      let wait;
      try {
        wait = native.socketWrite(state.id, piece);
        if (wait !== undefined) await wait;
      } catch (error) {
        socketFinish(state, error);
        throw error;
      }
    }
  }

  function socketStreams(state) {
    state.readable = nativeByteStream({
      __proto__: null,
      read: () => socketRead(state),
      cancel() {
        // the script stopped reading: the socket's reading side is done
        state.readEnded = true;
        if (!state.allowHalfOpen || state.writeEnded) socketFinish(state, undefined);
      },
    });
    state.writable = writableStreamCreate({
      __proto__: null,
      write: (chunk) => socketWrite(state, chunk),
      close() {
        if (state.failure !== null) throw state.failure;
        if (!state.done && !state.detached && !state.upgrading) native.socketEnd(state.id);
        state.writeEnded = true;
        if (state.readEnded) socketFinish(state, undefined);
      },
      abort(reason) {
        socketFinish(state, undefined);
        void reason;
      },
    });
  }

  // opened: from the engine's promise, whose failure ends the socket.
  function socketOpened(state, after) {
    const opened = (remoteAddress) => ({ remoteAddress, localAddress: undefined });
    const failed = (error) => {
      socketFinish(state, error);
      throw error;
    };
    let promise;
    if (state.failure !== null) {
      promise = PromiseReject(state.failure);
    } else if (after === undefined) {
      promise = SocketPromiseThen(native.socketOpened(state.id), opened, failed);
    } else {
      promise = SocketPromiseThen(after, () => SocketPromiseThen(native.socketOpened(state.id), opened, failed), failed);
    }
    streamMarkHandled(promise);
    return promise;
  }

  class Socket {
    #state;

    constructor(token, state) {
      if (token !== INTERNAL) throw new TypeError('Illegal constructor');
      this.#state = state;
    }

    get readable() {
      return this.#state.readable;
    }

    get writable() {
      return this.#state.writable;
    }

    get opened() {
      return this.#state.opened;
    }

    get closed() {
      return this.#state.closed.promise;
    }

    get upgraded() {
      return this.#state.upgraded;
    }

    get secureTransport() {
      return this.#state.secureTransport;
    }

    close() {
      const state = this.#state;
      socketFinish(state, undefined);
      return state.closed.promise;
    }

    startTls(options = undefined) {
      const state = this.#state;
      if (state.secureTransport === 'on') throw new TypeError('Cannot startTls on a TLS socket.');
      if (state.tlsStarted) throw new TypeError('startTls can only be called once.');
      if (state.secureTransport !== 'starttls') {
        throw new TypeError("The `secureTransport` socket option must be set to 'starttls' for startTls to be used.");
      }
      const dict = toDictionary(options, 'startTls');
      const expected = dict.expectedServerHostname;
      let sni = expected === undefined ? state.host : toDOMString(expected);
      if (StringPrototypeSlice(sni, 0, 1) === '[') sni = StringPrototypeSlice(sni, 1, sni.length - 1);
      if (sni === '' || sni.length > SOCKET_MAX_HOST || RegExpPrototypeExec(SOCKET_HOST_CHARS, sni) === null) {
        throw new TypeError('startTls(): the expected server host name is not valid');
      }
      if (state.done) throw new TypeError('startTls(): the socket is closed');
      state.tlsStarted = true;
      const next = socketState(state.id, state.host, state.port, 'on', state.allowHalfOpen);
      next.upgraded = true;
      // What was written before goes out in the clear first: the plain
      // socket's writable side is flushed (closed, without a FIN), then the
      // engine sends its queue and starts the handshake. The upgraded
      // socket's writes wait for that.
      state.upgrading = true;
      const writable = writableRecordOf(state.writable);
      const flushed = writable.state === 'writable' && !wsCloseQueuedOrInFlight(writable)
        ? wsClose(writable, true) : streamResolved(true);
      const gate = socketDeferred();
      next.gate = gate.promise;
      const begin = () => {
        if (state.done) {
          gate.reject(new TypeError('startTls(): the socket was closed before it could be upgraded'));
          return;
        }
        try {
          native.socketStartTls(state.id, sni);
        } catch (error) {
          gate.reject(error);
          return;
        }
        state.detached = true;
        socketFinish(state, undefined, true);
        gate.resolve(undefined);
      };
      streamReact(flushed, begin, begin);
      socketStreams(next);
      next.opened = socketOpened(next, SocketPromiseThen(state.opened, () => gate.promise));
      // The plain socket's closed resolves once the TLS one is up (or could
      // not be): as on workerd, after the upgraded socket's writer is ready
      // (postgres.js waits for that order).
      const plainClosed = () => state.closed.resolve(undefined);
      streamMarkHandled(SocketPromiseThen(next.opened, plainClosed, plainClosed));
      return new Socket(INTERNAL, next);
    }

    static {
      setToStringTag(Socket.prototype, 'Socket');
    }
  }

  function connect(address, options = undefined) {
    requireArgs(arguments.length, 1, 'connect');
    const target = socketAddress(address);
    const dict = toDictionary(options, 'connect');
    const secureTransport = socketSecureTransport(dict.secureTransport);
    const allowHalfOpen = !!dict.allowHalfOpen;
    let id = 0;
    let failure = null;
    if (target.port === 25) {
      failure = new Error('connect(): port 25 is not allowed (no outbound SMTP), as on Cloudflare Workers');
    } else {
      id = native.socketConnect(target.host, target.port, secureTransport === 'on');
    }
    const state = socketState(id, target.host, target.port, secureTransport, allowHalfOpen);
    state.failure = failure;
    socketStreams(state);
    state.opened = socketOpened(state, undefined);
    if (failure !== null) socketFinish(state, failure);
    return new Socket(INTERNAL, state);
  }

  return { __proto__: null, connect };
}

// For the engine (TenantIsolate::load_module): import 'cloudflare:sockets'.
function cloudflareSockets() {
  return { connect: socketsConnect() };
}
