// Response (WHATWG Fetch, as Cloudflare Workers exposes it).

let responseIs; // (value) -> true for a Response (brand check, not instanceof)
// responseOutput and the RESPONSE_*_TYPE/HEADER constants: in prelude.js,
// with the request path's bindings.
let responseParts; // (response) -> { status, statusText, headers } read from its fields, not its getters
let responseFromFetch; // (status, statusText, flat headers, ReadableStream|null, url, redirected, webSocket?) -> Response, immutable headers

const RESPONSE_REDIRECT_STATUSES = [301, 302, 303, 307, 308];
const REASON_PHRASE = /^[\t\x20-\x7E\x80-\xFF]*$/;


// A status that forbids a body (Fetch's "null body status").
function isNullBodyStatus(code) {
  return code === 101 || code === 103 || code === 204 || code === 205 || code === 304;
}

// Response's rarely set fields, in one record (see responseState).
// webSocket: the client end of a WebSocketPair (a 101), else null.
function responseExtra(type, url, redirected, statusText, webSocket = null) {
  return { __proto__: null, type, url, redirected, statusText, webSocket };
}

// A Response's state, in one record (#state): one private field defined per
// response, not four. body: as in Body (body.js); status; headers: a
// Headers, or while nobody has asked for them what they would hold, null
// for none or a string for just that Content-Type (a body's default);
// `.headers` makes the Headers on first read (responseHeaders), and a
// response sent without its headers read never makes one; extra: null for
// type "default", no URL, not redirected, statusText '', else a record
// (responseExtra) of the four: only fetch(), Response.error() and an init
// with a statusText set make one. A plain literal with every property
// present: its reads never reach a prototype.
function responseState(body, status, headers, extra) {
  return { body, status, headers, extra };
}

function responseHeaders(state) {
  const pending = state.headers;
  if (pending === null || typeof pending === 'string') {
    const headers = new Headers();
    if (pending !== null) headersSetDefault(headers, 'content-type', pending);
    state.headers = headers;
    return headers;
  }
  return pending;
}

// Fetch's "initialize a response" for an init that is not undefined or null
// (no init is WebIDL's empty dictionary: the defaults, with nothing read);
// hasBody: the constructor was given one.
function responseInitialize(state, init, hasBody) {
  const dictionary = toDictionary(init, 'Response');
  const { status = 200, statusText } = dictionary;
  const headers = dictionary.headers;
  const code = toUnsignedShort(status);
  // No statusText (the usual init) is '': nothing to convert or match.
  const text = statusText === undefined ? '' : toByteString(statusText);
  // Workers' extension: the client end of a WebSocketPair, with a 101.
  const given = dictionary.webSocket;
  const webSocket = given === undefined || given === null ? null : given;
  if (webSocket !== null && !webSocketIsPairEnd(webSocket)) {
    throw new TypeError('Response: webSocket must be a WebSocket of a WebSocketPair');
  }
  if ((code < 200 || code > 599) && !(code === 101 && webSocket !== null)) {
    throw new RangeError(`Response status ${code} is outside the range 200 to 599`);
  }
  if (webSocket !== null && code !== 101) throw new TypeError('Responses with a WebSocket must have status code 101.');
  if (statusText !== undefined && RegExpPrototypeExec(REASON_PHRASE, text) === null) {
    throw new TypeError('Invalid statusText');
  }
  state.status = code;
  if (text !== '' || webSocket !== null) state.extra = responseExtra('default', '', false, text, webSocket);
  if (headers !== undefined) state.headers = new Headers(headers);
  if (hasBody && isNullBodyStatus(code)) throw new TypeError(`A response with status ${code} cannot have a body`);
}

// The extracted body (bytes, or a stream) and its default Content-Type
// (type, or null). While no Headers is made the type waits in
// state.headers (see responseState), checked now as headersSetDefault would.
function responseSetBody(state, body, type) {
  if (type !== null) {
    if (state.headers !== null) {
      headersSetDefault(state.headers, 'content-type', type);
    } else {
      if (type !== RESPONSE_TEXT_TYPE && !isHeaderValue(type)) {
        throw new TypeError('Header values must not contain CR, LF or NUL');
      }
      state.headers = type;
    }
  }
  state.body = body;
}

let responseStateOf; // (value, member) -> a Response's record, else privateBrandError

