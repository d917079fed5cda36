// response_output.h: what a script's Response became, read as hostile input.
//
// The built-ins hand the handler's Response over in one native call,
// native.respond(id, status, statusText, headers, count, bytes, handle,
// length, passthrough): `headers` is one string of `count` names and
// values, each ended by a NUL; `bytes` a Uint8Array or null; for a body
// the script produces as a stream, `handle` is the built-ins' frozen
// [stream, reader] (else null), `length` its fixed length or -1 and
// `passthrough` the id of the request whose body it is, passed through
// unchanged (else 0). They run in the tenant's context, so a tenant that
// tampered with intrinsics could make those anything: this is the one
// place that reads them, and it accepts only what HTTP allows. Arguments
// are read, never properties: no getter runs, and nothing is converted
// through JavaScript. The request keeps what was handed over in its scope
// (the headers as that one block, viewed in place until the host copies
// them) and takes it after the turn's microtasks (TenantIsolate::turn).
#pragma once

#include <v8.h>

#include <string>

#include "request_scope.h"

namespace dispatch {

// Response headers a script may send, all together (names and values).
constexpr size_t kMaxResponseHeaderBytes = 128u << 10;

// native.respond, on the built-ins' `native` object. A response that is
// not sendable is kept as a reason (scope.handover.error): a status
// outside 200-599, a header name that is not an HTTP token, a value with
// CR, LF or NUL, a character above U+00FF, too many header bytes.
// Hop-by-hop headers (Connection, Keep-Alive, Upgrade, TE, Trailer,
// Transfer-Encoding, Proxy-*) and Content-Length (the host frames the body)
// are left out, not refused. A status text that is not a valid reason
// phrase is dropped.
void install_response_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native);

}  // namespace dispatch
