// TextEncoder and TextDecoder (WHATWG Encoding), atob and btoa (HTML), and
// the base64 helpers the other built-ins share. TextDecoder knows UTF-8,
// UTF-16LE/BE, windows-1252 (which the Encoding standard also calls latin1,
// ascii and iso-8859-1), the standard's other single-byte encodings
// (ISO-8859-x, KOI8, windows-125x, ...) and its CJK ones (Shift_JIS, EUC-JP,
// ISO-2022-JP, GBK, gb18030, Big5, EUC-KR; through ICU), as workerd does.

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
    // Captured intrinsics only (prelude.js): the tenant's instanceof, length
    // getter or set() would be handed the encoded bytes, and decide how many
    // are written.
    if (TypedArrayPrototypeGetSymbolToStringTag(destination) !== 'Uint8Array') {
      throw new TypeError('encodeInto: the destination must be a Uint8Array');
    }
    const string = toDOMString(source);
    const bytes = utf8Encode(string);
    const length = TypedArrayPrototypeGetLength(bytes);
    const room = TypedArrayPrototypeGetLength(destination);
    if (length <= room) {
      TypedArrayPrototypeSet(destination, bytes);
      return { read: string.length, written: length };
    }
    let read = 0;
    let written = 0;
    while (written < length) {
      const lead = bytes[written];
      const size = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
      if (written + size > room) break;
      written += size;
      read += size === 4 ? 2 : 1;
    }
    TypedArrayPrototypeSet(destination, TypedArrayPrototypeSubarray(bytes, 0, written));
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

