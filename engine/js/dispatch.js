// The entry point the engine calls for each request; see invoke() below.

function describeValue(value) {
  if (value === undefined || value === null) return String(value);
  if (Array.isArray(value)) return 'an array';
  const type = typeof value;
  return `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
}

// Runs the tenant's fetch handler for one request. Resolves to
// [status, statusText, [name, value, ...], Uint8Array or null for a null body];
// rejects with whatever the handler threw, or a TypeError if the handler is
// missing or did not produce a sendable Response.
async function invoke(exports, env, ctx, method, url, headerList, body) {
  const handler = isObject(exports) ? exports.fetch : undefined;
  if (typeof handler !== 'function') {
    throw new TypeError('the script has no default export with a fetch() handler');
  }
  const request = requestFromClient(method, url, headerList, body);
  const response = await Reflect.apply(handler, exports, [request, env, ctx]);
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
  // until every promise given here settles (30 s at most).
  waitUntil(promise) {
    const id = this.#id;
    native.waitUntilBegin(id);
    Promise.resolve(promise)
      .then(undefined, (error) => {
        native.log('error', `uncaught exception in ctx.waitUntil(): ${describeError(error)}`);
      })
      .then(() => native.waitUntilEnd(id));
  }

  passThroughOnException() {}
}
setToStringTag(ExecutionContext.prototype, 'ExecutionContext');

function describeError(error) {
  try {
    return isObject(error) && typeof error.stack === 'string' ? error.stack : String(error);
  } catch {
    return 'an unprintable value';
  }
}

// What the engine calls for request `id`: the outcome goes back through
// native.respond(id, output) or native.fail(id, error). Settling from here
// keeps the engine from building callback functions for every request.
function run(id, exports, env, method, url, headerList, body) {
  invoke(exports, env, new ExecutionContext(INTERNAL, id), method, url, headerList, body)
    .then((output) => native.respond(id, output), (error) => native.fail(id, error));
}

return { run, installServiceWorker, makeKV };
