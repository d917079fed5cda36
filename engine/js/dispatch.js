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

return { invoke, installServiceWorker };
