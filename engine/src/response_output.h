// response_output.h: what a script's Response became, read as hostile input.
//
// The built-ins turn the handler's Response into
// [status, statusText, [name, value, ...], Uint8Array or null, body, length,
// request id], where for a body the script produces as a stream `body` is
// the built-ins' [stream, reader] (else null), `length` its fixed length or
// -1, and `request id` that of the request whose body it is, passed
// through unchanged (else 0). They run in
// the tenant's context, so a tenant that tampered with intrinsics can make
// that array anything: this is the one place that reads it, and it accepts
// only what HTTP allows. No value is converted through JavaScript (no
// ToString on objects); a getter the tenant planted may still run while an
// element is read, so the caller reads it under the request's CPU budget.
#pragma once

#include <v8.h>

#include <string>

#include "request_scope.h"

namespace dispatch {

struct ResponseOutput {
  int status = 0;
  std::string status_text;
  HeaderList headers;
  std::string body;
  // A streamed body: the built-ins' [stream, reader]; empty for bytes.
  v8::Local<v8::Object> stream;
  int64_t length = -1;
  uint64_t passthrough = 0;
};

// Response headers a script may send, all together (names and values).
constexpr size_t kMaxResponseHeaderBytes = 128u << 10;

// False, with the reason in *why, for anything that is not a sendable
// response: a status outside 200-599, a header name that is not an HTTP
// token, a value with CR, LF or NUL, a character above U+00FF, too many
// header bytes. Hop-by-hop headers (Connection, Keep-Alive, Upgrade, TE,
// Trailer, Transfer-Encoding, Proxy-*) and Content-Length (the host frames
// the body) are left out, not refused. A status text that is not a valid
// reason phrase is dropped.
bool read_response_output(v8::Local<v8::Context> context, v8::Local<v8::Value> output,
                          ResponseOutput *out, std::string *why);

bool http_token(const std::string &s);
bool http_field_value(const std::string &s);
bool hop_by_hop_header(const std::string &name);

}  // namespace dispatch
