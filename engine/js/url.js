// URL and URLSearchParams. The parser follows the WHATWG URL Standard for
// the cases real handlers meet (special and opaque schemes, IPv4/IPv6 hosts,
// Punycode, dot segments, relative references); it is self-contained so the
// full standard parser can replace this file. Not done: full UTS #46 mapping
// (hosts are only lower-cased and Punycode-encoded) and the rarer Windows
// drive-letter quirks of file: URLs.

// ---- percent-encoding ----

function percentEncodeSet(base, extra) {
  const set = base.slice();
  for (const char of extra) set[char.charCodeAt(0)] = 1;
  return set;
}

// Indexed by ASCII code; 1 means "encode". Non-ASCII is always encoded.
const C0_CONTROL_SET = new Uint8Array(128).map((_, c) => (c < 0x20 || c === 0x7F ? 1 : 0));
const FRAGMENT_SET = percentEncodeSet(C0_CONTROL_SET, ' "<>`');
const QUERY_SET = percentEncodeSet(C0_CONTROL_SET, ' "#<>');
const SPECIAL_QUERY_SET = percentEncodeSet(QUERY_SET, "'");
const PATH_SET = percentEncodeSet(QUERY_SET, '?`{}');
const USERINFO_SET = percentEncodeSet(PATH_SET, '/:;=@[\\]^|');
const COMPONENT_SET = percentEncodeSet(USERINFO_SET, '$%&+,');
const FORM_SET = percentEncodeSet(COMPONENT_SET, "!'()~");

const HEX_DIGITS = '0123456789ABCDEF';

function percentByte(byte) {
  return `%${HEX_DIGITS[byte >> 4]}${HEX_DIGITS[byte & 15]}`;
}

function percentEncode(input, set, spaceAsPlus = false) {
  let out = '';
  let start = 0; // input[start, i) is copied as it is
  for (let i = 0; i < input.length; i++) {
    const c = input.charCodeAt(i);
    if (c < 0x80 && set[c] === 0) continue;
    out += input.slice(start, i);
    if (c < 0x80) {
      out += c === 0x20 && spaceAsPlus ? '+' : percentByte(c);
      start = i + 1;
    } else {
      let end = i + 1;
      while (end < input.length && input.charCodeAt(end) >= 0x80) end++;
      for (const byte of utf8Encode(input.slice(i, end))) out += percentByte(byte);
      start = end;
      i = end - 1;
    }
  }
  return out + input.slice(start);
}

function hexValue(byte) {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x57 : -1;
}

// Percent-decodes to bytes, then decodes those as UTF-8 (bad sequences -> U+FFFD).
function percentDecode(input) {
  if (!input.includes('%')) return input;
  const bytes = utf8Encode(input);
  const out = new Uint8Array(bytes.length);
  let length = 0;
  for (let i = 0; i < bytes.length; i++) {
    const high = i + 2 < bytes.length ? hexValue(bytes[i + 1]) : -1;
    const low = high >= 0 ? hexValue(bytes[i + 2]) : -1;
    if (bytes[i] === 0x25 && low >= 0) {
      out[length++] = high * 16 + low;
      i += 2;
    } else {
      out[length++] = bytes[i];
    }
  }
  return utf8Decode(out.subarray(0, length));
}

// ---- application/x-www-form-urlencoded ----

function formParse(input) {
  const list = [];
  for (const sequence of input.split('&')) {
    if (sequence === '') continue;
    const equals = sequence.indexOf('=');
    const name = equals < 0 ? sequence : sequence.slice(0, equals);
    const value = equals < 0 ? '' : sequence.slice(equals + 1);
    list.push([percentDecode(name.replace(/\+/g, ' ')), percentDecode(value.replace(/\+/g, ' '))]);
  }
  return list;
}

function formSerialize(list) {
  return list
    .map(([name, value]) => `${percentEncode(name, FORM_SET, true)}=${percentEncode(value, FORM_SET, true)}`)
    .join('&');
}

