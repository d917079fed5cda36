// `cloudflare:workers`, the platform's module as workerd has it:
// WorkerEntrypoint (a default export that extends it is made anew for each
// request, with ctx and env, and its fetch(request) called), the base
// classes scripts extend (DurableObject, WorkflowEntrypoint, RpcTarget: here
// bases only, since there are no Durable Objects, Workflows or RPC
// bindings), `env`, the script's bindings, readable at the top level, and
// waitUntil(promise), ctx.waitUntil() of the request the caller works for.

// (ReflectConstruct: memory_guards.js; ObjectPrototypeIsPrototypeOf: language_additions.js)
const nativeWaitUntilNow = native.waitUntilNow;

class WorkerEntrypoint {
  constructor(ctx, env) {
    this.ctx = ctx;
    this.env = env;
  }
}
setToStringTag(WorkerEntrypoint.prototype, 'WorkerEntrypoint');

class DurableObject {
  constructor(ctx, env) {
    this.ctx = ctx;
    this.env = env;
  }
}
setToStringTag(DurableObject.prototype, 'DurableObject');

class WorkflowEntrypoint {
  constructor(ctx, env) {
    this.ctx = ctx;
    this.env = env;
  }
}
setToStringTag(WorkflowEntrypoint.prototype, 'WorkflowEntrypoint');

class RpcTarget {}
setToStringTag(RpcTarget.prototype, 'RpcTarget');

// For the engine (TenantIsolate::platform_module): what
// import 'cloudflare:workers' gives, env being the script's.
function cloudflareWorkers(env) {
  return { WorkerEntrypoint, DurableObject, WorkflowEntrypoint, RpcTarget, env, waitUntil };
}

function waitUntil(promise) {
  nativeWaitUntilNow(promise);
}

// run()'s way to a default export that is a class extending
// WorkerEntrypoint: the instance for request `id` (its ctx that request's
// ExecutionContext), or null for anything else. The class, its constructor
// and its fetch are the tenant's own code; nothing of the engine's is
// handed to them beyond ctx and env.
function entrypointFor(id, exports, env) {
  if (typeof exports !== 'function' ||
      !FunctionPrototypeCallOn(ObjectPrototypeIsPrototypeOf, WorkerEntrypoint, exports)) {
    return null;
  }
  executionContextId = id;
  return ReflectConstruct(exports, [new ExecutionContext(INTERNAL), env]);
}
