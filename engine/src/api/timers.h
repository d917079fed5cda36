// timers.h: the native side of setTimeout/setInterval (engine/js/timers.js).
// A timer belongs to the request whose code set it: its callback runs under
// that request's CPU budget, and it ends with the request.
#pragma once

#include <v8.h>

namespace dispatch {
// Adds native.setTimer(callback, delayMs, repeat) -> id and
// native.clearTimer(id) to the built-ins' `native`.
void install_timer_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native);
}  // namespace dispatch
