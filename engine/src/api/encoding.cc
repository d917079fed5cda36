#include "api/encoding.h"

#include "memory_budget.h"
#include "v8_util.h"

namespace dispatch {

namespace {

void encode_utf8(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  v8::Local<v8::String> s;
  if (info.Length() < 1 || !info[0]->ToString(context).ToLocal(&s)) return;

  // The size is the tenant's to choose: the buffer comes from its budget,
  // or a RangeError it can catch.
  int len = s->Utf8Length(isolate);
  v8::Local<v8::ArrayBuffer> buf;
  if (!new_array_buffer(isolate, nullptr, size_t(len)).ToLocal(&buf)) return;
  // Lone surrogates become U+FFFD, as TextEncoder does.
  s->WriteUtf8(isolate, static_cast<char *>(buf->Data()), len, nullptr,
               v8::String::REPLACE_INVALID_UTF8 | v8::String::NO_NULL_TERMINATION);
  info.GetReturnValue().Set(v8::Uint8Array::New(buf, 0, size_t(len)));
}

void decode_utf8(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  const char *data = nullptr;
  size_t len = 0;
  if (info.Length() < 1 || !buffer_source_bytes(info[0], &data, &len)) {
    isolate->ThrowException(v8::Exception::TypeError(
        v8_str(isolate, "decodeUtf8 expects an ArrayBuffer or a view")));
    return;
  }
  if (len > size_t(v8::String::kMaxLength)) {
    isolate->ThrowException(v8::Exception::RangeError(v8_str(isolate, "string too long")));
    return;
  }
  // V8 replaces invalid sequences with U+FFFD.
  info.GetReturnValue().Set(v8_str(isolate, data ? data : "", len));
}

}  // namespace

void install_encoding_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native) {
  v8::Isolate *isolate = context->GetIsolate();
  native->Set(context, v8_str(isolate, "encodeUtf8"),
              native_function(context, encode_utf8)).Check();
  native->Set(context, v8_str(isolate, "decodeUtf8"),
              native_function(context, decode_utf8)).Check();
}

}  // namespace dispatch
