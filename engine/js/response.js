// Response (WHATWG Fetch, as Cloudflare Workers exposes it).

let responseIs; // (value) -> true for a Response (brand check, not instanceof)
// responseOutput and the RESPONSE_*_TYPE/HEADER constants: in prelude.js,
// with the request path's bindings.
let responseParts; // (response) -> { status, statusText, headers } read from its fields, not its getters
let responseFromFetch; // (status, statusText, flat headers, ReadableStream|null, url, redirected) -> Response, immutable headers

const RESPONSE_REDIRECT_STATUSES = [301, 302, 303, 307, 308];
const REASON_PHRASE = /^[\t\x20-\x7E\x80-\xFF]*$/;


// A status that forbids a body (Fetch's "null body status").
function isNullBodyStatus(code) {
  return code === 101 || code === 103 || code === 204 || code === 205 || code === 304;
}

// Response's rarely set fields, in one record (see #extra).
function responseExtra(type, url, redirected, statusText) {
  return { __proto__: null, type, url, redirected, statusText };
}

class Response extends Body {
  // Few fields, as a request into a cold isolate pays for each one it
  // stores (one map transition each); what only fetch(), Response.error()
  // and an init with a statusText set lives in #extra.
  #status = 200;
  // A Headers; or, while nobody has asked for them, what they would hold:
  // null for none, a string for just that Content-Type (a body's default).
  // `.headers` makes the Headers on first read (#currentHeaders); a
  // response sent without its headers read never makes one.
  #headers = null;
  #extra = null; // null: type "default", no URL, not redirected, statusText ''; else a record of the four

  constructor(body = null, init = undefined) {
    super(); // never super(INTERNAL): see Body
    // The built-ins' own form: the caller fills in the fields, headers
    // included (one Headers a response, not one made here and replaced).
    if (body === INTERNAL) return;
    const hasInit = init !== undefined && init !== null;
    if (typeof body === 'string') {
      // The commonest shape, new Response('text'): no extractBody record.
      const bytes = utf8Encode(body);
      if (!hasInit) {
        this.#headers = RESPONSE_TEXT_TYPE; // what #setBody does, one call less
        bodySet(this, bytes);
        return;
      }
      this.#initialize(init, true);
      this.#setBody(bytes, null, RESPONSE_TEXT_TYPE);
    } else if (body === null) {
      if (hasInit) this.#initialize(init, false);
    } else {
      const extracted = extractBody(body);
      if (hasInit) this.#initialize(init, true);
      this.#setBody(extracted.bytes, extracted.stream, extracted.type);
    }
  }

  static json(data, init = undefined) {
    const text = JSONStringify(data);
    if (text === undefined) throw new TypeError('Response.json: the value cannot be serialised as JSON');
    const response = new Response(INTERNAL);
    const bytes = utf8Encode(text);
    if (init !== undefined && init !== null) response.#initialize(init, true);
    response.#setBody(bytes, null, RESPONSE_JSON_TYPE);
    return response;
  }

