// bench/suite's cold-start tenant (b): a hono app with many of hono's
// middlewares and jose, bundled by bench/suite as wrangler does (esbuild
// --bundle --format=esm --conditions=workerd,worker,browser
// --platform=neutral) into about 300 KB. bench/suite requests /t.
import { hc } from 'hono/client';
import { compress } from 'hono/compress';
import { logger } from 'hono/logger';
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { etag } from 'hono/etag';
import { secureHeaders } from 'hono/secure-headers';
import { jwt, sign } from 'hono/jwt';
import { basicAuth } from 'hono/basic-auth';
import { bearerAuth } from 'hono/bearer-auth';
import { prettyJSON } from 'hono/pretty-json';
import { requestId } from 'hono/request-id';
import { timing } from 'hono/timing';
import { csrf } from 'hono/csrf';
import { bodyLimit } from 'hono/body-limit';
import { trimTrailingSlash } from 'hono/trailing-slash';
import { languageDetector } from 'hono/language';
import { jsxRenderer } from 'hono/jsx-renderer';
import { html } from 'hono/html';
import { getCookie, setCookie } from 'hono/cookie';
import { validator } from 'hono/validator';
import { streamText } from 'hono/streaming';
import * as jose from 'jose';

const app = new Hono();
app.use('*', requestId(), timing(), secureHeaders(), etag(), cors(), prettyJSON(), trimTrailingSlash());
app.get('/', (c) => c.text('hello from hono'));
app.get('/t', (c) => c.text('hello from hono'));
app.get('/json', (c) => c.json({ path: c.req.path, q: c.req.query('q') ?? null }));
app.get('/page', jsxRenderer(), (c) => c.html(html`<p>${getCookie(c, 'x') ?? 'none'}</p>`));
app.post('/echo', bodyLimit({ maxSize: 1024 }), validator('json', (v) => v), (c) => c.json(c.req.valid('json')));
app.get('/auth/*', jwt({ secret: 'k', alg: 'HS256' }));
app.get('/basic/*', basicAuth({ username: 'a', password: 'b' }));
app.get('/bearer/*', bearerAuth({ token: 't' }));
app.get('/lang', languageDetector({ supportedLanguages: ['en'], fallbackLanguage: 'en' }), (c) => c.text(c.get('language')));
app.get('/stream', (c) => streamText(c, async (s) => { await s.write('x'); }));
app.get('/sign', async (c) => c.text(await sign({ a: 1 }, 'k')));
app.get('/jose', async (c) => c.json(Object.keys(jose)));
app.use('/csrf/*', csrf());
app.get('/client', (c) => c.text(typeof hc(c.req.url)));
app.use('/z/*', compress(), logger());
export default app;
