// builtins.h: the JavaScript half of the Web APIs (engine/js/*.js), wrapped
// by the build into one function expression: (function (native) {...}).
#pragma once

#include <cstddef>

namespace dispatch {
extern const char kBuiltinsSource[];
extern const size_t kBuiltinsSourceLength;
}  // namespace dispatch
