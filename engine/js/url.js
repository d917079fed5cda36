// URL and URLSearchParams: the WHATWG URL Standard (https://url.spec.whatwg.org/)
// as Cloudflare Workers exposes it. The parser is the standard's state machine
// ("basic URL parser"), with the standard's names for states, sets and steps,
// so it can be read side by side with the text. Two liberties, both
// unobservable:
//   * the "buffer" of the states that collect one is not built code point by
//     code point: it is always a stretch of the input, input[bufferStart,
//     pointer), sliced (and percent-encoded) when the state is done with it;
//   * the states that would only append to a buffer or to the URL jump to the
//     next code point that matters (a delimiter) in one step.
// The input is iterated by UTF-16 code unit: every code point the parser
// looks at is ASCII, and slices only ever end at ASCII delimiters, so a
// surrogate pair is never split.
//
// A URL record is { scheme, username, password, host, port, path, query,
// fragment }: host is null or the serialised host (a domain, "1.2.3.4",
// "[::1]", an opaque host, or "" for the empty host); port is null or a
// number; path is an array of segments, or a string for an opaque path
// ("mailto:x"); query and fragment are null or strings. Every component is
// kept percent-encoded, as the standard keeps them.

// ---- code points ----

const CP_EOF = -1;
const CP_SPACE = 0x20;
const CP_HASH = 0x23; // #
const CP_PERCENT = 0x25; // %
const CP_PLUS = 0x2B; // +
const CP_MINUS = 0x2D; // -
const CP_DOT = 0x2E; // .
const CP_SLASH = 0x2F; // /
const CP_COLON = 0x3A; // :
const CP_QUESTION = 0x3F; // ?
const CP_AT = 0x40; // @
const CP_LEFT_BRACKET = 0x5B; // [
const CP_BACKSLASH = 0x5C; // \
const CP_RIGHT_BRACKET = 0x5D; // ]
const CP_PIPE = 0x7C; // |

function urlIsASCIIDigit(c) {
  return c >= 0x30 && c <= 0x39;
}

