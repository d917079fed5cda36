#include "isolate_entry.h"

namespace dispatch {

namespace {

// The isolate a turn left entered, alone on this thread's entry stack.
thread_local v8::Isolate *t_kept = nullptr;
// Turns running now (for_turn entries alive): while one runs, the isolate
// it runs on is never left under it, whatever else is entered meanwhile.
thread_local int t_turns = 0;

}  // namespace

IsolateEntry::IsolateEntry(v8::Isolate *isolate, bool keep) : turn_(keep) {
  if (turn_) t_turns++;
  v8::Isolate *current = v8::Isolate::TryGetCurrent();
  if (current == isolate) return;  // entered already (kept, or by a caller)
  // (keep && t_turns == 1: no other turn runs, on the kept isolate or any)
  if (current != nullptr && current == t_kept && t_turns == (turn_ ? 1 : 0)) {
    // Another tenant's kept isolate: left first, so that it never sits
    // below another on the stack (where it could not be left).
    t_kept->Exit();
    t_kept = nullptr;
    current = nullptr;
  }
  isolate->Enter();
  if (keep && current == nullptr && t_turns == 1) {
    t_kept = isolate;
  } else {
    isolate_ = isolate;
  }
}

IsolateEntry::~IsolateEntry() {
  if (isolate_ != nullptr) isolate_->Exit();
  if (turn_) t_turns--;
}

void IsolateEntry::release(v8::Isolate *isolate) {
  if (t_kept != isolate || isolate == nullptr) return;
  // Alone on the stack (above): the current one.
  if (v8::Isolate::TryGetCurrent() == isolate) isolate->Exit();
  t_kept = nullptr;
}

}  // namespace dispatch
