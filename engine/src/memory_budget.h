// memory_budget.h: what one isolate may hold, heap and ArrayBuffers, and the
// one place that enforces it (dispatch_memory_limit).
//
// Facts of V8 10.2 this is built around (DESIGN.md):
// - A single allocation that does not fit under V8's own heap limit ends in
//   a fatal OOM, whatever a near-heap-limit callback would have granted.
//   So V8's hard limit is set above the budget by more than the largest
//   single object V8 allocates (kHeapHeadroom), and the budget is enforced
//   here: after every full GC (epilogue), from an interrupt the CPU
//   watchdog requests while JavaScript runs, and after every run.
// - ArrayBuffer memory is outside the heap: every isolate gets this
//   counting allocator. V8 turns some refusals into a fatal OOM, so it
//   refuses only a single allocation larger than the whole budget (a
//   catchable RangeError); past the budget it allocates, and a full
//   collection (from an interrupt, at once) decides: only what is still
//   past the budget once garbage is gone condemns the isolate and
//   terminates it. The count includes buffers that are garbage already
//   (a stream's pieces, copies a builtin made) until V8 collects them,
//   and V8 collects them by its own pacing, sized for far larger heaps,
//   and frees them on a background sweeper after a GC's epilogue.
// - v8::ArrayBuffer::New(isolate, n) is fatal when the allocator refuses:
//   buffers whose size a tenant or a client controls are made here instead
//   (new_array_buffer), checked against what is left first (and against
//   TypedArray::kMaxLength, past which V8 aborts whatever the budget); V8
//   then only wraps a backing store that already exists.
// - The last resort, when V8 runs out of memory anyway: the worker logs the
//   script and exits with 1, so nginx's master starts another.
#pragma once

#include <v8.h>

#include <atomic>
#include <cstddef>

namespace dispatch {

class MemoryBudget : public v8::ArrayBuffer::Allocator {
 public:
  // Room above the budget in V8's own heap limit: more than the largest
  // single object V8 10.2 allocates (a FixedArray or a two-byte string of
  // the maximum length: 1 GiB).
  static constexpr size_t kHeapHeadroom = size_t(1280) << 20;
  // The young generation an isolate starts with: semi-spaces of one 256 KiB
  // page each (V8 counts three semi-spaces' worth, the third for young large
  // objects). V8's own start for a heap this size is 1 MiB each, touched
  // page by page as a script allocates and, in a worker with many tenants,
  // never used up: each isolate ends up holding 2 MiB of new space. V8
  // grows it again for a script whose young objects survive.
  static constexpr size_t kInitialYoungGeneration = size_t(3 * 256) << 10;
  // What a stopped script gets, once, past that to unwind.
  static constexpr size_t kUnwindRoom = size_t(256) << 20;

  explicit MemoryBudget(size_t limit) : limit_(limit) {}

  // The isolate's heap limits, from the budget.
  static void configure(size_t limit, v8::ResourceConstraints *constraints);
  void attach(v8::Isolate *isolate);  // after the isolate exists

  void *Allocate(size_t length) override;
  void *AllocateUninitialized(size_t length) override;
  void Free(void *data, size_t length) override;

  bool condemned() const { return condemned_.load(); }
  size_t limit() const { return limit_; }
  size_t array_buffer_bytes() const { return array_buffers_.load(); }
  // The largest single buffer (or external charge) the isolate was ever
  // given: no typed array of it can have more elements. Never decreases.
  size_t largest_buffer() const { return largest_.load(); }
  void note_buffer(size_t bytes) {
    size_t was = largest_.load();
    while (bytes > was && !largest_.compare_exchange_weak(was, bytes)) {
    }
  }
  size_t heap_bytes() const { return heap_.load(); }
  size_t total() const { return array_buffer_bytes() + heap_bytes(); }

  // Response bodies of this script that nginx still sends to slow clients.
  // They are the clients' doing, not the script's: they have a bound of
  // their own (held_limit(), past which a response is refused as
  // overloaded) and never make the script itself exceed its limit, but they
  // count in what the isolate holds (memory()).
  bool hold(size_t bytes) {
    if (held_.load() + bytes > held_limit()) return false;
    held_.fetch_add(bytes);
    return true;
  }
  void unhold(size_t bytes) { held_.fetch_sub(bytes); }
  size_t held_limit() const { return limit_ / 2; }
  size_t memory() const { return total() + held_.load(); }
  // What is left of the budget now (the heap measured afresh); on the
  // isolate's thread.
  size_t available();

