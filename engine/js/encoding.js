// TextEncoder and TextDecoder (WHATWG Encoding), atob and btoa (HTML), and
// the base64 helpers the other built-ins share. TextDecoder knows UTF-8,
// UTF-16LE and windows-1252 (which the Encoding standard also calls latin1,
// ascii and iso-8859-1), as workerd does.

// ---- bytes <-> strings ----

// Turns a list of UTF-16 code units into a string without spreading a huge
// array onto the stack. Through captured intrinsics only: the units are
// the decoder's own (see prelude.js).
const StringFromCharCode = String.fromCharCode;
const StringPrototypeIncludes = uncurryThis(String.prototype.includes);

function codeUnitsToString(units, length = TypedArrayPrototypeGetLength(units)) {
  const CHUNK = 8192;
  if (length <= CHUNK) {
    return ReflectApply(StringFromCharCode, null,
      length === TypedArrayPrototypeGetLength(units) ? units : TypedArrayPrototypeSubarray(units, 0, length));
  }
  let text = '';
  for (let i = 0; i < length; i += CHUNK) {
    text += ReflectApply(StringFromCharCode, null, TypedArrayPrototypeSubarray(units, i, MathMin(i + CHUNK, length)));
  }
  return text;
}

// Every byte becomes the code point of the same value (ISO-8859-1).
function latin1Decode(bytes) {
  return codeUnitsToString(bytes);
}

// The string's code units, each below 256, as bytes.
function latin1Encode(string) {
  const bytes = new Uint8Array(string.length);
  for (let i = 0; i < string.length; i++) bytes[i] = StringPrototypeCharCodeAt(string, i);
  return bytes;
}

// ---- base64 ----

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
let base64Values = null; // char code -> 6-bit value, 64 for '-', 65 for '_', or 255; built on first use

// Everything below reads strings through captured intrinsics only (no
// String.prototype.replace, no RegExp, no array methods): atob() and JWK
// imports run after tenant code that may have replaced any of them.
function base64Table() {
  if (base64Values === null) {
    const table = new Uint8Array(128);
    for (let i = 0; i < 128; i++) table[i] = 255;
    for (let i = 0; i < 64; i++) table[StringPrototypeCharCodeAt(BASE64_ALPHABET, i)] = i;
    table[0x2D] = 64; // '-'
    table[0x5F] = 65; // '_'
    base64Values = table;
  }
  return base64Values;
}

function base64Encode(bytes, url = false) {
  const alphabet = url ? `${StringPrototypeSlice(BASE64_ALPHABET, 0, 62)}-_` : BASE64_ALPHABET;
  const length = TypedArrayPrototypeGetLength(bytes);
  // Built in chunks of 8 KiB: one string of millions of small appends keeps
  // a node per append until it is flattened.
  let out = '';
  let chunk = '';
  let i = 0;
  for (; i + 2 < length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    chunk += alphabet[n >> 18] + alphabet[(n >> 12) & 63] + alphabet[(n >> 6) & 63] + alphabet[n & 63];
    if (chunk.length >= 8192) {
      out += chunk;
      chunk = '';
    }
  }
  out += chunk;
  const rest = length - i;
  if (rest > 0) {
    const n = (bytes[i] << 16) | (rest > 1 ? bytes[i + 1] << 8 : 0);
    out += alphabet[n >> 18] + alphabet[(n >> 12) & 63];
    out += rest > 1 ? alphabet[(n >> 6) & 63] : url ? '' : '=';
    out += url ? '' : '=';
  }
  return out;
}

function isAsciiWhitespace(c) {
  return c === 0x09 || c === 0x0A || c === 0x0C || c === 0x0D || c === 0x20;
}

