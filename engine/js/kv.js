// Workers KV bindings: env.NAME for a kv_namespace binding. The object holds
// only the index of the binding among the script's own; the engine builds
// the Redis key from the script's namespace, the binding's id and the key.

const KV_TYPES = ['text', 'json', 'arrayBuffer', 'stream'];
const KV_MIN_TTL = 60;
// 4000-01-01T00:00:00Z in seconds. Beyond it Redis was handed a number it
// does not take as an integer (Lua prints it 1e+14 and on) after the value
// was written but before it was charged to the quota (t/76-attack-findings-10).
const KV_MAX_EXPIRATION = 64060588800;

function kvKey(key, what) {
  if (key === undefined) throw new TypeError(`${what}: a key is required`);
  return toUSVString(key);
}

function kvType(options, what) {
  const type = typeof options === 'string' ? options : options?.type ?? 'text';
  if (!ArrayPrototypeIncludes(KV_TYPES, type)) throw new TypeError(`${what}: unknown type "${type}"`);
  return type;
}

function kvDecode(bytes, type) {
  if (type === 'arrayBuffer') return bytes;
  // A value is at most 25 MiB and comes from Redis whole: its stream
  // hands it over in one piece.
  if (type === 'stream') return readableStreamFromBytes(viewBytes(bytes));
  const text = native.decodeUtf8(bytes);
  return type === 'json' ? parseTenantJson(text) : text;
}

// A copy the engine owns, made with captured intrinsics: the tenant's
// ArrayBuffer.prototype.slice or %TypedArray% getters are not consulted.
function kvValueBytes(value) {
  if (typeof value === 'string') return native.encodeUtf8(value);
  if (isArrayBuffer(value) || ArrayBufferIsView(value)) return copyBytes(value);
  throw new TypeError('KV put() takes a string, an ArrayBuffer, an ArrayBufferView or a ReadableStream');
}

// Absolute expiry in milliseconds since the epoch, 0 for none. Like
// Cloudflare, at least 60 seconds ahead.
function kvExpiry(options) {
  const nowSeconds = DateNow() / 1000;
  let at = 0;
  if (options.expiration !== undefined) {
    at = Number(options.expiration);
    if (!NumberIsFinite(at) || at < nowSeconds + KV_MIN_TTL) {
      throw new TypeError(`KV put(): expiration must be at least ${KV_MIN_TTL} seconds in the future`);
    }
  } else if (options.expirationTtl !== undefined) {
    const ttl = Number(options.expirationTtl);
    if (!NumberIsFinite(ttl) || ttl < KV_MIN_TTL) {
      throw new TypeError(`KV put(): expirationTtl must be at least ${KV_MIN_TTL} seconds`);
    }
    at = nowSeconds + ttl;
  }
  if (at > KV_MAX_EXPIRATION) {
    throw new TypeError('KV put(): expiration must be before the year 4000');
  }
  return MathFloor(at * 1000);
}

class KVNamespace {
  #binding;

  constructor(token, binding) {
    if (token !== INTERNAL) throw new TypeError('Illegal constructor');
    this.#binding = binding;
  }

  async get(key, options) {
    const type = kvType(options, 'KV get()');
    const found = await native.kvGet(this.#binding, kvKey(key, 'KV get()'));
    return found === null ? null : kvDecode(found[0], type);
  }

  async getWithMetadata(key, options) {
    const type = kvType(options, 'KV getWithMetadata()');
    const found = await native.kvGet(this.#binding, kvKey(key, 'KV getWithMetadata()'));
    if (found === null) return { value: null, metadata: null };
    return { value: kvDecode(found[0], type), metadata: found[1] === null ? null : parseTenantJson(found[1]) };
  }

  async put(key, value, options = {}) {
    const name = kvKey(key, 'KV put()');
    // A stream is read to its end first (within the script's memory limit).
    const bytes = readableStreamIs(value) ? bodyUnbox(await bodyReadStream(value)) : kvValueBytes(value);
    const opts = options ?? {};
    const metadata = opts.metadata === undefined ? null : guardJSONStringify(opts.metadata);  // runaway_guards.js
    await native.kvPut(this.#binding, name, bytes, metadata, kvExpiry(opts));
  }

  async delete(key) {
    await native.kvDelete(this.#binding, kvKey(key, 'KV delete()'));
  }

  async list(options = {}) {
    const opts = options ?? {};
    const prefix = opts.prefix == null ? '' : toUSVString(opts.prefix);
    const limit = opts.limit === undefined ? 1000 : Number(opts.limit);
    if (!NumberIsInteger(limit) || limit < 1 || limit > 1000) {
      throw new RangeError('KV list(): limit is an integer from 1 to 1000');
    }
    const cursor = opts.cursor ? kvCursorDecode(String(opts.cursor)) : '';
    const flat = await native.kvList(this.#binding, prefix, limit, cursor);
    const keys = listNew();
    // flat: [list_complete, last key, name, expiration (0: none), metadata or null, ...]
    for (let i = 2; i + 2 < flat.length; i += 3) {
      const entry = { name: flat[i] };
      if (flat[i + 1] > 0) entry.expiration = flat[i + 1];
      if (flat[i + 2] !== null) entry.metadata = parseTenantJson(flat[i + 2]);
      listPush(keys, entry);
    }
    const result = { keys: listToArray(keys), list_complete: flat[0] };
    if (!flat[0]) result.cursor = kvCursorEncode(flat[1]);
    return result;
  }
}
setToStringTag(KVNamespace.prototype, 'KVNamespace');

// Cursors are opaque to scripts: the last key returned, its UTF-8 bytes in hex.
const KV_CURSOR = /^(?:[0-9a-f]{2})+$/;

function kvCursorEncode(key) {
  const bytes = native.encodeUtf8(key);
  let hex = '';
  for (let i = 0; i < TypedArrayPrototypeGetLength(bytes); i++) hex += StringPrototypePadStart(NumberPrototypeToString(bytes[i], 16), 2, '0');
  return hex;
}

function kvCursorDecode(cursor) {
  if (RegExpPrototypeExec(KV_CURSOR, cursor) === null) throw new TypeError('KV list(): invalid cursor');
  const bytes = new Uint8Array(cursor.length / 2);
  for (let i = 0; i < cursor.length / 2; i++) bytes[i] = NumberParseInt(StringPrototypeSlice(cursor, i * 2, i * 2 + 2), 16);
  return native.decodeUtf8(bytes);
}

function makeKV(binding) {
  return new KVNamespace(INTERNAL, binding);
}
