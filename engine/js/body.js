// The body shared by Request and Response (the Fetch "Body" mixin). Both
// classes extend Body, as in workerd; Body itself cannot be constructed by
// tenants. Bodies are held as bytes: streaming bodies come with ReadableStream.
// A body may be made from a string, an ArrayBuffer or view, a Blob, a
// FormData (multipart/form-data) or a URLSearchParams.

// Internal access for Request, Response and invoke.
let bodySet; // (object, Uint8Array|null) -> void
let bodyPeek; // (object) -> its bytes or null, leaving the body unread
let bodyIsUsed; // (object) -> whether the body has been read
let bodyTake; // (object) -> bytes, marking the body used; TypeError if it was
let bodyCloneBytes; // (object) -> copy of the bytes or null; TypeError if used

const BODY_USED_MESSAGE = 'Body has already been used. It can only be read once.';

// Fetch's "extract a body": { bytes, type } with type the default Content-Type or null.
function extractBody(value) {
  if (typeof value === 'string') return { bytes: utf8Encode(value), type: 'text/plain;charset=UTF-8' };
  if (isArrayBuffer(value) || ArrayBufferIsView(value)) return { bytes: copyBytes(value), type: null };
  if (blobIs(value)) {
    const type = blobTypeOf(value);
    return { bytes: copyBytes(blobBytes(value)), type: type === '' ? null : type };
  }
  if (formDataIs(value)) return multipartSerialize(value);
  const form = searchParamsText(value);
  if (form !== null) return { bytes: utf8Encode(form), type: 'application/x-www-form-urlencoded;charset=UTF-8' };
  return { bytes: utf8Encode(toUSVString(value)), type: 'text/plain;charset=UTF-8' };
}

// WHATWG "UTF-8 decode": a leading BOM is dropped.
function bodyDecode(bytes) {
  const bom = TypedArrayPrototypeGetLength(bytes) >= 3 && bytes[0] === 0xEF && bytes[1] === 0xBB && bytes[2] === 0xBF;
  return utf8Decode(bom ? TypedArrayPrototypeSubarray(bytes, 3) : bytes);
}

class Body {
  #bytes = null; // Uint8Array owned by this object, or null
  #used = false; // only ever true for a non-null body, as in the standard

  // Only Request and Response construct a Body. They call super() without
  // INTERNAL: a tenant can make super() call a constructor of its own
  // (Object.setPrototypeOf(Request, F)), and F would receive it.
  constructor() {
    if (new.target === Body) throw new TypeError('Illegal constructor');
  }

  get body() {
    void this.#bytes; // brand check; there is no ReadableStream yet
    return null;
  }

  get bodyUsed() {
    return this.#used;
  }

  async arrayBuffer() {
    return exactBuffer(this.#consume());
  }

  async text() {
    return bodyDecode(this.#consume());
  }

  async json() {
    return JSONParse(bodyDecode(this.#consume()));
  }

  async bytes() {
    const bytes = this.#consume();
    return isWholeBuffer(bytes) ? bytes : copyBytes(bytes);
  }

  async blob() {
    const type = this.headers.get('content-type');
    return blobCreate(this.#consume(), type === null ? '' : blobType(type));
  }

  async formData() {
    const type = this.headers.get('content-type');
    return formDataFromBody(this.#consume(), type);
  }

  #consume() {
    if (this.#used) throw new TypeError(BODY_USED_MESSAGE);
    const bytes = this.#bytes;
    if (bytes === null) return new Uint8Array(0);
    this.#used = true;
    this.#bytes = null; // the caller now owns the bytes
    return bytes;
  }

  static {
    bodySet = (object, bytes) => {
      object.#bytes = bytes;
      object.#used = false;
    };
    bodyPeek = (object) => object.#bytes;
    bodyIsUsed = (object) => object.#used;
    bodyTake = (object) => object.#consume();
    bodyCloneBytes = (object) => {
      if (object.#used) throw new TypeError(BODY_USED_MESSAGE);
      return object.#bytes === null ? null : copyBytes(object.#bytes);
    };
  }
}
