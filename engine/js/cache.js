// The Cache API as Workers define it: caches.default and caches.open(name),
// each a Cache with match, put and delete. Entries live in the node's cache
// (api/cache.h, cache_store.h): the engine builds every key from the calling
// script's own namespace and name, so a cache name or URL chosen here never
// reaches another tenant's entries. Bodies stream to and from disk in
// pieces: put() never holds the whole body, and match() hands back a stream.
//
// Made on first use in an isolate (lazyGlobal): a function the snapshot
// holds uncompiled costs a cold start next to nothing.

const CacheDateParse = Date.parse; // captured before any tenant code runs

// Cache, CacheStorage and the one `caches` of this isolate.
let cacheApi = null;
function cacheClasses() {
  if (cacheApi !== null) return cacheApi;
  // Cloudflare's edge TTLs for a response without Cache-Control or Expires
  // (seconds); other statuses are not cached without them.
  const CACHE_DEFAULT_TTL = { __proto__: null, 200: 7200, 206: 7200, 301: 7200, 302: 1200, 303: 1200, 404: 180, 410: 180 };

  // One Cache-Control directive per match: name, then its value (quoted or not).
  const CACHE_CONTROL_DIRECTIVE = /\s*([^,=\s]+)\s*(?:=\s*(?:"([^"]*)"|([^,\s]*)))?\s*(?:,|$)/y;
  const CACHE_RANGE = /^bytes=(\d*)-(\d*)$/;
  const CACHE_LIST_ITEM = /\s*([^,\s]+)\s*(?:,|$)/y;

  let cacheLoggedDisabled = false;

  // Each match of a sticky regex, one after the other from the start of
  // value, to each(match); stops at the first place it does not match.
  function cacheScan(regex, value, each) {
    if (value === null) return;
    regex.lastIndex = 0;
    while (regex.lastIndex < value.length) {
      const at = regex.lastIndex;
      const m = RegExpPrototypeExec(regex, value);
      if (m === null || regex.lastIndex === at) return;
      each(m);
    }
  }

  // Cache-Control as a null-prototype record of lower-case names to values
  // ('' for a bare directive).
  function cacheControlParse(value) {
    const directives = { __proto__: null };
    cacheScan(CACHE_CONTROL_DIRECTIVE, value, (m) => {
      const name = StringPrototypeToLowerCase(m[1]);
      if (!(name in directives)) directives[name] = m[2] ?? m[3] ?? '';
    });
    return directives;
  }

  // The items of a comma-separated header value, trimmed.
  function cacheListItems(value) {
    const items = listNew();
    cacheScan(CACHE_LIST_ITEM, value, (m) => listPush(items, m[1]));
    return items;
  }

  // Header names in a Vary value (or in private="..."), lower-case.
  function cacheVaryNames(value) {
    const names = cacheListItems(value);
    for (let i = 0; i < names.length; i++) names[i] = StringPrototypeToLowerCase(names[i]);
    return names;
  }

  // The combined value of header name in a sorted internal list, or null.
  function cacheHeader(sorted, name) {
    for (let i = 0; i < sorted.length; i++) {
      if (sorted[i][0] === name) return sorted[i][1];
    }
    return null;
  }

  function cacheSeconds(text) {
    if (RegExpPrototypeExec(/^\d+$/, text) === null) return -1;
    return NumberParseInt(text, 10);
  }

  // How long a response may be kept, in ms; 0: not at all.
  function cacheTtl(status, sorted) {
    const cc = cacheControlParse(cacheHeader(sorted, 'cache-control'));
    if ('no-store' in cc || 'no-cache' in cc) return 0;
    if ('private' in cc && cc.private === '') return 0;
    const maxAge = 's-maxage' in cc ? cc['s-maxage'] : 'max-age' in cc ? cc['max-age'] : null;
    if (maxAge !== null) {
      const seconds = cacheSeconds(maxAge);
      return seconds > 0 ? MathMin(seconds, 1e9) * 1000 : 0;
    }
    const expires = cacheHeader(sorted, 'expires');
    if (expires !== null) {
      const at = CacheDateParse(expires);
      return NumberIsFinite(at) && at > DateNow() ? at - DateNow() : 0;
    }
    const seconds = CACHE_DEFAULT_TTL[status];
    return seconds === undefined ? 0 : seconds * 1000;
  }

  // The request a Cache method was given: method, URL without its fragment,
  // and its headers' sorted internal list.
  function cacheRequest(input, what) {
    const request = requestIs(input) ? input : new Request(input);
    const parts = requestParts(request);
    let url = parts.url;
    for (let i = 0; i < url.length; i++) {
      if (StringPrototypeCharCodeAt(url, i) === 0x23) {
        url = StringPrototypeSlice(url, 0, i);
        break;
      }
    }
    return { __proto__: null, method: parts.method, url, headers: headersSorted(parts.headers) };
  }

  function cacheIgnoreMethod(options) {
    return isObject(options) && !!options.ignoreMethod;
  }

  // Reads the body of a response handed to put() to its end, piece by piece,
  // into the writer (null: not to be stored, so a stream is cancelled). The
  // response reads as used either way. True when all of it was written.
  async function cachePutBody(response, handle) {
    const holder = new Response();
    bodyMove(holder, response);
    const bytes = bodyPeek(holder);
    if (bytes !== null) return handle === null || native.cachePutWrite(handle, bytes);
    const stream = bodyStream(holder);
    if (stream === null) return true;
    if (handle === null) {
      // Not to be stored: nothing reads the rest of it.
      await readableStreamCancel(stream, new TypeError('The response is not cached.'));
      return false;
    }
    const reader = readableStreamGetReader(stream);
    for (;;) {
      const result = await readableStreamReaderRead(reader);
      if (result.done) return true;
      const chunk = result.value;
      if (!isArrayBuffer(chunk) && !ArrayBufferIsView(chunk)) {
        throw new TypeError('This ReadableStream did not return bytes.');
      }
      if (!native.cachePutWrite(handle, chunk)) {
        // Over the tenant's bound: it will not be stored; stop reading.
        await readableStreamCancel(stream, new TypeError('The response is too large to cache.'));
        return false;
      }
    }
  }

  // The 206 (or 416) answer to a Range header over a body of length bytes:
  // [status, start, end] or null to answer the whole body.
  function cacheRange(value, length) {
    const m = RegExpPrototypeExec(CACHE_RANGE, value);
    if (m === null || (m[1] === '' && m[2] === '')) return null; // not one byte range: the whole body
    let start;
    let end;
    if (m[1] === '') {
      const suffix = NumberParseInt(m[2], 10);
      if (suffix === 0) return [416, 0, 0];
      start = MathMax(0, length - suffix);
      end = length;
    } else {
      start = NumberParseInt(m[1], 10);
      end = m[2] === '' ? length : MathMin(length, NumberParseInt(m[2], 10) + 1);
      if (m[2] !== '' && NumberParseInt(m[2], 10) < start) return null;
    }
    if (!(start < length) || !(start < end)) return [416, 0, 0];
    return [206, start, end];
  }

  // If-None-Match's weak comparison (RFC 9110 8.8.3.2): W/ aside, the same
  // opaque tag. The header is a comma-separated list (or *).
  function cacheEtagMatches(header, etag) {
    if (header === '*') return true;
    const weak = (tag) => (StringPrototypeSlice(tag, 0, 2) === 'W/' ? StringPrototypeSlice(tag, 2) : tag);
    const want = weak(etag);
    const tags = cacheListItems(header);
    for (let i = 0; i < tags.length; i++) {
      if (weak(tags[i]) === want) return true;
    }
    return false;
  }

  // What put() wrote at the head of an entry, checked as it was meant to be
  // (a file is never trusted): null when it is not.
  function cacheMetaParse(text) {
    let meta;
    try {
      meta = JSONParse(text);
    } catch {
      return null;
    }
    if (!isObject(meta) || !NumberIsInteger(meta.s) || meta.s < 200 || meta.s > 599 || typeof meta.t !== 'string' ||
        !ArrayIsArray(meta.h) || !ArrayIsArray(meta.v)) {
      return null;
    }
    for (let i = 0; i < meta.h.length; i++) if (typeof meta.h[i] !== 'string') return null;
    for (let i = 0; i < meta.v.length; i++) {
      const pair = meta.v[i];
      if (!ArrayIsArray(pair) || typeof pair[0] !== 'string' || (pair[1] !== null && typeof pair[1] !== 'string')) return null;
    }
    return meta;
  }

  // Whether the request's validators say the client has the stored entry:
  // If-None-Match against its ETag, else If-Modified-Since against its
  // Last-Modified (RFC 9110 13.2.2).
  function cacheNotModified(stored, requestHeaders) {
    const ifNoneMatch = cacheHeader(requestHeaders, 'if-none-match');
    if (ifNoneMatch !== null) {
      const etag = cacheFlatHeader(stored, 'etag');
      return etag !== null && cacheEtagMatches(ifNoneMatch, etag);
    }
    const since = cacheHeader(requestHeaders, 'if-modified-since');
    const modified = cacheFlatHeader(stored, 'last-modified');
    if (since === null || modified === null) return false;
    const sinceMs = CacheDateParse(since);
    const modifiedMs = CacheDateParse(modified);
    return NumberIsFinite(sinceMs) && NumberIsFinite(modifiedMs) && modifiedMs <= sinceMs;
  }

  class Cache {
    #name;

    constructor(token, name) {
      if (token !== INTERNAL) throw new TypeError('Illegal constructor');
      this.#name = name;
    }

    async match(request, options = undefined) {
      const req = cacheRequest(request, 'match');
      if (req.method !== 'GET' && !cacheIgnoreMethod(options)) return undefined;
      const found = native.cacheOpen(this.#name, req.url);
      if (found === null) return undefined;
      const handle = found[0];
      const meta = cacheMetaParse(found[1]);
      if (meta === null) {
        native.freeNative(handle);
        return undefined;
      }
      // The entry answers only requests with the Vary values it was stored for.
      const vary = meta.v;
      for (let i = 0; i < vary.length; i++) {
        if (cacheHeader(req.headers, vary[i][0]) !== vary[i][1]) {
          native.freeNative(handle);
          return undefined;
        }
      }
      const length = found[2];
      let headers = listNew();
      for (let i = 0; i < meta.h.length; i++) listPush(headers, meta.h[i]);
      // the cache's own say on these, not a stored copy's
      headers = cacheWithout(cacheWithout(headers, 'age'), 'cf-cache-status');
      listPush(headers, 'cf-cache-status');
      listPush(headers, 'HIT');
      listPush(headers, 'age');
      listPush(headers, NumberPrototypeToString(found[3], 10));
      let status = meta.s;
      let statusText = meta.t;

      if (cacheNotModified(meta.h, req.headers)) {
        native.freeNative(handle);
        return responseFromFetch(304, 'Not Modified', cacheWithout(headers, 'content-length'), null, '', false);
      }
      const rangeHeader = cacheHeader(req.headers, 'range');
      const range = rangeHeader === null || status !== 200 ? null : cacheRange(rangeHeader, length);
      let out = headers;
      if (range !== null && range[0] === 416) {
        native.freeNative(handle);
        out = cacheWithout(headers, 'content-length');
        listPush(out, 'content-range');
        listPush(out, `bytes */${length}`);
        return responseFromFetch(416, 'Range Not Satisfiable', out, null, '', false);
      }
      if (range !== null) {
        native.cacheSetRange(handle, range[1], range[2]);
        status = 206;
        statusText = 'Partial Content';
        out = cacheWithout(headers, 'content-length');
        listPush(out, 'content-range');
        listPush(out, `bytes ${range[1]}-${range[2] - 1}/${length}`);
        listPush(out, 'content-length');
        listPush(out, NumberPrototypeToString(range[2] - range[1], 10));
      }
      if (isNullBodyStatus(status)) {
        native.freeNative(handle);
        return responseFromFetch(status, statusText, out, null, '', false);
      }
      const stream = nativeByteStream({ __proto__: null, read: () => native.cacheRead(handle) });
      return responseFromFetch(status, statusText, out, stream, '', false);
    }

    async put(request, response) {
      const req = cacheRequest(request, 'put');
      if (req.method !== 'GET') throw new TypeError('Cannot cache response to non-GET request.');
      if (!responseIs(response)) throw new TypeError("Failed to execute 'put' on 'Cache': parameter 2 is not of type 'Response'.");
      const parts = responseParts(response);
      if (parts.status === 206) throw new TypeError('Cannot cache response to a range request (206 Partial Content).');
      if (bodyIsUsed(response)) throw new TypeError('Cannot cache a response whose body has already been used.');
      const sorted = headersSorted(parts.headers);
      const varyNames = cacheVaryNames(cacheHeader(sorted, 'vary'));
      if (ArrayPrototypeIncludes(varyNames, '*')) throw new TypeError("Cannot cache response with 'Vary: *' header.");

      let ttl = cacheTtl(parts.status, sorted);
      // Set-Cookie marks a response for one client: not stored, unless
      // Cache-Control: private=Set-Cookie says to store it without the cookies.
      let stored = listNew();
      const cc = cacheControlParse(cacheHeader(sorted, 'cache-control'));
      const dropCookies = 'private' in cc && cacheVaryNames(cc.private).length > 0 &&
        ArrayPrototypeIncludes(cacheVaryNames(cc.private), 'set-cookie');
      for (let i = 0; i < sorted.length; i++) {
        if (sorted[i][0] === 'set-cookie') {
          if (dropCookies) continue;
          ttl = 0;
        }
        listPush(stored, sorted[i][0]);
        listPush(stored, sorted[i][1]);
      }
      const vary = listNew();
      for (let i = 0; i < varyNames.length; i++) {
        const pair = listNew();
        listPush(pair, varyNames[i]);
        listPush(pair, cacheHeader(req.headers, varyNames[i]));
        listPush(vary, pair);
      }

      let handle = null;
      if (ttl > 0) {
        // Prototype-less throughout: no toJSON a tenant put on a prototype runs.
        const meta = JSONStringify({ __proto__: null, s: parts.status, t: parts.statusText, h: stored, v: vary });
        handle = native.cachePutBegin(this.#name, req.url, meta, ttl);
      }
      if (handle === null && !cacheLoggedDisabled && !native.cacheEnabled()) {
        cacheLoggedDisabled = true;
        consoleEmit('warn', ['caches: no dispatch_cache_path is configured: cache.put() stores nothing']);
      }
      let complete = false;
      try {
        complete = await cachePutBody(response, handle);
      } finally {
        if (handle !== null && !complete) native.freeNative(handle);
      }
      if (handle !== null && complete) native.cachePutCommit(handle);
    }

    async delete(request, options = undefined) {
      const req = cacheRequest(request, 'delete');
      if (req.method !== 'GET' && !cacheIgnoreMethod(options)) return false;
      return native.cacheDelete(this.#name, req.url);
    }
  }
  setToStringTag(Cache.prototype, 'Cache');

  // A flat [name, value, ...] list: the value of name, or null.
  function cacheFlatHeader(flat, name) {
    for (let i = 0; i + 1 < flat.length; i += 2) {
      if (flat[i] === name) return flat[i + 1];
    }
    return null;
  }

  // A flat list without the entries named name.
  function cacheWithout(flat, name) {
    const out = listNew();
    for (let i = 0; i + 1 < flat.length; i += 2) {
      if (flat[i] === name) continue;
      listPush(out, flat[i]);
      listPush(out, flat[i + 1]);
    }
    return out;
  }

  const CACHE_NAME_MAX = 1024;

  class CacheStorage {
    #default = null;

    constructor(token) {
      if (token !== INTERNAL) throw new TypeError('Illegal constructor');
    }

    // Named caches and the default one never share entries: their names are
    // told apart before the engine sees them.
    get default() {
      if (this.#default === null) this.#default = new Cache(INTERNAL, 'default');
      return this.#default;
    }

    async open(cacheName) {
      requireArgs(arguments.length, 1, 'caches.open');
      const name = toUSVString(cacheName);
      if (name.length > CACHE_NAME_MAX) throw new TypeError('Cache name is too long.');
      return new Cache(INTERNAL, `named:${name}`);
    }
  }
  setToStringTag(CacheStorage.prototype, 'CacheStorage');

  cacheApi = { __proto__: null, Cache, CacheStorage, caches: new CacheStorage(INTERNAL) };
  return cacheApi;
}

lazyGlobal('Cache', () => cacheClasses().Cache);
lazyGlobal('CacheStorage', () => cacheClasses().CacheStorage);
lazyGlobal('caches', () => cacheClasses().caches);
