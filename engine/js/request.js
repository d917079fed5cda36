// Request (WHATWG Fetch, as Cloudflare Workers exposes it).

let requestIs; // (value) -> true for a Request (brand check, not instanceof)
let requestParts; // (request) -> { method, url, headers, redirect, signal, cf } as fetch() reads them (signal may be null)

const REQUEST_NORMALIZED_METHODS = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'];
const REQUEST_FORBIDDEN_METHODS = ['CONNECT', 'TRACE', 'TRACK'];
const REQUEST_REDIRECT_MODES = ['follow', 'error', 'manual'];

function requestMethod(value) {
  const method = toByteString(value);
  if (!isHttpToken(method)) throw new TypeError(`Invalid HTTP method: "${method}"`);
  const upper = StringPrototypeToUpperCase(method);
  if (ArrayPrototypeIncludes(REQUEST_FORBIDDEN_METHODS, upper)) throw new TypeError(`HTTP method ${upper} is not allowed`);
  return ArrayPrototypeIncludes(REQUEST_NORMALIZED_METHODS, upper) ? upper : method;
}

// A Request's extra record (see requestState).
function requestOptions(redirect, signal, cf) {
  return { __proto__: null, redirect, signal, cf };
}

function requestURL(input) {
  if (urlIsSerializedHTTP(input)) return input; // the usual client URL: nothing to parse or rebuild
  const url = urlParseAbsolute(input);
  if (url.username !== '' || url.password !== '') {
    throw new TypeError('A Request URL must not include credentials');
  }
  return urlSerialize(url);
}

const NativeStreamPromiseThen = uncurryThis(Promise.prototype.then);

// A byte stream of what the engine has for it: source.read() gives a
// Uint8Array, null at the end, or a promise of a frozen, prototype-less
// [either] (see bodyBox); it throws, or the promise rejects, when the bytes
// will not come. stopped() says to ignore what comes (an aborted fetch).
// The other fields of source stay on it (readableStreamSource finds them).
function nativeByteStream(source, stopped = undefined) {
  const arrived = (controller, piece) => {
    if (stopped !== undefined && stopped()) return;
    if (piece === null) readableStreamControllerClose(controller);
    else readableStreamControllerEnqueue(controller, piece);
  };
  const failed = (controller, error) => {
    if (stopped === undefined || !stopped()) readableStreamControllerError(controller, error);
  };
  const read = source.read;
  source.pull = (controller) => {
    let got;
    try {
      got = read();
    } catch (error) {
      failed(controller, error);
      return undefined;
    }
    if (got === null || TypedArrayPrototypeGetSymbolToStringTag(got) === 'Uint8Array') {
      arrived(controller, got);
      return undefined;
    }
    return NativeStreamPromiseThen(got, (box) => arrived(controller, box[0]), (error) => failed(controller, error));
  };
  return readableByteStreamCreate(source, 0, undefined);
}

// The body of request `id` as nginx reads it from the client (length is
// its Content-Length or -1). Its source names the request, so a body
// passed through unchanged (new Response(request.body)) goes out natively.
function requestBodyStream(id, length) {
  return nativeByteStream({ __proto__: null, requestId: id, length, read: () => native.requestBodyRead(id) });
}

// A Request's state, in one record (#state): one private field defined per
// request, not six. body: as in Body (body.js); method; url; headers: a
// Headers, or for a request from the client the header block the engine
// handed over until the script first asks (requestHeaders); clientUrl: a request
// from the client keeps its URL as nginx handed it until the script first
// asks (requestUrl), a handler that never looks pays nothing for it; extra:
// what few requests need, null as the client's request has it (dispatch.js run()) (redirect
// "follow", no signal yet and the client's empty request.cf, made when first
// read), else a record (requestOptions) of redirect, signal (the
// AbortSignal from init, as workerd keeps it, made on first read if null)
// and cf (undefined: none, for a Request a script made; null: the client's
// empty one, made when first read; else the object). A plain literal with
// every property present: its reads never reach a prototype.
function requestState(body, method, url, headers, clientUrl, extra) {
  return { body, method, url, headers, clientUrl, extra };
}

function requestUrl(state) {
  if (state.clientUrl !== null) {
    try {
      state.url = requestURL(state.clientUrl);
    } catch {
      state.url = state.clientUrl; // nginx accepted it: pass it on as sent
    }
    state.clientUrl = null;
  }
  return state.url;
}

function requestHeaders(state) {
  const headers = state.headers;
  if (typeof headers === 'string') { // the client's (the engine's header block), never a Headers
    state.headers = headersFromClient(headers);
    return state.headers;
  }
  return headers;
}

// A request from the client with no dispatch_request_cf properties has an
// empty, frozen request.cf: made here, once, only if a script looks.
function requestCf(state) {
  const extra = state.extra;
  if (extra === null) {
    const cf = ObjectFreeze({});
    state.extra = requestOptions('follow', null, cf);
    return cf;
  }
  if (extra.cf === null) extra.cf = ObjectFreeze({});
  return extra.cf;
}

let requestStateOf; // (value, member) -> a Request's record, else privateBrandError

class Request { // Body's, by inheritBody below
  #state; // see requestState

