// isolate_entry.h: entering isolates on the event-loop thread.
//
// Entering an isolate that is not the thread's current one costs V8 a
// lookup of the thread's data under a mutex, a heap block for the entry and
// thread-local writes (~600 instructions), and leaving it ~200: on every
// turn. So a turn leaves its isolate entered (the thread's kept isolate),
// and the next turn on the same isolate enters nothing. Every other entry
// goes through IsolateEntry, which first leaves a kept isolate of another
// tenant, unless a turn runs on it now (then the new entry nests above it,
// as v8::Isolate::Scope would, and is left again): the kept isolate is only
// ever alone on the thread's entry stack once no turn runs, so it can
// always be left, and it is left before it is disposed
// (IsolateEntry::release). Event-loop thread only.
#pragma once

#include <v8.h>

namespace dispatch {

class IsolateEntry {
 public:
  // Enters isolate for this object's life (nothing when it is the thread's
  // current isolate already).
  explicit IsolateEntry(v8::Isolate *isolate) : IsolateEntry(isolate, false) {}
  // For a turn: the isolate stays entered afterwards, the thread's kept
  // isolate, unless another one was entered when the turn began.
  static IsolateEntry for_turn(v8::Isolate *isolate) { return IsolateEntry(isolate, true); }
  ~IsolateEntry();
  IsolateEntry(IsolateEntry &&other) noexcept : isolate_(other.isolate_), turn_(other.turn_) {
    other.isolate_ = nullptr;
    other.turn_ = false;
  }
  IsolateEntry(const IsolateEntry &) = delete;
  IsolateEntry &operator=(const IsolateEntry &) = delete;
  IsolateEntry &operator=(IsolateEntry &&) = delete;

  // Before isolate is disposed: left if it is the kept one.
  static void release(v8::Isolate *isolate);

 private:
  IsolateEntry(v8::Isolate *isolate, bool keep);
  v8::Isolate *isolate_ = nullptr;  // to leave on destruction, or null
  bool turn_ = false;               // counted in the turns running
};

}  // namespace dispatch
