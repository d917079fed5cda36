// Request (WHATWG Fetch, as Cloudflare Workers exposes it).

// requestFromClient: in prelude.js, with the request path's bindings.
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

// A Request's #extra record (see there).
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

class Request extends Body {
  // Few fields, as a request into a cold isolate pays for each one it
  // stores (one map transition each).
  #method = 'GET';
  #url = '';
  // A Headers; for a request from the client, the flat list the engine
  // handed over until the script first asks (#currentHeaders).
  #headers = null;
  // A request from the client keeps its URL as nginx handed it until the
  // script first asks: a handler that never looks pays nothing for it.
  #clientUrl = null;
  // What few requests need, in one field, not two: null, as
  // requestFromClient finds it, is redirect "follow", no signal yet and the
  // client's empty request.cf, made when first read; else a record
  // (requestOptions) of redirect, signal (the AbortSignal from init, as
  // workerd keeps it, made on first read if null) and cf (undefined: none,
  // for a Request a script made; null: the client's empty one, made when
  // first read; else the object).
  #extra = null;

  constructor(input, init = undefined) {
    super(); // never super(INTERNAL): see Body
    if (input === INTERNAL) return; // clone() and requestFromClient fill in the fields
    // Not arguments.length: a function that names `arguments` makes the
    // object on every call, and every request constructs a Request here.
    // So new Request(undefined) is refused as new Request() is (both a
    // TypeError, as the URL "undefined" would be).
    if (input === undefined && init === undefined) requireArgs(0, 1, 'Request');
    const source = isObject(input) && #method in input ? input : null;
    // The source's own URL and headers, never through getters a tenant may
    // have put on Request.prototype (which would skip the URL checks).
    const url = source === null ? toUSVString(input) : source.#currentUrl();
    const { body, cf, headers, method, redirect, signal } = toDictionary(init, 'Request');

    this.#url = source === null ? requestURL(url) : url;
    let mode = 'follow';
    let abortSignal = null;
    let requestCf; // undefined: none (see #extra)
    if (source !== null) {
      this.#method = source.#method;
      requestCf = source.#currentCf(); // source.#extra is a record from here on
      mode = source.#extra.redirect;
      abortSignal = source.#extra.signal;
    }
    if (method !== undefined) this.#method = requestMethod(method);
    if (redirect !== undefined) {
      mode = toDOMString(redirect);
      if (!ArrayPrototypeIncludes(REQUEST_REDIRECT_MODES, mode)) throw new TypeError(`Invalid redirect mode: "${mode}"`);
    }
    if (signal !== undefined && signal !== null && !abortSignalIs(signal)) {
      throw new TypeError('Request: init.signal must be an AbortSignal');
    }
    if (signal !== undefined) abortSignal = signal;
    if (cf !== undefined) requestCf = cf;
    this.#extra = requestOptions(mode, abortSignal, requestCf);
    this.#headers = new Headers(headers !== undefined ? headers : source !== null ? source.#currentHeaders() : undefined);

    const sourceHasBody = source !== null && bodyHas(source);
    const hasBody = body !== undefined && body !== null;
    if ((hasBody || sourceHasBody) && (this.#method === 'GET' || this.#method === 'HEAD')) {
      throw new TypeError('A GET or HEAD request cannot have a body');
    }
    if (hasBody) {
      const extracted = extractBody(body);
      if (extracted.type !== null) headersSetDefault(this.#headers, 'content-type', extracted.type);
      if (extracted.stream !== null) bodySetStream(this, extracted.stream);
      else bodySet(this, extracted.bytes);
    } else if (sourceHasBody) {
      bodyMove(this, source); // the source reads as used
    }
  }

  get method() {
    return this.#method;
  }

  get url() {
    return this.#currentUrl();
  }

  #currentUrl() {
    if (this.#clientUrl !== null) {
      try {
        this.#url = requestURL(this.#clientUrl);
      } catch {
        this.#url = this.#clientUrl;  // nginx accepted it: pass it on as sent
      }
      this.#clientUrl = null;
    }
    return this.#url;
  }

  get headers() {
    return this.#currentHeaders();
  }

  #currentHeaders() {
    const headers = this.#headers;
    if (ArrayIsArray(headers)) { // the client's, never a Headers
      this.#headers = headersFromClient(headers);
      return this.#headers;
    }
    return headers;
  }

  get redirect() {
    return this.#extra === null ? 'follow' : this.#extra.redirect;
  }

  get signal() {
    if (this.#extra === null) this.#extra = requestOptions('follow', null, null);
    if (this.#extra.signal === null) this.#extra.signal = abortSignalCreate(); // one that never aborts
    return this.#extra.signal;
  }

  get integrity() {
    void this.#method; // brand check
    return '';
  }

  get cf() {
    return this.#currentCf();
  }

  // A request from the client with no dispatch_request_cf properties has
  // an empty, frozen request.cf: made here, once, only if a script looks.
  #currentCf() {
    const extra = this.#extra;
    if (extra === null) {
      const cf = ObjectFreeze({});
      this.#extra = requestOptions('follow', null, cf);
      return cf;
    }
    if (extra.cf === null) extra.cf = ObjectFreeze({});
    return extra.cf;
  }

  clone() {
    const copy = new Request(INTERNAL);
    bodyClone(copy, this); // a stream is teed: each reads it whole
    copy.#method = this.#method;
    copy.#url = this.#currentUrl();
    copy.#headers = headersCopy(this.#currentHeaders());
    // Its own record: a signal made later on one is not the other's.
    const cf = this.#currentCf(); // this.#extra is a record from here on
    copy.#extra = requestOptions(this.#extra.redirect, this.#extra.signal, cf);
    return copy;
  }

  static {
    requestIs = (value) => isObject(value) && #method in value;
    requestParts = (request) => ({
      __proto__: null,
      method: request.#method,
      url: request.#currentUrl(),
      headers: request.#currentHeaders(),
      redirect: request.#extra === null ? 'follow' : request.#extra.redirect,
      signal: request.#extra === null ? null : request.#extra.signal,
      cf: request.#currentCf(),
    });
    requestFromClient = (method, url, headerList, body, streamed, id, cf) => {
      const request = new Request(INTERNAL);
      // Only what differs from the fields' defaults is stored: each store
      // goes through V8's runtime while an isolate has no feedback yet.
      if (cf !== null) request.#extra = requestOptions('follow', null, cf);
      // Everything here goes through captured intrinsics (prelude.js): the
      // tenant's script has run by now.
      // As the client sent it; nginx has checked it. Strings from the
      // engine: String() only in case, not a call each.
      if (method !== 'GET') request.#method = typeof method === 'string' ? method : String(method);
      request.#clientUrl = typeof url === 'string' ? url : String(url);
      request.#headers = headerList; // the engine's array: see #headers
      if (streamed >= -1) {
        // It arrives in pieces: request.body pulls them from the engine.
        bodySetStream(request, requestBodyStream(id, streamed));
      } else if (body !== null && body !== undefined) {
        // The engine hands the buffer over, so it is used without a copy.
        bodySet(request, viewBytes(body));
      } // else no body: as Body starts
      return request;
    };
    registerInspector('Request', (value) => {
      if (!(#method in value)) return undefined;
      return { method: value.#method, url: value.#currentUrl(), headers: value.#currentHeaders(), bodyUsed: bodyIsUsed(value) };
    });
  }
}

setToStringTag(Request.prototype, 'Request');
defineGlobal('Request', Request);
