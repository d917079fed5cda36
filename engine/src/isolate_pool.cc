#include "isolate_pool.h"

#include <libplatform/libplatform.h>

#include "platform.h"
#include "tenant_isolate.h"

namespace dispatch {

IsolatePool::~IsolatePool() = default;

std::shared_ptr<TenantIsolate> IsolatePool::acquire(
    const std::shared_ptr<const ScriptSource> &script, std::string *err) {
  std::string key = script->ns + "/" + script->name;
  auto it = isolates_.find(key);
  if (it != isolates_.end() && it->second->script().same_version(*script)) {
    return it->second;
  }

  std::shared_ptr<TenantIsolate> isolate = TenantIsolate::create(engine_, script, err);
  if (!isolate) {
    // Keep serving nothing stale: a broken new version must not fall back
    // to an old isolate the writer meant to replace.
    if (it != isolates_.end()) isolates_.erase(it);
    return nullptr;
  }
  isolates_[key] = isolate;
  return isolate;
}

void IsolatePool::pump() {
  for (auto &entry : isolates_) entry.second->pump_message_loop();
}

}  // namespace dispatch