// The other legacy single-byte encodings of the Encoding Standard, as
// Workers decodes them: [name, labels, bytes 0x80 to 0xFF as 128 code units
// (U+FFFD where the index has no code point)], from the standard's
// indexes.json and encodings.json (whatwg/encoding a985b62). C1: the
// control characters U+0080 to U+009F, where the ISO-8859 ones have them.
// The list is made when a first TextDecoder needs the labels, and each
// table when a decoder of its encoding first decodes: as constants they
// took 20 KB of every isolate's snapshot (cold starts, memory).
let singleByteTables = null;
function singleByteEncodings() {
  if (singleByteTables === null) singleByteTables = legacySingleByte();
  return singleByteTables;
}
function legacySingleByte() {
  const C1 = '\u0080\u0081\u0082\u0083\u0084\u0085\u0086\u0087\u0088\u0089\u008A\u008B\u008C\u008D\u008E\u008F' +
    '\u0090\u0091\u0092\u0093\u0094\u0095\u0096\u0097\u0098\u0099\u009A\u009B\u009C\u009D\u009E\u009F';
  // ISO-8859-8 and ISO-8859-8-I (its logical order) share an index.
  const ISO_8859_8 = C1 +
    '\u00A0\uFFFD\u00A2\u00A3\u00A4\u00A5\u00A6\u00A7\u00A8\u00A9\u00D7\u00AB\u00AC\u00AD\u00AE\u00AF' +
    '\u00B0\u00B1\u00B2\u00B3\u00B4\u00B5\u00B6\u00B7\u00B8\u00B9\u00F7\u00BB\u00BC\u00BD\u00BE\uFFFD' +
    '\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD' +
    '\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\u2017' +
    '\u05D0\u05D1\u05D2\u05D3\u05D4\u05D5\u05D6\u05D7\u05D8\u05D9\u05DA\u05DB\u05DC\u05DD\u05DE\u05DF' +
    '\u05E0\u05E1\u05E2\u05E3\u05E4\u05E5\u05E6\u05E7\u05E8\u05E9\u05EA\uFFFD\uFFFD\u200E\u200F\uFFFD';
  return [
    ['ibm866', ['866', 'cp866', 'csibm866', 'ibm866'],
      () => '\u0410\u0411\u0412\u0413\u0414\u0415\u0416\u0417\u0418\u0419\u041A\u041B\u041C\u041D\u041E\u041F' +
      '\u0420\u0421\u0422\u0423\u0424\u0425\u0426\u0427\u0428\u0429\u042A\u042B\u042C\u042D\u042E\u042F' +
      '\u0430\u0431\u0432\u0433\u0434\u0435\u0436\u0437\u0438\u0439\u043A\u043B\u043C\u043D\u043E\u043F' +
      '\u2591\u2592\u2593\u2502\u2524\u2561\u2562\u2556\u2555\u2563\u2551\u2557\u255D\u255C\u255B\u2510' +
      '\u2514\u2534\u252C\u251C\u2500\u253C\u255E\u255F\u255A\u2554\u2569\u2566\u2560\u2550\u256C\u2567' +
      '\u2568\u2564\u2565\u2559\u2558\u2552\u2553\u256B\u256A\u2518\u250C\u2588\u2584\u258C\u2590\u2580' +
      '\u0440\u0441\u0442\u0443\u0444\u0445\u0446\u0447\u0448\u0449\u044A\u044B\u044C\u044D\u044E\u044F' +
      '\u0401\u0451\u0404\u0454\u0407\u0457\u040E\u045E\u00B0\u2219\u00B7\u221A\u2116\u00A4\u25A0\u00A0'],
    ['iso-8859-2', ['csisolatin2', 'iso-8859-2', 'iso-ir-101', 'iso8859-2', 'iso88592', 'iso_8859-2', 'iso_8859-2:1987', 'l2', 'latin2'],
      () => C1 +
      '\u00A0\u0104\u02D8\u0141\u00A4\u013D\u015A\u00A7\u00A8\u0160\u015E\u0164\u0179\u00AD\u017D\u017B' +
      '\u00B0\u0105\u02DB\u0142\u00B4\u013E\u015B\u02C7\u00B8\u0161\u015F\u0165\u017A\u02DD\u017E\u017C' +
      '\u0154\u00C1\u00C2\u0102\u00C4\u0139\u0106\u00C7\u010C\u00C9\u0118\u00CB\u011A\u00CD\u00CE\u010E' +
      '\u0110\u0143\u0147\u00D3\u00D4\u0150\u00D6\u00D7\u0158\u016E\u00DA\u0170\u00DC\u00DD\u0162\u00DF' +
      '\u0155\u00E1\u00E2\u0103\u00E4\u013A\u0107\u00E7\u010D\u00E9\u0119\u00EB\u011B\u00ED\u00EE\u010F' +
      '\u0111\u0144\u0148\u00F3\u00F4\u0151\u00F6\u00F7\u0159\u016F\u00FA\u0171\u00FC\u00FD\u0163\u02D9'],
    ['iso-8859-3', ['csisolatin3', 'iso-8859-3', 'iso-ir-109', 'iso8859-3', 'iso88593', 'iso_8859-3', 'iso_8859-3:1988', 'l3', 'latin3'],
      () => C1 +
      '\u00A0\u0126\u02D8\u00A3\u00A4\uFFFD\u0124\u00A7\u00A8\u0130\u015E\u011E\u0134\u00AD\uFFFD\u017B' +
      '\u00B0\u0127\u00B2\u00B3\u00B4\u00B5\u0125\u00B7\u00B8\u0131\u015F\u011F\u0135\u00BD\uFFFD\u017C' +
      '\u00C0\u00C1\u00C2\uFFFD\u00C4\u010A\u0108\u00C7\u00C8\u00C9\u00CA\u00CB\u00CC\u00CD\u00CE\u00CF' +
      '\uFFFD\u00D1\u00D2\u00D3\u00D4\u0120\u00D6\u00D7\u011C\u00D9\u00DA\u00DB\u00DC\u016C\u015C\u00DF' +
      '\u00E0\u00E1\u00E2\uFFFD\u00E4\u010B\u0109\u00E7\u00E8\u00E9\u00EA\u00EB\u00EC\u00ED\u00EE\u00EF' +
      '\uFFFD\u00F1\u00F2\u00F3\u00F4\u0121\u00F6\u00F7\u011D\u00F9\u00FA\u00FB\u00FC\u016D\u015D\u02D9'],
    ['iso-8859-4', ['csisolatin4', 'iso-8859-4', 'iso-ir-110', 'iso8859-4', 'iso88594', 'iso_8859-4', 'iso_8859-4:1988', 'l4', 'latin4'],
      () => C1 +
      '\u00A0\u0104\u0138\u0156\u00A4\u0128\u013B\u00A7\u00A8\u0160\u0112\u0122\u0166\u00AD\u017D\u00AF' +
      '\u00B0\u0105\u02DB\u0157\u00B4\u0129\u013C\u02C7\u00B8\u0161\u0113\u0123\u0167\u014A\u017E\u014B' +
      '\u0100\u00C1\u00C2\u00C3\u00C4\u00C5\u00C6\u012E\u010C\u00C9\u0118\u00CB\u0116\u00CD\u00CE\u012A' +
      '\u0110\u0145\u014C\u0136\u00D4\u00D5\u00D6\u00D7\u00D8\u0172\u00DA\u00DB\u00DC\u0168\u016A\u00DF' +
      '\u0101\u00E1\u00E2\u00E3\u00E4\u00E5\u00E6\u012F\u010D\u00E9\u0119\u00EB\u0117\u00ED\u00EE\u012B' +
      '\u0111\u0146\u014D\u0137\u00F4\u00F5\u00F6\u00F7\u00F8\u0173\u00FA\u00FB\u00FC\u0169\u016B\u02D9'],
    ['iso-8859-5', ['csisolatincyrillic', 'cyrillic', 'iso-8859-5', 'iso-ir-144', 'iso8859-5', 'iso88595', 'iso_8859-5', 'iso_8859-5:1988'],
      () => C1 +
      '\u00A0\u0401\u0402\u0403\u0404\u0405\u0406\u0407\u0408\u0409\u040A\u040B\u040C\u00AD\u040E\u040F' +
      '\u0410\u0411\u0412\u0413\u0414\u0415\u0416\u0417\u0418\u0419\u041A\u041B\u041C\u041D\u041E\u041F' +
      '\u0420\u0421\u0422\u0423\u0424\u0425\u0426\u0427\u0428\u0429\u042A\u042B\u042C\u042D\u042E\u042F' +
      '\u0430\u0431\u0432\u0433\u0434\u0435\u0436\u0437\u0438\u0439\u043A\u043B\u043C\u043D\u043E\u043F' +
      '\u0440\u0441\u0442\u0443\u0444\u0445\u0446\u0447\u0448\u0449\u044A\u044B\u044C\u044D\u044E\u044F' +
      '\u2116\u0451\u0452\u0453\u0454\u0455\u0456\u0457\u0458\u0459\u045A\u045B\u045C\u00A7\u045E\u045F'],
    ['iso-8859-6', ['arabic', 'asmo-708', 'csiso88596e', 'csiso88596i', 'csisolatinarabic', 'ecma-114', 'iso-8859-6', 'iso-8859-6-e', 'iso-8859-6-i', 'iso-ir-127', 'iso8859-6', 'iso88596', 'iso_8859-6', 'iso_8859-6:1987'],
      () => C1 +
      '\u00A0\uFFFD\uFFFD\uFFFD\u00A4\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\u060C\u00AD\uFFFD\uFFFD' +
      '\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\u061B\uFFFD\uFFFD\uFFFD\u061F' +
      '\uFFFD\u0621\u0622\u0623\u0624\u0625\u0626\u0627\u0628\u0629\u062A\u062B\u062C\u062D\u062E\u062F' +
      '\u0630\u0631\u0632\u0633\u0634\u0635\u0636\u0637\u0638\u0639\u063A\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD' +
      '\u0640\u0641\u0642\u0643\u0644\u0645\u0646\u0647\u0648\u0649\u064A\u064B\u064C\u064D\u064E\u064F' +
      '\u0650\u0651\u0652\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD'],
    ['iso-8859-7', ['csisolatingreek', 'ecma-118', 'elot_928', 'greek', 'greek8', 'iso-8859-7', 'iso-ir-126', 'iso8859-7', 'iso88597', 'iso_8859-7', 'iso_8859-7:1987', 'sun_eu_greek'],
      () => C1 +
      '\u00A0\u2018\u2019\u00A3\u20AC\u20AF\u00A6\u00A7\u00A8\u00A9\u037A\u00AB\u00AC\u00AD\uFFFD\u2015' +
      '\u00B0\u00B1\u00B2\u00B3\u0384\u0385\u0386\u00B7\u0388\u0389\u038A\u00BB\u038C\u00BD\u038E\u038F' +
      '\u0390\u0391\u0392\u0393\u0394\u0395\u0396\u0397\u0398\u0399\u039A\u039B\u039C\u039D\u039E\u039F' +
      '\u03A0\u03A1\uFFFD\u03A3\u03A4\u03A5\u03A6\u03A7\u03A8\u03A9\u03AA\u03AB\u03AC\u03AD\u03AE\u03AF' +
      '\u03B0\u03B1\u03B2\u03B3\u03B4\u03B5\u03B6\u03B7\u03B8\u03B9\u03BA\u03BB\u03BC\u03BD\u03BE\u03BF' +
      '\u03C0\u03C1\u03C2\u03C3\u03C4\u03C5\u03C6\u03C7\u03C8\u03C9\u03CA\u03CB\u03CC\u03CD\u03CE\uFFFD'],
    ['iso-8859-8', ['csiso88598e', 'csisolatinhebrew', 'hebrew', 'iso-8859-8', 'iso-8859-8-e', 'iso-ir-138', 'iso8859-8', 'iso88598', 'iso_8859-8', 'iso_8859-8:1988', 'visual'],
      () => ISO_8859_8],
    ['iso-8859-8-i', ['csiso88598i', 'iso-8859-8-i', 'logical'],
      () => ISO_8859_8],
    ['iso-8859-10', ['csisolatin6', 'iso-8859-10', 'iso-ir-157', 'iso8859-10', 'iso885910', 'l6', 'latin6'],
      () => C1 +
      '\u00A0\u0104\u0112\u0122\u012A\u0128\u0136\u00A7\u013B\u0110\u0160\u0166\u017D\u00AD\u016A\u014A' +
      '\u00B0\u0105\u0113\u0123\u012B\u0129\u0137\u00B7\u013C\u0111\u0161\u0167\u017E\u2015\u016B\u014B' +
      '\u0100\u00C1\u00C2\u00C3\u00C4\u00C5\u00C6\u012E\u010C\u00C9\u0118\u00CB\u0116\u00CD\u00CE\u00CF' +
      '\u00D0\u0145\u014C\u00D3\u00D4\u00D5\u00D6\u0168\u00D8\u0172\u00DA\u00DB\u00DC\u00DD\u00DE\u00DF' +
      '\u0101\u00E1\u00E2\u00E3\u00E4\u00E5\u00E6\u012F\u010D\u00E9\u0119\u00EB\u0117\u00ED\u00EE\u00EF' +
      '\u00F0\u0146\u014D\u00F3\u00F4\u00F5\u00F6\u0169\u00F8\u0173\u00FA\u00FB\u00FC\u00FD\u00FE\u0138'],
    ['iso-8859-13', ['iso-8859-13', 'iso8859-13', 'iso885913'],
      () => C1 +
      '\u00A0\u201D\u00A2\u00A3\u00A4\u201E\u00A6\u00A7\u00D8\u00A9\u0156\u00AB\u00AC\u00AD\u00AE\u00C6' +
      '\u00B0\u00B1\u00B2\u00B3\u201C\u00B5\u00B6\u00B7\u00F8\u00B9\u0157\u00BB\u00BC\u00BD\u00BE\u00E6' +
      '\u0104\u012E\u0100\u0106\u00C4\u00C5\u0118\u0112\u010C\u00C9\u0179\u0116\u0122\u0136\u012A\u013B' +
      '\u0160\u0143\u0145\u00D3\u014C\u00D5\u00D6\u00D7\u0172\u0141\u015A\u016A\u00DC\u017B\u017D\u00DF' +
      '\u0105\u012F\u0101\u0107\u00E4\u00E5\u0119\u0113\u010D\u00E9\u017A\u0117\u0123\u0137\u012B\u013C' +
      '\u0161\u0144\u0146\u00F3\u014D\u00F5\u00F6\u00F7\u0173\u0142\u015B\u016B\u00FC\u017C\u017E\u2019'],
    ['iso-8859-14', ['iso-8859-14', 'iso8859-14', 'iso885914'],
      () => C1 +
      '\u00A0\u1E02\u1E03\u00A3\u010A\u010B\u1E0A\u00A7\u1E80\u00A9\u1E82\u1E0B\u1EF2\u00AD\u00AE\u0178' +
      '\u1E1E\u1E1F\u0120\u0121\u1E40\u1E41\u00B6\u1E56\u1E81\u1E57\u1E83\u1E60\u1EF3\u1E84\u1E85\u1E61' +
      '\u00C0\u00C1\u00C2\u00C3\u00C4\u00C5\u00C6\u00C7\u00C8\u00C9\u00CA\u00CB\u00CC\u00CD\u00CE\u00CF' +
      '\u0174\u00D1\u00D2\u00D3\u00D4\u00D5\u00D6\u1E6A\u00D8\u00D9\u00DA\u00DB\u00DC\u00DD\u0176\u00DF' +
      '\u00E0\u00E1\u00E2\u00E3\u00E4\u00E5\u00E6\u00E7\u00E8\u00E9\u00EA\u00EB\u00EC\u00ED\u00EE\u00EF' +
      '\u0175\u00F1\u00F2\u00F3\u00F4\u00F5\u00F6\u1E6B\u00F8\u00F9\u00FA\u00FB\u00FC\u00FD\u0177\u00FF'],
    ['iso-8859-15', ['csisolatin9', 'iso-8859-15', 'iso8859-15', 'iso885915', 'iso_8859-15', 'l9'],
      () => C1 +
      '\u00A0\u00A1\u00A2\u00A3\u20AC\u00A5\u0160\u00A7\u0161\u00A9\u00AA\u00AB\u00AC\u00AD\u00AE\u00AF' +
      '\u00B0\u00B1\u00B2\u00B3\u017D\u00B5\u00B6\u00B7\u017E\u00B9\u00BA\u00BB\u0152\u0153\u0178\u00BF' +
      '\u00C0\u00C1\u00C2\u00C3\u00C4\u00C5\u00C6\u00C7\u00C8\u00C9\u00CA\u00CB\u00CC\u00CD\u00CE\u00CF' +
      '\u00D0\u00D1\u00D2\u00D3\u00D4\u00D5\u00D6\u00D7\u00D8\u00D9\u00DA\u00DB\u00DC\u00DD\u00DE\u00DF' +
      '\u00E0\u00E1\u00E2\u00E3\u00E4\u00E5\u00E6\u00E7\u00E8\u00E9\u00EA\u00EB\u00EC\u00ED\u00EE\u00EF' +
      '\u00F0\u00F1\u00F2\u00F3\u00F4\u00F5\u00F6\u00F7\u00F8\u00F9\u00FA\u00FB\u00FC\u00FD\u00FE\u00FF'],
    ['iso-8859-16', ['iso-8859-16'],
      () => C1 +
      '\u00A0\u0104\u0105\u0141\u20AC\u201E\u0160\u00A7\u0161\u00A9\u0218\u00AB\u0179\u00AD\u017A\u017B' +
      '\u00B0\u00B1\u010C\u0142\u017D\u201D\u00B6\u00B7\u017E\u010D\u0219\u00BB\u0152\u0153\u0178\u017C' +
      '\u00C0\u00C1\u00C2\u0102\u00C4\u0106\u00C6\u00C7\u00C8\u00C9\u00CA\u00CB\u00CC\u00CD\u00CE\u00CF' +
      '\u0110\u0143\u00D2\u00D3\u00D4\u0150\u00D6\u015A\u0170\u00D9\u00DA\u00DB\u00DC\u0118\u021A\u00DF' +
      '\u00E0\u00E1\u00E2\u0103\u00E4\u0107\u00E6\u00E7\u00E8\u00E9\u00EA\u00EB\u00EC\u00ED\u00EE\u00EF' +
      '\u0111\u0144\u00F2\u00F3\u00F4\u0151\u00F6\u015B\u0171\u00F9\u00FA\u00FB\u00FC\u0119\u021B\u00FF'],
    ['koi8-r', ['cskoi8r', 'koi', 'koi8', 'koi8-r', 'koi8_r'],
      () => '\u2500\u2502\u250C\u2510\u2514\u2518\u251C\u2524\u252C\u2534\u253C\u2580\u2584\u2588\u258C\u2590' +
      '\u2591\u2592\u2593\u2320\u25A0\u2219\u221A\u2248\u2264\u2265\u00A0\u2321\u00B0\u00B2\u00B7\u00F7' +
      '\u2550\u2551\u2552\u0451\u2553\u2554\u2555\u2556\u2557\u2558\u2559\u255A\u255B\u255C\u255D\u255E' +
      '\u255F\u2560\u2561\u0401\u2562\u2563\u2564\u2565\u2566\u2567\u2568\u2569\u256A\u256B\u256C\u00A9' +
      '\u044E\u0430\u0431\u0446\u0434\u0435\u0444\u0433\u0445\u0438\u0439\u043A\u043B\u043C\u043D\u043E' +
      '\u043F\u044F\u0440\u0441\u0442\u0443\u0436\u0432\u044C\u044B\u0437\u0448\u044D\u0449\u0447\u044A' +
      '\u042E\u0410\u0411\u0426\u0414\u0415\u0424\u0413\u0425\u0418\u0419\u041A\u041B\u041C\u041D\u041E' +
      '\u041F\u042F\u0420\u0421\u0422\u0423\u0416\u0412\u042C\u042B\u0417\u0428\u042D\u0429\u0427\u042A'],
    ['koi8-u', ['koi8-ru', 'koi8-u'],
      () => '\u2500\u2502\u250C\u2510\u2514\u2518\u251C\u2524\u252C\u2534\u253C\u2580\u2584\u2588\u258C\u2590' +
      '\u2591\u2592\u2593\u2320\u25A0\u2219\u221A\u2248\u2264\u2265\u00A0\u2321\u00B0\u00B2\u00B7\u00F7' +
      '\u2550\u2551\u2552\u0451\u0454\u2554\u0456\u0457\u2557\u2558\u2559\u255A\u255B\u0491\u045E\u255E' +
      '\u255F\u2560\u2561\u0401\u0404\u2563\u0406\u0407\u2566\u2567\u2568\u2569\u256A\u0490\u040E\u00A9' +
      '\u044E\u0430\u0431\u0446\u0434\u0435\u0444\u0433\u0445\u0438\u0439\u043A\u043B\u043C\u043D\u043E' +
      '\u043F\u044F\u0440\u0441\u0442\u0443\u0436\u0432\u044C\u044B\u0437\u0448\u044D\u0449\u0447\u044A' +
      '\u042E\u0410\u0411\u0426\u0414\u0415\u0424\u0413\u0425\u0418\u0419\u041A\u041B\u041C\u041D\u041E' +
      '\u041F\u042F\u0420\u0421\u0422\u0423\u0416\u0412\u042C\u042B\u0417\u0428\u042D\u0429\u0427\u042A'],
    ['macintosh', ['csmacintosh', 'mac', 'macintosh', 'x-mac-roman'],
      () => '\u00C4\u00C5\u00C7\u00C9\u00D1\u00D6\u00DC\u00E1\u00E0\u00E2\u00E4\u00E3\u00E5\u00E7\u00E9\u00E8' +
      '\u00EA\u00EB\u00ED\u00EC\u00EE\u00EF\u00F1\u00F3\u00F2\u00F4\u00F6\u00F5\u00FA\u00F9\u00FB\u00FC' +
      '\u2020\u00B0\u00A2\u00A3\u00A7\u2022\u00B6\u00DF\u00AE\u00A9\u2122\u00B4\u00A8\u2260\u00C6\u00D8' +
      '\u221E\u00B1\u2264\u2265\u00A5\u00B5\u2202\u2211\u220F\u03C0\u222B\u00AA\u00BA\u03A9\u00E6\u00F8' +
      '\u00BF\u00A1\u00AC\u221A\u0192\u2248\u2206\u00AB\u00BB\u2026\u00A0\u00C0\u00C3\u00D5\u0152\u0153' +
      '\u2013\u2014\u201C\u201D\u2018\u2019\u00F7\u25CA\u00FF\u0178\u2044\u20AC\u2039\u203A\uFB01\uFB02' +
      '\u2021\u00B7\u201A\u201E\u2030\u00C2\u00CA\u00C1\u00CB\u00C8\u00CD\u00CE\u00CF\u00CC\u00D3\u00D4' +
      '\uF8FF\u00D2\u00DA\u00DB\u00D9\u0131\u02C6\u02DC\u00AF\u02D8\u02D9\u02DA\u00B8\u02DD\u02DB\u02C7'],
    ['windows-874', ['dos-874', 'iso-8859-11', 'iso8859-11', 'iso885911', 'tis-620', 'windows-874'],
      () => '\u20AC\u0081\u0082\u0083\u0084\u2026\u0086\u0087\u0088\u0089\u008A\u008B\u008C\u008D\u008E\u008F' +
      '\u0090\u2018\u2019\u201C\u201D\u2022\u2013\u2014\u0098\u0099\u009A\u009B\u009C\u009D\u009E\u009F' +
      '\u00A0\u0E01\u0E02\u0E03\u0E04\u0E05\u0E06\u0E07\u0E08\u0E09\u0E0A\u0E0B\u0E0C\u0E0D\u0E0E\u0E0F' +
      '\u0E10\u0E11\u0E12\u0E13\u0E14\u0E15\u0E16\u0E17\u0E18\u0E19\u0E1A\u0E1B\u0E1C\u0E1D\u0E1E\u0E1F' +
      '\u0E20\u0E21\u0E22\u0E23\u0E24\u0E25\u0E26\u0E27\u0E28\u0E29\u0E2A\u0E2B\u0E2C\u0E2D\u0E2E\u0E2F' +
      '\u0E30\u0E31\u0E32\u0E33\u0E34\u0E35\u0E36\u0E37\u0E38\u0E39\u0E3A\uFFFD\uFFFD\uFFFD\uFFFD\u0E3F' +
      '\u0E40\u0E41\u0E42\u0E43\u0E44\u0E45\u0E46\u0E47\u0E48\u0E49\u0E4A\u0E4B\u0E4C\u0E4D\u0E4E\u0E4F' +
      '\u0E50\u0E51\u0E52\u0E53\u0E54\u0E55\u0E56\u0E57\u0E58\u0E59\u0E5A\u0E5B\uFFFD\uFFFD\uFFFD\uFFFD'],
    ['windows-1250', ['cp1250', 'windows-1250', 'x-cp1250'],
      () => '\u20AC\u0081\u201A\u0083\u201E\u2026\u2020\u2021\u0088\u2030\u0160\u2039\u015A\u0164\u017D\u0179' +
      '\u0090\u2018\u2019\u201C\u201D\u2022\u2013\u2014\u0098\u2122\u0161\u203A\u015B\u0165\u017E\u017A' +
      '\u00A0\u02C7\u02D8\u0141\u00A4\u0104\u00A6\u00A7\u00A8\u00A9\u015E\u00AB\u00AC\u00AD\u00AE\u017B' +
      '\u00B0\u00B1\u02DB\u0142\u00B4\u00B5\u00B6\u00B7\u00B8\u0105\u015F\u00BB\u013D\u02DD\u013E\u017C' +
      '\u0154\u00C1\u00C2\u0102\u00C4\u0139\u0106\u00C7\u010C\u00C9\u0118\u00CB\u011A\u00CD\u00CE\u010E' +
      '\u0110\u0143\u0147\u00D3\u00D4\u0150\u00D6\u00D7\u0158\u016E\u00DA\u0170\u00DC\u00DD\u0162\u00DF' +
      '\u0155\u00E1\u00E2\u0103\u00E4\u013A\u0107\u00E7\u010D\u00E9\u0119\u00EB\u011B\u00ED\u00EE\u010F' +
      '\u0111\u0144\u0148\u00F3\u00F4\u0151\u00F6\u00F7\u0159\u016F\u00FA\u0171\u00FC\u00FD\u0163\u02D9'],
    ['windows-1251', ['cp1251', 'windows-1251', 'x-cp1251'],
      () => '\u0402\u0403\u201A\u0453\u201E\u2026\u2020\u2021\u20AC\u2030\u0409\u2039\u040A\u040C\u040B\u040F' +
      '\u0452\u2018\u2019\u201C\u201D\u2022\u2013\u2014\u0098\u2122\u0459\u203A\u045A\u045C\u045B\u045F' +
      '\u00A0\u040E\u045E\u0408\u00A4\u0490\u00A6\u00A7\u0401\u00A9\u0404\u00AB\u00AC\u00AD\u00AE\u0407' +
      '\u00B0\u00B1\u0406\u0456\u0491\u00B5\u00B6\u00B7\u0451\u2116\u0454\u00BB\u0458\u0405\u0455\u0457' +
      '\u0410\u0411\u0412\u0413\u0414\u0415\u0416\u0417\u0418\u0419\u041A\u041B\u041C\u041D\u041E\u041F' +
      '\u0420\u0421\u0422\u0423\u0424\u0425\u0426\u0427\u0428\u0429\u042A\u042B\u042C\u042D\u042E\u042F' +
      '\u0430\u0431\u0432\u0433\u0434\u0435\u0436\u0437\u0438\u0439\u043A\u043B\u043C\u043D\u043E\u043F' +
      '\u0440\u0441\u0442\u0443\u0444\u0445\u0446\u0447\u0448\u0449\u044A\u044B\u044C\u044D\u044E\u044F'],
    ['windows-1253', ['cp1253', 'windows-1253', 'x-cp1253'],
      () => '\u20AC\u0081\u201A\u0192\u201E\u2026\u2020\u2021\u0088\u2030\u008A\u2039\u008C\u008D\u008E\u008F' +
      '\u0090\u2018\u2019\u201C\u201D\u2022\u2013\u2014\u0098\u2122\u009A\u203A\u009C\u009D\u009E\u009F' +
      '\u00A0\u0385\u0386\u00A3\u00A4\u00A5\u00A6\u00A7\u00A8\u00A9\uFFFD\u00AB\u00AC\u00AD\u00AE\u2015' +
      '\u00B0\u00B1\u00B2\u00B3\u0384\u00B5\u00B6\u00B7\u0388\u0389\u038A\u00BB\u038C\u00BD\u038E\u038F' +
      '\u0390\u0391\u0392\u0393\u0394\u0395\u0396\u0397\u0398\u0399\u039A\u039B\u039C\u039D\u039E\u039F' +
      '\u03A0\u03A1\uFFFD\u03A3\u03A4\u03A5\u03A6\u03A7\u03A8\u03A9\u03AA\u03AB\u03AC\u03AD\u03AE\u03AF' +
      '\u03B0\u03B1\u03B2\u03B3\u03B4\u03B5\u03B6\u03B7\u03B8\u03B9\u03BA\u03BB\u03BC\u03BD\u03BE\u03BF' +
      '\u03C0\u03C1\u03C2\u03C3\u03C4\u03C5\u03C6\u03C7\u03C8\u03C9\u03CA\u03CB\u03CC\u03CD\u03CE\uFFFD'],
    ['windows-1254', ['cp1254', 'csisolatin5', 'iso-8859-9', 'iso-ir-148', 'iso8859-9', 'iso88599', 'iso_8859-9', 'iso_8859-9:1989', 'l5', 'latin5', 'windows-1254', 'x-cp1254'],
      () => '\u20AC\u0081\u201A\u0192\u201E\u2026\u2020\u2021\u02C6\u2030\u0160\u2039\u0152\u008D\u008E\u008F' +
      '\u0090\u2018\u2019\u201C\u201D\u2022\u2013\u2014\u02DC\u2122\u0161\u203A\u0153\u009D\u009E\u0178' +
      '\u00A0\u00A1\u00A2\u00A3\u00A4\u00A5\u00A6\u00A7\u00A8\u00A9\u00AA\u00AB\u00AC\u00AD\u00AE\u00AF' +
      '\u00B0\u00B1\u00B2\u00B3\u00B4\u00B5\u00B6\u00B7\u00B8\u00B9\u00BA\u00BB\u00BC\u00BD\u00BE\u00BF' +
      '\u00C0\u00C1\u00C2\u00C3\u00C4\u00C5\u00C6\u00C7\u00C8\u00C9\u00CA\u00CB\u00CC\u00CD\u00CE\u00CF' +
      '\u011E\u00D1\u00D2\u00D3\u00D4\u00D5\u00D6\u00D7\u00D8\u00D9\u00DA\u00DB\u00DC\u0130\u015E\u00DF' +
      '\u00E0\u00E1\u00E2\u00E3\u00E4\u00E5\u00E6\u00E7\u00E8\u00E9\u00EA\u00EB\u00EC\u00ED\u00EE\u00EF' +
      '\u011F\u00F1\u00F2\u00F3\u00F4\u00F5\u00F6\u00F7\u00F8\u00F9\u00FA\u00FB\u00FC\u0131\u015F\u00FF'],
    ['windows-1255', ['cp1255', 'windows-1255', 'x-cp1255'],
      () => '\u20AC\u0081\u201A\u0192\u201E\u2026\u2020\u2021\u02C6\u2030\u008A\u2039\u008C\u008D\u008E\u008F' +
      '\u0090\u2018\u2019\u201C\u201D\u2022\u2013\u2014\u02DC\u2122\u009A\u203A\u009C\u009D\u009E\u009F' +
      '\u00A0\u00A1\u00A2\u00A3\u20AA\u00A5\u00A6\u00A7\u00A8\u00A9\u00D7\u00AB\u00AC\u00AD\u00AE\u00AF' +
      '\u00B0\u00B1\u00B2\u00B3\u00B4\u00B5\u00B6\u00B7\u00B8\u00B9\u00F7\u00BB\u00BC\u00BD\u00BE\u00BF' +
      '\u05B0\u05B1\u05B2\u05B3\u05B4\u05B5\u05B6\u05B7\u05B8\u05B9\u05BA\u05BB\u05BC\u05BD\u05BE\u05BF' +
      '\u05C0\u05C1\u05C2\u05C3\u05F0\u05F1\u05F2\u05F3\u05F4\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD' +
      '\u05D0\u05D1\u05D2\u05D3\u05D4\u05D5\u05D6\u05D7\u05D8\u05D9\u05DA\u05DB\u05DC\u05DD\u05DE\u05DF' +
      '\u05E0\u05E1\u05E2\u05E3\u05E4\u05E5\u05E6\u05E7\u05E8\u05E9\u05EA\uFFFD\uFFFD\u200E\u200F\uFFFD'],
    ['windows-1256', ['cp1256', 'windows-1256', 'x-cp1256'],
      () => '\u20AC\u067E\u201A\u0192\u201E\u2026\u2020\u2021\u02C6\u2030\u0679\u2039\u0152\u0686\u0698\u0688' +
      '\u06AF\u2018\u2019\u201C\u201D\u2022\u2013\u2014\u06A9\u2122\u0691\u203A\u0153\u200C\u200D\u06BA' +
      '\u00A0\u060C\u00A2\u00A3\u00A4\u00A5\u00A6\u00A7\u00A8\u00A9\u06BE\u00AB\u00AC\u00AD\u00AE\u00AF' +
      '\u00B0\u00B1\u00B2\u00B3\u00B4\u00B5\u00B6\u00B7\u00B8\u00B9\u061B\u00BB\u00BC\u00BD\u00BE\u061F' +
      '\u06C1\u0621\u0622\u0623\u0624\u0625\u0626\u0627\u0628\u0629\u062A\u062B\u062C\u062D\u062E\u062F' +
      '\u0630\u0631\u0632\u0633\u0634\u0635\u0636\u00D7\u0637\u0638\u0639\u063A\u0640\u0641\u0642\u0643' +
      '\u00E0\u0644\u00E2\u0645\u0646\u0647\u0648\u00E7\u00E8\u00E9\u00EA\u00EB\u0649\u064A\u00EE\u00EF' +
      '\u064B\u064C\u064D\u064E\u00F4\u064F\u0650\u00F7\u0651\u00F9\u0652\u00FB\u00FC\u200E\u200F\u06D2'],
    ['windows-1257', ['cp1257', 'windows-1257', 'x-cp1257'],
      () => '\u20AC\u0081\u201A\u0083\u201E\u2026\u2020\u2021\u0088\u2030\u008A\u2039\u008C\u00A8\u02C7\u00B8' +
      '\u0090\u2018\u2019\u201C\u201D\u2022\u2013\u2014\u0098\u2122\u009A\u203A\u009C\u00AF\u02DB\u009F' +
      '\u00A0\uFFFD\u00A2\u00A3\u00A4\uFFFD\u00A6\u00A7\u00D8\u00A9\u0156\u00AB\u00AC\u00AD\u00AE\u00C6' +
      '\u00B0\u00B1\u00B2\u00B3\u00B4\u00B5\u00B6\u00B7\u00F8\u00B9\u0157\u00BB\u00BC\u00BD\u00BE\u00E6' +
      '\u0104\u012E\u0100\u0106\u00C4\u00C5\u0118\u0112\u010C\u00C9\u0179\u0116\u0122\u0136\u012A\u013B' +
      '\u0160\u0143\u0145\u00D3\u014C\u00D5\u00D6\u00D7\u0172\u0141\u015A\u016A\u00DC\u017B\u017D\u00DF' +
      '\u0105\u012F\u0101\u0107\u00E4\u00E5\u0119\u0113\u010D\u00E9\u017A\u0117\u0123\u0137\u012B\u013C' +
      '\u0161\u0144\u0146\u00F3\u014D\u00F5\u00F6\u00F7\u0173\u0142\u015B\u016B\u00FC\u017C\u017E\u02D9'],
    ['windows-1258', ['cp1258', 'windows-1258', 'x-cp1258'],
      () => '\u20AC\u0081\u201A\u0192\u201E\u2026\u2020\u2021\u02C6\u2030\u008A\u2039\u0152\u008D\u008E\u008F' +
      '\u0090\u2018\u2019\u201C\u201D\u2022\u2013\u2014\u02DC\u2122\u009A\u203A\u0153\u009D\u009E\u0178' +
      '\u00A0\u00A1\u00A2\u00A3\u00A4\u00A5\u00A6\u00A7\u00A8\u00A9\u00AA\u00AB\u00AC\u00AD\u00AE\u00AF' +
      '\u00B0\u00B1\u00B2\u00B3\u00B4\u00B5\u00B6\u00B7\u00B8\u00B9\u00BA\u00BB\u00BC\u00BD\u00BE\u00BF' +
      '\u00C0\u00C1\u00C2\u0102\u00C4\u00C5\u00C6\u00C7\u00C8\u00C9\u00CA\u00CB\u0300\u00CD\u00CE\u00CF' +
      '\u0110\u00D1\u0309\u00D3\u00D4\u01A0\u00D6\u00D7\u00D8\u00D9\u00DA\u00DB\u00DC\u01AF\u0303\u00DF' +
      '\u00E0\u00E1\u00E2\u0103\u00E4\u00E5\u00E6\u00E7\u00E8\u00E9\u00EA\u00EB\u0301\u00ED\u00EE\u00EF' +
      '\u0111\u00F1\u0323\u00F3\u00F4\u01A1\u00F6\u00F7\u00F8\u00F9\u00FA\u00FB\u00FC\u01B0\u20AB\u00FF'],
    ['x-mac-cyrillic', ['x-mac-cyrillic', 'x-mac-ukrainian'],
      () => '\u0410\u0411\u0412\u0413\u0414\u0415\u0416\u0417\u0418\u0419\u041A\u041B\u041C\u041D\u041E\u041F' +
      '\u0420\u0421\u0422\u0423\u0424\u0425\u0426\u0427\u0428\u0429\u042A\u042B\u042C\u042D\u042E\u042F' +
      '\u2020\u00B0\u0490\u00A3\u00A7\u2022\u00B6\u0406\u00AE\u00A9\u2122\u0402\u0452\u2260\u0403\u0453' +
      '\u221E\u00B1\u2264\u2265\u0456\u00B5\u0491\u0408\u0404\u0454\u0407\u0457\u0409\u0459\u040A\u045A' +
      '\u0458\u0405\u00AC\u221A\u0192\u2248\u2206\u00AB\u00BB\u2026\u00A0\u040B\u045B\u040C\u045C\u0455' +
      '\u2013\u2014\u201C\u201D\u2018\u2019\u00F7\u201E\u040E\u045E\u040F\u045F\u2116\u0401\u0451\u044F' +
      '\u0430\u0431\u0432\u0433\u0434\u0435\u0436\u0437\u0438\u0439\u043A\u043B\u043C\u043D\u043E\u043F' +
      '\u0440\u0441\u0442\u0443\u0444\u0445\u0446\u0447\u0448\u0449\u044A\u044B\u044C\u044D\u044E\u20AC'],
    ];
}

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
    add('utf-16be', ['unicodefffe', 'utf-16be']);
    add('windows-1252', WINDOWS_1252_LABELS);
    const single = singleByteEncodings();
    for (let i = 0; i < single.length; i++) add(single[i][0], single[i][1]);
    add('x-user-defined', ['x-user-defined']);
    add('gbk', ['chinese', 'csgb2312', 'csiso58gb231280', 'gb2312', 'gb_2312', 'gb_2312-80', 'gbk', 'iso-ir-58',
      'x-gbk']);
    add('gb18030', ['gb18030']);
    add('big5', ['big5', 'big5-hkscs', 'cn-big5', 'csbig5', 'x-x-big5']);
    add('euc-jp', ['cseucpkdfmtjapanese', 'euc-jp', 'x-euc-jp']);
    add('iso-2022-jp', ['csiso2022jp', 'iso-2022-jp']);
    add('shift_jis', ['csshiftjis', 'ms932', 'ms_kanji', 'shift-jis', 'shift_jis', 'sjis', 'windows-31j', 'x-sjis']);
    add('euc-kr', ['cseuckr', 'csksc56011987', 'euc-kr', 'iso-ir-149', 'korean', 'ks_c_5601-1987', 'ks_c_5601-1989',
      'ksc5601', 'ksc_5601', 'windows-949']);
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

