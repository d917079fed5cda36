#include "platform.h"

#include <libplatform/libplatform.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <v8.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <memory>
#include <mutex>
#include <iterator>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "api/wasm.h"
#include "isolate_entry.h"
#include "page_recycler.h"

namespace dispatch {

namespace {

class FrozenClockPlatform;

// An isolate's foreground task runner. The default one underneath runs the
// tasks; this one tells the platform which isolates have one to run, so the
// engine's periodic pump visits only those: visiting each of a thousand idle
// isolates every 100 ms cost 6-15 ms of CPU per second doing nothing, the
// pump's walk missing the CPU caches at every isolate. Delayed tasks wait in
// the platform, not here, until their time has come (nearly every idle
// isolate has one pending).
class TrackingTaskRunner final : public v8::TaskRunner {
 public:
  TrackingTaskRunner(std::shared_ptr<v8::TaskRunner> inner, v8::Isolate *isolate,
                     FrozenClockPlatform *platform)
      : inner_(std::move(inner)), isolate_(isolate), platform_(platform) {}

  void PostTask(std::unique_ptr<v8::Task> task) override { post(std::move(task), true); }
  void PostNonNestableTask(std::unique_ptr<v8::Task> task) override {
    post(std::move(task), false);
  }
  void PostDelayedTask(std::unique_ptr<v8::Task> task, double delay) override;
  void PostNonNestableDelayedTask(std::unique_ptr<v8::Task> task, double delay) override;
  // Idle tasks are disabled (platform_init); the pump never runs them.
  void PostIdleTask(std::unique_ptr<v8::IdleTask> task) override {
    inner_->PostIdleTask(std::move(task));
  }
  bool IdleTasksEnabled() override { return inner_->IdleTasksEnabled(); }
  bool NonNestableTasksEnabled() const override { return inner_->NonNestableTasksEnabled(); }
  bool NonNestableDelayedTasksEnabled() const override { return true; }

  // A task to run at once (a delayed one whose time has come, too).
  void post(std::unique_ptr<v8::Task> task, bool nestable);

 private:
  std::shared_ptr<v8::TaskRunner> inner_;
  v8::Isolate *isolate_;
  FrozenClockPlatform *platform_;
};

// The default platform with the wall clock V8 reads for Date frozen while
// a script runs: a loop measuring Date.now() learns nothing about timing.
class FrozenClockPlatform : public v8::Platform {
 public:
  explicit FrozenClockPlatform(v8::Platform *inner)
      : inner_(inner), pages_(inner->GetPageAllocator()) {}

  void freeze() { frozen_ms_.store(inner_->CurrentClockTimeMillis(), std::memory_order_relaxed); }
  void thaw() { frozen_ms_.store(0, std::memory_order_relaxed); }

  double CurrentClockTimeMillis() override {
    double frozen = frozen_ms_.load(std::memory_order_relaxed);
    return frozen > 0 ? frozen : inner_->CurrentClockTimeMillis();
  }

  // Heap chunks recycled, scrubbed, across isolates (page_recycler.h).
  v8::PageAllocator *GetPageAllocator() override { return &pages_; }
  void release_pages() { pages_.release(); }

  // Everything else is the default platform's.
  void OnCriticalMemoryPressure() override { inner_->OnCriticalMemoryPressure(); }
  bool OnCriticalMemoryPressure(size_t length) override {
    return inner_->OnCriticalMemoryPressure(length);
  }
  int NumberOfWorkerThreads() override { return inner_->NumberOfWorkerThreads(); }
  // V8 asks from its worker threads too.
  std::shared_ptr<v8::TaskRunner> GetForegroundTaskRunner(v8::Isolate *isolate) override {
    std::lock_guard<std::mutex> lock(runners_mu_);
    std::shared_ptr<TrackingTaskRunner> &runner = runners_[isolate];
    if (!runner) {
      runner = std::make_shared<TrackingTaskRunner>(inner_->GetForegroundTaskRunner(isolate),
                                                    isolate, this);
    }
    return runner;
  }

