// Echoes the request back: method, URL, headers and body.
export default {
  async fetch(request) {
    const headers = {};
    for (const [name, value] of request.headers) headers[name] = value;
    return new Response(JSON.stringify({
      method: request.method,
      url: request.url,
      headers,
      body: await request.text(),
    }, null, 2) + "\n", { headers: { "content-type": "application/json" } });
  },
};
