// Headers (WHATWG Fetch). Names are stored lower-case in insertion order;
// iteration is sorted by name and combines repeated names with ", ", except
// Set-Cookie, which stays one entry per cookie.

// Internal access for the other built-ins, assigned in the class's static block.
let headersSetImmutable; // (headers) -> void
let headersCopy; // (headers) -> a new Headers with the same entries and mutability
let headersSetDefault; // (headers, name, value) -> appends unless name is present, ignoring mutability
let headersSorted; // (headers) -> the internal [name, value] list; do not hand it to tenants
let headersFromClient; // (the engine's header block or flat [name, value, ...]) -> immutable Headers

// Every list below is a listNew() list of [name, value] array literals, which
// are never changed once made; none is ever handed to tenant code or reached
// through a tenant-writable method (see "Intrinsics captured" in prelude.js):
// the engine sends what the sorted list holds.

const headersIterator = iteratorFactory('Headers Iterator');

const HEADER_VALUE_FORBIDDEN = /[\0\r\n]/;

function isHttpWhitespace(c) {
  return c === 0x09 || c === 0x0A || c === 0x0D || c === 0x20;
}

// Strips leading and trailing HTTP whitespace (tab, LF, CR, space).
function httpTrim(string) {
  let start = 0;
  let end = string.length;
  while (start < end && isHttpWhitespace(StringPrototypeCharCodeAt(string, start))) start++;
  while (end > start && isHttpWhitespace(StringPrototypeCharCodeAt(string, end - 1))) end--;
  return start === 0 && end === string.length ? string : StringPrototypeSlice(string, start, end);
}

function isHeaderValue(string) {
  return RegExpPrototypeExec(HEADER_VALUE_FORBIDDEN, string) === null;
}

// An HTTP token in lower case: the usual name, its own normalised form.
const LOWER_HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

function headerName(name) {
  if (typeof name === 'string' && RegExpPrototypeExec(LOWER_HTTP_TOKEN, name) !== null) return name;
  const string = toByteString(name);
  if (!isHttpToken(string)) throw new TypeError(`Invalid header name: "${string}"`);
  return StringPrototypeToLowerCase(string);
}

function headerValue(value) {
  const string = httpTrim(toByteString(value));
  if (!isHeaderValue(string)) throw new TypeError('Header values must not contain CR, LF or NUL');
  return string;
}

// The values of the entries named key combined with ", ", or null.
function headersCombined(list, key) {
  let combined = null;
  for (let i = 0; i < list.length; i++) {
    if (list[i][0] === key) combined = combined === null ? list[i][1] : `${combined}, ${list[i][1]}`;
  }
  return combined;
}

// The client's headers as the engine hands them over: one string of
// "\u0000name:value" fields (engine/src/request_scope.h, RequestHead), names
// in lower case, values as sent (no NUL in either, no ':' in a name). The
// Cache API and fetch() and dispatch responses hand a flat [name, value,
// ...] list instead, names as sent. Both are read as they are until
// something needs the whole list; only what headersClientList keeps counts.
const FIELD_START = '\u0000';

function headersClientCombined(client, key) {
  return typeof client === 'string' ? headersBlockCombined(client, key) : headersFlatCombined(client, key);
}

function headersClientList(client) {
  return typeof client === 'string' ? headersBlockList(client) : headersFlatList(client);
}

// key is a lower-case token (headerName): no NUL or ':' in it, so a match
// is a field's whole name.
function headersBlockCombined(block, key) {
  const field = `${FIELD_START}${key}:`;
  let combined = null;
  let at = StringPrototypeIndexOf(block, field);
  while (at !== -1) {
    const start = at + field.length;
    let end = StringPrototypeIndexOf(block, FIELD_START, start);
    if (end === -1) end = block.length;
    const value = httpTrim(StringPrototypeSlice(block, start, end));
    if (isHeaderValue(value)) combined = combined === null ? value : `${combined}, ${value}`;
    at = end === block.length ? -1 : StringPrototypeIndexOf(block, field, end);
  }
  return combined;
}

function headersBlockList(block) {
  const list = listNew();
  let at = StringPrototypeIndexOf(block, FIELD_START);
  while (at !== -1) {
    let end = StringPrototypeIndexOf(block, FIELD_START, at + 1);
    if (end === -1) end = block.length;
    const colon = StringPrototypeIndexOf(block, ':', at + 1);
    if (colon !== -1 && colon < end) {
      const name = StringPrototypeToLowerCase(StringPrototypeSlice(block, at + 1, colon));
      const value = httpTrim(StringPrototypeSlice(block, colon + 1, end));
      if (isHttpToken(name) && isHeaderValue(value)) listPush(list, [name, value]);
    }
    at = end === block.length ? -1 : end;
  }
  return list;
}

