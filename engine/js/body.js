// The body shared by Request and Response (the Fetch "Body" mixin). Both
// classes extend Body, as in workerd; Body itself cannot be constructed by
// tenants. A body is held as bytes while it can be (a string, a buffer, a
// Blob, a FormData, a URLSearchParams, a request body that came whole) and
// becomes a ReadableStream only when the script asks for `.body`; a body
// made from a stream is that stream. Either way it is read once.

// Internal access for Request, Response and the request path (dispatch.js).
// bodySet and bodyUnread: in prelude.js, with the request path's bindings.
let bodySetStream; // (object, ReadableStream) -> void
let bodyHas; // (object) -> whether it has a body (read or not)
let bodyIsUsed; // (object) -> bodyUsed
let bodyMove; // (target, source) -> the source's body becomes the target's; the source reads as used
let bodyClone; // (target, source) -> the target gets a copy (bytes) or a tee branch (stream)
let bodyPeek; // (object) -> its bytes while it holds bytes and no stream, else null
let bodyStream; // (object) -> its stream if it has become one, else null

const BODY_USED_MESSAGE = 'Body has already been used. It can only be read once.';
const BODY_LOCKED_MESSAGE = 'The body\'s stream is locked to a reader.';

// Fetch's "extract a body": { bytes, type } or { stream, type: null }, with
// type the default Content-Type or null.
function extractBody(value) {
  if (typeof value === 'string') return { bytes: utf8Encode(value), stream: null, type: 'text/plain;charset=UTF-8' };
  if (isArrayBuffer(value) || ArrayBufferIsView(value)) return { bytes: copyBytes(value), stream: null, type: null };
  if (blobIs(value)) {
    const type = blobTypeOf(value);
    return { bytes: copyBytes(blobBytes(value)), stream: null, type: type === '' ? null : type };
  }
  if (readableStreamIs(value)) {
    if (readableStreamIsLocked(value) || readableStreamIsDisturbed(value)) {
      throw new TypeError('A body cannot be made from a ReadableStream that is locked or has been read');
    }
    return { bytes: null, stream: value, type: null };
  }
  if (formDataIs(value)) {
    const form = multipartSerialize(value);
    return { bytes: form.bytes, stream: null, type: form.type };
  }
  const form = searchParamsText(value);
  if (form !== null) return { bytes: utf8Encode(form), stream: null, type: 'application/x-www-form-urlencoded;charset=UTF-8' };
  return { bytes: utf8Encode(toUSVString(value)), stream: null, type: 'text/plain;charset=UTF-8' };
}

// The body's bytes travel to the mixin's methods in a frozen box with no
// prototype: awaiting a bare Uint8Array, or resolving a promise with one,
// looks up its `then`, which a tenant's Object.prototype.then would answer.
function bodyBox(bytes) {
  const box = listNew();
  box[0] = bytes;
  return ObjectFreeze(box);
}

function bodyUnbox(box) {
  const bytes = isObject(box) ? box[0] : undefined;
  if (TypedArrayPrototypeGetSymbolToStringTag(bytes) !== 'Uint8Array') {
    throw new TypeError('The body could not be read.');
  }
  return bytes;
}

async function bodyReadStream(stream) {
  const source = readableStreamSource(stream);
  if (source !== null && source.requestId !== undefined && source.length >= 0) {
    return bodyBox(await bodyReadKnownLength(stream, source.length));
  }
  return bodyBox(await readableStreamReadAllBytes(stream));
}

// A request body of known length that cannot fit what is left of the
// script's memory is a RangeError before a byte is read (its isolate is
// untouched); memory is taken only as the bytes come, so a client that
// announces a length and sends nothing holds none of it.
async function bodyReadKnownLength(stream, length) {
  native.checkFits(length);
  const bytes = await readableStreamReadAllBytes(stream);
  if (TypedArrayPrototypeGetLength(bytes) > length) {
    throw new TypeError('The request body is longer than its Content-Length.');
  }
  return bytes;
}

// WHATWG "UTF-8 decode": a leading BOM is dropped.
function bodyDecode(bytes) {
  const bom = TypedArrayPrototypeGetLength(bytes) >= 3 && bytes[0] === 0xEF && bytes[1] === 0xBB && bytes[2] === 0xBF;
  return utf8Decode(bom ? TypedArrayPrototypeSubarray(bytes, 3) : bytes);
}

