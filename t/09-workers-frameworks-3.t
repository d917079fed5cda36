#!/usr/bin/perl
# Still more real Workers apps, written as their libraries' documentation
# writes them for Cloudflare Workers, bundled as wrangler bundles them
# (`wrangler deploy --dry-run --outdir`, all at once), uploaded through the
# management API and driven over HTTP through nginx: JWTs with
# @tsndr/cloudflare-worker-jwt (HS256 and ES256); passkeys with
# @simplewebauthn/server (registration with packed self-attestation and
# authentication, challenges and credentials in KV, a Node.js authenticator
# made of node:crypto); a unified/remark/rehype markdown pipeline; luxon and
# Intl (time zones, currencies, plural rules, segmenter); liquidjs
# templates; an xstate checkout machine with an immer cart persisted in KV;
# ky and ofetch against a loopback upstream (retries, timeouts, download
# progress, JSON, errors); arktype validation; Web Push with
# @block65/webcrypto-web-push (RFC 8291 aes128gcm,
# VAPID), decrypted by Node.js; drizzle-orm's query builders (SQL only);
# @msgpack/msgpack and @bufbuild/protobuf; @resvg/resvg-wasm rendering SVG
# to PNG from the .wasm module wrangler uploads beside the bundle;
# postal-mime reading mail in legacy charsets, and mimetext's messages;
# better-auth (scrypt, sessions); aws4fetch's Signature V4;
# @cfworker/json-schema; otpauth's TOTP (RFC 6238); xml2js;
# @supabase/supabase-js and @neondatabase/serverless's SQL over HTTP; an
# Open Graph image (@cf-wasm/satori, a WOFF font as a Data module, resvg);
# temporal-polyfill. Expected
# values are computed independently: by Node.js running the same code on
# the same library, by Perl, or known constants. Every package pinned in
# t/clients/package.json; scripts/setup-deps installs them.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Dispatch::Test;
use Dispatch::Admin;
use Dispatch::TestUpstream;
use Digest::SHA qw(sha256 hmac_sha256);
use Encode ();
use File::Temp qw(tempdir);
use JSON::PP qw(decode_json encode_json);
use MIME::Base64 qw(encode_base64 decode_base64);

my $WRANGLER = npm_tool_or_skip('.bin/wrangler');
npm_tool_or_skip("$_/package.json")
    for qw(@tsndr/cloudflare-worker-jwt jose @simplewebauthn/server unified remark-parse remark-gfm remark-rehype
          rehype-sanitize rehype-stringify luxon liquidjs xstate immer ky ofetch arktype @block65/webcrypto-web-push
          drizzle-orm @msgpack/msgpack @bufbuild/protobuf @resvg/resvg-wasm postal-mime better-auth aws4fetch
          @cfworker/json-schema mimetext otpauth xml2js @supabase/supabase-js
          @neondatabase/serverless @cf-wasm/satori @fontsource/inter temporal-polyfill);
my $NODE = 'node';

my $DATE = '2025-09-01';
my $up = Dispatch::TestUpstream->new;    # /echo: what a client sent; /status/CODE

my %APPS;    # name => { main, files, meta }
sub app { my ($name, $main, $files, %o) = @_; $APPS{$name} = { main => $main, files => $files, %o } }

# Keys the apps are given as secrets: an ES256 key pair (JWK) for JWTs,
# VAPID keys and a push subscription's keys (raw P-256, base64url).
my $KEYS = do {
    my $out = `$NODE --no-warnings -e '
      const c = require("node:crypto");
      const jwk = () => c.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" });
      const raw = (k) => Buffer.concat([Buffer.from([4]), Buffer.from(k.x, "base64url"), Buffer.from(k.y, "base64url")]).toString("base64url");
      const es = jwk(), vapid = jwk(), ua = jwk();
      console.log(JSON.stringify({ es256: es, vapid: { publicKey: raw(vapid), privateKey: vapid.d, jwk: vapid },
        ua: { jwk: ua, p256dh: raw(ua), auth: c.randomBytes(16).toString("base64url") } }));'`;
    decode_json($out);
};

# ------------------------------------------------------------- the apps

# --- @tsndr/cloudflare-worker-jwt: HS256 with a secret, ES256 with a JWK.
app('jwt', 'src/index.ts', { 'src/index.ts' => <<'TS' });
import jwt from '@tsndr/cloudflare-worker-jwt';

type Env = { JWT_SECRET: string; ES256_JWK: string };

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === '/login') {
      const { user } = await request.json<{ user: string }>();
      const token = await jwt.sign({ sub: user, role: 'admin', iat: 1700000000, exp: 4102444800 }, env.JWT_SECRET);
      return Response.json({ token });
    }
    if (url.pathname === '/me') {
      const token = (request.headers.get('Authorization') ?? '').replace(/^Bearer /, '');
      const verified = await jwt.verify<{ role: string }>(token, env.JWT_SECRET);
      if (!verified) return new Response('Unauthorized', { status: 401 });
      return Response.json({ sub: verified.payload.sub, role: verified.payload.role, alg: verified.header?.alg });
    }
    if (url.pathname === '/es256') {
      const key = JSON.parse(env.ES256_JWK);
      const token = await jwt.sign({ sub: 'es', nbf: 1700000000 }, { ...key, kid: 'k1' }, { algorithm: 'ES256', header: { kid: 'k1' } });
      const { d, ...publicKey } = key;
      const ok = await jwt.verify(token, publicKey, { algorithm: 'ES256' });
      return Response.json({ token, verified: !!ok, decoded: jwt.decode(token).header });
    }
    return new Response('Not found', { status: 404 });
  },
};
TS
$APPS{jwt}{meta} = { bindings => [
    { type => 'secret_text', name => 'JWT_SECRET', text => 'jwt-secret-0123456789' },
    { type => 'secret_text', name => 'ES256_JWK', text => encode_json($KEYS->{es256}) } ] };

# --- @simplewebauthn/server: passkey registration and sign-in, the
# challenge and the credential kept in KV as its Workers guides do.
app('webauthn', 'src/index.ts', { 'src/index.ts' => <<'TS' });
import {
  generateRegistrationOptions, verifyRegistrationResponse,
  generateAuthenticationOptions, verifyAuthenticationResponse,
} from '@simplewebauthn/server';
import { isoBase64URL } from '@simplewebauthn/server/helpers';

type Env = { PASSKEYS: KVNamespace; RP_ID: string; ORIGIN: string };

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const user = url.searchParams.get('user') ?? 'ada';
    const expected = { expectedOrigin: env.ORIGIN, expectedRPID: env.RP_ID };
    try {
      if (url.pathname === '/register/options') {
        const options = await generateRegistrationOptions({
          rpName: 'Dispatch Passkeys', rpID: env.RP_ID, userName: user, attestationType: 'none',
          authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
        });
        await env.PASSKEYS.put(`challenge:${user}`, options.challenge, { expirationTtl: 300 });
        return Response.json(options);
      }
      if (url.pathname === '/register/verify') {
        const expectedChallenge = (await env.PASSKEYS.get(`challenge:${user}`)) ?? '';
        const { verified, registrationInfo } = await verifyRegistrationResponse({
          response: await request.json(), expectedChallenge, ...expected });
        if (!verified || !registrationInfo) return Response.json({ verified }, { status: 400 });
        const { credential, fmt, credentialType } = registrationInfo;
        await env.PASSKEYS.put(`credential:${user}`, JSON.stringify({
          id: credential.id, publicKey: isoBase64URL.fromBuffer(credential.publicKey), counter: credential.counter }));
        return Response.json({ verified, fmt, credentialType, id: credential.id, counter: credential.counter });
      }
      const stored = JSON.parse((await env.PASSKEYS.get(`credential:${user}`)) ?? 'null');
      if (url.pathname === '/login/options') {
        const options = await generateAuthenticationOptions({ rpID: env.RP_ID, allowCredentials: [{ id: stored.id }] });
        await env.PASSKEYS.put(`challenge:${user}`, options.challenge, { expirationTtl: 300 });
        return Response.json(options);
      }
      if (url.pathname === '/login/verify') {
        const expectedChallenge = (await env.PASSKEYS.get(`challenge:${user}`)) ?? '';
        const { verified, authenticationInfo } = await verifyAuthenticationResponse({
          response: await request.json(), expectedChallenge, ...expected,
          credential: { id: stored.id, publicKey: isoBase64URL.toBuffer(stored.publicKey), counter: stored.counter },
        });
        if (verified) await env.PASSKEYS.put(`credential:${user}`, JSON.stringify({ ...stored, counter: authenticationInfo.newCounter }));
        return Response.json({ verified, newCounter: authenticationInfo.newCounter, userVerified: authenticationInfo.userVerified });
      }
    } catch (err) {
      return Response.json({ verified: false, error: (err as Error).message }, { status: 400 });
    }
    return new Response('Not found', { status: 404 });
  },
};
TS
$APPS{webauthn}{meta} = { bindings => [
    { type => 'kv_namespace', name => 'PASSKEYS', namespace_id => 'passkeys' },
    { type => 'plain_text', name => 'RP_ID', text => 'passkeys.example' },
    { type => 'plain_text', name => 'ORIGIN', text => 'https://passkeys.example' } ] };

# --- unified: markdown to sanitized HTML (remark-gfm's tables, task lists,
# footnotes and autolinks; raw HTML dropped by rehype-sanitize).
app('markdown', 'src/index.ts', {
    'src/render.js' => <<'JS',
import { unified } from 'unified';
import remarkParse from 'remark-parse';
import remarkGfm from 'remark-gfm';
import remarkRehype from 'remark-rehype';
import rehypeSanitize from 'rehype-sanitize';
import rehypeStringify from 'rehype-stringify';

const processor = unified().use(remarkParse).use(remarkGfm).use(remarkRehype).use(rehypeSanitize).use(rehypeStringify);
export async function render(markdown) {
  return String(await processor.process(markdown));
}
JS
    'src/index.ts' => <<'TS' });
import { render } from './render.js';

export default {
  async fetch(request: Request): Promise<Response> {
    if (request.method !== 'POST') return new Response('POST markdown', { status: 405 });
    return new Response(await render(await request.text()), { headers: { 'content-type': 'text/html; charset=utf-8' } });
  },
};
TS