// ---- hosts ----

function urlParseIPv4Number(text) {
  if (text === '') return NaN;
  let radix = 10;
  if (/^0[xX]/.test(text)) {
    text = text.slice(2);
    radix = 16;
  } else if (text.length > 1 && text[0] === '0') {
    text = text.slice(1);
    radix = 8;
  }
  if (text === '') return 0;
  const digits = radix === 16 ? /^[0-9A-Fa-f]+$/ : radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  return digits.test(text) ? parseInt(text, radix) : NaN;
}

function urlIPv4Parts(host) {
  const parts = host.split('.');
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

// "example.0x10" or "1.2.3.4": the host must then be an IPv4 address.
function urlEndsInNumber(host) {
  const parts = urlIPv4Parts(host);
  return /^(?:[0-9]+|0[xX][0-9A-Fa-f]*)$/.test(parts[parts.length - 1]);
}

// Accepts the legacy forms ("0x7f.1", "2130706433"); returns dotted quad or null.
function urlParseIPv4(host) {
  const parts = urlIPv4Parts(host);
  if (parts.length > 4) return null;
  const numbers = parts.map(urlParseIPv4Number);
  if (numbers.some(Number.isNaN)) return null;
  const last = numbers.pop();
  if (numbers.some((n) => n > 255) || last >= 256 ** (4 - numbers.length)) return null;
  let address = last;
  numbers.forEach((n, i) => {
    address += n * 256 ** (3 - i);
  });
  return [24, 16, 8, 0].map((shift) => Math.floor(address / 2 ** shift) % 256).join('.');
}

// Returns the eight 16-bit pieces, or null.
function urlParseIPv6(input) {
  const address = [0, 0, 0, 0, 0, 0, 0, 0];
  const isHex = (char) => char !== undefined && /[0-9A-Fa-f]/.test(char);
  const isDigit = (char) => char !== undefined && char >= '0' && char <= '9';
  let piece = 0;
  let compress = null;
  let p = 0;
  if (input[p] === ':') {
    if (input[p + 1] !== ':') return null;
    p += 2;
    compress = ++piece;
  }
  while (p < input.length) {
    if (piece === 8) return null;
    if (input[p] === ':') {
      if (compress !== null) return null;
      p++;
      compress = ++piece;
      continue;
    }
    let value = 0;
    let length = 0;
    while (length < 4 && isHex(input[p])) {
      value = value * 16 + parseInt(input[p], 16);
      p++;
      length++;
    }
    if (input[p] === '.') { // embedded IPv4, as in ::ffff:1.2.3.4
      if (length === 0 || piece > 6) return null;
      p -= length;
      let numbersSeen = 0;
      while (p < input.length) {
        if (numbersSeen > 0) {
          if (input[p] !== '.' || numbersSeen >= 4) return null;
          p++;
        }
        if (!isDigit(input[p])) return null;
        let number = null;
        while (isDigit(input[p])) {
          const digit = input.charCodeAt(p) - 0x30;
          if (number === 0) return null;
          number = number === null ? digit : number * 10 + digit;
          if (number > 255) return null;
          p++;
        }
        address[piece] = address[piece] * 256 + number;
        numbersSeen++;
        if (numbersSeen === 2 || numbersSeen === 4) piece++;
      }
      if (numbersSeen !== 4) return null;
      break;
    }
    if (input[p] === ':') {
      p++;
      if (p >= input.length) return null;
    } else if (p < input.length) {
      return null;
    }
    address[piece++] = value;
  }
  if (compress !== null) {
    let swaps = piece - compress;
    for (piece = 7; piece !== 0 && swaps > 0; piece--, swaps--) {
      [address[piece], address[compress + swaps - 1]] = [address[compress + swaps - 1], address[piece]];
    }
  } else if (piece !== 8) {
    return null;
  }
  return address;
}

function urlSerializeIPv6(address) {
  let best = -1; // the first longest run of two or more zero pieces becomes "::"
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    let end = i;
    while (end < 8 && address[end] === 0) end++;
    if (end - i > bestLength) {
      best = i;
      bestLength = end - i;
    }
    i = end === i ? i + 1 : end;
  }
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === best) {
      out += i === 0 ? '::' : ':';
      i += bestLength - 1;
    } else {
      out += address[i].toString(16) + (i < 7 ? ':' : '');
    }
  }
  return out;
}

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

