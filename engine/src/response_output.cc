#include "response_output.h"

#include <strings.h>

#include <cstring>
#include <string_view>

#include "engine.h"
#include "http_syntax.h"
#include "tenant_isolate.h"
#include "v8_util.h"

namespace dispatch {

namespace {

// A NUL cannot be in a field here: it ends one (see read_headers).
bool http_field_value(const char *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '\r' || s[i] == '\n') return false;
  }
  return true;
}

bool hop_by_hop_header(const char *name, size_t len) {
  static const char *const kNames[] = {"connection", "keep-alive", "upgrade", "te",
                                       "trailer", "transfer-encoding", "content-length"};
  for (const char *n : kNames) {
    if (len == strlen(n) && strncasecmp(name, n, len) == 0) return true;
  }
  return len >= 6 && strncasecmp(name, "proxy-", 6) == 0;
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

// The lists the built-ins send when a Response's headers were never read
// or set, only its body's type (prelude.js: RESPONSE_TEXT_HEADER and
// RESPONSE_JSON_HEADER): recognised by their bytes and viewed in place, in
// static storage, with no copy of the block and no parse per response.
struct KnownList {
  std::string_view text;  // as handed over: name NUL value NUL
  dispatch_header_t view;
};
constexpr char kTextList[] = "content-type\0text/plain;charset=UTF-8\0";
constexpr char kJsonList[] = "content-type\0application/json\0";
const KnownList kKnownLists[] = {
    {{kTextList, sizeof(kTextList) - 1}, {{kTextList, 12}, {kTextList + 13, sizeof(kTextList) - 15}}},
    {{kJsonList, sizeof(kJsonList) - 1}, {{kJsonList, 12}, {kJsonList + 13, sizeof(kJsonList) - 15}}},
};

// One of kKnownLists, or null. A string of one-byte representation only:
// WriteOneByte would keep just the low byte of a wider character.
const KnownList *known_list(v8::Isolate *isolate, v8::Local<v8::String> text, uint32_t count) {
  if (count != 1 || !text->IsOneByte()) return nullptr;
  size_t len = size_t(text->Length());
  for (const KnownList &known : kKnownLists) {
    if (len != known.text.size()) continue;
    char buf[64];
    static_assert(sizeof(kTextList) <= sizeof(buf) && sizeof(kJsonList) <= sizeof(buf));
    text->WriteOneByte(isolate, reinterpret_cast<uint8_t *>(buf), 0, int(len),
                       v8::String::NO_NULL_TERMINATION);
    if (memcmp(buf, known.text.data(), len) == 0) return &known;
  }
  return nullptr;
}

// The block of `count` NUL-ended names and values, kept whole in
// scope.response_header_block; the views the host reads point into it and
// leave out hop-by-hop headers. Exactly 2 * count NULs, the last byte one:
// a NUL inside a name or value would make the count come out wrong.
bool read_headers(v8::Isolate *isolate, v8::Local<v8::Value> text, v8::Local<v8::Value> count,
                  RequestScope &scope, std::string *why) {
  if (!count->IsUint32() || !text->IsString()) {
    *why = "the response header list is malformed";
    return false;
  }
  uint32_t n = count.As<v8::Uint32>()->Value();
  std::string &block = scope.response_header_block;
  if (const KnownList *known = known_list(isolate, text.As<v8::String>(), n)) {
    block.clear();
    scope.header_views.assign(1, known->view);
    return true;
  }
  if (size_t(text.As<v8::String>()->Length()) + 2 * size_t(n) > kMaxResponseHeaderBytes) {
    *why = "the response headers exceed " + std::to_string(kMaxResponseHeaderBytes >> 10) + " KiB";
    return false;
  }
  if (!byte_string(isolate, text, kMaxResponseHeaderBytes, &block)) {
    *why = "a response header has a value HTTP does not allow";
    return false;
  }
  scope.header_views.clear();
  scope.header_views.reserve(n);
  const char *p = block.data();
  const char *end = p + block.size();
  for (uint32_t i = 0; i < n; i++) {
    const char *name_end = static_cast<const char *>(memchr(p, '\0', size_t(end - p)));
    const char *value = name_end ? name_end + 1 : nullptr;
    const char *value_end =
        value ? static_cast<const char *>(memchr(value, '\0', size_t(end - value))) : nullptr;
    if (value_end == nullptr) {
      *why = "the response header list is malformed";
      return false;
    }
    size_t name_len = size_t(name_end - p);
    size_t value_len = size_t(value_end - value);
    if (!http_token(p, name_len)) {
      *why = "a response header name is not an HTTP token";
      return false;
    }
    if (!http_field_value(value, value_len)) {
      *why = "response header \"" + std::string(p, name_len) + "\" has a value HTTP does not allow";
      return false;
    }
    if (!hop_by_hop_header(p, name_len)) {
      scope.header_views.push_back({{p, name_len}, {value, value_len}});
    }
    p = value_end + 1;
  }
  if (p != end) {
    *why = "the response header list is malformed";
    return false;
  }
  return true;
}

bool read_handover(v8::Isolate *isolate, const v8::FunctionCallbackInfo<v8::Value> &info,
                   RequestScope &scope, std::string *why) {
  v8::Local<v8::Value> status = info[1];
  // 101: a WebSocket's (native.wsAttach made its session first, or
  // native.wsAdopt linked a dispatched script's).
  if (!status->IsInt32() || ((status.As<v8::Int32>()->Value() < 200 ||
                              status.As<v8::Int32>()->Value() > 599) &&
                             !(status.As<v8::Int32>()->Value() == 101 &&
                               (scope.ws || scope.ws_via)))) {
    *why = "the response status is not an integer from 200 to 599";
    return false;
  }
  scope.status = status.As<v8::Int32>()->Value();
  if (!byte_string(isolate, info[2], 1024, &scope.status_text) ||
      !reason_phrase(scope.status_text)) {
    scope.status_text.clear();  // the host sends the status's own phrase
  }
  if (!read_headers(isolate, info[3], info[4], scope, why)) return false;

  v8::Local<v8::Value> body = info[5];
  v8::Local<v8::Value> stream = info[6];
  RequestScope::Handover &h = scope.handover;
  if (stream->IsArray()) {
    if (!body->IsNull()) {
      *why = "the response body is both bytes and a stream";
      return false;
    }
    h.stream.Reset(isolate, stream.As<v8::Object>());
    v8::Local<v8::Value> length = info[7];
    v8::Local<v8::Value> passthrough = info[8];
    double n = length->IsNumber() ? length.As<v8::Number>()->Value() : -1;
    h.length = n >= 0 && n <= 9007199254740991.0 ? int64_t(n) : -1;
    double id = passthrough->IsNumber() ? passthrough.As<v8::Number>()->Value() : 0;
    h.passthrough = id >= 1 && id <= 9007199254740991.0 ? uint64_t(id) : 0;
    return true;
  }
  if (!stream->IsNull()) {
    *why = "the response body stream is malformed";
    return false;
  }
  if (body->IsArrayBufferView()) {
    auto view = body.As<v8::ArrayBufferView>();
    scope.response_body.resize(view->ByteLength());
    if (!scope.response_body.empty()) {
      view->CopyContents(scope.response_body.data(), scope.response_body.size());
    }
  } else if (!body->IsNull()) {
    *why = "the response body is neither bytes nor null";
    return false;
  }
  return true;
}

// native.respond(id, status, statusText, headers, count, bytes, handle,
// length, passthrough): once per request, for a request of this isolate
// still waiting for its response; anything else is ignored.
void on_respond(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  TenantIsolate *self = TenantIsolate::from(isolate);
  if (info.Length() != 9 || !info[0]->IsNumber()) return;
  double id = info[0].As<v8::Number>()->Value();
  RequestScope *scope =
      id >= 1 && id <= 9007199254740991.0 ? self->engine().find(uint64_t(id)) : nullptr;
  if (scope == nullptr || scope->isolate.get() != self || self->dead() || scope->responded() ||
      scope->handover.ready) {
    return;
  }
  scope->handover.ready = true;
  if (!read_handover(isolate, info, *scope, &scope->handover.error)) {
    scope->handover.stream.Reset();
    scope->drop_response();
  }
}

}  // namespace

void install_response_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native) {
  set_function(context, native, "respond", on_respond);
}

}  // namespace dispatch
