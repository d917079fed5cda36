// Tenant `spin`: misbehaves. It never returns; dispatch_cpu_limit stops it
// (the router answers 503 exceeded_cpu) while the other tenants carry on.
// Hitting the limit again and again gets it throttled and then put in the
// penalty box (503 quarantined), on every worker.
export default {
  fetch() {
    for (;;) {}
  }
};
