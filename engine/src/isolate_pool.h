// isolate_pool.h: the worker's live isolates, one per tenant script.
//
// An isolate is created on a script's first request and kept for the next
// ones; a new version of the script replaces it (requests still running on
// the old one keep it alive until they end). The bound on the number of
// isolates and on their memory lands here.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "script_store.h"

namespace dispatch {

class Engine;
class TenantIsolate;

class IsolatePool {
 public:
  explicit IsolatePool(Engine &engine) : engine_(engine) {}
  ~IsolatePool();

  // The isolate for this version of the script, created when missing. On a
  // script that does not start (syntax error, throwing top level) returns
  // null with the reason in *err.
  std::shared_ptr<TenantIsolate> acquire(const std::shared_ptr<const ScriptSource> &script,
                                         std::string *err);

  // Runs V8's pending foreground tasks for every isolate.
  void pump();

  size_t size() const { return isolates_.size(); }

 private:
  Engine &engine_;
  std::unordered_map<std::string, std::shared_ptr<TenantIsolate>> isolates_;
};

}  // namespace dispatch