class Response { // Body's, by inheritBody below
  #state; // see responseState

  constructor(body = null, init = undefined) {
    // The built-ins' own form: they hand over the record, headers included
    // (one Headers a response, not one made here and replaced).
    if (body === INTERNAL) {
      this.#state = init;
      return;
    }
    const hasInit = init !== undefined && init !== null;
    if (typeof body === 'string') {
      // The commonest shape, new Response('text'): no extractBody record,
      // and the record made whole (responseState's literal written out).
      const bytes = utf8Encode(body);
      if (!hasInit) {
        this.#state = { body: bytes, status: 200, headers: RESPONSE_TEXT_TYPE, extra: null };
        return;
      }
      const state = responseState(null, 200, null, null);
      this.#state = state;
      responseInitialize(state, init, true);
      responseSetBody(state, bytes, RESPONSE_TEXT_TYPE);
      return;
    }
    const state = responseState(null, 200, null, null);
    this.#state = state;
    if (body === null) {
      if (hasInit) responseInitialize(state, init, false);
    } else {
      const extracted = extractBody(body);
      if (hasInit) responseInitialize(state, init, true);
      responseSetBody(state, extracted.stream !== null ? extracted.stream : extracted.bytes, extracted.type);
    }
  }

  static json(data, init = undefined) {
    const text = guardJSONStringify(data);  // runaway_guards.js
    if (text === undefined) throw new TypeError('Response.json: the value cannot be serialised as JSON');
    const bytes = utf8Encode(text);
    if (init === undefined || init === null) {
      return new Response(INTERNAL, { body: bytes, status: 200, headers: RESPONSE_JSON_TYPE, extra: null });
    }
    const state = responseState(null, 200, null, null);
    const response = new Response(INTERNAL, state);
    responseInitialize(state, init, true);
    responseSetBody(state, bytes, RESPONSE_JSON_TYPE);
    return response;
  }

  static redirect(url, status = 302) {
    requireArgs(arguments.length, 1, 'Response.redirect');
    const location = urlSerialize(urlParseAbsolute(toUSVString(url)));
    const code = toUnsignedShort(status);
    if (!ArrayPrototypeIncludes(RESPONSE_REDIRECT_STATUSES, code)) {
      throw new RangeError(`Invalid redirect status ${code}: it must be 301, 302, 303, 307 or 308`);
    }
    const headers = new Headers();
    headersSetDefault(headers, 'location', location);
    headersSetImmutable(headers);
    return new Response(INTERNAL, responseState(null, code, headers, null));
  }

  static error() {
    const headers = new Headers();
    headersSetImmutable(headers);
    return new Response(INTERNAL, responseState(null, 0, headers, responseExtra('error', '', false, '')));
  }

  get type() {
    const extra = responseStateOf(this, '#extra').extra;
    return extra === null ? 'default' : extra.type;
  }

  get url() {
    const extra = responseStateOf(this, '#extra').extra;
    return extra === null ? '' : extra.url; // only fetch() produces responses with a URL
  }

  get redirected() {
    const extra = responseStateOf(this, '#extra').extra;
    return extra === null ? false : extra.redirected;
  }

  get status() {
    return responseStateOf(this, '#status').status;
  }

  // Workers' Response carries the client end of a WebSocketPair (a 101).
  get webSocket() {
    const extra = responseStateOf(this, '#webSocket').extra;
    return extra === null ? null : extra.webSocket;
  }

  get ok() {
    const status = responseStateOf(this, '#status').status;
    return status >= 200 && status <= 299;
  }

  get statusText() {
    const extra = responseStateOf(this, '#extra').extra;
    return extra === null ? '' : extra.statusText;
  }

  get headers() {
    return responseHeaders(responseStateOf(this, null));
  }

  clone() {
    const state = responseStateOf(this, '#body');
    if (state.extra !== null && state.extra.webSocket !== null) {
      throw new TypeError('Cannot clone a response to a WebSocket handshake.');
    }
    const headers = state.headers;
    // extra is never changed once made: shared.
    const copy = new Response(INTERNAL, responseState(null, state.status,
      headers === null || typeof headers === 'string' ? headers : headersCopy(headers), state.extra));
    bodyClone(copy, this); // a stream is teed: each reads it whole
    return copy;
  }