  static redirect(url, status = 302) {
    requireArgs(arguments.length, 1, 'Response.redirect');
    const location = urlSerialize(urlParseAbsolute(toUSVString(url)));
    const code = toUnsignedShort(status);
    if (!ArrayPrototypeIncludes(RESPONSE_REDIRECT_STATUSES, code)) {
      throw new RangeError(`Invalid redirect status ${code}: it must be 301, 302, 303, 307 or 308`);
    }
    const response = new Response(INTERNAL);
    response.#status = code;
    response.#headers = new Headers();
    headersSetDefault(response.#headers, 'location', location);
    headersSetImmutable(response.#headers);
    return response;
  }

  static error() {
    const response = new Response(INTERNAL);
    response.#extra = responseExtra('error', '', false, '');
    response.#status = 0;
    response.#headers = new Headers();
    headersSetImmutable(response.#headers);
    return response;
  }

  get type() {
    return this.#extra === null ? 'default' : this.#extra.type;
  }

  get url() {
    return this.#extra === null ? '' : this.#extra.url; // only fetch() produces responses with a URL
  }

  get redirected() {
    return this.#extra === null ? false : this.#extra.redirected;
  }

  get status() {
    return this.#status;
  }

  get ok() {
    return this.#status >= 200 && this.#status <= 299;
  }

  get statusText() {
    return this.#extra === null ? '' : this.#extra.statusText;
  }

  get headers() {
    return this.#currentHeaders();
  }

  #currentHeaders() {
    const pending = this.#headers;
    if (pending === null || typeof pending === 'string') {
      const headers = new Headers();
      if (pending !== null) headersSetDefault(headers, 'content-type', pending);
      this.#headers = headers;
      return headers;
    }
    return pending;
  }

  clone() {
    const copy = new Response(INTERNAL);
    bodyClone(copy, this); // a stream is teed: each reads it whole
    copy.#extra = this.#extra; // never changed once made: shared
    copy.#status = this.#status;
    const headers = this.#headers;
    copy.#headers = headers === null || typeof headers === 'string' ? headers : headersCopy(headers);
    return copy;
  }

  // Fetch's "initialize a response" for an init that is not undefined or
  // null (no init is WebIDL's empty dictionary: the defaults, with nothing
  // read); hasBody: the constructor was given one.
  #initialize(init, hasBody) {
    const dictionary = toDictionary(init, 'Response');
    const { status = 200, statusText } = dictionary;
    const headers = dictionary.headers;
    const code = toUnsignedShort(status);
    // No statusText (the usual init) is '': nothing to convert or match.
    const text = statusText === undefined ? '' : toByteString(statusText);
    if (code < 200 || code > 599) throw new RangeError(`Response status ${code} is outside the range 200 to 599`);
    if (statusText !== undefined && RegExpPrototypeExec(REASON_PHRASE, text) === null) {
      throw new TypeError('Invalid statusText');
    }
    this.#status = code;
    if (text !== '') this.#extra = responseExtra('default', '', false, text);
    if (headers !== undefined) this.#headers = new Headers(headers);
    if (hasBody && isNullBodyStatus(code)) throw new TypeError(`A response with status ${code} cannot have a body`);
  }

  // The extracted body and its default Content-Type (type, or null). While
  // no Headers is made the type waits in #headers (see there), checked now
  // as headersSetDefault would.
  #setBody(bytes, stream, type) {
    if (type !== null) {
      if (this.#headers !== null) {
        headersSetDefault(this.#headers, 'content-type', type);
      } else {
        if (type !== RESPONSE_TEXT_TYPE && !isHeaderValue(type)) {
          throw new TypeError('Header values must not contain CR, LF or NUL');
        }
        this.#headers = type;
      }
    }
    if (stream !== null) bodySetStream(this, stream);
    else bodySet(this, bytes);
  }

  static {
    responseFromFetch = (status, statusText, headerList, stream, url, redirected) => {
      const response = new Response(INTERNAL);
      response.#extra = responseExtra('basic', url, redirected, statusText);
      response.#status = status;
      response.#headers = headersFromClient(headerList);
      if (stream !== null) bodySetStream(response, stream);
      return response;
    };
    responseIs = (value) => isObject(value) && #status in value;
    responseParts = (response) => ({
      __proto__: null, status: response.#status, statusText: response.#extra === null ? '' : response.#extra.statusText,
      headers: response.#currentHeaders(),
    });
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
      if (!((typeof response === 'object' && response !== null) && #status in response)) return false;
      const extra = response.#extra;
      if (extra !== null && extra.type === 'error') {
        throw new TypeError('the fetch handler returned Response.error(), which cannot be sent');
      }
      let bytes = bodyUnread(response);
      if (bytes === undefined) {
        throw new TypeError('the fetch handler returned a Response whose body has already been read');
      }
      const own = response.#headers;
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
      const stream = bytes === null ? bodyStream(response) : null;
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
      native.respond(id, response.#status, extra === null ? '' : extra.statusText, headers, count, bytes, handle,
                     length, passthrough);
      return true;
    };
    registerInspector('Response', (value) => {
      if (!(#status in value)) return undefined;
      return {
        status: value.#status,
        statusText: value.#extra === null ? '' : value.#extra.statusText,
        headers: value.#currentHeaders(),
        bodyUsed: bodyIsUsed(value),
      };
    });
  }
}

setToStringTag(Response.prototype, 'Response');
defineGlobal('Response', Response);
