// platform.h: V8's process-wide state. Initialised once per worker process,
// on first use, never in a process that forks afterwards.
#pragma once

#include <string>

namespace v8 {
class Platform;
}

namespace dispatch {

// Returns false with a message in *err when V8 cannot start.
bool platform_init(std::string *err);

// The process's platform; the engine pumps its foreground tasks (GC
// finalisation, memory reducer) for each isolate from a periodic timer.
v8::Platform *platform_get();

}  // namespace dispatch
