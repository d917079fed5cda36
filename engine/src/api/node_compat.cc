#include "api/node_compat.h"

#include <cstring>
#include <memory>
#include <unordered_map>
#include <vector>

#include "api/node_sources.h"
#include "engine.h"
#include "memory_budget.h"
#include "request_scope.h"
#include "tenant_isolate.h"
#include "v8_util.h"

namespace dispatch {

namespace {

// The modules there are (engine/js/node/<name with / as _>.js): what
// workerd has, those it does not implement here as modules whose functions
// throw (node/unimplemented.js), so that bundles that import them start.
const char *const kNodeBuiltins[] = {
    "_stream_duplex", "_stream_passthrough", "_stream_readable", "_stream_transform",
    "_stream_writable", "_tls_common", "_tls_wrap", "assert", "assert/strict", "async_hooks",
    "buffer", "constants", "crypto", "diagnostics_channel", "dns", "dns/promises", "events",
    "http", "http2", "https", "module", "net", "os", "path", "path/posix", "path/win32", "process", "querystring",
    "stream", "stream/consumers", "stream/promises", "stream/web", "string_decoder", "sys",
    "timers", "timers/promises", "tls", "url", "util", "util/types", "zlib",
    // What wrangler's preset leaves to the runtime at later compatibility
    // dates (fs and os from 2025-09-15, punycode, cluster... from 2025-12-04,
    // v8, tty, child_process... from 2026-03-17).
    "_http_agent", "_http_client", "_http_common", "_http_incoming", "_http_outgoing", "_http_server",
    "_stream_wrap", "child_process", "cluster", "console", "dgram", "domain", "fs", "fs/promises",
    "inspector", "inspector/promises", "perf_hooks", "punycode", "readline", "readline/promises",
    "repl", "sqlite", "trace_events", "tty", "v8", "vm", "wasi", "worker_threads",
};

bool has_flag(json_t *flags, const char *name) {
  size_t i;
  json_t *flag;
  json_array_foreach(flags, i, flag) {
    if (json_is_string(flag) && strcmp(json_string_value(flag), name) == 0) return true;
  }
  return false;
}

// V8's code cache of each module, made by the first isolate of the process
// that ran it (so it holds the functions its top level compiled): later
// isolates deserialize instead of parsing and compiling again, as the
// built-ins do. Only this process's own V8 reads it.
struct NodeCodeCache {
  std::vector<uint8_t> bytes;
  bool made = false;
};
std::unordered_map<std::string, NodeCodeCache> g_node_code_cache;

const NodeSource *node_source_named(const std::string &id) {
  for (size_t i = 0; i < kNodeSourceCount; i++) {
    if (id == kNodeSources[i].id) return &kNodeSources[i];
  }
  return nullptr;
}

// nodeSource(id): the module's body compiled as a function, in the tenant's
// context (the tenant may tamper with what it builds, as with its own code).
void node_source(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  if (info.Length() < 1 || !info[0]->IsString() || info[0].As<v8::String>()->Length() > 256) {
    return;
  }
  std::string id = to_std_string(isolate, info[0]);
  const NodeSource *found = node_source_named(id);
  if (found == nullptr) return;
  NodeCodeCache &cache = g_node_code_cache[id];
  v8::ScriptCompiler::CachedData *cached = nullptr;
  if (!cache.bytes.empty()) {
    cached = new v8::ScriptCompiler::CachedData(cache.bytes.data(), int(cache.bytes.size()));
  }
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  v8::ScriptOrigin origin(isolate, v8_str(isolate, "node:internal/" + id));
  // Source owns cached (and deletes it), never the bytes it points at.
  v8::ScriptCompiler::Source source(v8_str(isolate, found->source), origin, cached);
  v8::Local<v8::String> params[] = {
      v8_str(isolate, "exports"),  v8_str(isolate, "require"), v8_str(isolate, "module"),
      v8_str(isolate, "__filename"), v8_str(isolate, "__dirname"),
      v8_str(isolate, "process"),  v8_str(isolate, "global"),  v8_str(isolate, "internals"),
  };
  v8::Local<v8::Function> fn;
  bool compiled = v8::ScriptCompiler::CompileFunction(
                      context, &source, 8, params, 0, nullptr,
                      cached ? v8::ScriptCompiler::kConsumeCodeCache
                             : v8::ScriptCompiler::kNoCompileOptions)
                      .ToLocal(&fn);
  if (cached != nullptr && source.GetCachedData()->rejected) cache.bytes.clear();
  if (compiled) info.GetReturnValue().Set(fn);
}

// nodeSourceRan(id, fn): fn, nodeSource(id)'s function, ran its top level.
void node_source_ran(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  if (info.Length() < 2 || !info[0]->IsString() || !info[1]->IsFunction() ||
      info[0].As<v8::String>()->Length() > 256) {
    return;
  }
  std::string id = to_std_string(isolate, info[0]);
  if (node_source_named(id) == nullptr) return;
  NodeCodeCache &cache = g_node_code_cache[id];
  // Not while a limit stops the isolate: the next isolate makes it.
  if (cache.made || isolate->IsExecutionTerminating()) return;
  cache.made = true;
  std::unique_ptr<v8::ScriptCompiler::CachedData> data(
      v8::ScriptCompiler::CreateCodeCacheForFunction(info[1].As<v8::Function>()));
  if (data && data->length > 0) cache.bytes.assign(data->data, data->data + data->length);
}

// The context's continuation-preserved data is the engine's first: the id
// of the request the JavaScript works for (TenantIsolate::request_now). With
// an AsyncLocalStorage frame it becomes [id, frame], an array made here that
// no script ever holds, so a script can set its frame but never the id.
// nodeBuiltinName(specifier) -> "buffer" for "node:buffer", or "".
void node_builtin_name_native(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  // A tenant's string (process.getBuiltinModule): no name is that long.
  if (info.Length() < 1 || !info[0]->IsString() || info[0].As<v8::String>()->Length() > 64) {
    info.GetReturnValue().Set(v8_str(isolate, ""));
    return;
  }
  info.GetReturnValue().Set(v8_str(isolate, node_builtin_name(to_std_string(isolate, info[0]))));
}

void get_continuation(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  v8::Local<v8::Value> data = context->GetContinuationPreservedEmbedderData();
  v8::Local<v8::Value> frame;
  if (data->IsArray() && data.As<v8::Array>()->Get(context, 1).ToLocal(&frame)) {
    info.GetReturnValue().Set(frame);
  }
}

void set_continuation(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  v8::Local<v8::Value> id = continuation_request_id(context);
  if (info.Length() < 1 || info[0]->IsUndefined()) {
    context->SetContinuationPreservedEmbedderData(id);
    return;
  }
  v8::Local<v8::Value> pair[] = {id, info[0]};
  context->SetContinuationPreservedEmbedderData(v8::Array::New(isolate, pair, 2));
}

// node:fs's /bundle: bundleNames() -> the names of the script's modules
// (the main module and the others, as uploaded); bundleFile(name) -> a
// fresh Uint8Array of that module's bytes, or undefined. Only this
// isolate's own script: nothing else is reachable by name.
void bundle_names(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  const TenantIsolate *tenant = TenantIsolate::from(isolate);
  std::vector<v8::Local<v8::Value>> names;
  // A prepared isolate has no script yet (nothing imports node:fs there).
  if (tenant->script_ptr() == nullptr) {
    info.GetReturnValue().Set(v8::Array::New(isolate, 0));
    return;
  }
  const ScriptSource &script = tenant->script();
  names.push_back(v8_str(isolate, tenant->main_path()));
  for (const auto &module : script.modules) names.push_back(v8_str(isolate, module.first));
  for (const auto &module : script.wasm_modules) names.push_back(v8_str(isolate, module.first));
  info.GetReturnValue().Set(v8::Array::New(isolate, names.data(), names.size()));
}

void bundle_file(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  if (info.Length() < 1 || !info[0]->IsString() || info[0].As<v8::String>()->Length() > 4096) return;
  const TenantIsolate *tenant = TenantIsolate::from(isolate);
  if (tenant->script_ptr() == nullptr) return;
  const ScriptSource &script = tenant->script();
  std::string name = to_std_string(isolate, info[0]);
  const std::string *bytes = nullptr;
  if (name == tenant->main_path()) {
    bytes = &script.code;
  } else if (auto found = script.modules.find(name); found != script.modules.end()) {
    bytes = &found->second;
  } else if (auto wasm = script.wasm_modules.find(name); wasm != script.wasm_modules.end()) {
    bytes = &wasm->second;
  }
  if (bytes == nullptr) return;
  // In the script's budget: the copy counts toward its memory limit.
  v8::Local<v8::ArrayBuffer> buffer;
  if (!new_array_buffer(isolate, bytes->data(), bytes->size()).ToLocal(&buffer)) return;
  info.GetReturnValue().Set(v8::Uint8Array::New(buffer, 0, bytes->size()));
}

// node:fs's /tmp is the request's own, as on Workers: requestNow() -> the
// id of the request the JavaScript works for (0 at the top level), and
// requestLive(id) -> whether that request of this isolate is still going
// (node_compat.js drops an ended request's slot). The loader keeps both:
// no tenant code sees an id.
void request_now_native(const v8::FunctionCallbackInfo<v8::Value> &info) {
  RequestScope *scope = TenantIsolate::from(info.GetIsolate())->request_now();
  info.GetReturnValue().Set(double(scope == nullptr ? 0 : scope->id));
}

void request_live(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  TenantIsolate *tenant = TenantIsolate::from(isolate);
  bool live = false;
  if (info.Length() >= 1 && info[0]->IsNumber()) {
    double id = info[0].As<v8::Number>()->Value();
    RequestScope *scope = id >= 1 && id < 9007199254740992.0 ? tenant->engine().find(uint64_t(id)) : nullptr;
    live = scope != nullptr && scope->isolate.get() == tenant;
  }
  info.GetReturnValue().Set(live);
}

}  // namespace

v8::Local<v8::Value> continuation_request_id(v8::Local<v8::Context> context) {
  v8::Local<v8::Value> data = context->GetContinuationPreservedEmbedderData();
  v8::Local<v8::Value> id;
  if (data->IsArray() && data.As<v8::Array>()->Get(context, 0).ToLocal(&id)) return id;
  return data->IsNumber() ? data : v8::Undefined(context->GetIsolate()).As<v8::Value>();
}

NodeCompatFlags node_compat_flags(json_t *metadata) {
  NodeCompatFlags out;
  json_t *flags = json_object_get(metadata, "compatibility_flags");
  // ISO dates compare as strings.
  const char *date = json_string_value(json_object_get(metadata, "compatibility_date"));
  std::string day = date ? date : "";
  // From 2026-08-04 Workers turns it on by default (no_nodejs_compat: off).
  out.enabled = has_flag(flags, "nodejs_compat") || has_flag(flags, "nodejs_compat_v2") ||
                (day >= "2026-08-04" && !has_flag(flags, "no_nodejs_compat"));
  // Workers' nodejs_als: AsyncLocalStorage without the rest (what Sentry's
  // and OpenTelemetry's Workers SDKs document), as node:async_hooks only.
  out.als_only = !out.enabled && has_flag(flags, "nodejs_als");
  if (!out.enabled) return out;
  out.globals = (has_flag(flags, "nodejs_compat_v2") || day >= "2024-09-23") &&
                !has_flag(flags, "no_nodejs_compat_v2");
  out.populate_env = (has_flag(flags, "nodejs_compat_populate_process_env") || day >= "2025-04-01") &&
                     !has_flag(flags, "nodejs_compat_do_not_populate_process_env");
  return out;
}

bool eval_during_startup(json_t *metadata) {
  json_t *flags = json_object_get(metadata, "compatibility_flags");
  const char *date = json_string_value(json_object_get(metadata, "compatibility_date"));
  std::string day = date ? date : "";
  return (has_flag(flags, "allow_eval_during_startup") || day >= "2025-06-01") &&
         !has_flag(flags, "disallow_eval_during_startup");
}

std::string node_builtin_name(const std::string &specifier) {
  std::string name = specifier.compare(0, 5, "node:") == 0 ? specifier.substr(5) : specifier;
  for (const char *builtin : kNodeBuiltins) {
    if (name == builtin) return name;
  }
  return "";
}

void install_node_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native) {
  set_function(context, native, "nodeSource", node_source);
  set_function(context, native, "nodeSourceRan", node_source_ran);
  set_function(context, native, "nodeBuiltinName", node_builtin_name_native);
  set_function(context, native, "bundleNames", bundle_names);
  set_function(context, native, "bundleFile", bundle_file);
  set_function(context, native, "requestNow", request_now_native);
  set_function(context, native, "requestLive", request_live);
  set_function(context, native, "getContinuation", get_continuation);
  set_function(context, native, "setContinuation", set_continuation);
}

}  // namespace dispatch