function urlDomainToASCII(domain) {
  if (/^[\0-\x7F]*$/.test(domain)) return domain.toLowerCase();
  if (domain.includes('\uFFFD')) return null;
  return domain.normalize('NFC').toLowerCase().replace(/[\u3002\uFF0E\uFF61]/g, '.').split('.')
    .map((label) => (/^[\0-\x7F]*$/.test(label) ? label : `xn--${punycodeEncode(label)}`))
    .join('.');
}

function urlParseHost(input, special) {
  if (input.startsWith('[')) {
    if (!input.endsWith(']')) return null;
    const address = urlParseIPv6(input.slice(1, -1));
    return address === null ? null : `[${urlSerializeIPv6(address)}]`;
  }
  if (!special) { // an opaque host, kept as written
    return /[\0\t\n\r #/:<>?@[\\\]^|]/.test(input) ? null : percentEncode(input, C0_CONTROL_SET);
  }
  const domain = urlDomainToASCII(percentDecode(input));
  if (domain === null || domain === '' || /[\0-\x20#%/:<>?@[\\\]^|\x7F]/.test(domain)) return null;
  return urlEndsInNumber(domain) ? urlParseIPv4(domain) : domain;
}

// ---- URL records ----
// { scheme, username, password, host: string|null, port: number|null,
//   path: array of segments, or a string for an opaque path ("mailto:x"),
//   query: string|null, fragment: string|null }, all already percent-encoded.

const URL_SPECIAL_PORTS = new Map([['ftp', 21], ['file', null], ['http', 80], ['https', 443], ['ws', 80], ['wss', 443]]);

function urlIsSpecial(url) {
  return URL_SPECIAL_PORTS.has(url.scheme);
}

function urlRecord(scheme) {
  return { scheme, username: '', password: '', host: null, port: null, path: [], query: null, fragment: null };
}

function urlSplit(text) {
  let query = null;
  let fragment = null;
  const hash = text.indexOf('#');
  if (hash >= 0) {
    fragment = text.slice(hash + 1);
    text = text.slice(0, hash);
  }
  const question = text.indexOf('?');
  if (question >= 0) {
    query = text.slice(question + 1);
    text = text.slice(0, question);
  }
  return [text, query, fragment];
}

function urlSetQuery(url, query) {
  url.query = query === null ? null : percentEncode(query, urlIsSpecial(url) ? SPECIAL_QUERY_SET : QUERY_SET);
}

function urlSetFragment(url, fragment) {
  url.fragment = fragment === null ? null : percentEncode(fragment, FRAGMENT_SET);
}

// Appends input's segments to url.path, resolving "." and "..".
function urlParsePath(url, input) {
  const special = urlIsSpecial(url);
  if (!special && input === '') return;
  const separator = special ? /[/\\]/ : /\//;
  if (input !== '' && separator.test(input[0])) input = input.slice(1);
  const segments = input.split(separator);
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    if (/^(?:\.|%2e){2}$/i.test(segment)) {
      const driveLetter = url.scheme === 'file' && url.path.length === 1 && /^[A-Za-z]:$/.test(url.path[0]);
      if (!driveLetter) url.path.pop();
      if (last) url.path.push('');
    } else if (/^(?:\.|%2e)$/i.test(segment)) {
      if (last) url.path.push('');
    } else {
      url.path.push(percentEncode(segment, PATH_SET));
    }
  });
}

// host[:port] into url.host/url.port. mode: 'parse' (strict), 'host' or
// 'hostname' (the lenient forms the setters use). Returns false on failure.
function urlSetHostPort(url, text, mode) {
  const special = urlIsSpecial(url);
  let hostText = text;
  let portText = null;
  const colon = text.lastIndexOf(':');
  if (url.scheme !== 'file' && colon > text.lastIndexOf(']')) {
    if (mode === 'hostname') return false;
    hostText = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (mode === 'host') portText = /^[0-9]*/.exec(portText)[0];
  }
  if (hostText === '' && url.scheme !== 'file' && (special || portText !== null)) return false;
  const hasCredentialsOrPort = url.username !== '' || url.password !== '' || url.port !== null;
  if (hostText === '' && mode !== 'parse' && hasCredentialsOrPort) return false;
  let host = hostText === '' ? '' : urlParseHost(hostText, special);
  if (host === null) return false;
  if (url.scheme === 'file' && host === 'localhost') host = '';
  let port = url.port; // the setters keep the port unless given a new one
  if (portText !== null && portText !== '') {
    if (!/^[0-9]+$/.test(portText)) return false;
    port = Number(portText);
    if (port > 65535) return false;
    if (port === URL_SPECIAL_PORTS.get(url.scheme)) port = null;
  }
  url.host = host;
  url.port = port;
  return true;
}

// text follows "//": [userinfo@]host[:port][/path]. Returns false on failure.
function urlParseAuthority(url, text) {
  const end = text.search(urlIsSpecial(url) ? /[/\\]/ : /\//);
  const authority = end < 0 ? text : text.slice(0, end);
  if (url.scheme === 'file') {
    if (!urlSetHostPort(url, authority, 'parse')) return false;
  } else {
    const at = authority.lastIndexOf('@');
    if (at >= 0) {
      const userinfo = authority.slice(0, at);
      const colon = userinfo.indexOf(':');
      url.username = percentEncode(colon < 0 ? userinfo : userinfo.slice(0, colon), USERINFO_SET);
      url.password = colon < 0 ? '' : percentEncode(userinfo.slice(colon + 1), USERINFO_SET);
      if (at === authority.length - 1) return false;
    }
    if (!urlSetHostPort(url, authority.slice(at + 1), 'parse')) return false;
  }
  urlParsePath(url, end < 0 ? '' : text.slice(end));
  return true;
}

// Resolves input (without a scheme, or "http:foo" against an http: base).
function urlResolve(input, base) {
  if (typeof base.path === 'string') { // "mailto:x" etc. only take a new fragment
    if (!input.startsWith('#')) return null;
    const url = { ...base };
    urlSetFragment(url, input.slice(1));
    return url;
  }
  const url = urlRecord(base.scheme);
  const slash = urlIsSpecial(url) ? /^[/\\]/ : /^\//;
  const [head, query, fragment] = urlSplit(input);
  if (slash.test(head) && slash.test(head.slice(1))) { // "//host/path"
    const authority = urlIsSpecial(url) && url.scheme !== 'file' ? head.replace(/^[/\\]+/, '') : head.slice(2);
    if (!urlParseAuthority(url, authority)) return null;
  } else {
    url.username = base.username;
    url.password = base.password;
    url.host = base.host;
    url.port = base.port;
    if (slash.test(head)) { // "/path"
      urlParsePath(url, head);
    } else if (head === '') { // "?query", "#fragment" or ""
      url.path = base.path.slice();
      url.query = base.query;
    } else { // "path": replaces the last segment of the base's path
      url.path = base.path.slice(0, -1);
      urlParsePath(url, head);
    }
  }
  if (query !== null) urlSetQuery(url, query);
  urlSetFragment(url, fragment);
  return url;
}

// Returns a URL record, or null if input is not a valid URL.
function urlParse(input, base) {
  input = input.replace(/^[\0-\x20]+|[\0-\x20]+$/g, '').replace(/[\t\n\r]/g, '');
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(input);
  if (match === null) return base === null ? null : urlResolve(input, base);
  const url = urlRecord(match[1].toLowerCase());
  const rest = input.slice(match[0].length);
  const special = urlIsSpecial(url);
  if (special && base !== null && base.scheme === url.scheme && !rest.startsWith('//')) {
    return urlResolve(rest, base);
  }
  const [head, query, fragment] = urlSplit(rest);
  if (url.scheme === 'file') {
    if (/^[/\\]{2}/.test(head)) {
      if (!urlParseAuthority(url, head.slice(2))) return null;
    } else {
      url.host = '';
      urlParsePath(url, head);
    }
  } else if (special) { // any number of slashes, even none: "http:example.com"
    if (!urlParseAuthority(url, head.replace(/^[/\\]+/, ''))) return null;
  } else if (head.startsWith('//')) {
    if (!urlParseAuthority(url, head.slice(2))) return null;
  } else if (head.startsWith('/')) {
    urlParsePath(url, head);
  } else {
    url.path = percentEncode(head, C0_CONTROL_SET);
  }
  urlSetQuery(url, query);
  urlSetFragment(url, fragment);
  return url;
}

function urlPathname(url) {
  return typeof url.path === 'string' ? url.path : url.path.map((segment) => `/${segment}`).join('');
}

function urlHost(url) {
  if (url.host === null) return '';
  return url.port === null ? url.host : `${url.host}:${url.port}`;
}

function urlSerialize(url) {
  let out = `${url.scheme}:`;
  if (url.host !== null) {
    out += '//';
    if (url.username !== '' || url.password !== '') {
      out += `${url.username}${url.password === '' ? '' : `:${url.password}`}@`;
    }
    out += urlHost(url);
  } else if (typeof url.path !== 'string' && url.path.length > 1 && url.path[0] === '') {
    out += '/.'; // keeps "//x" in the path from reading as a host
  }
  out += urlPathname(url);
  if (url.query !== null) out += `?${url.query}`;
  if (url.fragment !== null) out += `#${url.fragment}`;
  return out;
}

function urlOrigin(url) {
  switch (url.scheme) {
    case 'ftp': case 'http': case 'https': case 'ws': case 'wss':
      return `${url.scheme}://${urlHost(url)}`;
    case 'blob': {
      const inner = typeof url.path === 'string' ? urlParse(url.path, null) : null;
      return inner !== null && (inner.scheme === 'http' || inner.scheme === 'https') ? urlOrigin(inner) : 'null';
    }
    default:
      return 'null';
  }
}

// new URL(url, base) without the exception: a record or null.
function urlParseArguments(url, base) {
  const input = toUSVString(url);
  if (base === undefined) return urlParse(input, null);
  const baseRecord = urlParse(toUSVString(base), null);
  return baseRecord === null ? null : urlParse(input, baseRecord);
}

// The setters that run the URL parser see their value without tabs and newlines.
function urlSetterInput(value) {
  return toUSVString(value).replace(/[\t\n\r]/g, '');
}

// For Request and Response.redirect, which have no base URL: a URL record.
function urlParseAbsolute(input) {
  const url = urlParse(input, null);
  if (url === null) throw new TypeError(`Invalid URL: ${input}`);
  return url;
}

// ---- URLSearchParams ----

let searchParamsText; // (value) -> serialisation if value is a URLSearchParams, else null
let searchParamsForURL; // (url object, query) -> URLSearchParams that updates that URL
let searchParamsReplace; // (params, query) -> void; the URL's query changed
let urlQueryChanged; // (url object, serialised list) -> void

const searchParamsIterator = iteratorFactory('URLSearchParams Iterator');

class URLSearchParams {
  #list = []; // [name, value]
  #url = null; // the URL object whose query this mirrors, if any

  constructor(init = '') {
    if (isObject(init)) {
      this.#list = toPairs(init, toUSVString, 'URLSearchParams');
    } else {
      const query = toUSVString(init);
      this.#list = formParse(query.startsWith('?') ? query.slice(1) : query);
    }
  }

  get size() {
    return this.#list.length;
  }

  append(name, value) {
    requireArgs(arguments.length, 2, 'URLSearchParams.append');
    this.#list.push([toUSVString(name), toUSVString(value)]);
    this.#update();
  }

  delete(name, value = undefined) {
    requireArgs(arguments.length, 1, 'URLSearchParams.delete');
    const key = toUSVString(name);
    const only = value === undefined ? undefined : toUSVString(value);
    this.#list = this.#list.filter(([n, v]) => n !== key || (only !== undefined && v !== only));
    this.#update();
  }

  get(name) {
    requireArgs(arguments.length, 1, 'URLSearchParams.get');
    const key = toUSVString(name);
    const entry = this.#list.find(([n]) => n === key);
    return entry === undefined ? null : entry[1];
  }

  getAll(name) {
    requireArgs(arguments.length, 1, 'URLSearchParams.getAll');
    const key = toUSVString(name);
    return this.#list.filter(([n]) => n === key).map(([, v]) => v);
  }

  has(name, value = undefined) {
    requireArgs(arguments.length, 1, 'URLSearchParams.has');
    const key = toUSVString(name);
    const only = value === undefined ? undefined : toUSVString(value);
    return this.#list.some(([n, v]) => n === key && (only === undefined || v === only));
  }

  set(name, value) {
    requireArgs(arguments.length, 2, 'URLSearchParams.set');
    const key = toUSVString(name);
    const string = toUSVString(value);
    const first = this.#list.findIndex(([n]) => n === key);
    if (first < 0) {
      this.#list.push([key, string]);
    } else {
      this.#list[first] = [key, string];
      this.#list = this.#list.filter(([n], i) => i <= first || n !== key);
    }
    this.#update();
  }

  sort() {
    // Array.prototype.sort is stable; < compares UTF-16 code units, as specified.
    this.#list.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    this.#update();
  }

  forEach(callback, thisArg = undefined) {
    requireArgs(arguments.length, 1, 'URLSearchParams.forEach');
    if (typeof callback !== 'function') throw new TypeError('URLSearchParams.forEach: callback is not a function');
    for (let i = 0; i < this.#list.length; i++) {
      const [name, value] = this.#list[i];
      Reflect.apply(callback, thisArg, [value, name, this]);
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

  #update() {
    if (this.#url !== null) urlQueryChanged(this.#url, formSerialize(this.#list));
  }

  static {
    searchParamsText = (value) => (isObject(value) && #list in value ? formSerialize(value.#list) : null);
    searchParamsForURL = (url, query) => {
      const params = new URLSearchParams();
      params.#url = url;
      searchParamsReplace(params, query);
      return params;
    };
    searchParamsReplace = (params, query) => {
      params.#list = query === null ? [] : formParse(query);
    };
    registerInspector('URLSearchParams', (value) => (#list in value ? value.#list.map(([n, v]) => [n, v]) : undefined));
  }
}

setToStringTag(URLSearchParams.prototype, 'URLSearchParams');
defineIterable(URLSearchParams);

// ---- URL ----

class URL {
  #url; // the URL record
  #searchParams;

  constructor(url, base = undefined) {
    requireArgs(arguments.length, 1, 'URL');
    const record = urlParseArguments(url, base);
    if (record === null) throw new TypeError('Invalid URL');
    this.#url = record;
    this.#searchParams = searchParamsForURL(this, record.query);
  }

  static canParse(url, base = undefined) {
    requireArgs(arguments.length, 1, 'URL.canParse');
    return urlParseArguments(url, base) !== null;
  }

  static parse(url, base = undefined) {
    requireArgs(arguments.length, 1, 'URL.parse');
    return urlParseArguments(url, base) === null ? null : new URL(url, base);
  }

  get href() {
    return urlSerialize(this.#url);
  }

  set href(value) {
    const record = urlParse(toUSVString(value), null);
    if (record === null) throw new TypeError('Invalid URL');
    this.#url = record;
    searchParamsReplace(this.#searchParams, record.query);
  }

  get origin() {
    return urlOrigin(this.#url);
  }

  get protocol() {
    return `${this.#url.scheme}:`;
  }

  set protocol(value) {
    const match = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(`${urlSetterInput(value)}:`);
    if (match === null) return;
    const url = this.#url;
    const scheme = match[1].toLowerCase();
    // Special and non-special schemes serialise differently; the standard forbids switching.
    if (URL_SPECIAL_PORTS.has(scheme) !== urlIsSpecial(url)) return;
    if (scheme === 'file' && (url.username !== '' || url.password !== '' || url.port !== null)) return;
    if (url.scheme === 'file' && url.host === '') return;
    url.scheme = scheme;
    if (url.port === URL_SPECIAL_PORTS.get(scheme)) url.port = null;
  }

  get username() {
    return this.#url.username;
  }

  set username(value) {
    if (this.#hasCredentialsHost()) this.#url.username = percentEncode(toUSVString(value), USERINFO_SET);
  }

  get password() {
    return this.#url.password;
  }

  set password(value) {
    if (this.#hasCredentialsHost()) this.#url.password = percentEncode(toUSVString(value), USERINFO_SET);
  }

  get host() {
    return urlHost(this.#url);
  }

  set host(value) {
    this.#setHost(value, 'host');
  }

  get hostname() {
    return this.#url.host ?? '';
  }

  set hostname(value) {
    this.#setHost(value, 'hostname');
  }

  get port() {
    return this.#url.port === null ? '' : String(this.#url.port);
  }

  set port(value) {
    if (!this.#hasCredentialsHost()) return;
    const input = urlSetterInput(value);
    const digits = /^[0-9]*/.exec(input)[0];
    if (digits === '') {
      if (input === '') this.#url.port = null;
      return;
    }
    const port = Number(digits);
    if (port > 65535) return;
    this.#url.port = port === URL_SPECIAL_PORTS.get(this.#url.scheme) ? null : port;
  }

  get pathname() {
    return urlPathname(this.#url);
  }

  set pathname(value) {
    if (typeof this.#url.path === 'string') return;
    this.#url.path = [];
    urlParsePath(this.#url, urlSetterInput(value));
  }

  get search() {
    const { query } = this.#url;
    return query === null || query === '' ? '' : `?${query}`;
  }

  set search(value) {
    let query = urlSetterInput(value);
    if (query === '') {
      this.#url.query = null;
      searchParamsReplace(this.#searchParams, null);
      return;
    }
    if (query.startsWith('?')) query = query.slice(1);
    urlSetQuery(this.#url, query);
    searchParamsReplace(this.#searchParams, query);
  }

  get searchParams() {
    return this.#searchParams;
  }

  get hash() {
    const { fragment } = this.#url;
    return fragment === null || fragment === '' ? '' : `#${fragment}`;
  }

  set hash(value) {
    let fragment = urlSetterInput(value);
    if (fragment === '') {
      this.#url.fragment = null;
      return;
    }
    if (fragment.startsWith('#')) fragment = fragment.slice(1);
    urlSetFragment(this.#url, fragment);
  }

  toString() {
    return urlSerialize(this.#url);
  }

  toJSON() {
    return urlSerialize(this.#url);
  }

  // username, password and port exist only for URLs with a non-empty, non-file host.
  #hasCredentialsHost() {
    const url = this.#url;
    return url.host !== null && url.host !== '' && url.scheme !== 'file';
  }

  // Setters ignore values they cannot use, as the standard says; they never throw.
  #setHost(value, mode) {
    if (typeof this.#url.path === 'string') return;
    const text = urlSetterInput(value).split(urlIsSpecial(this.#url) ? /[/\\?#]/ : /[/?#]/)[0];
    const copy = { ...this.#url };
    if (urlSetHostPort(copy, text, mode)) {
      this.#url.host = copy.host;
      this.#url.port = copy.port;
    }
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
