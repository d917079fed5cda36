// node_compat.h: Node.js compatibility behind the nodejs_compat flag (as on
// Workers): which scripts have it, which import specifiers name a Node.js
// built-in module, and the natives the loader (engine/js/node_compat.js)
// stands on. The modules themselves are embedded apart (node_sources.h) and
// compiled only when a script of the isolate imports one.
#pragma once

#include <jansson.h>
#include <v8.h>

#include <string>

namespace dispatch {

struct NodeCompatFlags {
  bool enabled = false;       // nodejs_compat or nodejs_compat_v2
  bool als_only = false;      // nodejs_als alone: node:async_hooks and nothing else
  bool globals = false;       // Buffer, process, global, setImmediate on globalThis
  bool populate_env = false;  // process.env from the text bindings
};

// From the upload metadata's compatibility_flags and compatibility_date.
NodeCompatFlags node_compat_flags(json_t *metadata);

// Workers' allow_eval_during_startup (on from a 2025-06-01 date, or with
// the flag; disallow_eval_during_startup turns it off): eval and
// new Function(text) work while the script's top level runs, never in a
// request. Beside nodejs_compat's flags: both are read from the same
// compatibility_date and compatibility_flags.
bool eval_during_startup(json_t *metadata);

// "buffer" for "node:buffer" or "buffer" (the bare names Workers allows),
// "stream/promises" for "node:stream/promises"; empty for anything else.
std::string node_builtin_name(const std::string &specifier);

// The request id in the context's continuation-preserved data (a Number,
// or undefined), whether or not an AsyncLocalStorage frame rides with it.
v8::Local<v8::Value> continuation_request_id(v8::Local<v8::Context> context);

// Adds to the built-ins' `native`: nodeSource(id) -> the module's function
// (exports, require, module, __filename, __dirname, process, global,
// internals) or undefined; nodeSourceRan(id, fn), after its first run (the
// code cache is made then); nodeBuiltinName(specifier), as above;
// getContinuation() and setContinuation(frame), the AsyncLocalStorage frame
// riding in the context's continuation-preserved embedder data.
void install_node_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native);

}  // namespace dispatch
