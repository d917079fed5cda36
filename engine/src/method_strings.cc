#include "method_strings.h"

#include <cstdint>

namespace dispatch {

namespace {

constexpr std::string_view kMethods[] = {"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"};
static_assert(sizeof(kMethods) / sizeof(kMethods[0]) == MethodStrings::kCount,
              "kCount is the number of methods");

}  // namespace

v8::Local<v8::String> MethodStrings::find(v8::Isolate *isolate, std::string_view method) {
  for (size_t i = 0; i < kCount; i++) {
    if (method != kMethods[i]) continue;
    if (made_[i].IsEmpty()) {
      v8::Local<v8::String> s;
      if (!v8::String::NewFromOneByte(isolate, reinterpret_cast<const uint8_t *>(method.data()),
                                      v8::NewStringType::kInternalized, int(method.size()))
               .ToLocal(&s)) {
        return {};
      }
      made_[i].Set(isolate, s);
      return s;
    }
    return made_[i].Get(isolate);
  }
  return {};
}

}  // namespace dispatch
