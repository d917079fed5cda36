#include "api/encoding.h"

#include <unicode/ucnv.h>
#include <unicode/ucnv_cb.h>

#include <memory>
#include <string>

#include "memory_budget.h"
#include "tenant_isolate.h"
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

// The Encoding Standard's multi-byte legacy encodings, decoded by ICU's
// converters (the ICU V8's Intl uses): the one that is each encoding's
// superset, as the standard's decoders are (gbk decodes as gb18030, euc-kr
// as windows-949, big5 as Big5-HKSCS, shift_jis as windows-31j).
const char *icu_converter(const std::string &encoding) {
  if (encoding == "shift_jis") return "windows-31j";
  if (encoding == "euc-jp") return "EUC-JP";
  if (encoding == "iso-2022-jp") return "ISO-2022-JP";
  if (encoding == "gbk" || encoding == "gb18030") return "gb18030";
  if (encoding == "big5") return "ibm-1375_P100-2008";
  if (encoding == "euc-kr") return "windows-949";
  return nullptr;
}

// One U+FFFD for each invalid sequence, as the standard's decoders give
// (ICU's own substitution is U+001A for a single byte of some converters).
void replace_invalid(const void *, UConverterToUnicodeArgs *args, const char *, int32_t,
                     UConverterCallbackReason reason, UErrorCode *status) {
  if (reason > UCNV_IRREGULAR) return;  // reset, close, clone: nothing to write
  static const UChar kReplacement[] = {0xFFFD};
  *status = U_ZERO_ERROR;
  ucnv_cbToUWriteUChars(args, kReplacement, 1, 0, status);
}

struct ConverterCloser {
  void operator()(UConverter *c) const { ucnv_close(c); }
};

// decodeLegacy(encoding, bytes, stream, fatal) -> [text, pending]: the text
// of the bytes; with stream, the bytes of an unfinished sequence at the end
// are not decoded and pending counts them (the caller gives them again with
// what follows). fatal: a TypeError at the first invalid sequence, else
// U+FFFD for each. The input is the tenant's (up to its memory limit): it is
// decoded a piece at a time into V8 strings, and stops when the run is
// stopped (a limit).
void decode_legacy(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  const char *data = nullptr;
  size_t len = 0;
  const char *name = nullptr;
  std::string encoding;
  if (info.Length() >= 4 && info[0]->IsString()) {
    v8::String::Utf8Value utf8(isolate, info[0]);
    if (*utf8 != nullptr) encoding = *utf8;
    name = icu_converter(encoding);
  }
  if (name == nullptr || !buffer_source_bytes(info[1], &data, &len)) {
    isolate->ThrowException(v8::Exception::TypeError(
        v8_str(isolate, "decodeLegacy expects an encoding and an ArrayBuffer or a view")));
    return;
  }
  bool stream = info[2]->BooleanValue(isolate);
  bool fatal = info[3]->BooleanValue(isolate);

  UErrorCode status = U_ZERO_ERROR;
  std::unique_ptr<UConverter, ConverterCloser> cnv(ucnv_open(name, &status));
  if (U_FAILURE(status) || !cnv) {
    isolate->ThrowException(v8::Exception::RangeError(
        v8_str(isolate, std::string("TextDecoder: no converter for ") + name)));
    return;
  }
  status = U_ZERO_ERROR;
  if (fatal) {
    ucnv_setToUCallBack(cnv.get(), UCNV_TO_U_CALLBACK_STOP, nullptr, nullptr, nullptr, &status);
  } else {
    ucnv_setToUCallBack(cnv.get(), replace_invalid, nullptr, nullptr, nullptr, &status);
  }

  // Each byte gives at most one UTF-16 unit in these encodings (a flush
  // adds at most one U+FFFD): a short input needs a short buffer.
  constexpr size_t kPiece = 32 * 1024;  // UTF-16 units a piece
  const size_t piece = len < kPiece ? len + 8 : kPiece;
  std::unique_ptr<UChar[]> buffer(new UChar[piece]);
  UChar *out = buffer.get();
  v8::Local<v8::String> text = v8::String::Empty(isolate);
  const char *source = data ? data : "";
  const char *source_end = source + len;
  TenantIsolate *tenant = TenantIsolate::from(isolate);
  for (;;) {
    // V8 looks at a stop request only when JavaScript runs again
    if (tenant != nullptr && tenant->run_stopped()) {
      isolate->ThrowException(v8::Exception::Error(
          v8_str(isolate, "TextDecoder: a limit stopped the script")));
      return;
    }
    UChar *target = out;
    status = U_ZERO_ERROR;
    ucnv_toUnicode(cnv.get(), &target, out + piece, &source, source_end, nullptr,
                   stream ? 0 : 1, &status);
    if (status != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(status)) {
      isolate->ThrowException(v8::Exception::TypeError(
          v8_str(isolate, "The encoded data was not valid for encoding " + encoding)));
      return;
    }
    if (target > out) {
      v8::Local<v8::String> piece;
      if (!v8::String::NewFromTwoByte(isolate, reinterpret_cast<const uint16_t *>(out),
                                      v8::NewStringType::kNormal, int(target - out))
               .ToLocal(&piece)) {
        return;  // too long: V8 threw
      }
      if (text->Length() > v8::String::kMaxLength - piece->Length()) {
        isolate->ThrowException(v8::Exception::RangeError(v8_str(isolate, "string too long")));
        return;
      }
      text = v8::String::Concat(isolate, text, piece);
    }
    if (status != U_BUFFER_OVERFLOW_ERROR) break;
  }
  int32_t pending = 0;
  if (stream) {
    status = U_ZERO_ERROR;
    pending = ucnv_toUCountPending(cnv.get(), &status);
    if (U_FAILURE(status) || pending < 0) pending = 0;
  }
  v8::Local<v8::Value> result[] = {text, v8::Integer::New(isolate, pending)};
  info.GetReturnValue().Set(v8::Array::New(isolate, result, 2));
}

}  // namespace

void install_encoding_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native) {
  v8::Isolate *isolate = context->GetIsolate();
  native->Set(context, v8_str(isolate, "encodeUtf8"),
              native_function(context, encode_utf8)).Check();
  native->Set(context, v8_str(isolate, "decodeUtf8"),
              native_function(context, decode_utf8)).Check();
  native->Set(context, v8_str(isolate, "decodeLegacy"),
              native_function(context, decode_legacy)).Check();
}

}  // namespace dispatch
