#include "isolate_entry.h"

namespace dispatch {

namespace {

// The isolate a turn left entered, alone on this thread's entry stack.
thread_local v8::Isolate *t_kept = nullptr;

}  // namespace

IsolateEntry::IsolateEntry(v8::Isolate *isolate, bool keep) {
  v8::Isolate *current = v8::Isolate::TryGetCurrent();
  if (current == isolate) return;  // entered already (kept, or by a caller)
  if (current != nullptr && current == t_kept) {
    // Another tenant's kept isolate: left first, so that it never sits
    // below another on the stack (where it could not be left).
    t_kept->Exit();
    t_kept = nullptr;
    current = nullptr;
  }
  isolate->Enter();
  if (keep && current == nullptr) {
    t_kept = isolate;
  } else {
    isolate_ = isolate;
  }
}

IsolateEntry::~IsolateEntry() {
  if (isolate_ != nullptr) isolate_->Exit();
}

void IsolateEntry::release(v8::Isolate *isolate) {
  if (t_kept != isolate || isolate == nullptr) return;
  // Alone on the stack (above): the current one.
  if (v8::Isolate::TryGetCurrent() == isolate) isolate->Exit();
  t_kept = nullptr;
}

}  // namespace dispatch