# --- luxon and Intl: time zones across a DST change, locales, currencies,
# plural rules, relative time, lists, graphemes (src/report.js is what
# Node.js runs too).
app('intl', 'src/index.ts', {
    'src/report.js' => <<'JS',
import { DateTime, Duration, Interval, Info } from 'luxon';

export function report(zone, locale) {
  const start = DateTime.fromISO('2024-03-10T01:30:00', { zone: 'America/New_York' });
  const meeting = DateTime.fromISO('2024-11-05T15:00:00Z').setZone(zone).setLocale(locale);
  return {
    dst: [start.toISO(), start.plus({ hours: 1 }).toISO(), start.plus({ days: 1 }).toISO()],
    offsetChange: [start.offset, start.plus({ hours: 1 }).offset],
    meeting: meeting.toLocaleString(DateTime.DATETIME_FULL),
    meetingParts: meeting.toLocaleParts({ weekday: 'long', hour: 'numeric', minute: '2-digit' }).map((p) => p.type),
    zoneName: meeting.zoneName, offsetName: meeting.offsetNameShort,
    weekdays: Info.weekdays('long', { locale }),
    months: Info.months('short', { locale }).slice(0, 3),
    interval: Interval.fromDateTimes(start, start.plus({ days: 45 })).toDuration(['months', 'days', 'hours']).toObject(),
    relative: DateTime.fromISO('2024-01-01T00:00:00Z').toRelative({ base: DateTime.fromISO('2024-01-04T00:00:00Z'), locale }),
    duration: Duration.fromObject({ hours: 2, minutes: 5 }).reconfigure({ locale }).toHuman(),
    money: new Intl.NumberFormat(locale, { style: 'currency', currency: 'EUR' }).format(1234567.891),
    yen: new Intl.NumberFormat('ja-JP', { style: 'currency', currency: 'JPY' }).format(98765.4),
    compact: new Intl.NumberFormat('en', { notation: 'compact' }).format(1234567),
    percent: new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 1 }).format(0.4567),
    plural: [0, 1, 2, 5, 11, 100].map((n) => new Intl.PluralRules('ar').select(n)),
    ordinal: [1, 2, 3, 4, 11, 22].map((n) => new Intl.PluralRules('en', { type: 'ordinal' }).select(n)),
    list: new Intl.ListFormat(locale, { type: 'conjunction' }).format(['Ada', 'Grace', 'Linus']),
    graphemes: [...new Intl.Segmenter('en', { granularity: 'grapheme' }).segment('👩‍👩‍👧 e\u0301 🇯🇵')].length,
    words: [...new Intl.Segmenter('ja', { granularity: 'word' }).segment('今日は良い天気です')].filter((s) => s.isWordLike).length,
    region: new Intl.DisplayNames([locale], { type: 'region' }).of('JP'),
    collate: ['z', 'ä', 'a', 'ö'].sort(new Intl.Collator('sv').compare),
    upper: 'istanbul'.toLocaleUpperCase('tr'),
    zones: Intl.supportedValuesOf('timeZone').includes('Asia/Kolkata'),
  };
}
JS
    'src/index.ts' => <<'TS' });
import { report } from './report.js';

export default {
  fetch(request: Request): Response {
    const url = new URL(request.url);
    return Response.json(report(url.searchParams.get('zone') ?? 'UTC', url.searchParams.get('locale') ?? 'en-US'));
  },
};
TS

# --- liquidjs: a layout, partials and filters from in-memory templates.
app('liquid', 'src/index.ts', {
    'src/templates.js' => <<'JS',
import { Liquid } from 'liquidjs';

export const engine = new Liquid({
  templates: {
    'layout.liquid': '<html><head><title>{{ title | escape }}</title></head><body>{% block content %}{% endblock %}</body></html>',
    'product.liquid': '<li class="{% cycle "odd", "even" %}">{{ product.name | escape }}: {{ product.price | money }}{% if product.tags contains "sale" %} <b>sale</b>{% endif %}</li>',
    'shop.liquid': `{% layout "layout.liquid" %}{% block content %}<h1>{{ title | upcase }}</h1>
<ul>{% for product in products %}{% render "product.liquid", product: product %}{% endfor %}</ul>
<p>{{ products | size }} products, {{ products | map: "price" | sum | money }} in all; cheapest: {{ products | sort: "price" | first | map: "name" }}</p>
<p>{{ "now" | date: "%Y" | minus: 0 | at_least: 2024 }} {{ note | default: "no note" | truncate: 12 }}</p>{% endblock %}`,
  },
});
engine.registerFilter('money', (cents) => `$${(cents / 100).toFixed(2)}`);
JS
    'src/index.ts' => <<'TS' });
import { engine } from './templates.js';

export default {
  async fetch(request: Request): Promise<Response> {
    const data = await request.json();
    return new Response(await engine.renderFile('shop.liquid', data), { headers: { 'content-type': 'text/html' } });
  },
};
TS

# --- xstate and immer: a checkout machine whose context (the cart) is
# changed with immer, the actor's persisted snapshot in KV between
# requests (src/machine.js is what Node.js replays too).
app('cart', 'src/index.ts', {
    'src/machine.js' => <<'JS',
import { setup, assign } from 'xstate';
import { produce, enablePatches, produceWithPatches } from 'immer';

enablePatches();
export const checkout = setup({
  guards: { hasItems: ({ context }) => context.items.length > 0 },
  actions: {
    add: assign(({ context, event }) => produce(context, (draft) => {
      const line = draft.items.find((i) => i.sku === event.sku);
      if (line) line.qty += event.qty; else draft.items.push({ sku: event.sku, qty: event.qty, price: event.price });
      draft.total = draft.items.reduce((sum, i) => sum + i.qty * i.price, 0);
    })),
    remove: assign(({ context, event }) => {
      const [next, patches] = produceWithPatches(context, (draft) => {
        draft.items = draft.items.filter((i) => i.sku !== event.sku);
        draft.total = draft.items.reduce((sum, i) => sum + i.qty * i.price, 0);
      });
      return { ...next, log: [...next.log, ...patches.map((p) => `${p.op} ${p.path.join('.')}`)] };
    }),
  },
}).createMachine({
  id: 'checkout', initial: 'shopping',
  context: { items: [], total: 0, log: [] },
  states: {
    shopping: { on: { ADD: { actions: 'add' }, REMOVE: { actions: 'remove' }, CHECKOUT: { guard: 'hasItems', target: 'payment' } } },
    payment: { on: { PAY: 'paid', BACK: 'shopping' } },
    paid: { type: 'final' },
  },
});
JS
    'src/index.ts' => <<'TS' });
import { createActor } from 'xstate';
import { checkout } from './machine.js';

export default {
  async fetch(request: Request, env: { CARTS: KVNamespace }): Promise<Response> {
    const id = new URL(request.url).pathname.split('/')[2];
    const saved = await env.CARTS.get(`cart:${id}`, 'json');
    const actor = createActor(checkout, saved ? { snapshot: saved } : undefined).start();
    if (request.method === 'POST') actor.send(await request.json());
    const snapshot = actor.getPersistedSnapshot();
    await env.CARTS.put(`cart:${id}`, JSON.stringify(snapshot));
    const { value, context, status } = actor.getSnapshot();
    return Response.json({ value, status, context });
  },
};
TS
$APPS{cart}{meta} = { bindings => [{ type => 'kv_namespace', name => 'CARTS', namespace_id => 'carts' }] };

# --- ky and ofetch: JSON in and out, query strings, hooks, retries of a 503,
# errors with the upstream's status.
app('fetchers', 'src/index.ts', { 'src/index.ts' => <<'TS' });
import ky, { HTTPError, TimeoutError } from 'ky';
import { ofetch, FetchError } from 'ofetch';

type Env = { UPSTREAM: string };

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const { pathname } = new URL(request.url);
    const api = ky.create({ prefix: env.UPSTREAM, headers: { 'x-client': 'ky' },
      hooks: { beforeRequest: [({ request }) => { request.headers.set('x-trace', 'trace-1'); }] } });
    if (pathname === '/ky') {
      const echo = await api.post('echo/orders', { json: { sku: 'A1', qty: 2 }, searchParams: { dry: 'yes' } }).json<any>();
      return Response.json(echo);
    }
    if (pathname === '/ky-retry') {
      try {
        await api.get('status/503', { retry: { limit: 2, delay: () => 20 } });
        return new Response('no error');
      } catch (err) {
        return Response.json({ http: err instanceof HTTPError, status: (err as HTTPError).response.status,
                               data: (err as HTTPError).data });
      }
    }
    if (pathname === '/ky-timeout') {
      const started = Date.now();
      try {
        await api.get('slow?ms=3000', { timeout: 300, retry: 0 });
        return new Response('no error');
      } catch (err) {
        return Response.json({ name: (err as Error).name, timedOut: err instanceof TimeoutError, waited: Date.now() - started });
      }
    }
    if (pathname === '/ky-post-retry') {
      // a POST retried (its body sent again each time), then the JSON of the last answer
      try {
        await api.post('status/503', { json: { n: 1 }, retry: { limit: 1, methods: ['post'], delay: () => 10 } });
        return new Response('no error');
      } catch (err) {
        return Response.json({ status: (err as HTTPError).response.status });
      }
    }
    if (pathname === '/ky-progress') {
      const seen: number[] = [];
      const text = await api.get('gzip', { onDownloadProgress: (p) => { seen.push(p.transferredBytes); } }).text();
      return Response.json({ length: text.length, first: text.slice(0, 20), last: seen[seen.length - 1],
                             increasing: seen.every((v, i) => i === 0 || v >= seen[i - 1]) });
    }
    const api2 = ofetch.create({ baseURL: env.UPSTREAM, headers: { 'x-client': 'ofetch' } });
    if (pathname === '/ofetch') {
      const echo = await api2('/echo/search', { method: 'PUT', body: { q: 'workers', page: 2 }, query: { lang: 'en' } });
      return Response.json(echo);
    }
    if (pathname === '/ofetch-error') {
      try {
        await api2('/status/404', { retry: 1, retryDelay: 10 });
        return new Response('no error');
      } catch (err) {
        const e = err as FetchError;
        return Response.json({ fetchError: e instanceof FetchError, status: e.status, statusText: e.statusText, data: e.data });
      }
    }
    return new Response('Not found', { status: 404 });
  },
};
TS
$APPS{fetchers}{meta} = { bindings => [{ type => 'plain_text', name => 'UPSTREAM', text => $up->url('/') }] };

# --- arktype: a schema of its documentation, with morphs and its error
# summaries (src/schema.js is what Node.js runs too).
app('arktype', 'src/index.ts', {
    'src/schema.js' => <<'JS',
import { type } from 'arktype';

export const signup = type({
  name: 'string > 1',
  email: 'string.email',
  age: 'number.integer >= 13',
  'plan?': "'free' | 'pro' | 'team'",
  tags: 'string[] <= 3',
  referrer: type('string.url.parse').optional(),
});
export const parseSignup = (data) => {
  const out = signup(data);
  if (out instanceof type.errors) return { ok: false, summary: out.summary, paths: out.map((e) => e.path.join('.')) };
  return { ok: true, value: { ...out, referrer: out.referrer?.hostname } };
};
JS
    'src/index.ts' => <<'TS' });
import { parseSignup } from './schema.js';

export default {
  async fetch(request: Request): Promise<Response> {
    const result = parseSignup(await request.json());
    return Response.json(result, { status: result.ok ? 200 : 422 });
  },
};
TS

# --- @block65/webcrypto-web-push: a notification for a subscription,
# encrypted and signed with Web Crypto, relayed to the push service (the
# echo stands in for it).
app('webpush', 'src/index.ts', { 'src/index.ts' => <<'TS' });
import { buildPushPayload, type PushSubscription, type VapidKeys } from '@block65/webcrypto-web-push';

type Env = { VAPID_PUBLIC_KEY: string; VAPID_PRIVATE_KEY: string; P256DH: string; AUTH: string; PUSH_SERVICE: string };

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const vapid: VapidKeys = { subject: 'mailto:ops@example.com', publicKey: env.VAPID_PUBLIC_KEY, privateKey: env.VAPID_PRIVATE_KEY };
    const subscription: PushSubscription = {
      endpoint: 'https://push.example.net/wpush/v2/abc123', expirationTime: null,
      keys: { p256dh: env.P256DH, auth: env.AUTH },
    };
    const data = await request.text();
    const payload = await buildPushPayload({ data, options: { ttl: 60, urgency: 'high', topic: 'news' } }, subscription, vapid);
    const res = await fetch(env.PUSH_SERVICE, payload);
    return new Response(res.body, { status: res.status, headers: { 'content-type': 'application/json' } });
  },
};
TS
$APPS{webpush}{meta} = { bindings => [
    { type => 'plain_text', name => 'VAPID_PUBLIC_KEY', text => $KEYS->{vapid}{publicKey} },
    { type => 'secret_text', name => 'VAPID_PRIVATE_KEY', text => $KEYS->{vapid}{privateKey} },
    { type => 'plain_text', name => 'P256DH', text => $KEYS->{ua}{p256dh} },
    { type => 'secret_text', name => 'AUTH', text => $KEYS->{ua}{auth} },
    { type => 'plain_text', name => 'PUSH_SERVICE', text => $up->url('/echo/push') } ] };

