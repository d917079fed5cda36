#include "dynamic_import.h"

#include <string>

#include "tenant_isolate.h"
#include "v8_util.h"

namespace dispatch {

namespace {

// What one import() carries into its microtask and callbacks: a frozen,
// prototype-less list (v8_util.h), so nothing of it reaches tenant code.
enum { kResolver = 0, kSpecifier, kReferrer, kNamespace };

v8::Local<v8::Promise::Resolver> resolver_of(v8::Local<v8::Context> context,
                                             v8::Local<v8::Array> data) {
  return data->Get(context, kResolver).ToLocalChecked().As<v8::Promise::Resolver>();
}

// The module's evaluation (a top-level await) settled.
void on_evaluated(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Local<v8::Context> context = info.GetIsolate()->GetCurrentContext();
  v8::Local<v8::Array> data = info.Data().As<v8::Array>();
  resolver_of(context, data)->Resolve(context, data->Get(context, kNamespace).ToLocalChecked()).IsJust();
}

void on_failed(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Local<v8::Context> context = info.GetIsolate()->GetCurrentContext();
  resolver_of(context, info.Data().As<v8::Array>())->Reject(context, info[0]).IsJust();
}

// compile_module's "No such module" Error, read from its own message
// property: nothing a tenant put on Error.prototype runs.
bool not_found(v8::Local<v8::Context> context, v8::Local<v8::Value> reason) {
  v8::Isolate *isolate = context->GetIsolate();
  v8::Local<v8::Value> message;
  if (!reason->IsNativeError() ||
      !reason.As<v8::Object>()->GetOwnPropertyDescriptor(context, v8_str(isolate, "message"))
           .ToLocal(&message) ||
      !message->IsObject() ||
      !message.As<v8::Object>()->Get(context, v8_str(isolate, "value")).ToLocal(&message) ||
      !message->IsString()) {
    return false;
  }
  return to_std_string(isolate, message).rfind("No such module", 0) == 0;
}

// The microtask: load, link and evaluate, then settle the import's promise.
void load(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  v8::Local<v8::Array> data = info.Data().As<v8::Array>();
  v8::Local<v8::Promise::Resolver> resolver = resolver_of(context, data);
  std::string specifier = to_std_string(isolate, data->Get(context, kSpecifier).ToLocalChecked());
  std::string referrer = to_std_string(isolate, data->Get(context, kReferrer).ToLocalChecked());
  TenantIsolate *self = TenantIsolate::from(isolate);
  if (self->script().format == "service-worker") {
    // A classic script has no modules to import (as on Workers).
    resolver->Reject(context, v8::Exception::TypeError(v8_str(
        isolate, "import(): a service-worker script has no modules; import() needs the "
                 "ES module format"))).IsJust();
    return;
  }

  v8::TryCatch try_catch(isolate);
  v8::Local<v8::Module> module;
  v8::Local<v8::Value> evaluated;
  if (!self->load_module(referrer, specifier).ToLocal(&module) ||
      (module->GetStatus() == v8::Module::kUninstantiated && !self->instantiate(context, module)) ||
      !module->Evaluate(context).ToLocal(&evaluated)) {
    if (try_catch.HasTerminated() || !try_catch.HasCaught()) {
      try_catch.ReThrow();  // a limit stopped it: nothing settles
      return;
    }
    v8::Local<v8::Value> reason = try_catch.Exception();
    if (module.IsEmpty() && !self->has_module(referrer, specifier) && not_found(context, reason)) {
      // Not one of the script's modules, nor anything the resolver knows
      // (whose own refusals, with their reasons, go through as they are).
      reason = v8::Exception::TypeError(v8_str(
          isolate, "import(): no module \"" + specifier + "\" in this script; import() loads "
                   "only the script's own modules, by a relative or absolute path among "
                   "those uploaded"));
    }
    try_catch.Reset();
    resolver->Reject(context, reason).IsJust();
    return;
  }
  if (!evaluated->IsPromise()) {
    resolver->Resolve(context, module->GetModuleNamespace()).IsJust();
    return;
  }
  v8::Local<v8::Promise> done = evaluated.As<v8::Promise>();
  switch (done->State()) {
    case v8::Promise::kFulfilled:
      resolver->Resolve(context, module->GetModuleNamespace()).IsJust();
      return;
    case v8::Promise::kRejected:
      done->MarkAsHandled();
      resolver->Reject(context, done->Result()).IsJust();
      return;
    case v8::Promise::kPending: {
      // Its top level awaits: the import settles when it is done.
      v8::Local<v8::Value> items[] = {resolver, v8::Undefined(isolate), v8::Undefined(isolate),
                                      module->GetModuleNamespace()};
      v8::Local<v8::Array> settle = frozen_list(context, items, 4);
      v8::Local<v8::Function> fulfilled, rejected;
      // then() looks up the promise's constructor (its species): with no
      // prototype there is none, and no getter a tenant put on
      // Promise.prototype sees this promise.
      if (done->SetPrototype(context, v8::Null(isolate)).IsNothing() ||
          !v8::Function::New(context, on_evaluated, settle).ToLocal(&fulfilled) ||
          !v8::Function::New(context, on_failed, settle).ToLocal(&rejected) ||
          done->Then(context, fulfilled, rejected).IsEmpty()) {
        if (try_catch.HasTerminated()) try_catch.ReThrow();
      }
      return;
    }
  }
}

}  // namespace

v8::MaybeLocal<v8::Promise> import_dynamically(v8::Local<v8::Context> context,
                                               v8::Local<v8::Data>,
                                               v8::Local<v8::Value> resource_name,
                                               v8::Local<v8::String> specifier,
                                               v8::Local<v8::FixedArray>) {
  v8::Isolate *isolate = context->GetIsolate();
  v8::Local<v8::Promise::Resolver> resolver;
  if (!v8::Promise::Resolver::New(context).ToLocal(&resolver)) return {};
  if (specifier->Length() > kMaxModuleSpecifier) {
    // Refused before it is flattened or copied: resolving a 128M-character
    // specifier (a rope of a few doublings) held the worker past the hang
    // timeout.
    resolver->Reject(context, v8::Exception::TypeError(v8_str(
        isolate, "import(): a module specifier is at most " +
                 std::to_string(kMaxModuleSpecifier) + " characters"))).IsJust();
    return resolver->GetPromise();
  }
  // The referrer is the module (or service-worker script) that called
  // import(): its path is the name it was compiled under.
  v8::Local<v8::Value> referrer =
      resource_name->IsString() ? resource_name : v8_str(isolate, std::string()).As<v8::Value>();
  v8::Local<v8::Value> items[] = {resolver, specifier, referrer};
  v8::Local<v8::Function> task;
  if (!v8::Function::New(context, load, frozen_list(context, items, 3)).ToLocal(&task)) return {};
  isolate->EnqueueMicrotask(task);
  return resolver->GetPromise();
}

}  // namespace dispatch