// The CJK encodings, decoded natively (ICU): native.decodeLegacy.
function isMultiByteLegacy(name) {
  return name === 'shift_jis' || name === 'euc-jp' || name === 'iso-2022-jp' || name === 'gbk'
    || name === 'gb18030' || name === 'big5' || name === 'euc-kr';
}

// ISO-2022-JP's escape sequences (ESC ( B, ESC ( J, ESC ( I, ESC $ @,
// ESC $ B) switch the mode the bytes after them are read in: the last one
// before end, which a streaming call gives again before the next call's
// bytes (null: none, ASCII).
function lastIso2022JpEscape(bytes, end) {
  for (let i = end - 3; i >= 0; i--) {
    if (bytes[i] !== 0x1B) continue;
    const a = bytes[i + 1];
    const b = bytes[i + 2];
    if ((a === 0x28 && (b === 0x42 || b === 0x4A || b === 0x49)) || (a === 0x24 && (b === 0x40 || b === 0x42))) {
      return copyBytes(TypedArrayPrototypeSubarray(bytes, i, i + 3));
    }
  }
  return null;
}

function joinBytes(first, second) {
  const held = TypedArrayPrototypeGetLength(first);
  const joined = new Uint8Array(held + TypedArrayPrototypeGetLength(second));
  TypedArrayPrototypeSet(joined, first);
  TypedArrayPrototypeSet(joined, second, held);
  return joined;
}

