#!/usr/bin/perl
# More real Workers apps, written as their libraries' documentation writes
# them for Cloudflare Workers, bundled as wrangler bundles them (`wrangler
# deploy --dry-run --outdir`, all at once), uploaded through the management
# API as wrangler uploads them and driven over HTTP through nginx: an MCP
# server (@modelcontextprotocol/sdk's web-standard Streamable HTTP transport,
# stateless) driven by the SDK's own client; openai, the AI SDK and stripe
# pointed at loopback stand-ins (stripe's webhook signatures with its
# SubtleCrypto provider); axios; server-side rendering with vue
# (renderToWebStream), preact and svelte/server (a Svelte 5 component
# compiled as its Vite plugin would); text formats (marked, yaml,
# fast-xml-parser, superjson, valibot, dayjs, date-fns, papaparse,
# handlebars); bytes (fflate, @noble/hashes, @noble/curves, nanoid, uuid,
# ulid); documents (jszip, pdf-lib, SheetJS, qrcode, bcryptjs); effect;
# @aws-sdk/client-s3 with presigned URLs (nodejs_compat); linkedom and
# cheerio, sanitize-html; jsonwebtoken (nodejs_compat); @cloudflare/workers-oauth-provider
# over KV; Discord, GitHub and Telegram webhooks (discord-interactions,
# @octokit/webhooks, grammy); busboy, csv-parse and iconv-lite over the
# request body as a Node stream (nodejs_compat). Expected values are
# computed independently: by Node.js running the same code on the same
# library, by Perl, or known constants. Every package pinned in
# t/clients/package.json; scripts/setup-deps installs them.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Admin;
use Dispatch::TestUpstream;
use Digest::SHA qw(sha256_hex hmac_sha256_hex);
use File::Temp qw(tempdir);
use IO::Compress::Gzip qw(gzip $GzipError);
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use IO::Uncompress::Unzip ();
use IO::Compress::Zip ();
use JSON::PP qw(decode_json encode_json);
use MIME::Base64 qw(encode_base64 decode_base64);

my $WRANGLER = npm_tool_or_skip('.bin/wrangler');
npm_tool_or_skip("$_/package.json")
    for qw(@modelcontextprotocol/sdk zod openai ai @ai-sdk/openai axios stripe svelte sanitize-html handlebars date-fns
          date-fns-tz papaparse jszip pdf-lib xlsx qrcode bcryptjs vue preact preact-render-to-string marked yaml
          fast-xml-parser superjson valibot dayjs fflate @noble/hashes @noble/curves nanoid uuid ulid
          effect @aws-sdk/client-s3 @aws-sdk/s3-request-presigner linkedom cheerio
          jsonwebtoken @cloudflare/workers-oauth-provider discord-interactions @octokit/webhooks grammy busboy
          csv-parse iconv-lite);

my $DATE = '2025-09-01';
my $up = Dispatch::TestUpstream->new;    # /echo: what a client sent
my $STANDIN = Dispatch::Test::free_port;              # nginx itself answering as OpenAI, Stripe and S3 would

my %APPS;    # name => [main, files, flags, metadata]
sub app { my ($name, $main, $files, %o) = @_; $APPS{$name} = { main => $main, files => $files, %o } }

# ------------------------------------------------------------- the apps

# --- @modelcontextprotocol/sdk: the stateless Streamable HTTP server of its
# documentation for Workers (a server and a transport per request).
app('mcp', 'src/index.ts', { 'src/index.ts' => <<'TS' });
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { z } from 'zod';

function createServer(env: { GREETING: string }) {
  const server = new McpServer({ name: 'dispatch-mcp', version: '1.0.0' });
  server.registerTool('add', {
    title: 'Addition', description: 'Adds two numbers',
    inputSchema: { a: z.number(), b: z.number() },
  }, async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }));
  server.registerTool('sha256', {
    description: 'The SHA-256 of a text, in hex',
    inputSchema: { text: z.string() },
    outputSchema: { hex: z.string() },
  }, async ({ text }) => {
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
    const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
    return { content: [{ type: 'text', text: hex }], structuredContent: { hex } };
  });
  server.registerTool('countdown', {
    description: 'Counts down, reporting progress as it goes',
    inputSchema: { from: z.number().int().min(1).max(5) },
  }, async ({ from }, extra) => {
    const token = extra._meta?.progressToken;
    for (let i = 1; i <= from; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      if (token !== undefined)
        await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: i, total: from } });
    }
    return { content: [{ type: 'text', text: 'liftoff' }] };
  });
  server.registerResource('greeting', new ResourceTemplate('greeting://{name}', { list: undefined }),
    { title: 'Greeting', description: 'A greeting for a name' },
    async (uri, { name }) => ({ contents: [{ uri: uri.href, text: `${env.GREETING}, ${name}!` }] }));
  server.registerPrompt('review', {
    description: 'Review some code', argsSchema: { code: z.string() },
  }, ({ code }) => ({ messages: [{ role: 'user', content: { type: 'text', text: `Please review this code:\n\n${code}` } }] }));
  return server;
}

export default {
  async fetch(request: Request, env: { GREETING: string }): Promise<Response> {
    if (new URL(request.url).pathname !== '/mcp') return new Response('Not found', { status: 404 });
    // stateless: no standalone stream to GET, no session to DELETE
    if (request.method !== 'POST')
      return Response.json({ jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed.' }, id: null }, { status: 405 });
    const server = createServer(env);
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    await server.connect(transport);
    return transport.handleRequest(request);
  },
};
TS
$APPS{mcp}{meta} = { bindings => [{ type => 'plain_text', name => 'GREETING', text => 'Howdy' }] };

# --- openai: the SDK at a baseURL (the echo shows what it sent; nginx plays
# the API for a completion and a streamed completion).
app('openai', 'src/index.ts', { 'src/index.ts' => <<'TS' });
import OpenAI from 'openai';
import { streamText } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';

type Env = { OPENAI_API_KEY: string; ECHO_URL: string; API_URL: string; STREAM_URL: string };

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === '/sent') {
      const openai = new OpenAI({ apiKey: env.OPENAI_API_KEY, baseURL: env.ECHO_URL, maxRetries: 0 });
      const echo = await openai.chat.completions.create({
        model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'What is 2 + 2?' }], temperature: 0,
      });
      return Response.json(echo);
    }
    const openai = new OpenAI({ apiKey: env.OPENAI_API_KEY, baseURL: env.API_URL, maxRetries: 0 });
    if (pathname === '/chat') {
      const completion = await openai.chat.completions.create({
        model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }],
      });
      return Response.json({ content: completion.choices[0].message.content, usage: completion.usage });
    }
    if (pathname === '/stream') {
      const streaming = new OpenAI({ apiKey: env.OPENAI_API_KEY, baseURL: env.STREAM_URL, maxRetries: 0 });
      const stream = await streaming.chat.completions.create({
        model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Count' }], stream: true,
      });
      const { readable, writable } = new TransformStream();
      const writer = writable.getWriter();
      const encoder = new TextEncoder();
      (async () => {
        for await (const chunk of stream) await writer.write(encoder.encode(chunk.choices[0]?.delta?.content ?? ''));
        await writer.close();
      })();
      return new Response(readable, { headers: { 'content-type': 'text/plain; charset=utf-8' } });
    }
    if (pathname === '/ai-text' || pathname === '/ai-ui') {
      // the AI SDK (ai, @ai-sdk/openai) streaming the same completion
      const provider = createOpenAI({ apiKey: env.OPENAI_API_KEY, baseURL: env.STREAM_URL });
      const result = streamText({ model: provider.chat('gpt-4o-mini'), prompt: 'Count' });
      return pathname === '/ai-text' ? result.toTextStreamResponse() : result.toUIMessageStreamResponse();
    }
    if (pathname === '/missing') {
      try {
        await openai.models.retrieve('no-such-model');
        return new Response('no error');
      } catch (err) {
        return Response.json({ name: err.constructor.name, status: err.status, message: err.message,
                                isNotFound: err instanceof OpenAI.NotFoundError });
      }
    }
    return new Response('Not found', { status: 404 });
  },
};
TS
my $openai_meta = { bindings => [
    { type => 'secret_text', name => 'OPENAI_API_KEY', text => 'sk-test-0123456789' },
    { type => 'plain_text', name => 'ECHO_URL', text => $up->url('/echo/v1') },
    { type => 'plain_text', name => 'API_URL', text => "http://127.0.0.1:$STANDIN/v1" },
    { type => 'plain_text', name => 'STREAM_URL', text => "http://127.0.0.1:$STANDIN/stream/v1" } ] };
$APPS{openai}{meta} = $openai_meta;

# --- stripe: webhook signatures checked with its SubtleCrypto provider, as
# its Workers example does; an API call through its fetch HTTP client.
app('stripe', 'src/index.ts', { 'src/index.ts' => <<'TS' });
import Stripe from 'stripe';

const cryptoProvider = Stripe.createSubtleCryptoProvider();
type Env = { STRIPE_API_KEY: string; STRIPE_WEBHOOK_SECRET: string; STANDIN_PORT: string };

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const stripe = new Stripe(env.STRIPE_API_KEY, {
      httpClient: Stripe.createFetchHttpClient(),
      host: '127.0.0.1', port: Number(env.STANDIN_PORT), protocol: 'http', maxNetworkRetries: 0,
    });
    const { pathname } = new URL(request.url);
    if (pathname === '/webhook') {
      const signature = request.headers.get('Stripe-Signature') ?? '';
      const body = await request.text();
      try {
        const event = await stripe.webhooks.constructEventAsync(body, signature, env.STRIPE_WEBHOOK_SECRET, undefined, cryptoProvider);
        return Response.json({ received: event.type, object: event.data.object.id });
      } catch (err) {
        return new Response(`Webhook Error: ${err.message}`, { status: 400 });
      }
    }
    if (pathname === '/test-header') {
      const payload = await request.text();
      const header = await stripe.webhooks.generateTestHeaderStringAsync({
        payload, secret: env.STRIPE_WEBHOOK_SECRET, timestamp: 1700000000, cryptoProvider });
      return new Response(header);
    }
    if (pathname === '/customer') {
      const customer = await stripe.customers.create({ email: 'ada@example.com', metadata: { plan: 'pro' } });
      return Response.json({ id: customer.id, email: customer.email, object: customer.object });
    }
    return new Response('Not found', { status: 404 });
  },
};
TS
$APPS{stripe}{meta} = { bindings => [
    { type => 'secret_text', name => 'STRIPE_API_KEY', text => 'sk_test_0123456789' },
    { type => 'secret_text', name => 'STRIPE_WEBHOOK_SECRET', text => 'whsec_test_secret' },
    { type => 'plain_text', name => 'STANDIN_PORT', text => "$STANDIN" } ] };

