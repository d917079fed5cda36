// Response (WHATWG Fetch, as Cloudflare Workers exposes it).

let responseIs; // (value) -> true for a Response (brand check, not instanceof)
let responseOutput; // (response) -> [status, statusText, flat headers, bytes|null]; TypeError if unsendable

const RESPONSE_NULL_BODY_STATUSES = [101, 103, 204, 205, 304];
const RESPONSE_REDIRECT_STATUSES = [301, 302, 303, 307, 308];
const REASON_PHRASE = /^[\t\x20-\x7E\x80-\xFF]*$/;

class Response extends Body {
  #type = 'default';
  #status = 200;
  #statusText = '';
  #headers = new Headers();

  constructor(body = null, init = undefined) {
    super(INTERNAL);
    this.#initialize(init, body === null ? null : extractBody(body));
  }

  static json(data, init = undefined) {
    const text = JSON.stringify(data);
    if (text === undefined) throw new TypeError('Response.json: the value cannot be serialised as JSON');
    const response = new Response();
    response.#initialize(init, { bytes: utf8Encode(text), type: 'application/json' });
    return response;
  }

  static redirect(url, status = 302) {
    requireArgs(arguments.length, 1, 'Response.redirect');
    const location = urlSerialize(urlParseAbsolute(toUSVString(url)));
    const code = toUnsignedShort(status);
    if (!RESPONSE_REDIRECT_STATUSES.includes(code)) {
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
    void this.#type; // brand check; only fetch() produces responses with a URL
    return '';
  }

  get redirected() {
    void this.#type;
    return false;
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
    const bytes = bodyCloneBytes(this);
    const copy = new Response();
    copy.#type = this.#type;
    copy.#status = this.#status;
    copy.#statusText = this.#statusText;
    copy.#headers = headersCopy(this.#headers);
    bodySet(copy, bytes);
    return copy;
  }

  // Fetch's "initialize a response"; extracted is { bytes, type } or null.
  #initialize(init, extracted) {
    const { headers, status = 200, statusText = '' } = toDictionary(init, 'Response');
    const code = toUnsignedShort(status);
    const text = toByteString(statusText);
    if (code < 200 || code > 599) throw new RangeError(`Response status ${code} is outside the range 200 to 599`);
    if (!REASON_PHRASE.test(text)) throw new TypeError('Invalid statusText');
    this.#status = code;
    this.#statusText = text;
    this.#headers = new Headers(headers);
    if (extracted !== null) {
      if (RESPONSE_NULL_BODY_STATUSES.includes(code)) {
        throw new TypeError(`A response with status ${code} cannot have a body`);
      }
      if (extracted.type !== null) headersSetDefault(this.#headers, 'content-type', extracted.type);
      bodySet(this, extracted.bytes);
    }
  }

  static {
    responseIs = (value) => isObject(value) && #type in value;
    responseOutput = (response) => {
      if (response.#type === 'error') {
        throw new TypeError('the fetch handler returned Response.error(), which cannot be sent');
      }
      const [bytes, used] = bodyState(response);
      if (used) throw new TypeError('the fetch handler returned a Response whose body has already been read');
      const headers = [];
      for (const [name, value] of headersSorted(response.#headers)) headers.push(name, value);
      return [response.#status, response.#statusText, headers, bytes];
    };
    registerInspector('Response', (value) => {
      if (!(#type in value)) return undefined;
      return {
        status: value.#status, statusText: value.#statusText, headers: value.#headers, bodyUsed: bodyState(value)[1],
      };
    });
  }
}

setToStringTag(Response.prototype, 'Response');
defineGlobal('Response', Response);
