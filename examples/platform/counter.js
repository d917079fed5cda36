// Tenant `counter`: counts its visits in KV (binding VISITS), which every
// nginx worker and every version of the script share.
export default {
  async fetch(req, env) {
    const visits = Number(await env.VISITS.get("visits") ?? 0) + 1;
    await env.VISITS.put("visits", String(visits));
    return new Response(`visit number ${visits}\n`);
  }
};