# --- server-side rendering: vue's renderToString and renderToWebStream (an
# async setup() under <Suspense>) and preact-render-to-string. src/views.js
# is what Node.js renders too, for the expected HTML.
my $ssr_views = <<'JS';
import { createSSRApp, defineComponent, h, ref, Suspense } from 'vue';
import { h as ph } from 'preact';

const Item = defineComponent({ props: ['label'], setup: (props) => () => h('li', { class: 'item' }, props.label) });
const Slow = defineComponent({
  async setup() {
    const forecast = await new Promise((resolve) => setTimeout(() => resolve('sunny'), 300));
    return () => h('p', { id: 'forecast' }, `forecast: ${forecast}`);
  },
});
export function vueApp(items) {
  return createSSRApp({
    setup() {
      const count = ref(items.length);
      return () => h('main', [
        h('h1', `${count.value} items <escaped>`),
        h('ul', items.map((label) => h(Item, { label }))),
        h(Suspense, null, { default: () => h(Slow), fallback: () => h('p', 'loading') }),
      ]);
    },
  });
}
function Card({ title, tags }) {
  return ph('article', { class: 'card', 'data-n': tags.length },
    ph('h2', null, title), ph('ul', null, tags.map((t) => ph('li', { key: t }, t))),
    ph('input', { type: 'checkbox', checked: true, disabled: false }));
}
export const preactPage = (title, tags) => ph(Card, { title, tags });
JS
my $svelte_app = <<'SVELTE';
<script>
  let { name, items } = $props();
  let count = $state(items.length);
  const doubled = $derived(count * 2);
