#include "native_state.h"

#include "tenant_isolate.h"
#include "v8_util.h"

namespace dispatch {

namespace {
v8::Local<v8::Private> handle_key(v8::Isolate *isolate) {
  return v8::Private::ForApi(isolate, v8_str(isolate, "dispatch:native-state"));
}
}  // namespace

NativeStates &native_states(v8::Isolate *isolate) {
  return TenantIsolate::from(isolate)->native_states();
}

v8::Local<v8::Object> NativeStates::wrap(v8::Isolate *isolate,
                                         std::unique_ptr<NativeState> state) {
  v8::EscapableHandleScope scope(isolate);
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  v8::Local<v8::Object> handle = v8::Object::New(isolate, v8::Null(isolate), nullptr, nullptr, 0);
  auto *entry = new Entry{this, std::move(state), {}};
  handle->SetPrivate(context, handle_key(isolate), v8::External::New(isolate, entry)).Check();
  entry->handle.Reset(isolate, handle);
  entry->handle.SetWeak(entry, &NativeStates::on_collected, v8::WeakCallbackType::kParameter);
  entries_.insert(entry);
  live_++;
  return scope.Escape(handle);
}

void NativeStates::drop_state(Entry *entry) {
  if (!entry->state) return;
  entry->state.reset();
  live_--;
}

// First-pass weak callback: only the state's own (non-V8) resources are freed.
void NativeStates::on_collected(const v8::WeakCallbackInfo<Entry> &info) {
  Entry *entry = info.GetParameter();
  NativeStates *self = entry->owner;
  entry->handle.Reset();
  self->drop_state(entry);
  self->entries_.erase(entry);
  delete entry;
}

void NativeStates::clear() {
  for (Entry *entry : entries_) {
    entry->handle.Reset();
    drop_state(entry);
    delete entry;
  }
  entries_.clear();
}

NativeStates::Entry *NativeStates::entry_of(v8::Isolate *isolate, v8::Local<v8::Value> handle) {
  if (handle.IsEmpty() || !handle->IsObject() || handle->IsProxy()) return nullptr;
  v8::Local<v8::Value> slot;
  if (!handle.As<v8::Object>()->GetPrivate(isolate->GetCurrentContext(), handle_key(isolate))
           .ToLocal(&slot) ||
      !slot->IsExternal()) {
    return nullptr;
  }
  return static_cast<Entry *>(slot.As<v8::External>()->Value());
}

NativeState *NativeStates::unwrap(v8::Isolate *isolate, v8::Local<v8::Value> handle,
                                  const char *kind) {
  Entry *entry = entry_of(isolate, handle);
  if (entry == nullptr || !entry->state || entry->state->kind() != kind) return nullptr;
  return entry->state.get();
}

void NativeStates::release(v8::Isolate *isolate, v8::Local<v8::Value> handle) {
  if (Entry *entry = entry_of(isolate, handle)) entry->owner->drop_state(entry);
}

void install_native_state_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native) {
  set_function(context, native, "freeNative", [](const v8::FunctionCallbackInfo<v8::Value> &info) {
    if (info.Length() >= 1) NativeStates::release(info.GetIsolate(), info[0]);
  });
}

}  // namespace dispatch