  // From any thread: isolate has a task to run.
  void ready(v8::Isolate *isolate) {
    std::lock_guard<std::mutex> lock(tasks_mu_);
    ready_.insert(isolate);
  }
  void post_delayed(v8::Isolate *isolate, std::unique_ptr<v8::Task> task, double delay,
                    bool nestable) {
    double due = inner_->MonotonicallyIncreasingTime() + std::max(0.0, delay);
    std::lock_guard<std::mutex> lock(tasks_mu_);
    delayed_.push_back(Delayed{due, next_order_++, isolate, std::move(task), nestable});
    std::push_heap(delayed_.begin(), delayed_.end(), later);
  }

  // On the engine's thread, outside any isolate: runs the tasks of the
  // isolates that have one, delayed ones whose time has come included.
  void pump() {
    double now = inner_->MonotonicallyIncreasingTime();
    std::vector<Delayed> due;
    {
      std::lock_guard<std::mutex> lock(tasks_mu_);
      while (!delayed_.empty() && delayed_.front().due <= now) {
        std::pop_heap(delayed_.begin(), delayed_.end(), later);
        due.push_back(std::move(delayed_.back()));
        delayed_.pop_back();
      }
    }
    for (Delayed &task : due) {
      if (std::shared_ptr<TrackingTaskRunner> runner = find(task.isolate)) {
        runner->post(std::move(task.task), task.nestable);
      }
    }
    std::unordered_set<v8::Isolate *> ready;
    {
      std::lock_guard<std::mutex> lock(tasks_mu_);
      ready.swap(ready_);
    }
    for (v8::Isolate *isolate : ready) {
      if (!find(isolate)) continue;  // disposed meanwhile
      IsolateEntry isolate_scope(isolate);
      v8::HandleScope handle_scope(isolate);
      while (v8::platform::PumpMessageLoop(inner_, isolate)) {
      }
    }
  }

  // After Dispose: a new isolate at the same address gets a runner of its
  // own, and none of this one's tasks.
  void forget(v8::Isolate *isolate) {
    {
      std::lock_guard<std::mutex> lock(runners_mu_);
      runners_.erase(isolate);
    }
    std::vector<Delayed> dropped;  // destroyed outside the lock
    std::lock_guard<std::mutex> lock(tasks_mu_);
    ready_.erase(isolate);
    auto kept = std::partition(delayed_.begin(), delayed_.end(),
                               [isolate](const Delayed &d) { return d.isolate != isolate; });
    std::move(kept, delayed_.end(), std::back_inserter(dropped));
    delayed_.erase(kept, delayed_.end());
    std::make_heap(delayed_.begin(), delayed_.end(), later);
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
  PageRecycler pages_;
  std::atomic<double> frozen_ms_{0};
  struct Delayed {
    double due;
    uint64_t order;  // tasks due at the same time run in the order posted
    v8::Isolate *isolate;
    std::unique_ptr<v8::Task> task;
    bool nestable;
  };
  // A min-heap on (due, order).
  static bool later(const Delayed &a, const Delayed &b) {
    return a.due != b.due ? a.due > b.due : a.order > b.order;
  }
  std::shared_ptr<TrackingTaskRunner> find(v8::Isolate *isolate) {
    std::lock_guard<std::mutex> lock(runners_mu_);
    auto it = runners_.find(isolate);
    return it == runners_.end() ? nullptr : it->second;
  }

  std::mutex runners_mu_;
  std::unordered_map<v8::Isolate *, std::shared_ptr<TrackingTaskRunner>> runners_;
  std::mutex tasks_mu_;  // V8 posts from its worker threads too
  std::unordered_set<v8::Isolate *> ready_;
  std::vector<Delayed> delayed_;
  uint64_t next_order_ = 0;
};

void TrackingTaskRunner::post(std::unique_ptr<v8::Task> task, bool nestable) {
  if (nestable) {
    inner_->PostTask(std::move(task));
  } else {
    inner_->PostNonNestableTask(std::move(task));
  }
  platform_->ready(isolate_);
}

void TrackingTaskRunner::PostDelayedTask(std::unique_ptr<v8::Task> task, double delay) {
  platform_->post_delayed(isolate_, std::move(task), delay, true);
}

void TrackingTaskRunner::PostNonNestableDelayedTask(std::unique_ptr<v8::Task> task,
                                                    double delay) {
  platform_->post_delayed(isolate_, std::move(task), delay, false);
}

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

// The background thread runs TurboFan's concurrent compiles and the GC's
// concurrent marking and sweeping, charged to no tenant: a script whose hot
// functions keep TurboFan busy (~50 ms a large function; attack14 measured
// 1.2 s of that thread for 24 of them) would take a core from the machine's
// other workers. Ten steps nicer, it takes only CPU that nginx's threads
// leave; under load the isolates' own threads do more of the GC's work, and
// optimized code comes later. setpriority() on Linux changes the calling
// thread alone, so it runs there, as a task.
constexpr int kBackgroundNicer = 10;

class LowerPriorityTask final : public v8::Task {
 public:
  struct Done {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
  };
  explicit LowerPriorityTask(std::shared_ptr<Done> done) : done_(std::move(done)) {}
  void Run() override {
    errno = 0;
    int nice = getpriority(PRIO_PROCESS, 0);
    if (errno == 0) setpriority(PRIO_PROCESS, 0, std::min(nice + kBackgroundNicer, 19));
    std::lock_guard<std::mutex> lock(done_->mu);
    done_->done = true;
    done_->cv.notify_all();
  }

