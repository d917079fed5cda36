// WebSocket and CloseEvent (WHATWG WebSockets), and Workers' WebSocketPair.
// `new WebSocket(url)` has no transport: no connection is ever made.
// Workers has the global, and libraries look for it when they are built:
// supabase-js's createClient() throws "Unknown JavaScript runtime without
// WebSocket support" without one, though its queries are plain fetch()es
// and its realtime socket opens only on subscribe. A socket made here fails
// as a browser's does when the server cannot be reached: in a later turn
// its readyState becomes CLOSED, then `error`, then `close` (code 1006, not
// clean). The URL and protocols are checked as the standard says first (a
// SyntaxError DOMException).

const WS_CONNECTING = 0;
const WS_OPEN = 1;
const WS_CLOSING = 2;
const WS_CLOSED = 3;
// A protocol is a token (RFC 9110): visible ASCII but the separators.
const WS_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// What may wait in a pair end before its 101 went out, frames counted as
// the engine counts them once it is out (api/websocket.h: kWsMaxQueued),
// and a message's most (kWsMaxMessage): what send() accepts early then
// fits, and the 101 does not fail at the hand-over.
const WS_EARLY_MAX = 4 * 1024 * 1024;
const WS_MESSAGE_MAX = 1024 * 1024;

let webSocketIsPairEnd; // (value) -> true for an end of a WebSocketPair
let webSocketHandOver; // (request id, client end): its server end serves the request's 101
let webSocketDispatched; // (dispatch call id) -> the webSocket of a dispatched Worker's 101
let wsDeliver; // (server end, kind, data, code, reason): an event the engine delivers

// An end of a WebSocketPair: the other end, whether accept() was called,
// whether it went out in a Response, the request whose 101 it serves once
// that is out (0 before), what was sent before, and which way it closed.
// remote: for the webSocket of a 101 a dispatched Worker answered with
// (env.NS.get(name).fetch(), a service binding), the dispatch call whose
// target holds the socket (api/websocket.h); 0 for a pair's own end.
function wsPairState(requestId, remote = 0) {
  return {
    __proto__: null, peer: null, requestId, accepted: false, used: false, bound: 0,
    early: listNew(), earlyBytes: 0, closedOutgoing: false, closedIncoming: false, remote,
  };
}

class CloseEvent extends Event {
  #wasClean;
  #code;
  #reason;

  constructor(type, init = undefined) {
    requireArgs(arguments.length, 1, 'CloseEvent');
    super(type, init);
    const { wasClean = false, code = 0, reason = '' } = toDictionary(init, 'CloseEvent');
    this.#wasClean = Boolean(wasClean);
    this.#code = Number(code) & 0xffff; // WebIDL unsigned short: modulo 2^16
    this.#reason = toUSVString(reason);
  }

  get wasClean() {
    return this.#wasClean;
  }

  get code() {
    return this.#code;
  }

  get reason() {
    return this.#reason;
  }
}
setToStringTag(CloseEvent.prototype, 'CloseEvent');
defineGlobal('CloseEvent', CloseEvent);

class WebSocket extends EventTarget {
  #url;
  #protocols;
  #readyState = WS_CONNECTING;
  #binaryType = 'blob';
  #handlers = eventHandlerAttributes(this); // its on<type> attributes
  #pair = null; // an end of a WebSocketPair: wsPairState

  constructor(url, protocols = undefined) {
    requireArgs(arguments.length, 1, 'WebSocket');
    super();
    if (url === INTERNAL) {
      this.#pair = protocols;
      this.#readyState = WS_OPEN;
      this.#binaryType = 'arraybuffer';
      return;
    }
    const input = toUSVString(url);
    const record = urlParse(input);
    if (record === null) throw new DOMException(`WebSocket: invalid URL: ${input}`, 'SyntaxError');
    if (record.scheme === 'http') record.scheme = 'ws';
    else if (record.scheme === 'https') record.scheme = 'wss';
    if (record.scheme !== 'ws' && record.scheme !== 'wss') {
      throw new DOMException(`WebSocket: the URL's scheme must be ws or wss, not ${record.scheme}`, 'SyntaxError');
    }
    if (record.fragment !== null) throw new DOMException('WebSocket: the URL must not have a fragment', 'SyntaxError');
    // (DOMString or sequence<DOMString>): the tenant's sequence is iterated
    // as WebIDL says; the list made of it is ours.
    const list = listNew();
    if (isObject(protocols) && typeof protocols[SymbolIterator] === 'function') {
      for (const p of protocols) listPush(list, toDOMString(p));
    } else if (protocols !== undefined) {
      listPush(list, toDOMString(protocols));
    }
    for (let i = 0; i < list.length; i++) {
      if (RegExpPrototypeExec(WS_TOKEN, list[i]) === null) {
        throw new DOMException(`WebSocket: invalid protocol: ${list[i]}`, 'SyntaxError');
      }
      for (let j = 0; j < i; j++) {
        if (StringPrototypeToLowerCase(list[j]) === StringPrototypeToLowerCase(list[i])) {
          throw new DOMException(`WebSocket: duplicate protocol: ${list[i]}`, 'SyntaxError');
        }
      }
    }
    this.#url = urlSerialize(record);
    this.#protocols = list;
    const fail = () => this.#fail();
    // The engine's timer (a later task), never globalThis.setTimeout; at the
    // top level, where there are no timers, a promise job.
    try {
      native.setTimer(fail, 0, false);
    } catch {
      NativeStreamPromiseThen(PromiseResolve(), fail, undefined);
    }
  }

