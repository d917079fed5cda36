// console.h: the native side of console.*: one line per call into the
// error log, tagged with the script, at the level the method implies.
#pragma once

#include <v8.h>

namespace dispatch {
class TenantIsolate;

// Adds native.log(level, message) to the built-ins' private `native` object.
void install_console_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native);
}  // namespace dispatch
