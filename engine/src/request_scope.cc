#include "request_scope.h"

#include "api/dispatch.h"
#include "api/fetch.h"
#include "tenant_isolate.h"

namespace dispatch {

namespace {

// Freed scopes' blocks, for the next requests: as many as requests a
// worker usually has in flight at once; past that, back to malloc.
constexpr size_t kKeptBlocks = 64;

// Trivially destructible, so it outlives every RequestScope however late
// one is freed at exit (what it holds when the thread ends is the
// process's to reclaim).
struct KeptBlocks {
  void *blocks[kKeptBlocks];
  size_t count;
};

thread_local KeptBlocks t_kept;  // zero-initialised

}  // namespace

void *RequestScope::operator new(size_t size) {
  if (size == sizeof(RequestScope) && t_kept.count > 0) return t_kept.blocks[--t_kept.count];
  return ::operator new(size);
}

void RequestScope::operator delete(void *block, size_t size) {
  if (size == sizeof(RequestScope) && t_kept.count < kKeptBlocks) {
    t_kept.blocks[t_kept.count++] = block;
    return;
  }
  ::operator delete(block);
}

RequestScope::~RequestScope() { leave_isolate(); }

bool RequestScope::waiting_on_dispatch() const {
  for (const auto &entry : dispatches) {
    if (entry.second->child != 0) return true;
  }
  return false;
}

void RequestScope::leave_isolate() {
  if (!isolate) return;
  // Off the isolate's list before anything else goes: an isolate that is
  // settling promises never sees a scope halfway torn down. Then the
  // handles into its heap and the timers, and the isolate last.
  isolate->detach(this);
  result.Reset();
  handover.stream.Reset();
  response_stream.handle.Reset();
  response_stream.pending.Reset();
  response_stream.chunk.Reset();
  wait_until.clear();
  io.clear();
  timers.clear();
  isolate.reset();
}

}  // namespace dispatch
