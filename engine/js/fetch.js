// fetch() (WHATWG Fetch, as Cloudflare Workers has it) over the engine's
// HTTP/1.1 client (engine/src/api/fetch.h, fetch_client.h). Here: the
// Request the call describes, redirects (each hop a new exchange, checked
// by the engine's egress policy again), bodies as streams both ways, abort,
// and content decoding. The engine decides where a connection may go, and
// counts every exchange against dispatch_subrequest_limit.

const FETCH_REDIRECT_STATUSES = [301, 302, 303, 307, 308];
const FETCH_NULL_BODY_STATUSES = [101, 103, 204, 205, 304];
const FETCH_MAX_REDIRECTS = 20;
// The engine frames the message and runs the connection itself.
const FETCH_DROPPED_HEADERS = ['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive',
  'te', 'trailer', 'upgrade', 'proxy-connection'];
// Fetch's "request-body-header names": dropped with the body on a redirect to GET.
const FETCH_BODY_HEADERS = ['content-encoding', 'content-language', 'content-location', 'content-type'];
const FetchPromiseThen = NativeStreamPromiseThen;

// [name, value, ...] of what the request sends.
function fetchHeaderList(headers, dropBodyHeaders, dropAuthorization) {
  const list = headersSorted(headers);
  const flat = listNew();
  let acceptEncoding = false;
  for (let i = 0; i < list.length; i++) {
    const name = list[i][0];
    if (ArrayPrototypeIncludes(FETCH_DROPPED_HEADERS, name) || StringPrototypeSlice(name, 0, 6) === 'proxy-') continue;
    if (dropBodyHeaders && ArrayPrototypeIncludes(FETCH_BODY_HEADERS, name)) continue;
    if (dropAuthorization && name === 'authorization') continue;
    if (name === 'accept-encoding') acceptEncoding = true;
    listPush(flat, name);
    listPush(flat, list[i][1]);
  }
  if (!acceptEncoding) {
    listPush(flat, 'accept-encoding');
    listPush(flat, 'gzip, deflate');
  }
  return flat;
}

// The response's body as it arrives, from the engine's reads of the
// upstream.
function fetchBodyStream(id, state) {
  // null-prototype: the built-ins ask a stream's source for requestId,
  // length and bytes, and none may come from a tenant's Object.prototype.
  return nativeByteStream({
    __proto__: null,
    fetchId: id,
    read: () => native.fetchRead(id),
    start(controller) {
      state.controller = controller;
    },
    cancel() {
      native.fetchAbort(id);
    },
  }, () => state.aborted);
}

// gzip and deflate bodies are decoded, as browsers do (the response then
// has no Content-Encoding or Content-Length: they would describe bytes it
// does not hold).
function fetchDecoding(list) {
  for (let i = 0; i < list.length; i += 2) {
    if (StringPrototypeToLowerCase(list[i]) !== 'content-encoding') continue;
    const coding = StringPrototypeToLowerCase(httpTrim(list[i + 1]));
    if (coding === 'gzip' || coding === 'x-gzip') return 'gzip';
    if (coding === 'deflate') return 'deflate-any'; // zlib-wrapped or raw, as servers send it
  }
  return null;
}

function fetchWithout(list, names) {
  const out = listNew();
  for (let i = 0; i < list.length; i += 2) {
    if (ArrayPrototypeIncludes(names, StringPrototypeToLowerCase(list[i]))) continue;
    listPush(out, list[i]);
    listPush(out, list[i + 1]);
  }
  return out;
}

function fetchDecode(stream, format) {
  const zlib = zlibStreams(format, true);
  const piping = rsPipeTo(readableRecordOf(stream), writableRecordOf(zlib.writable), false, false, false,
    undefined, true);
  streamMarkHandled(piping);
  return zlib.readable;
}

function fetchHeader(list, name) {
  for (let i = 0; i < list.length; i += 2) {
    if (StringPrototypeToLowerCase(list[i]) === name) return list[i + 1];
  }
  return null;
}

// Sends a streamed request body as it is produced: write(chunk) returns
// undefined, or a promise to wait on (the receiver's pace); end() after the
// last; fail(error) once, if the stream breaks (unless state.aborted).
async function nativeUpload(stream, state, write, end, fail) {
  const reader = readableStreamGetReader(stream);
  try {
    for (;;) {
      const result = await readableStreamReaderRead(reader);
      if (state.aborted) return;
      if (result.done) break;
      const chunk = result.value;
      if (!isArrayBuffer(chunk) && !ArrayBufferIsView(chunk)) {
        throw new TypeError('This ReadableStream did not return bytes.');
      }
      const wait = write(chunk);
      if (wait !== undefined) await wait;
    }
    end();
  } catch (error) {
    if (!state.aborted) fail(error);
  }
}

// The engine's send buffer paces it.
function fetchUpload(id, stream, state) {
  nativeUpload(stream, state, (chunk) => native.fetchWrite(id, chunk), () => native.fetchEnd(id), (error) => {
    native.fetchAbort(id);
    state.uploadError = error;
    if (state.rejectHead !== null) state.rejectHead(error);
  });
}

