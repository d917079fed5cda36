// Tenant `quotes`: calls an outbound API (binding QUOTES_API, a URL on
// loopback that nginx's dispatch_fetch_allow opens) and passes on what it said.
export default {
  async fetch(req, env) {
    const res = await fetch(env.QUOTES_API);
    if (!res.ok) {
      return new Response(`the quotes API answered ${res.status}\n`, { status: 502 });
    }
    const { quote, served_at } = await res.json();
    return new Response(`quote of the moment, from ${env.QUOTES_API} at ${served_at}: ${quote}\n`);
  }
};