class TextDecoder {
  #encoding;
  #fatal;
  #ignoreBOM;
  #pending = null; // bytes held back from the previous streaming call
  #bomSeen = false;
  #escape = null; // ISO-2022-JP: the escape of the mode a streaming call ended in
  #escapeLast = false; // and whether that call's bytes ended with it

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
    if (isMultiByteLegacy(this.#encoding)) return this.#decodeMultiByte(bytes, Boolean(stream));

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
        : this.#encoding === 'utf-16le' ? utf16IncompleteTail(bytes, false)
          : this.#encoding === 'utf-16be' ? utf16IncompleteTail(bytes, true) : length;
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
      if (!this.#ignoreBOM && StringPrototypeCharCodeAt(text, 0) === 0xFEFF && (this.#encoding === 'utf-8'
          || this.#encoding === 'utf-16le' || this.#encoding === 'utf-16be')) {
        text = StringPrototypeSlice(text, 1);
      }
    }
    if (!stream) {
      this.#bomSeen = false;
    }
    return text;
  }

  // A streaming call keeps the bytes of an unfinished sequence (and, for
  // ISO-2022-JP, the escape of the mode it ended in) for the next one.
  #decodeMultiByte(bytes, stream) {
    let given = this.#pending !== null ? joinBytes(this.#pending, bytes) : bytes;
    // The mode is given first unless the bytes start with an escape of
    // their own (after an invalid one the decoder goes back to the mode;
    // two escapes in a row are an error, so it is given when the last call
    // ended with its escape).
    const escapeLast = this.#escapeLast;
    let prefixed = 0;
    if (this.#escape !== null && (escapeLast || lastIso2022JpEscape(given, 3) === null)) {
      given = joinBytes(this.#escape, given);
      prefixed = 3;
    }
    this.#pending = null;
    this.#escape = null;
    this.#escapeLast = false;
    // a TypeError for invalid bytes when fatal, named as the other decoders do
    const result = native.decodeLegacy(this.#encoding, given, stream, this.#fatal);
    if (!stream) return result[0];
    const decoded = TypedArrayPrototypeGetLength(given) - result[1];
    if (result[1] > 0) this.#pending = copyBytes(TypedArrayPrototypeSubarray(given, decoded));
    if (this.#encoding === 'iso-2022-jp') {
      this.#escape = lastIso2022JpEscape(given, decoded);
      // (the escape given first was not the stream's: the state before it stands)
      this.#escapeLast = decoded === prefixed ? escapeLast
        : decoded >= 3 && lastIso2022JpEscape(TypedArrayPrototypeSubarray(given, decoded - 3), 3) !== null;
    }
    return result[0];
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
    if (this.#encoding === 'utf-16le') return this.#decodeUtf16(bytes, 0, 1);
    if (this.#encoding === 'utf-16be') return this.#decodeUtf16(bytes, 1, 0);
    const units = new Uint16Array(length);
    if (this.#encoding === 'windows-1252') {
      for (let i = 0; i < length; i++) {
        const b = bytes[i];
        units[i] = b >= 0x80 && b < 0xA0 ? WINDOWS_1252_HIGH[b - 0x80] : b;
      }
      return codeUnitsToString(units);
    }
    if (this.#encoding === 'x-user-defined') {
      for (let i = 0; i < length; i++) units[i] = bytes[i] < 0x80 ? bytes[i] : 0xF700 + bytes[i];
      return codeUnitsToString(units);
    }
    let table;
    const single = singleByteEncodings();
    for (let i = 0; i < single.length; i++) {
      if (single[i][0] !== this.#encoding) continue;
      if (typeof single[i][2] === 'function') single[i][2] = single[i][2]();
      table = single[i][2];
    }
    for (let i = 0; i < length; i++) {
      const b = bytes[i];
      units[i] = b < 0x80 ? b : StringPrototypeCharCodeAt(table, b - 0x80);
      if (units[i] === 0xFFFD && this.#fatal) {
        throw new TypeError(`The encoded data was not valid for encoding ${this.#encoding}`);
      }
    }
    return codeUnitsToString(units);
  }

  // UTF-16 with the low byte of each code unit at `low`, the high at `high`.
  #decodeUtf16(bytes, low, high) {
    const length = TypedArrayPrototypeGetLength(bytes);
    const count = length >> 1;
    const units = new Uint16Array(count + (length & 1));
    for (let i = 0; i < count; i++) units[i] = bytes[2 * i + low] | (bytes[2 * i + high] << 8);
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
    if (bad && this.#fatal) throw new TypeError(`The encoded data was not valid for encoding ${this.#encoding}`);
    return codeUnitsToString(units);
  }
}

// An odd last byte, or a lead surrogate waiting for its trail, is held back.
function utf16IncompleteTail(bytes, bigEndian) {
  let keep = TypedArrayPrototypeGetLength(bytes) & ~1;
  if (keep >= 2) {
    const last = bigEndian ? (bytes[keep - 2] << 8) | bytes[keep - 1] : bytes[keep - 2] | (bytes[keep - 1] << 8);
    if (last >= 0xD800 && last <= 0xDBFF) keep -= 2;
  }
  return keep;
}

setToStringTag(TextDecoder.prototype, 'TextDecoder');
defineGlobal('TextDecoder', TextDecoder);
