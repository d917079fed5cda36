// The platform's router (script `router` of namespace `platform`): the
// seed's router, dispatching by subdomain (counter.demo.localhost runs
// script `counter` of namespace `customers` through the CUSTOMERS binding),
// plus answers of its own when a tenant cannot answer.
const FAILURES = [
  // [what the rejection's message says, status, $dispatch_outcome it mirrors]
  ["exceeded CPU time limit", 503, "exceeded_cpu"],
  ["exceeded memory limit", 503, "exceeded_memory"],
  ["exceeded wall time limit", 504, "exceeded_wall"],
  ["is overloaded", 503, "overloaded"],
  ["is quarantined", 503, "quarantined"],
];

export default {
  async fetch(req, env) {
    const url = new URL(req.url);
    const tenant = url.hostname.split('.')[0];
    try {
      const customerWorker = env.CUSTOMERS.get(tenant);
      return await customerWorker.fetch(req);
    } catch (e) {
      const message = String(e && e.message);
      if (message.startsWith("Worker not found")) {
        return new Response(`no tenant called "${tenant}" here\n`, { status: 404 });
      }
      for (const [says, status, outcome] of FAILURES) {
        if (message.includes(says)) {
          return new Response(`${outcome}: ${message}\n`, { status });
        }
      }
      return new Response(`tenant ${tenant} failed: ${message}\n`, { status: 502 });
    }
  }
};