  static {
    // The record, else the TypeError this getter threw when it read its
    // own field `member` (or called a private method, member null).
    responseStateOf = (value, member) => {
      if (isObject(value) && #state in value) return value.#state;
      throw privateBrandError(value, 'Response', member);
    };
    responseFromFetch = (status, statusText, headerList, stream, url, redirected, webSocket = null) => new Response(INTERNAL,
      responseState(stream, status, headersFromClient(headerList),
        responseExtra('basic', url, redirected, statusText, webSocket)));
    responseBodyState = (value) => (isObject(value) && #state in value ? value.#state : undefined);
    responseIs = (value) => isObject(value) && #state in value;
    responseParts = (response) => {
      const state = response.#state;
      return {
        __proto__: null, status: state.status, statusText: state.extra === null ? '' : state.extra.statusText,
        headers: responseHeaders(state),
      };
    };
    // Hands the response of request `id` to the engine in one native call
    // (native.respond, response_output.h): status, statusText, the headers
    // as one string of NUL-ended names and values with their count, the
    // bytes or null, the [stream, reader] of a streamed body or null, its
    // fixed length or -1, and the id of the request whose untouched body it
    // is or 0. The engine reads arguments, never properties, and checks
    // each as hostile. Built only with captured intrinsics and index loops
    // (prelude.js), so that no method, iterator or setter a tenant
    // installed runs here and sees it; the handle has no prototype and is
    // frozen.
    responseOutput = (id, response) => {
      // The brand check here, not a call of responseIs first: run() makes
      // one call for both.
      if (!((typeof response === 'object' && response !== null) && #state in response)) return false;
      const state = response.#state;
      const extra = state.extra;
      if (extra !== null && extra.type === 'error') {
        throw new TypeError('the fetch handler returned Response.error(), which cannot be sent');
      }
      // bodyUnreadIn, inline for bytes (the commonest body).
      let bytes = state.body;
      if (bytes !== null && !ArrayBufferIsView(bytes)) bytes = bodyUnreadIn(state);
      if (bytes === undefined) {
        throw new TypeError('the fetch handler returned a Response whose body has already been read');
      }
      const own = state.headers;
      let headers = '';
      let count = 0;
      if (typeof own === 'string') {
        // Headers never read: just the body's type.
        headers = own === RESPONSE_TEXT_TYPE ? RESPONSE_TEXT_HEADER
          : own === RESPONSE_JSON_TYPE ? RESPONSE_JSON_HEADER : 'content-type\0' + own + '\0';
        count = 1;
      } else if (own !== null) {
        const sorted = headersSorted(own);
        for (let i = 0; i < sorted.length; i++) {
          headers += sorted[i][0] + '\0' + sorted[i][1] + '\0';
        }
        count = sorted.length;
      }
      let handle = null;
      let length = -1;
      let passthrough = 0;
      const stream = bytes === null && bodyIsStream(state.body) ? state.body : null;
      if (stream !== null) {
        if (readableStreamIsLocked(stream)) {
          throw new TypeError('the fetch handler returned a Response whose body is locked to a reader');
        }
        const source = readableStreamSource(stream);
        if (source !== null && source.bytes !== undefined) {
          bytes = source.bytes; // made from bytes and never read: sent as bytes
        } else {
          // The engine reads it when the client can take more; locked
          // here, nothing else reads it meanwhile.
          length = fixedLengthOf(stream); // before the reader locks it
          handle = listNew();
          handle[1] = readableStreamGetReader(stream);
          handle[0] = stream;
          ObjectFreeze(handle);
          passthrough = source !== null && source.requestId !== undefined ? source.requestId : 0;
        }
      }
      // A 101: the WebSocket's server end serves this request from now on.
      if (extra !== null && extra.webSocket !== null) webSocketHandOver(id, extra.webSocket);
      native.respond(id, state.status, extra === null ? '' : extra.statusText, headers, count, bytes, handle,
                     length, passthrough);
      return true;
    };
    registerInspector('Response', (value) => {
      if (!(#state in value)) return undefined;
      const state = value.#state;
      return {
        status: state.status,
        statusText: state.extra === null ? '' : state.extra.statusText,
        headers: responseHeaders(state),
        bodyUsed: bodyIsUsed(value),
      };
    });
  }
}

inheritBody(Response);
setToStringTag(Response.prototype, 'Response');
defineGlobal('Response', Response);
