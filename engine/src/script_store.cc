#include "script_store.h"

#include <hiredis/hiredis.h>

namespace dispatch {

namespace {
const char kModulePrefix[] = "module:";
}

bool ScriptSource::same_version(const ScriptSource &other) const {
  // A writer that changes code should change etag too (SPEC 3); without an
  // etag, or with a careless writer, the content itself decides.
  return etag == other.etag && format == other.format && code == other.code &&
         metadata == other.metadata && modules == other.modules;
}

std::string ScriptStore::script_key(const std::string &ns, const std::string &name) {
  // The braces are a Redis Cluster hash tag: one namespace, one slot.
  return "dispatch:{" + ns + "}:script:" + name;
}

void ScriptStore::load(const std::string &ns, const std::string &name, Callback cb) {
  size_t max_size = max_size_;
  redis_.command({"HGETALL", script_key(ns, name)},
      [ns, name, max_size, cb = std::move(cb)](const redisReply *reply,
                                               const std::string &error) {
    ScriptLoad result{ScriptLoad::Status::kUnavailable, nullptr, error};
    if (reply == nullptr) {
      cb(std::move(result));
      return;
    }
    if (reply->type != REDIS_REPLY_ARRAY) {
      result.error = reply->type == REDIS_REPLY_ERROR
          ? "Redis answered: " + std::string(reply->str, reply->len)
          : "the script key is not a hash";
      result.status = reply->type == REDIS_REPLY_ERROR
          ? ScriptLoad::Status::kUnavailable : ScriptLoad::Status::kInvalid;
      cb(std::move(result));
      return;
    }
    if (reply->elements == 0) {
      result.status = ScriptLoad::Status::kNotFound;
      result.error.clear();
      cb(std::move(result));
      return;
    }

    auto script = std::make_shared<ScriptSource>();
    script->ns = ns;
    script->name = name;
    script->format = "module";
    bool has_code = false;
    size_t total = 0;
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
      const redisReply *f = reply->element[i];
      const redisReply *v = reply->element[i + 1];
      if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
      std::string field(f->str, f->len);
      std::string value(v->str, v->len);
      if (field == "code") {
        total += value.size();
        script->code = std::move(value);
        has_code = true;
      } else if (field == "format") {
        script->format = std::move(value);
      } else if (field == "etag") {
        script->etag = std::move(value);
      } else if (field == "metadata") {
        script->metadata = std::move(value);
      } else if (field.compare(0, sizeof(kModulePrefix) - 1, kModulePrefix) == 0) {
        total += value.size();
        script->modules[field.substr(sizeof(kModulePrefix) - 1)] = std::move(value);
      }
    }

    result.status = ScriptLoad::Status::kInvalid;
    if (!has_code) {
      result.error = "the script has no \"code\" field";
    } else if (script->format != "module" && script->format != "service-worker") {
      result.error = "unknown format \"" + script->format + "\"";
    } else if (total > max_size) {
      result.error = "the script is " + std::to_string(total) +
                     " bytes, more than dispatch_script_max_size (" +
                     std::to_string(max_size) + ")";
    } else {
      result.status = ScriptLoad::Status::kFound;
      result.error.clear();
      result.script = std::move(script);
    }
    cb(std::move(result));
  });
}

}  // namespace dispatch