// HTML's "forgiving-base64 decode": ASCII whitespace is skipped and the
// padding may be left out. Returns null for input that is not base64. With
// url, the alphabet is base64url (RFC 4648 section 5), without whitespace;
// trailing '=' padding is tolerated there too.
function base64Decode(input, url = false) {
  const table = base64Table();
  let end = input.length;
  // Significant characters, and where the padding starts.
  let count = 0;
  for (let i = 0; i < end; i++) {
    const c = StringPrototypeCharCodeAt(input, i);
    if (!url && isAsciiWhitespace(c)) continue;
    count++;
  }
  let padding = 0;
  for (let i = end - 1; i >= 0 && padding < 3; i--) {
    const c = StringPrototypeCharCodeAt(input, i);
    if (!url && isAsciiWhitespace(c)) continue;
    if (c !== 0x3D) break;
    padding++;
    end = i;
  }
  if (padding > 2) return null;
  if (!url && padding > 0 && count % 4 !== 0) return null;
  count -= padding;
  if (count % 4 === 1) return null;
  const bytes = new Uint8Array(MathFloor((count * 3) / 4));
  let length = 0;
  let buffer = 0;
  let bits = 0;
  for (let i = 0; i < end; i++) {
    const c = StringPrototypeCharCodeAt(input, i);
    if (!url && isAsciiWhitespace(c)) continue;
    let value = c < 128 ? table[c] : 255;
    if (value >= 64) {
      // '-' and '_' belong to base64url only, '+' and '/' to base64 only.
      if (!url || value === 255) return null;
      value = value === 64 ? 62 : 63;
    } else if (url && value >= 62) {
      return null;
    }
    buffer = ((buffer << 6) | value) & 0xFFFFFF;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes[length++] = (buffer >> bits) & 0xFF;
    }
  }
  return TypedArrayPrototypeSubarray(bytes, 0, length);
}

function btoa(data) {
  requireArgs(arguments.length, 1, 'btoa');
  const string = toDOMString(data);
  if (RegExpPrototypeExec(/[^\0-\xFF]/, string) !== null) {
    throw new DOMException('The string to be encoded contains characters outside of the Latin1 range.',
      'InvalidCharacterError');
  }
  return base64Encode(latin1Encode(string));
}

function atob(data) {
  requireArgs(arguments.length, 1, 'atob');
  const bytes = base64Decode(toDOMString(data));
  if (bytes === null) throw new DOMException('The string to be decoded is not correctly encoded.', 'InvalidCharacterError');
  return latin1Decode(bytes);
}

defineGlobal('btoa', btoa);
defineGlobal('atob', atob);

// ---- TextEncoder ----

class TextEncoder {
  get encoding() {
    return 'utf-8';
  }

  encode(input = '') {
    return utf8Encode(toUSVString(input));
  }

  // Writes as many whole characters as fit; read counts UTF-16 code units.
  encodeInto(source, destination) {
    requireArgs(arguments.length, 2, 'TextEncoder.encodeInto');
    if (!(destination instanceof Uint8Array)) throw new TypeError('encodeInto: the destination must be a Uint8Array');
    const string = toDOMString(source);
    const bytes = utf8Encode(string);
    if (bytes.length <= destination.length) {
      destination.set(bytes);
      return { read: string.length, written: bytes.length };
    }
    let read = 0;
    let written = 0;
    while (written < bytes.length) {
      const lead = bytes[written];
      const size = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
      if (written + size > destination.length) break;
      written += size;
      read += size === 4 ? 2 : 1;
    }
    destination.set(bytes.subarray(0, written));
    return { read, written };
  }
}

setToStringTag(TextEncoder.prototype, 'TextEncoder');
defineGlobal('TextEncoder', TextEncoder);

// ---- TextDecoder ----

// The labels of windows-1252 (HTMLRewriter reads them in a Content-Type too).
const WINDOWS_1252_LABELS = ['ansi_x3.4-1968', 'ascii', 'cp1252', 'cp819', 'csisolatin1', 'ibm819', 'iso-8859-1',
  'iso-ir-100', 'iso8859-1', 'iso88591', 'iso_8859-1', 'iso_8859-1:1987', 'l1', 'latin1', 'us-ascii',
  'windows-1252', 'x-cp1252'];

// label -> encoding name; built on first use, not when an isolate starts.
let encodingLabels = null;

