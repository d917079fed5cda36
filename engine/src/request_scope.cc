#include "request_scope.h"

#include "api/dispatch.h"
#include "api/fetch.h"
#include "tenant_isolate.h"

namespace dispatch {

RequestScope::~RequestScope() { leave_isolate(); }

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
