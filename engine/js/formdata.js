// FormData (WHATWG XHR), and the two encodings a form body comes in:
// multipart/form-data (written for FormData bodies, read by formData()) and
// application/x-www-form-urlencoded (read by formData(); URLSearchParams
// writes it).

let formDataIs; // (value) -> true for a FormData (brand check)
let formDataList; // (formData) -> the internal [name, string or File] list; do not hand it to tenants
let formDataCreate; // ([name, value] list) -> FormData that owns the list

const formDataIterator = iteratorFactory('FormData Iterator');

// Intrinsics captured as the built-ins load (prelude.js): a FormData's list,
// the bytes of a body being parsed or written and the parts' headers go
// through none of what a tenant can replace (Array.prototype.push and
// filter, String.prototype.replace and trim, a File's getters, a Map's
// methods, the Array iterator). The list is a listNew (null prototype).
const StringPrototypeTrim = uncurryThis(String.prototype.trim);
const MapPrototypeHas = uncurryThis(Map.prototype.has);
const TypedArrayPrototypeIndexOf = uncurryThis(TypedArrayPrototype.indexOf);
const FileGetName = uncurryThis(ObjectGetOwnPropertyDescriptor(File.prototype, 'name').get);
const FileGetLastModified = uncurryThis(ObjectGetOwnPropertyDescriptor(File.prototype, 'lastModified').get);

// What a regexp's `.` does not match.
function formDataLineTerminator(c) {
  return c === 0x0A || c === 0x0D || c === 0x2028 || c === 0x2029;
}

// A new list of the entries of list for which keep(entry, index) is true.
function formDataFilter(list, keep) {
  const out = listNew();
  for (let i = 0; i < list.length; i++) if (keep(list[i], i)) listPush(out, list[i]);
  return out;
}

// The index of the first entry named key, or -1.
function formDataFind(list, key) {
  for (let i = 0; i < list.length; i++) if (list[i][0] === key) return i;
  return -1;
}

// text with each place where replace(charCode, index) gives [string,
// length] replaced: those `length` characters by `string` (what
// String.prototype.replace with a regexp does, without the tenant's
// replace or exec).
function formDataReplaceChars(text, replace) {
  let out = '';
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const by = replace(StringPrototypeCharCodeAt(text, i), i);
    if (by === undefined) continue;
    out += StringPrototypeSlice(text, start, i) + by[0];
    i += by[1] - 1;
    start = i + 1;
  }
  return start === 0 ? text : out + StringPrototypeSlice(text, start);
}

// value is a string or a Blob; a Blob becomes a File, named filename if given.
function formDataValue(value, filename, argumentCount, what) {
  if (blobIs(value)) {
    if (filename === undefined && fileIs(value)) return value;
    const name = filename !== undefined ? toUSVString(filename) : fileIs(value) ? FileGetName(value) : 'blob';
    return fileCreate(blobBytes(value), name, blobTypeOf(value), fileIs(value) ? FileGetLastModified(value) : DateNow());
  }
  if (argumentCount > 2) throw new TypeError(`${what}: a file name is only allowed with a Blob value`);
  return toUSVString(value);
}

class FormData {
  #list = listNew();

  constructor(form = undefined) {
    if (form !== undefined) throw new TypeError('FormData: there are no HTML forms here; call it without arguments');
  }

