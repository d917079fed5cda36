// request_cf.h: request.cf, as Cloudflare's: a frozen plain object of what
// the platform knows about the client. nginx fills it from
// dispatch_request_cf (names and string values); a request one script
// dispatches to another carries its caller's Request's cf, as JSON, as a
// service binding does on Workers.
#pragma once

#include <v8.h>

#include <string>

#include "dispatch_engine.h"
#include "request_scope.h"

namespace dispatch {

// The view's cf pairs that keep the header's bounds (DISPATCH_CF_*), the
// last of a name winning; the rest is left out.
HeaderList request_cf_copy(const dispatch_request_view_t &view);

// request.cf for the scope's request: an object for a request from the
// host (null when nothing is configured: the built-ins make the empty
// object when a script first reads it), what the caller's JSON gives for a
// dispatched one (undefined when it gave none). Frozen, deeply.
v8::MaybeLocal<v8::Value> request_cf_value(v8::Local<v8::Context> context,
                                           const RequestScope &scope);

}  // namespace dispatch
