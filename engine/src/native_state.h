// native_state.h: state that a native API keeps for a built-in between calls
// (a zlib stream, a digest in progress), reached from JavaScript through an
// opaque handle object.
//
// The handle is an ordinary object carrying a private symbol (which no
// script can read, write or forge) that points at its entry here. The state
// is freed at the first of: the built-in freeing it (a stream closed,
// cancelled or errored), its handle being collected (a tenant that abandons
// a stream mid-way), the isolate going. Every native that takes a handle
// checks it is a live handle of the kind it expects, as if a tenant had
// made the call.
#pragma once

#include <v8.h>

#include <memory>
#include <unordered_set>

namespace dispatch {

class NativeState {
 public:
  // kind: a string with static storage that tells one native's states from
  // another's; compared by address.
  explicit NativeState(const char *kind) : kind_(kind) {}
  virtual ~NativeState() = default;
  NativeState(const NativeState &) = delete;
  NativeState &operator=(const NativeState &) = delete;
  const char *kind() const { return kind_; }

 private:
  const char *kind_;
};

// One per isolate (TenantIsolate owns it).
class NativeStates {
 public:
  NativeStates() = default;
  ~NativeStates() { clear(); }
  NativeStates(const NativeStates &) = delete;
  NativeStates &operator=(const NativeStates &) = delete;

  // A new handle object for state, which this registry now owns.
  v8::Local<v8::Object> wrap(v8::Isolate *isolate, std::unique_ptr<NativeState> state);
  // Frees every state: before the isolate is disposed.
  void clear();
  size_t live() const { return live_; }

  // The live state of kind behind handle, or null (not a handle, another
  // kind, already freed).
  static NativeState *unwrap(v8::Isolate *isolate, v8::Local<v8::Value> handle, const char *kind);
  template <typename T>
  static T *unwrap(v8::Isolate *isolate, v8::Local<v8::Value> handle) {
    return static_cast<T *>(unwrap(isolate, handle, T::kKind));
  }
  // Frees the state behind handle now, whatever its kind; nothing for
  // anything else. The handle stays, dead, until it is collected.
  static void release(v8::Isolate *isolate, v8::Local<v8::Value> handle);

 private:
  struct Entry {
    NativeStates *owner;
    std::unique_ptr<NativeState> state;
    v8::Global<v8::Object> handle;
  };
  static Entry *entry_of(v8::Isolate *isolate, v8::Local<v8::Value> handle);
  static void on_collected(const v8::WeakCallbackInfo<Entry> &info);
  void drop_state(Entry *entry);

  std::unordered_set<Entry *> entries_;
  size_t live_ = 0;  // entries whose state is not freed yet
};

// The registry of the isolate (TenantIsolate's).
NativeStates &native_states(v8::Isolate *isolate);

// Adds native.freeNative(handle) (NativeStates::release) to the built-ins' `native`.
void install_native_state_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native);

}  // namespace dispatch