# --- drizzle-orm: SQL from its query builders for SQLite (D1) and
# PostgreSQL, without a database (src/queries.js is what Node.js runs too).
app('drizzle', 'src/index.ts', {
    'src/queries.js' => <<'JS',
import { and, desc, eq, gt, inArray, like, sql, count } from 'drizzle-orm';
import { sqliteTable, text, integer, QueryBuilder as SQLiteQB } from 'drizzle-orm/sqlite-core';
import { pgTable, serial, varchar, timestamp, QueryBuilder as PgQB } from 'drizzle-orm/pg-core';

const users = sqliteTable('users', { id: integer('id').primaryKey(), name: text('name').notNull(), email: text('email'), age: integer('age') });
const posts = sqliteTable('posts', { id: integer('id').primaryKey(), authorId: integer('author_id'), title: text('title') });
const accounts = pgTable('accounts', { id: serial('id').primaryKey(), handle: varchar('handle', { length: 64 }), createdAt: timestamp('created_at') });

export function queries(name) {
  const lite = new SQLiteQB(), pg = new PgQB();
  return {
    select: lite.select({ id: users.id, name: users.name }).from(users)
      .where(and(like(users.email, '%@example.com'), gt(users.age, 17))).orderBy(desc(users.age)).limit(10).offset(20).toSQL(),
    join: lite.select({ name: users.name, posts: count(posts.id) }).from(users).leftJoin(posts, eq(posts.authorId, users.id))
      .groupBy(users.id).having(sql`count(${posts.id}) > ${2}`).toSQL(),
    pg: pg.select().from(accounts).where(inArray(accounts.handle, [name, 'root'])).toSQL(),
  };
}
JS
    'src/index.ts' => <<'TS' });
import { queries } from './queries.js';

export default {
  fetch(request: Request): Response {
    return Response.json(queries(new URL(request.url).searchParams.get('name') ?? 'ada'));
  },
};
TS

# --- @msgpack/msgpack and @bufbuild/protobuf (google.protobuf.Struct and
# Timestamp through its reflection runtime): binary formats both ways.
app('binary', 'src/index.ts', {
    'src/codec.js' => <<'JS',
import { encode, decode } from '@msgpack/msgpack';
import { create, fromBinary, fromJson, toBinary, toJson } from '@bufbuild/protobuf';
import { StructSchema, TimestampSchema, timestampFromMs } from '@bufbuild/protobuf/wkt';

export const msgpackEcho = (bytes) => {
  const value = decode(bytes);
  return encode({ got: value, keys: Object.keys(value).sort(), at: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)) });
};
export const structToBinary = (json) => toBinary(StructSchema, fromJson(StructSchema, json));
export const structFromBinary = (bytes) => toJson(StructSchema, fromBinary(StructSchema, bytes));
export const timestamp = () => toJson(TimestampSchema, timestampFromMs(1700000000123));
export const timestampBytes = () => toBinary(TimestampSchema, create(TimestampSchema, { seconds: 1700000000n, nanos: 5 }));
JS
    'src/index.ts' => <<'TS' });
import { msgpackEcho, structToBinary, structFromBinary, timestamp, timestampBytes } from './codec.js';

export default {
  async fetch(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    const bytes = new Uint8Array(await request.arrayBuffer());
    if (pathname === '/msgpack') return new Response(msgpackEcho(bytes), { headers: { 'content-type': 'application/msgpack' } });
    if (pathname === '/struct') return new Response(structToBinary(JSON.parse(new TextDecoder().decode(bytes))));
    if (pathname === '/struct-json') return Response.json(structFromBinary(bytes));
    if (pathname === '/timestamp') return Response.json({ json: timestamp(), bytes: [...timestampBytes()] });
    return new Response('Not found', { status: 404 });
  },
};
TS

# --- @resvg/resvg-wasm: SVG to PNG, its .wasm imported as a module (wrangler
# uploads it beside the bundle: CompiledWasm), as its Workers users do.
app('resvg', 'src/index.ts', {
    'src/badge.js' => <<'JS',
export const badge = (value) => `<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40" viewBox="0 0 120 40">
  <defs><linearGradient id="g" x1="0" x2="1"><stop offset="0" stop-color="#f38020"/><stop offset="1" stop-color="#faae40"/></linearGradient></defs>
  <rect width="120" height="40" rx="8" fill="url(#g)"/>
  <rect x="8" y="8" width="${Math.max(0, Math.min(104, value))}" height="24" rx="4" fill="#ffffff" fill-opacity="0.7"/>
  <circle cx="100" cy="20" r="9" fill="none" stroke="#222" stroke-width="3"/>
</svg>`;
JS
    'src/index.ts' => <<'TS' });
import { initWasm, Resvg } from '@resvg/resvg-wasm';
import resvgWasm from '@resvg/resvg-wasm/index_bg.wasm';
import { badge } from './badge.js';

let ready: Promise<void> | undefined;

export default {
  async fetch(request: Request): Promise<Response> {
    ready ??= initWasm(resvgWasm);
    await ready;
    const url = new URL(request.url);
    const resvg = new Resvg(badge(Number(url.searchParams.get('value') ?? 50)),
      { fitTo: { mode: 'width', value: Number(url.searchParams.get('width') ?? 240) } });
    const image = resvg.render();
    return new Response(image.asPng(), { headers: { 'content-type': 'image/png', 'x-size': `${image.width}x${image.height}` } });
  },
};
TS

# --- postal-mime: mail as an Email Worker parses it (a multipart message in
# legacy charsets: ISO-8859-2 and KOI8-R headers, windows-1251 and
# ISO-8859-7 bodies), posted here; and TextDecoder for a charset a fetched
# page names, as scrapers use it.
app('mail', 'src/index.ts', { 'src/index.ts' => <<'TS' });
import PostalMime from 'postal-mime';

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === '/decode')
      return new Response(new TextDecoder(url.searchParams.get('charset') ?? 'utf-8').decode(await request.arrayBuffer()));
    const email = await PostalMime.parse(await request.arrayBuffer());
    return Response.json({
      from: email.from, subject: email.subject, text: email.text, html: email.html,
      attachments: email.attachments.map((a) => ({ filename: a.filename, mimeType: a.mimeType, bytes: a.content.byteLength })),
    });
  },
};
TS

# --- better-auth: email and password sign-up, sign-in and sessions (scrypt
# hashing), its handler mounted at /api/auth as its Workers guide does
# (with nodejs_compat). No database given: its in-memory one (a static
# import of better-auth/adapters/memory is not initialized in the bundle
# esbuild makes of it, on Workers too).
app('auth', 'src/index.ts', { 'src/index.ts' => <<'TS' }, flags => ['nodejs_compat']);
import { betterAuth } from 'better-auth';

type Env = { BETTER_AUTH_SECRET: string; BASE_URL: string };
let auth: ReturnType<typeof betterAuth> | undefined;

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    auth ??= betterAuth({
      baseURL: env.BASE_URL, secret: env.BETTER_AUTH_SECRET,
      emailAndPassword: { enabled: true }, telemetry: { enabled: false },
    });
    const url = new URL(request.url);
    if (url.pathname.startsWith('/api/auth/')) return auth.handler(request);
    if (url.pathname === '/me') {
      const session = await auth.api.getSession({ headers: request.headers });
      if (!session) return new Response('Unauthorized', { status: 401 });
      return Response.json({ email: session.user.email, name: session.user.name });
    }
    return new Response('Not found', { status: 404 });
  },
};
TS
$APPS{auth}{meta} = { bindings => [
    { type => 'secret_text', name => 'BETTER_AUTH_SECRET', text => 'better-auth-secret-0123456789abcdef' },
    { type => 'plain_text', name => 'BASE_URL', text => 'http://auth.test' } ] };

# --- aws4fetch: S3/R2 requests signed with AWS Signature V4, an upload and
# a presigned URL (the echo stands in for the bucket).
app('s3sign', 'src/index.ts', { 'src/index.ts' => <<'TS' });
import { AwsClient } from 'aws4fetch';

type Env = { AWS_ACCESS_KEY_ID: string; AWS_SECRET_ACCESS_KEY: string; ENDPOINT: string };

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const aws = new AwsClient({ accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
                                service: 's3', region: 'auto' });
    const { pathname } = new URL(request.url);
    if (pathname === '/put') {
      const res = await aws.fetch(`${env.ENDPOINT}/uploads/notes/hello world.txt?x-id=PutObject`, {
        method: 'PUT', body: await request.text(), headers: { 'content-type': 'text/plain' } });
      return new Response(res.body, { status: res.status, headers: { 'content-type': 'application/json' } });
    }
    if (pathname === '/presign') {
      const signed = await aws.sign(new Request(`${env.ENDPOINT}/uploads/report.pdf?X-Amz-Expires=600`),
        { aws: { signQuery: true, datetime: '20240102T030405Z' } });
      return new Response(signed.url);
    }
    return new Response('Not found', { status: 404 });
  },
};
TS
$APPS{s3sign}{meta} = { bindings => [
    { type => 'plain_text', name => 'AWS_ACCESS_KEY_ID', text => 'AKIDEXAMPLE' },
    { type => 'secret_text', name => 'AWS_SECRET_ACCESS_KEY', text => 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
    { type => 'plain_text', name => 'ENDPOINT', text => $up->url('/echo/r2') } ] };

# --- @cfworker/json-schema: JSON Schema 2020-12 validation without code
# generation (src/schema.js is what Node.js runs too).
app('jsonschema', 'src/index.ts', {
    'src/schema.js' => <<'JS',
import { Validator } from '@cfworker/json-schema';

const validator = new Validator({
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object', required: ['id', 'email', 'items'], additionalProperties: false,
  properties: {
    id: { type: 'string', format: 'uuid' },
    email: { type: 'string', format: 'email' },
    placed: { type: 'string', format: 'date-time' },
    items: { type: 'array', minItems: 1, items: { $ref: '#/$defs/item' } },
    coupon: { type: 'string', pattern: '^[A-Z]{4}-\\d{2}$' },
  },
  $defs: { item: { type: 'object', required: ['sku', 'qty'], properties: {
    sku: { type: 'string', minLength: 2 }, qty: { type: 'integer', minimum: 1, maximum: 99 } } } },
}, '2020-12', false);
export const check = (order) => validator.validate(order);
JS
    'src/index.ts' => <<'TS' });
import { check } from './schema.js';

export default {
  async fetch(request: Request): Promise<Response> {
    const result = check(await request.json());
    return Response.json(result, { status: result.valid ? 200 : 400 });
  },
};
TS

# --- mimetext (nodejs_compat, as Cloudflare's send_email example uses it):
# a message composed for an Email Worker's reply, read back by postal-mime.
app('compose', 'src/index.ts', { 'src/index.ts' => <<'TS' }, flags => ['nodejs_compat']);
import { createMimeMessage } from 'mimetext';
import PostalMime from 'postal-mime';

export default {
  async fetch(request: Request): Promise<Response> {
    const { to, subject, text } = await request.json<{ to: string; subject: string; text: string }>();
    const msg = createMimeMessage();
    msg.setSender({ name: 'Dispatch Bot', addr: 'bot@dispatch.example' });
    msg.setRecipient(to);
    msg.setSubject(subject);
    msg.addMessage({ contentType: 'text/plain', data: text });
    msg.addMessage({ contentType: 'text/html', data: `<p>${text}</p>` });
    msg.addAttachment({ filename: 'hello.txt', contentType: 'text/plain', data: btoa('attached bytes') });
    const raw = msg.asRaw();
    const email = await PostalMime.parse(raw);
    return Response.json({
      headers: raw.split(/\r?\n\r?\n/)[0].split(/\r?\n/).map((l) => l.split(':')[0]),
      from: email.from, to: email.to, subject: email.subject, text: email.text, html: email.html,
      attachments: email.attachments.map((a) => ({ filename: a.filename, text: new TextDecoder().decode(a.content) })),
    });
  },
};
TS

# --- otpauth: TOTP codes (RFC 6238) for a 2FA check.
app('totp', 'src/index.ts', { 'src/index.ts' => <<'TS' });
import * as OTPAuth from 'otpauth';

const seeds: Record<string, string> = {
  SHA1: '12345678901234567890', SHA256: '12345678901234567890123456789012',
  SHA512: '1234567890123456789012345678901234567890123456789012345678901234',
};

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const algorithm = url.searchParams.get('algorithm') ?? 'SHA1';
    const totp = new OTPAuth.TOTP({ issuer: 'Dispatch', label: 'ada@example.com', algorithm, digits: 8, period: 30,
      secret: OTPAuth.Secret.fromLatin1(seeds[algorithm]) });
    const timestamp = Number(url.searchParams.get('t')) * 1000;
    if (url.pathname === '/code') return new Response(totp.generate({ timestamp }));
    if (url.pathname === '/check')
      return Response.json({ delta: totp.validate({ token: url.searchParams.get('token') ?? '', timestamp, window: 1 }) });
    if (url.pathname === '/uri') return new Response(totp.toString());
    return new Response('Not found', { status: 404 });
  },
};
TS

