// tenant_isolate.h: one V8 isolate running one version of one tenant script.
//
// Created on the script's first request: a locked-down context, the Web API
// built-ins, the tenant's modules compiled and evaluated. Each request then
// calls the built-ins' invoke(), which calls the tenant's fetch handler and
// settles a promise that hands the Response back here.
#pragma once

#include <v8.h>

#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "script_store.h"

namespace dispatch {

class Engine;
struct Request;

class TenantIsolate {
 public:
  static std::shared_ptr<TenantIsolate> create(Engine &engine,
                                               std::shared_ptr<const ScriptSource> script,
                                               std::string *err);
  ~TenantIsolate();
  TenantIsolate(const TenantIsolate &) = delete;
  TenantIsolate &operator=(const TenantIsolate &) = delete;

  const ScriptSource &script() const { return *script_; }

  // Starts the tenant's handler for req. The engine hears of the outcome
  // through Engine::finish, now or when the handler's promise settles.
  void run(Request &req);

  void pump_message_loop();

  // A line in the error log about this script.
  void log(dispatch_log_level_e level, const std::string &msg) const;

  static TenantIsolate *from(v8::Isolate *isolate);

 private:
  TenantIsolate(Engine &engine, std::shared_ptr<const ScriptSource> script);

  bool start(std::string *err);
  bool install_builtins(v8::Local<v8::Context> context, std::string *err);
  bool evaluate_main_module(v8::Local<v8::Context> context, std::string *err);
  v8::MaybeLocal<v8::Module> compile_module(const std::string &path);
  v8::Local<v8::Object> make_execution_context(v8::Local<v8::Context> context);
  void run_microtasks();

  static v8::MaybeLocal<v8::Module> resolve_module(v8::Local<v8::Context> context,
                                                   v8::Local<v8::String> specifier,
                                                   v8::Local<v8::FixedArray> assertions,
                                                   v8::Local<v8::Module> referrer);
  static void on_response(const v8::FunctionCallbackInfo<v8::Value> &info);
  static void on_exception(const v8::FunctionCallbackInfo<v8::Value> &info);

  Engine &engine_;
  std::shared_ptr<const ScriptSource> script_;
  std::unique_ptr<v8::ArrayBuffer::Allocator> allocator_;
  v8::Isolate *isolate_ = nullptr;
  v8::Global<v8::Context> context_;
  v8::Global<v8::Function> invoke_;
  v8::Global<v8::Value> exports_;
  v8::Global<v8::Object> env_;
  v8::Global<v8::FunctionTemplate> noop_;
  std::string main_path_;
  std::map<std::string, v8::Global<v8::Module>> modules_;  // by path
  std::unordered_multimap<int, std::string> module_paths_; // identity hash -> path
};

}  // namespace dispatch
