// platform.h: V8's process-wide state. Initialised once per worker process,
// on first use, never in a process that forks afterwards.
#pragma once

#include <string>

namespace v8 {
class Isolate;
class Platform;
}

namespace dispatch {

// Returns false with a message in *err when V8 cannot start.
bool platform_init(size_t memory_limit, std::string *err);

// The process's default platform; the engine pumps its foreground tasks
// (GC finalisation, memory reducer) from a periodic timer (platform_pump).
v8::Platform *platform_get();

// Runs the foreground tasks that can run now (delayed ones whose time has
// come included), of the isolates that have one; on the engine's thread,
// outside any isolate.
void platform_pump();

// The heap chunks kept for the next isolates (page_recycler.h) go back to
// the kernel.
void platform_release_kept_pages();
// Forgets isolate's task runner, once the isolate is disposed.
void platform_forget(v8::Isolate *isolate);

// Date.now() does not advance while a script computes, only between its
// turns (SPEC 5): the clock V8 reads is frozen for the length of a run.
void platform_freeze_clock();
void platform_thaw_clock();

}  // namespace dispatch