// Built and read with captured intrinsics and index loops only: a tenant's
// Array iterator, Map methods or String.prototype.replace never see a
// label (the built-ins make TextDecoders of their own: EventSource,
// TextDecoderStream).
function encodingForLabel(label) {
  if (encodingLabels === null) {
    const labels = new Map();
    const add = (name, list) => {
      for (let i = 0; i < list.length; i++) MapPrototypeSet(labels, list[i], name);
    };
    add('utf-8', ['unicode-1-1-utf-8', 'unicode11utf8', 'unicode20utf8', 'utf-8', 'utf8', 'x-unicode20utf8']);
    add('utf-16le', ['csunicode', 'iso-10646-ucs-2', 'ucs-2', 'unicode', 'unicodefeff', 'utf-16', 'utf-16le']);
    add('windows-1252', WINDOWS_1252_LABELS);
    encodingLabels = labels;
  }
  // ASCII whitespace trimmed: tab, LF, FF, CR, space.
  const isSpace = (c) => c === 0x09 || c === 0x0A || c === 0x0C || c === 0x0D || c === 0x20;
  let start = 0;
  let end = label.length;
  while (start < end && isSpace(StringPrototypeCharCodeAt(label, start))) start++;
  while (end > start && isSpace(StringPrototypeCharCodeAt(label, end - 1))) end--;
  return MapPrototypeGet(encodingLabels, StringPrototypeToLowerCase(StringPrototypeSlice(label, start, end)));
}

// windows-1252 bytes 0x80 to 0x9F; the other bytes are their own code point.
const WINDOWS_1252_HIGH = [
  0x20AC, 0x81, 0x201A, 0x192, 0x201E, 0x2026, 0x2020, 0x2021, 0x2C6, 0x2030, 0x160, 0x2039, 0x152, 0x8D, 0x17D, 0x8F,
  0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x2DC, 0x2122, 0x161, 0x203A, 0x153, 0x9D, 0x17E, 0x178,
];

// The length of the longest prefix of bytes[start..end) that is valid UTF-8.
function utf8ValidPrefix(bytes, start, end) {
  let i = start;
  while (i < end) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let size;
    let low = 0x80;
    let high = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) size = 2;
    else if (b >= 0xE0 && b <= 0xEF) {
      size = 3;
      if (b === 0xE0) low = 0xA0;
      else if (b === 0xED) high = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      size = 4;
      if (b === 0xF0) low = 0x90;
      else if (b === 0xF4) high = 0x8F;
    } else return i - start;
    if (i + size > end) return i - start;
    const second = bytes[i + 1];
    if (second < low || second > high) return i - start;
    for (let k = 2; k < size; k++) {
      const c = bytes[i + k];
      if (c < 0x80 || c > 0xBF) return i - start;
    }
    i += size;
  }
  return i - start;
}

// Where an unfinished UTF-8 sequence at the end of bytes starts (bytes.length if none).
// A lead byte always starts a fresh sequence, so holding back from there
// gives the same text as decoding everything at once.
function utf8IncompleteTail(bytes) {
  const end = TypedArrayPrototypeGetLength(bytes);
  for (let i = end - 1; i >= 0 && i >= end - 3; i--) {
    const b = bytes[i];
    if (b < 0x80) return end;
    if (b >= 0xC0) {
      const size = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
      return end - i < size ? i : end;
    }
  }
  return end;
}

class TextDecoder {
  #encoding;
  #fatal;
  #ignoreBOM;
  #pending = null; // bytes held back from the previous streaming call
  #bomSeen = false;

  constructor(label = 'utf-8', options = undefined) {
    const name = encodingForLabel(toDOMString(label));
    if (name === undefined) throw new RangeError(`TextDecoder: the encoding "${label}" is not supported`);
    const { fatal = false, ignoreBOM = false } = toDictionary(options, 'TextDecoder');
    this.#encoding = name;
    this.#fatal = Boolean(fatal);
    this.#ignoreBOM = Boolean(ignoreBOM);
  }

  get encoding() {
    return this.#encoding;
  }

  get fatal() {
    return this.#fatal;
  }

  get ignoreBOM() {
    return this.#ignoreBOM;
  }

