// nodejs_compat (api/node_compat.h): the loader of the Node.js modules.
// Each module is a CommonJS body embedded apart (engine/js/node/*.js and
// Debian's node-* packages), compiled by native.nodeSource only when a
// script of this isolate first imports it (or touches the Buffer/process
// globals), and run in the tenant's own context: a tenant may tamper with
// what they build, as with its own code. What they get from the built-ins is
// `internals` below, a frozen object of plain functions that hand out
// nothing a tenant could not reach otherwise; never `native` itself.

const nodeSource = native.nodeSource;
const nodeSourceRan = native.nodeSourceRan;
const nodeBuiltinName = native.nodeBuiltinName;
const nodeGetContinuation = native.getContinuation;
const nodeSetContinuation = native.setContinuation;
const nodeDigestCreate = native.digestCreate;
const nodeDigestUpdate = native.digestUpdate;
const nodeDigestFinish = native.digestFinish;
const nodeRandomValues = native.getRandomValues;
const nodePbkdf2 = native.pbkdf2;
const nodeZlibCreate = native.zlibCreate;
const nodeZlibWrite = native.zlibWrite;
const nodeZlibEnd = native.zlibEnd;
const nodeZlibRead = native.zlibRead;
const nodeFreeNative = native.freeNative;
const nodeHkdf = native.hkdf;
const nodeKeyImport = native.keyImport;
const nodeKeyImportJwk = native.keyImportJwk;
const nodeKeyExport = native.keyExport;
const nodePkeySign = native.pkeySign;
const nodePkeyVerify = native.pkeyVerify;
const nodeEcdsaSign = native.ecdsaSign;
const nodeEcdsaVerify = native.ecdsaVerify;
const nodeKeyGenerate = native.keyGenerate;
const nodeCpuLeftMs = native.cpuLeftMs;
const nodeAesGcm = native.aesGcm;
const nodeAesCbc = native.aesCbc;
const nodeAesCtr = native.aesCtr;
const nodeBundleNames = native.bundleNames;
const nodeBundleFile = native.bundleFile;
const nodeRequestNow = native.requestNow;
const nodeRequestLive = native.requestLive;
const StringPrototypeLastIndexOf = uncurryThis(String.prototype.lastIndexOf);
const ObjectAssign = Object.assign;

// Names the modules use among themselves, as their package.json "browser"
// fields map them, to the embedded file that is meant.
const NODE_ALIASES = {
  __proto__: null,
  'safe-buffer': 'node/buffer.js',
  'string_decoder/': 'node/string_decoder.js',
  inherits: 'inherits/inherits_browser.js',
  'util-deprecate': 'util-deprecate/browser.js',
  'base64-js': 'base64-js/index.js',
  ieee754: 'ieee754/index.js',
  'readable-stream/lib/internal/streams/stream.js': 'readable-stream/lib/internal/streams/stream-browser.js',
};
// Public names ("stream/promises") are files engine/js/node/stream_promises.js.

const nodeModules = { __proto__: null };  // id -> { exports, id, loaded }
let nodeEnv = null;

