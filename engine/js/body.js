// The body shared by Request and Response (the Fetch "Body" mixin). Both
// classes extend Body, as in workerd; Body itself cannot be constructed by
// tenants. A body is held as bytes while it can be (a string, a buffer, a
// Blob, a FormData, a URLSearchParams, a request body that came whole) and
// becomes a ReadableStream only when the script asks for `.body`; a body
// made from a stream is that stream. Either way it is read once.

// Internal access for Request, Response and the request path (dispatch.js).
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

// BODY_READ (what the body is once used): in prelude.js.

// Whether a body is a ReadableStream: anything but none,
// used, or the object's own bytes (always a Uint8Array; a stream is never
// an ArrayBuffer view).
function bodyIsStream(body) {
  return body !== null && body !== BODY_READ && !ArrayBufferIsView(body);
}

// Request and Response each keep their whole state in one record (their one
// private field, #state), its `body` the body: a request into a cold isolate
// pays for each private field an object defines and for each class's field
// initializer, so Body defines none. null: no body; a Uint8Array this object
// owns, while no stream was made of it; BODY_READ: used; else the
// ReadableStream it is (bodyIsStream). Body's methods find the record
// through these (set in request.js and response.js).
let requestBodyState; // (value) -> a Request's record, else undefined
let responseBodyState; // (value) -> a Response's record, else undefined

// The TypeError V8 gives a member of class `owner` that reads private field
// `member` ('#body'), or with member null calls a private method, on a value
// without it: Request's, Response's and Body's members each had a field or
// method of their own, and throw as they did now that one record holds all.
function privateBrandError(value, owner, member) {
  if (value === undefined || value === null) {
    return new TypeError(`Cannot read properties of ${value} (reading '${member === null ? owner : member}')`);
  }
  return new TypeError(member === null ? `Receiver must be an instance of class ${owner}`
    : `Cannot read private member ${member} from an object whose class did not declare it`);
}

// The record of a Request or Response; else the TypeError reading Body's
// own field gave when it had one.
function bodyState(object) {
  const state = requestBodyState(object);
  if (state !== undefined) return state;
  const other = responseBodyState(object);
  if (other !== undefined) return other;
  throw privateBrandError(object, 'Body', '#body');
}

function bodyIsUsedIn(state) {
  const body = state.body;
  return body === BODY_READ || (bodyIsStream(body) && readableStreamIsDisturbed(body));
}

// The whole body, boxed (bodyBox), or a promise of it: a stream is read to
// its end.
function bodyConsume(object) {
  const state = requestBodyState(object) ?? responseBodyState(object);
  if (state === undefined) throw privateBrandError(object, 'Body', null); // was a private method's
  if (bodyIsUsedIn(state)) throw new TypeError(BODY_USED_MESSAGE);
  const body = state.body;
  if (body === null) return bodyBox(new Uint8Array(0));
  if (bodyIsStream(body)) {
    if (readableStreamIsLocked(body)) throw new TypeError(BODY_LOCKED_MESSAGE);
    return bodyReadStream(body);
  }
  state.body = BODY_READ; // the caller now owns the bytes
  return bodyBox(body);
}

// The prototype Request and Response inherit from (as in Workers). Their
// constructors never call this one: they are base classes whose prototypes
// are set to Body's afterwards (inheritBody), so making one is one call, not
// two (each call into an isolate's cold code costs), and no constructor a
// tenant sets with Object.setPrototypeOf(Request, F) is ever called.
class Body {
  constructor() {
    throw new TypeError('Illegal constructor');
  }

  get body() {
    const state = bodyState(this);
    const body = state.body;
    if (body === null || body === BODY_READ) return null;
    if (bodyIsStream(body)) return body;
    const stream = readableStreamFromBytes(body);
    state.body = stream;
    return stream;
  }

  get bodyUsed() {
    return bodyIsUsedIn(bodyState(this));
  }

  async arrayBuffer() {
    return exactBuffer(bodyUnbox(await bodyConsume(this)));
  }

  async text() {
    return bodyDecode(bodyUnbox(await bodyConsume(this)));
  }

  async json() {
    return parseTenantJson(bodyDecode(bodyUnbox(await bodyConsume(this))));
  }

  async bytes() {
    const bytes = bodyUnbox(await bodyConsume(this));
    return isWholeBuffer(bytes) ? bytes : copyBytes(bytes);
  }

  async blob() {
    const type = this.headers.get('content-type');
    return blobCreate(bodyUnbox(await bodyConsume(this)), type === null ? '' : blobType(type));
  }

  async formData() {
    const type = this.headers.get('content-type');
    return formDataFromBody(bodyUnbox(await bodyConsume(this)), type);
  }
}

bodyIsUsed = (object) => bodyIsUsedIn(bodyState(object));
bodyPeek = (object) => {
  const body = bodyState(object).body;
  return body !== null && body !== BODY_READ && !bodyIsStream(body) ? body : null;
};
bodyStream = (object) => {
  const body = bodyState(object).body;
  return bodyIsStream(body) ? body : null;
};
bodyMove = (target, source) => {
  const from = bodyState(source);
  if (bodyIsUsedIn(from)) throw new TypeError(BODY_USED_MESSAGE);
  const body = from.body;
  if (bodyIsStream(body) && readableStreamIsLocked(body)) throw new TypeError(BODY_LOCKED_MESSAGE);
  bodyState(target).body = body;
  from.body = BODY_READ;
};
bodyClone = (target, source) => {
  const from = bodyState(source);
  if (bodyIsUsedIn(from)) throw new TypeError(BODY_USED_MESSAGE);
  const body = from.body;
  if (bodyIsStream(body)) {
    if (readableStreamIsLocked(body)) throw new TypeError(BODY_LOCKED_MESSAGE);
    const branches = readableStreamTee(body);
    from.body = branches[0];
    bodyState(target).body = branches[1];
  } else {
    bodyState(target).body = body === null ? null : copyBytes(body); // not BODY_READ: checked above
  }
};

// On every response sent: undefined once used, null for no body or a
// stream not yet read, else the bytes.
function bodyUnreadIn(state) {
  const body = state.body;
  if (body === null) return null;
  if (body === BODY_READ) return undefined;
  if (ArrayBufferIsView(body)) return body;
  return readableStreamIsDisturbed(body) ? undefined : null;
}

// Request and Response: Body's subclasses in all but their constructors
// (see Body).
function inheritBody(constructor) {
  ObjectSetPrototypeOf(constructor, Body);
  ObjectSetPrototypeOf(constructor.prototype, Body.prototype);
}
