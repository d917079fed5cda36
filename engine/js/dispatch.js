// The entry point the engine calls for each request; see invoke() below.

function describeValue(value) {
  if (value === undefined || value === null) return String(value);
  if (ArrayIsArray(value)) return 'an array';
  const type = typeof value;
  return `${type === 'object' || type === 'undefined' ? 'an' : 'a'} ${type}`;
}

// Runs the tenant's fetch handler for one request. Resolves to
// [status, statusText, [name, value, ...], Uint8Array or null for a null body];
// rejects with whatever the handler threw, or a TypeError if the handler is
// missing or did not produce a sendable Response. The engine reads what it
// became (checking every part as hostile): an async function's promise
// settles without calling anything a tenant can replace.
async function invoke(exports, env, ctx, method, url, headerList, body, streamed, id, cf) {
  const handler = isObject(exports) ? exports.fetch : undefined;
  if (typeof handler !== 'function') {
    throw new TypeError('the script has no default export with a fetch() handler');
  }
  const request = requestFromClient(method, url, headerList, body, streamed, id, cf);
  const response = await ReflectApply(handler, exports, [request, env, ctx]);
  if (!responseIs(response)) {
    throw new TypeError(`the fetch handler returned ${describeValue(response)}, not a Response`);
  }
  return responseOutput(response);
}

// The `ctx` of fetch(request, env, ctx).
class ExecutionContext {
  #id;

  constructor(token, id) {
    if (token !== INTERNAL) throw new TypeError('Illegal constructor');
    this.#id = id;
  }

  // The engine keeps the request's work going after the response is sent,
  // until every promise given here settles (30 s at most). It holds the
  // promise itself: nothing is chained onto it here.
  waitUntil(promise) {
    native.waitUntil(this.#id, promise);
  }

  passThroughOnException() {}
}
setToStringTag(ExecutionContext.prototype, 'ExecutionContext');

// What the engine calls for request `id`; it reads the promise returned.
// streamed is -2 for a body that came whole (body), else the body's
// Content-Length or -1, and request.body pulls it from the engine. cf is
// request.cf, frozen by the engine (api/request_cf.h).
function run(id, exports, env, method, url, headerList, body, streamed, cf) {
  return invoke(exports, env, new ExecutionContext(INTERNAL, id), method, url, headerList, body, streamed, id, cf);
}

// A streamed response body, as the engine reads it when the client can
// take more: handle is responseOutput's frozen [stream, reader]. Resolves
// to a frozen, prototype-less [Uint8Array], or [null] at the end (see
// bodyBox); rejects when the stream fails or gives something not bytes.
async function readBody(handle) {
  const result = await readableStreamReaderRead(handle[1]);
  if (result.done) return bodyBox(null);
  const chunk = result.value;
  if (!isArrayBuffer(chunk) && !ArrayBufferIsView(chunk)) {
    throw new TypeError('This ReadableStream did not return bytes.');
  }
  return bodyBox(viewBytes(chunk));
}

// The client went away: the stream is cancelled, and its source's cancel
// callback runs (the engine waits for it as for ctx.waitUntil).
async function cancelBody(handle) {
  await readableStreamCancel(handle[0], new TypeError('Network connection lost.'));
}

// The startup snapshot keeps the functions compiled when it is made
// (startup_snapshot.h): run once there with a request of the engine's own,
// the request path's built-ins are compiled in every isolate from the
// start, not lazily in each one's first request (a quarter of a cold
// start). Nothing on this path may call a native: the snapshot's isolate
// has no tenant and no budget (so no body).
function warmUp() {
  const headerList = ObjectFreeze(ObjectSetPrototypeOf(['host', 'localhost', 'accept', '*/*'], null));
  const exports = {
    fetch(request) {
      const url = new URL(request.url);
      const headers = new Headers(request.headers);
      headers.set('x-query', url.searchParams.get('q'));
      return new Response(null, { status: 204, headers });
    },
  };
  return run(0, exports, {}, 'GET', 'http://localhost/warm?q=1', headerList, null, -2, ObjectFreeze({}));
}

return { run, lateStart, warmUp, nodeModule, nodeCompat, installServiceWorker, makeKV, makeDispatchNamespace, makeService, readBody, cancelBody };