</script>
<h1>Hello {name}!</h1>
<p>{count} items, doubled {doubled}</p>
<ul>{#each items as item, i}<li data-i={i}>{item}</li>{/each}</ul>
{#if count > 1}<p class="many">many</p>{:else}<p>few</p>{/if}
SVELTE
app('ssr', 'src/index.js', { 'src/views.js' => $ssr_views, 'src/App.svelte' => $svelte_app, 'src/index.js' => <<'JS' });
import { render } from 'svelte/server';
import App from './App.svelte.js';
import { renderToString, renderToWebStream } from 'vue/server-renderer';
import { renderToString as preactRender } from 'preact-render-to-string';
import { vueApp, preactPage } from './views.js';

export default {
  async fetch(request) {
    const url = new URL(request.url);
    const items = url.searchParams.getAll('item');
    if (url.pathname === '/vue') return new Response(await renderToString(vueApp(items)), { headers: { 'content-type': 'text/html' } });
    if (url.pathname === '/vue-stream')
      return new Response(renderToWebStream(vueApp(items)), { headers: { 'content-type': 'text/html' } });
    if (url.pathname === '/svelte')
      return new Response(render(App, { props: { name: url.searchParams.get('name'), items } }).body, { headers: { 'content-type': 'text/html' } });
    if (url.pathname === '/preact')
      return new Response(preactRender(preactPage(url.searchParams.get('title'), items)), { headers: { 'content-type': 'text/html' } });
    return new Response('Not found', { status: 404 });
  },
};
JS
# what the Svelte plugin does in a build: the component compiled for the server
$APPS{ssr}{prepare} = q{node -e 'const { compile } = require("svelte/compiler"); const fs = require("fs");
  fs.writeFileSync("src/App.svelte.js", compile(fs.readFileSync("src/App.svelte", "utf8"), { generate: "server", filename: "App.svelte" }).js.code)'};

# --- text formats: pure functions of src/formats.js, which Node.js runs too.
my $formats = <<'JS';
import { marked } from 'marked';
import YAML from 'yaml';
import { XMLParser, XMLBuilder } from 'fast-xml-parser';
import superjson from 'superjson';
import * as v from 'valibot';
import dayjs from 'dayjs';
import { format as formatDate, addDays, formatDistanceStrict } from 'date-fns';
import { de } from 'date-fns/locale';
import { formatInTimeZone } from 'date-fns-tz';
import Papa from 'papaparse';
import Handlebars from 'handlebars';
import utc from 'dayjs/plugin/utc.js';
import timezone from 'dayjs/plugin/timezone.js';
import relativeTime from 'dayjs/plugin/relativeTime.js';
dayjs.extend(utc);
dayjs.extend(timezone);
dayjs.extend(relativeTime);

const Signup = v.object({
  email: v.pipe(v.string(), v.email()),
  age: v.pipe(v.number(), v.integer(), v.minValue(18)),
  tags: v.optional(v.array(v.string()), []),
});

// compiled while the top level runs (code from strings is allowed there,
// not later, as on Workers): Handlebars compiles on first use, so use it once
const invoice = Handlebars.compile('<h1>{{title}}</h1>{{#each lines}}<p>{{@index}}: {{name}} x{{qty}}</p>{{/each}}{{{footer}}}');
invoice({});

export const formats = {
  markdown: (text) => marked.parse(text, { gfm: true }),
  yaml: (text) => { const doc = YAML.parse(text); return { doc, back: YAML.stringify(doc) }; },
  xml: (text) => {
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@' }).parse(text);
    return { doc, back: new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@', format: true }).build(doc) };
  },
  superjson: (text) => {
    const value = superjson.parse(text);
    return superjson.stringify({ got: value, when: new Date(Date.UTC(2024, 1, 29)), big: 2n ** 70n,
      set: new Set(['a', 'b']), map: new Map([[1, { re: /x+/gi }]]), undef: undefined });
  },
  valibot: (text) => {
    const r = v.safeParse(Signup, JSON.parse(text));
    return r.success ? { ok: true, output: r.output } : { ok: false, issues: r.issues.map((i) => [v.getDotPath(i), i.message]) };
  },
  dayjs: (text) => {
    const d = dayjs.utc(text);
    return { iso: d.add(1, 'year').toISOString(), fmt: d.format('dddd D MMMM YYYY HH:mm'),
             tokyo: d.tz('Asia/Tokyo').format('YYYY-MM-DD HH:mm Z'), from: d.from(d.add(3, 'day')),
             startOfWeek: d.startOf('week').format('YYYY-MM-DD'), valid: dayjs('nonsense').isValid() };
  },
  datefns: (text) => {
    const d = new Date(text);
    return { newYork: formatInTimeZone(d, 'America/New_York', 'yyyy-MM-dd HH:mm zzz'),
             kolkata: formatInTimeZone(d, 'Asia/Kolkata', "EEEE, d MMMM yyyy 'at' HH:mm xxx"),
             german: formatDate(addDays(d, 1), 'PPPP', { locale: de }), distance: formatDistanceStrict(d, addDays(d, 45)) };
  },
  csv: (text) => {
    const parsed = Papa.parse(text, { header: true, dynamicTyping: true, skipEmptyLines: true });
    return { rows: parsed.data, fields: parsed.meta.fields, back: Papa.unparse(parsed.data) };
  },
  handlebars: (text) => invoice(JSON.parse(text)),
};
JS
app('formats', 'src/index.js', { 'src/formats.js' => $formats, 'src/index.js' => <<'JS' });
import Handlebars from 'handlebars';
import { formats } from './formats.js';

export default {
  async fetch(request) {
    const name = new URL(request.url).pathname.slice(1);
    if (name === 'compile-now') {
      // while a request is handled, as on Workers: no code from strings
      try { return new Response(Handlebars.compile('{{x}}')({ x: 1 })); } catch (err) { return new Response(`${err.name}: ${err.message}`, { status: 500 }); }
    }
    if (!Object.hasOwn(formats, name)) return new Response('Not found', { status: 404 });
    const out = formats[name](await request.text());
    return typeof out === 'string' ? new Response(out) : Response.json(out);
  },
};
JS

# --- bytes: fflate, @noble/hashes, @noble/curves, nanoid, uuid, ulid.
app('bytes', 'src/index.js', { 'src/index.js' => <<'JS' });
import { gzipSync, gunzipSync, zipSync, strToU8, strFromU8 } from 'fflate';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { sha3_256 } from '@noble/hashes/sha3.js';
import { blake3 } from '@noble/hashes/blake3.js';
import { hmac } from '@noble/hashes/hmac.js';
import { pbkdf2 } from '@noble/hashes/pbkdf2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { nanoid, customAlphabet } from 'nanoid';
import { v4 as uuidv4, v5 as uuidv5, v7 as uuidv7, validate, version } from 'uuid';
import { ulid, monotonicFactory, decodeTime } from 'ulid';

const bytes = async (request) => new Uint8Array(await request.arrayBuffer());

export default {
  async fetch(request) {
    const url = new URL(request.url);
    switch (url.pathname) {
      case '/gzip': return new Response(gzipSync(await bytes(request), { level: 9 }));
      case '/gunzip': return new Response(strFromU8(gunzipSync(await bytes(request))));
      case '/zip':
        return new Response(zipSync({ 'hello.txt': strToU8('Hello, zip!'), 'dir/data.json': strToU8(JSON.stringify({ n: 42 })) }));
      case '/hashes': {
        const data = await bytes(request);
        return Response.json({
          sha256: bytesToHex(sha256(data)), sha512: bytesToHex(sha512(data)), sha3_256: bytesToHex(sha3_256(data)),
          blake3: bytesToHex(blake3(data)), hmac: bytesToHex(hmac(sha256, strToU8('key'), data)),
          pbkdf2: bytesToHex(pbkdf2(sha256, data, strToU8('salt'), { c: 1000, dkLen: 32 })),
        });
      }
      case '/curves': {
        const message = await bytes(request);
        const edSecret = hexToBytes(url.searchParams.get('ed'));
        const signature = ed25519.sign(message, edSecret);
        const edPublic = ed25519.getPublicKey(edSecret);
        const k1Secret = hexToBytes(url.searchParams.get('k1'));
        const k1Sig = secp256k1.sign(message, k1Secret);
        return Response.json({
          edPublic: bytesToHex(edPublic), edSignature: bytesToHex(signature),
          edVerifies: ed25519.verify(signature, message, edPublic),
          edRejectsOther: ed25519.verify(signature, strToU8('other'), edPublic),
          k1Public: bytesToHex(secp256k1.getPublicKey(k1Secret, false)),
          k1Verifies: secp256k1.verify(k1Sig, message, secp256k1.getPublicKey(k1Secret)),
          randomKeyVerifies: (() => { const k = ed25519.utils.randomSecretKey(); return ed25519.verify(ed25519.sign(message, k), message, ed25519.getPublicKey(k)); })(),
        });
      }
      case '/ids': {
        const monotonic = monotonicFactory();
        const ulids = Array.from({ length: 5 }, () => monotonic());
        const v7s = Array.from({ length: 5 }, () => uuidv7());
        return Response.json({
          nanoid: nanoid(), short: customAlphabet('0123456789abcdef', 10)(), nanoids: Array.from({ length: 100 }, () => nanoid()),
          uuid4: uuidv4(), uuid4Version: version(uuidv4()), uuid5: uuidv5('example.com', uuidv5.DNS),
          uuid7s: v7s, valid: validate(v7s[0]), ulid: ulid(), ulids, ulidTime: decodeTime(ulids[0]), now: Date.now(),
        });
      }
    }
    return new Response('Not found', { status: 404 });
  },
};
JS

# --- effect: a program of effects (Schema decoding, concurrency, retries on
# a schedule, a timeout) run per request.
app('effect', 'src/index.ts', { 'src/index.ts' => <<'TS' });
import { Duration, Effect, Schedule, Schema } from 'effect';

const Order = Schema.Struct({ id: Schema.Number, items: Schema.Array(Schema.String), rush: Schema.optional(Schema.Boolean) });

const lookup = (item: string) => Effect.sleep(Duration.millis(100)).pipe(Effect.as({ item, price: item.length * 10 }));

const program = (body: unknown) => Effect.gen(function* () {
  const order = yield* Schema.decodeUnknownEffect(Order)(body);
  const started = Date.now();
  const priced = yield* Effect.all(order.items.map(lookup), { concurrency: 'unbounded' });
  const elapsed = Date.now() - started;
  let attempts = 0;
  const flaky = Effect.suspend(() => ++attempts < 3 ? Effect.fail('not yet') : Effect.succeed(`ok after ${attempts}`));
  const retried = yield* flaky.pipe(Effect.retry(Schedule.spaced(Duration.millis(20))));
  const timedOut = yield* Effect.sleep(Duration.seconds(5)).pipe(Effect.timeout(Duration.millis(50)), Effect.as('finished'),
    Effect.catch(() => Effect.succeed('timed out')));
  return { id: order.id, total: priced.reduce((n, p) => n + p.price, 0), concurrent: elapsed < 250, retried, timedOut };
});

export default {
  async fetch(request: Request): Promise<Response> {
    const body = await request.json();
    return Effect.runPromise(program(body).pipe(
      Effect.map((result) => Response.json(result)),
      Effect.catch((error) => Effect.succeed(Response.json({ error: String(error) }, { status: 400 }))),
    ));
  },
};
TS

# --- @aws-sdk/client-s3 (nodejs_compat, as its Workers guides deploy it):
# presigned URLs at a fixed signing date (Node.js signs the same), and a
# PutObject that nginx answers as S3 would.
my $s3_presign = <<'JS';
import { S3Client, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

export const s3 = (endpoint) => new S3Client({
  region: 'auto', endpoint, forcePathStyle: true,
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
});
export const presign = (client, key) => Promise.all([
  getSignedUrl(client, new GetObjectCommand({ Bucket: 'photos', Key: key }), { expiresIn: 3600, signingDate: new Date('2024-05-01T12:00:00Z') }),
  getSignedUrl(client, new PutObjectCommand({ Bucket: 'photos', Key: key, ContentType: 'image/png' }), { expiresIn: 600, signingDate: new Date('2024-05-01T12:00:00Z') }),
]);
JS
app('s3', 'src/index.js', { 'src/presign.js' => $s3_presign, 'src/index.js' => <<'JS' }, flags => ['nodejs_compat']);
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { s3, presign } from './presign.js';

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const client = s3(env.S3_ENDPOINT);
    if (url.pathname === '/presign') {
      const [get, put] = await presign(client, url.searchParams.get('key'));
      return Response.json({ get, put });
    }
    if (url.pathname === '/put') {
      const out = await client.send(new PutObjectCommand({ Bucket: 'photos', Key: 'notes/a.txt', Body: await request.text(), ContentType: 'text/plain' }));
      return Response.json({ etag: out.ETag, status: out.$metadata.httpStatusCode });
    }
    return new Response('Not found', { status: 404 });
  },
};
JS
$APPS{s3}{meta} = { bindings => [{ type => 'plain_text', name => 'S3_ENDPOINT', text => "http://127.0.0.1:$STANDIN" }] };

# --- HTML without a browser: linkedom's DOM and cheerio (nodejs_compat).
my $dom_page = '<html><head><title>Shop</title></head><body><ul id="list"><li class="p" data-price="3">Tea</li>'
    . '<li class="p" data-price="12">Cake</li><li class="x">Note</li></ul><a href="/a?x=1&amp;y=2">next</a></body></html>';
app('dom', 'src/index.js', { 'src/index.js' => <<'JS' }, flags => ['nodejs_compat']);
import { parseHTML } from 'linkedom';
import * as cheerio from 'cheerio';
import sanitizeHtml from 'sanitize-html';

export default {
  async fetch(request) {
    const url = new URL(request.url);
    const html = await request.text();
    if (url.pathname === '/linkedom') {
      const { document } = parseHTML(html);
      const items = [...document.querySelectorAll('li.p')].map((li) => ({ name: li.textContent, price: Number(li.dataset.price) }));
      const li = document.createElement('li');
      li.className = 'p';
      li.textContent = 'Scone & jam';
      document.getElementById('list').append(li);
      document.querySelector('li.x').remove();
      return Response.json({ title: document.title, items, href: document.querySelector('a').getAttribute('href'),
                             list: document.getElementById('list').outerHTML });
    }
    if (url.pathname === '/sanitize')
      return new Response(sanitizeHtml(html, { allowedTags: ['b', 'i', 'a', 'p'], allowedAttributes: { a: ['href'] } }));
    if (url.pathname === '/cheerio') {
      const $ = cheerio.load(html);
      const items = $('li.p').map((_, el) => ({ name: $(el).text(), price: Number($(el).attr('data-price')) })).get();
      $('li.x').remove();
      $('#list').append('<li class="p">Scone &amp; jam</li>');
      return Response.json({ title: $('title').text(), items, href: $('a').attr('href'), list: $.html('#list'),
                             extracted: $.extract({ names: ['li.p'] }) });
    }
    return new Response('Not found', { status: 404 });
  },
};
JS

# --- jsonwebtoken (nodejs_compat, node:crypto's createSecretKey/KeyObject
# and createHmac), as Workers guides use it for HS256 sessions.
app('jwt', 'src/index.js', { 'src/index.js' => <<'JS' }, flags => ['nodejs_compat']);
import jwt from 'jsonwebtoken';

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === '/login') {
      const { user } = await request.json();
      const token = jwt.sign({ sub: user, role: 'editor' }, env.JWT_SECRET, { algorithm: 'HS256', expiresIn: '1h', issuer: 'dispatch' });
      return Response.json({ token });
    }
    if (url.pathname === '/me') {
      const token = (request.headers.get('Authorization') ?? '').replace(/^Bearer /, '');
      try {
        const claims = jwt.verify(token, env.JWT_SECRET, { algorithms: ['HS256'], issuer: 'dispatch' });
        return Response.json({ sub: claims.sub, role: claims.role });
      } catch (err) {
        return Response.json({ error: err.name, message: err.message }, { status: 401 });
      }
    }
    // RS256, PS256 and ES256 with PEM keys (PKCS#1 and SEC1 private keys
    // as openssl writes them, SPKI public ones), and back
    const keys = { RS256: [env.RSA_PRIVATE, env.RSA_PUBLIC], PS256: [env.RSA_PRIVATE, env.RSA_PUBLIC], ES256: [env.EC_PRIVATE, env.EC_PUBLIC] };
    if (url.pathname === '/sign-asym') {
      const { alg, claims } = await request.json();
      return Response.json({ token: jwt.sign(claims, keys[alg][0], { algorithm: alg, noTimestamp: true }) });
    }
    if (url.pathname === '/verify-asym') {
      const { alg, token } = await request.json();
      try {
        return Response.json({ claims: jwt.verify(token, keys[alg][1], { algorithms: [alg] }) });
      } catch (err) {
        return Response.json({ error: err.name, message: err.message });
      }
    }
    return new Response('Not found', { status: 404 });
  },
};
JS
sub openssl_key {
    my (@args) = @_;
    my $key = `openssl @args 2>/dev/null`;
    BAIL_OUT("openssl @args failed") if $? || !$key;
    return $key;
}
my %PEM = (rsa => openssl_key('genrsa -traditional 2048'), ec => openssl_key('ecparam -name prime256v1 -genkey -noout'));
for my $k (qw(rsa ec)) {
    my $dir = tempdir('dispatch-key-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    write_file("$dir/key.pem", $PEM{$k});
    $PEM{"$k-public"} = openssl_key("pkey -in $dir/key.pem -pubout");
}
$APPS{jwt}{meta} = { bindings => [{ type => 'secret_text', name => 'JWT_SECRET', text => 'a-long-random-secret-for-hs256' },
    { type => 'secret_text', name => 'RSA_PRIVATE', text => $PEM{rsa} }, { type => 'plain_text', name => 'RSA_PUBLIC', text => $PEM{'rsa-public'} },
    { type => 'secret_text', name => 'EC_PRIVATE', text => $PEM{ec} }, { type => 'plain_text', name => 'EC_PUBLIC', text => $PEM{'ec-public'} }] };

# --- @cloudflare/workers-oauth-provider: one Worker as OAuth 2.1
# authorization server (dynamic client registration, PKCE, its KV) and the
# API it protects, as its README's OAuthProvider shape.
app('oauth', 'src/index.ts', { 'src/index.ts' => <<'TS' });
import { OAuthProvider, type OAuthHelpers } from '@cloudflare/workers-oauth-provider';

type Env = { OAUTH_KV: KVNamespace; OAUTH_PROVIDER: OAuthHelpers };

const apiHandler = {
  async fetch(request: Request, env: Env, ctx: any) {
    return Response.json({ user: ctx.props.user, scope: ctx.auth?.scope, path: new URL(request.url).pathname });
  },
};

const defaultHandler = {
  async fetch(request: Request, env: Env) {
    const url = new URL(request.url);
    if (url.pathname === '/authorize') {
      // a real app signs the user in and asks for consent here
      const oauthRequest = await env.OAUTH_PROVIDER.parseAuthRequest(request);
      const client = await env.OAUTH_PROVIDER.lookupClient(oauthRequest.clientId);
      const { redirectTo } = await env.OAUTH_PROVIDER.completeAuthorization({
        request: oauthRequest, userId: 'ada', metadata: { client: client?.clientName },
        scope: oauthRequest.scope, props: { user: 'ada' },
      });
      return Response.redirect(redirectTo, 302);
    }
    return new Response('Home of the OAuth demo');
  },
};

// made on the first request: the resource's URL is the origin in env
let provider: OAuthProvider | undefined;
export default {
  fetch(request: Request, env: Env & { ORIGIN: string }, ctx: ExecutionContext) {
    provider ??= new OAuthProvider({
      apiRoute: '/api/',
      apiHandler,
      defaultHandler,
      authorizeEndpoint: '/authorize',
      tokenEndpoint: '/oauth/token',
      clientRegistrationEndpoint: '/oauth/register',
      scopesSupported: ['notes:read', 'notes:write'],
      resourceMetadata: { resource: `${env.ORIGIN}/api/`, authorization_servers: [env.ORIGIN] },
    });
    return provider.fetch(request, env, ctx);
  },
};
TS
# (its ORIGIN, http on a loopback address as the library allows, once nginx has its port)

# --- axios (its fetch adapter, as it picks on Workers) against the echo.
app('axios', 'src/index.js', { 'src/index.js' => <<'JS' });
import axios from 'axios';

export default {
  async fetch(request, env) {
    const api = axios.create({ baseURL: env.ECHO_URL, headers: { 'X-Client': 'dispatch' }, timeout: 5000 });
    const sent = await api.post('/orders?rush=1', { item: 'tea', qty: 2 }, { params: { v: 3 } });
    let failure;
    try {
      await axios.get(env.MISSING_URL);
    } catch (err) {
      failure = { isAxiosError: axios.isAxiosError(err), status: err.response?.status, body: err.response?.data };
    }
    return Response.json({ status: sent.status, echo: sent.data, failure });
  },
};
JS
$APPS{axios}{meta} = { bindings => [{ type => 'plain_text', name => 'ECHO_URL', text => $up->url('/echo/api') },
    { type => 'plain_text', name => 'MISSING_URL', text => $up->url('/status/404') }] };

# --- documents and files: jszip, pdf-lib, xlsx (SheetJS), qrcode, bcryptjs.
app('docs', 'src/index.js', { 'src/index.js' => <<'JS' });
import JSZip from 'jszip';
import { PDFDocument, StandardFonts, rgb } from 'pdf-lib';
import * as XLSX from 'xlsx';
import QRCode from 'qrcode';
import bcrypt from 'bcryptjs';

export default {
  async fetch(request) {
    const url = new URL(request.url);
    switch (url.pathname) {
      case '/zip': {
        const zip = new JSZip();
        zip.file('readme.txt', 'made by jszip in a worker');
        zip.folder('data').file('n.json', JSON.stringify({ n: 7 }));
        return new Response(await zip.generateAsync({ type: 'uint8array', compression: 'DEFLATE' }), { headers: { 'content-type': 'application/zip' } });
      }
      case '/unzip': {
        const zip = await JSZip.loadAsync(await request.arrayBuffer());
        const files = {};
        for (const name of Object.keys(zip.files).sort()) if (!zip.files[name].dir) files[name] = await zip.file(name).async('string');
        return Response.json(files);
      }
      case '/pdf': {
        const doc = await PDFDocument.create();
        const font = await doc.embedFont(StandardFonts.Helvetica);
        for (const text of ['Page one', 'Page two']) doc.addPage([300, 200]).drawText(text, { x: 20, y: 100, size: 18, font, color: rgb(0, 0, 0.6) });
        doc.setTitle('Made in a worker');
        doc.setCreationDate(new Date('2024-01-01T00:00:00Z'));
        return new Response(await doc.save(), { headers: { 'content-type': 'application/pdf' } });
      }
      case '/xlsx': {
        const sheet = XLSX.utils.json_to_sheet([{ item: 'Tea', qty: 2, price: 3.5 }, { item: 'Cake', qty: 1, price: 12 }]);
        const book = XLSX.utils.book_new();
        XLSX.utils.book_append_sheet(book, sheet, 'Orders');
        return new Response(XLSX.write(book, { type: 'array', bookType: 'xlsx' }));
      }
      case '/qr': return new Response(await QRCode.toString(url.searchParams.get('text'), { type: 'svg', errorCorrectionLevel: 'M' }));
      case '/bcrypt': {
        const { password, hash } = await request.json();
        return Response.json({ hash: await bcrypt.hash(password, 6), matches: await bcrypt.compare(password, hash) });
      }
    }
    return new Response('Not found', { status: 404 });
  },
};
JS

# --- bots and webhooks: a Discord interactions endpoint (discord-interactions'
# verifyKey, Ed25519), a GitHub App's webhook (@octokit/webhooks, HMAC) and a
# Telegram bot (grammy's webhookCallback for Workers, answering in the
# webhook's reply).
app('bots', 'src/index.ts', { 'src/index.ts' => <<'TS' });
import { verifyKey, InteractionType, InteractionResponseType } from 'discord-interactions';
import { Webhooks } from '@octokit/webhooks';
import { Bot, webhookCallback } from 'grammy';

type Env = { DISCORD_PUBLIC_KEY: string; GITHUB_WEBHOOK_SECRET: string; TELEGRAM_TOKEN: string };

async function discord(request: Request, env: Env) {
  const body = await request.text();
  const ok = await verifyKey(body, request.headers.get('X-Signature-Ed25519') ?? '', request.headers.get('X-Signature-Timestamp') ?? '',
                             env.DISCORD_PUBLIC_KEY);
  if (!ok) return new Response('Bad request signature.', { status: 401 });
  const interaction = JSON.parse(body);
  if (interaction.type === InteractionType.PING) return Response.json({ type: InteractionResponseType.PONG });
  return Response.json({ type: InteractionResponseType.CHANNEL_MESSAGE_WITH_SOURCE,
                         data: { content: `Hello, ${interaction.member.user.username}! You ran /${interaction.data.name}.` } });
}

async function github(request: Request, env: Env) {
  const webhooks = new Webhooks({ secret: env.GITHUB_WEBHOOK_SECRET });
  let reply = { handled: false };
  webhooks.on('issues.opened', ({ payload }) => { reply = { handled: true, issue: payload.issue.number, title: payload.issue.title }; });
  try {
    await webhooks.verifyAndReceive({ id: request.headers.get('X-GitHub-Delivery') ?? '', name: request.headers.get('X-GitHub-Event') as any,
                                      signature: request.headers.get('X-Hub-Signature-256') ?? '', payload: await request.text() });
  } catch (err) {
    return new Response(`rejected: ${err.message}`, { status: 401 });
  }
  return Response.json(reply);
}

function telegram(request: Request, env: Env) {
  const bot = new Bot(env.TELEGRAM_TOKEN, {
    botInfo: { id: 42, is_bot: true, first_name: 'Dispatch', username: 'dispatch_bot', can_join_groups: true,
               can_read_all_group_messages: false, supports_inline_queries: false, can_connect_to_business: false, has_main_web_app: false },
    client: { canUseWebhookReply: (method) => method === 'sendMessage' },
  });
  bot.command('start', (ctx) => ctx.reply(`Welcome, ${ctx.from?.first_name}!`));
  bot.on('message:text', (ctx) => ctx.reply(ctx.message.text.split('').reverse().join('')));
  return webhookCallback(bot, 'cloudflare-mod')(request);
}

export default {
  fetch(request: Request, env: Env) {
    const { pathname } = new URL(request.url);
    if (pathname === '/discord') return discord(request, env);
    if (pathname === '/github') return github(request, env);
    if (pathname === '/telegram') return telegram(request, env);
    return new Response('Not found', { status: 404 });
  },
};
TS
my %ED = (key => openssl_key('genpkey -algorithm ed25519'));
{
    my $dir = tempdir('dispatch-ed-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    write_file("$dir/key.pem", $ED{key});
    $ED{dir} = $dir;
    $ED{public} = unpack 'H*', substr(openssl_key("pkey -in $dir/key.pem -pubout -outform DER"), -32);
}
$APPS{bots}{meta} = { bindings => [{ type => 'plain_text', name => 'DISCORD_PUBLIC_KEY', text => $ED{public} },
    { type => 'secret_text', name => 'GITHUB_WEBHOOK_SECRET', text => 'gh-webhook-secret' },
    { type => 'secret_text', name => 'TELEGRAM_TOKEN', text => '123456:telegram-test-token' }] };

# --- Node streams over the request body (nodejs_compat): a multipart upload
# parsed by busboy, CSV by csv-parse, legacy charsets by iconv-lite.
app('nodestreams', 'src/index.js', { 'src/index.js' => <<'JS' }, flags => ['nodejs_compat']);
import busboy from 'busboy';
import { parse } from 'csv-parse';
import iconv from 'iconv-lite';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

function upload(request) {
  const bb = busboy({ headers: Object.fromEntries(request.headers) });
  const result = { fields: {}, files: [] };
  const done = new Promise((resolve, reject) => {
    bb.on('field', (name, value) => { result.fields[name] = value; });
    bb.on('file', (name, stream, info) => {
      const hash = createHash('sha256');
      let bytes = 0;
      stream.on('data', (chunk) => { hash.update(chunk); bytes += chunk.length; });
      stream.on('end', () => result.files.push({ name, filename: info.filename, mimeType: info.mimeType, bytes, sha256: hash.digest('hex') }));
    });
    bb.on('close', resolve);
    bb.on('error', reject);
  });
  Readable.fromWeb(request.body).pipe(bb);
  return done.then(() => Response.json(result));
}

async function csv(request) {
  const totals = {};
  let rows = 0;
  for await (const row of Readable.fromWeb(request.body).pipe(parse({ columns: true, cast: true }))) {
    totals[row.region] = (totals[row.region] ?? 0) + row.amount;
    rows++;
  }
  return Response.json({ rows, totals });
}

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/upload') return upload(request);
    if (url.pathname === '/csv') return csv(request);
    if (url.pathname === '/decode') return new Response(iconv.decode(Buffer.from(await request.arrayBuffer()), url.searchParams.get('charset')));
    if (url.pathname === '/encode') return new Response(iconv.encode(await request.text(), url.searchParams.get('charset')));
    return new Response('Not found', { status: 404 });
  },
};
JS

