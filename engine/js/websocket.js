// WebSocket and CloseEvent (WHATWG WebSockets), the interface without a
// transport: no connection is ever made (there is no WebSocketPair either).
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

  constructor(url, protocols = undefined) {
    requireArgs(arguments.length, 1, 'WebSocket');
    super();
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
    return this.#readyState;
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
    if (this.#readyState === WS_CONNECTING) {
      throw new DOMException('WebSocket.send: the socket is still connecting', 'InvalidStateError');
    }
    // CLOSING or CLOSED: the data is dropped, as the standard says.
  }

  close(code = undefined, reason = undefined) {
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