  // After a run: measures the heap; false when the budget is spent (the
  // isolate is then condemned).
  bool check_after_run();
  // After a run of wall_ms (wall time): check_after_run(), skipped when
  // the heap cannot have grown past the budget since it was last measured.
  // A heap grows no faster than memory is written (kMaxHeapGrowthPerMs):
  // runs that add up to at most kUnmeasuredRunsMs unmeasured can have
  // grown it by kMaxUnseenHeap at most, so the measurement is skipped only
  // while that much more still fits the budget. What grew meanwhile is
  // seen at the next measurement, full GC or watchdog look.
  bool check_after_turn(double wall_ms);
  static constexpr double kUnmeasuredRunsMs = 0.2;
  static constexpr size_t kMaxHeapGrowthPerMs = size_t(32) << 20;  // 32 GB/s
  static constexpr size_t kMaxUnseenHeap = size_t(kUnmeasuredRunsMs * kMaxHeapGrowthPerMs);
  // Collects what can be collected and condemns the isolate only if it is
  // still past the budget. On the isolate's thread, outside a GC.
  void verify();
  // From the CPU watchdog's thread while JavaScript runs: asks the isolate
  // to look at its heap at its next interrupt check.
  void request_check();
  // What that look first brings up to date: memory outside the heap that
  // grew with no call to the engine (a WebAssembly memory grown inside
  // Wasm); fn answers whether it charged more. Past the budget then, the
  // isolate is judged at once (verify()), as after a run.
  void set_before_check(bool (*fn)(void *), void *arg) {
    before_check_ = fn;
    before_check_arg_ = arg;
  }

  // An idle isolate's spare memory given back: one full collection that
  // shrinks the new space and compacts (V8's own memory reducer waits for a
  // full GC that a small heap may never reach). On the isolate's thread,
  // inside its scope, outside a run.
  void reduce();
  // Whether its heap is small enough for reduce() to take at most a few
  // milliseconds of the worker's thread.
  bool small_enough_to_reduce() const { return heap_.load() <= kReduceHeapsBelow; }
  static constexpr size_t kReduceHeapsBelow = size_t(16) << 20;

  // Memory outside V8's view (a WebAssembly memory, an ICU object) that an
  // object holds: counted as ArrayBuffers are. false when it does not fit
  // what is left; refund when the object is gone.
  bool charge(size_t bytes);
  void refund(size_t bytes) { array_buffers_.fetch_sub(bytes); }
  // Memory that exists already (a WebAssembly memory grown from inside
  // Wasm): counted whether or not it fits; check_after_run() judges.
  void charge_anyway(size_t bytes) { array_buffers_.fetch_add(bytes); }
  // Whether bytes fit what is left, after a full GC if they do not at once
  // (garbage still counts until it is collected: buffers a script dropped,
  // native state whose handle is gone). On the isolate's thread, from a
  // native call.
  bool make_room(size_t bytes);
  // charge(), after make_room().
  bool charge_collecting(size_t bytes) { return make_room(bytes) && charge(bytes); }

  // An ArrayBuffer of len bytes the engine fills, checked against what is
  // left of the budget; on refusal a RangeError is thrown and the result is
  // empty. With data, its bytes are copied in; without, it starts zeroed.
  v8::MaybeLocal<v8::ArrayBuffer> new_buffer(size_t len, const void *data = nullptr);

 private:
  bool reserve(size_t length);
  void condemn();
  void over_budget();
  void measure_heap(bool after_full_gc);
  static size_t near_heap_limit(void *data, size_t current, size_t initial);
  static void after_gc(v8::Isolate *isolate, v8::GCType type, v8::GCCallbackFlags flags,
                       void *data);
  static void on_interrupt(v8::Isolate *isolate, void *data);
  static void on_over_budget(v8::Isolate *isolate, void *data);
  void collect();
  static void free_external(void *data, size_t length, void *budget);

  const size_t limit_;
  v8::Isolate *isolate_ = nullptr;
  // Backing stores can be freed on V8's background threads.
  std::atomic<size_t> array_buffers_{0};
  std::atomic<size_t> largest_{0};
  std::atomic<size_t> heap_{0};
  std::atomic<bool> condemned_{false};
  std::atomic<size_t> held_{0};
  // The heap size at which the next full GC is forced (heap_ counts garbage
  // too; a full GC tells what is live).
  size_t force_gc_at_ = 0;
  bool unwind_granted_ = false;
  std::atomic<bool> verify_requested_{false};
  bool collecting_ = false;  // inside collect(): its GCs do not judge
  double unmeasured_ms_ = 0;  // wall time of the runs since the last measurement
  bool (*before_check_)(void *) = nullptr;
  void *before_check_arg_ = nullptr;
};

// MemoryBudget::new_buffer of the isolate's own budget.
v8::MaybeLocal<v8::ArrayBuffer> new_array_buffer(v8::Isolate *isolate, const void *data,
                                                 size_t len);

}  // namespace dispatch