# --- xml2js (nodejs_compat: sax on node:events, node:timers and
# string_decoder): an XML feed parsed and built (src/xml.js is what Node.js
# runs too).
app('xml', 'src/index.ts', {
    'src/xml.js' => <<'JS',
import { parseStringPromise, Builder } from 'xml2js';

export async function roundTrip(xml) {
  const parsed = await parseStringPromise(xml, { explicitArray: false, mergeAttrs: true });
  const items = [].concat(parsed.rss.channel.item);
  const built = new Builder({ rootName: 'summary', headless: true, renderOpts: { pretty: false } })
    .buildObject({ title: parsed.rss.channel.title, count: items.length, item: items.map((i) => ({ $: { id: i.guid._ ?? i.guid }, _: i.title })) });
  return { parsed, built };
}
JS
    'src/index.ts' => <<'TS' }, flags => ['nodejs_compat']);
import { roundTrip } from './xml.js';

export default {
  async fetch(request: Request): Promise<Response> {
    try {
      return Response.json(await roundTrip(await request.text()));
    } catch (err) {
      return Response.json({ error: (err as Error).message }, { status: 400 });
    }
  },
};
TS

# --- @supabase/supabase-js: PostgREST queries, an insert and an Edge
# Function call (the echo stands in for the project's API).
app('supabase', 'src/index.ts', { 'src/index.ts' => <<'TS' });
import { createClient } from '@supabase/supabase-js';

type Env = { SUPABASE_URL: string; SUPABASE_KEY: string };

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const supabase = createClient(env.SUPABASE_URL, env.SUPABASE_KEY, { auth: { persistSession: false, autoRefreshToken: false } });
    const { pathname } = new URL(request.url);
    if (pathname === '/select') {
      const { data, error } = await supabase.from('todos').select('id, title').eq('done', false).in('owner', ['ada', 'grace'])
        .order('id', { ascending: false }).limit(5);
      return Response.json(error ?? data);
    }
    if (pathname === '/insert') {
      const { data, error } = await supabase.from('todos').insert({ title: 'Write tests', done: false }).select().single();
      return Response.json(error ?? data);
    }
    if (pathname === '/invoke') {
      const { data, error } = await supabase.functions.invoke('hello', { body: { name: 'Ada' } });
      return Response.json(error ? { error: error.message } : data);
    }
    if (pathname === '/public-url') return new Response(supabase.storage.from('avatars').getPublicUrl('ada/me.png').data.publicUrl);
    return new Response('Not found', { status: 404 });
  },
};
TS
$APPS{supabase}{meta} = { bindings => [
    { type => 'plain_text', name => 'SUPABASE_URL', text => $up->url('/echo/sb') },
    { type => 'secret_text', name => 'SUPABASE_KEY', text => 'sb-anon-key-0123' } ] };

# --- @neondatabase/serverless: SQL over HTTP with its tagged template (a
# stand-in answers as Neon's endpoint does: text values typed by their OIDs).
app('neon', 'src/index.ts', { 'src/index.ts' => <<'TS' });
import { neon, neonConfig } from '@neondatabase/serverless';

type Env = { DATABASE_URL: string; NEON_ENDPOINT: string };

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const sent: unknown[] = [];
    neonConfig.fetchEndpoint = () => env.NEON_ENDPOINT;
    neonConfig.fetchFunction = (url: string, init: RequestInit) => {
      sent.push({ url, headers: Object.fromEntries(new Headers(init.headers)), body: JSON.parse(String(init.body)) });
      return fetch(url, init);
    };
    const sql = neon(env.DATABASE_URL);
    const name = new URL(request.url).searchParams.get('name') ?? 'Ada';
    const rows = await sql`SELECT id, name, created, tags, meta, score FROM users WHERE name = ${name} AND id > ${0}`;
    return Response.json({ sent, rows: rows.map((r) => ({ ...r, created: r.created.toISOString(), isDate: r.created instanceof Date })) });
  },
};
TS

# --- an Open Graph image as Workers apps make them: satori lays out an
# element tree (@cf-wasm/satori's workerd build: yoga.wasm imported as a
# module; satori's own standalone build reads self.location, which no
# Worker has) in Inter (@fontsource/inter's WOFF, a Data module by a
# wrangler rule), and resvg renders the SVG to PNG. src/card.js is what
# Node.js renders too, with @cf-wasm/satori/node.
app('og', 'src/index.ts', {
    'src/card.js' => <<'JS',
export const card = (title) => ({ type: 'div', props: {
  style: { display: 'flex', flexDirection: 'column', width: '100%', height: '100%', padding: 40,
           background: 'linear-gradient(90deg, #f38020, #faae40)', color: 'white', justifyContent: 'space-between' },
  children: [
    { type: 'div', props: { style: { fontSize: 52 }, children: title } },
    { type: 'div', props: { style: { display: 'flex', fontSize: 24, opacity: 0.8 }, children: 'dispatch.example' } },
  ] } });
export const OPTIONS = { width: 600, height: 315 };
JS
    'src/index.ts' => <<'TS' }, toml => qq{[[rules]]\ntype = "Data"\nglobs = ["**/*.woff"]\n});
import { satori } from '@cf-wasm/satori/workerd';
import { initWasm, Resvg } from '@resvg/resvg-wasm';
import resvgWasm from '@resvg/resvg-wasm/index_bg.wasm';
import inter from '@fontsource/inter/files/inter-latin-400-normal.woff';
import { card, OPTIONS } from './card.js';

let ready: Promise<unknown> | undefined;

export default {
  async fetch(request: Request): Promise<Response> {
    ready ??= initWasm(resvgWasm);
    await ready;
    const url = new URL(request.url);
    const svg = await satori(card(url.searchParams.get('title') ?? 'Hello'),
      { ...OPTIONS, fonts: [{ name: 'Inter', data: inter, weight: 400, style: 'normal' }] });
    if (url.pathname === '/og.svg') return new Response(svg, { headers: { 'content-type': 'image/svg+xml' } });
    return new Response(new Resvg(svg).render().asPng(), { headers: { 'content-type': 'image/png', 'cache-control': 'public, max-age=86400' } });
  },
};
TS

# --- temporal-polyfill (its full build): Temporal on Intl (time zones from
# Intl.DateTimeFormat, calendars, DST arithmetic, durations, formatting);
# src/plan.js is what Node.js runs too.
app('temporal', 'src/index.ts', {
    'src/plan.js' => <<'JS',
import { Temporal } from 'temporal-polyfill/full';

export function plan(zone) {
  const start = Temporal.ZonedDateTime.from({ timeZone: 'America/New_York', year: 2024, month: 3, day: 9, hour: 9 });
  const next = start.add({ days: 1 });
  const there = next.withTimeZone(zone);
  const meeting = Temporal.PlainDateTime.from('2024-10-27T01:30').toZonedDateTime('Europe/London', { disambiguation: 'later' });
  const until = Temporal.PlainDate.from('2024-01-31').until('2025-03-01', { largestUnit: 'months' });
  return {
    start: start.toString(), next: next.toString(), hours: start.until(next).total('hours'),
    there: there.toString(), thereOffset: there.offset, weekOfYear: there.weekOfYear,
    london: meeting.toString(), instant: meeting.toInstant().toString(),
    until: until.toString(), rounded: Temporal.Duration.from({ minutes: 135 }).round({ largestUnit: 'hours' }).toString(),
    plusMonth: Temporal.PlainDate.from('2024-01-31').add({ months: 1 }).toString(),
    hebrew: Temporal.PlainDate.from('2024-10-03').withCalendar('hebrew').toString(),
    japanese: Temporal.PlainDate.from('2019-05-01').withCalendar('japanese').era,
    formatted: there.toLocaleString('en-GB', { dateStyle: 'full', timeStyle: 'short' }),
    compare: Temporal.Instant.compare(Temporal.Instant.from('2024-01-01T00:00Z'), Temporal.Instant.from('2023-12-31T23:59:59.999999999-00:01')),
  };
}
JS
    'src/index.ts' => <<'TS' });
import { plan } from './plan.js';

export default {
  fetch(request: Request): Response {
    return Response.json(plan(new URL(request.url).searchParams.get('zone') ?? 'UTC'));
  },
};
TS

# ------------------------------------------------------------- bundle, serve, deploy

