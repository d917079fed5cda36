#include "api/console.h"

#include <cstring>

#include "tenant_isolate.h"
#include "v8_util.h"

namespace dispatch {

namespace {

constexpr size_t kMaxLineBytes = 4096;

void native_log(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  TenantIsolate *tenant = TenantIsolate::from(isolate);
  if (tenant == nullptr || info.Length() < 2) return;

  std::string level = to_std_string(isolate, info[0]);
  dispatch_log_level_e l = DISPATCH_LOG_INFO;
  if (level == "error") l = DISPATCH_LOG_ERR;
  else if (level == "warn") l = DISPATCH_LOG_WARN;
  else if (level == "debug") l = DISPATCH_LOG_DEBUG;

  // One line of nginx's log holds 2 KiB at most; more is never copied.
  std::string text = info[1]->IsString() ? to_log_string(isolate, info[1], kMaxLineBytes) : "";
  if (!tenant->admit_log_line(text.size())) return;  // counted, not written
  tenant->log(l, "console: " + text);
}

}  // namespace

void install_console_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native) {
  v8::Isolate *isolate = context->GetIsolate();
  native->Set(context, v8_str(isolate, "log"),
              native_function(context, native_log)).Check();
}

}  // namespace dispatch
