#include "api/idna.h"

#include <unicode/uidna.h>

#include <string>
#include <vector>

#include "v8_util.h"

namespace dispatch {

namespace {

// The URL Standard's "domain to ASCII" with CheckHyphens, VerifyDnsLength
// false: errors about empty labels and label lengths do not fail it.
constexpr uint32_t kIgnoredErrors =
    UIDNA_ERROR_EMPTY_LABEL | UIDNA_ERROR_LABEL_TOO_LONG | UIDNA_ERROR_DOMAIN_NAME_TOO_LONG |
    UIDNA_ERROR_LEADING_HYPHEN | UIDNA_ERROR_TRAILING_HYPHEN | UIDNA_ERROR_HYPHEN_3_4;

const UIDNA *uts46(bool strict) {
  // One ICU object per option set, for the life of the process.
  static const UIDNA *plain = nullptr;
  static const UIDNA *std3 = nullptr;
  const UIDNA *&slot = strict ? std3 : plain;
  if (slot == nullptr) {
    UErrorCode status = U_ZERO_ERROR;
    uint32_t options = UIDNA_CHECK_BIDI | UIDNA_CHECK_CONTEXTJ | UIDNA_NONTRANSITIONAL_TO_ASCII;
    if (strict) options |= UIDNA_USE_STD3_RULES;
    slot = uidna_openUTS46(options, &status);
    if (U_FAILURE(status)) slot = nullptr;
  }
  return slot;
}

void domain_to_ascii(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  info.GetReturnValue().SetNull();
  if (info.Length() < 1 || !info[0]->IsString()) return;
  const UIDNA *idna = uts46(info.Length() > 1 && info[1]->BooleanValue(isolate));
  if (idna == nullptr) return;

  std::string in = to_std_string(isolate, info[0]);
  std::vector<char> out(in.size() * 4 + 64);
  for (int attempt = 0; attempt < 2; attempt++) {
    UErrorCode status = U_ZERO_ERROR;
    UIDNAInfo result = UIDNA_INFO_INITIALIZER;
    int32_t n = uidna_nameToASCII_UTF8(idna, in.data(), int32_t(in.size()), out.data(),
                                       int32_t(out.size()), &result, &status);
    if (status == U_BUFFER_OVERFLOW_ERROR) {
      out.resize(size_t(n) + 1);
      continue;
    }
    if (U_FAILURE(status) || (result.errors & ~kIgnoredErrors) != 0) return;
    info.GetReturnValue().Set(v8_str(isolate, out.data(), size_t(n)));
    return;
  }
}

}  // namespace

void install_idna_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native) {
  v8::Isolate *isolate = context->GetIsolate();
  native->Set(context, v8_str(isolate, "domainToASCII"),
              native_function(context, domain_to_ascii)).Check();
}

}  // namespace dispatch