# Each app as a project directory with its wrangler.toml, all bundled at
# once with `wrangler deploy --dry-run --outdir out` (at most 100 s); the
# modules wrangler writes beside a bundle (.wasm, data) are uploaded with it.
my (%BUNDLE, %MODULES, %DIR);
{
    my @names = sort keys %APPS;
    for my $name (@names) {
        my $o = $APPS{$name};
        my $dir = $DIR{$name} = tempdir("dispatch-$name-XXXXXX", TMPDIR => 1, CLEANUP => 1);
        my $flags = $o->{flags} ? 'compatibility_flags = [' . join(', ', map { qq{"$_"} } @{ $o->{flags} }) . "]\n" : '';
        write_file("$dir/wrangler.toml", qq{name = "$name"\nmain = "$o->{main}"\ncompatibility_date = "$DATE"\n$flags} . ($o->{toml} // ''));
        write_file("$dir/$_", $o->{files}{$_}) for keys %{ $o->{files} };
        symlink(npm_dir() . '/node_modules', "$dir/node_modules") or die "symlink: $!";
    }
    my @results = wrangler_dry_runs($WRANGLER, [ map { $DIR{$_} } @names ], 100);
    for my $i (0 .. $#names) {
        my ($name, $rc, $out) = ($names[$i], @{ $results[$i] });
        is $rc, 0, "wrangler bundles $name" or diag $out;
        my $read = sub { local $/; open my $b, '<', "$DIR{$name}/out/$_[0]" or die "$name: no out/$_[0]"; binmode $b; <$b> };
        $BUNDLE{$name} = $read->('index.js');
        opendir my $d, "$DIR{$name}/out" or die;
        $MODULES{$name}{$_} = $read->($_) for grep { $_ ne 'index.js' && !/^\.|\.map$|^README/ } readdir $d;
    }
}

sub node_json { my ($app, $code) = @_; return node_json_in($DIR{$app}, $app, $code) }

# better-auth hashes passwords with scrypt: more CPU than the 50 ms default,
# as a paid plan's limit allows on Workers.
my $STANDIN = Dispatch::Test::free_port;    # nginx answering as Neon's SQL-over-HTTP endpoint does
my $neon = encode_json({ command => 'SELECT', rowCount => 1, rowAsArray => JSON::PP::true,
    fields => [ map { { name => $_->[0], dataTypeID => $_->[1] } } [id => 23], [name => 25], [created => 1184], [tags => 1009],
                [meta => 3802], [score => 1700] ],
    rows => [[ '7', 'Ada', '2024-01-02 03:04:05.678+00', '{math,"first programmer"}', '{"k": [1, 2]}', '3.14' ]] });
$neon =~ s/\\/\\\\/g;    # nginx reads backslash escapes in a quoted string
$APPS{neon}{meta} = { bindings => [
    { type => 'secret_text', name => 'DATABASE_URL', text => 'postgresql://ada:pw@ep-test-123.us-east-2.aws.neon.tech/neondb' },
    { type => 'plain_text', name => 'NEON_ENDPOINT', text => "http://127.0.0.1:$STANDIN/sql" } ] };
my $t = apps_server(http => "dispatch_fetch_allow 127.0.0.1/32:$STANDIN 127.0.0.1/32:" . $up->port . '; dispatch_cpu_limit 5s;'
    . " server { listen 127.0.0.1:$STANDIN; location = /sql { default_type application/json; return 200 '$neon'; } }");
envelope_ok(api($t, POST => '', json => { name => 'apps' }), 'a namespace for the apps');
upload_apps($t, 'apps', $DATE, \%APPS, \%BUNDLE, \%MODULES);

sub on {
    my ($app, $method, $path, %o) = @_;
    return $t->request($method, $path, timeout => 20, %o, host => "$app.test");
}
sub json_of { my ($r) = @_; return eval { decode_json($r->{content}) } // { unparsed => $r->{content} } }
sub b64url { my ($s) = @_; (my $b = encode_base64($s, '')) =~ tr{+/}{-_}; $b =~ s/=+$//; return $b }
sub unb64url { my ($s) = @_; $s =~ tr{-_}{+/}; return decode_base64($s . '=' x (-length($s) % 4)) }

# ------------------------------------------------------------- JWT

{
    my $got = json_of(on('jwt', POST => '/login', content => '{"user":"ada"}'));
    my ($h, $p, $s) = split /\./, $got->{token} // '';
    is b64url(hmac_sha256("$h.$p", 'jwt-secret-0123456789')), $s, 'jwt: sign makes an HS256 signature Perl computes too';
    is_deeply decode_json(unb64url($p)), { sub => 'ada', role => 'admin', iat => 1700000000, exp => 4102444800 }, 'jwt: over the claims given';
    is_deeply json_of(on('jwt', GET => '/me', headers => { Authorization => "Bearer $got->{token}" })),
        { sub => 'ada', role => 'admin', alg => 'HS256' }, 'jwt: verify accepts its own token';

    my $mine = b64url('{"alg":"HS256","typ":"JWT"}') . '.' . b64url('{"sub":"perl","role":"viewer","exp":4102444800}');
    is_deeply json_of(on('jwt', GET => '/me', headers => { Authorization => "Bearer $mine." . b64url(hmac_sha256($mine, 'jwt-secret-0123456789')) })),
        { sub => 'perl', role => 'viewer', alg => 'HS256' }, 'jwt: and one Perl signed';
    is on('jwt', GET => '/me', headers => { Authorization => "Bearer $mine." . b64url(hmac_sha256($mine, 'wrong')) })->{status}, 401,
        'jwt: a token signed with another secret is refused';
    my $old = b64url('{"alg":"HS256","typ":"JWT"}') . '.' . b64url('{"sub":"perl","exp":1000000000}');
    is on('jwt', GET => '/me', headers => { Authorization => "Bearer $old." . b64url(hmac_sha256($old, 'jwt-secret-0123456789')) })->{status}, 401,
        'jwt: an expired token is refused';

    $got = json_of(on('jwt', GET => '/es256'));
    is $got->{verified}, JSON::PP::true, 'jwt: an ES256 token signed with a JWK verifies with its public half';
    is_deeply $got->{decoded}, { alg => 'ES256', kid => 'k1' }, 'jwt: its header';
    my $jose = node_json('jwt', sprintf(<<'JS', encode_json($KEYS->{es256}), $got->{token}));
import { importJWK, jwtVerify } from 'jose';
const { d, ...pub } = %s;
const { payload, protectedHeader } = await jwtVerify('%s', await importJWK(pub, 'ES256'));
console.log(JSON.stringify({ payload, protectedHeader }));
JS
    is_deeply [ @{ $jose->{payload} }{qw(sub nbf)} ], ['es', 1700000000], 'jwt: jose in Node.js verifies the ES256 token';
    ok abs($jose->{payload}{iat} - time) < 300, 'jwt: issued now';
}

# ------------------------------------------------------------- passkeys

# Node.js plays the browser and a platform authenticator (a P-256 key made
# with node:crypto, CBOR from the library's own helpers): registration with
# packed self-attestation, two sign-ins, a replayed counter, a wrong origin.
{
    my $got = node_json('webauthn', sprintf(<<'JS', $t->port));
import crypto from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';
const base = 'http://127.0.0.1:%d', q = '?app=webauthn&user=ada';
const sha256 = (b) => crypto.createHash('sha256').update(b).digest();
const b64u = (b) => Buffer.from(b).toString('base64url');
const call = async (path, body) => {
  const r = await fetch(base + path + q, body ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {});
  return { status: r.status, ...(await r.json()) };
};
const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = publicKey.export({ format: 'jwk' });
const credId = crypto.randomBytes(16);
const rpIdHash = sha256('passkeys.example');
const counter = (n) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
const clientData = (type, challenge, origin = 'https://passkeys.example') =>
  Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }));
const out = {};

const regOptions = await call('/register/options');
out.regOptions = { rp: regOptions.rp, user: regOptions.user.name, alg: regOptions.pubKeyCredParams.map((p) => p.alg).includes(-7),
  challengeBytes: Buffer.from(regOptions.challenge, 'base64url').length };
const coseKey = new Map([[1, 2], [3, -7], [-1, 1], [-2, new Uint8Array(Buffer.from(jwk.x, 'base64url'))], [-3, new Uint8Array(Buffer.from(jwk.y, 'base64url'))]]);
const regAuthData = Buffer.concat([rpIdHash, Buffer.from([0x45]), counter(0), Buffer.alloc(16), Buffer.from([0, credId.length]), credId,
  Buffer.from(isoCBOR.encode(coseKey))]);
const regClientData = clientData('webauthn.create', regOptions.challenge);
const attSig = crypto.sign('sha256', Buffer.concat([regAuthData, sha256(regClientData)]), privateKey);
const attestationObject = isoCBOR.encode(new Map([['fmt', 'packed'], ['attStmt', new Map([['alg', -7], ['sig', new Uint8Array(attSig)]])],
  ['authData', new Uint8Array(regAuthData)]]));
const registration = { id: b64u(credId), rawId: b64u(credId), type: 'public-key', clientExtensionResults: {},
  response: { clientDataJSON: b64u(regClientData), attestationObject: b64u(attestationObject), transports: ['internal'] } };
out.register = await call('/register/verify', registration);
out.credId = b64u(credId);

const signIn = async (n, origin) => {
  const options = await call('/login/options');
  const authData = Buffer.concat([rpIdHash, Buffer.from([0x05]), counter(n)]);
  const cd = clientData('webauthn.get', options.challenge, origin);
  const signature = crypto.sign('sha256', Buffer.concat([authData, sha256(cd)]), privateKey);
  return { allow: options.allowCredentials.map((c) => c.id), result: await call('/login/verify', { id: b64u(credId), rawId: b64u(credId),
    type: 'public-key', clientExtensionResults: {},
    response: { clientDataJSON: b64u(cd), authenticatorData: b64u(authData), signature: b64u(signature) } }) };
};
out.login1 = await signIn(1);
out.login2 = await signIn(7);
out.replay = await signIn(7);
out.phished = await signIn(8, 'https://passkeys.example.evil');
console.log(JSON.stringify(out));
JS
    is_deeply $got->{regOptions}, { rp => { name => 'Dispatch Passkeys', id => 'passkeys.example' }, user => 'ada', alg => JSON::PP::true,
        challengeBytes => 32 }, 'webauthn: registration options';
    is_deeply $got->{register}, { status => 200, verified => JSON::PP::true, fmt => 'packed', credentialType => 'public-key',
        id => $got->{credId}, counter => 0 }, 'webauthn: a packed self-attested registration verifies' or diag explain $got;
    is_deeply $got->{login1}, { allow => [ $got->{credId} ], result => { status => 200, verified => JSON::PP::true, newCounter => 1,
        userVerified => JSON::PP::true } }, 'webauthn: sign-in verifies the ECDSA assertion with the stored COSE key';
    is $got->{login2}{result}{newCounter}, 7, 'webauthn: a second sign-in, the counter kept in KV';
    is $got->{replay}{result}{status}, 400, 'webauthn: a replayed counter is refused';
    like $got->{replay}{result}{error} // '', qr/counter/i, 'webauthn: as a counter error';
    like $got->{phished}{result}{error} // '', qr/origin/i, 'webauthn: an assertion for another origin is refused';
}

# ------------------------------------------------------------- markdown

{
    my $md = <<'MD';
# Release notes

Hello **world**, with ~~strike~~ and a [link](https://example.com "title") and https://autolink.example.

| feature | status |
| :------ | -----: |
| tables  | done   |
| `code`  | 42     |

- [x] task done
- [ ] task open

Footnote here[^1].

<script>alert(1)</script><img src=x onerror=alert(1)>

```js
const x = 1 < 2;
```

[^1]: The note.
MD
    my $html = Encode::decode('UTF-8', on('markdown', POST => '/', content => $md)->{content});
    my $want = node_json('markdown', sprintf(<<'JS', encode_json($md)));
import { render } from './src/render.js';
console.log(JSON.stringify({ html: await render(%s) }));
JS
    is $html, $want->{html}, 'markdown: unified/remark/rehype render as in Node.js';
    like $html, qr{<table>.*<td align="right">42</td>}s, 'markdown: a GFM table';
    like $html, qr{<input type="checkbox" checked disabled> task done}, 'markdown: a task list';
    unlike $html, qr{<script|onerror}, 'markdown: raw HTML sanitized';
}

# ------------------------------------------------------------- Intl

{
    my @cases = (['Asia/Kolkata', 'en-IN'], ['Europe/Berlin', 'de-DE'], ['America/Sao_Paulo', 'pt-BR'], ['Asia/Tokyo', 'ja-JP']);
    my $want = node_json('intl', sprintf(<<'JS', encode_json(\@cases)));
import { report } from './src/report.js';
console.log(JSON.stringify(%s.map(([z, l]) => report(z, l))));
JS
    for my $i (0 .. $#cases) {
        my ($zone, $locale) = @{ $cases[$i] };
        my $got = json_of(on('intl', GET => "/?zone=$zone&locale=$locale"));
        is_deeply $got, $want->[$i], "intl: luxon and Intl in $zone, $locale answer as in Node.js"
            or diag explain { got => $got, want => $want->[$i] };
    }
    my $got = json_of(on('intl', GET => '/?zone=America/New_York&locale=en-US'));
    is_deeply $got->{dst}, ['2024-03-10T01:30:00.000-05:00', '2024-03-10T03:30:00.000-04:00', '2024-03-11T01:30:00.000-04:00'],
        'intl: luxon crosses the DST change in America/New_York';
    is $got->{meeting}, 'November 5, 2024 at 10:00 AM EST', 'intl: DATETIME_FULL in the zone';
}

# ------------------------------------------------------------- liquid

{
    my $data = { title => 'Spring <Sale>', note => 'Everything must go today', products => [
        { name => 'Kettle', price => 2599, tags => ['sale'] }, { name => 'Mug & Saucer', price => 899, tags => [] },
        { name => 'Teapot', price => 4500, tags => ['new', 'sale'] } ] };
    my $got = on('liquid', POST => '/', content => encode_json($data));
    my $want = node_json('liquid', sprintf(<<'JS', encode_json($data)));
import { engine } from './src/templates.js';
console.log(JSON.stringify({ html: await engine.renderFile('shop.liquid', %s) }));
JS
    is $got->{content}, $want->{html}, 'liquid: a layout, partials and filters render as in Node.js';
    like $got->{content}, qr{<title>Spring &lt;Sale&gt;</title>.*<li class="odd">Kettle: \$25\.99 <b>sale</b></li><li class="odd">Mug &amp; Saucer: \$8\.99</li>}s,
        'liquid: escaped, with the custom filter, each render with its own scope (cycle starts anew)';
    like $got->{content}, qr{3 products, \$79\.98 in all; cheapest: Mug & Saucer}, 'liquid: map, sum, sort';
}

# ------------------------------------------------------------- xstate + immer

{
    my @events = ({ type => 'CHECKOUT' }, { type => 'ADD', sku => 'tea', qty => 2, price => 450 },
        { type => 'ADD', sku => 'mug', qty => 1, price => 1200 }, { type => 'ADD', sku => 'tea', qty => 1, price => 450 },
        { type => 'REMOVE', sku => 'mug' }, { type => 'CHECKOUT' }, { type => 'BACK' }, { type => 'CHECKOUT' }, { type => 'PAY' });
    my @got = map { json_of(on('cart', POST => '/cart/c42', content => encode_json($_))) } @events;
    my $want = node_json('cart', sprintf(<<'JS', encode_json(\@events)));
import { createActor } from 'xstate';
import { checkout } from './src/machine.js';
let saved;
const out = [];
for (const event of %s) {
  const actor = createActor(checkout, saved ? { snapshot: JSON.parse(JSON.stringify(saved)) } : undefined).start();
  actor.send(event);
  saved = actor.getPersistedSnapshot();
  const { value, context, status } = actor.getSnapshot();
  out.push({ value, status, context });
}
console.log(JSON.stringify(out));
JS
    is_deeply \@got, $want, 'cart: the machine and its immer cart, persisted in KV between requests, step as in Node.js'
        or diag explain \@got;
    is_deeply [ map { $_->{value} } @got ], [qw(shopping shopping shopping shopping shopping payment shopping payment paid)],
        'cart: the guard held CHECKOUT back while the cart was empty';
    is_deeply $got[-1]{context}, { items => [{ sku => 'tea', qty => 3, price => 450 }], total => 1350,
        log => ['replace items', 'replace total'] }, 'cart: the cart, its total and the patches of the removal';
    is $got[-1]{status}, 'done', 'cart: paid is final';
    is_deeply json_of(on('cart', GET => '/cart/c42')), $got[-1], 'cart: the persisted snapshot comes back';
}

# ------------------------------------------------------------- ky, ofetch

{
    my $got = json_of(on('fetchers', GET => '/ky'));
    is $got->{method}, 'POST', 'ky: a POST';
    is $got->{target}, '/echo/orders?dry=yes', 'ky: to the prefix, with searchParams';
    is $got->{header}{'content-type'}, 'application/json', 'ky: JSON content type';
    is_deeply decode_json(decode_base64($got->{body_b64})), { sku => 'A1', qty => 2 }, 'ky: the JSON body';
    is_deeply [ @{ $got->{header} }{qw(x-client x-trace)} ], ['ky', 'trace-1'], 'ky: default headers and a beforeRequest hook';

    my $before = () = grep { $_->{path} eq '/status/503' } $up->requests;
    is_deeply json_of(on('fetchers', GET => '/ky-retry')), { http => JSON::PP::true, status => 503, data => 'status body' },
        'ky: an HTTPError after its retries, the body read into its data';
    my $after = () = grep { $_->{path} eq '/status/503' } $up->requests;
    is $after - $before, 3, 'ky: the 503 was tried three times (two retries)';

    $got = json_of(on('fetchers', GET => '/ofetch'));
    is "$got->{method} $got->{target}", 'PUT /echo/search?lang=en', 'ofetch: the method, the baseURL and the query';
    is_deeply decode_json(decode_base64($got->{body_b64})), { q => 'workers', page => 2 }, 'ofetch: an object body sent as JSON';
    is $got->{header}{'x-client'}, 'ofetch', 'ofetch: the instance headers';
    is_deeply json_of(on('fetchers', GET => '/ofetch-error')),
        { fetchError => JSON::PP::true, status => 404, statusText => 'Custom', data => 'status body' }, 'ofetch: a FetchError with the status';
}

# ------------------------------------------------------------- arktype

{
    my @inputs = (
        { name => 'Ada', email => 'ada@example.com', age => 36, plan => 'pro', tags => ['math'], referrer => 'https://news.example.org/x?y=1' },
        { name => 'A', email => 'not-an-email', age => 12.5, plan => 'gold', tags => [1, 2, 3, 4] },
        { email => 'x@y.z', age => '40', tags => [] },
    );
    my $want = node_json('arktype', sprintf(<<'JS', encode_json(\@inputs)));
import { parseSignup } from './src/schema.js';
console.log(JSON.stringify(%s.map(parseSignup)));
JS
    for my $i (0 .. $#inputs) {
        my $r = on('arktype', POST => '/', content => encode_json($inputs[$i]));
        is_deeply json_of($r), $want->[$i], "arktype: input $i is judged as in Node.js" or diag explain json_of($r);
        is $r->{status}, $i ? 422 : 200, "arktype: input $i answers " . ($i ? 422 : 200);
    }
}

# ------------------------------------------------------------- Web Push

# The push service (the echo) received what RFC 8030/8291/8292 say: Node.js
# checks the VAPID JWT with the server's public key and decrypts the body
# with the subscription's private key.
{
    my $message = encode_json({ title => 'Deploy finished', body => "main \x{2192} production", url => '/deploys/42' });
    my $echo = json_of(on('webpush', POST => '/', content => $message));
    is $echo->{method}, 'POST', 'webpush: a POST to the push service';
    is_deeply [ @{ $echo->{header} }{qw(content-encoding content-type ttl urgency topic)} ],
        ['aes128gcm', 'application/octet-stream', '60', 'high', 'news'], 'webpush: its headers';
    my $got = node_json('webpush', sprintf(<<'JS', encode_json($echo), encode_json($KEYS)));
import crypto from 'node:crypto';
import { importJWK, jwtVerify } from 'jose';
const echo = %s, keys = %s;
const [, jwt, k] = echo.header.authorization.match(/^vapid t=([^,]+), ?k=(.+)$/);
const { d, ...vapidPublic } = keys.vapid.jwk;
const { payload } = await jwtVerify(jwt, await importJWK(vapidPublic, 'ES256'));
const body = Buffer.from(echo.body_b64, 'base64');
const salt = body.subarray(0, 16), rs = body.readUInt32BE(16), idlen = body[20], asPublic = body.subarray(21, 21 + idlen);
const ua = crypto.createECDH('prime256v1');
ua.setPrivateKey(Buffer.from(keys.ua.jwk.d, 'base64url'));
const secret = ua.computeSecret(asPublic);
const info = (s) => Buffer.from(s + '\0');
const ikm = Buffer.from(crypto.hkdfSync('sha256', secret, Buffer.from(keys.ua.auth, 'base64url'),
  Buffer.concat([info('WebPush: info'), Buffer.from(keys.ua.p256dh, 'base64url'), asPublic]), 32));
const cek = Buffer.from(crypto.hkdfSync('sha256', ikm, salt, info('Content-Encoding: aes128gcm'), 16));
const nonce = Buffer.from(crypto.hkdfSync('sha256', ikm, salt, info('Content-Encoding: nonce'), 12));
const ct = body.subarray(21 + idlen);
const decipher = crypto.createDecipheriv('aes-128-gcm', cek, nonce);
decipher.setAuthTag(ct.subarray(ct.length - 16));
const padded = Buffer.concat([decipher.update(ct.subarray(0, ct.length - 16)), decipher.final()]);
let end = padded.length - 1;
while (padded[end] === 0) end--;
console.log(JSON.stringify({ k: k === keys.vapid.publicKey, aud: payload.aud, sub: payload.sub, expIn: payload.exp - Math.floor(Date.now() / 1000),
  rs, idlen, delimiter: padded[end], plaintext: padded.subarray(0, end).toString('utf8') }));
JS
    is $got->{k}, JSON::PP::true, 'webpush: the Authorization names the VAPID public key';
    is_deeply [ @$got{qw(aud sub)} ], ['https://push.example.net', 'mailto:ops@example.com'], 'webpush: a VAPID JWT for the push service, verified by jose';
    ok $got->{expIn} > 0 && $got->{expIn} <= 24 * 3600, 'webpush: expiring within a day';
    is_deeply [ @$got{qw(rs idlen delimiter)} ], [4096, 65, 2], 'webpush: an aes128gcm record (RFC 8188) with the sender key as key id';
    is $got->{plaintext}, Encode::decode('UTF-8', $message), 'webpush: Node.js decrypts the message with the subscription key (RFC 8291)';
}

# ------------------------------------------------------------- drizzle

{
    my $want = node_json('drizzle', <<'JS');
import { queries } from './src/queries.js';
console.log(JSON.stringify(queries("o'brien")));
JS
    my $got = json_of(on('drizzle', GET => "/?name=o'brien"));
    is_deeply $got, $want, 'drizzle: its query builders make the SQL and parameters Node.js makes';
    is $got->{select}{sql}, 'select "id", "name" from "users" where ("users"."email" like ? and "users"."age" > ?) order by "users"."age" desc limit ? offset ?',
        'drizzle: SQLite SQL';
    is_deeply $got->{pg}{params}, ["o'brien", 'root'], 'drizzle: PostgreSQL parameters';
}

# ------------------------------------------------------------- msgpack, protobuf

{
    my $in = { id => 7, name => "caf\x{e9}", tags => ['a', 'b'], nested => { ok => JSON::PP::true, n => undef }, big => 2**40, f => 1.5 };
    my $want = node_json('binary', sprintf(<<'JS', encode_json($in), encode_json($in)));
import { encode, decode } from '@msgpack/msgpack';
import { msgpackEcho, structToBinary, structFromBinary, timestamp, timestampBytes } from './src/codec.js';
const packed = Buffer.from(encode(%s));
const struct = Buffer.from(structToBinary(%s));
console.log(JSON.stringify({ packed: packed.toString('base64'), reply: Buffer.from(msgpackEcho(packed)).toString('base64'),
  struct: struct.toString('base64'), back: structFromBinary(struct), timestamp: timestamp(), timestampBytes: [...timestampBytes()] }));
JS
    my $r = on('binary', POST => '/msgpack', content => decode_base64($want->{packed}));
    is encode_base64($r->{content}, ''), $want->{reply}, 'binary: msgpack decoded and encoded (with a Date extension) as in Node.js';
    $r = on('binary', POST => '/struct', content => encode_json($in));
    is encode_base64($r->{content}, ''), $want->{struct}, 'binary: a google.protobuf.Struct from JSON to the bytes Node.js makes';
    is_deeply json_of(on('binary', POST => '/struct-json', content => decode_base64($want->{struct}))), $want->{back},
        'binary: and back to JSON';
    is_deeply json_of(on('binary', POST => '/timestamp')), { json => '2023-11-14T22:13:20.123Z', bytes => $want->{timestampBytes} },
        'binary: Timestamp, as JSON and bytes (BigInt seconds)';
}

# ------------------------------------------------------------- resvg

{
    ok scalar(grep { /\.wasm$/ } keys %{ $MODULES{resvg} || {} }), 'resvg: wrangler wrote the .wasm module beside the bundle';
    my $want = node_json('resvg', <<'JS');
import fs from 'node:fs';
import { initWasm, Resvg } from '@resvg/resvg-wasm';
import { badge } from './src/badge.js';
await initWasm(fs.readFileSync('node_modules/@resvg/resvg-wasm/index_bg.wasm'));
const out = {};
for (const [value, width] of [[50, 240], [90, 480]]) {
  const r = new Resvg(badge(value), { fitTo: { mode: 'width', value: width } });
  out[`${value},${width}`] = Buffer.from(r.render().asPng()).toString('base64');
}
console.log(JSON.stringify(out));
JS
    for my $case ([50, 240], [90, 480]) {
        my ($value, $width) = @$case;
        my $r = on('resvg', GET => "/?value=$value&width=$width");
        is $r->{headers}{'x-size'}, $width . 'x' . ($width / 3), "resvg: the badge at $width px wide";
        is encode_base64($r->{content}, ''), $want->{"$value,$width"}, "resvg: the PNG ($value, $width) is the one Node.js renders";
    }
}

# ------------------------------------------------------------- mail, charsets

{
    my $qp = sub { my ($b) = @_; $b =~ s/([^ -<>-~])/sprintf '=%02X', ord $1/ge; $b =~ s/ /_/g; $b };
    my $body_qp = sub { my ($b) = @_; $b =~ s/([^ -<>-~])/sprintf '=%02X', ord $1/ge; $b };
    my %text = (from => "Pawe\x{142} Wi\x{15b}niewski", subject => "\x{41e}\x{442}\x{447}\x{451}\x{442} \x{43e} \x{440}\x{435}\x{43b}\x{438}\x{437}\x{435}",
                text => "\x{41f}\x{440}\x{438}\x{432}\x{435}\x{442}, \x{43c}\x{438}\x{440}! \x{412}\x{441}\x{451} \x{433}\x{43e}\x{442}\x{43e}\x{432}\x{43e}.\n",
                html => "<p>\x{39a}\x{3b1}\x{3bb}\x{3b7}\x{3bc}\x{3ad}\x{3c1}\x{3b1} \x{3ba}\x{3cc}\x{3c3}\x{3bc}\x{3b5}</p>");
    my $mail = join "\r\n",
        'From: =?ISO-8859-2?Q?' . $qp->(Encode::encode('iso-8859-2', $text{from})) . '?= <pawel@example.pl>',
        'To: Ops <ops@example.com>',
        'Subject: =?KOI8-R?B?' . encode_base64(Encode::encode('koi8-r', $text{subject}), '') . '?=',
        'Date: Mon, 2 Dec 2024 10:00:00 +0000', 'Message-ID: <a1@example.pl>', 'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary="b1"', '',
        '--b1', 'Content-Type: text/plain; charset=windows-1251', 'Content-Transfer-Encoding: base64', '',
        encode_base64(Encode::encode('cp1251', $text{text}), "\r\n"),
        '--b1', 'Content-Type: text/html; charset=iso-8859-7', 'Content-Transfer-Encoding: quoted-printable', '',
        $body_qp->(Encode::encode('iso-8859-7', $text{html})),
        '--b1', 'Content-Type: text/csv; name="report.csv"', 'Content-Disposition: attachment; filename="report.csv"',
        'Content-Transfer-Encoding: base64', '', encode_base64("city,count\nKyiv,3\n", "\r\n"),
        '--b1--', '';
    my $got = json_of(on('mail', POST => '/', content => $mail));
    my $want = node_json('mail', sprintf(<<'JS', encode_json([ map { ord } split //, $mail ])));
import PostalMime from 'postal-mime';
const email = await PostalMime.parse(Uint8Array.from(%s));
console.log(JSON.stringify({ from: email.from, subject: email.subject, text: email.text, html: email.html,
  attachments: email.attachments.map((a) => ({ filename: a.filename, mimeType: a.mimeType, bytes: a.content.byteLength })) }));
JS
    is_deeply $got, $want, 'mail: postal-mime parses a message in legacy charsets as in Node.js' or diag explain $got;
    is_deeply $got->{from}, { name => $text{from}, address => 'pawel@example.pl' }, 'mail: an ISO-8859-2 encoded-word in From';
    is $got->{subject}, $text{subject}, 'mail: a KOI8-R encoded-word in Subject';
    is index($got->{text} // '', $text{text}), 0, 'mail: a windows-1251 text part (first in the text)';
    like $got->{html} // '', qr{\Q$text{html}\E}, 'mail: an ISO-8859-7 HTML part';
    is_deeply $got->{attachments}, [{ filename => 'report.csv', mimeType => 'text/csv', bytes => 18 }], 'mail: its attachment';

    my $page = "\x{e4}\x{f6}\x{fc} \x{20ac} \x{160}\x{17d}";
    for my $case (['iso-8859-15', 'iso-8859-15'], ['windows-1250', 'cp1250'], ['koi8-r', 'koi8-r', "\x{416}\x{443}\x{43a}"],
                  ['utf-16be', 'UTF-16BE'], ['ibm866', 'cp866', "\x{414}\x{43e}\x{441} \x{2592}"]) {
        my ($label, $perl, $string) = @$case;
        $string //= $page;
        my $r = on('mail', POST => "/decode?charset=$label", content => Encode::encode($perl, $string));
        is Encode::decode('UTF-8', $r->{content}), $string, "mail: TextDecoder('$label') decodes what Perl encodes";
    }
}

# ------------------------------------------------------------- better-auth

{
    my %json = (headers => { 'Content-Type' => 'application/json', Origin => 'http://auth.test' });
    my $cookie = sub { my ($r) = @_; my $c = $r->{headers}{'set-cookie'} // ''; $c = join ', ', @$c if ref $c;
                       my ($token) = $c =~ /(better-auth\.session_token=[^;]+)/; $token };
    my $r = on('auth', POST => '/api/auth/sign-up/email', %json,
        content => encode_json({ email => 'ada@example.com', password => 'correct horse battery', name => 'Ada' }));
    is $r->{status}, 200, 'auth: better-auth signs up with email and password' or diag $r->{content};
    is json_of($r)->{user}{email}, 'ada@example.com', 'auth: the user it made';
    my $session = $cookie->($r);
    ok $session, 'auth: a session cookie';
    is_deeply json_of(on('auth', GET => '/me', headers => { Cookie => $session // '' })),
        { email => 'ada@example.com', name => 'Ada' }, 'auth: getSession reads the signed cookie';
    is on('auth', GET => '/me')->{status}, 401, 'auth: no cookie, no session';

    $r = on('auth', POST => '/api/auth/sign-in/email', %json,
        content => encode_json({ email => 'ada@example.com', password => 'wrong password' }));
    is $r->{status}, 401, 'auth: a wrong password is refused (scrypt verified)' or diag $r->{content};
    $r = on('auth', POST => '/api/auth/sign-in/email', %json,
        content => encode_json({ email => 'ada@example.com', password => 'correct horse battery' }));
    is $r->{status}, 200, 'auth: the right one signs in' or diag $r->{content};
    my $second = $cookie->($r);
    isnt $second, $session, 'auth: with a new session';
    is json_of(on('auth', GET => '/api/auth/get-session', headers => { Cookie => $second // '' }))->{user}{name}, 'Ada',
        'auth: its own get-session endpoint';
    $r = on('auth', POST => '/api/auth/sign-out', headers => { %{ $json{headers} }, Cookie => $second // '' }, content => '{}');
    is $r->{status}, 200, 'auth: sign-out';
    is on('auth', GET => '/me', headers => { Cookie => $second // '' })->{status}, 401, 'auth: the session is gone';
}

# ------------------------------------------------------------- aws4fetch

# Perl checks the Signature V4 the worker computed over what the bucket
# (the echo) received.
{
    my $secret = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
    my $signing_key = sub {
        my ($date, $region, $service) = @_;
        my $k = hmac_sha256($date, "AWS4$secret");
        $k = hmac_sha256($_, $k) for $region, $service, 'aws4_request';
        return $k;
    };
    my $canonical_query = sub {
        join '&', sort map { my ($k, $v) = split /=/, $_, 2; "$k=" . ($v // '') } grep { length } split /&/, $_[0] // '';
    };
    my $echo = json_of(on('s3sign', POST => '/put', content => 'hello r2'));
    is "$echo->{method} $echo->{path}", 'PUT /echo/r2/uploads/notes/hello%20world.txt', 'aws4fetch: a PUT to the object';
    my ($cred, $signed, $sig) = ($echo->{header}{authorization} // '')
        =~ m{^AWS4-HMAC-SHA256 Credential=([^,]+), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$};
    my ($akid, $date, $region, $service) = split m{/}, $cred // '';
    is_deeply [$akid, $region, $service], ['AKIDEXAMPLE', 'auto', 's3'], 'aws4fetch: its credential scope';
    is $echo->{header}{'x-amz-content-sha256'}, 'UNSIGNED-PAYLOAD', 'aws4fetch: an unsigned payload, as it signs for S3';
    is decode_base64($echo->{body_b64}), 'hello r2', 'aws4fetch: the body';
    my ($query) = $echo->{target} =~ /\?(.*)/;
    my $canonical = join "\n", 'PUT', $echo->{path}, $canonical_query->($query),
        (join '', map { "$_:$echo->{header}{$_}\n" } split /;/, $signed // ''), $signed, $echo->{header}{'x-amz-content-sha256'};
    my $sts = join "\n", 'AWS4-HMAC-SHA256', $echo->{header}{'x-amz-date'}, "$date/$region/$service/aws4_request",
        Digest::SHA::sha256_hex($canonical);
    is $sig, Digest::SHA::hmac_sha256_hex($sts, $signing_key->($date, $region, $service)), 'aws4fetch: the signature Perl computes';

    my $url = on('s3sign', GET => '/presign')->{content};
    my ($path, $q) = $url =~ m{^http://127\.0\.0\.1:\d+(/[^?]+)\?(.*)$};
    my %q = map { split /=/, $_, 2 } split /&/, $q // '';
    is_deeply [ @q{qw(X-Amz-Algorithm X-Amz-Date X-Amz-Expires X-Amz-SignedHeaders)} ],
        ['AWS4-HMAC-SHA256', '20240102T030405Z', '600', 'host'], 'aws4fetch: a presigned URL';
    my $unsigned = join '&', grep { !/^X-Amz-Signature=/ } split /&/, $q;
    my $host = '127.0.0.1:' . $up->port;
    $canonical = join "\n", 'GET', $path, $canonical_query->($unsigned), "host:$host\n", 'host', 'UNSIGNED-PAYLOAD';
    $sts = join "\n", 'AWS4-HMAC-SHA256', '20240102T030405Z', '20240102/auto/s3/aws4_request', Digest::SHA::sha256_hex($canonical);
    is $q{'X-Amz-Signature'}, Digest::SHA::hmac_sha256_hex($sts, $signing_key->('20240102', 'auto', 's3')),
        'aws4fetch: its signature is the one Perl computes';
}

# ------------------------------------------------------------- JSON Schema

{
    my @orders = (
        { id => '3f2504e0-4f89-41d3-9a0c-0305e82c3301', email => 'ada@example.com', placed => '2024-01-02T03:04:05Z',
          items => [{ sku => 'tea', qty => 2 }], coupon => 'SAVE-10' },
        { id => 'not-a-uuid', email => 'nope', items => [], coupon => 'save10', extra => 1 },
        { id => '3f2504e0-4f89-41d3-9a0c-0305e82c3301', email => 'ada@example.com', items => [{ sku => 't', qty => 100 }] },
    );
    my $want = node_json('jsonschema', sprintf(<<'JS', encode_json(\@orders)));
import { check } from './src/schema.js';
console.log(JSON.stringify(%s.map(check)));
JS
    for my $i (0 .. $#orders) {
        my $r = on('jsonschema', POST => '/', content => encode_json($orders[$i]));
        is_deeply json_of($r), $want->[$i], "jsonschema: order $i is judged as in Node.js";
        is $r->{status}, $i ? 400 : 200, "jsonschema: order $i answers " . ($i ? 400 : 200);
    }
    ok @{ $want->[1]{errors} || [] } >= 5, 'jsonschema: every error of order 1 is listed';
}

# ------------------------------------------------------------- mimetext

{
    my $subject = "Your receipt \x{2014} \x{65e5}\x{672c}";
    my $got = json_of(on('compose', POST => '/', content => encode_json({ to => 'Ada <ada@example.com>', subject => $subject,
        text => "Thanks for your order \x{2713}" })));
    is_deeply [ sort @{ $got->{headers} || [] } ], [ sort qw(Date From To Message-ID Subject MIME-Version Content-Type) ],
        'compose: mimetext writes the headers of a message' or diag explain $got->{headers};
    is_deeply [ $got->{from}, $got->{to}, $got->{subject} ],
        [ { name => 'Dispatch Bot', address => 'bot@dispatch.example' }, [{ name => 'Ada', address => 'ada@example.com' }], $subject ],
        'compose: postal-mime reads back its sender, recipient and encoded subject';
    like $got->{text} // '', qr{^Thanks for your order \x{2713}\s*$}, 'compose: the text part';
    like $got->{html} // '', qr{<p>Thanks for your order \x{2713}</p>}, 'compose: the HTML part';
    is_deeply $got->{attachments}, [{ filename => 'hello.txt', text => 'attached bytes' }], 'compose: the attachment';
}

# ------------------------------------------------------------- ky again

{
    is_deeply [ @{ json_of(on('fetchers', GET => '/ky-timeout')) }{qw(name timedOut)} ], ['TimeoutError', JSON::PP::true],
        'ky: a request past its timeout is a TimeoutError';
    my $before = () = grep { $_->{path} eq '/status/503' && $_->{method} eq 'POST' } $up->requests;
    is_deeply json_of(on('fetchers', GET => '/ky-post-retry')), { status => 503 }, 'ky: a POST retried when its methods allow';
    my @posts = grep { $_->{path} eq '/status/503' && $_->{method} eq 'POST' } $up->requests;
    is @posts - $before, 2, 'ky: the POST went twice';
    my $got = json_of(on('fetchers', GET => '/ky-progress'));
    is_deeply [ @$got{qw(length first last increasing)} ], [ length $Dispatch::TestUpstream::TEXT, 'line 1: the quick br',
        length $Dispatch::TestUpstream::TEXT, JSON::PP::true ], 'ky: onDownloadProgress counts a gzip body (decoded) as it arrives';
}

# ------------------------------------------------------------- TOTP

# RFC 6238 appendix B.
{
    my %want = (SHA1 => { 59 => '94287082', 1111111109 => '07081804', 2000000000 => '69279037' },
                SHA256 => { 59 => '46119246', 1234567890 => '91819424' }, SHA512 => { 59 => '90693936', 20000000000 => '47863826' });
    for my $alg (sort keys %want) {
        for my $t (sort keys %{ $want{$alg} }) {
            is on('totp', GET => "/code?algorithm=$alg&t=$t")->{content}, $want{$alg}{$t}, "totp: RFC 6238 $alg at $t";
        }
    }
    is_deeply json_of(on('totp', GET => '/check?t=89&token=94287082')), { delta => -1 }, 'totp: the last period\'s code in the window';
    is_deeply json_of(on('totp', GET => '/check?t=59&token=12345678')), { delta => undef }, 'totp: a wrong code is not';
    is on('totp', GET => '/uri')->{content},
        'otpauth://totp/Dispatch:ada%40example.com?issuer=Dispatch&secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&algorithm=SHA1&digits=8&period=30',
        'totp: the otpauth URI an authenticator app scans';
}

# ------------------------------------------------------------- xml2js

{
    my $feed = '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Dispatch &amp; news</title>'
        . '<item><title>First</title><guid isPermaLink="false">a1</guid></item>'
        . '<item><title><![CDATA[Second <b>bold</b>]]></title><guid>b2</guid></item></channel></rss>';
    my $want = node_json('xml', sprintf(<<'JS', encode_json($feed)));
import { roundTrip } from './src/xml.js';
console.log(JSON.stringify(await roundTrip(%s)));
JS
    my $got = json_of(on('xml', POST => '/', content => $feed));
    is_deeply $got, $want, 'xml: xml2js parses and builds as in Node.js';
    is $got->{built}, '<summary><title>Dispatch &amp; news</title><count>2</count><item id="a1">First</item>'
        . '<item id="b2">Second &lt;b&gt;bold&lt;/b&gt;</item></summary>', 'xml: the summary it built';
    my $r = on('xml', POST => '/', content => '<rss><channel>');
    is $r->{status}, 400, 'xml: unclosed XML is an error';
}

# ------------------------------------------------------------- supabase, neon

{
    my $echo = json_of(on('supabase', GET => '/select'));
    is $echo->{method}, 'GET', 'supabase: a select is a GET';
    is $echo->{target}, '/echo/sb/rest/v1/todos?select=id%2Ctitle&done=eq.false&owner=in.%28ada%2Cgrace%29&order=id.desc&limit=5',
        'supabase: to PostgREST with its filters';
    is_deeply [ @{ $echo->{header} }{qw(apikey authorization)} ], ['sb-anon-key-0123', 'Bearer sb-anon-key-0123'], 'supabase: with the key';
    $echo = json_of(on('supabase', GET => '/insert'));
    is "$echo->{method} $echo->{target}", 'POST /echo/sb/rest/v1/todos?select=*', 'supabase: an insert is a POST';
    like $echo->{header}{prefer} // '', qr/return=representation/, 'supabase: asking for the row back';
    is_deeply decode_json(decode_base64($echo->{body_b64})), { title => 'Write tests', done => JSON::PP::false }, 'supabase: the row';
    $echo = json_of(on('supabase', GET => '/invoke'));
    is "$echo->{method} $echo->{path}", 'POST /echo/sb/functions/v1/hello', 'supabase: functions.invoke';
    is_deeply decode_json(decode_base64($echo->{body_b64})), { name => 'Ada' }, 'supabase: its JSON body';
    like on('supabase', GET => '/public-url')->{content}, qr{^http://127\.0\.0\.1:\d+/echo/sb/storage/v1/object/public/avatars/ada/me\.png$},
        'supabase: a storage public URL';

    my $got = json_of(on('neon', GET => "/?name=Ada"));
    is_deeply $got->{sent}[0]{body}, { query => 'SELECT id, name, created, tags, meta, score FROM users WHERE name = $1 AND id > $2',
        params => ['Ada', '0'] }, 'neon: the tagged template as a query with parameters';
    like $got->{sent}[0]{headers}{'neon-connection-string'} // '', qr{^postgresql://ada:pw\@ep-test-123\.us-east-2\.aws\.neon\.tech/neondb\?application_name=},
        'neon: the connection string in its header (with the driver as application_name)';
    is_deeply $got->{rows}, [{ id => 7, name => 'Ada', created => '2024-01-02T03:04:05.678Z', isDate => JSON::PP::true,
        tags => ['math', 'first programmer'], meta => { k => [1, 2] }, score => '3.14' }],
        'neon: text values typed by their OIDs (int4, text, timestamptz, text[], jsonb, numeric)';
}

# ------------------------------------------------------------- OG image

{
    is_deeply [ sort map { /\.(\w+)$/ } keys %{ $MODULES{og} || {} } ], [qw(wasm wasm woff)], 'og: two .wasm modules and the font beside the bundle';
    my $want = node_json('og', <<'JS');
import fs from 'node:fs';
import { satori } from '@cf-wasm/satori/node';
import { initWasm, Resvg } from '@resvg/resvg-wasm';
import { card, OPTIONS } from './src/card.js';
await initWasm(fs.readFileSync('node_modules/@resvg/resvg-wasm/index_bg.wasm'));
const font = fs.readFileSync('node_modules/@fontsource/inter/files/inter-latin-400-normal.woff');
const svg = await satori(card('Deploys, at the edge'), { ...OPTIONS, fonts: [{ name: 'Inter', data: font, weight: 400, style: 'normal' }] });
console.log(JSON.stringify({ svg, png: Buffer.from(new Resvg(svg).render().asPng()).toString('base64') }));
JS
    my $svg = on('og', GET => '/og.svg?title=Deploys%2C%20at%20the%20edge');
    is $svg->{content}, $want->{svg}, 'og: satori lays out the card, the text as glyph paths, as in Node.js';
    like $svg->{content}, qr{^<svg width="600" height="315"}, 'og: 600 by 315';
    my $png = on('og', GET => '/og.png?title=Deploys%2C%20at%20the%20edge');
    is $png->{headers}{'content-type'}, 'image/png', 'og: a PNG';
    is encode_base64($png->{content}, ''), $want->{png}, 'og: resvg renders the PNG Node.js renders';
}

# ------------------------------------------------------------- Temporal

{
    my @zones = qw(Asia/Kolkata Australia/Lord_Howe America/St_Johns Pacific/Chatham);
    my $want = node_json('temporal', sprintf(<<'JS', encode_json(\@zones)));
import { plan } from './src/plan.js';
console.log(JSON.stringify(%s.map(plan)));
JS
    for my $i (0 .. $#zones) {
        is_deeply json_of(on('temporal', GET => "/?zone=$zones[$i]")), $want->[$i], "temporal: in $zones[$i], as in Node.js";
    }
    my $got = json_of(on('temporal', GET => '/?zone=UTC'));
    is_deeply [ @$got{qw(start next hours)} ], ['2024-03-09T09:00:00-05:00[America/New_York]', '2024-03-10T09:00:00-04:00[America/New_York]', 23],
        'temporal: a day across the DST change is 23 hours';
    is_deeply [ @$got{qw(london until plusMonth rounded)} ], ['2024-10-27T01:30:00+00:00[Europe/London]', 'P13M1D', '2024-02-29', 'PT2H15M'],
        'temporal: disambiguation, calendar arithmetic, rounding';
}

is_deeply [ $t->error_log_alerts ], [], 'no alerts in the error log';
done_testing;
