// Headers (WHATWG Fetch). Names are stored lower-case in insertion order;
// iteration is sorted by name and combines repeated names with ", ", except
// Set-Cookie, which stays one entry per cookie.

const HTTP_WHITESPACE_EDGES = /^[\t\n\r ]+|[\t\n\r ]+$/g;

// Internal access for the other built-ins, assigned in the class's static block.
let headersSetImmutable; // (headers) -> void
let headersCopy; // (headers) -> a new Headers with the same entries and mutability
let headersSetDefault; // (headers, name, value) -> appends unless name is present, ignoring mutability
let headersSorted; // (headers) -> the internal [name, value] list; do not hand it to tenants
let headersFromClient; // (flat [name, value, ...] from the engine) -> immutable Headers

const headersIterator = iteratorFactory('Headers Iterator');

function headerName(name) {
  const string = toByteString(name);
  if (!HTTP_TOKEN.test(string)) throw new TypeError(`Invalid header name: "${string}"`);
  return string.toLowerCase();
}

function headerValue(value) {
  const string = toByteString(value).replace(HTTP_WHITESPACE_EDGES, '');
  if (/[\0\r\n]/.test(string)) throw new TypeError('Header values must not contain CR, LF or NUL');
  return string;
}

class Headers {
  #list = []; // [lower-case name, value], in insertion order
  #immutable = false;
  #sorted = null; // cache of the sorted-and-combined list, dropped on every change

  constructor(init = undefined) {
    if (init === undefined) return;
    if (!isObject(init)) {
      throw new TypeError('Headers: init must be a Headers, an array of [name, value] pairs or an object');
    }
    if (#list in init) {
      this.#list = init.#list.map(([name, value]) => [name, value]);
      return;
    }
    for (const [name, value] of toPairs(init, toByteString, 'Headers')) this.#append(name, value);
  }

  append(name, value) {
    requireArgs(arguments.length, 2, 'Headers.append');
    this.#append(name, value);
  }

  delete(name) {
    requireArgs(arguments.length, 1, 'Headers.delete');
    const key = headerName(name);
    this.#checkMutable();
    this.#list = this.#list.filter((entry) => entry[0] !== key);
    this.#sorted = null;
  }

  get(name) {
    requireArgs(arguments.length, 1, 'Headers.get');
    const values = this.#values(headerName(name));
    return values.length === 0 ? null : values.join(', ');
  }

  getSetCookie() {
    return this.#values('set-cookie');
  }

  // A Cloudflare extension older than getSetCookie(), for Set-Cookie only.
  getAll(name) {
    requireArgs(arguments.length, 1, 'Headers.getAll');
    const key = headerName(name);
    if (key !== 'set-cookie') throw new TypeError('getAll() can only be used with the header name "Set-Cookie".');
    return this.#values(key);
  }

  has(name) {
    requireArgs(arguments.length, 1, 'Headers.has');
    const key = headerName(name);
    return this.#list.some((entry) => entry[0] === key);
  }

  set(name, value) {
    requireArgs(arguments.length, 2, 'Headers.set');
    const key = headerName(name);
    const normalized = headerValue(value);
    this.#checkMutable();
    const first = this.#list.findIndex((entry) => entry[0] === key);
    if (first < 0) {
      this.#list.push([key, normalized]);
    } else {
      this.#list[first] = [key, normalized];
      this.#list = this.#list.filter((entry, i) => i <= first || entry[0] !== key);
    }
    this.#sorted = null;
  }

  forEach(callback, thisArg = undefined) {
    requireArgs(arguments.length, 1, 'Headers.forEach');
    if (typeof callback !== 'function') throw new TypeError('Headers.forEach: callback is not a function');
    // Re-read every step: the callback may change the headers.
    for (let i = 0; i < this.#sortedList().length; i++) {
      const [name, value] = this.#sortedList()[i];
      Reflect.apply(callback, thisArg, [value, name, this]);
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
    this.#list.push([key, normalized]);
    this.#sorted = null;
  }

  #checkMutable() {
    if (this.#immutable) throw new TypeError("Can't modify immutable headers");
  }

  #values(key) {
    return this.#list.filter((entry) => entry[0] === key).map((entry) => entry[1]);
  }

  #sortedList() {
    if (this.#sorted === null) {
      const sorted = [];
      for (const name of [...new Set(this.#list.map((entry) => entry[0]))].sort()) {
        if (name === 'set-cookie') {
          for (const value of this.#values(name)) sorted.push([name, value]);
        } else {
          sorted.push([name, this.#values(name).join(', ')]);
        }
      }
      this.#sorted = sorted;
    }
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
    headersSetDefault = (headers, name, value) => {
      if (!headers.#list.some((entry) => entry[0] === name)) {
        headers.#list.push([name, value]);
        headers.#sorted = null;
      }
    };
    headersSorted = (headers) => headers.#sortedList();
    headersFromClient = (flat) => {
      const headers = new Headers();
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const name = String(flat[i]);
        const value = String(flat[i + 1]).replace(HTTP_WHITESPACE_EDGES, '');
        // nginx has already vetted the request; whatever a Headers could not
        // hold is dropped rather than failing the whole request.
        if (HTTP_TOKEN.test(name) && !/[\0\r\n]/.test(value)) headers.#list.push([name.toLowerCase(), value]);
      }
      headers.#immutable = true;
      return headers;
    };
    registerInspector('Headers', (value) => {
      if (!(#list in value)) return undefined;
      const summary = Object.create(null);
      for (const [name, combined] of value.#sortedList()) {
        summary[name] = Object.hasOwn(summary, name) ? `${summary[name]}, ${combined}` : combined;
      }
      return summary;
    });
  }
}

setToStringTag(Headers.prototype, 'Headers');
defineIterable(Headers);
defineGlobal('Headers', Headers);
