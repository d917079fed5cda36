// The entry point the engine calls for each request; see run() below.

function describeValue(value) {
  if (value === undefined || value === null) return String(value);
  if (ArrayIsArray(value)) return 'an array';
  const type = typeof value;
  return `${type === 'object' || type === 'undefined' ? 'an' : 'a'} ${type}`;
}

// What an async handler's result becomes: awaited, checked, handed over.
async function settle(id, pending) {
  const response = await pending;
  if (!responseOutput(id, response)) {
    throw new TypeError(`the fetch handler returned ${describeValue(response)}, not a Response`);
  }
}

// executionContextId (prelude.js) is the request the next ExecutionContext
// is made for: its field initializer reads it, so making one stores one
// field, not two (each store goes through V8's runtime while an isolate has
// no feedback yet).

// The `ctx` of fetch(request, env, ctx); its binding is in prelude.js.
ExecutionContext = class ExecutionContext {
  #id = executionContextId;

  constructor(token) {
    if (token !== INTERNAL) throw new TypeError('Illegal constructor');
  }

  // The engine keeps the request's work going after the response is sent,
  // until every promise given here settles (30 s at most). It holds the
  // promise itself: nothing is chained onto it here.
  waitUntil(promise) {
    native.waitUntil(this.#id, promise);
  }

  passThroughOnException() {}
};
setToStringTag(ExecutionContext.prototype, 'ExecutionContext');

// What the engine calls for request `id`: runs the tenant's fetch handler
// and hands its Response to the engine (responseOutput -> native.respond).
// Gives true when the response was handed over already: a handler that
// returns a Response, not a promise, is answered at once, with no async
// function, promise or microtask between it and the engine (which still
// runs the turn's microtask checkpoint before it takes the response).
// Otherwise it gives a promise that settles (without calling anything a
// tenant can replace) once the response is handed over, or rejects with
// what the handler threw, or a TypeError if the handler is missing or did
// not produce a sendable Response. The engine reads what it became.
// streamed is -2 for a body that came whole (body), else the body's
// Content-Length or -1, and request.body pulls it from the engine. cf is
// request.cf, frozen by the engine (api/request_cf.h), or null for an empty
// one, made when the script first reads it.
// One function, few calls: in an isolate whose code is cold each call costs.
function run(id, exports, env, method, url, headerBlock, body, streamed, cf) {
  let response;
  if (nodeRequestSlotCount !== 0) nodeDropEndedSlots();  // node:fs's /tmp of ended requests
  try {
    // The client's Request, made here rather than in a function of its own
    // (one call less a request). Everything here goes through captured
    // intrinsics (prelude.js): the tenant's script has run by now. Strings
    // from the engine: String() only in case, not a call each. The
    // engine's header block and URL wait in the record until the script
    // asks (see requestState in request.js).
    let bytes = null;
    if (streamed >= -1) {
      // It arrives in pieces: request.body pulls them from the engine.
      bytes = requestBodyStream(id, streamed);
    } else if (body !== null && body !== undefined) {
      // The engine hands the buffer over, so it is used without a copy.
      bytes = viewBytes(body);
    } // else no body
    const state = {
      body: bytes,
      method: typeof method === 'string' ? method : String(method),
      url: '',
      headers: typeof headerBlock === 'string' ? headerBlock : '',
      clientUrl: typeof url === 'string' ? url : String(url),
      extra: null,
    };
    if (cf !== null) state.extra = requestOptions('follow', null, cf);
    const request = new Request(INTERNAL, state);
    const handler = (typeof exports === 'object' && exports !== null) || typeof exports === 'function'
      ? exports.fetch : undefined;
    if (typeof handler !== 'function') return runEntrypoint(id, exports, env, request);
    executionContextId = id;
    response = FunctionPrototypeCallOn(handler, exports, request, env, new ExecutionContext(INTERNAL));
    if (responseOutput(id, response)) return true;
  } catch (error) {
    return PromiseReject(error);
  }
  return settle(id, response);
}

// run() for a default export with no fetch of its own (request: the
// client's, made by run()): a class extending
// WorkerEntrypoint (cloudflare_workers.js), made for this request, whose
// fetch(request) answers; anything else is the TypeError it always was.
function runEntrypoint(id, exports, env, request) {
  let response;
  try {
    const entrypoint = entrypointFor(id, exports, env);
    const handler = entrypoint === null ? undefined : entrypoint.fetch;
    if (typeof handler !== 'function') {
      throw new TypeError('the script has no default export with a fetch() handler');
    }
    response = FunctionPrototypeCallOn(handler, entrypoint, request);
    if (responseOutput(id, response)) return true;
  } catch (error) {
    return PromiseReject(error);
  }
  return settle(id, response);
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
// start). Nothing on this path may call a native that needs a tenant: the
// snapshot's isolate has none, and no budget.
const WARM_UP_ROUNDS = 50;
function warmUp() {
  const headerList = '\u0000host:localhost\u0000accept:*/*'; // as RequestHead makes it
  const exports = {
    fetch(request) {
      const url = new URL(request.url);
      const headers = new Headers(request.headers);
      headers.set('x-query', url.searchParams.get('q'));
      return new Response(null, { status: 204, headers });
    },
  };
  // The commonest handlers: a string body, no init, headers never read;
  // a JSON answer with a request header in it.
  const plain = { fetch: () => new Response('warm') };
  const json = { fetch: (request) => Response.json({ accept: request.headers.get('accept') }) };
  // Both ways a handler answers: with a Response (run() gives true) and
  // with a promise of one (run() gives the promise). native.respond is the
  // one native called: for request 0 it hands nothing to anyone.
  // Many times: V8 gives a function its feedback (what its inline caches
  // learn) only after it ran a while, and the blob keeps it.
  for (let i = 0; i < WARM_UP_ROUNDS; i++) {
    run(0, exports, {}, 'GET', 'http://localhost/warm?q=1', headerList, null, -2, ObjectFreeze({}));
    run(0, plain, {}, 'GET', 'http://localhost/', headerList, null, -2, null);
    run(0, json, {}, 'GET', 'http://localhost/', headerList, null, -2, null);
  }
  const answered = run(0, exports, {}, 'GET', 'http://localhost/warm?q=1', headerList, null, -2, ObjectFreeze({}));
  const later = { async fetch() { return new Response('warm'); } };
  const settled = run(0, later, {}, 'GET', 'http://localhost/warm', headerList, null, -2, null);
  return answered === true ? settled : PromiseReject(new TypeError('the warm-up Response was not answered at once'));
}

return { run, lateStart, warmUp, nodeModule, nodeCompat, cloudflareWorkers, cloudflareSockets, installServiceWorker, makeKV, makeDispatchNamespace, makeService, readBody, cancelBody, reportRejection, wsDeliver };
