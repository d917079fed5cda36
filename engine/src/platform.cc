#include "platform.h"

#include <libplatform/libplatform.h>
#include <pthread.h>
#include <signal.h>
#include <v8.h>

#include <memory>

namespace dispatch {

namespace {

std::unique_ptr<v8::Platform> g_platform;

// V8's platform starts worker threads. They inherit the signal mask of the
// thread that creates them, and signals meant for nginx's event loop must
// never land on them, so they are created with every signal blocked.
class SignalsBlocked {
 public:
  SignalsBlocked() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved_);
  }
  ~SignalsBlocked() { pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }

 private:
  sigset_t saved_;
};

}  // namespace

bool platform_init(std::string *err) {
  if (g_platform) return true;

  // No code generation for tenants beyond what the engine compiles; no
  // shared memory between isolates.
  static const char flags[] =
      "--no-harmony-sharedarraybuffer";
  v8::V8::SetFlagsFromString(flags, sizeof(flags) - 1);

  {
    SignalsBlocked blocked;
    // One background thread: the machine is shared with nginx's workers.
    g_platform = v8::platform::NewDefaultPlatform(
        1, v8::platform::IdleTaskSupport::kDisabled);
    v8::V8::InitializePlatform(g_platform.get());
  }
  if (!v8::V8::Initialize()) {
    *err = "V8 failed to initialise";
    return false;
  }
  return true;
}

v8::Platform *platform_get() { return g_platform.get(); }

}  // namespace dispatch