  // "Fail the WebSocket connection": there is no server to reach.
  #fail() {
    if (this.#readyState === WS_CLOSED) return;
    this.#readyState = WS_CLOSED;
    eventTargetDispatch(this, new Event('error'));
    eventTargetDispatch(this, new CloseEvent('close', { wasClean: false, code: 1006, reason: '' }));
  }

  get url() {
    return this.#url;
  }

  get readyState() {
    const pair = this.#pair;
    if (pair === null) return this.#readyState;
    if (pair.closedIncoming && pair.closedOutgoing) return WS_CLOSED;
    return pair.closedIncoming || pair.closedOutgoing ? WS_CLOSING : WS_OPEN;
  }

  // Workers: an end of a WebSocketPair takes its events once accepted.
  accept() {
    const pair = this.#pair;
    if (pair === null) throw new TypeError("Websockets obtained from the 'new WebSocket()' constructor cannot call accept");
    if (pair.used) throw new TypeError("Can't accept() WebSocket that was already used in a response.");
    if (pair.accepted) return;
    if (pair.remote !== 0) {
      // A dispatched Worker's: this end takes the other's messages, and its
      // own go there (the engine carries them from the loop).
      if (!native.wsBridge(pair.remote, this)) throw new TypeError('this WebSocket cannot be accepted here');
      pair.accepted = true;
      return;
    }
    pair.accepted = true;
    if (pair.bound !== 0) native.wsAccept(pair.bound);
  }

  get bufferedAmount() {
    return 0;
  }

  get extensions() {
    return '';
  }

  get protocol() {
    return '';
  }

  get binaryType() {
    return this.#binaryType;
  }

  set binaryType(value) {
    const type = toDOMString(value);
    if (type === 'blob' || type === 'arraybuffer') this.#binaryType = type;
  }

  send(data) {
    requireArgs(arguments.length, 1, 'WebSocket.send');
    const pair = this.#pair;
    if (pair !== null) {
      if (pair.closedOutgoing) throw new TypeError("Can't call WebSocket send() after close().");
      if (!pair.accepted) throw new TypeError('You must call accept() on this WebSocket before sending messages.');
      const message = isArrayBuffer(data) || ArrayBufferIsView(data) ? data : toUSVString(data);
      if (pair.remote !== 0) {
        native.wsPeerSend(pair.remote, message);
        return;
      }
      if (pair.bound !== 0) {
        native.wsSend(pair.bound, message);
        return;
      }
      const early = typeof message === 'string' ? message : copyBytes(message);
      // a string's UTF-8 bytes (no fewer than its UTF-16 units)
      const size = typeof early !== 'string' ? TypedArrayPrototypeGetLength(early)
        : early.length > WS_MESSAGE_MAX ? early.length : TypedArrayPrototypeGetLength(utf8Encode(early));
      if (size > WS_MESSAGE_MAX) throw new TypeError('WebSocket send(): a message may be at most 1 MiB');
      const frame = size + (size < 126 ? 2 : size < 65536 ? 4 : 10);
      if (pair.earlyBytes + frame > WS_EARLY_MAX) {
        throw new TypeError('WebSocket send(): the send buffer is full');
      }
      pair.earlyBytes += frame;
      listPush(pair.early, early);
      return;
    }
    if (this.#readyState === WS_CONNECTING) {
      throw new DOMException('WebSocket.send: the socket is still connecting', 'InvalidStateError');
    }
    // CLOSING or CLOSED: the data is dropped, as the standard says.
  }

