import { defineNitroConfig } from 'nitropack/config';
import { fileURLToPath } from 'node:url';

export default defineNitroConfig({
  preset: 'cloudflare-module',
  compatibilityDate: '2025-05-21',
  srcDir: 'server',
  // The test's node_modules has h3 v2 at its top (t/09's); nitropack 2 is
  // built on the h3 v1 it brings, which a Nitro project has at its top.
  alias: { h3: fileURLToPath(new URL('./node_modules/nitropack/node_modules/h3', import.meta.url)) },
  runtimeConfig: { apiSecret: 'build-time default', public: { siteName: 'build-time default' } },
  storage: { cache: { driver: 'memory' }, kv: { driver: 'cloudflare-kv-binding', binding: 'KV' } },
  routeRules: { '/old': { redirect: { to: '/new', statusCode: 301 } }, '/api/**': { cors: true, headers: { 'X-Api': 'nitro' } } },
});