// A name whose lower case is key, a token, is a token itself (no Latin-1
// letter lower-cases to ASCII).
function headersFlatCombined(flat, key) {
  let combined = null;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    // The engine's strings: String() only in case, not a call for each.
    const name = typeof flat[i] === 'string' ? flat[i] : String(flat[i]);
    if (name.length !== key.length || (name !== key && StringPrototypeToLowerCase(name) !== key)) continue;
    const value = httpTrim(typeof flat[i + 1] === 'string' ? flat[i + 1] : String(flat[i + 1]));
    if (isHeaderValue(value)) combined = combined === null ? value : `${combined}, ${value}`;
  }
  return combined;
}

// Each lower-cased, its value trimmed. nginx has already vetted the
// request; whatever a Headers could not hold is dropped rather than failing
// the whole request.
function headersFlatList(flat) {
  const list = listNew();
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = String(flat[i]);
    const value = httpTrim(String(flat[i + 1]));
    if (isHttpToken(name) && isHeaderValue(value)) listPush(list, [StringPrototypeToLowerCase(name), value]);
  }
  return list;
}

// Every Headers without entries shares this list until its first append:
// a Response or Request that never gets a header allocates none. Frozen, so
// a push on it by mistake throws instead of reaching every Headers.
const HEADERS_NO_ENTRIES = ObjectFreeze(listNew());

// The values of the entries named key, in order, as a new list.
function headersValues(list, key) {
  const values = listNew();
  for (let i = 0; i < list.length; i++) {
    if (list[i][0] === key) listPush(values, list[i][1]);
  }
  return values;
}

function headersHas(list, key) {
  for (let i = 0; i < list.length; i++) {
    if (list[i][0] === key) return true;
  }
  return false;
}

// A new list without the entries named key, except the one at index keep.
function headersWithout(list, key, keep) {
  const rest = listNew();
  for (let i = 0; i < list.length; i++) {
    if (i === keep || list[i][0] !== key) listPush(rest, list[i]);
  }
  return rest;
}

function headersCopyList(list) {
  const copy = listNew();
  for (let i = 0; i < list.length; i++) listPush(copy, list[i]);
  return copy;
}

// Sorted by name; repeated names combined with ", ", except Set-Cookie.
function headersSortList(list) {
  // Most responses have one header (Content-Type) or none: the list is
  // already sorted. A literal is safe here, as the sorted list is only read
  // (a [[Set]] past its end is what needs listNew's lack of a prototype).
  if (list.length === 0) return HEADERS_NO_ENTRIES;
  if (list.length === 1) return [list[0]];
  const names = listNew();
  for (let i = 0; i < list.length; i++) {
    if (!ArrayPrototypeIncludes(names, list[i][0])) listPush(names, list[i][0]);
  }
  ArrayPrototypeSort(names);
  const sorted = listNew();
  for (let n = 0; n < names.length; n++) {
    const name = names[n];
    if (name === 'set-cookie') {
      for (let i = 0; i < list.length; i++) {
        if (list[i][0] === name) listPush(sorted, [name, list[i][1]]);
      }
    } else {
      let combined = null;
      for (let i = 0; i < list.length; i++) {
        if (list[i][0] === name) combined = combined === null ? list[i][1] : `${combined}, ${list[i][1]}`;
      }
      listPush(sorted, [name, combined]);
    }
  }
  return sorted;
}

class Headers {
  #list = HEADERS_NO_ENTRIES; // [lower-case name, value], in insertion order
  // The client's headers as the engine hands them, until something needs
  // #list: get() and has() read them as they are (see headersClientCombined).
  #client = null;
  #immutable = false;
  #sorted = null; // cache of the sorted-and-combined list, dropped on every change