  close(code = undefined, reason = undefined) {
    const pair = this.#pair;
    if (pair !== null) {
      if (pair.closedOutgoing) return;
      if (!pair.accepted) throw new TypeError('You must call accept() on this WebSocket before sending messages.');
      let n = -1; // none: an empty Close (1005 to the peer)
      if (code !== undefined) {
        n = toUnsignedShort(code);
        if (n < 1000 || n >= 5000 || n === 1004 || n === 1005 || n === 1006 || n === 1015) {
          throw new TypeError(`Invalid WebSocket close code: ${n}.`);
        }
      }
      const text = reason === undefined ? '' : toUSVString(reason);
      if (reason !== undefined && code === undefined) {
        throw new TypeError('If you specify a WebSocket close reason, you must also specify a code.');
      }
      if (TypedArrayPrototypeGetLength(utf8Encode(text)) > 123) {
        throw new TypeError('WebSocket close(): the reason is longer than 123 bytes');
      }
      pair.closedOutgoing = true;
      if (pair.remote !== 0) native.wsPeerClose(pair.remote, n, text);
      else if (pair.bound !== 0) native.wsClose(pair.bound, n, text);
      else listPush(pair.early, ObjectFreeze({ __proto__: null, code: n, reason: text }));
      return;
    }
    if (code !== undefined) {
      const n = Number(code) & 0xffff;
      if (n !== 1000 && (n < 3000 || n > 4999)) {
        throw new DOMException(`WebSocket.close: the code must be 1000 or in 3000-4999, not ${n}`, 'InvalidAccessError');
      }
    }
    if (reason !== undefined && TypedArrayPrototypeGetLength(utf8Encode(toUSVString(reason))) > 123) {
      throw new DOMException('WebSocket.close: the reason is longer than 123 bytes', 'SyntaxError');
    }
    if (this.#readyState === WS_CLOSING || this.#readyState === WS_CLOSED) return;
    this.#readyState = WS_CLOSING; // the connection fails as it would have
  }

  get onopen() { return this.#handlers.get('open'); }
  set onopen(handler) { this.#handlers.set('open', handler); }
  get onmessage() { return this.#handlers.get('message'); }
  set onmessage(handler) { this.#handlers.set('message', handler); }
  get onerror() { return this.#handlers.get('error'); }
  set onerror(handler) { this.#handlers.set('error', handler); }
  get onclose() { return this.#handlers.get('close'); }
  set onclose(handler) { this.#handlers.set('close', handler); }

  static {
    webSocketIsPairEnd = (value) => isObject(value) && #pair in value && value.#pair !== null;
    webSocketHandOver = (id, client) => {
      const pair = client.#pair;
      if (pair.used) throw new TypeError("Can't return WebSocket that was already used in a response.");
      if (pair.accepted) throw new TypeError("Can't return WebSocket in a Response after calling accept().");
      if (pair.remote !== 0) {
        // A dispatched Worker's: the engine carries it to this request's client.
        if (!native.wsAdopt(id, pair.remote)) throw new TypeError('this WebSocket cannot answer this request');
        pair.used = true;
        return;
      }
      const server = pair.peer;
      const own = server.#pair;
      if (own.bound !== 0 || !native.wsAttach(id, server)) {
        throw new TypeError('this WebSocket cannot answer this request');
      }
      pair.used = true;
      own.bound = id;
      if (own.accepted) native.wsAccept(id);
      const early = own.early;
      own.early = listNew();
      own.earlyBytes = 0;
      for (let i = 0; i < early.length; i++) {
        const item = early[i];
        if (typeof item === 'string' || ArrayBufferIsView(item)) native.wsSend(id, item);
        else native.wsClose(id, item.code, item.reason);
      }
    };
    webSocketDispatched = (call) => new WebSocket(INTERNAL, wsPairState(0, call));
    wsDeliver = (server, kind, data, code, reason) => {
      const pair = server.#pair;
      if (kind === 0 || kind === 1) {
        const value = kind === 1 && server.#binaryType === 'blob' ? blobCreate(new Uint8Array(data), '') : data;
        eventTargetDispatch(server, new (moreEvents().MessageEvent)('message', { __proto__: null, data: value }));
      } else if (kind === 2) {
        pair.closedIncoming = true;
        eventTargetDispatch(server, new CloseEvent('close', { __proto__: null, wasClean: data, code, reason }));
        // The engine answers a Close the script did not.
        pair.closedOutgoing = true;
      } else {
        eventTargetDispatch(server, new (moreEvents().ErrorEvent)('error', { __proto__: null, message: data }));
      }
    };
  }
}
function webSocketConstant(name, value) {
  ObjectDefineProperty(WebSocket, name, { value, enumerable: true });
  ObjectDefineProperty(WebSocket.prototype, name, { value, enumerable: true });
}
webSocketConstant('CONNECTING', WS_CONNECTING);
webSocketConstant('OPEN', WS_OPEN);
webSocketConstant('CLOSING', WS_CLOSING);
webSocketConstant('CLOSED', WS_CLOSED);
setToStringTag(WebSocket.prototype, 'WebSocket');
defineGlobal('WebSocket', WebSocket);

// Workers' WebSocketPair: two connected ends, 0 (the client's, for the
// Response) and 1 (the server's, which the script accepts). Only while a
// request is handled (native.wsRequest throws a TypeError elsewhere).
class WebSocketPair {
  constructor() {
    const requestId = native.wsRequest();
    const clientState = wsPairState(requestId);
    const serverState = wsPairState(requestId);
    const client = new WebSocket(INTERNAL, clientState);
    const server = new WebSocket(INTERNAL, serverState);
    clientState.peer = server;
    serverState.peer = client;
    ObjectDefineProperty(this, '0', { value: client, enumerable: true, writable: true, configurable: true });
    ObjectDefineProperty(this, '1', { value: server, enumerable: true, writable: true, configurable: true });
  }
}
setToStringTag(WebSocketPair.prototype, 'WebSocketPair');
defineGlobal('WebSocketPair', WebSocketPair);