function urlIsASCIIAlpha(c) {
  return (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A;
}

function urlIsASCIIAlphanumeric(c) {
  return urlIsASCIIDigit(c) || urlIsASCIIAlpha(c);
}

// -1 if c is not an ASCII hex digit.
function urlHexValue(c) {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x57 : -1;
}

const URL_NON_ASCII = /[^\0-\x7F]/;
const ASCII_DIGITS = /^[0-9]+$/;
// Captured as prelude.js captures its own (see there): the state machine
// runs after the tenant's code may have replaced them.
const ArrayPrototypePop = uncurryThis(Array.prototype.pop);
const NumberIsNaN = Number.isNaN;

// ---- percent-encoding ----

// A percent-encode set as a table indexed by ASCII code: 1 means "encode".
// Every set contains all code points above U+007E, so non-ASCII is always
// encoded and needs no entry.
function percentEncodeSet(base, extra) {
  const set = base.slice();
  for (const char of extra) set[char.charCodeAt(0)] = 1;
  return set;
}

const C0_CONTROL_SET = new Uint8Array(128).map((_, c) => (c < 0x20 || c === 0x7F ? 1 : 0));
const FRAGMENT_SET = percentEncodeSet(C0_CONTROL_SET, ' "<>`');
const QUERY_SET = percentEncodeSet(C0_CONTROL_SET, ' "#<>');
const SPECIAL_QUERY_SET = percentEncodeSet(QUERY_SET, "'");
const PATH_SET = percentEncodeSet(QUERY_SET, '?^`{}');
const USERINFO_SET = percentEncodeSet(PATH_SET, '/:;=@[\\]|');
const COMPONENT_SET = percentEncodeSet(USERINFO_SET, '$%&+,');
const FORM_SET = percentEncodeSet(COMPONENT_SET, "!'()~"); // application/x-www-form-urlencoded

const HEX_DIGITS = '0123456789ABCDEF';

function percentByte(byte) {
  return `%${HEX_DIGITS[byte >> 4]}${HEX_DIGITS[byte & 15]}`;
}

// "UTF-8 percent-encode" each code point of input that is in set. A lone
// surrogate (which USVString conversion normally removes) is encoded as
// U+FFFD, as UTF-8 encode would. spaceAsPlus: the urlencoded serializer's
// U+0020 -> "+".
function percentEncode(input, set, spaceAsPlus = false) {
  let out = '';
  let start = 0; // input[start, i) is copied as it is
  const length = input.length;
  for (let i = 0; i < length; i++) {
    const c = StringPrototypeCharCodeAt(input, i);
    if (c < 0x80) {
      if (set[c] === 0) continue;
      out += StringPrototypeSlice(input, start, i);
      out += c === CP_SPACE && spaceAsPlus ? '+' : percentByte(c);
    } else {
      out += StringPrototypeSlice(input, start, i);
      let codePoint = c;
      if (c >= 0xD800 && c <= 0xDFFF) {
        const next = StringPrototypeCharCodeAt(input, i + 1);
        if (c <= 0xDBFF && next >= 0xDC00 && next <= 0xDFFF) {
          codePoint = 0x10000 + ((c - 0xD800) << 10) + (next - 0xDC00);
          i++;
        } else {
          codePoint = 0xFFFD;
        }
      }
      if (codePoint < 0x800) {
        out += percentByte(0xC0 | (codePoint >> 6)) + percentByte(0x80 | (codePoint & 63));
      } else if (codePoint < 0x10000) {
        out += percentByte(0xE0 | (codePoint >> 12)) + percentByte(0x80 | ((codePoint >> 6) & 63))
          + percentByte(0x80 | (codePoint & 63));
      } else {
        out += percentByte(0xF0 | (codePoint >> 18)) + percentByte(0x80 | ((codePoint >> 12) & 63))
          + percentByte(0x80 | ((codePoint >> 6) & 63)) + percentByte(0x80 | (codePoint & 63));
      }
    }
    start = i + 1;
  }
  return start === 0 ? input : out + StringPrototypeSlice(input, start);
}

// "percent-decode" the UTF-8 encoding of input, then "UTF-8 decode without
// BOM" (bad sequences become U+FFFD). Only runs of %XX triplets are turned
// into bytes and decoded: a literal code point encodes to whole UTF-8
// sequences that start with a lead byte, so decoding the runs on their own
// gives exactly what decoding all the bytes at once would.
function percentDecode(input) {
  let i = StringPrototypeIndexOf(input, '%');
  if (i < 0) return input;
  let out = '';
  let start = 0; // input[start, i) is literal text not yet copied
  const length = input.length;
  while (i >= 0 && i + 2 < length) {
    const high = urlHexValue(StringPrototypeCharCodeAt(input, i + 1));
    const low = high < 0 ? -1 : urlHexValue(StringPrototypeCharCodeAt(input, i + 2));
    if (low < 0) {
      i = StringPrototypeIndexOf(input, '%', i + 1);
      continue;
    }
    out += StringPrototypeSlice(input, start, i);
    // the run of triplets starting here
    const bytes = listNew();
    let ascii = true;
    while (i + 2 < length && StringPrototypeCharCodeAt(input, i) === CP_PERCENT) {
      const h = urlHexValue(StringPrototypeCharCodeAt(input, i + 1));
      const l = h < 0 ? -1 : urlHexValue(StringPrototypeCharCodeAt(input, i + 2));
      if (l < 0) break;
      const byte = h * 16 + l;
      if (byte >= 0x80) ascii = false;
      listPush(bytes, byte);
      i += 3;
    }
    // (a list has no @@iterator: Uint8Array reads it as an array-like)
    out += ascii && bytes.length <= 256 ? ReflectApply(StringFromCharCode, null, bytes) : utf8Decode(new Uint8Array(bytes));
    start = i;
    i = StringPrototypeIndexOf(input, '%', i);
  }
  return out + StringPrototypeSlice(input, start);
}

// ---- application/x-www-form-urlencoded ----

// input[start, end) with each "+" a space, then percent-decoded.
function formDecode(input, start, end) {
  let out = '';
  let from = start; // input[from, i) is copied as it is
  for (let i = start; i < end; i++) {
    if (StringPrototypeCharCodeAt(input, i) === CP_PLUS) {
      out += `${StringPrototypeSlice(input, from, i)} `;
      from = i + 1;
    }
  }
  return percentDecode(from === start ? StringPrototypeSlice(input, start, end) : out + StringPrototypeSlice(input, from, end));
}

// The urlencoded parser: a list (listNew) of [name, value], in one pass.
function formParse(input) {
  const list = listNew();
  const length = input.length;
  let start = 0; // of the current sequence
  let equals = -1; // its first '=', if any
  for (let i = 0; i <= length; i++) {
    const c = i < length ? StringPrototypeCharCodeAt(input, i) : CP_EOF;
    if (c === 0x3D && equals < 0) { // =
      equals = i;
    } else if (c === 0x26 || c === CP_EOF) { // & or the end
      if (i > start) {
        listPush(list, equals < 0 ? [formDecode(input, start, i), '']
          : [formDecode(input, start, equals), formDecode(input, equals + 1, i)]);
      }
      start = i + 1;
      equals = -1;
    }
  }
  return list;
}

// The urlencoded serializer.
function formSerialize(list) {
  let out = '';
  for (let i = 0; i < list.length; i++) {
    if (i > 0) out += '&';
    out += `${percentEncode(list[i][0], FORM_SET, true)}=${percentEncode(list[i][1], FORM_SET, true)}`;
  }
  return out;
}

// ---- hosts ----

// Forbidden host code points: U+0000, TAB, LF, CR, SPACE, # / : < > ? @ [ \ ] ^ |.
const FORBIDDEN_HOST = new Uint8Array(128);
for (const char of '\0\t\n\r #/:<>?@[\\]^|') FORBIDDEN_HOST[char.charCodeAt(0)] = 1;
// Forbidden domain code points: those, the C0 controls, % and DEL.
const FORBIDDEN_DOMAIN = FORBIDDEN_HOST.map((v, c) => (v || c < 0x20 || c === CP_PERCENT || c === 0x7F ? 1 : 0));

function containsForbidden(string, table) {
  for (let i = 0; i < string.length; i++) {
    const c = StringPrototypeCharCodeAt(string, i);
    if (c < 0x80 && table[c] === 1) return true;
  }
  return false;
}

// The IPv4 number parser: a number, or NaN for failure.
function parseIPv4Number(input) {
  if (input === '') return NaN;
  let radix = 10;
  if (input.length >= 2 && input[0] === '0' && (input[1] === 'x' || input[1] === 'X')) {
    input = StringPrototypeSlice(input, 2);
    radix = 16;
  } else if (input.length >= 2 && input[0] === '0') {
    input = StringPrototypeSlice(input, 1);
    radix = 8;
  }
  if (input === '') return 0;
  const digits = radix === 10 ? /^[0-9]+$/ : radix === 16 ? /^[0-9A-Fa-f]+$/ : /^[0-7]+$/;
  return RegExpPrototypeExec(digits, input) !== null ? NumberParseInt(input, radix) : NaN;
}

// "ends in a number": the last label (ignoring one trailing dot) is all digits
// or parses as an IPv4 number ("0x1F", "017"). Either way it starts with an
// ASCII digit, which keeps the usual "example.com" to one comparison.
function endsInANumber(domain) {
  let end = domain.length;
  if (end > 0 && StringPrototypeCharCodeAt(domain, end - 1) === CP_DOT) end--;
  if (end === 0) return false;
  let start = end;
  while (start > 0 && StringPrototypeCharCodeAt(domain, start - 1) !== CP_DOT) start--;
  if (start === end || !urlIsASCIIDigit(StringPrototypeCharCodeAt(domain, start))) return false;
  const last = StringPrototypeSlice(domain, start, end);
  return RegExpPrototypeExec(ASCII_DIGITS, last) !== null || !NumberIsNaN(parseIPv4Number(last));
}

// Is domain already a serialised IPv4 address ("127.0.0.1": four decimal
// parts of at most 255, without leading zeros)? Then it is its own parse.
function isSerializedIPv4(domain) {
  let parts = 0;
  let value = -1; // the current part, -1 before its first digit
  for (let i = 0; i < domain.length; i++) {
    const c = StringPrototypeCharCodeAt(domain, i);
    if (c === CP_DOT) {
      if (value < 0 || ++parts > 3) return false;
      value = -1;
    } else if (urlIsASCIIDigit(c) && value !== 0) {
      value = value < 0 ? c - 0x30 : value * 10 + c - 0x30;
      if (value > 255) return false;
    } else {
      return false;
    }
  }
  return parts === 3 && value >= 0;
}

// The IPv4 parser: the address as a number, or null for failure.
function parseIPv4(input) {
  // input split at '.', without one empty last part
  const parts = listNew();
  let from = 0;
  for (let dot = StringPrototypeIndexOf(input, '.'); dot >= 0; dot = StringPrototypeIndexOf(input, '.', from)) {
    listPush(parts, StringPrototypeSlice(input, from, dot));
    from = dot + 1;
  }
  if (from < input.length || parts.length === 0) listPush(parts, StringPrototypeSlice(input, from));
  if (parts.length > 4) return null;
  const numbers = listNew();
  for (let i = 0; i < parts.length; i++) {
    const number = parseIPv4Number(parts[i]);
    if (NumberIsNaN(number)) return null;
    listPush(numbers, number);
  }
  const last = numbers.length - 1;
  for (let i = 0; i < last; i++) {
    if (numbers[i] > 255) return null;
  }
  if (numbers[last] >= 256 ** (4 - last)) return null;
  let ipv4 = numbers[last];
  for (let i = 0; i < last; i++) ipv4 += numbers[i] * 256 ** (3 - i);
  return ipv4;
}

function serializeIPv4(address) {
  return `${address >>> 24}.${(address >>> 16) & 255}.${(address >>> 8) & 255}.${address & 255}`;
}

// The IPv6 parser: eight 16-bit pieces, or null for failure.
function parseIPv6(input) {
  const address = [0, 0, 0, 0, 0, 0, 0, 0];
  const length = input.length;
  let pieceIndex = 0;
  let compress = null;
  let pointer = 0;
  const at = (i) => (i < length ? StringPrototypeCharCodeAt(input, i) : CP_EOF);
  if (at(pointer) === CP_COLON) {
    if (at(pointer + 1) !== CP_COLON) return null;
    pointer += 2;
    compress = ++pieceIndex;
  }
  while (at(pointer) !== CP_EOF) {
    if (pieceIndex === 8) return null;
    if (at(pointer) === CP_COLON) {
      if (compress !== null) return null;
      pointer++;
      compress = ++pieceIndex;
      continue;
    }
    let value = 0;
    let digits = 0;
    while (digits < 4 && urlHexValue(at(pointer)) >= 0) {
      value = value * 0x10 + urlHexValue(at(pointer));
      pointer++;
      digits++;
    }
    if (at(pointer) === CP_DOT) { // an IPv4 address in the last two pieces: "::ffff:1.2.3.4"
      if (digits === 0) return null;
      pointer -= digits;
      if (pieceIndex > 6) return null;
      let numbersSeen = 0;
      while (at(pointer) !== CP_EOF) {
        let ipv4Piece = null;
        if (numbersSeen > 0) {
          if (at(pointer) === CP_DOT && numbersSeen < 4) pointer++;
          else return null;
        }
        if (!urlIsASCIIDigit(at(pointer))) return null;
        while (urlIsASCIIDigit(at(pointer))) {
          const number = at(pointer) - 0x30;
          if (ipv4Piece === null) ipv4Piece = number;
          else if (ipv4Piece === 0) return null; // no leading zeros
          else ipv4Piece = ipv4Piece * 10 + number;
          if (ipv4Piece > 255) return null;
          pointer++;
        }
        address[pieceIndex] = address[pieceIndex] * 0x100 + ipv4Piece;
        numbersSeen++;
        if (numbersSeen === 2 || numbersSeen === 4) pieceIndex++;
      }
      if (numbersSeen !== 4) return null;
      break;
    } else if (at(pointer) === CP_COLON) {
      pointer++;
      if (at(pointer) === CP_EOF) return null;
    } else if (at(pointer) !== CP_EOF) {
      return null;
    }
    address[pieceIndex++] = value;
  }
  if (compress !== null) {
    let swaps = pieceIndex - compress;
    pieceIndex = 7;
    while (pieceIndex !== 0 && swaps > 0) {
      const other = compress + swaps - 1;
      const swapped = address[pieceIndex];
      address[pieceIndex] = address[other];
      address[other] = swapped;
      pieceIndex--;
      swaps--;
    }
  } else if (pieceIndex !== 8) {
    return null;
  }
  return address;
}

// The IPv6 serializer: the first longest run of two or more 0 pieces is "::".
function serializeIPv6(address) {
  let compress = null;
  let longest = 1;
  for (let i = 0; i < 8;) {
    let end = i;
    while (end < 8 && address[end] === 0) end++;
    if (end - i > longest) {
      compress = i;
      longest = end - i;
    }
    i = end === i ? i + 1 : end;
  }
  let output = '';
  for (let i = 0; i < 8; i++) {
    if (i === compress) {
      output += i === 0 ? '::' : ':';
      i += longest - 1;
      continue;
    }
    output += NumberPrototypeToString(address[i], 16);
    if (i !== 7) output += ':';
  }
  return output;
}

// The opaque-host parser (hosts of non-special URLs), or null for failure.
function parseOpaqueHost(input) {
  if (containsForbidden(input, FORBIDDEN_HOST)) return null;
  return percentEncode(input, C0_CONTROL_SET);
}

// UTS #46 has changed since the ICU the engine links (Debian 12: ICU 72,
// Unicode 15.0): from Unicode 15.1 these code points, which ICU 72 rejects or
// maps differently, are mapped (or ignored, '') as below. Mapping them first
// gives the current result with any ICU, old or new: every target is valid
// in all versions. (U+1806, now valid, cannot be fixed this way; code points
// assigned after Unicode 15.0 are unknown to ICU 72 and still fail.)
const UTS46_UPDATES = new Map([
  [0x04C0, 0x04CF], [0x1E9E, 0x00DF], [0x2132, 0x214E], [0x2183, 0x2184],
  [0x2F868, 0x36FC], [0x2F874, 0x5F53], [0x2F91F, 0x243AB], [0x2F95F, 0x7AEE], [0x2F9BF, 0x45D7],
  ...Array.from({ length: 0x26 }, (_, i) => [0x10A0 + i, 0x2D00 + i]), // Georgian capitals
  ...[0x115F, 0x1160, 0x17B4, 0x17B5, 0x180E, 0x2061, 0x2062, 0x2063, 0x206A, 0x206B, 0x206C,
    0x206D, 0x206E, 0x206F, 0x3164, 0xFFA0, 0x1D173, 0x1D174, 0x1D175, 0x1D176, 0x1D177,
    0x1D178, 0x1D179, 0x1D17A].map((c) => [c, null]),
]);
const UTS46_UPDATED = /[\u04C0\u10A0-\u10C5\u115F\u1160\u17B4\u17B5\u180E\u1E9E\u2061-\u2063\u206A-\u206F\u2132\u2183\u3164\uFFA0]|\uD834[\uDD73-\uDD7A]|\uD87E[\uDC68\uDC74\uDD1F\uDD5F\uDDBF]/g;

function uts46Update(domain) {
  return domain.replace(UTS46_UPDATED, (char) => {
    const target = UTS46_UPDATES.get(char.codePointAt(0));
    return target === null ? '' : String.fromCodePoint(target);
  });
}

// Without the engine's IDNA native (older engines): NFC, lower case and
// Punycode, which is right for the common scripts but is not UTS #46.
function punycodeDigit(d) {
  return String.fromCharCode(d < 26 ? 97 + d : 22 + d);
}

function punycodeAdapt(delta, points, first) {
  delta = first ? Math.floor(delta / 700) : delta >> 1;
  delta += Math.floor(delta / points);
  let k = 0;
  for (; delta > 455; k += 36) delta = Math.floor(delta / 35);
  return k + Math.floor((36 * delta) / (delta + 38));
}

// RFC 3492 encoding of one label (without the "xn--" prefix).
function punycodeEncode(label) {
  const codePoints = Array.from(label, (char) => char.codePointAt(0));
  let out = codePoints.filter((c) => c < 0x80).map((c) => String.fromCharCode(c)).join('');
  const basic = out.length;
  if (basic > 0) out += '-';
  let n = 128;
  let delta = 0;
  let bias = 72;
  for (let handled = basic; handled < codePoints.length; n++, delta++) {
    const next = Math.min(...codePoints.filter((c) => c >= n));
    delta += (next - n) * (handled + 1);
    n = next;
    for (const c of codePoints) {
      if (c < n) delta++;
      if (c !== n) continue;
      let q = delta;
      for (let k = 36; ; k += 36) {
        const t = k <= bias ? 1 : k >= bias + 26 ? 26 : k - bias;
        if (q < t) break;
        out += punycodeDigit(t + ((q - t) % (36 - t)));
        q = Math.floor((q - t) / (36 - t));
      }
      out += punycodeDigit(q);
      bias = punycodeAdapt(delta, handled + 1, handled === basic);
      delta = 0;
      handled++;
    }
  }
  return out;
}

function domainToASCIIWithoutIDNA(domain) {
  if (domain.includes('\uFFFD')) return null;
  return domain.normalize('NFC').toLowerCase().replace(/[\u3002\uFF0E\uFF61]/g, '.').split('.')
    .map((label) => (URL_NON_ASCII.test(label) ? `xn--${punycodeEncode(label)}` : label))
    .join('.');
}

// "domain to ASCII" with beStrict false: the ASCII string, or null for
// failure. An all-ASCII domain is only lower-cased, without a native call and
// without validating its "xn--" labels (urltestdata.json and toascii.json
// expect "xn--a" and "https://xn--/" to parse as written). Any other goes to
// UTS #46 ToASCII (ICU, through native.domainToASCII).
function domainToASCII(domain) {
  if (RegExpPrototypeExec(URL_NON_ASCII, domain) === null) return StringPrototypeToLowerCase(domain);
  const result = typeof native.domainToASCII === 'function'
    ? native.domainToASCII(uts46Update(domain), false)
    : domainToASCIIWithoutIDNA(domain);
  return result === null || result === '' ? null : result;
}

// The host parser: the serialised host, or null for failure. isOpaque: the
// URL is not special.
function parseHost(input, isOpaque) {
  if (StringPrototypeCharCodeAt(input, 0) === CP_LEFT_BRACKET) {
    if (StringPrototypeCharCodeAt(input, input.length - 1) !== CP_RIGHT_BRACKET) return null;
    const address = parseIPv6(StringPrototypeSlice(input, 1, -1));
    return address === null ? null : `[${serializeIPv6(address)}]`;
  }
  if (isOpaque) return parseOpaqueHost(input);
  const domain = percentDecode(input);
  const asciiDomain = domainToASCII(domain);
  if (asciiDomain === null || containsForbidden(asciiDomain, FORBIDDEN_DOMAIN)) return null;
  if (endsInANumber(asciiDomain)) {
    if (isSerializedIPv4(asciiDomain)) return asciiDomain;
    const address = parseIPv4(asciiDomain);
    return address === null ? null : serializeIPv4(address);
  }
  return asciiDomain;
}

// ---- URL records ----

// The special schemes and their default ports.
function isSpecialScheme(scheme) {
  switch (scheme) {
    case 'http': case 'https': case 'file': case 'ftp': case 'ws': case 'wss': return true;
    default: return false;
  }
}

function urlDefaultPort(scheme) {
  switch (scheme) {
    case 'ftp': return 21;
    case 'http': case 'ws': return 80;
    case 'https': case 'wss': return 443;
    default: return null;
  }
}

// The path is a list (listNew) while the state machine grows it: a push on
// an ordinary array would run a setter the tenant put on Array.prototype.
function newURLRecord() {
  return { scheme: '', username: '', password: '', host: null, port: null, path: listNew(), query: null, fragment: null };
}

// A copy of a record's path that the state machine may grow.
function urlPathCopy(path) {
  const copy = listNew();
  for (let i = 0; i < path.length; i++) listPush(copy, path[i]);
  return copy;
}

function hasOpaquePath(url) {
  return typeof url.path === 'string';
}

function includesCredentials(url) {
  return url.username !== '' || url.password !== '';
}

// username, password and port exist only with a non-empty host, and not for file:.
function cannotHaveUsernamePasswordPort(url) {
  return url.host === null || url.host === '' || url.scheme === 'file';
}

// "C:" or "C|"
function isWindowsDriveLetter(string) {
  return string.length === 2 && urlIsASCIIAlpha(StringPrototypeCharCodeAt(string, 0))
    && (StringPrototypeCharCodeAt(string, 1) === CP_COLON || StringPrototypeCharCodeAt(string, 1) === CP_PIPE);
}

function isNormalizedWindowsDriveLetter(string) {
  return string.length === 2 && urlIsASCIIAlpha(StringPrototypeCharCodeAt(string, 0)) && StringPrototypeCharCodeAt(string, 1) === CP_COLON;
}

// Does input[pointer..] start with a Windows drive letter followed by the end
// or one of / \ ? #?
function startsWithWindowsDriveLetter(input, pointer) {
  const remaining = input.length - pointer;
  if (remaining < 2 || !isWindowsDriveLetter(StringPrototypeSlice(input, pointer, pointer + 2))) return false;
  if (remaining === 2) return true;
  const c = StringPrototypeCharCodeAt(input, pointer + 2);
  return c === CP_SLASH || c === CP_BACKSLASH || c === CP_QUESTION || c === CP_HASH;
}

function isSingleDotSegment(segment) {
  return segment === '.' || (segment.length === 3 && StringPrototypeToLowerCase(segment) === '%2e');
}

function isDoubleDotSegment(segment) {
  switch (segment.length) {
    case 2: return segment === '..';
    case 4: {
      const lower = StringPrototypeToLowerCase(segment);
      return lower === '.%2e' || lower === '%2e.';
    }
    case 6: return StringPrototypeToLowerCase(segment) === '%2e%2e';
    default: return false;
  }
}

// "shorten a URL's path": drops the last segment, but never a file: URL's
// drive letter.
function shortenPath(url) {
  const { path } = url;
  if (url.scheme === 'file' && path.length === 1 && isNormalizedWindowsDriveLetter(path[0])) return;
  ArrayPrototypePop(path);
}

// Removes leading and trailing C0 controls and spaces.
function trimControlAndSpace(input) {
  let start = 0;
  let end = input.length;
  while (start < end && StringPrototypeCharCodeAt(input, start) <= CP_SPACE) start++;
  while (end > start && StringPrototypeCharCodeAt(input, end - 1) <= CP_SPACE) end--;
  return start === 0 && end === input.length ? input : StringPrototypeSlice(input, start, end);
}

const TAB_OR_NEWLINE = /[\t\n\r]/;

function removeTabAndNewline(input) {
  let out = '';
  let from = 0; // input[from, i) is copied as it is
  for (let i = 0; i < input.length; i++) {
    const c = StringPrototypeCharCodeAt(input, i);
    if (c === 0x09 || c === 0x0A || c === 0x0D) {
      out += StringPrototypeSlice(input, from, i);
      from = i + 1;
    }
  }
  return out + StringPrototypeSlice(input, from);
}

// The states of the basic URL parser.
const SCHEME_START_STATE = 1;
const SCHEME_STATE = 2;
const NO_SCHEME_STATE = 3;
const SPECIAL_RELATIVE_OR_AUTHORITY_STATE = 4;
const PATH_OR_AUTHORITY_STATE = 5;
const RELATIVE_STATE = 6;
const RELATIVE_SLASH_STATE = 7;
const SPECIAL_AUTHORITY_SLASHES_STATE = 8;
const SPECIAL_AUTHORITY_IGNORE_SLASHES_STATE = 9;
const AUTHORITY_STATE = 10;
const HOST_STATE = 11;
const HOSTNAME_STATE = 12;
const PORT_STATE = 13;
const FILE_STATE = 14;
const FILE_SLASH_STATE = 15;
const FILE_HOST_STATE = 16;
const PATH_START_STATE = 17;
const PATH_STATE = 18;
const OPAQUE_PATH_STATE = 19;
const QUERY_STATE = 20;
const FRAGMENT_STATE = 21;

// The basic URL parser. Without url: parses input (against base, a URL
// record or null) and returns a new URL record, or null for failure. With url
// and stateOverride (the setters): modifies url in place and returns null
// where the standard returns failure (the setters ignore that).
function basicURLParse(input, base = null, url = null, stateOverride = 0) {
  if (url === null) {
    const fast = fastURLParse(input, true);
    if (fast !== null) return fast;
    url = newURLRecord();
    input = trimControlAndSpace(input);
  }
  if (RegExpPrototypeExec(TAB_OR_NEWLINE, input) !== null) input = removeTabAndNewline(input);

  const length = input.length;
  let state = stateOverride || SCHEME_START_STATE;
  let special = isSpecialScheme(url.scheme);
  let bufferStart = 0; // the buffer is input[bufferStart, pointer)
  let atSignSeen = false;
  let insideBrackets = false;
  let passwordTokenSeen = false;
  let pointer = 0;

  for (;;) {
    let c = pointer < length ? StringPrototypeCharCodeAt(input, pointer) : CP_EOF;
    switch (state) {
      case SCHEME_START_STATE:
        if (urlIsASCIIAlpha(c)) {
          state = SCHEME_STATE;
          bufferStart = pointer;
        } else if (!stateOverride) {
          state = NO_SCHEME_STATE;
          pointer--;
        } else {
          return null;
        }
        break;

      case SCHEME_STATE:
        if (urlIsASCIIAlphanumeric(c) || c === CP_PLUS || c === CP_MINUS || c === CP_DOT) {
          // the scheme goes on
        } else if (c === CP_COLON) {
          const buffer = StringPrototypeToLowerCase(StringPrototypeSlice(input, bufferStart, pointer));
          const bufferIsSpecial = isSpecialScheme(buffer);
          if (stateOverride) {
            // The protocol setter cannot move a URL between special and
            // non-special (they serialise differently), nor make a file: URL
            // of one with credentials or a port, nor change a file: URL with
            // an empty host.
            if (special !== bufferIsSpecial) return url;
            if ((includesCredentials(url) || url.port !== null) && buffer === 'file') return url;
            if (url.scheme === 'file' && url.host === '') return url;
          }
          url.scheme = buffer;
          special = bufferIsSpecial;
          if (stateOverride) {
            if (url.port === urlDefaultPort(url.scheme)) url.port = null;
            return url;
          }
          if (url.scheme === 'file') {
            state = FILE_STATE;
          } else if (special && base !== null && base.scheme === url.scheme) {
            state = SPECIAL_RELATIVE_OR_AUTHORITY_STATE; // "http:foo" against an http: base is relative
          } else if (special) {
            state = SPECIAL_AUTHORITY_SLASHES_STATE;
          } else if (StringPrototypeCharCodeAt(input, pointer + 1) === CP_SLASH) {
            state = PATH_OR_AUTHORITY_STATE;
            pointer++;
          } else {
            url.path = '';
            state = OPAQUE_PATH_STATE;
          }
        } else if (!stateOverride) {
          state = NO_SCHEME_STATE; // not a scheme after all: start over
          pointer = -1;
        } else {
          return null;
        }
        break;

      case NO_SCHEME_STATE:
        if (base === null || (hasOpaquePath(base) && c !== CP_HASH)) return null;
        if (hasOpaquePath(base)) { // and c is '#'
          url.scheme = base.scheme;
          url.path = base.path;
          url.query = base.query;
          url.fragment = '';
          state = FRAGMENT_STATE;
        } else if (base.scheme !== 'file') {
          state = RELATIVE_STATE;
          pointer--;
        } else {
          state = FILE_STATE;
          pointer--;
        }
        break;

      case SPECIAL_RELATIVE_OR_AUTHORITY_STATE:
        if (c === CP_SLASH && StringPrototypeCharCodeAt(input, pointer + 1) === CP_SLASH) {
          state = SPECIAL_AUTHORITY_IGNORE_SLASHES_STATE;
          pointer++;
        } else {
          state = RELATIVE_STATE;
          pointer--;
        }
        break;

      case PATH_OR_AUTHORITY_STATE:
        if (c === CP_SLASH) {
          state = AUTHORITY_STATE;
          bufferStart = pointer + 1;
        } else {
          state = PATH_STATE;
          pointer--;
          bufferStart = pointer + 1;
        }
        break;

      case RELATIVE_STATE:
        url.scheme = base.scheme;
        special = isSpecialScheme(url.scheme);
        if (c === CP_SLASH || (special && c === CP_BACKSLASH)) {
          state = RELATIVE_SLASH_STATE;
        } else {
          url.username = base.username;
          url.password = base.password;
          url.host = base.host;
          url.port = base.port;
          url.path = urlPathCopy(base.path);
          url.query = base.query;
          if (c === CP_QUESTION) {
            url.query = '';
            state = QUERY_STATE;
            bufferStart = pointer + 1;
          } else if (c === CP_HASH) {
            url.fragment = '';
            state = FRAGMENT_STATE;
          } else if (c !== CP_EOF) {
            url.query = null;
            shortenPath(url);
            state = PATH_STATE;
            pointer--;
            bufferStart = pointer + 1;
          }
        }
        break;

      case RELATIVE_SLASH_STATE:
        if (special && (c === CP_SLASH || c === CP_BACKSLASH)) {
          state = SPECIAL_AUTHORITY_IGNORE_SLASHES_STATE;
        } else if (c === CP_SLASH) {
          state = AUTHORITY_STATE;
          bufferStart = pointer + 1;
        } else {
          url.username = base.username;
          url.password = base.password;
          url.host = base.host;
          url.port = base.port;
          state = PATH_STATE;
          pointer--;
          bufferStart = pointer + 1;
        }
        break;

      case SPECIAL_AUTHORITY_SLASHES_STATE:
        state = SPECIAL_AUTHORITY_IGNORE_SLASHES_STATE;
        if (c === CP_SLASH && StringPrototypeCharCodeAt(input, pointer + 1) === CP_SLASH) pointer++;
        else pointer--;
        break;

      case SPECIAL_AUTHORITY_IGNORE_SLASHES_STATE:
        if (c !== CP_SLASH && c !== CP_BACKSLASH) {
          state = AUTHORITY_STATE;
          pointer--;
          bufferStart = pointer + 1;
        }
        break;

      case AUTHORITY_STATE:
        // Skip to the next '@' or end of the authority.
        while (c !== CP_EOF && c !== CP_AT && c !== CP_SLASH && c !== CP_QUESTION && c !== CP_HASH
               && !(special && c === CP_BACKSLASH)) {
          c = ++pointer < length ? StringPrototypeCharCodeAt(input, pointer) : CP_EOF;
        }
        if (c === CP_AT) {
          // What came before is userinfo; with several '@' the earlier ones
          // belong to it too ("%40"), and the first ':' ends the username.
          let buffer = StringPrototypeSlice(input, bufferStart, pointer);
          if (atSignSeen) buffer = `%40${buffer}`;
          atSignSeen = true;
          if (passwordTokenSeen) {
            url.password += percentEncode(buffer, USERINFO_SET);
          } else {
            const colon = StringPrototypeIndexOf(buffer, ':');
            if (colon < 0) {
              url.username += percentEncode(buffer, USERINFO_SET);
            } else {
              passwordTokenSeen = true;
              url.username += percentEncode(StringPrototypeSlice(buffer, 0, colon), USERINFO_SET);
              url.password += percentEncode(StringPrototypeSlice(buffer, colon + 1), USERINFO_SET);
            }
          }
          bufferStart = pointer + 1;
        } else {
          // The end of the authority: parse what follows the last '@' as host.
          if (atSignSeen && bufferStart === pointer) return null; // "http://user@/"
          pointer = bufferStart - 1;
          state = HOST_STATE;
        }
        break;

      case HOST_STATE:
      case HOSTNAME_STATE:
        if (stateOverride && url.scheme === 'file') {
          pointer--;
          state = FILE_HOST_STATE;
          bufferStart = pointer + 1;
          break;
        }
        // Skip to the next ':' outside brackets or the end of the host.
        while (c !== CP_EOF && c !== CP_SLASH && c !== CP_QUESTION && c !== CP_HASH && !(special && c === CP_BACKSLASH)
               && !(c === CP_COLON && !insideBrackets)) {
          if (c === CP_LEFT_BRACKET) insideBrackets = true;
          else if (c === CP_RIGHT_BRACKET) insideBrackets = false;
          c = ++pointer < length ? StringPrototypeCharCodeAt(input, pointer) : CP_EOF;
        }
        if (c === CP_COLON) {
          if (bufferStart === pointer) return null;
          if (stateOverride === HOSTNAME_STATE) return null; // the hostname setter takes no port
          const host = parseHost(StringPrototypeSlice(input, bufferStart, pointer), !special);
          if (host === null) return null;
          url.host = host;
          state = PORT_STATE;
          bufferStart = pointer + 1;
        } else {
          const buffer = StringPrototypeSlice(input, bufferStart, pointer);
          pointer--;
          if (special && buffer === '') return null;
          if (stateOverride && buffer === '' && (includesCredentials(url) || url.port !== null)) return null;
          const host = parseHost(buffer, !special);
          if (host === null) return null;
          url.host = host;
          state = PATH_START_STATE;
          if (stateOverride) return url;
        }
        break;

      case PORT_STATE:
        if (urlIsASCIIDigit(c)) {
          // the port goes on
        } else if (c === CP_EOF || c === CP_SLASH || c === CP_QUESTION || c === CP_HASH || (special && c === CP_BACKSLASH)
                   || stateOverride) {
          if (bufferStart !== pointer) {
            const port = NumberParseInt(StringPrototypeSlice(input, bufferStart, pointer), 10);
            if (port > 65535) return null;
            url.port = port === urlDefaultPort(url.scheme) ? null : port;
            if (stateOverride) return url; // the setters ignore anything after the digits
          }
          if (stateOverride) return null;
          state = PATH_START_STATE;
          pointer--;
        } else {
          return null;
        }
        break;

      case FILE_STATE:
        url.scheme = 'file';
        special = true;
        url.host = '';
        if (c === CP_SLASH || c === CP_BACKSLASH) {
          state = FILE_SLASH_STATE;
        } else if (base !== null && base.scheme === 'file') {
          url.host = base.host;
          url.path = urlPathCopy(base.path);
          url.query = base.query;
          if (c === CP_QUESTION) {
            url.query = '';
            state = QUERY_STATE;
            bufferStart = pointer + 1;
          } else if (c === CP_HASH) {
            url.fragment = '';
            state = FRAGMENT_STATE;
          } else if (c !== CP_EOF) {
            url.query = null;
            // A drive letter in a relative reference starts a new path ("C:/x" against "file:///D:/y").
            if (!startsWithWindowsDriveLetter(input, pointer)) shortenPath(url);
            else url.path = listNew();
            state = PATH_STATE;
            pointer--;
            bufferStart = pointer + 1;
          }
        } else {
          state = PATH_STATE;
          pointer--;
          bufferStart = pointer + 1;
        }
        break;

      case FILE_SLASH_STATE:
        if (c === CP_SLASH || c === CP_BACKSLASH) {
          state = FILE_HOST_STATE;
          bufferStart = pointer + 1;
        } else {
          if (base !== null && base.scheme === 'file') {
            url.host = base.host;
            // "/x" against "file:///C:/y" stays on drive C:.
            if (!startsWithWindowsDriveLetter(input, pointer) && base.path.length > 0
                && isNormalizedWindowsDriveLetter(base.path[0])) {
              listPush(url.path, base.path[0]);
            }
          }
          state = PATH_STATE;
          pointer--;
          bufferStart = pointer + 1;
        }
        break;

      case FILE_HOST_STATE:
        while (c !== CP_EOF && c !== CP_SLASH && c !== CP_BACKSLASH && c !== CP_QUESTION && c !== CP_HASH) {
          c = ++pointer < length ? StringPrototypeCharCodeAt(input, pointer) : CP_EOF;
        }
        {
          const buffer = StringPrototypeSlice(input, bufferStart, pointer);
          pointer--;
          if (!stateOverride && isWindowsDriveLetter(buffer)) {
            // "file://C:/x": the drive letter is no host but the first path
            // segment; the buffer is kept for the path state.
            state = PATH_STATE;
          } else if (buffer === '') {
            url.host = '';
            if (stateOverride) return url;
            state = PATH_START_STATE;
          } else {
            let host = parseHost(buffer, !special);
            if (host === null) return null;
            if (host === 'localhost') host = '';
            url.host = host;
            if (stateOverride) return url;
            state = PATH_START_STATE;
          }
        }
        break;

      case PATH_START_STATE:
        if (special) {
          state = PATH_STATE;
          if (c !== CP_SLASH && c !== CP_BACKSLASH) pointer--;
          bufferStart = pointer + 1;
        } else if (!stateOverride && c === CP_QUESTION) {
          url.query = '';
          state = QUERY_STATE;
          bufferStart = pointer + 1;
        } else if (!stateOverride && c === CP_HASH) {
          url.fragment = '';
          state = FRAGMENT_STATE;
        } else if (c !== CP_EOF) {
          state = PATH_STATE;
          if (c !== CP_SLASH) pointer--;
          bufferStart = pointer + 1;
        } else if (stateOverride && url.host === null) {
          listPush(url.path, '');
        }
        break;

      case PATH_STATE: {
        // Skip to the end of this segment, noting whether it has anything to encode.
        let encode = false;
        while (c !== CP_EOF && c !== CP_SLASH && !(special && c === CP_BACKSLASH)
               && (stateOverride || (c !== CP_QUESTION && c !== CP_HASH))) {
          if (c >= 0x80 || PATH_SET[c] === 1) encode = true;
          c = ++pointer < length ? StringPrototypeCharCodeAt(input, pointer) : CP_EOF;
        }
        // Dot segments are recognised before percent-encoding, which leaves
        // them (and drive letters) as they are.
        const buffer = StringPrototypeSlice(input, bufferStart, pointer);
        const slash = c === CP_SLASH || (special && c === CP_BACKSLASH);
        if (isDoubleDotSegment(buffer)) {
          shortenPath(url);
          if (!slash) listPush(url.path, '');
        } else if (isSingleDotSegment(buffer)) {
          if (!slash) listPush(url.path, '');
        } else if (url.scheme === 'file' && url.path.length === 0 && isWindowsDriveLetter(buffer)) {
          listPush(url.path, `${buffer[0]}:`); // "C|" -> "C:"
        } else {
          listPush(url.path, encode ? percentEncode(buffer, PATH_SET) : buffer);
        }
        bufferStart = pointer + 1;
        if (c === CP_QUESTION) {
          url.query = '';
          state = QUERY_STATE;
        } else if (c === CP_HASH) {
          url.fragment = '';
          state = FRAGMENT_STATE;
        }
        break;
      }

      case OPAQUE_PATH_STATE:
        if (c === CP_QUESTION) {
          url.query = '';
          state = QUERY_STATE;
          bufferStart = pointer + 1;
        } else if (c === CP_HASH) {
          url.fragment = '';
          state = FRAGMENT_STATE;
        } else if (c === CP_SPACE) {
          // A space just before the query or fragment is encoded, so that
          // removing those later cannot leave a trailing space.
          const next = StringPrototypeCharCodeAt(input, pointer + 1);
          url.path += next === CP_QUESTION || next === CP_HASH ? '%20' : ' ';
        } else if (c !== CP_EOF) {
          let end = pointer + 1;
          for (; end < length; end++) {
            const d = StringPrototypeCharCodeAt(input, end);
            if (d === CP_QUESTION || d === CP_HASH || d === CP_SPACE) break;
          }
          url.path += percentEncode(StringPrototypeSlice(input, pointer, end), C0_CONTROL_SET);
          pointer = end - 1;
        }
        break;

      case QUERY_STATE: {
        // The query runs to the '#' (or, for the search setter, to the end).
        let end = stateOverride ? -1 : StringPrototypeIndexOf(input, '#', pointer);
        if (end < 0) end = length;
        url.query += percentEncode(StringPrototypeSlice(input, bufferStart, end), special ? SPECIAL_QUERY_SET : QUERY_SET);
        pointer = end;
        if (end < length) {
          url.fragment = '';
          state = FRAGMENT_STATE;
        }
        break;
      }

      case FRAGMENT_STATE:
        if (c !== CP_EOF) {
          url.fragment += percentEncode(StringPrototypeSlice(input, pointer), FRAGMENT_SET);
          pointer = length;
        }
        break;

      default:
        throw new Error(`URL parser: bad state ${state}`);
    }
    if (pointer >= length) break;
    pointer++;
  }
  return url;
}

// ---- the fast path ----
//
// Nearly every URL a Worker parses is a client's request URL,
// "http(s)://host[:port]/path[?query][#fragment]" in lower case with nothing
// to trim, remove, decode or encode. fastURLParse recognises exactly those
// in one forward scan and builds the record basicURLParse would build;
// anything else (upper case, controls, spaces, "\", "@", "[", "%" in the
// host, non-ASCII, dot segments, a port it cannot copy, a host that ends in
// a number but is no dotted quad ...) returns null and goes to the state
// machine, which alone decides whether it is a URL at all. It calls only
// captured intrinsics (prelude.js): request.url goes through it before the
// tenant's code could have replaced String.prototype or Array.prototype.

// Per ASCII code, 1: may stand as it is in that part of a fast-path URL.
// Nothing at or below U+0020, nor U+007F, is in any of them.
function fastTable(allowed) {
  const table = new Uint8Array(128);
  for (let c = 0x21; c < 0x7F; c++) table[c] = allowed(c) ? 1 : 0;
  return table;
}
// A domain as domainToASCII leaves it: lower-case letters, digits, "-", ".", "_".
const FAST_HOST = fastTable((c) => urlIsASCIIDigit(c) || (c >= 0x61 && c <= 0x7A) || c === CP_MINUS
  || c === CP_DOT || c === 0x5F);
// A path segment's code points that PATH_SET keeps; "/", "\", "?" and "#" end it.
const FAST_SEGMENT = fastTable((c) => PATH_SET[c] === 0 && c !== CP_SLASH && c !== CP_BACKSLASH
  && c !== CP_QUESTION && c !== CP_HASH);
const FAST_QUERY = fastTable((c) => SPECIAL_QUERY_SET[c] === 0 && c !== CP_HASH);
const FAST_FRAGMENT = fastTable((c) => FRAGMENT_SET[c] === 0);

const FAST_PATH_NONE = 0; // buildRecord false: not a fast-path URL
const FAST_PATH_CHANGED = 1; // a fast-path URL that serialises differently (":80", no "/" after the host, "08080")
const FAST_PATH_SERIALIZED = 2; // a fast-path URL that is its own serialisation

// The path's segments as fastURLParse finds them, reused: it calls nothing
// that could re-enter it.
const fastSegments = listNew();

// An array of the first count fastSegments, made without a [[Set]] a
// tenant's setter on Array.prototype could see: literals for the usual short
// paths (slicing a prototype-less list is V8's slow path). Ordinary, unlike
// newURLRecord's: nothing grows it (the pathname setter replaces it).
function fastPathArray(count) {
  const s = fastSegments;
  switch (count) {
    case 1: return [s[0]];
    case 2: return [s[0], s[1]];
    case 3: return [s[0], s[1], s[2]];
    case 4: return [s[0], s[1], s[2], s[3]];
    default: return ArrayPrototypeSlice(s, 0, count);
  }
}

function fastCodeAt(input, i, length) {
  return i < length ? StringPrototypeCharCodeAt(input, i) : CP_EOF;
}

// A record (buildRecord) or one of FAST_PATH_* (not buildRecord); null (or
// FAST_PATH_NONE) for anything the state machine must parse.
function fastURLParse(input, buildRecord) {
  if (typeof input !== 'string') return buildRecord ? null : FAST_PATH_NONE;
  const none = buildRecord ? null : FAST_PATH_NONE;
  const length = input.length;
  // "http://" or "https://"
  if (length < 8 || StringPrototypeCharCodeAt(input, 0) !== 0x68 || StringPrototypeCharCodeAt(input, 1) !== 0x74
      || StringPrototypeCharCodeAt(input, 2) !== 0x74 || StringPrototypeCharCodeAt(input, 3) !== 0x70) return none;
  let i = 4;
  const secure = StringPrototypeCharCodeAt(input, 4) === 0x73; // s
  if (secure) i++;
  if (StringPrototypeCharCodeAt(input, i) !== CP_COLON || StringPrototypeCharCodeAt(input, i + 1) !== CP_SLASH
      || StringPrototypeCharCodeAt(input, i + 2) !== CP_SLASH) return none;
  i += 3;

  // host
  const hostStart = i;
  let c = fastCodeAt(input, i, length);
  while (c !== CP_EOF && c < 0x80 && FAST_HOST[c] === 1) c = fastCodeAt(input, ++i, length);
  if (i === hostStart || (c !== CP_EOF && c !== CP_SLASH && c !== CP_QUESTION && c !== CP_HASH && c !== CP_COLON)) {
    return none;
  }
  const host = StringPrototypeSlice(input, hostStart, i);
  // A host whose last label starts with a digit is an IPv4 address or no
  // host at all: only one already in dotted-quad form is its own parse.
  let lastLabelEnd = host.length;
  if (StringPrototypeCharCodeAt(host, lastLabelEnd - 1) === CP_DOT) lastLabelEnd--;
  if (lastLabelEnd > 0) {
    let lastLabelStart = lastLabelEnd;
    while (lastLabelStart > 0 && StringPrototypeCharCodeAt(host, lastLabelStart - 1) !== CP_DOT) lastLabelStart--;
    if (lastLabelStart < lastLabelEnd && urlIsASCIIDigit(StringPrototypeCharCodeAt(host, lastLabelStart))
        && !isSerializedIPv4(host)) return none;
  }

  // port: 1 to 5 digits, at most 65535; the scheme's default is no port
  let serialized = true;
  let port = null;
  if (c === CP_COLON) {
    const portStart = ++i;
    let value = 0;
    c = fastCodeAt(input, i, length);
    while (urlIsASCIIDigit(c) && i - portStart < 5) {
      value = value * 10 + c - 0x30;
      c = fastCodeAt(input, ++i, length);
    }
    if (i === portStart || value > 65535 || (c !== CP_EOF && c !== CP_SLASH && c !== CP_QUESTION && c !== CP_HASH)) {
      return none;
    }
    if (StringPrototypeCharCodeAt(input, portStart) === 0x30 && i - portStart > 1) serialized = false; // "08080"
    if (value === (secure ? 443 : 80)) serialized = false;
    else port = value;
  }

  // path: "/" + segments; without the "/" the path is [""] ("http://h?q")
  let segments = 0;
  if (c === CP_SLASH) c = fastCodeAt(input, ++i, length);
  else serialized = false;
  for (;;) {
    const segmentStart = i;
    let percent = false;
    while (c !== CP_EOF && c < 0x80 && FAST_SEGMENT[c] === 1) {
      if (c === CP_PERCENT) percent = true;
      c = fastCodeAt(input, ++i, length);
    }
    if (c !== CP_EOF && c !== CP_SLASH && c !== CP_QUESTION && c !== CP_HASH) return none;
    // ".", ".." and their "%2e" spellings (at most 6 code units) change the path
    const segmentLength = i - segmentStart;
    if (segmentLength <= 6 && (percent || (segmentLength <= 2 && segmentLength > 0
        && StringPrototypeCharCodeAt(input, segmentStart) === CP_DOT
        && (segmentLength === 1 || StringPrototypeCharCodeAt(input, segmentStart + 1) === CP_DOT)))) return none;
    if (buildRecord) fastSegments[segments++] = StringPrototypeSlice(input, segmentStart, i);
    if (c !== CP_SLASH) break;
    c = fastCodeAt(input, ++i, length);
  }

  let query = null;
  if (c === CP_QUESTION) {
    const queryStart = i + 1;
    c = fastCodeAt(input, ++i, length);
    while (c !== CP_EOF && c < 0x80 && FAST_QUERY[c] === 1) c = fastCodeAt(input, ++i, length);
    if (c !== CP_EOF && c !== CP_HASH) return none;
    if (buildRecord) query = StringPrototypeSlice(input, queryStart, i);
  }
  let fragment = null;
  if (c === CP_HASH) {
    const fragmentStart = i + 1;
    c = fastCodeAt(input, ++i, length);
    while (c !== CP_EOF && c < 0x80 && FAST_FRAGMENT[c] === 1) c = fastCodeAt(input, ++i, length);
    if (c !== CP_EOF) return none;
    if (buildRecord) fragment = StringPrototypeSlice(input, fragmentStart, i);
  }
  if (!buildRecord) return serialized ? FAST_PATH_SERIALIZED : FAST_PATH_CHANGED;
  return {
    scheme: secure ? 'https' : 'http', username: '', password: '', host, port, path: fastPathArray(segments), query, fragment,
  };
}

// Is input an http(s) URL that is already its own serialisation (the usual
// request URL)? Then it needs neither parsing nor serialising.
function urlIsSerializedHTTP(input) {
  return fastURLParse(input, false) === FAST_PATH_SERIALIZED;
}

// ---- serialising ----

function urlPathname(url) {
  const { path } = url;
  if (typeof path === 'string') return path;
  let output = '';
  for (let i = 0; i < path.length; i++) output += `/${path[i]}`;
  return output;
}

function urlHost(url) {
  if (url.host === null) return '';
  return url.port === null ? url.host : `${url.host}:${url.port}`;
}

// The URL serializer.
function urlSerialize(url, excludeFragment = false) {
  let output = `${url.scheme}:`;
  if (url.host !== null) {
    output += '//';
    if (includesCredentials(url)) {
      output += url.username;
      if (url.password !== '') output += `:${url.password}`;
      output += '@';
    }
    output += urlHost(url);
  } else if (typeof url.path !== 'string' && url.path.length > 1 && url.path[0] === '') {
    output += '/.'; // keeps "//x" in the path from reading as a host: "web+demo:/.//not-a-host/"
  }
  output += urlPathname(url);
  if (url.query !== null) output += `?${url.query}`;
  if (!excludeFragment && url.fragment !== null) output += `#${url.fragment}`;
  return output;
}

// The serialisation of a URL's origin ("null" for an opaque origin).
function urlOrigin(url) {
  switch (url.scheme) {
    case 'ftp': case 'http': case 'https': case 'ws': case 'wss':
      return `${url.scheme}://${urlHost(url)}`;
    case 'blob': {
      // The origin of the URL in the path: "blob:https://a.example/uuid".
      const pathURL = basicURLParse(urlPathname(url));
      return pathURL !== null && (pathURL.scheme === 'http' || pathURL.scheme === 'https') ? urlOrigin(pathURL) : 'null';
    }
    default:
      return 'null';
  }
}

// toUSVString (prelude.js), which returns a string without surrogates as it is.
const urlUSVString = toUSVString;

// The API URL parser: new URL(input, base) without the exception (base: a
// string or undefined).
function urlAPIParse(input, base) {
  if (base === undefined) return basicURLParse(input);
  const parsedBase = basicURLParse(base);
  return parsedBase === null ? null : basicURLParse(input, parsedBase);
}

// The same with the arguments as given (both converted first, as WebIDL does).
function urlParseArguments(url, base) {
  const input = urlUSVString(url);
  return urlAPIParse(input, base === undefined ? undefined : urlUSVString(base));
}

// For the other built-ins: a URL record, or null.
function urlParse(input, base = null) {
  return basicURLParse(input, base);
}

// For code with a string and no base URL (Request, Response.redirect): a URL
// record, or a TypeError.
function urlParseAbsolute(input) {
  const url = basicURLParse(input);
  if (url === null) throw new TypeError(`Invalid URL: ${input}`);
  return url;
}

// ---- URLSearchParams ----

let searchParamsText; // (value) -> serialisation if value is a URLSearchParams, else null
let searchParamsForURL; // (url object, query) -> URLSearchParams that updates that URL
let searchParamsReplace; // (params, query) -> void; the URL's query changed
let urlQueryChanged; // (url object, serialised list) -> void

const searchParamsIterator = iteratorFactory('URLSearchParams Iterator');

// The list is a listNew() list of [name, value] array literals, read and
// changed only through index loops and captured intrinsics (prelude.js): a
// tenant replacing Array.prototype methods changes nothing here.

// A new list of the entries of list for which keep(name, value) is true.
function searchParamsFilter(list, keep) {
  const kept = listNew();
  for (let i = 0; i < list.length; i++) {
    if (keep(list[i][0], list[i][1], i)) listPush(kept, list[i]);
  }
  return kept;
}

// The index of the first entry named name, or -1.
function searchParamsFind(list, name) {
  for (let i = 0; i < list.length; i++) {
    if (list[i][0] === name) return i;
  }
  return -1;
}

class URLSearchParams {
  #list; // [name, value]
  #url = null; // the URL object whose query this is, if any

  constructor(init = '') {
    if (init === INTERNAL) return; // searchParamsForURL gives it its list
    if (isObject(init)) {
      // sequence<sequence<USVString>> if iterable, else record<USVString, USVString>
      this.#list = toPairs(init, urlUSVString, 'URLSearchParams');
    } else {
      const query = urlUSVString(init);
      this.#list = formParse(StringPrototypeCharCodeAt(query, 0) === CP_QUESTION ? StringPrototypeSlice(query, 1) : query);
    }
  }

  get size() {
    return this.#list.length;
  }

  append(name, value) {
    requireArgs(arguments.length, 2, 'URLSearchParams.append');
    listPush(this.#list, [urlUSVString(name), urlUSVString(value)]);
    this.#update();
  }

  delete(name, value = undefined) {
    requireArgs(arguments.length, 1, 'URLSearchParams.delete');
    const key = urlUSVString(name);
    if (value === undefined) {
      this.#list = searchParamsFilter(this.#list, (n) => n !== key);
    } else {
      const only = urlUSVString(value);
      this.#list = searchParamsFilter(this.#list, (n, v) => n !== key || v !== only);
    }
    this.#update();
  }

  get(name) {
    requireArgs(arguments.length, 1, 'URLSearchParams.get');
    const list = this.#list;
    const first = searchParamsFind(list, urlUSVString(name));
    return first < 0 ? null : list[first][1];
  }

  getAll(name) {
    requireArgs(arguments.length, 1, 'URLSearchParams.getAll');
    const key = urlUSVString(name);
    const list = this.#list;
    const values = listNew();
    for (let i = 0; i < list.length; i++) {
      if (list[i][0] === key) listPush(values, list[i][1]);
    }
    return listToArray(values);
  }

  has(name, value = undefined) {
    requireArgs(arguments.length, 1, 'URLSearchParams.has');
    const key = urlUSVString(name);
    if (value === undefined) return searchParamsFind(this.#list, key) >= 0;
    const only = urlUSVString(value);
    const list = this.#list;
    for (let i = 0; i < list.length; i++) {
      if (list[i][0] === key && list[i][1] === only) return true;
    }
    return false;
  }

  // Replaces the first pair named name, removes the others; or appends.
  set(name, value) {
    requireArgs(arguments.length, 2, 'URLSearchParams.set');
    const key = urlUSVString(name);
    const string = urlUSVString(value);
    const first = searchParamsFind(this.#list, key);
    if (first < 0) {
      listPush(this.#list, [key, string]);
    } else {
      this.#list[first] = [key, string];
      this.#list = searchParamsFilter(this.#list, (n, v, i) => i <= first || n !== key);
    }
    this.#update();
  }

  sort() {
    // By name in UTF-16 code units (what < compares), keeping the order of
    // equal names: Array.prototype.sort is stable.
    ArrayPrototypeSort(this.#list, (x, y) => {
      const a = x[0];
      const b = y[0];
      return a < b ? -1 : a > b ? 1 : 0;
    });
    this.#update();
  }

  forEach(callback, thisArg = undefined) {
    requireArgs(arguments.length, 1, 'URLSearchParams.forEach');
    if (typeof callback !== 'function') throw new TypeError('URLSearchParams.forEach: callback is not a function');
    // The list is re-read at every step: the callback may change it.
    for (let i = 0; i < this.#list.length; i++) {
      const pair = this.#list[i];
      ReflectApply(callback, thisArg, [pair[1], pair[0], this]);
    }
  }

  entries() {
    return searchParamsIterator(() => this.#list, 'entries');
  }

  keys() {
    return searchParamsIterator(() => this.#list, 'keys');
  }

  values() {
    return searchParamsIterator(() => this.#list, 'values');
  }

  toString() {
    return formSerialize(this.#list);
  }

  // The update steps: the URL's query follows the list.
  #update() {
    if (this.#url !== null) urlQueryChanged(this.#url, formSerialize(this.#list));
  }

  static {
    searchParamsText = (value) => (isObject(value) && #list in value ? formSerialize(value.#list) : null);
    searchParamsForURL = (url, query) => {
      const params = new URLSearchParams(INTERNAL);
      params.#url = url;
      searchParamsReplace(params, query);
      return params;
    };
    searchParamsReplace = (params, query) => {
      params.#list = query === null ? listNew() : formParse(query);
    };
    registerInspector('URLSearchParams', (value) => {
      if (!(#list in value)) return undefined;
      const pairs = listNew();
      for (let i = 0; i < value.#list.length; i++) listPush(pairs, [value.#list[i][0], value.#list[i][1]]);
      return listToArray(pairs);
    });
  }
}

setToStringTag(URLSearchParams.prototype, 'URLSearchParams');
defineIterable(URLSearchParams);

// ---- URL ----

class URL {
  #url; // the URL record
  // The URLSearchParams object, made on first use: routing code that reads
  // only the path never pays for parsing the query. Until then
  // #searchParamsSource is what its list would have been parsed from: the
  // query, or what the search setter was given (which may hold tabs that the
  // query lost).
  #searchParams = null;
  #searchParamsSource = null;

  constructor(url, base = undefined) {
    if (url === INTERNAL) { // URL.parse: base is an already parsed record
      this.#url = base;
      this.#searchParamsSource = base.query;
      return;
    }
    requireArgs(arguments.length, 1, 'URL');
    // new URL(request.url): a string the fast path takes needs no conversion
    let record = base === undefined ? fastURLParse(url, true) : null;
    if (record === null) {
      const input = urlUSVString(url);
      record = urlAPIParse(input, base === undefined ? undefined : urlUSVString(base));
      if (record === null) throw new TypeError(`Invalid URL: ${input}`);
    }
    this.#url = record;
    this.#searchParamsSource = record.query;
  }

  static canParse(url, base = undefined) {
    requireArgs(arguments.length, 1, 'URL.canParse');
    return urlParseArguments(url, base) !== null;
  }

  static parse(url, base = undefined) {
    requireArgs(arguments.length, 1, 'URL.parse');
    const record = urlParseArguments(url, base);
    return record === null ? null : new URL(INTERNAL, record);
  }

  get href() {
    return urlSerialize(this.#url);
  }

  set href(value) {
    const input = urlUSVString(value);
    const record = basicURLParse(input);
    if (record === null) throw new TypeError(`Invalid URL: ${input}`);
    this.#url = record;
    this.#queryChanged(record.query);
  }

  get origin() {
    return urlOrigin(this.#url);
  }

  get protocol() {
    return `${this.#url.scheme}:`;
  }

  set protocol(value) {
    basicURLParse(`${urlUSVString(value)}:`, null, this.#url, SCHEME_START_STATE);
  }

  get username() {
    return this.#url.username;
  }

  set username(value) {
    if (cannotHaveUsernamePasswordPort(this.#url)) return;
    this.#url.username = percentEncode(urlUSVString(value), USERINFO_SET);
  }

  get password() {
    return this.#url.password;
  }

  set password(value) {
    if (cannotHaveUsernamePasswordPort(this.#url)) return;
    this.#url.password = percentEncode(urlUSVString(value), USERINFO_SET);
  }

  get host() {
    return urlHost(this.#url);
  }

  set host(value) {
    if (hasOpaquePath(this.#url)) return;
    basicURLParse(urlUSVString(value), null, this.#url, HOST_STATE);
  }

  get hostname() {
    return this.#url.host ?? '';
  }

  set hostname(value) {
    if (hasOpaquePath(this.#url)) return;
    basicURLParse(urlUSVString(value), null, this.#url, HOSTNAME_STATE);
  }

  get port() {
    return this.#url.port === null ? '' : `${this.#url.port}`;
  }

  set port(value) {
    if (cannotHaveUsernamePasswordPort(this.#url)) return;
    const input = urlUSVString(value);
    if (input === '') this.#url.port = null;
    else basicURLParse(input, null, this.#url, PORT_STATE);
  }

  get pathname() {
    return urlPathname(this.#url);
  }

  set pathname(value) {
    if (hasOpaquePath(this.#url)) return;
    this.#url.path = listNew();
    basicURLParse(urlUSVString(value), null, this.#url, PATH_START_STATE);
  }

  get search() {
    const { query } = this.#url;
    return query === null || query === '' ? '' : `?${query}`;
  }

  set search(value) {
    const input = urlUSVString(value);
    const url = this.#url;
    if (input === '') {
      url.query = null;
      this.#queryChanged(null);
      return;
    }
    const query = StringPrototypeCharCodeAt(input, 0) === CP_QUESTION ? StringPrototypeSlice(input, 1) : input;
    url.query = '';
    basicURLParse(query, null, url, QUERY_STATE);
    this.#queryChanged(query);
  }

  get searchParams() {
    if (this.#searchParams === null) this.#searchParams = searchParamsForURL(this, this.#searchParamsSource);
    return this.#searchParams;
  }

  get hash() {
    const { fragment } = this.#url;
    return fragment === null || fragment === '' ? '' : `#${fragment}`;
  }

  set hash(value) {
    const input = urlUSVString(value);
    const url = this.#url;
    if (input === '') {
      url.fragment = null;
      return;
    }
    url.fragment = '';
    basicURLParse(StringPrototypeCharCodeAt(input, 0) === CP_HASH ? StringPrototypeSlice(input, 1) : input, null, url, FRAGMENT_STATE);
  }

  toString() {
    return urlSerialize(this.#url);
  }

  toJSON() {
    return urlSerialize(this.#url);
  }

  // The href or search setter replaced the query: the URLSearchParams list
  // becomes the parse of source.
  #queryChanged(source) {
    if (this.#searchParams !== null) searchParamsReplace(this.#searchParams, source);
    else this.#searchParamsSource = source;
  }

  static {
    urlQueryChanged = (url, query) => {
      url.#url.query = query === '' ? null : query;
    };
    registerInspector('URL', (value) => (#url in value ? urlSerialize(value.#url) : undefined));
  }
}

setToStringTag(URL.prototype, 'URL');
defineGlobal('URL', URL);
defineGlobal('URLSearchParams', URLSearchParams);
