#include "request_scope.h"

#include "tenant_isolate.h"

namespace dispatch {

RequestScope::~RequestScope() {
  // Off the isolate's list before anything else goes: an isolate that is
  // settling promises never sees a scope halfway torn down.
  if (isolate) isolate->detach(this);
  // Handles into the heap, then the timers; the isolate is released last
  // (member order), and disposed here if this was its last request.
  result.Reset();
  wait_until.clear();
  io.clear();
  timers.clear();
}

}  // namespace dispatch