# ------------------------------------------------------------- bundle, serve, deploy

# Each app as a project directory with its wrangler.toml, all bundled at
# once with `wrangler deploy --dry-run --outdir out` (at most 100 s).
my (%BUNDLE, %DIR);
{
    my @names = sort keys %APPS;
    for my $name (@names) {
        my $o = $APPS{$name};
        my $dir = $DIR{$name} = tempdir("dispatch-$name-XXXXXX", TMPDIR => 1, CLEANUP => 1);
        my $flags = $o->{flags} ? 'compatibility_flags = [' . join(', ', map { qq{"$_"} } @{ $o->{flags} }) . "]\n" : '';
        write_file("$dir/wrangler.toml", qq{name = "$name"\nmain = "$o->{main}"\ncompatibility_date = "$DATE"\n$flags});
        write_file("$dir/$_", $o->{files}{$_}) for keys %{ $o->{files} };
        symlink(npm_dir() . '/node_modules', "$dir/node_modules") or die "symlink: $!";
        if ($o->{prepare}) {
            my $out = `cd $dir && $o->{prepare} 2>&1`;
            is $?, 0, "$name: its build step" or diag $out;
        }
    }
    my @results = wrangler_dry_runs($WRANGLER, [ map { $DIR{$_} } @names ], 100);
    for my $i (0 .. $#names) {
        my ($name, $rc, $out) = ($names[$i], @{ $results[$i] });
        is $rc, 0, "wrangler bundles $name" or diag $out;
        (my $js = $APPS{$name}{main}) =~ s{^.*/}{};
        $js =~ s/\.[jt]sx?$/.js/;
        $BUNDLE{$name} = do { local $/; open my $b, '<', "$DIR{$name}/out/$js" or die "$name: no out/$js"; <$b> };
    }
}

