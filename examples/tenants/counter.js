// Global state lives as long as the tenant's isolate in this worker process
// (as on Cloudflare): each nginx worker counts on its own.
let hits = 0;

export default {
  fetch() {
    hits += 1;
    return new Response(`this isolate has served ${hits} request(s)\n`, {
      headers: { "x-hits": String(hits) },
    });
  },
};