function fetchUrlParts(url) {
  const scheme = url.scheme;
  if (scheme !== 'http' && scheme !== 'https') {
    throw new TypeError(`Fetch API cannot load ${urlSerialize(url)}: only http: and https: URLs are supported`);
  }
  let path = urlPathname(url);
  if (url.query !== null) path += `?${url.query}`;
  const port = url.port === null ? (scheme === 'https' ? 443 : 80) : url.port;
  return { __proto__: null, tls: scheme === 'https', host: url.host, port, path };
}

async function fetch(input, init = undefined) {
  requireArgs(arguments.length, 1, 'fetch');
  // A script dispatched through a binding with an outbound worker: the
  // request goes to that script instead, which sends it on (or not) with
  // its own fetch().
  if (native.dispatchOutbound()) return dispatchFetch(-1, '', '', -1, -1, '', input, init);
  // The Request the call describes: its checks run here, and a Request
  // given as input gives its body up to it.
  const request = new Request(input, init);
  const parts = requestParts(request);
  const signal = parts.signal;
  const state = { __proto__: null, aborted: false, id: 0, controller: null, rejectHead: null, uploadError: null };
  if (signal !== null && abortSignalIs(signal)) {
    if (signal.aborted) throw signal.reason;
    abortSignalAddAlgorithm(signal, () => {
      state.aborted = true;
      if (state.id !== 0) native.fetchAbort(state.id);
      if (state.rejectHead !== null) state.rejectHead(signal.reason);
      if (state.controller !== null) {
        try {
          readableStreamControllerError(state.controller, signal.reason);
        } catch {
          // closed already
        }
      }
    });
  }

  let method = parts.method;
  let url = urlParseAbsolute(parts.url);
  let bytes = bodyPeek(request);
  let stream = bytes === null ? bodyStream(request) : null;
  let dropBodyHeaders = false;
  let dropAuthorization = false;
  let redirected = false;
  let sentStream = false;
  for (let hops = 0; ; hops++) {
    const target = fetchUrlParts(url);
    let length = -1;
    if (stream !== null) {
      if (readableStreamIsLocked(stream) || readableStreamIsDisturbed(stream)) {
        throw new TypeError('fetch(): the request body has already been read');
      }
      const source = readableStreamSource(stream);
      if (source !== null && source.requestId !== undefined) length = source.length;
      else length = fixedLengthOf(stream);
      if (source !== null && source.bytes !== undefined) {
        bytes = source.bytes; // made from bytes, never read: sent whole
        stream = null;
      }
    }
    const id = native.fetchStart(method, target.tls, target.host, target.port, target.path,
      fetchHeaderList(parts.headers, dropBodyHeaders, dropAuthorization),
      stream !== null ? true : bytes, length);
    state.id = id;
    if (stream !== null) {
      sentStream = true;
      fetchUpload(id, stream, state);
      stream = null; // read once: a redirect cannot send it again
      bytes = null;
    }
    const head = await new Promise((resolve, reject) => {
      state.rejectHead = reject;
      FetchPromiseThen(native.fetchHead(id), resolve, reject);
    });
    state.rejectHead = null;
    if (state.aborted) throw signal.reason;
    const status = head[0];
    const statusText = head[1];
    let list = head[2];
    if (status < 200 || status > 599) {
      native.fetchAbort(id);
      throw new TypeError(`fetch(): the upstream answered with status ${status}`);
    }
    const location = ArrayPrototypeIncludes(FETCH_REDIRECT_STATUSES, status) ? fetchHeader(list, 'location') : null;
    if (location !== null && parts.redirect !== 'manual') {
      native.fetchAbort(id); // its body is not read: the connection goes
      if (parts.redirect === 'error') {
        throw new TypeError(`fetch(): ${urlSerialize(url)} redirected and the request's redirect mode is "error"`);
      }
      const next = urlParse(location, url);
      if (next === null) throw new TypeError(`fetch(): the redirect to "${location}" is not a valid URL`);
      if (hops + 1 > FETCH_MAX_REDIRECTS) throw new TypeError('fetch(): too many redirects (more than 20)');
      const toGet = ((status === 301 || status === 302) && method === 'POST')
        || (status === 303 && method !== 'GET' && method !== 'HEAD');
      if (sentStream && !toGet) {
        // a streamed body was read once: it cannot be sent again
        throw new TypeError('fetch(): cannot follow a redirect with a streamed request body');
      }
      if (((status === 301 || status === 302) && method === 'POST') || (status === 303 && method !== 'GET'
          && method !== 'HEAD')) {
        method = 'GET';
        bytes = null;
        stream = null;
        dropBodyHeaders = true;
      }
      if (urlOrigin(next) !== urlOrigin(url)) dropAuthorization = true;
      url = next;
      redirected = true;
      continue;
    }
    let body = null;
    if (method !== 'HEAD' && !ArrayPrototypeIncludes(FETCH_NULL_BODY_STATUSES, status)) {
      body = fetchBodyStream(id, state);
      const coding = fetchDecoding(list);
      if (coding !== null) {
        body = fetchDecode(body, coding);
        list = fetchWithout(list, ['content-encoding', 'content-length']);
      }
    } else {
      native.fetchAbort(id);
    }
    return responseFromFetch(status, statusText, list, body, urlSerialize(url, true), redirected);
  }
}

defineGlobal('fetch', fetch);