sub node_json { my ($app, $code) = @_; return node_json_in($DIR{$app}, $app, $code) }

# Stand-ins on a port of their own, answered by nginx: OpenAI's chat
# completions (plain and as server-sent events), Stripe's customers, S3's
# PutObject.
my $completion = encode_json({ id => 'chatcmpl-1', object => 'chat.completion', created => 1700000000, model => 'gpt-4o-mini',
    choices => [{ index => 0, message => { role => 'assistant', content => 'Hello from the stand-in!' }, finish_reason => 'stop' }],
    usage => { prompt_tokens => 9, completion_tokens => 5, total_tokens => 14 } });
my @deltas = ('One', ', two', ', three.');
my $chunk = sub { 'data: ' . encode_json({ id => 'chatcmpl-2', object => 'chat.completion.chunk', created => 1700000000,
    model => 'gpt-4o-mini', choices => [{ index => 0, delta => $_[0], finish_reason => $_[1] }] }) . "\\n\\n" };
my $sse = join '', (map { $chunk->({ content => $_ }, undef) } @deltas), $chunk->({}, 'stop'), "data: [DONE]\\n\\n";
my $customer = encode_json({ id => 'cus_TEST123', object => 'customer', email => 'ada@example.com', metadata => { plan => 'pro' } });
my $t = apps_server(
    http   => "dispatch_fetch_allow 127.0.0.1/32:$STANDIN 127.0.0.1/32:" . $up->port . ';'
            . " server { listen 127.0.0.1:$STANDIN;"
            . "   location = /v1/chat/completions { if (\$http_authorization != 'Bearer sk-test-0123456789') { return 401; }"
            . "     default_type application/json; return 200 '$completion'; }"
            . "   location = /stream/v1/chat/completions { default_type text/event-stream; return 200 '$sse'; }"
            . "   location = /v1/models/no-such-model { default_type application/json;"
            . "     return 404 '{\"error\":{\"message\":\"The model does not exist\",\"type\":\"invalid_request_error\",\"code\":\"model_not_found\"}}'; }"
            . "   location = /v1/customers { default_type application/json; return 200 '$customer'; }"
            . "   location /photos/ { add_header ETag '\"5d41402abc4b2a76b9719d911017c592\"' always; return 200 ''; }"
            . " }",
);
$APPS{oauth}{meta} = { bindings => [{ type => 'kv_namespace', name => 'OAUTH_KV', namespace_id => 'oauth-demo' },
    { type => 'plain_text', name => 'ORIGIN', text => 'http://127.0.0.1:' . $t->port }] };
envelope_ok(api($t, POST => '', json => { name => 'apps' }), 'a namespace for the apps');
upload_apps($t, 'apps', $DATE, \%APPS, \%BUNDLE);

