#include "response_output.h"

#include <strings.h>

#include "v8_util.h"

namespace dispatch {

namespace {

bool tchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

// RFC 9110 reason-phrase: HTAB, SP, VCHAR, obs-text.
bool reason_phrase(const std::string &s) {
  for (unsigned char c : s) {
    if (c != '\t' && (c < 0x20 || c == 0x7f)) return false;
  }
  return true;
}

// A JavaScript string whose characters are all bytes, as bytes; false for
// anything else (no conversion runs tenant code).
bool byte_string(v8::Isolate *isolate, v8::Local<v8::Value> value, size_t max,
                 std::string *out) {
  if (value.IsEmpty() || !value->IsString()) return false;
  v8::Local<v8::String> s = value.As<v8::String>();
  if (size_t(s->Length()) > max || !s->ContainsOnlyOneByte()) return false;
  out->resize(size_t(s->Length()));
  s->WriteOneByte(isolate, reinterpret_cast<uint8_t *>(out->data()), 0, s->Length(),
                  v8::String::NO_NULL_TERMINATION);
  return true;
}

}  // namespace

bool http_token(const std::string &s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (!tchar(c)) return false;
  }
  return true;
}

bool http_field_value(const std::string &s) {
  for (unsigned char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

bool hop_by_hop_header(const std::string &name) {
  static const char *const kNames[] = {"connection", "keep-alive", "upgrade", "te",
                                       "trailer", "transfer-encoding", "content-length"};
  for (const char *n : kNames) {
    if (strcasecmp(name.c_str(), n) == 0) return true;
  }
  return name.size() >= 6 && strncasecmp(name.c_str(), "proxy-", 6) == 0;
}

bool read_response_output(v8::Local<v8::Context> context, v8::Local<v8::Value> output,
                          ResponseOutput *out, std::string *why) {
  v8::Isolate *isolate = context->GetIsolate();
  if (!output->IsArray() || output.As<v8::Array>()->Length() != 7) {
    *why = "the built-ins produced no response";
    return false;
  }
  v8::Local<v8::Array> parts = output.As<v8::Array>();
  v8::Local<v8::Value> status, status_text, headers, body;
  if (!parts->Get(context, 0).ToLocal(&status) || !parts->Get(context, 1).ToLocal(&status_text) ||
      !parts->Get(context, 2).ToLocal(&headers) || !parts->Get(context, 3).ToLocal(&body)) {
    *why = "reading the response threw";
    return false;
  }

  if (!status->IsInt32() || status.As<v8::Int32>()->Value() < 200 ||
      status.As<v8::Int32>()->Value() > 599) {
    *why = "the response status is not an integer from 200 to 599";
    return false;
  }
  out->status = status.As<v8::Int32>()->Value();
  if (!byte_string(isolate, status_text, 1024, &out->status_text) ||
      !reason_phrase(out->status_text)) {
    out->status_text.clear();  // the host sends the status's own phrase
  }

  if (!headers->IsArray()) {
    *why = "the response headers are not a list";
    return false;
  }
  v8::Local<v8::Array> list = headers.As<v8::Array>();
  uint32_t n = list->Length();
  if (n % 2 != 0 || n / 2 > kMaxResponseHeaderBytes / 4) {
    *why = "the response header list is malformed";
    return false;
  }
  size_t total = 0;
  out->headers.clear();
  for (uint32_t i = 0; i < n; i += 2) {
    v8::Local<v8::Value> name, value;
    std::string name_bytes, value_bytes;
    if (!list->Get(context, i).ToLocal(&name) || !list->Get(context, i + 1).ToLocal(&value)) {
      *why = "reading the response headers threw";
      return false;
    }
    if (!byte_string(isolate, name, kMaxResponseHeaderBytes, &name_bytes) ||
        !http_token(name_bytes)) {
      *why = "a response header name is not an HTTP token";
      return false;
    }
    if (!byte_string(isolate, value, kMaxResponseHeaderBytes, &value_bytes) ||
        !http_field_value(value_bytes)) {
      *why = "response header \"" + name_bytes + "\" has a value HTTP does not allow";
      return false;
    }
    total += name_bytes.size() + value_bytes.size() + 4;
    if (total > kMaxResponseHeaderBytes) {
      *why = "the response headers exceed " + std::to_string(kMaxResponseHeaderBytes >> 10) +
             " KiB";
      return false;
    }
    if (hop_by_hop_header(name_bytes)) continue;
    out->headers.emplace_back(std::move(name_bytes), std::move(value_bytes));
  }

  out->body.clear();
  v8::Local<v8::Value> stream, length, passthrough;
  if (!parts->Get(context, 4).ToLocal(&stream) || !parts->Get(context, 5).ToLocal(&length) ||
      !parts->Get(context, 6).ToLocal(&passthrough)) {
    *why = "reading the response threw";
    return false;
  }
  if (stream->IsArray()) {
    if (!body->IsNull()) {
      *why = "the response body is both bytes and a stream";
      return false;
    }
    out->stream = stream.As<v8::Object>();
    double n = length->IsNumber() ? length.As<v8::Number>()->Value() : -1;
    out->length = n >= 0 && n <= 9007199254740991.0 ? int64_t(n) : -1;
    double id = passthrough->IsNumber() ? passthrough.As<v8::Number>()->Value() : 0;
    out->passthrough = id >= 1 && id <= 9007199254740991.0 ? uint64_t(id) : 0;
    return true;
  }
  if (!stream->IsNull()) {
    *why = "the response body stream is malformed";
    return false;
  }
  if (body->IsArrayBufferView()) {
    auto view = body.As<v8::ArrayBufferView>();
    out->body.resize(view->ByteLength());
    if (!out->body.empty()) view->CopyContents(out->body.data(), out->body.size());
  } else if (!body->IsNull()) {
    *why = "the response body is neither bytes nor null";
    return false;
  }
  return true;
}

}  // namespace dispatch
