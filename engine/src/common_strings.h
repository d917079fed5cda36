// common_strings.h: the V8 strings of the header names and methods most
// requests carry, made once per isolate and handed to every request after
// (a request from a browser has a dozen headers: a dozen string
// allocations and their garbage, each time, without this).
#pragma once

#include <v8.h>

#include <array>
#include <string_view>

namespace dispatch {

class CommonStrings {
 public:
  // The isolate's string for exactly these bytes when they are one of the
  // common names (as HTTP/1.1 clients write them, or in lower case as
  // HTTP/2 has them), made internalized the first time; empty otherwise.
  // On the isolate's thread, inside a HandleScope.
  v8::Local<v8::String> find(v8::Isolate *isolate, std::string_view bytes);

  static constexpr size_t kCount = 80;

 private:
  std::array<v8::Eternal<v8::String>, kCount> made_;
};

}  // namespace dispatch