const NODE_INTERNALS = ObjectFreeze({
  __proto__: null,
  // AsyncLocalStorage's frame, carried by V8 across promise reactions.
  getFrame: () => nodeGetContinuation(),
  setFrame: (frame) => { nodeSetContinuation(frame); },
  // Synchronous digests for node:crypto (api/crypto.cc, budget-charged).
  digestCreate: (name) => nodeDigestCreate(name),
  digestUpdate: (handle, bytes) => {
    // A piece per call: the CPU limit can stop this loop, not one long call.
    for (let at = 0; at !== -1;) at = nodeDigestUpdate(handle, bytes, at);
  },
  digestFinish: (handle) => nodeDigestFinish(handle),
  randomFill: (view) => { nodeRandomValues(view); },
  // PBKDF2 and HKDF (api/crypto.cc: bounded as Workers bounds them).
  pbkdf2: (hash, password, salt, iterations, bytes) => nodePbkdf2(hash, password, salt, iterations, bytes),
  hkdf: (hash, key, salt, info, bytes) => nodeHkdf(hash, key, salt, info, bytes),
  // Asymmetric keys as DER (spki, pkcs8) and signatures for node:crypto's
  // KeyObject, Sign and Verify: crypto.subtle's primitives (api/crypto.cc).
  keyImport: (format, kind, bytes) => nodeKeyImport(format, kind, bytes),
  keyImportJwk: (kind, parts) => nodeKeyImportJwk(kind, parts),
  keyExport: (format, der, isPrivate) => nodeKeyExport(format, der, isPrivate),
  pkeySign: (alg, hash, pkcs8, data, salt) => nodePkeySign(alg, hash, pkcs8, data, salt),
  pkeyVerify: (alg, hash, spki, signature, data, salt) => nodePkeyVerify(alg, hash, spki, signature, data, salt),
  ecdsaSign: (hash, pkcs8, data) => nodeEcdsaSign(hash, pkcs8, data),
  ecdsaVerify: (hash, spki, signature, data) => nodeEcdsaVerify(hash, spki, signature, data),
  // Key pairs (stopped when the request's CPU time runs out) and AES, for
  // generateKeyPair and createCipheriv/createDecipheriv.
  keyGenerate: (kind, bits, exponent) => nodeKeyGenerate(kind, bits, exponent, nodeCpuLeftMs()),
  aesGcm: (encrypt, key, iv, aad, data, tagBytes) => nodeAesGcm(encrypt, key, iv, aad, data, tagBytes),
  aesCbc: (encrypt, key, iv, data) => nodeAesCbc(encrypt, key, iv, data),
  aesCtr: (key, counter, data) => nodeAesCtr(key, counter, 128, data),
  // zlib for node:zlib (api/compression.cc: memory charged, output in
  // pieces of at most 64 KiB).
  zlibCreate: (format, decompress) => nodeZlibCreate(format, decompress),
  zlibWrite: (handle, bytes) => { nodeZlibWrite(handle, bytes); },
  zlibEnd: (handle) => { nodeZlibEnd(handle); },
  zlibRead: (handle) => nodeZlibRead(handle),
  free: (handle) => { nodeFreeNative(handle); },
  // cloudflare:sockets connect() for node:net's Socket (sockets.js).
  socketConnect: (address, options) => socketsConnect()(address, options),
  // process.env as the script's text bindings fill it (a fresh copy).
  env: () => ObjectAssign({}, nodeEnv),
  builtin: (name) => nodeBuiltin(name),
  // node:fs's /bundle: the script's module names, a copy of one's bytes.
  bundleNames: () => nodeBundleNames(),
  bundleFile: (name) => nodeBundleFile(name),
  // node:fs's /tmp per request: an object of the request now.
  requestSlot: () => nodeRequestSlot(),
});

// An object of the request the JavaScript works for (the top level's is
// the isolate's), for node:fs to keep that request's /tmp in; the request's
// id never leaves here. Those of ended requests are dropped when the next
// request starts (run() in dispatch.js), so what an ended request left in
// its /tmp never counts against the next one's memory.
const nodeRequestSlots = { __proto__: null };
let nodeRequestSlotCount = 0;  // of requests (not the top level's)
function nodeRequestSlot() {
  const id = nodeRequestNow();
  const key = `${id}`;
  let slot = nodeRequestSlots[key];
  if (slot === undefined) {
    slot = { __proto__: null };
    nodeRequestSlots[key] = slot;
    if (id !== 0) nodeRequestSlotCount++;
  }
  return slot;
}

function nodeDropEndedSlots() {
  const keys = ReflectOwnKeys(nodeRequestSlots);
  for (let i = 0; i < keys.length; i++) {
    if (keys[i] !== '0' && !nodeRequestLive(NumberParseInt(keys[i], 10))) {
      delete nodeRequestSlots[keys[i]];
      nodeRequestSlotCount--;
    }
  }
}

function nodeDirname(id) {
  const slash = StringPrototypeLastIndexOf(id, '/');
  return slash < 0 ? '' : StringPrototypeSlice(id, 0, slash);
}

