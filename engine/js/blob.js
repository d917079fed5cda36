// Blob and File (W3C File API). A Blob's bytes never change, so slices and
// copies of a Blob share them.

let blobIs; // (value) -> true for a Blob or File (brand check)
let fileIs; // (value) -> true for a File (brand check)
let blobBytes; // (blob) -> its Uint8Array; shared, never to be modified or handed out
let blobTypeOf; // (blob) -> its type, not through the tenant-writable getter
let blobCreate; // (bytes, type) -> Blob that owns bytes
let fileCreate; // (bytes, name, type, lastModified) -> File that owns bytes

const PRINTABLE_ASCII = /^[\x20-\x7E]*$/;

// The type, if it is printable ASCII, lower-cased; otherwise the empty string.
function blobType(value) {
  const type = toDOMString(value);
  return RegExpPrototypeExec(PRINTABLE_ASCII, type) !== null ? StringPrototypeToLowerCase(type) : '';
}

function blobPartsBytes(parts, endings, what) {
  if (parts === undefined) return new Uint8Array(0);
  if (!isObject(parts) || typeof parts[Symbol.iterator] !== 'function') {
    throw new TypeError(`${what}: the parts must be a sequence`);
  }
  // The parts are the tenant's sequence, iterated as WebIDL says; the list
  // made of them, and the Blobs' shared bytes in it, go through nothing a
  // tenant can replace (prelude.js).
  const chunks = listNew();
  let total = 0;
  for (const part of parts) {
    let bytes;
    if (blobIs(part)) bytes = blobBytes(part);
    else if (isArrayBuffer(part) || ArrayBufferIsView(part)) bytes = copyBytes(part);
    else {
      let text = toUSVString(part);
      if (endings === 'native') text = blobNativeEndings(text);
      bytes = utf8Encode(text);
    }
    listPush(chunks, bytes);
    total += TypedArrayPrototypeGetLength(bytes);
  }
  if (chunks.length === 1) return chunks[0]; // a Blob's bytes may be shared: they never change
  const out = new Uint8Array(total);
  let offset = 0;
  for (let i = 0; i < chunks.length; i++) {
    TypedArrayPrototypeSet(out, chunks[i], offset);
    offset += TypedArrayPrototypeGetLength(chunks[i]);
  }
  return out;
}

// CRLF and CR as LF (endings: "native", as on Linux).
function blobNativeEndings(text) {
  let out = '';
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (StringPrototypeCharCodeAt(text, i) !== 0x0D) continue;
    out += `${StringPrototypeSlice(text, start, i)}\n`;
    if (StringPrototypeCharCodeAt(text, i + 1) === 0x0A) i++;
    start = i + 1;
  }
  return start === 0 ? text : out + StringPrototypeSlice(text, start);
}

function blobOptions(options, what) {
  const { type = '', endings = 'transparent' } = toDictionary(options, what);
  const mode = toDOMString(endings);
  if (mode !== 'transparent' && mode !== 'native') {
    throw new TypeError(`${what}: endings must be "transparent" or "native"`);
  }
  return { type: blobType(type), endings: mode };
}

// Relative index as slice() takes it: negative counts from the end.
function blobIndex(value, size, fallback) {
  if (value === undefined) return fallback;
  const n = MathTrunc(Number(value)) || 0;
  return n < 0 ? MathMax(size + n, 0) : MathMin(n, size);
}

class Blob {
  #bytes = null;
  #type = '';

  constructor(blobParts = undefined, options = undefined) {
    if (blobParts === INTERNAL) return;
    if (blobParts === undefined && options === undefined) { // also File's internal form: see fileCreate
      this.#bytes = new Uint8Array(0);
      return;
    }
    const { type, endings } = blobOptions(options, 'Blob');
    this.#bytes = blobPartsBytes(blobParts, endings, 'Blob');
    this.#type = type;
  }

  get size() {
    return TypedArrayPrototypeGetLength(this.#bytes);
  }

  get type() {
    return this.#type;
  }

  slice(start = undefined, end = undefined, contentType = undefined) {
    const size = TypedArrayPrototypeGetLength(this.#bytes);
    const from = blobIndex(start, size, 0);
    const to = blobIndex(end, size, size);
    return blobCreate(TypedArrayPrototypeSubarray(this.#bytes, from, MathMax(from, to)),
      contentType === undefined ? '' : blobType(contentType));
  }

  async text() {
    return bodyDecode(this.#bytes);
  }

  async arrayBuffer() {
    return TypedArrayPrototypeGetBuffer(copyBytes(this.#bytes));
  }

  async bytes() {
    return copyBytes(this.#bytes);
  }

  // A byte stream of a copy of the bytes, in one piece.
  stream() {
    return readableStreamFromBytes(copyBytes(this.#bytes));
  }

  static {
    blobIs = (value) => isObject(value) && #bytes in value;
    blobBytes = (blob) => blob.#bytes;
    blobTypeOf = (blob) => blob.#type;
    blobCreate = (bytes, type) => {
      const blob = new Blob(INTERNAL);
      blob.#bytes = bytes;
      blob.#type = type;
      return blob;
    };
    fileCreate = (bytes, name, type, lastModified) => {
      const file = new File(INTERNAL, name, lastModified);
      file.#bytes = bytes;
      file.#type = type;
      return file;
    };
  }
}

setToStringTag(Blob.prototype, 'Blob');
defineGlobal('Blob', Blob);

class File extends Blob {
  #name;
  #lastModified;

  constructor(fileBits, fileName, options = undefined) {
    if (fileBits === INTERNAL) {
      super(); // never super(INTERNAL): see Body in body.js; fileCreate fills in the bytes
      this.#name = fileName;
      this.#lastModified = options;
      return;
    }
    requireArgs(arguments.length, 2, 'File');
    super(fileBits, options);
    this.#name = toUSVString(fileName);
    const { lastModified = undefined } = toDictionary(options, 'File');
    this.#lastModified = lastModified === undefined ? DateNow() : MathTrunc(Number(lastModified)) || 0;
  }

  get name() {
    return this.#name;
  }

  get lastModified() {
    return this.#lastModified;
  }

  get webkitRelativePath() {
    void this.#name;
    return '';
  }

  static {
    fileIs = (value) => isObject(value) && #name in value;
    registerInspector('File', (value) => {
      if (!(#name in value)) return undefined;
      return { name: value.#name, size: value.size, type: value.type, lastModified: value.#lastModified };
    });
    registerInspector('Blob', (value) => (blobIs(value) ? { size: value.size, type: value.type } : undefined));
  }
}

setToStringTag(File.prototype, 'File');
defineGlobal('File', File);
