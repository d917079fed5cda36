#include "v8_util.h"

#include <cstdint>
#include <cstring>

#include "startup_snapshot.h"

namespace dispatch {

v8::Local<v8::String> v8_str(v8::Isolate *isolate, const char *s, size_t len) {
  return v8::String::NewFromUtf8(isolate, s, v8::NewStringType::kNormal, int(len))
      .FromMaybe(v8::String::Empty(isolate));
}

v8::Local<v8::String> v8_str(v8::Isolate *isolate, const std::string &s) {
  return v8_str(isolate, s.data(), s.size());
}

std::string to_std_string(v8::Isolate *isolate, v8::Local<v8::Value> value) {
  if (value.IsEmpty()) return std::string();
  v8::String::Utf8Value utf8(isolate, value);
  return *utf8 ? std::string(*utf8, utf8.length()) : std::string("(unprintable)");
}

std::string to_log_string(v8::Isolate *isolate, v8::Local<v8::Value> value,
                          size_t max_bytes) {
  v8::Local<v8::String> s;
  if (value.IsEmpty()) return std::string();
  if (value->IsString()) {
    s = value.As<v8::String>();
  } else if (!value->ToString(isolate->GetCurrentContext()).ToLocal(&s)) {
    return "(unprintable)";
  }
  std::string out(max_bytes, '\0');
  int chars = 0;
  int n = s->WriteUtf8(isolate, out.data(), int(max_bytes), &chars,
                       v8::String::NO_NULL_TERMINATION | v8::String::REPLACE_INVALID_UTF8);
  out.resize(size_t(n));
  if (chars < s->Length()) out += "...";
  return out;
}

v8::Local<v8::String> v8_byte_str(v8::Isolate *isolate, const std::string &s) {
  return v8_byte_str(isolate, std::string_view(s));
}

v8::Local<v8::String> v8_byte_str(v8::Isolate *isolate, std::string_view s) {
  return v8::String::NewFromOneByte(isolate, reinterpret_cast<const uint8_t *>(s.data()),
                                    v8::NewStringType::kNormal, int(s.size()))
      .FromMaybe(v8::String::Empty(isolate));
}

v8::Local<v8::String> v8_utf8_str(v8::Isolate *isolate, std::string_view s) {
  // ASCII, eight bytes at a time (a URL per request goes through here).
  const char *p = s.data();
  size_t n = s.size();
  uint64_t high = 0;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t word;
    memcpy(&word, p, 8);
    high |= word;
  }
  for (; n > 0; p++, n--) high |= static_cast<unsigned char>(*p);
  if ((high & 0x8080808080808080ull) != 0) return v8_str(isolate, s.data(), s.size());
  return v8_byte_str(isolate, s);
}

std::string to_byte_string(v8::Isolate *isolate, v8::Local<v8::Value> value) {
  v8::Local<v8::String> s;
  if (value.IsEmpty() || !value->ToString(isolate->GetCurrentContext()).ToLocal(&s)) {
    return std::string();
  }
  // Characters above U+00FF were refused by the Headers class; WriteOneByte
  // would truncate them, never overflow.
  std::string out(size_t(s->Length()), '\0');
  s->WriteOneByte(isolate, reinterpret_cast<uint8_t *>(out.data()), 0, s->Length(),
                  v8::String::NO_NULL_TERMINATION);
  return out;
}

bool buffer_source_bytes(v8::Local<v8::Value> value, const char **data, size_t *len) {
  if (value->IsArrayBufferView()) {
    auto view = value.As<v8::ArrayBufferView>();
    *data = static_cast<const char *>(view->Buffer()->Data()) + view->ByteOffset();
    *len = view->ByteLength();
    return true;
  }
  if (value->IsArrayBuffer()) {
    auto ab = value.As<v8::ArrayBuffer>();
    *data = static_cast<const char *>(ab->Data());
    *len = ab->ByteLength();
    return true;
  }
  return false;
}

v8::Local<v8::Function> native_function(v8::Local<v8::Context> context,
                                        v8::FunctionCallback callback) {
  // The startup snapshot refers to the callback by its index in this table.
  snapshot_reference(reinterpret_cast<intptr_t>(callback));
  return v8::Function::New(context, callback).ToLocalChecked();
}

void set_function(v8::Local<v8::Context> context, v8::Local<v8::Object> object, const char *name,
                  v8::FunctionCallback callback) {
  object->Set(context, v8_str(context->GetIsolate(), name), native_function(context, callback))
      .Check();
}

std::string describe_exception(v8::Isolate *isolate, v8::Local<v8::Value> exception,
                               v8::Local<v8::Message> message) {
  v8::HandleScope scope(isolate);
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  std::string text;

  if (!exception.IsEmpty() && exception->IsObject() && !context.IsEmpty()) {
    v8::TryCatch inner(isolate);  // a hostile getter must not escape
    v8::Local<v8::Value> stack;
    if (exception.As<v8::Object>()->Get(context, v8_str(isolate, "stack")).ToLocal(&stack) &&
        stack->IsString()) {
      text = to_log_string(isolate, stack);
    }
  }
  if (text.empty()) {
    v8::TryCatch inner(isolate);
    text = to_log_string(isolate, exception);
  }
  if (!message.IsEmpty() && text.find('\n') == std::string::npos) {
    // No stack: say where (compile errors, thrown non-Errors).
    std::string where = to_std_string(isolate, message->GetScriptResourceName());
    int line = message->GetLineNumber(context).FromMaybe(0);
    if (!where.empty() && where != "undefined") {
      text = where + ":" + std::to_string(line) + ": " + text;
    }
  }
  return text;
}

v8::Local<v8::Array> frozen_list(v8::Local<v8::Context> context, v8::Local<v8::Value> *items,
                                 size_t n) {
  v8::Isolate *isolate = context->GetIsolate();
  v8::Local<v8::Array> list = v8::Array::New(isolate, items, n);
  list->SetPrototype(context, v8::Null(isolate)).Check();
  list->SetIntegrityLevel(context, v8::IntegrityLevel::kFrozen).Check();
  return list;
}

v8::Local<v8::Array> frozen_header_list(
    v8::Local<v8::Context> context,
    const std::vector<std::pair<std::string, std::string>> &headers) {
  v8::Isolate *isolate = context->GetIsolate();
  std::vector<v8::Local<v8::Value>> flat;
  flat.reserve(headers.size() * 2);
  for (const auto &h : headers) {
    flat.push_back(v8_byte_str(isolate, h.first));
    flat.push_back(v8_byte_str(isolate, h.second));
  }
  return frozen_list(context, flat.data(), flat.size());
}

}  // namespace dispatch