// "a/b/../c/./d" -> "a/c/d"
function nodeNormalize(path) {
  const parts = listNew();
  let start = 0;
  while (start <= path.length) {
    let end = StringPrototypeIndexOf(path, '/', start);
    if (end < 0) end = path.length;
    const part = StringPrototypeSlice(path, start, end);
    if (part === '..') {
      if (parts.length > 0) parts.length--;
    } else if (part !== '' && part !== '.') {
      parts[parts.length] = part;
    }
    start = end + 1;
  }
  let out = '';
  for (let i = 0; i < parts.length; i++) out += (i === 0 ? '' : '/') + parts[i];
  return out;
}

function nodeIdOfName(name) {
  const slash = StringPrototypeIndexOf(name, '/');
  if (slash < 0) return `node/${name}.js`;
  return `node/${StringPrototypeSlice(name, 0, slash)}_${StringPrototypeSlice(name, slash + 1)}.js`;
}

// The ids `spec` may name from module `from`, in the order tried.
function nodeCandidates(from, spec) {
  if (NODE_ALIASES[spec] !== undefined) return [NODE_ALIASES[spec]];
  if (StringPrototypeSlice(spec, 0, 2) === './' || StringPrototypeSlice(spec, 0, 3) === '../') {
    const path = nodeNormalize(`${nodeDirname(from)}/${spec}`);
    const js = `${path}.js`;
    return [NODE_ALIASES[path] ?? path, NODE_ALIASES[js] ?? js, `${path}/index.js`];
  }
  // An embedded file by its id ("events/events.js"), as ours name Debian's.
  if (StringPrototypeSlice(spec, -3) === '.js') return [spec];
  const name = StringPrototypeSlice(spec, 0, 5) === 'node:' ? StringPrototypeSlice(spec, 5) : spec;
  return [nodeIdOfName(name)];
}

function nodeRequire(candidates) {
  for (let i = 0; i < candidates.length; i++) {
    const cached = nodeModules[candidates[i]];
    if (cached !== undefined) return cached.exports;
  }
  for (let i = 0; i < candidates.length; i++) {
    const id = candidates[i];
    const body = nodeSource(id);
    if (body === undefined) continue;
    const module = { exports: {}, id, loaded: false };
    nodeModules[id] = module;
    const require = (spec) => {
      if (typeof spec !== 'string') throw new TypeError('require() takes a module name');
      return nodeRequire(nodeCandidates(id, spec));
    };
    // Of the embedded files only these read `process`: the others do not
    // pay for building it.
    const process = StringPrototypeSlice(id, 0, 16) === 'readable-stream/' ||
      StringPrototypeSlice(id, 0, 16) === 'path-browserify/' ? nodeProcess() : undefined;
    ReflectApply(body, module.exports,
      [module.exports, require, module, id, nodeDirname(id), process, globalThis, NODE_INTERNALS]);
    module.loaded = true;
    nodeSourceRan(id, body);
    return module.exports;
  }
  throw new Error(`Cannot find module '${candidates[0]}'`);
}

function nodeProcess() {
  return nodeRequire(['node/process.js']);
}

// process.getBuiltinModule(name): undefined for what there is not.
function nodeBuiltin(name) {
  if (typeof name !== 'string') return undefined;
  const known = nodeBuiltinName(name);
  return known === '' ? undefined : nodeRequire([nodeIdOfName(known)]);
}

// For the engine (TenantIsolate::compile_node_module): what import
// 'node:NAME' gives, NAME one of api/node_compat.cc's list.
function nodeModule(name) {
  return nodeRequire([nodeIdOfName(name)]);
}

// As Workers with nodejs_compat_v2 (or a date from 2024-09-23): Buffer,
// process, global, setImmediate and clearImmediate are globals, built on
// first use. Assigning one replaces it.
// The engine calls it once, before the script runs, for a script with the flag.
function nodeCompat(globals, env) {
  nodeEnv = env;
  if (!globals) return;
  lazyGlobal('Buffer', () => nodeRequire(['node/buffer.js']).Buffer);
  lazyGlobal('process', nodeProcess);
  lazyGlobal('global', () => globalThis);
  lazyGlobal('setImmediate', () => nodeRequire(['node/timers.js']).setImmediate);
  lazyGlobal('clearImmediate', () => nodeRequire(['node/timers.js']).clearImmediate);
}
