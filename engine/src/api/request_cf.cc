#include "api/request_cf.h"

#include <vector>

#include "v8_util.h"

namespace dispatch {

namespace {

bool cf_name_valid(const dispatch_str_t &name) {
  if (name.data == nullptr || name.len == 0 || name.len > DISPATCH_CF_NAME_MAX) return false;
  for (size_t i = 0; i < name.len; i++) {
    unsigned char c = static_cast<unsigned char>(name.data[i]);
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

// Freezes value and everything reachable from it. A worklist, not
// recursion: JSON from a caller may nest as deep as V8's parser allows.
bool freeze_deeply(v8::Local<v8::Context> context, v8::Local<v8::Value> value) {
  std::vector<v8::Local<v8::Object>> pending;
  if (value->IsObject()) pending.push_back(value.As<v8::Object>());
  while (!pending.empty()) {
    v8::Local<v8::Object> object = pending.back();
    pending.pop_back();
    if (object->SetIntegrityLevel(context, v8::IntegrityLevel::kFrozen).IsNothing()) return false;
    v8::Local<v8::Array> keys;
    if (!object->GetOwnPropertyNames(context).ToLocal(&keys)) return false;
    for (uint32_t i = 0; i < keys->Length(); i++) {
      v8::Local<v8::Value> key, child;
      // JSON.parse made only data properties: no getter runs here.
      if (!keys->Get(context, i).ToLocal(&key) || !object->Get(context, key).ToLocal(&child)) {
        return false;
      }
      if (child->IsObject()) pending.push_back(child.As<v8::Object>());
    }
  }
  return true;
}

}  // namespace

HeaderList request_cf_copy(const dispatch_request_view_t &view) {
  HeaderList cf;
  if (view.cf == nullptr) return cf;
  for (size_t i = 0; i < view.ncf; i++) {
    const dispatch_header_t &p = view.cf[i];
    if (!cf_name_valid(p.name) || p.value.len > DISPATCH_CF_VALUE_MAX ||
        (p.value.len && p.value.data == nullptr)) {
      continue;
    }
    std::string name(p.name.data, p.name.len);
    std::string value(p.value.data ? p.value.data : "", p.value.len);
    bool replaced = false;
    for (auto &known : cf) {
      if (known.first == name) {
        known.second = std::move(value);
        replaced = true;
        break;
      }
    }
    if (!replaced && cf.size() < DISPATCH_CF_MAX) cf.emplace_back(std::move(name), std::move(value));
  }
  return cf;
}

v8::MaybeLocal<v8::Value> request_cf_value(v8::Local<v8::Context> context,
                                           const RequestScope &scope) {
  v8::Isolate *isolate = context->GetIsolate();
  v8::Local<v8::Value> cf;
  if (scope.dispatch_call != 0) {
    if (scope.cf_json.empty()) return v8::Undefined(isolate).As<v8::Value>();
    if (!v8::JSON::Parse(context, v8_str(isolate, scope.cf_json)).ToLocal(&cf)) return {};
    if (!freeze_deeply(context, cf)) return {};
  } else if (scope.cf.empty()) {
    // {} made by the built-ins when the script first reads request.cf
    // (request.js): a request that never looks pays nothing for it.
    return v8::Null(isolate).As<v8::Value>();
  } else {
    // Defined, never Set(): no setter a tenant put on Object.prototype runs.
    v8::Local<v8::Object> object = v8::Object::New(isolate);
    for (const auto &p : scope.cf) {
      if (object->CreateDataProperty(context, v8_str(isolate, p.first), v8_str(isolate, p.second))
              .IsNothing()) {
        return {};
      }
    }
    // Its values are strings: freezing the object freezes it all, with no
    // walk over its keys (every request pays this, cf values or not).
    if (object->SetIntegrityLevel(context, v8::IntegrityLevel::kFrozen).IsNothing()) return {};
    cf = object;
  }
  return cf;
}

}  // namespace dispatch