  // The decoder's own bytes go through captured intrinsics only (see
  // prelude.js): a tenant's %TypedArray%.prototype getters and methods or
  // String.prototype methods never see them (TextDecoderStream runs here).
  decode(input = undefined, options = undefined) {
    let bytes;
    if (input === undefined || input === null) bytes = new Uint8Array(0);
    else if (isArrayBuffer(input) || ArrayBufferIsView(input)) bytes = viewBytes(input);
    else throw new TypeError('TextDecoder.decode: the input must be an ArrayBuffer or an ArrayBufferView');
    const { stream = false } = toDictionary(options, 'TextDecoder.decode');

    if (this.#pending !== null) {
      const held = TypedArrayPrototypeGetLength(this.#pending);
      const joined = new Uint8Array(held + TypedArrayPrototypeGetLength(bytes));
      TypedArrayPrototypeSet(joined, this.#pending);
      TypedArrayPrototypeSet(joined, bytes, held);
      bytes = joined;
      this.#pending = null;
    }
    if (stream) {
      const length = TypedArrayPrototypeGetLength(bytes);
      const keep = this.#encoding === 'utf-8' ? utf8IncompleteTail(bytes)
        : this.#encoding === 'utf-16le' ? utf16IncompleteTail(bytes) : length;
      if (keep < length) {
        this.#pending = copyBytes(TypedArrayPrototypeSubarray(bytes, keep));
        bytes = TypedArrayPrototypeSubarray(bytes, 0, keep);
      }
    }

    let text;
    try {
      text = this.#decodeBytes(bytes);
    } catch (error) {
      this.#pending = null;
      this.#bomSeen = false;
      throw error;
    }
    if (!this.#bomSeen && text.length > 0) {
      this.#bomSeen = true;
      if (!this.#ignoreBOM && StringPrototypeCharCodeAt(text, 0) === 0xFEFF && this.#encoding !== 'windows-1252') {
        text = StringPrototypeSlice(text, 1);
      }
    }
    if (!stream) {
      this.#bomSeen = false;
    }
    return text;
  }

  #decodeBytes(bytes) {
    const length = TypedArrayPrototypeGetLength(bytes);
    if (length === 0) return '';
    if (this.#encoding === 'utf-8') {
      const text = utf8Decode(bytes);
      // The native decoder replaces bad sequences with U+FFFD; only a text
      // holding one can have come from invalid input.
      if (this.#fatal && StringPrototypeIncludes(text, '\uFFFD') && utf8ValidPrefix(bytes, 0, length) !== length) {
        throw new TypeError('The encoded data was not valid for encoding utf-8');
      }
      return text;
    }
    if (this.#encoding === 'utf-16le') return this.#decodeUtf16(bytes);
    const units = new Uint16Array(length);
    for (let i = 0; i < length; i++) {
      const b = bytes[i];
      units[i] = b >= 0x80 && b < 0xA0 ? WINDOWS_1252_HIGH[b - 0x80] : b;
    }
    return codeUnitsToString(units);
  }

  #decodeUtf16(bytes) {
    const length = TypedArrayPrototypeGetLength(bytes);
    const count = length >> 1;
    const units = new Uint16Array(count + (length & 1));
    for (let i = 0; i < count; i++) units[i] = bytes[2 * i] | (bytes[2 * i + 1] << 8);
    let bad = (length & 1) === 1;
    if (bad) units[count] = 0xFFFD;
    for (let i = 0; i < count; i++) {
      const u = units[i];
      if (u < 0xD800 || u > 0xDFFF) continue;
      if (u <= 0xDBFF && i + 1 < count && units[i + 1] >= 0xDC00 && units[i + 1] <= 0xDFFF) {
        i++;
        continue;
      }
      units[i] = 0xFFFD;
      bad = true;
    }
    if (bad && this.#fatal) throw new TypeError('The encoded data was not valid for encoding utf-16le');
    return codeUnitsToString(units);
  }
}

// An odd last byte, or a lead surrogate waiting for its trail, is held back.
function utf16IncompleteTail(bytes) {
  let keep = TypedArrayPrototypeGetLength(bytes) & ~1;
  if (keep >= 2) {
    const last = bytes[keep - 2] | (bytes[keep - 1] << 8);
    if (last >= 0xD800 && last <= 0xDBFF) keep -= 2;
  }
  return keep;
}

setToStringTag(TextDecoder.prototype, 'TextDecoder');
defineGlobal('TextDecoder', TextDecoder);
