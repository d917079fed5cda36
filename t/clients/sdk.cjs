// Drives Cloudflare's TypeScript SDK (npm `cloudflare`, the version pinned in
// package.json beside this file) against a management API at $CF_BASE_URL:
//   node sdk.cjs COMMAND ARG...
// prints one line of JSON: {"ok":true,"result":...} or
// {"ok":false,"status":N,"errors":[...],"message":"..."} (exit status 0 for
// both; 2 for a usage error). The SDK comes from $DISPATCH_NPM_DIR/node_modules
// (scripts/setup-deps installs it there). t/72-admin-sdk.t runs it.
'use strict';
const path = require('node:path');

const dir = process.env.DISPATCH_NPM_DIR;
if (!dir) { console.error('sdk.cjs: DISPATCH_NPM_DIR is not set'); process.exit(2); }
const Cloudflare = require(path.join(dir, 'node_modules', 'cloudflare'));
const { toFile } = Cloudflare;

const client = new Cloudflare({
  apiToken: process.env.CF_API_TOKEN,
  baseURL: process.env.CF_BASE_URL,
  maxRetries: 0,
  timeout: 20000,
});
const account_id = process.env.CF_ACCOUNT_ID;
const wfp = client.workersForPlatforms.dispatch.namespaces;
const scriptsPath = (ns) => `/accounts/${account_id}/workers/dispatch/namespaces/${ns}/scripts`;

// every page of a list, as an array
async function all(page) { const out = []; for await (const x of page) out.push(x); return out; }

const commands = {
  // namespaces
  'ns-create': (name) => wfp.create({ account_id, name }),
  'ns-get': (ns) => wfp.get(ns, { account_id }),
  'ns-list': () => all(wfp.list({ account_id })),
  'ns-delete': (ns) => wfp.delete(ns, { account_id }),

  // upload: one ES module as worker.js, with tags (comma-separated, may be
  // empty) and bindings (a JSON array, may be omitted); the call of
  // Cloudflare's documentation for the SDK
  'upload': async (ns, name, code, tags, bindings) => wfp.scripts.update(ns, name, {
    account_id,
    metadata: {
      main_module: 'worker.js',
      compatibility_date: '2025-01-01',
      tags: tags ? tags.split(',') : [],
      bindings: bindings ? JSON.parse(bindings) : [],
    },
    files: [await toFile(Buffer.from(code), 'worker.js', { type: 'application/javascript+module' })],
  }),
  'script-get': (ns, name) => wfp.scripts.get(ns, name, { account_id }),
  'content-get': async (ns, name) => {
    const res = await wfp.scripts.content.get(ns, name, { account_id });
    return { content_type: res.headers.get('content-type'), body: await res.text() };
  },
  'script-delete': (ns, name) => wfp.scripts.delete(ns, name, { account_id }),

  // the SDK has no method for these two endpoints (Cloudflare's "list" and
  // "delete scripts by tags" of a namespace): its generic verbs send them
  'list-by-tag': async (ns, tags) =>
    (await client.get(scriptsPath(ns), { query: { tags } })).result,
  'delete-by-tag': async (ns, tags) =>
    (await client.delete(scriptsPath(ns), { query: { tags } })).result,

  // secrets
  'secret-put': (ns, name, secret, text) =>
    wfp.scripts.secrets.update(ns, name, { account_id, name: secret, text, type: 'secret_text' }),
  'secret-list': (ns, name) => all(wfp.scripts.secrets.list(ns, name, { account_id })),
  'secret-get': (ns, name, secret) => wfp.scripts.secrets.get(ns, name, secret, { account_id }),
  'secret-delete': (ns, name, secret) => wfp.scripts.secrets.delete(ns, name, secret, { account_id }),

  // tags and settings
  'tags-list': (ns, name) => all(wfp.scripts.tags.list(ns, name, { account_id })),
  'settings-get': (ns, name) => wfp.scripts.settings.get(ns, name, { account_id }),
};

async function main() {
  const [cmd, ...args] = process.argv.slice(2);
  const fn = commands[cmd];
  if (!fn) { console.error(`sdk.cjs: unknown command ${cmd}`); process.exit(2); }
  let out;
  try {
    out = { ok: true, result: (await fn(...args)) ?? null };
  } catch (e) {
    out = { ok: false, status: e.status ?? null, errors: e.errors ?? null,
            message: String(e.message), name: e.constructor && e.constructor.name };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}
main();
