// Tenant `counter`, version 2 (uploaded live by the command scripts/demo
// prints): the same KV data, new words.
export default {
  async fetch(req, env) {
    const visits = Number(await env.VISITS.get("visits") ?? 0) + 1;
    await env.VISITS.put("visits", String(visits));
    return new Response(`version 2 says: you are visitor ${visits}\n`);
  }
};