  constructor(init = undefined) {
    if (init === undefined) return;
    if (!isObject(init)) {
      throw new TypeError('Headers: init must be a Headers, an array of [name, value] pairs or an object');
    }
    if (#list in init) {
      if (init.#client !== null) this.#client = init.#client; // never changes: shared
      else if (init.#list !== HEADERS_NO_ENTRIES) this.#list = headersCopyList(init.#list);
      return;
    }
    const pairs = toPairs(init, toByteString, 'Headers');
    for (let i = 0; i < pairs.length; i++) this.#append(pairs[i][0], pairs[i][1]);
  }

  append(name, value) {
    requireArgs(arguments.length, 2, 'Headers.append');
    this.#append(name, value);
  }

  delete(name) {
    requireArgs(arguments.length, 1, 'Headers.delete');
    const key = headerName(name);
    this.#checkMutable();
    this.#list = headersWithout(this.#entries(), key, -1);
    this.#sorted = null;
  }

  get(name) {
    requireArgs(arguments.length, 1, 'Headers.get');
    const key = headerName(name);
    return this.#client !== null ? headersClientCombined(this.#client, key) : headersCombined(this.#list, key);
  }

  getSetCookie() {
    return listToArray(headersValues(this.#entries(), 'set-cookie'));
  }

  // A Cloudflare extension older than getSetCookie(), for Set-Cookie only.
  getAll(name) {
    requireArgs(arguments.length, 1, 'Headers.getAll');
    const key = headerName(name);
    if (key !== 'set-cookie') throw new TypeError('getAll() can only be used with the header name "Set-Cookie".');
    return listToArray(headersValues(this.#entries(), key));
  }

  has(name) {
    requireArgs(arguments.length, 1, 'Headers.has');
    const key = headerName(name);
    return this.#client !== null ? headersClientCombined(this.#client, key) !== null : headersHas(this.#list, key);
  }

  set(name, value) {
    requireArgs(arguments.length, 2, 'Headers.set');
    const key = headerName(name);
    const normalized = headerValue(value);
    this.#checkMutable();
    const list = this.#growableEntries();
    let first = -1;
    for (let i = 0; i < list.length && first < 0; i++) {
      if (list[i][0] === key) first = i;
    }
    if (first < 0) {
      listPush(list, [key, normalized]);
    } else {
      list[first] = [key, normalized];
      this.#list = headersWithout(list, key, first);
    }
    this.#sorted = null;
  }

  forEach(callback, thisArg = undefined) {
    requireArgs(arguments.length, 1, 'Headers.forEach');
    if (typeof callback !== 'function') throw new TypeError('Headers.forEach: callback is not a function');
    // Re-read every step: the callback may change the headers.
    for (let i = 0; i < this.#sortedList().length; i++) {
      const pair = this.#sortedList()[i];
      ReflectApply(callback, thisArg, [pair[1], pair[0], this]);
    }
  }

  entries() {
    return headersIterator(() => this.#sortedList(), 'entries');
  }

  keys() {
    return headersIterator(() => this.#sortedList(), 'keys');
  }

  values() {
    return headersIterator(() => this.#sortedList(), 'values');
  }

  #append(name, value) {
    const key = headerName(name);
    const normalized = headerValue(value);
    this.#checkMutable();
    listPush(this.#growableEntries(), [key, normalized]);
    this.#sorted = null;
  }

  // #list, made from the client's headers first if need be.
  #entries() {
    if (this.#client !== null) {
      this.#list = headersClientList(this.#client);
      this.#client = null;
    }
    return this.#list;
  }

  // #list, never the shared empty one: for a push.
  #growableEntries() {
    const list = this.#entries();
    if (list === HEADERS_NO_ENTRIES) this.#list = listNew();
    return this.#list;
  }

  #checkMutable() {
    if (this.#immutable) throw new TypeError("Can't modify immutable headers");
  }

  #sortedList() {
    if (this.#sorted === null) this.#sorted = headersSortList(this.#entries());
    return this.#sorted;
  }

  static {
    headersSetImmutable = (headers) => {
      headers.#immutable = true;
    };
    headersCopy = (headers) => {
      const copy = new Headers(headers);
      copy.#immutable = headers.#immutable;
      return copy;
    };
    // The values come from the built-ins (content types, Location), but some
    // are made from tenant input: they are checked as append() checks them.
    headersSetDefault = (headers, name, value) => {
      if (!isHeaderValue(value)) throw new TypeError('Header values must not contain CR, LF or NUL');
      if (!headersHas(headers.#entries(), name)) {
        listPush(headers.#growableEntries(), [name, value]);
        headers.#sorted = null;
      }
    };
    headersSorted = (headers) => headers.#sortedList();
    headersFromClient = (client) => {
      const headers = new Headers();
      headers.#client = client; // read as it is, built into #list on demand
      headers.#immutable = true;
      return headers;
    };
    registerInspector('Headers', (value) => {
      if (!(#list in value)) return undefined;
      const summary = { __proto__: null };
      const sorted = value.#sortedList();
      for (let i = 0; i < sorted.length; i++) {
        const name = sorted[i][0];
        const combined = sorted[i][1];
        summary[name] = ObjectHasOwn(summary, name) ? `${summary[name]}, ${combined}` : combined;
      }
      return summary;
    });
  }
}

setToStringTag(Headers.prototype, 'Headers');
defineIterable(Headers);
defineGlobal('Headers', Headers);