// BODY_READ (what #bytes holds once the body is used): in prelude.js.

class Body {
  // Two fields, not three: a request into a cold isolate pays for each one
  // a Request or Response stores (one map transition each).
  #bytes = null; // Uint8Array owned by this object while no stream was made of it; or BODY_READ
  #stream = null; // ReadableStream, once there is one (#bytes is null then)

  // Only Request and Response construct a Body. They call super() without
  // INTERNAL: a tenant can make super() call a constructor of its own
  // (Object.setPrototypeOf(Request, F)), and F would receive it.
  constructor() {
    if (new.target === Body) throw new TypeError('Illegal constructor');
  }

  get body() {
    const bytes = this.#bytes;
    if (this.#stream === null && bytes !== null && bytes !== BODY_READ) {
      this.#stream = readableStreamFromBytes(bytes);
      this.#bytes = null;
    }
    return this.#stream;
  }

  get bodyUsed() {
    return this.#bytes === BODY_READ || (this.#stream !== null && readableStreamIsDisturbed(this.#stream));
  }

  async arrayBuffer() {
    return exactBuffer(bodyUnbox(await this.#consume()));
  }

  async text() {
    return bodyDecode(bodyUnbox(await this.#consume()));
  }

  async json() {
    return JSONParse(bodyDecode(bodyUnbox(await this.#consume())));
  }

  async bytes() {
    const bytes = bodyUnbox(await this.#consume());
    return isWholeBuffer(bytes) ? bytes : copyBytes(bytes);
  }

  async blob() {
    const type = this.headers.get('content-type');
    return blobCreate(bodyUnbox(await this.#consume()), type === null ? '' : blobType(type));
  }

  async formData() {
    const type = this.headers.get('content-type');
    return formDataFromBody(bodyUnbox(await this.#consume()), type);
  }

  // The whole body, boxed (bodyBox), or a promise of it: a stream is read
  // to its end.
  #consume() {
    if (bodyIsUsed(this)) throw new TypeError(BODY_USED_MESSAGE);
    const stream = this.#stream;
    if (stream !== null) {
      if (readableStreamIsLocked(stream)) throw new TypeError(BODY_LOCKED_MESSAGE);
      return bodyReadStream(stream);
    }
    const bytes = this.#bytes;
    if (bytes === null) return bodyBox(new Uint8Array(0));
    this.#bytes = BODY_READ; // the caller now owns the bytes
    return bodyBox(bytes);
  }

  static {
    bodySet = (object, bytes) => {
      object.#bytes = bytes;
      if (object.#stream !== null) object.#stream = null; // a new object's is: no store
    };
    bodySetStream = (object, stream) => {
      object.#bytes = null;
      object.#stream = stream;
    };
    bodyHas = (object) => object.#bytes !== null || object.#stream !== null;
    bodyIsUsed = (object) => object.#bytes === BODY_READ
      || (object.#stream !== null && readableStreamIsDisturbed(object.#stream));
    bodyPeek = (object) => (object.#stream === null && object.#bytes !== BODY_READ ? object.#bytes : null);
    bodyStream = (object) => object.#stream;
    bodyUnread = (object) => {
      const stream = object.#stream;
      if (stream !== null) return readableStreamIsDisturbed(stream) ? undefined : null;
      const bytes = object.#bytes;
      return bytes === BODY_READ ? undefined : bytes;
    };
    bodyMove = (target, source) => {
      if (bodyIsUsed(source)) throw new TypeError(BODY_USED_MESSAGE);
      if (source.#stream !== null && readableStreamIsLocked(source.#stream)) throw new TypeError(BODY_LOCKED_MESSAGE);
      target.#bytes = source.#bytes;
      target.#stream = source.#stream;
      source.#bytes = BODY_READ;
      source.#stream = null;
    };
    bodyClone = (target, source) => {
      if (bodyIsUsed(source)) throw new TypeError(BODY_USED_MESSAGE);
      if (source.#stream !== null) {
        if (readableStreamIsLocked(source.#stream)) throw new TypeError(BODY_LOCKED_MESSAGE);
        const branches = readableStreamTee(source.#stream);
        source.#stream = branches[0];
        target.#stream = branches[1];
        target.#bytes = null;
      } else {
        target.#stream = null;
        target.#bytes = source.#bytes === null ? null : copyBytes(source.#bytes); // not BODY_READ: checked above
      }
    };
  }
}
