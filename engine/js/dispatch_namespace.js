// Dynamic dispatch (engine/src/api/dispatch.h): env.NS.get(name, args,
// options) for a dispatch_namespace binding returns a Fetcher, and a
// service binding is one; fetch() on it runs the other script in its own
// isolate and resolves to its Response. The objects hold the index of the
// binding and what get() was given; the engine decides where a call goes,
// checks every part again, and counts it as a subrequest.

// options.limits: a number of at least `min`, -1 when not given.
function dispatchLimit(value, what, min) {
  if (value === undefined || value === null) return -1;
  const n = Number(value);
  if (!NumberIsFinite(n) || n < min) {
    throw new TypeError(`get(): options.limits.${what} must be a number of at least ${min}`);
  }
  return n > 1e9 ? 1e9 : MathFloor(n);
}

// Sends a streamed request body to the target as it is produced; the
// target's reads pace it. Once the target answered, a broken body fails
// only the target's request.body.
function dispatchUpload(id, stream, state) {
  nativeUpload(stream, state, (chunk) => native.dispatchWrite(id, chunk), () => native.dispatchEnd(id), (error) => {
    state.aborted = true;
    if (state.rejectHead !== null) {
      native.dispatchAbort(id);
      state.rejectHead(error);
    } else {
      native.dispatchEnd(id, true);
    }
  });
}

// binding -1: the outbound worker of the current request (fetch() of a
// script dispatched through a binding with one).
async function dispatchFetch(binding, name, args, cpuMs, subRequests, outbound, input, init) {
  // The Request the call describes: its checks run here, and a Request
  // given as input (the router's own) gives its body up to it.
  const request = new Request(input, init);
  const parts = requestParts(request);
  let bytes = bodyPeek(request);
  let stream = bytes === null ? bodyStream(request) : null;
  let length = -1;
  let requestId = 0;
  if (stream !== null) {
    if (readableStreamIsLocked(stream) || readableStreamIsDisturbed(stream)) {
      throw new TypeError('fetch(): the request body has already been read');
    }
    const source = readableStreamSource(stream);
    if (source !== null && source.requestId !== undefined) {
      length = source.length;
      requestId = source.requestId;
    } else {
      length = fixedLengthOf(stream);
    }
    if (source !== null && source.bytes !== undefined) {
      bytes = source.bytes; // made from bytes, never read: sent whole
      stream = null;
    }
  }
  const sorted = headersSorted(parts.headers);
  const list = listNew();
  for (let i = 0; i < sorted.length; i++) {
    listPush(list, sorted[i][0]);
    listPush(list, sorted[i][1]);
  }
  // Its cf goes along, as JSON, as a service binding carries it on Workers.
  let cf = '';
  if (parts.cf !== undefined) {
    cf = guardJSONStringify(parts.cf);  // runaway_guards.js: the tenant's values
    if (typeof cf !== 'string') cf = '';
  }
  let id = native.dispatchStart(binding, name, args, cpuMs, subRequests, parts.method, parts.url, list,
    stream === null ? bytes : requestId !== 0 ? requestId : true, length, outbound, cf);
  const state = { __proto__: null, aborted: false, rejectHead: null };
  if (id < 0) {
    id = -id;
    dispatchUpload(id, stream, state);
  } else if (stream !== null) {
    readableStreamGetReader(stream); // the engine passes it on: nothing else may read it
  }
  const head = await new Promise((resolve, reject) => {
    state.rejectHead = reject;
    FetchPromiseThen(native.dispatchHead(id), resolve, reject);
  });
  state.rejectHead = null;
  let body = null;
  if (head[3]) {
    body = nativeByteStream({
      __proto__: null,
      read: () => native.dispatchRead(id),
      cancel() {
        native.dispatchAbort(id);
      },
    });
  }
  // A 101 with a WebSocket: returned in this request's 101, it carries the
  // target's socket to the client (api/websocket.h).
  const webSocket = head[4] ? webSocketDispatched(id) : null;
  return responseFromFetch(head[0], head[1], head[2], body, parts.url, false, webSocket);
}

class Fetcher {
  #binding;
  #name;
  #args;
  #cpuMs;
  #subRequests;
  #outbound;

  constructor(token, binding, name, args, cpuMs, subRequests, outbound) {
    if (token !== INTERNAL) throw new TypeError('Illegal constructor');
    this.#binding = binding;
    this.#name = name;
    this.#args = args;
    this.#cpuMs = cpuMs;
    this.#subRequests = subRequests;
    this.#outbound = outbound;
  }

  fetch(input, init = undefined) {
    requireArgs(arguments.length, 1, 'fetch');
    return dispatchFetch(this.#binding, this.#name, this.#args, this.#cpuMs, this.#subRequests, this.#outbound,
      input, init);
  }

  connect() {
    throw new TypeError('connect() is not supported');
  }
}
setToStringTag(Fetcher.prototype, 'Fetcher');

class DispatchNamespace {
  #binding;

  constructor(token, binding) {
    if (token !== INTERNAL) throw new TypeError('Illegal constructor');
    this.#binding = binding;
  }

  // A Fetcher for script `name` of the namespace. A name that cannot be a
  // script, or one the engine already knows is missing, throws at once
  // ("Worker not found"); otherwise fetch() rejects with that Error.
  get(name, args = undefined, options = undefined) {
    requireArgs(arguments.length, 1, 'get');
    const script = toUSVString(name);
    let json = '';
    if (args !== undefined && args !== null) {
      if (!isObject(args) || ArrayIsArray(args)) throw new TypeError('get(): args must be an object');
      json = guardJSONStringify(args);
      if (typeof json !== 'string') json = '';
    }
    let cpuMs = -1;
    let subRequests = -1;
    const limits = options === undefined || options === null ? undefined : options.limits;
    // options.outbound: what the binding's outbound worker gets as env (the
    // names its params list), copied as JSON like args.
    const outboundArgs = options === undefined || options === null ? undefined : options.outbound;
    let outbound = '';
    if (outboundArgs !== undefined && outboundArgs !== null) {
      if (!isObject(outboundArgs) || ArrayIsArray(outboundArgs)) {
        throw new TypeError('get(): options.outbound must be an object');
      }
      outbound = guardJSONStringify(outboundArgs);
      if (typeof outbound !== 'string') outbound = '';
    }
    if (limits !== undefined && limits !== null) {
      cpuMs = dispatchLimit(limits.cpuMs, 'cpuMs', 1);
      subRequests = dispatchLimit(limits.subRequests, 'subRequests', 0);
    }
    native.dispatchCheck(this.#binding, script);
    return new Fetcher(INTERNAL, this.#binding, script, json, cpuMs, subRequests, outbound);
  }
}
setToStringTag(DispatchNamespace.prototype, 'DispatchNamespace');

function makeDispatchNamespace(index) {
  return new DispatchNamespace(INTERNAL, index);
}

function makeService(index) {
  return new Fetcher(INTERNAL, index, '', '', -1, -1, '');
}