  append(name, value, filename = undefined) {
    requireArgs(arguments.length, 2, 'FormData.append');
    listPush(this.#list, [toUSVString(name), formDataValue(value, filename, arguments.length, 'FormData.append')]);
  }

  delete(name) {
    requireArgs(arguments.length, 1, 'FormData.delete');
    const key = toUSVString(name);
    this.#list = formDataFilter(this.#list, (entry) => entry[0] !== key);
  }

  get(name) {
    requireArgs(arguments.length, 1, 'FormData.get');
    const key = toUSVString(name);
    const first = formDataFind(this.#list, key);
    return first < 0 ? null : this.#list[first][1];
  }

  getAll(name) {
    requireArgs(arguments.length, 1, 'FormData.getAll');
    const key = toUSVString(name);
    const values = listNew();
    for (let i = 0; i < this.#list.length; i++) if (this.#list[i][0] === key) listPush(values, this.#list[i][1]);
    return listToArray(values);
  }

  has(name) {
    requireArgs(arguments.length, 1, 'FormData.has');
    const key = toUSVString(name);
    return formDataFind(this.#list, key) >= 0;
  }

  set(name, value, filename = undefined) {
    requireArgs(arguments.length, 2, 'FormData.set');
    const key = toUSVString(name);
    const entry = [key, formDataValue(value, filename, arguments.length, 'FormData.set')];
    const first = formDataFind(this.#list, key);
    if (first < 0) {
      listPush(this.#list, entry);
    } else {
      this.#list[first] = entry;
      this.#list = formDataFilter(this.#list, (e, i) => i <= first || e[0] !== key);
    }
  }

  forEach(callback, thisArg = undefined) {
    requireArgs(arguments.length, 1, 'FormData.forEach');
    if (typeof callback !== 'function') throw new TypeError('FormData.forEach: callback is not a function');
    for (let i = 0; i < this.#list.length; i++) {
      const entry = this.#list[i];
      ReflectApply(callback, thisArg, [entry[1], entry[0], this]);
    }
  }

  entries() {
    return formDataIterator(() => this.#list, 'entries');
  }

  keys() {
    return formDataIterator(() => this.#list, 'keys');
  }

  values() {
    return formDataIterator(() => this.#list, 'values');
  }

  static {
    formDataIs = (value) => isObject(value) && #list in value;
    formDataList = (formData) => formData.#list;
    formDataCreate = (list) => {
      const formData = new FormData();
      formData.#list = list;
      return formData;
    };
    registerInspector('FormData', (value) => {
      if (!(#list in value)) return undefined;
      const entries = listNew();
      for (let i = 0; i < value.#list.length; i++) listPush(entries, [value.#list[i][0], value.#list[i][1]]);
      return listToArray(entries);
    });
  }
}

setToStringTag(FormData.prototype, 'FormData');
defineIterable(FormData);
defineGlobal('FormData', FormData);

// ---- MIME types ----

const MIME_ESSENCE = /^[^/\s]+\/[^/\s]+$/;

// { essence: 'type/subtype' lower-cased, params: Map of lower-cased name -> value }
// for a Content-Type value, or null if it has no type/subtype.
function mimeTypeParse(value) {
  if (value === null) return null;
  const semicolon = StringPrototypeIndexOf(value, ';');
  const essence = StringPrototypeToLowerCase(StringPrototypeTrim(semicolon < 0 ? value : StringPrototypeSlice(value, 0, semicolon)));
  if (RegExpPrototypeExec(MIME_ESSENCE, essence) === null) return null;
  const params = new Map();
  const pattern = /;\s*([^=;\s]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^;]*)/g;
  pattern.lastIndex = semicolon < 0 ? value.length : semicolon;
  let match;
  while ((match = RegExpPrototypeExec(pattern, value)) !== null) {
    const name = StringPrototypeToLowerCase(match[1]);
    // a quoted string's \x is x
    const param = match[3] !== undefined
      ? formDataReplaceChars(match[3], (c, i) => (c === 0x5C && i + 1 < match[3].length
        && !formDataLineTerminator(StringPrototypeCharCodeAt(match[3], i + 1))
        ? [StringPrototypeSlice(match[3], i + 1, i + 2), 2] : undefined))
      : StringPrototypeTrim(match[2]);
    if (!MapPrototypeHas(params, name)) MapPrototypeSet(params, name, param);
  }
  return { essence, params };
}

// ---- multipart/form-data ----

const CRLF = '\r\n';

// Writing a body: a boundary no form value is likely to contain.
function multipartBoundary() {
  let random = '';
  // Captured intrinsics: the boundary ends up in the Content-Type header.
  for (let i = 0; i < 3; i++) {
    random += StringPrototypePadStart(NumberPrototypeToString(MathFloor(MathRandom() * 2 ** 32), 16), 8, '0');
  }
  return `----formdata-dispatch-${random}`;
}

// HTML's "multipart/form-data encoding algorithm": line breaks become CRLF,
// then a name or file name escapes LF, CR and '"'.
function multipartNewlines(text) {
  return formDataReplaceChars(text, (c, i) => (c === 0x0D
    ? [CRLF, StringPrototypeCharCodeAt(text, i + 1) === 0x0A ? 2 : 1] : c === 0x0A ? [CRLF, 1] : undefined));
}

function multipartEscape(text) {
  return formDataReplaceChars(text, (c) => (c === 0x0A ? ['%0A', 1] : c === 0x0D ? ['%0D', 1] : c === 0x22 ? ['%22', 1] : undefined));
}

// (FormData) -> { bytes, type }
function multipartSerialize(formData) {
  const boundary = multipartBoundary();
  const chunks = listNew();
  let total = 0;
  const add = (bytes) => {
    listPush(chunks, bytes);
    total += TypedArrayPrototypeGetLength(bytes);
  };
  const list = formDataList(formData);
  for (let i = 0; i < list.length; i++) {
    const name = list[i][0];
    const value = list[i][1];
    let head = `--${boundary}${CRLF}Content-Disposition: form-data; name="${multipartEscape(multipartNewlines(name))}"`;
    if (typeof value === 'string') {
      add(utf8Encode(`${head}${CRLF}${CRLF}${multipartNewlines(value)}${CRLF}`));
    } else {
      const type = blobTypeOf(value);
      head += `; filename="${multipartEscape(FileGetName(value))}"${CRLF}`;
      head += `Content-Type: ${type === '' ? 'application/octet-stream' : type}${CRLF}${CRLF}`;
      add(utf8Encode(head));
      add(blobBytes(value));
      add(utf8Encode(CRLF));
    }
  }
  add(utf8Encode(`--${boundary}--${CRLF}`));
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (let i = 0; i < chunks.length; i++) {
    TypedArrayPrototypeSet(bytes, chunks[i], offset);
    offset += TypedArrayPrototypeGetLength(chunks[i]);
  }
  return { bytes, type: `multipart/form-data; boundary=${boundary}` };
}

// Where needle first occurs in bytes at or after from, or -1.
function bytesIndexOf(bytes, needle, from) {
  const first = needle[0];
  const length = TypedArrayPrototypeGetLength(needle);
  const last = TypedArrayPrototypeGetLength(bytes) - length;
  for (let i = TypedArrayPrototypeIndexOf(bytes, first, from); i >= 0 && i <= last;
    i = TypedArrayPrototypeIndexOf(bytes, first, i + 1)) {
    let k = 1;
    while (k < length && bytes[i + k] === needle[k]) k++;
    if (k === length) return i;
  }
  return -1;
}

function multipartFail() {
  return new TypeError('The body is not valid multipart/form-data');
}

// Parameters of a Content-Disposition header of a part.
function multipartDisposition(value) {
  const parsed = mimeTypeParse(`x/${value}`);
  if (parsed === null || parsed.essence !== 'x/form-data') return null;
  return parsed.params;
}

function multipartUnescape(text) {
  return formDataReplaceChars(text, (c, i) => {
    const next = StringPrototypeCharCodeAt(text, i + 1);
    if (c !== 0x25 || i + 2 >= text.length || (next !== 0x30 && next !== 0x32)) return undefined;
    const code = StringPrototypeToUpperCase(StringPrototypeSlice(text, i, i + 3));
    return code === '%0A' ? ['\n', 3] : code === '%0D' ? ['\r', 3]
      : StringPrototypeSlice(text, i, i + 3) === '%22' ? ['"', 3] : undefined;
  });
}

// (bytes, boundary) -> FormData; TypeError if the body is malformed.
function multipartParse(bytes, boundary) {
  if (boundary === undefined || boundary === '' || boundary.length > 200) throw multipartFail();
  const delimiter = utf8Encode(`--${boundary}`);
  const nextDelimiter = utf8Encode(`\r\n--${boundary}`);
  const headerEnd = utf8Encode('\r\n\r\n');
  const list = listNew();

  // The first delimiter may be preceded by a preamble.
  let position = bytesIndexOf(bytes, delimiter, 0);
  if (position < 0 || (position > 0 && (bytes[position - 2] !== 0x0D || bytes[position - 1] !== 0x0A))) {
    throw multipartFail();
  }
  position += TypedArrayPrototypeGetLength(delimiter);
  for (;;) {
    if (bytes[position] === 0x2D && bytes[position + 1] === 0x2D) break; // "--": the last delimiter
    while (bytes[position] === 0x20 || bytes[position] === 0x09) position++; // transport padding
    if (bytes[position] !== 0x0D || bytes[position + 1] !== 0x0A) throw multipartFail();
    position += 2;

    let bodyStart;
    let headerText;
    if (bytes[position] === 0x0D && bytes[position + 1] === 0x0A) {
      headerText = '';
      bodyStart = position + 2;
    } else {
      const end = bytesIndexOf(bytes, headerEnd, position);
      if (end < 0) throw multipartFail();
      headerText = utf8Decode(TypedArrayPrototypeSubarray(bytes, position, end));
      bodyStart = end + 4;
    }
    const bodyEnd = bytesIndexOf(bytes, nextDelimiter, bodyStart);
    if (bodyEnd < 0) throw multipartFail();

    let disposition = null;
    let contentType = '';
    for (let start = 0; start <= headerText.length;) {
      let end = StringPrototypeIndexOf(headerText, CRLF, start);
      if (end < 0) end = headerText.length;
      const line = StringPrototypeSlice(headerText, start, end);
      start = end + 2;
      const colon = StringPrototypeIndexOf(line, ':');
      if (colon < 0) throw multipartFail();
      const name = StringPrototypeToLowerCase(StringPrototypeTrim(StringPrototypeSlice(line, 0, colon)));
      const value = StringPrototypeTrim(StringPrototypeSlice(line, colon + 1));
      if (name === 'content-disposition') disposition = multipartDisposition(value);
      else if (name === 'content-type') contentType = value;
    }
    if (disposition === null || !MapPrototypeHas(disposition, 'name')) throw multipartFail();
    const name = multipartUnescape(MapPrototypeGet(disposition, 'name'));
    const body = TypedArrayPrototypeSubarray(bytes, bodyStart, bodyEnd);
    if (MapPrototypeHas(disposition, 'filename')) {
      listPush(list, [name, fileCreate(copyBytes(body), multipartUnescape(MapPrototypeGet(disposition, 'filename')),
        blobType(contentType), DateNow())]);
    } else {
      listPush(list, [name, utf8Decode(body)]);
    }
    position = bodyEnd + TypedArrayPrototypeGetLength(nextDelimiter);
  }
  return formDataCreate(list);
}

// Body's formData(): bytes and the Content-Type header value (or null).
function formDataFromBody(bytes, contentType) {
  const mime = mimeTypeParse(contentType);
  if (mime !== null && mime.essence === 'multipart/form-data') {
    return multipartParse(bytes, MapPrototypeGet(mime.params, 'boundary'));
  }
  if (mime !== null && mime.essence === 'application/x-www-form-urlencoded') {
    // url.js's urlencoded parser: a list of [name, value], a leading '?' kept.
    return formDataCreate(formParse(bodyDecode(bytes)));
  }
  throw new TypeError('formData() needs a Content-Type of multipart/form-data or application/x-www-form-urlencoded');
}