  constructor(input, init = undefined) {
    // clone() and run() (dispatch.js, the client's request) hand over the record.
    if (input === INTERNAL) {
      this.#state = init;
      return;
    }
    const state = requestState(null, 'GET', '', null, null, null);
    this.#state = state;
    // Not arguments.length: a function that names `arguments` makes the
    // object on every call, and every request constructs a Request here.
    // So new Request(undefined) is refused as new Request() is (both a
    // TypeError, as the URL "undefined" would be).
    if (input === undefined && init === undefined) requireArgs(0, 1, 'Request');
    const source = isObject(input) && #state in input ? input.#state : null;
    // The source's own URL and headers, never through getters a tenant may
    // have put on Request.prototype (which would skip the URL checks).
    const url = source === null ? toUSVString(input) : requestUrl(source);
    // The members a script may give, read in the dictionary's (lexicographic)
    // order. duplex is read even though it changes nothing: libraries (ky)
    // test for request streams by whether it is read.
    const { body, cf, duplex, headers, method, redirect, signal } = toDictionary(init, 'Request');
    if (duplex !== undefined) {
      const mode = toDOMString(duplex);
      if (mode !== 'half') throw new TypeError(`Invalid duplex mode: "${mode}" (only "half")`);
    }

    state.url = source === null ? requestURL(url) : url;
    let mode = 'follow';
    let abortSignal = null;
    let cfObject; // undefined: none (see requestState)
    if (source !== null) {
      state.method = source.method;
      cfObject = requestCf(source); // source.extra is a record from here on
      mode = source.extra.redirect;
      abortSignal = source.extra.signal;
    }
    if (method !== undefined) state.method = requestMethod(method);
    if (redirect !== undefined) {
      mode = toDOMString(redirect);
      if (!ArrayPrototypeIncludes(REQUEST_REDIRECT_MODES, mode)) throw new TypeError(`Invalid redirect mode: "${mode}"`);
    }
    if (signal !== undefined && signal !== null && !abortSignalIs(signal)) {
      throw new TypeError('Request: init.signal must be an AbortSignal');
    }
    if (signal !== undefined) abortSignal = signal;
    if (cf !== undefined) cfObject = cf;
    state.extra = requestOptions(mode, abortSignal, cfObject);
    state.headers = new Headers(headers !== undefined ? headers : source !== null ? requestHeaders(source) : undefined);

    const sourceHasBody = source !== null && source.body !== null;
    const hasBody = body !== undefined && body !== null;
    if ((hasBody || sourceHasBody) && (state.method === 'GET' || state.method === 'HEAD')) {
      throw new TypeError('A GET or HEAD request cannot have a body');
    }
    if (hasBody) {
      const extracted = extractBody(body);
      if (extracted.type !== null) headersSetDefault(state.headers, 'content-type', extracted.type);
      state.body = extracted.stream !== null ? extracted.stream : extracted.bytes;
    } else if (sourceHasBody) {
      bodyMove(this, input); // the source reads as used
    }
  }

  get method() {
    return requestStateOf(this, '#method').method;
  }

  get url() {
    return requestUrl(requestStateOf(this, null));
  }

  get headers() {
    return requestHeaders(requestStateOf(this, null));
  }

  // Fetch: always "half" (a request's body is sent before its response is read).
  get duplex() {
    requestStateOf(this, null);
    return 'half';
  }

  get redirect() {
    const extra = requestStateOf(this, '#extra').extra;
    return extra === null ? 'follow' : extra.redirect;
  }

  get signal() {
    const state = requestStateOf(this, '#extra');
    if (state.extra === null) state.extra = requestOptions('follow', null, null);
    if (state.extra.signal === null) state.extra.signal = abortSignalCreate(); // one that never aborts
    return state.extra.signal;
  }

  get integrity() {
    requestStateOf(this, '#method'); // brand check
    return '';
  }

  get cf() {
    return requestCf(requestStateOf(this, null));
  }

  clone() {
    const state = requestStateOf(this, '#body');
    // Its own record: a signal made later on one is not the other's.
    const cf = requestCf(state); // state.extra is a record from here on
    const copy = new Request(INTERNAL, requestState(null, state.method, requestUrl(state),
      headersCopy(requestHeaders(state)), null, requestOptions(state.extra.redirect, state.extra.signal, cf)));
    bodyClone(copy, this); // a stream is teed: each reads it whole
    return copy;
  }

  static {
    // The record, else the TypeError this getter threw when it read its
    // own field `member` (or called a private method, member null).
    requestStateOf = (value, member) => {
      if (isObject(value) && #state in value) return value.#state;
      throw privateBrandError(value, 'Request', member);
    };
    requestBodyState = (value) => (isObject(value) && #state in value ? value.#state : undefined);
    requestIs = (value) => isObject(value) && #state in value;
    requestParts = (request) => {
      const state = request.#state;
      return {
        __proto__: null,
        method: state.method,
        url: requestUrl(state),
        headers: requestHeaders(state),
        redirect: state.extra === null ? 'follow' : state.extra.redirect,
        signal: state.extra === null ? null : state.extra.signal,
        cf: requestCf(state),
      };
    };
    registerInspector('Request', (value) => {
      if (!(#state in value)) return undefined;
      const state = value.#state;
      return { method: state.method, url: requestUrl(state), headers: requestHeaders(state), bodyUsed: bodyIsUsed(value) };
    });
  }
}

inheritBody(Request);
setToStringTag(Request.prototype, 'Request');
defineGlobal('Request', Request);