 private:
  std::shared_ptr<Done> done_;
};

void lower_background_priority(v8::Platform *platform) {
  auto done = std::make_shared<LowerPriorityTask::Done>();
  platform->CallOnWorkerThread(std::make_unique<LowerPriorityTask>(done));
  // done before the worker's seccomp filter is installed (it would refuse)
  std::unique_lock<std::mutex> lock(done->mu);
  done->cv.wait_for(lock, std::chrono::seconds(2), [&] { return done->done; });
}

}  // namespace

bool platform_init(size_t memory_limit, std::string *err) {
  if (g_platform) return true;

  // No shared memory between isolates, by any route (SharedArrayBuffer,
  // shared WebAssembly memories), and no WebAssembly memory larger than an
  // isolate's whole budget (64 KiB pages), no table of more than
  // kWasmMaxTableEntries: these flags are process-wide.
  // WebAssembly stays on Liftoff, V8's baseline compiler, which compiles a
  // module as it is made, on the isolate's thread, under its CPU limit. Tier
  // up would recompile hot functions with TurboFan on the platform's
  // background thread, where no limit and no budget sees it: one call of a
  // 6 MB function (2M additions) cost that thread 7 s of CPU and the worker
  // 800 MB of RSS, then kept 300 MB. Nor does a module's first compile go to
  // that thread (--wasm-num-compilation-tasks=0): while it compiled there,
  // the isolate's thread waited with its CPU clock still, and a function
  // Liftoff takes seconds over (50,000 locals, 30,000 loops) held the
  // worker 12 s with no limit or last resort seeing it.
  std::string flags = "--no-harmony-sharedarraybuffer --no-experimental-wasm-threads"
                      " --no-wasm-tier-up --no-wasm-dynamic-tiering --wasm-num-compilation-tasks=0"
                      " --wasm-max-mem-pages=" +
                      std::to_string(std::max<size_t>(1, memory_limit >> 16)) +
                      " --wasm-max-table-size=" + std::to_string(kWasmMaxTableEntries);
  v8::V8::SetFlagsFromString(flags.data(), flags.size());

  {
    SignalsBlocked blocked;
    // One background thread: the machine is shared with nginx's workers.
    g_platform = v8::platform::NewDefaultPlatform(
        1, v8::platform::IdleTaskSupport::kDisabled);
    g_frozen = std::make_unique<FrozenClockPlatform>(g_platform.get());
    v8::V8::InitializePlatform(g_frozen.get());
  }
  lower_background_priority(g_platform.get());
  if (!v8::V8::Initialize()) {
    *err = "V8 failed to initialise";
    return false;
  }
  return true;
}

v8::Platform *platform_get() { return g_platform.get(); }

void platform_pump() { g_frozen->pump(); }
void platform_release_kept_pages() { g_frozen->release_pages(); }
void platform_forget(v8::Isolate *isolate) { g_frozen->forget(isolate); }

void platform_freeze_clock() { g_frozen->freeze(); }
void platform_thaw_clock() { g_frozen->thaw(); }

}  // namespace dispatch
