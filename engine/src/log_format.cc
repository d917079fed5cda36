#include "log_format.h"

namespace dispatch {

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one
// (overlong forms, surrogates and code points past U+10FFFF are not).
size_t utf8_sequence(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  size_t n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) { n = 2; cp = c & 0x1f; }
  else if (c >= 0xe0 && c <= 0xef) { n = 3; cp = c & 0x0f; }
  else if (c >= 0xf0 && c <= 0xf4) { n = 4; cp = c & 0x07; }
  else return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; k++) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3f);
  }
  if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
      (n == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
    return 0;
  }
  return n;
}

void append_field(std::string *out, const char *name, std::string_view value, size_t budget) {
  *out += ",\"";
  *out += name;
  *out += "\":\"";
  json_escape_append(out, value, budget);
  *out += '"';
}

std::string_view or_empty(const std::string *value) {
  return value != nullptr ? std::string_view(*value) : std::string_view();
}

}  // namespace

bool json_escape_append(std::string *out, std::string_view s, size_t budget) {
  static const char hex[] = "0123456789abcdef";
  size_t start = out->size();
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = utf8_sequence(s, i);
    const char *piece = nullptr;
    char esc[8];
    size_t len = 0;
    if (n == 0) {
      piece = "\\ufffd";
      len = 6;
      n = 1;
    } else if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = char(c);
      piece = esc;
      len = 2;
    } else if (c == '\n') {
      piece = "\\n";
      len = 2;
    } else if (c == '\r') {
      piece = "\\r";
      len = 2;
    } else if (c == '\t') {
      piece = "\\t";
      len = 2;
    } else if (c < 0x20 || c == 0x7f) {
      esc[0] = '\\';
      esc[1] = 'u';
      esc[2] = '0';
      esc[3] = '0';
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 15];
      piece = esc;
      len = 6;
    } else {
      piece = s.data() + i;
      len = n;
    }
    if (out->size() - start + len > budget) return false;
    out->append(piece, len);
    i += n;
  }
  return true;
}

const char *log_level_name(dispatch_log_level_e level) {
  switch (level) {
    case DISPATCH_LOG_ERR: return "error";
    case DISPATCH_LOG_WARN: return "warn";
    case DISPATCH_LOG_NOTICE: return "notice";
    case DISPATCH_LOG_INFO: return "info";
    case DISPATCH_LOG_DEBUG: return "debug";
  }
  return "error";
}

std::string json_log_line(const LogRecord &r) {
  std::string out;
  out.reserve(256);
  out += "{\"level\":\"";
  out += log_level_name(r.level);
  out += '"';
  // Names are short (1-63 of a-z 0-9 - _); the client and the request line
  // are bounded so that the message keeps most of the line.
  append_field(&out, "namespace", or_empty(r.ns), 64);
  append_field(&out, "script", or_empty(r.script), 64);
  append_field(&out, "request_id", or_empty(r.request_id), 64);
  append_field(&out, "client", r.client, 64);
  append_field(&out, "request", r.request_line, 256);
  size_t used = out.size() + 32;  // ,"message":"" ,"truncated":true}
  size_t budget = used < kJsonLogLineBytes ? kJsonLogLineBytes - used : 0;
  out += ",\"message\":\"";
  bool whole = r.message == nullptr || json_escape_append(&out, *r.message, budget);
  out += '"';
  if (!whole) out += ",\"truncated\":true";
  out += '}';
  return out;
}

}  // namespace dispatch
