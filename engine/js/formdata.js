// FormData (WHATWG XHR), and the two encodings a form body comes in:
// multipart/form-data (written for FormData bodies, read by formData()) and
// application/x-www-form-urlencoded (read by formData(); URLSearchParams
// writes it).

let formDataIs; // (value) -> true for a FormData (brand check)
let formDataList; // (formData) -> the internal [name, string or File] list; do not hand it to tenants
let formDataCreate; // ([name, value] list) -> FormData that owns the list

const formDataIterator = iteratorFactory('FormData Iterator');

// value is a string or a Blob; a Blob becomes a File, named filename if given.
function formDataValue(value, filename, argumentCount, what) {
  if (blobIs(value)) {
    if (filename === undefined && fileIs(value)) return value;
    const name = filename !== undefined ? toUSVString(filename) : fileIs(value) ? value.name : 'blob';
    return fileCreate(blobBytes(value), name, value.type, fileIs(value) ? value.lastModified : DateNow());
  }
  if (argumentCount > 2) throw new TypeError(`${what}: a file name is only allowed with a Blob value`);
  return toUSVString(value);
}

class FormData {
  #list = [];

  constructor(form = undefined) {
    if (form !== undefined) throw new TypeError('FormData: there are no HTML forms here; call it without arguments');
  }

  append(name, value, filename = undefined) {
    requireArgs(arguments.length, 2, 'FormData.append');
    this.#list.push([toUSVString(name), formDataValue(value, filename, arguments.length, 'FormData.append')]);
  }

  delete(name) {
    requireArgs(arguments.length, 1, 'FormData.delete');
    const key = toUSVString(name);
    this.#list = this.#list.filter((entry) => entry[0] !== key);
  }

  get(name) {
    requireArgs(arguments.length, 1, 'FormData.get');
    const key = toUSVString(name);
    const entry = this.#list.find((e) => e[0] === key);
    return entry === undefined ? null : entry[1];
  }

  getAll(name) {
    requireArgs(arguments.length, 1, 'FormData.getAll');
    const key = toUSVString(name);
    return this.#list.filter((entry) => entry[0] === key).map((entry) => entry[1]);
  }

  has(name) {
    requireArgs(arguments.length, 1, 'FormData.has');
    const key = toUSVString(name);
    return this.#list.some((entry) => entry[0] === key);
  }

  set(name, value, filename = undefined) {
    requireArgs(arguments.length, 2, 'FormData.set');
    const key = toUSVString(name);
    const entry = [key, formDataValue(value, filename, arguments.length, 'FormData.set')];
    const first = this.#list.findIndex((e) => e[0] === key);
    if (first < 0) {
      this.#list.push(entry);
    } else {
      this.#list[first] = entry;
      this.#list = this.#list.filter((e, i) => i <= first || e[0] !== key);
    }
  }

