// Response (WHATWG Fetch, as Cloudflare Workers exposes it).

let responseIs; // (value) -> true for a Response (brand check, not instanceof)
let responseOutput; // (request id, response) -> hands it to the engine (native.respond); TypeError if unsendable
let responseParts; // (response) -> { status, statusText, headers } read from its fields, not its getters
let responseFromFetch; // (status, statusText, flat headers, ReadableStream|null, url, redirected) -> Response, immutable headers

const RESPONSE_NULL_BODY_STATUSES = [101, 103, 204, 205, 304];
const RESPONSE_REDIRECT_STATUSES = [301, 302, 303, 307, 308];
const REASON_PHRASE = /^[\t\x20-\x7E\x80-\xFF]*$/;

class Response extends Body {
  #type = 'default';
  #status = 200;
  #statusText = '';
  #headers = null; // a Headers once constructed (each path below makes its own)
  #url = '';
  #redirected = false;

  constructor(body = null, init = undefined) {
    super(); // never super(INTERNAL): see Body
    // The built-ins' own form: the caller fills in the fields, headers
    // included (one Headers a response, not one made here and replaced).
    if (body === INTERNAL) return;
    this.#initialize(init, body === null ? null : extractBody(body));
  }

  static json(data, init = undefined) {
    const text = JSONStringify(data);
    if (text === undefined) throw new TypeError('Response.json: the value cannot be serialised as JSON');
    const response = new Response(INTERNAL);
    response.#initialize(init, { bytes: utf8Encode(text), stream: null, type: 'application/json' });
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
    response.#type = 'error';
    response.#status = 0;
    response.#headers = new Headers();
    headersSetImmutable(response.#headers);
    return response;
  }

  get type() {
    return this.#type;
  }

  get url() {
    return this.#url; // only fetch() produces responses with a URL
  }

  get redirected() {
    return this.#redirected;
  }

  get status() {
    return this.#status;
  }

  get ok() {
    return this.#status >= 200 && this.#status <= 299;
  }

  get statusText() {
    return this.#statusText;
  }

  get headers() {
    return this.#headers;
  }

  clone() {
    const copy = new Response(INTERNAL);
    bodyClone(copy, this); // a stream is teed: each reads it whole
    copy.#type = this.#type;
    copy.#status = this.#status;
    copy.#statusText = this.#statusText;
    copy.#headers = headersCopy(this.#headers);
    copy.#url = this.#url;
    copy.#redirected = this.#redirected;
    return copy;
  }

  // Fetch's "initialize a response"; extracted is what extractBody made, or null.
  // No init is WebIDL's empty dictionary: the defaults, with nothing read.
  #initialize(init, extracted) {
    let code = 200;
    let text = '';
    let headers;
    if (init !== undefined && init !== null) {
      const dictionary = toDictionary(init, 'Response');
      const { status = 200, statusText = '' } = dictionary;
      headers = dictionary.headers;
      code = toUnsignedShort(status);
      text = toByteString(statusText);
      if (code < 200 || code > 599) throw new RangeError(`Response status ${code} is outside the range 200 to 599`);
      if (RegExpPrototypeExec(REASON_PHRASE, text) === null) throw new TypeError('Invalid statusText');
    }
    this.#status = code;
    this.#statusText = text;
    this.#headers = new Headers(headers);
    if (extracted !== null) {
      if (ArrayPrototypeIncludes(RESPONSE_NULL_BODY_STATUSES, code)) {
        throw new TypeError(`A response with status ${code} cannot have a body`);
      }
      if (extracted.type !== null) headersSetDefault(this.#headers, 'content-type', extracted.type);
      if (extracted.stream !== null) bodySetStream(this, extracted.stream);
      else bodySet(this, extracted.bytes);
    }
  }

  static {
    responseFromFetch = (status, statusText, headerList, stream, url, redirected) => {
      const response = new Response(INTERNAL);
      response.#type = 'basic';
      response.#status = status;
      response.#statusText = statusText;
      response.#headers = headersFromClient(headerList);
      response.#url = url;
      response.#redirected = redirected;
      if (stream !== null) bodySetStream(response, stream);
      return response;
    };
    responseIs = (value) => isObject(value) && #type in value;
    responseParts = (response) => ({
      __proto__: null, status: response.#status, statusText: response.#statusText, headers: response.#headers,
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
      if (response.#type === 'error') {
        throw new TypeError('the fetch handler returned Response.error(), which cannot be sent');
      }
      if (bodyIsUsed(response)) {
        throw new TypeError('the fetch handler returned a Response whose body has already been read');
      }
      const sorted = headersSorted(response.#headers);
      let headers = '';
      for (let i = 0; i < sorted.length; i++) {
        headers += sorted[i][0] + '\0' + sorted[i][1] + '\0';
      }
      let bytes = bodyPeek(response);
      let handle = null;
      let length = -1;
      let passthrough = 0;
      const stream = bodyStream(response);
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
      native.respond(id, response.#status, response.#statusText, headers, sorted.length, bytes, handle,
                     length, passthrough);
    };
    registerInspector('Response', (value) => {
      if (!(#type in value)) return undefined;
      return {
        status: value.#status, statusText: value.#statusText, headers: value.#headers, bodyUsed: bodyIsUsed(value),
      };
    });
  }
}

setToStringTag(Response.prototype, 'Response');
defineGlobal('Response', Response);
