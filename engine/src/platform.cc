#include "platform.h"

#include <libplatform/libplatform.h>
#include <pthread.h>
#include <signal.h>
#include <v8.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace dispatch {

namespace {

// A foreground task that counts itself among its isolate's pending ones
// from the moment it is posted until it is destroyed (run, or dropped with
// the isolate).
class CountedTask final : public v8::Task {
 public:
  CountedTask(std::unique_ptr<v8::Task> task, std::shared_ptr<std::atomic<int>> pending)
      : task_(std::move(task)), pending_(std::move(pending)) {
    pending_->fetch_add(1, std::memory_order_relaxed);
  }
  ~CountedTask() override { pending_->fetch_sub(1, std::memory_order_relaxed); }
  void Run() override { task_->Run(); }

 private:
  std::unique_ptr<v8::Task> task_;
  std::shared_ptr<std::atomic<int>> pending_;
};

// An isolate's foreground task runner, the default one underneath, that
// knows whether any task waits: the pool's periodic pump visits only the
// isolates that have one (with a thousand idle isolates, visiting each one
// every 100 ms cost 2.6% of a core doing nothing).
class CountingTaskRunner final : public v8::TaskRunner {
 public:
  explicit CountingTaskRunner(std::shared_ptr<v8::TaskRunner> inner) : inner_(std::move(inner)) {}

  bool pending() const { return pending_->load(std::memory_order_relaxed) > 0; }

  void PostTask(std::unique_ptr<v8::Task> task) override { inner_->PostTask(counted(std::move(task))); }
  void PostNonNestableTask(std::unique_ptr<v8::Task> task) override {
    inner_->PostNonNestableTask(counted(std::move(task)));
  }
  void PostDelayedTask(std::unique_ptr<v8::Task> task, double delay) override {
    inner_->PostDelayedTask(counted(std::move(task)), delay);
  }
  void PostNonNestableDelayedTask(std::unique_ptr<v8::Task> task, double delay) override {
    inner_->PostNonNestableDelayedTask(counted(std::move(task)), delay);
  }
  // Idle tasks are disabled (platform_init); the pump never runs them.
  void PostIdleTask(std::unique_ptr<v8::IdleTask> task) override {
    inner_->PostIdleTask(std::move(task));
  }
  bool IdleTasksEnabled() override { return inner_->IdleTasksEnabled(); }
  bool NonNestableTasksEnabled() const override { return inner_->NonNestableTasksEnabled(); }
  bool NonNestableDelayedTasksEnabled() const override {
    return inner_->NonNestableDelayedTasksEnabled();
  }

 private:
  std::unique_ptr<v8::Task> counted(std::unique_ptr<v8::Task> task) {
    return std::make_unique<CountedTask>(std::move(task), pending_);
  }

  std::shared_ptr<v8::TaskRunner> inner_;
  std::shared_ptr<std::atomic<int>> pending_ = std::make_shared<std::atomic<int>>(0);
};

// The default platform with the wall clock V8 reads for Date frozen while
// a script runs: a loop measuring Date.now() learns nothing about timing.
class FrozenClockPlatform : public v8::Platform {
 public:
  explicit FrozenClockPlatform(v8::Platform *inner) : inner_(inner) {}

  void freeze() { frozen_ms_.store(inner_->CurrentClockTimeMillis(), std::memory_order_relaxed); }
  void thaw() { frozen_ms_.store(0, std::memory_order_relaxed); }

  double CurrentClockTimeMillis() override {
    double frozen = frozen_ms_.load(std::memory_order_relaxed);
    return frozen > 0 ? frozen : inner_->CurrentClockTimeMillis();
  }

