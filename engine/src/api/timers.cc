#include "api/timers.h"

#include <cmath>

#include "tenant_isolate.h"
#include "v8_util.h"

namespace dispatch {

namespace {

void set_timer(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  TenantIsolate *tenant = TenantIsolate::from(isolate);
  if (info.Length() < 3 || !info[0]->IsFunction() || !info[1]->IsNumber()) {
    isolate->ThrowException(v8::Exception::TypeError(
        v8_str(isolate, "setTimer(callback, delay, repeat)")));
    return;
  }
  // At most setTimeout's 2^31 - 1 ms, whoever asks (an EventSource's
  // `retry`, sent by an upstream): 1e20 ms cast to an integer is undefined,
  // and here it came out as a timer that fired at once, so a `retry` of
  // 99999999999999999999 reconnected in a loop until the CPU limit.
  constexpr double kMaxDelayMs = 2147483647.0;
  double delay = info[1].As<v8::Number>()->Value();
  if (!std::isfinite(delay) || delay < 0) delay = 0;
  if (delay > kMaxDelayMs) delay = kMaxDelayMs;
  std::string err;
  uint64_t id = tenant->set_timer(info[0].As<v8::Function>(), uint64_t(delay),
                                  info[2]->BooleanValue(isolate), &err);
  if (id == 0) {
    isolate->ThrowException(v8::Exception::Error(v8_str(isolate, err)));
    return;
  }
  info.GetReturnValue().Set(v8::Number::New(isolate, double(id)));
}

void clear_timer(const v8::FunctionCallbackInfo<v8::Value> &info) {
  if (info.Length() < 1 || !info[0]->IsNumber()) return;
  TenantIsolate::from(info.GetIsolate())
      ->clear_timer(uint64_t(info[0].As<v8::Number>()->Value()));
}

// timerPending(id): whether the current request's timer id is still to
// fire (a timer of a request that ended never will).
void timer_pending(const v8::FunctionCallbackInfo<v8::Value> &info) {
  bool pending = info.Length() >= 1 && info[0]->IsNumber() &&
                 TenantIsolate::from(info.GetIsolate())
                     ->timer_pending(uint64_t(info[0].As<v8::Number>()->Value()));
  info.GetReturnValue().Set(pending);
}

}  // namespace

void install_timer_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native) {
  v8::Isolate *isolate = context->GetIsolate();
  native->Set(context, v8_str(isolate, "setTimer"),
              native_function(context, set_timer)).Check();
  native->Set(context, v8_str(isolate, "clearTimer"),
              native_function(context, clear_timer)).Check();
  native->Set(context, v8_str(isolate, "timerPending"),
              native_function(context, timer_pending)).Check();
}

}  // namespace dispatch
