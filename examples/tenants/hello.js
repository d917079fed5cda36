// The smallest tenant: a JSON answer built from the request.
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    return Response.json({
      hello: url.searchParams.get("name") ?? "world",
      path: url.pathname,
      method: request.method,
    });
  },
};
