// Response (WHATWG Fetch, as Cloudflare Workers exposes it).

let responseIs; // (value) -> true for a Response (brand check, not instanceof)
let responseOutput; // (response) -> [status, statusText, flat headers, bytes|null]; TypeError if unsendable
let responseParts; // (response) -> { status, statusText, headers } read from its fields, not its getters
let responseFromFetch; // (status, statusText, flat headers, ReadableStream|null, url, redirected) -> Response, immutable headers

const RESPONSE_NULL_BODY_STATUSES = [101, 103, 204, 205, 304];
const RESPONSE_REDIRECT_STATUSES = [301, 302, 303, 307, 308];
const REASON_PHRASE = /^[\t\x20-\x7E\x80-\xFF]*$/;

class Response extends Body {
  #type = 'default';
  #status = 200;
  #statusText = '';
  #headers = new Headers();
  #url = '';
  #redirected = false;

  constructor(body = null, init = undefined) {
    super(); // never super(INTERNAL): see Body
    if (body === INTERNAL) return; // the fields' defaults; the caller initialises it
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
    const response = new Response();
    response.#status = code;
    headersSetDefault(response.#headers, 'location', location);
    headersSetImmutable(response.#headers);
    return response;
  }

  static error() {
    const response = new Response();
    response.#type = 'error';
    response.#status = 0;
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
    const copy = new Response();
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
  #initialize(init, extracted) {
    const { headers, status = 200, statusText = '' } = toDictionary(init, 'Response');
    const code = toUnsignedShort(status);
    const text = toByteString(statusText);
    if (code < 200 || code > 599) throw new RangeError(`Response status ${code} is outside the range 200 to 599`);
    if (RegExpPrototypeExec(REASON_PHRASE, text) === null) throw new TypeError('Invalid statusText');
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
      const response = new Response();
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
    // What the engine sends (response_output.h): [status, statusText,
    // headers, bytes or null, the [stream, reader] of a streamed body or
    // null, its fixed length or -1, the id of the request whose untouched
    // body it is or 0]. Built only with captured intrinsics, index loops
    // and null-prototype lists (prelude.js), so that no method, iterator or
    // index setter a tenant installed runs here and sees it. The result has
    // no prototype either: resolving a promise with it looks up `then`, which
    // would otherwise find a tenant's Object.prototype.then. It is frozen: the
    // engine gets exactly what was checked here.
    responseOutput = (response) => {
      if (response.#type === 'error') {
        throw new TypeError('the fetch handler returned Response.error(), which cannot be sent');
      }
      if (bodyIsUsed(response)) {
        throw new TypeError('the fetch handler returned a Response whose body has already been read');
      }
      const sorted = headersSorted(response.#headers);
      const headers = listNew();
      for (let i = 0; i < sorted.length; i++) {
        headers[2 * i] = sorted[i][0];
        headers[2 * i + 1] = sorted[i][1];
      }
      const output = listNew();
      output[0] = response.#status;
      output[1] = response.#statusText;
      output[2] = ObjectFreeze(headers);
      output[3] = bodyPeek(response);
      output[4] = null;
      output[5] = -1;
      output[6] = 0;
      const stream = bodyStream(response);
      if (stream !== null) {
        if (readableStreamIsLocked(stream)) {
          throw new TypeError('the fetch handler returned a Response whose body is locked to a reader');
        }
        const source = readableStreamSource(stream);
        if (source !== null && source.bytes !== undefined) {
          output[3] = source.bytes; // made from bytes and never read: sent as bytes
        } else {
          // The engine reads it when the client can take more; locked
          // here, nothing else reads it meanwhile.
          output[5] = fixedLengthOf(stream); // before the reader locks it
          const handle = listNew();
          handle[1] = readableStreamGetReader(stream);
          handle[0] = stream;
          output[4] = ObjectFreeze(handle);
          output[6] = source !== null && source.requestId !== undefined ? source.requestId : 0;
        }
      }
      return ObjectFreeze(output);
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