  // Everything else is the default platform's.
  v8::PageAllocator *GetPageAllocator() override { return inner_->GetPageAllocator(); }
  void OnCriticalMemoryPressure() override { inner_->OnCriticalMemoryPressure(); }
  bool OnCriticalMemoryPressure(size_t length) override {
    return inner_->OnCriticalMemoryPressure(length);
  }
  int NumberOfWorkerThreads() override { return inner_->NumberOfWorkerThreads(); }
  // V8 asks from its worker threads too.
  std::shared_ptr<v8::TaskRunner> GetForegroundTaskRunner(v8::Isolate *isolate) override {
    std::lock_guard<std::mutex> lock(runners_mu_);
    std::shared_ptr<CountingTaskRunner> &runner = runners_[isolate];
    if (!runner) runner = std::make_shared<CountingTaskRunner>(inner_->GetForegroundTaskRunner(isolate));
    return runner;
  }

  bool tasks_pending(v8::Isolate *isolate) {
    std::lock_guard<std::mutex> lock(runners_mu_);
    auto it = runners_.find(isolate);
    return it != runners_.end() && it->second->pending();
  }

  // After Dispose: a new isolate at the same address gets a runner of its own.
  void forget(v8::Isolate *isolate) {
    std::lock_guard<std::mutex> lock(runners_mu_);
    runners_.erase(isolate);
  }
  void CallOnWorkerThread(std::unique_ptr<v8::Task> task) override {
    inner_->CallOnWorkerThread(std::move(task));
  }
  void CallBlockingTaskOnWorkerThread(std::unique_ptr<v8::Task> task) override {
    inner_->CallBlockingTaskOnWorkerThread(std::move(task));
  }
  void CallLowPriorityTaskOnWorkerThread(std::unique_ptr<v8::Task> task) override {
    inner_->CallLowPriorityTaskOnWorkerThread(std::move(task));
  }
  void CallDelayedOnWorkerThread(std::unique_ptr<v8::Task> task, double delay) override {
    inner_->CallDelayedOnWorkerThread(std::move(task), delay);
  }
  bool IdleTasksEnabled(v8::Isolate *isolate) override { return inner_->IdleTasksEnabled(isolate); }
  std::unique_ptr<v8::JobHandle> PostJob(v8::TaskPriority priority,
                                         std::unique_ptr<v8::JobTask> job) override {
    return inner_->PostJob(priority, std::move(job));
  }
  double MonotonicallyIncreasingTime() override { return inner_->MonotonicallyIncreasingTime(); }
  v8::TracingController *GetTracingController() override {
    return inner_->GetTracingController();
  }

 private:
  v8::Platform *inner_;
  std::atomic<double> frozen_ms_{0};
  std::mutex runners_mu_;
  std::unordered_map<v8::Isolate *, std::shared_ptr<CountingTaskRunner>> runners_;
};

std::unique_ptr<v8::Platform> g_platform;
std::unique_ptr<FrozenClockPlatform> g_frozen;

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

bool platform_init(size_t memory_limit, std::string *err) {
  if (g_platform) return true;

  // No shared memory between isolates, by any route (SharedArrayBuffer,
  // shared WebAssembly memories), and no WebAssembly memory larger than an
  // isolate's whole budget (64 KiB pages): these flags are process-wide.
  std::string flags = "--no-harmony-sharedarraybuffer --no-experimental-wasm-threads"
                      " --wasm-max-mem-pages=" +
                      std::to_string(std::max<size_t>(1, memory_limit >> 16));
  v8::V8::SetFlagsFromString(flags.data(), flags.size());

  {
    SignalsBlocked blocked;
    // One background thread: the machine is shared with nginx's workers.
    g_platform = v8::platform::NewDefaultPlatform(
        1, v8::platform::IdleTaskSupport::kDisabled);
    g_frozen = std::make_unique<FrozenClockPlatform>(g_platform.get());
    v8::V8::InitializePlatform(g_frozen.get());
  }
  if (!v8::V8::Initialize()) {
    *err = "V8 failed to initialise";
    return false;
  }
  return true;
}

v8::Platform *platform_get() { return g_platform.get(); }

bool platform_tasks_pending(v8::Isolate *isolate) { return g_frozen->tasks_pending(isolate); }
void platform_forget(v8::Isolate *isolate) { g_frozen->forget(isolate); }

void platform_freeze_clock() { g_frozen->freeze(); }
void platform_thaw_clock() { g_frozen->thaw(); }

}  // namespace dispatch