sub on {
    my ($app, $method, $path, %o) = @_;
    return $t->request($method, $path, timeout => 20, %o, host => "$app.test");
}
sub uri_escape { my ($s) = @_; $s =~ s/([^A-Za-z0-9_.~-])/sprintf '%%%02X', ord $1/ge; return $s }
sub json_of { my ($r) = @_; return eval { decode_json($r->{content}) } // { unparsed => $r->{content} } }

# ------------------------------------------------------------- MCP

# The SDK's own client (Node.js, StreamableHTTPClientTransport) against the
# worker: initialize, list, call (with progress notifications streamed as
# server-sent events before the result), read a resource, get a prompt.
{
    my $got = node_json('mcp', sprintf(<<'JS', $t->port));
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
const client = new Client({ name: 'dispatch-test', version: '1.0.0' });
await client.connect(new StreamableHTTPClientTransport(new URL('http://127.0.0.1:%d/mcp?app=mcp')));
const out = { server: client.getServerVersion() };
out.tools = (await client.listTools()).tools.map((t) => t.name).sort();
out.add = await client.callTool({ name: 'add', arguments: { a: 19, b: 23 } });
out.sha256 = await client.callTool({ name: 'sha256', arguments: { text: 'hello, mcp' } });
out.invalid = await client.callTool({ name: 'add', arguments: { a: 'x', b: 1 } });
out.progress = [];
out.countdown = await client.callTool({ name: 'countdown', arguments: { from: 3 } }, undefined,
  { onprogress: (p) => out.progress.push([p.progress, p.total]) });
out.resource = await client.readResource({ uri: 'greeting://Ada' });
out.prompt = await client.getPrompt({ name: 'review', arguments: { code: 'let x = 1;' } });
await client.close();
console.log(JSON.stringify(out));
JS
    is_deeply $got->{server}, { name => 'dispatch-mcp', version => '1.0.0' }, 'mcp: the client initializes against the worker';
    is_deeply $got->{tools}, [qw(add countdown sha256)], 'mcp: tools/list';
    is_deeply $got->{add}{content}, [{ type => 'text', text => '42' }], 'mcp: tools/call add';
    is $got->{sha256}{structuredContent}{hex}, sha256_hex('hello, mcp'), 'mcp: a tool using crypto.subtle, with structured content';
    ok $got->{invalid}{isError} && ($got->{invalid}{content}[0]{text} // '') =~ /validation|Invalid/i,
        'mcp: arguments the input schema refuses are a tool error' or diag explain $got->{invalid};
    is_deeply $got->{progress}, [[1, 3], [2, 3], [3, 3]], 'mcp: progress notifications reach the client on the call\'s event stream';
    is_deeply $got->{countdown}{content}, [{ type => 'text', text => 'liftoff' }], 'mcp: then the result';
    is_deeply $got->{resource}{contents}, [{ uri => 'greeting://Ada', text => 'Howdy, Ada!' }], 'mcp: a resource template, env in reach';
    is $got->{prompt}{messages}[0]{content}{text}, "Please review this code:\n\nlet x = 1;", 'mcp: prompts/get';

    my $r = on('mcp', GET => '/mcp', headers => { Accept => 'text/event-stream' });
    is $r->{status}, 405, 'mcp: the stateless server answers GET (a standalone stream) with 405';
    $r = on('mcp', POST => '/mcp', content => '{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
            headers => { 'Content-Type' => 'application/json', Accept => 'application/json' });
    is $r->{status}, 406, 'mcp: a POST that does not accept text/event-stream is refused (406)';
}

# ------------------------------------------------------------- openai

{
    my $sent = json_of(on('openai', GET => '/sent'));
    is $sent->{method}, 'POST', 'openai: chat.completions.create POSTs';
    is $sent->{path}, '/echo/v1/chat/completions', 'openai: to baseURL + /chat/completions';
    is $sent->{header}{authorization}, 'Bearer sk-test-0123456789', 'openai: with the key from env as a bearer token';
    is_deeply scalar(eval { decode_json(decode_base64($sent->{body_b64} // '')) }),
        { model => 'gpt-4o-mini', messages => [{ role => 'user', content => 'What is 2 + 2?' }], temperature => 0 },
        'openai: the request body as JSON';
    is_deeply json_of(on('openai', GET => '/chat')),
        { content => 'Hello from the stand-in!', usage => { prompt_tokens => 9, completion_tokens => 5, total_tokens => 14 } },
        'openai: the completion parsed';
    my $r = on('openai', GET => '/stream');
    is $r->{content}, join('', @deltas), 'openai: a streamed completion (server-sent events) iterated chunk by chunk';
    $r = on('openai', GET => '/ai-text');
    is $r->{content}, join('', @deltas), 'openai: the AI SDK\'s streamText over @ai-sdk/openai, as a text stream';
    $r = on('openai', GET => '/ai-ui');
    like $r->{headers}{'content-type'}, qr{^text/event-stream}, 'openai: its UI message stream is server-sent events';
    my @events = map { my $e = eval { decode_json($_) }; $e ? $e : () } $r->{content} =~ /^data: (\{.*\})$/mg;
    is_deeply [ map { $_->{delta} } grep { $_->{type} eq 'text-delta' } @events ], \@deltas, 'openai: with a text-delta per chunk';
    is $events[-1]{type}, 'finish', 'openai: then finish';
    is_deeply json_of(on('openai', GET => '/missing')),
        { name => 'NotFoundError', status => 404, message => '404 The model does not exist', isNotFound => JSON::PP::true },
        'openai: an API error becomes OpenAI.NotFoundError';
}

# ------------------------------------------------------------- stripe

{
    my $secret = 'whsec_test_secret';
    my $payload = encode_json({ id => 'evt_1', object => 'event', type => 'payment_intent.succeeded',
                                data => { object => { id => 'pi_123', object => 'payment_intent', amount => 2000 } } });
    my $r = on('stripe', POST => '/test-header', content => $payload);
    is $r->{content}, 't=1700000000,v1=' . hmac_sha256_hex("1700000000.$payload", $secret),
        'stripe: generateTestHeaderStringAsync signs with HMAC-SHA256 (SubtleCrypto provider)';
    my $now = time;
    my $signed = sub { my ($body, $ts) = @_; "t=$ts,v1=" . hmac_sha256_hex("$ts.$body", $secret) };
    $r = on('stripe', POST => '/webhook', content => $payload, headers => { 'Stripe-Signature' => $signed->($payload, $now) });
    is_deeply json_of($r), { received => 'payment_intent.succeeded', object => 'pi_123' },
        'stripe: constructEventAsync accepts a webhook signed as Stripe signs it' or diag $r->{content};
    (my $tampered = $payload) =~ s/2000/1/;
    $r = on('stripe', POST => '/webhook', content => $tampered, headers => { 'Stripe-Signature' => $signed->($payload, $now) });
    is $r->{status}, 400, 'stripe: a tampered payload is refused';
    like $r->{content}, qr/No signatures found matching the expected signature/, 'stripe: with its reason';
    $r = on('stripe', POST => '/webhook', content => $payload, headers => { 'Stripe-Signature' => $signed->($payload, $now - 3600) });
    like $r->{content}, qr/Timestamp outside the tolerance zone/, 'stripe: an old signature is refused (tolerance, Date.now)';
    is_deeply json_of(on('stripe', GET => '/customer')), { id => 'cus_TEST123', email => 'ada@example.com', object => 'customer' },
        'stripe: customers.create through createFetchHttpClient';
}

# ------------------------------------------------------------- SSR

{
    my @items = ('tea', '<cake> & "jam"');
    my $q = join '&', map { 'item=' . uri_escape($_) } @items;
    my $want = node_json('ssr', <<'JS');
import { renderToString } from 'vue/server-renderer';
import { renderToString as preactRender } from 'preact-render-to-string';
import { render } from 'svelte/server';
import App from './src/App.svelte.js';
import { vueApp, preactPage } from './src/views.js';
const items = ['tea', '<cake> & "jam"'];
console.log(JSON.stringify({ vue: await renderToString(vueApp(items)), preact: preactRender(preactPage('Menu & more', items)),
                             svelte: render(App, { props: { name: 'Svelte & co', items } }).body }));
JS
    like $want->{vue}, qr{<p id="forecast">forecast: sunny</p>}, 'ssr: node renders the async component';
    my $r = on('ssr', GET => "/vue?$q");
    is $r->{content}, $want->{vue}, 'ssr: vue renderToString renders what node renders (async setup under Suspense)';
    $r = on('ssr', GET => "/vue-stream?$q");
    is $r->{content}, $want->{vue}, 'ssr: vue renderToWebStream streams the same HTML';
    $r = on('ssr', GET => "/preact?title=Menu%20%26%20more&$q");
    is $r->{content}, $want->{preact}, 'ssr: preact-render-to-string renders what node renders';
    like $want->{svelte} // '', qr{<h1>Hello Svelte &amp; co!</h1>}, 'ssr: node renders the Svelte component';
    $r = on('ssr', GET => "/svelte?name=Svelte%20%26%20co&$q");
    is $r->{content}, $want->{svelte}, 'ssr: svelte/server renders what node renders (a Svelte 5 component with runes)';
}

# ------------------------------------------------------------- text formats

{
    my %inputs = (
        markdown => "# Title\n\nSome *emphasis*, `code` and a [link](https://example.com \"t\").\n\n"
                  . "| a | b |\n|---|---|\n| 1 | 2 |\n\n- [x] done\n- [ ] todo\n\n```js\nlet x = 1 < 2;\n```\n",
        yaml      => "name: dispatch\nversion: 1.2\nlist:\n  - a\n  - { b: true, c: null }\nwhen: 2024-02-29\nmulti: |\n  line one\n  line two\n",
        xml       => '<?xml version="1.0"?><catalog><book id="b1" lang="en"><title>Dune</title><year>1965</year></book>'
                  . '<book id="b2"><title>Neuromancer &amp; more</title><year>1984</year></book></catalog>',
        superjson => '{"json":{"d":"2020-01-01T00:00:00.000Z","n":"12345678901234567890"},"meta":{"values":{"d":["Date"],"n":["bigint"]}}}',
        valibot   => '{"email":"ada@example.com","age":36}',
        'valibot-bad' => '{"email":"not-an-email","age":17.5,"tags":[1]}',
        dayjs     => '2024-02-29T12:34:56Z',
        datefns   => '2024-03-10T06:30:00Z',
        csv       => "name,qty,price\nTea,2,3.5\n\"Cake, lemon\",1,12\nScone,,2\n",
        handlebars => '{"title":"Invoice <7>","lines":[{"name":"Tea","qty":2},{"name":"Cake & jam","qty":1}],"footer":"<hr>"}',
    );
    my $want = node_json('formats', sprintf(<<'JS', encode_json(\%inputs)));
import { formats } from './src/formats.js';
const inputs = %s;
const out = {};
for (const [k, text] of Object.entries(inputs)) out[k] = formats[k.replace(/-bad$/, '')](text);
console.log(JSON.stringify(out));
JS
    like $want->{markdown} // '', qr{<table>}, 'formats: node renders the markdown';
    like $want->{handlebars} // '', qr{<h1>Invoice &lt;7&gt;</h1>}, 'formats: node renders the template';
    for my $k (sort keys %inputs) {
        (my $route = $k) =~ s/-bad$//;
        my $r = on('formats', POST => "/$route", content => $inputs{$k});
        if (ref $want->{$k}) {
            is_deeply json_of($r), $want->{$k}, "formats: $k answers what node answers";
        } else {
            is $r->{content}, $want->{$k}, "formats: $k answers what node answers";
        }
    }
    my $r = on('formats', GET => '/compile-now');
    is $r->{content}, 'EvalError: Code generation from strings disallowed for this context',
        'formats: Handlebars.compile while a request is handled is refused, as on Workers (its top level compiled)';
}

# ------------------------------------------------------------- bytes

{
    my $text = "The quick brown fox jumps over the lazy dog\n" x 200;
    my $r = on('bytes', POST => '/gzip', content => $text);
    my $plain;
    gunzip(\$r->{content} => \$plain) or diag $GunzipError;
    ok length($r->{content}) < length($text) / 10, 'bytes: fflate gzipSync compresses';
    is $plain, $text, 'bytes: into gzip that zlib (Perl) inflates';
    my $gz;
    gzip(\$text => \$gz) or die $GzipError;
    is on('bytes', POST => '/gunzip', content => $gz)->{content}, $text, 'bytes: fflate gunzipSync inflates what zlib deflated';
    $r = on('bytes', GET => '/zip');
    my %zip;
    {
        my $u = IO::Uncompress::Unzip->new(\$r->{content}) or die 'unzip';
        for (my $status = 1; $status > 0; $status = $u->nextStream) {
            my $name = $u->getHeaderInfo->{Name};
            local $/;
            $zip{$name} = <$u>;
        }
    }
    is_deeply \%zip, { 'hello.txt' => 'Hello, zip!', 'dir/data.json' => '{"n":42}' }, 'bytes: fflate zipSync writes a zip Perl reads';

    my $want = node_json('bytes', <<'JS');
import { createHash, createHmac, pbkdf2Sync, createPrivateKey, createECDH, sign } from 'node:crypto';
const data = Buffer.from('abc');
const ed = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.alloc(32, 0x11)]), format: 'der', type: 'pkcs8' });
const k1 = createECDH('secp256k1');
k1.setPrivateKey(Buffer.alloc(32, 0x22));
console.log(JSON.stringify({
  sha256: createHash('sha256').update(data).digest('hex'), sha512: createHash('sha512').update(data).digest('hex'),
  sha3_256: createHash('sha3-256').update(data).digest('hex'), hmac: createHmac('sha256', 'key').update(data).digest('hex'),
  pbkdf2: pbkdf2Sync(data, 'salt', 1000, 32, 'sha256').toString('hex'),
  edSignature: sign(null, Buffer.from('signed message'), ed).toString('hex'), k1Public: k1.getPublicKey('hex', 'uncompressed'),
}));
JS
    my $h = json_of(on('bytes', POST => '/hashes', content => 'abc'));
    is $h->{$_}, $want->{$_}, "bytes: \@noble/hashes $_ is node's" for qw(sha256 sha512 sha3_256 hmac pbkdf2);
    is $h->{blake3}, '6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85', 'bytes: blake3 of "abc" (its test vector)';
    my $c = json_of(on('bytes', POST => '/curves?ed=' . ('11' x 32) . '&k1=' . ('22' x 32), content => 'signed message'));
    is $c->{edSignature}, $want->{edSignature}, "bytes: \@noble/curves ed25519 signs as node's Ed25519 does";
    ok $c->{edVerifies} && !$c->{edRejectsOther} && $c->{randomKeyVerifies}, 'bytes: and verifies (a random key too)' or diag explain $c;
    is $c->{k1Public}, $want->{k1Public}, 'bytes: secp256k1 public key is node\'s';
    ok $c->{k1Verifies}, 'bytes: a secp256k1 signature verifies';

    my $ids = json_of(on('bytes', GET => '/ids'));
    like $ids->{nanoid}, qr/^[A-Za-z0-9_-]{21}$/, 'bytes: nanoid()';
    my %seen = map { $_ => 1 } @{ $ids->{nanoids} || [] };
    is scalar(keys %seen), 100, 'bytes: 100 nanoids, all different (crypto.getRandomValues)';
    like $ids->{short}, qr/^[0-9a-f]{10}$/, 'bytes: customAlphabet';
    like $ids->{uuid4}, qr/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'bytes: uuid v4';
    is $ids->{uuid4Version}, 4, 'bytes: uuid version()';
    is $ids->{uuid5}, 'cfbff0d1-9375-5685-968c-48ce8b15ae17', 'bytes: uuid v5 of example.com in the DNS namespace (a known value)';
    my @v7 = @{ $ids->{uuid7s} || [] };
    ok @v7 == 5 && (join(',', @v7) eq join(',', sort @v7)) && $v7[0] =~ /^[0-9a-f]{8}-[0-9a-f]{4}-7/, 'bytes: uuid v7s in time order';
    my $v7ms = do { no warnings 'portable'; hex(substr($v7[0] // '', 0, 8) . substr($v7[0] // '', 9, 4)) };
    ok abs($v7ms - $ids->{now}) < 5000, 'bytes: carrying the clock\'s time';
    my @u = @{ $ids->{ulids} || [] };
    ok @u == 5 && join(',', @u) eq join(',', sort @u) && $u[0] =~ /^[0-9A-HJKMNP-TV-Z]{26}$/, 'bytes: monotonic ULIDs, sorted';
    ok abs($ids->{ulidTime} - $ids->{now}) < 5000, 'bytes: decodeTime gives the clock\'s time';
}

# ------------------------------------------------------------- effect

{
    my $r = on('effect', POST => '/', content => '{"id":7,"items":["tea","cake","scone"]}');
    is_deeply json_of($r), { id => 7, total => 120, concurrent => JSON::PP::true, retried => 'ok after 3', timedOut => 'timed out' },
        'effect: Schema decoding, concurrent sleeps, retry on a schedule, timeout' or diag $r->{content};
    $r = on('effect', POST => '/', content => '{"id":"seven","items":[]}');
    is $r->{status}, 400, 'effect: input the schema refuses fails the program';
    like json_of($r)->{error} // '', qr/Expected number\s+at \["id"\]/, 'effect: with the schema\'s message';
}

# ------------------------------------------------------------- S3

{
    my $want = node_json('s3', sprintf(<<'JS', $STANDIN));
import { s3, presign } from './src/presign.js';
const [get, put] = await presign(s3('http://127.0.0.1:%d'), 'albums/2024/cat & dog.png');
console.log(JSON.stringify({ get, put }));
JS
    my $key = uri_escape('albums/2024/cat & dog.png');
    my $r = json_of(on('s3', GET => "/presign?key=$key"));
    ok +($want->{get} // '') =~ /X-Amz-Signature=[0-9a-f]{64}/, 'S3: node presigns the URLs';
    is $r->{get}, $want->{get}, 'S3: a presigned GetObject URL (SigV4) is the one node signs';
    is $r->{put}, $want->{put}, 'S3: a presigned PutObject URL too';
    is_deeply json_of(on('s3', POST => '/put', content => 'a note')),
        { etag => '"5d41402abc4b2a76b9719d911017c592"', status => 200 }, 'S3: PutObject sends and reads the answer';
}

# ------------------------------------------------------------- DOM

{
    my $list = '<ul id="list"><li class="p" data-price="3">Tea</li><li class="p" data-price="12">Cake</li>'
             . '<li class="p">Scone &amp; jam</li></ul>';
    my $items = [{ name => 'Tea', price => 3 }, { name => 'Cake', price => 12 }];
    is_deeply json_of(on('dom', POST => '/linkedom', content => $dom_page)),
        { title => 'Shop', items => $items, href => '/a?x=1&y=2', list => $list }, 'dom: linkedom parses, queries, edits and serializes';
    is_deeply json_of(on('dom', POST => '/cheerio', content => $dom_page)),
        { title => 'Shop', items => $items, href => '/a?x=1&y=2', list => $list, extracted => { names => ['Tea', 'Cake', 'Scone & jam'] } },
        'dom: cheerio too';
    is on('dom', POST => '/sanitize', content => '<p onclick="steal()">Hi <script>alert(1)</script><a href="javascript:alert(1)">x</a>'
            . '<a href="https://example.com" target="_blank">ok</a><b>bold</b><img src=x onerror=y></p>')->{content},
        '<p>Hi <a>x</a><a href="https://example.com">ok</a><b>bold</b></p>', 'dom: sanitize-html strips scripts, handlers and javascript: links';
}

# ------------------------------------------------------------- jsonwebtoken

{
    my $secret = 'a-long-random-secret-for-hs256';
    my $b64url = sub { my $s = encode_base64($_[0], ''); $s =~ tr{+/}{-_}; $s =~ s/=+$//; $s };
    my $unb64url = sub { my $s = $_[0]; $s =~ tr{-_}{+/}; decode_base64($s) };
    my $r = on('jwt', POST => '/login', content => '{"user":"ada"}');
    my $token = json_of($r)->{token} // '';
    my ($h, $p, $sig) = split /\./, $token;
    is_deeply scalar(eval { decode_json($unb64url->($h // '')) }), { alg => 'HS256', typ => 'JWT' }, 'jwt: jsonwebtoken signs HS256 (createSecretKey, createHmac)'
        or diag $r->{content};
    my $claims = eval { decode_json($unb64url->($p // '')) } // {};
    ok $claims->{sub} eq 'ada' && $claims->{iss} eq 'dispatch' && $claims->{exp} - $claims->{iat} == 3600, 'jwt: with its claims';
    is $sig, $b64url->(Digest::SHA::hmac_sha256("$h.$p", $secret)), 'jwt: the signature is HMAC-SHA256 of the secret';
    is_deeply json_of(on('jwt', GET => '/me', headers => { Authorization => "Bearer $token" })), { sub => 'ada', role => 'editor' },
        'jwt: jwt.verify accepts it';
    my $sign = sub { my ($claims, $key) = @_; my $hp = $b64url->('{"alg":"HS256","typ":"JWT"}') . '.' . $b64url->(encode_json($claims));
                     "$hp." . $b64url->(Digest::SHA::hmac_sha256($hp, $key)) };
    is_deeply json_of(on('jwt', GET => '/me', headers => { Authorization => 'Bearer ' . $sign->({ sub => 'perl', role => 'r', iss => 'dispatch' }, $secret) })),
        { sub => 'perl', role => 'r' }, 'jwt: and a token Perl signed';
    $r = on('jwt', GET => '/me', headers => { Authorization => 'Bearer ' . $sign->({ sub => 'eve', iss => 'dispatch' }, 'another secret') });
    is_deeply json_of($r), { error => 'JsonWebTokenError', message => 'invalid signature' }, 'jwt: another secret is refused';
    $r = on('jwt', GET => '/me', headers => { Authorization => 'Bearer ' . $sign->({ sub => 'old', iss => 'dispatch', exp => time - 60 }, $secret) });
    is json_of($r)->{error}, 'TokenExpiredError', 'jwt: an expired token is refused';

    # Asymmetric algorithms (node:crypto's createPrivateKey/createPublicKey,
    # createSign/createVerify): what the worker signs, Node's jsonwebtoken
    # verifies, and what Node signs, the worker verifies.
    my %signed;
    for my $alg (qw(RS256 PS256 ES256)) {
        $r = on('jwt', POST => '/sign-asym', content => encode_json({ alg => $alg, claims => { sub => "asym-$alg", n => 1 } }));
        $signed{$alg} = json_of($r)->{token} // diag "$alg: $r->{content}";
    }
    my $node = node_json('jwt', sprintf(<<'JS', encode_json(\%signed), encode_json(\%PEM)));
import jwt from 'jsonwebtoken';
const signed = %s, pem = %s;
const keys = { RS256: ['rsa', 'rsa-public'], PS256: ['rsa', 'rsa-public'], ES256: ['ec', 'ec-public'] };
const out = { verified: {}, tokens: {} };
for (const [alg, [priv, pub]] of Object.entries(keys)) {
  try { out.verified[alg] = jwt.verify(signed[alg] ?? '', pem[pub], { algorithms: [alg] }); } catch (e) { out.verified[alg] = e.message; }
  out.tokens[alg] = jwt.sign({ sub: `node-${alg}` }, pem[priv], { algorithm: alg, noTimestamp: true });
}
console.log(JSON.stringify(out));
JS
    for my $alg (qw(RS256 PS256 ES256)) {
        is_deeply $node->{verified}{$alg}, { sub => "asym-$alg", n => 1 }, "jwt: a $alg token the worker signed verifies in Node";
        $r = on('jwt', POST => '/verify-asym', content => encode_json({ alg => $alg, token => $node->{tokens}{$alg} }));
        is_deeply json_of($r), { claims => { sub => "node-$alg" } }, "jwt: a $alg token Node signed verifies in the worker";
        (my $forged = $node->{tokens}{$alg} // '') =~ s/\.([^.]*)\./'.' . $b64url->('{"sub":"mallory"}') . '.'/e;
        $r = on('jwt', POST => '/verify-asym', content => encode_json({ alg => $alg, token => $forged }));
        is_deeply json_of($r), { error => 'JsonWebTokenError', message => 'invalid signature' }, "jwt: $alg with another payload is refused";
    }
}

# ------------------------------------------------------------- OAuth provider

{
    # at the origin the worker was given: 127.0.0.1:PORT, the app named by ?app=
    my $oauth = sub { my ($method, $path, %o) = @_;
                      $t->request($method, $path . ($path =~ /\?/ ? '&' : '?') . 'app=oauth', timeout => 20, %o) };
    my $origin = 'http://127.0.0.1:' . $t->port;
    my $b64url = sub { my $s = encode_base64($_[0], ''); $s =~ tr{+/}{-_}; $s =~ s/=+$//; $s };
    my $r = $oauth->(GET => '/.well-known/oauth-authorization-server');
    my $meta = json_of($r);
    is $meta->{token_endpoint}, "$origin/oauth/token", 'oauth: authorization server metadata (RFC 8414)' or diag $r->{content};
    $r = $oauth->(POST => '/oauth/register', headers => { 'Content-Type' => 'application/json' },
            content => encode_json({ client_name => 'Test client', redirect_uris => ['https://client.example/cb'],
                                     token_endpoint_auth_method => 'none' }));
    my $client = json_of($r);
    ok $r->{status} == 201 && $client->{client_id}, 'oauth: dynamic client registration (RFC 7591)' or diag $r->{content};
    my $verifier = 'a-code-verifier-of-enough-length-0123456789-abcdefghijklmnop';
    my $challenge = $b64url->(Digest::SHA::sha256($verifier));
    my $redirect = 'https://client.example/cb';
    my $q = join '&', 'response_type=code', "client_id=$client->{client_id}", 'redirect_uri=' . uri_escape($redirect),
        'scope=notes%3Aread', 'state=xyz', "code_challenge=$challenge", 'code_challenge_method=S256';
    $r = $oauth->(GET => "/authorize?$q");
    my $location = $r->{headers}{location} // '';
    like $location, qr{^\Qhttps://client.example/cb?\E.*\bcode=[^&]+.*\bstate=xyz}, 'oauth: authorize redirects back with a code and the state'
        or diag "$r->{status} $r->{content}";
    my ($code) = $location =~ /\bcode=([^&]+)/;
    my $token_request = sub { $oauth->(POST => '/oauth/token', content => join('&', @_),
                                 headers => { 'Content-Type' => 'application/x-www-form-urlencoded' }) };
    $r = $token_request->('grant_type=authorization_code', "code=$code", 'redirect_uri=' . uri_escape($redirect),
                          "client_id=$client->{client_id}", 'code_verifier=not-the-verifier-0123456789-0123456789-0123456789');
    is json_of($r)->{error}, 'invalid_grant', 'oauth: a wrong PKCE verifier is refused';
    $r = $token_request->('grant_type=authorization_code', "code=$code", 'redirect_uri=' . uri_escape($redirect),
                          "client_id=$client->{client_id}", "code_verifier=$verifier");
    my $tokens = json_of($r);
    ok $tokens->{access_token} && $tokens->{refresh_token} && lc($tokens->{token_type} // '') eq 'bearer',
        'oauth: the code and verifier give an access and a refresh token' or diag $r->{content};
    is_deeply json_of($oauth->(GET => '/api/notes', headers => { Authorization => "Bearer $tokens->{access_token}" })),
        { user => 'ada', scope => ['notes:read'], path => '/api/notes' }, 'oauth: the API sees the grant\'s props and scope';
    $r = $oauth->(GET => '/api/notes');
    is $r->{status}, 401, 'oauth: the API refuses a request without a token';
    like $r->{headers}{'www-authenticate'} // '', qr/^Bearer/, 'oauth: with a Bearer challenge';
    $r = $token_request->('grant_type=refresh_token', "refresh_token=$tokens->{refresh_token}", "client_id=$client->{client_id}");
    my $refreshed = json_of($r)->{access_token} // '';
    is json_of($oauth->(GET => '/api/notes', headers => { Authorization => "Bearer $refreshed" }))->{user}, 'ada',
        'oauth: a refreshed access token works' or diag $r->{content};
}

# ------------------------------------------------------------- axios

{
    my $got = json_of(on('axios', GET => '/'));
    is $got->{status}, 200, 'axios: a POST through its fetch adapter';
    my $echo = $got->{echo} || {};
    is $echo->{target}, '/echo/api/orders?rush=1&v=3', 'axios: to baseURL + path, params added';
    is $echo->{header}{'x-client'}, 'dispatch', 'axios: with the instance\'s headers';
    like $echo->{header}{'content-type'} // '', qr{^application/json}, 'axios: the body as JSON';
    is decode_base64($echo->{body_b64} // ''), '{"item":"tea","qty":2}', 'axios: the body';
    is_deeply $got->{failure}, { isAxiosError => JSON::PP::true, status => 404, body => 'status body' }, 'axios: a 404 rejects with the response';
}

# ------------------------------------------------------------- documents and files

{
    my $r = on('docs', GET => '/zip');
    my %zip;
    {
        my $u = IO::Uncompress::Unzip->new(\$r->{content}) or die 'unzip';
        for (my $status = 1; $status > 0; $status = $u->nextStream) {
            my $name = $u->getHeaderInfo->{Name};
            local $/;
            my $data = <$u>;
            $zip{$name} = $data if $name !~ m{/$};
        }
    }
    is_deeply \%zip, { 'readme.txt' => 'made by jszip in a worker', 'data/n.json' => '{"n":7}' }, 'docs: jszip writes a zip Perl reads';
    my $zipped;
    IO::Compress::Zip::zip(\'from perl' => \$zipped, Name => 'p/perl.txt', Method => 8) or die 'zip';
    is_deeply json_of(on('docs', POST => '/unzip', content => $zipped)), { 'p/perl.txt' => 'from perl' }, 'docs: and reads a deflated zip Perl wrote';

    my %out = map { $_ => encode_base64(on('docs', GET => "/$_")->{content}, '') } qw(pdf xlsx);
    my $want = node_json('docs', sprintf(<<'JS', encode_json(\%out)));
import { PDFDocument } from 'pdf-lib';
import * as XLSX from 'xlsx';
import QRCode from 'qrcode';
import bcrypt from 'bcryptjs';
const out = %s;
const pdf = await PDFDocument.load(Buffer.from(out.pdf, 'base64'));
const book = XLSX.read(Buffer.from(out.xlsx, 'base64'), { type: 'buffer' });
console.log(JSON.stringify({
  pdf: [pdf.getPageCount(), pdf.getTitle(), pdf.getPage(1).getSize()],
  xlsx: [book.SheetNames, XLSX.utils.sheet_to_json(book.Sheets.Orders)],
  qr: await QRCode.toString('https://example.com/?a=1&b=2', { type: 'svg', errorCorrectionLevel: 'M' }),
  hash: bcrypt.hashSync('correct horse', 6),
}));
JS
    like decode_base64($out{pdf}), qr/^%PDF-1\.\d/, 'docs: pdf-lib writes a PDF';
    is_deeply $want->{pdf}, [2, 'Made in a worker', { width => 300, height => 200 }], 'docs: which pdf-lib in Node reads back';
    is_deeply $want->{xlsx}, [['Orders'], [{ item => 'Tea', qty => 2, price => 3.5 }, { item => 'Cake', qty => 1, price => 12 }]],
        'docs: SheetJS writes an xlsx workbook that SheetJS in Node reads back';
    $r = on('docs', GET => '/qr?text=' . uri_escape('https://example.com/?a=1&b=2'));
    is $r->{content}, $want->{qr}, 'docs: qrcode renders the SVG Node renders';
    $r = json_of(on('docs', POST => '/bcrypt', content => encode_json({ password => 'correct horse', hash => $want->{hash} })));
    is $r->{matches}, JSON::PP::true, 'docs: bcryptjs accepts the hash Node made';
    my $check = node_json('docs', sprintf(<<'JS', encode_json($r->{hash} // '')));
import bcrypt from 'bcryptjs';
console.log(JSON.stringify({ ok: bcrypt.compareSync('correct horse', %s), prefix: %1$s.slice(0, 7) }));
JS
    is_deeply $check, { ok => JSON::PP::true, prefix => '$2b$06$' }, 'docs: and Node accepts the hash it made';
}

# ------------------------------------------------------------- bots and webhooks

{
    # Discord signs timestamp + body with Ed25519 (here openssl, with the key whose public half the worker holds)
    my $discord = sub {
        my ($body, %o) = @_;
        my $ts = time;
        write_file("$ED{dir}/msg", $ts . $body);
        my $sig = unpack 'H*', openssl_key("pkeyutl -sign -rawin -inkey $ED{dir}/key.pem -in $ED{dir}/msg");
        $sig =~ s/^(..)/sprintf '%02x', hex($1) ^ 1/e if $o{tamper};
        return on('bots', POST => '/discord', content => $body,
                  headers => { 'Content-Type' => 'application/json', 'X-Signature-Ed25519' => $sig, 'X-Signature-Timestamp' => $ts });
    };
    is_deeply json_of($discord->('{"type":1}')), { type => 1 }, 'bots: a Discord PING, its Ed25519 signature verified, is answered PONG';
    my $r = $discord->(encode_json({ type => 2, data => { name => 'hello' }, member => { user => { username => 'ada' } } }));
    is_deeply json_of($r), { type => 4, data => { content => 'Hello, ada! You ran /hello.' } }, 'bots: a slash command is answered';
    $r = $discord->('{"type":1}', tamper => 1);
    is $r->{status}, 401, 'bots: a Discord request with a bad signature is refused';

    my $payload = encode_json({ action => 'opened', issue => { number => 7, title => 'It works' }, repository => { full_name => 'o/r' } });
    my $github = sub { on('bots', POST => '/github', content => $payload, headers => { 'Content-Type' => 'application/json',
        'X-GitHub-Event' => 'issues', 'X-GitHub-Delivery' => 'd-1', 'X-Hub-Signature-256' => 'sha256=' . hmac_sha256_hex($payload, $_[0]) }) };
    is_deeply json_of($github->('gh-webhook-secret')), { handled => JSON::PP::true, issue => 7, title => 'It works' },
        'bots: @octokit/webhooks verifies a GitHub delivery (HMAC-SHA256) and runs its handler';
    is $github->('another-secret')->{status}, 401, 'bots: a delivery signed with another secret is refused';

    my $telegram = sub { json_of(on('bots', POST => '/telegram', headers => { 'Content-Type' => 'application/json' },
        content => encode_json({ update_id => 1, message => { message_id => 1, date => 1700000000, chat => { id => 99, type => 'private' },
            from => { id => 99, is_bot => JSON::PP::false, first_name => 'Ada' }, text => $_[0],
            ($_[0] =~ m{^/} ? (entities => [{ type => 'bot_command', offset => 0, length => length $_[0] }]) : ()) } }))) };
    is_deeply $telegram->('/start'), { method => 'sendMessage', chat_id => 99, text => 'Welcome, Ada!' },
        'bots: grammy handles a Telegram command, replying in the webhook\'s answer';
    is $telegram->('stressed')->{text}, 'desserts', 'bots: and a text message';
}

# ------------------------------------------------------------- Node streams

{
    my $dir = tempdir('dispatch-upload-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $blob = join '', map { chr(($_ * 7 + ($_ >> 8)) % 256) } 0 .. 300_000;
    write_file("$dir/photo.bin", $blob);
    write_file("$dir/notes.txt", "first line\nsecond line\n");
    my ($out) = $t->curl('-s', '-H', 'Host: nodestreams.test', '-F', 'title=Holiday', '-F', 'tags=sea,sun',
        '-F', "photo=\@$dir/photo.bin;type=application/octet-stream", '-F', "notes=\@$dir/notes.txt;type=text/plain",
        $t->url('/upload'));
    my $got = eval { decode_json($out) } // { unparsed => $out };
    is_deeply $got->{fields}, { title => 'Holiday', tags => 'sea,sun' }, 'nodestreams: busboy parses the fields of a curl -F upload';
    is_deeply [ sort { $a->{name} cmp $b->{name} } @{ $got->{files} || [] } ],
        [ { name => 'notes', filename => 'notes.txt', mimeType => 'text/plain', bytes => 23, sha256 => sha256_hex("first line\nsecond line\n") },
          { name => 'photo', filename => 'photo.bin', mimeType => 'application/octet-stream', bytes => length $blob, sha256 => sha256_hex($blob) } ],
        'nodestreams: and its files, streamed from the request body (Buffer latin1Slice)';

    my $csv = "region,amount\n" . join('', map { ('north', 'south', 'east')[$_ % 3] . ",$_\n" } 1 .. 3000);
    my %totals;
    $totals{ ('north', 'south', 'east')[$_ % 3] } += $_ for 1 .. 3000;
    is_deeply json_of(on('nodestreams', POST => '/csv', content => $csv)), { rows => 3000, totals => \%totals },
        'nodestreams: csv-parse over the body as a Node stream, row by row';

    require Encode;
    my $text = "\x{65e5}\x{672c}\x{8a9e}\x{306e}\x{30c6}\x{30ad}\x{30b9}\x{30c8}";
    my $r = on('nodestreams', POST => '/decode?charset=Shift_JIS', content => Encode::encode('shiftjis', $text));
    is Encode::decode('UTF-8', $r->{content}), $text, 'nodestreams: iconv-lite decodes Shift_JIS';
    $r = on('nodestreams', POST => '/encode?charset=windows-1251', content => Encode::encode('UTF-8', "\x{41f}\x{440}\x{438}\x{432}\x{435}\x{442}"));
    is $r->{content}, Encode::encode('cp1251', "\x{41f}\x{440}\x{438}\x{432}\x{435}\x{442}"), 'nodestreams: and encodes windows-1251';
}

is_deeply [ $t->error_log_alerts ], [], 'no alerts in the error log';
done_testing;
