// bench/suite's cold-start tenant (a): a small module of about 2 KB, the
// shape of a typical hand-written Worker (a router, a few handlers).
const routes = new Map();

function route(method, path, handler) {
  routes.set(`${method} ${path}`, handler);
}

function json(data, init = {}) {
  return Response.json(data, {
    status: init.status ?? 200,
    headers: { 'cache-control': 'no-store', ...(init.headers ?? {}) },
  });
}

function notFound(url) {
  return json({ error: 'not found', path: url.pathname }, { status: 404 });
}

route('GET', '/', () => new Response('cold ok'));

route('GET', '/t', () => new Response('cold ok'));

route('GET', '/hello', (request, url) => {
  const name = url.searchParams.get('name') ?? 'world';
  return new Response(`hello ${name}`, { headers: { 'content-type': 'text/plain' } });
});

route('GET', '/headers', (request) => {
  const out = {};
  for (const [k, v] of request.headers) out[k] = v;
  return json(out);
});

route('POST', '/echo', async (request) => {
  const type = request.headers.get('content-type') ?? '';
  if (type.startsWith('application/json')) {
    const body = await request.json();
    return json({ echoed: body });
  }
  return new Response(await request.text(), { headers: { 'content-type': type } });
});

route('GET', '/time', () => json({ now: Date.now(), iso: new Date().toISOString() }));

function cors(response) {
  const headers = new Headers(response.headers);
  headers.set('access-control-allow-origin', '*');
  headers.set('access-control-allow-methods', 'GET, POST, OPTIONS');
  return new Response(response.body, { status: response.status, headers });
}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (request.method === 'OPTIONS') return cors(new Response(null, { status: 204 }));
    const handler = routes.get(`${request.method} ${url.pathname}`);
    if (!handler) return cors(notFound(url));
    try {
      return cors(await handler(request, url, env, ctx));
    } catch (err) {
      return json({ error: String(err) }, { status: 500 });
    }
  },
};
