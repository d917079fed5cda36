// method_strings.h: the V8 strings of the request methods nearly every
// request has, made once per isolate and handed to every request after.
#pragma once

#include <v8.h>

#include <array>
#include <string_view>

namespace dispatch {

class MethodStrings {
 public:
  // The isolate's string for exactly these bytes when they are one of the
  // usual methods, made internalized the first time; empty otherwise. On
  // the isolate's thread, inside a HandleScope.
  v8::Local<v8::String> find(v8::Isolate *isolate, std::string_view method);

  static constexpr size_t kCount = 7;

 private:
  std::array<v8::Eternal<v8::String>, kCount> made_;
};

}  // namespace dispatch
