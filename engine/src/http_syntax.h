// http_syntax.h: RFC 9110's token, the one check both directions use: the
// names of the headers a script sends (response_output.cc) and of those an
// upstream answers fetch() with (fetch_client.cc).
#pragma once

#include <cstddef>

namespace dispatch {

inline bool http_tchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

inline bool http_token(const char *s, size_t len) {
  if (len == 0) return false;
  for (size_t i = 0; i < len; i++) {
    if (!http_tchar(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

}  // namespace dispatch
