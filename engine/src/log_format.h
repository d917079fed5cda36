// log_format.h: a script's log line as one JSON object
// (dispatch_log_format json), for platforms that ship tenants' logs to the
// tenants. Whatever bytes a tenant logs (quotes, newlines, control bytes,
// invalid UTF-8), the result is one line of valid JSON that fits one line
// of nginx's error log.
#pragma once

#include <string>
#include <string_view>

#include "dispatch_engine.h"

namespace dispatch {

struct LogRecord {
  dispatch_log_level_e level = DISPATCH_LOG_INFO;
  const std::string *ns = nullptr;
  const std::string *script = nullptr;
  const std::string *message = nullptr;
  const std::string *request_id = nullptr;  // may be null or empty
  std::string_view client;
  std::string_view request_line;
};

// nginx writes at most 2048 bytes a line, its own prefix included: the
// message is cut (at a character) so that the object stays whole.
constexpr size_t kJsonLogLineBytes = 1800;

std::string json_log_line(const LogRecord &record);

// Appends s as the body of a JSON string (no quotes): ", \ and control
// characters escaped, invalid UTF-8 replaced by U+FFFD; stops before
// `budget` bytes would be exceeded (returns false then).
bool json_escape_append(std::string *out, std::string_view s, size_t budget);

const char *log_level_name(dispatch_log_level_e level);

}  // namespace dispatch