  forEach(callback, thisArg = undefined) {
    requireArgs(arguments.length, 1, 'FormData.forEach');
    if (typeof callback !== 'function') throw new TypeError('FormData.forEach: callback is not a function');
    for (let i = 0; i < this.#list.length; i++) {
      const [name, value] = this.#list[i];
      Reflect.apply(callback, thisArg, [value, name, this]);
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
    registerInspector('FormData', (value) => (#list in value ? value.#list.map((entry) => [...entry]) : undefined));
  }
}

setToStringTag(FormData.prototype, 'FormData');
defineIterable(FormData);
defineGlobal('FormData', FormData);

// ---- MIME types ----

// { essence: 'type/subtype' lower-cased, params: Map of lower-cased name -> value }
// for a Content-Type value, or null if it has no type/subtype.
function mimeTypeParse(value) {
  if (value === null) return null;
  const semicolon = value.indexOf(';');
  const essence = (semicolon < 0 ? value : value.slice(0, semicolon)).trim().toLowerCase();
  if (!/^[^/\s]+\/[^/\s]+$/.test(essence)) return null;
  const params = new Map();
  const pattern = /;\s*([^=;\s]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^;]*)/g;
  pattern.lastIndex = semicolon < 0 ? value.length : semicolon;
  let match;
  while ((match = pattern.exec(value)) !== null) {
    const name = match[1].toLowerCase();
    const param = match[3] !== undefined ? match[3].replace(/\\(.)/g, '$1') : match[2].trim();
    if (!params.has(name)) params.set(name, param);
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
  return text.replace(/\r\n|\r|\n/g, CRLF);
}

function multipartEscape(text) {
  return text.replace(/\n/g, '%0A').replace(/\r/g, '%0D').replace(/"/g, '%22');
}

// (FormData) -> { bytes, type }
function multipartSerialize(formData) {
  const boundary = multipartBoundary();
  const chunks = [];
  let total = 0;
  const add = (bytes) => {
    chunks.push(bytes);
    total += bytes.length;
  };
  for (const [name, value] of formDataList(formData)) {
    let head = `--${boundary}${CRLF}Content-Disposition: form-data; name="${multipartEscape(multipartNewlines(name))}"`;
    if (typeof value === 'string') {
      add(utf8Encode(`${head}${CRLF}${CRLF}${multipartNewlines(value)}${CRLF}`));
    } else {
      head += `; filename="${multipartEscape(value.name)}"${CRLF}`;
      head += `Content-Type: ${value.type === '' ? 'application/octet-stream' : value.type}${CRLF}${CRLF}`;
      add(utf8Encode(head));
      add(blobBytes(value));
      add(utf8Encode(CRLF));
    }
  }
  add(utf8Encode(`--${boundary}--${CRLF}`));
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return { bytes, type: `multipart/form-data; boundary=${boundary}` };
}

// Where needle first occurs in bytes at or after from, or -1.
function bytesIndexOf(bytes, needle, from) {
  const first = needle[0];
  const last = bytes.length - needle.length;
  for (let i = bytes.indexOf(first, from); i >= 0 && i <= last; i = bytes.indexOf(first, i + 1)) {
    let k = 1;
    while (k < needle.length && bytes[i + k] === needle[k]) k++;
    if (k === needle.length) return i;
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
  return text.replace(/%0A/gi, '\n').replace(/%0D/gi, '\r').replace(/%22/g, '"');
}

// (bytes, boundary) -> FormData; TypeError if the body is malformed.
function multipartParse(bytes, boundary) {
  if (boundary === undefined || boundary === '' || boundary.length > 200) throw multipartFail();
  const delimiter = utf8Encode(`--${boundary}`);
  const nextDelimiter = utf8Encode(`\r\n--${boundary}`);
  const headerEnd = utf8Encode('\r\n\r\n');
  const list = [];

  // The first delimiter may be preceded by a preamble.
  let position = bytesIndexOf(bytes, delimiter, 0);
  if (position < 0 || (position > 0 && (bytes[position - 2] !== 0x0D || bytes[position - 1] !== 0x0A))) {
    throw multipartFail();
  }
  position += delimiter.length;
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
      headerText = utf8Decode(bytes.subarray(position, end));
      bodyStart = end + 4;
    }
    const bodyEnd = bytesIndexOf(bytes, nextDelimiter, bodyStart);
    if (bodyEnd < 0) throw multipartFail();

    let disposition = null;
    let contentType = '';
    for (const line of headerText.split(CRLF)) {
      const colon = line.indexOf(':');
      if (colon < 0) throw multipartFail();
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-disposition') disposition = multipartDisposition(value);
      else if (name === 'content-type') contentType = value;
    }
    if (disposition === null || !disposition.has('name')) throw multipartFail();
    const name = multipartUnescape(disposition.get('name'));
    const body = bytes.subarray(bodyStart, bodyEnd);
    if (disposition.has('filename')) {
      list.push([name, fileCreate(body.slice(), multipartUnescape(disposition.get('filename')), blobType(contentType),
        DateNow())]);
    } else {
      list.push([name, utf8Decode(body)]);
    }
    position = bodyEnd + nextDelimiter.length;
  }
  return formDataCreate(list);
}

// Body's formData(): bytes and the Content-Type header value (or null).
function formDataFromBody(bytes, contentType) {
  const mime = mimeTypeParse(contentType);
  if (mime !== null && mime.essence === 'multipart/form-data') {
    return multipartParse(bytes, mime.params.get('boundary'));
  }
  if (mime !== null && mime.essence === 'application/x-www-form-urlencoded') {
    const list = [];
    const text = bodyDecode(bytes);
    // The URLSearchParams constructor would drop a leading '?'; the form parser keeps it.
    for (const [name, value] of new URLSearchParams(text.startsWith('?') ? `&${text}` : text)) {
      list.push([name, value]);
    }
    return formDataCreate(list);
  }
  throw new TypeError('formData() needs a Content-Type of multipart/form-data or application/x-www-form-urlencoded');
}
