#include "memory_budget.h"

#include <cstdlib>
#include <cstring>
#include <string>

namespace dispatch {

namespace {
// Below this, an engine-made buffer is checked against the heap size of
// the last measurement, not a fresh one (measuring costs a walk of the
// heap's spaces).
constexpr size_t kMeasureAbove = 64u << 10;
}  // namespace

void MemoryBudget::configure(size_t limit, v8::ResourceConstraints *constraints) {
  // Young generation as for a heap of the budget's size; only the hard
  // limit is raised. The old generation's first limit is left to V8: not
  // configured, V8 lowers it after the first scavenges by what survives
  // them, and paces full GCs by what is live. Set to the budget, no full GC
  // came before ~100 MB of garbage in a busy isolate (t/50-heap-pacing).
  constraints->ConfigureDefaultsFromHeapSize(0, limit);
  constraints->set_initial_young_generation_size_in_bytes(kInitialYoungGeneration);
  constraints->set_max_old_generation_size_in_bytes(
      constraints->max_old_generation_size_in_bytes() + kHeapHeadroom);
}

void MemoryBudget::attach(v8::Isolate *isolate) {
  isolate_ = isolate;
  force_gc_at_ = limit_ + limit_ / 2;
  isolate->AddNearHeapLimitCallback(&MemoryBudget::near_heap_limit, this);
  isolate->AddGCEpilogueCallback(&MemoryBudget::after_gc, this,
                                 v8::GCType::kGCTypeMarkSweepCompact);
}

void MemoryBudget::condemn() {
  if (!condemned_.exchange(true) && isolate_) isolate_->TerminateExecution();
}

// Reached only when the budget was not enforced in time (a builtin that
// allocates without looking at the termination request): V8 is at its hard
// limit. The script is stopped, and V8 gets room once to unwind; a builtin
// that still allocates after that meets the last resort (V8's OOM, and the
// worker exits), as does one the CPU watchdog sees running past
// dispatch_hang_timeout.
size_t MemoryBudget::near_heap_limit(void *data, size_t current, size_t) {
  auto *self = static_cast<MemoryBudget *>(data);
  self->condemn();
  if (self->unwind_granted_) return current;
  self->unwind_granted_ = true;
  return current + kUnwindRoom;
}

void MemoryBudget::measure_heap(bool after_full_gc) {
  unmeasured_ms_ = 0;
  v8::HeapStatistics heap;
  isolate_->GetHeapStatistics(&heap);
  size_t used = heap.used_heap_size();
  heap_.store(used);
  if (after_full_gc && !collecting_) {
    // What survived a full GC is live: that is what the budget bounds. The
    // heap is judged now; ArrayBuffers are freed by a sweeper after this
    // epilogue, so past the budget with them, a collection decides.
    if (used > limit_) {
      condemn();
    } else if (used + array_buffers_.load() > limit_) {
      over_budget();
    }
    force_gc_at_ = std::max(used, limit_) + limit_ / 2;
  }
}

void MemoryBudget::after_gc(v8::Isolate *, v8::GCType, v8::GCCallbackFlags, void *data) {
  static_cast<MemoryBudget *>(data)->measure_heap(true);
}

void MemoryBudget::on_interrupt(v8::Isolate *isolate, void *data) {
  auto *self = static_cast<MemoryBudget *>(data);
  // Sixty WebAssembly memories grown and written inside Wasm, in one run
  // of a 16m script under a 2 s CPU limit, took the worker to 990 MB of
  // RSS before the run ended and was judged.
  bool grew = self->before_check_ != nullptr && self->before_check_(self->before_check_arg_);
  self->measure_heap(false);
  if (grew && self->total() > self->limit_) {
    self->verify();
    return;
  }
  // The heap counts garbage too: past the budget by half again, a full GC
  // tells what is live (after_gc judges). Never more often than every half
  // budget of growth, so a script near its limit is not GC-bound.
  if (self->heap_.load() > self->force_gc_at_ && !self->condemned()) {
    self->force_gc_at_ = self->heap_.load() + self->limit_ / 2;
    isolate->MemoryPressureNotification(v8::MemoryPressureLevel::kCritical);
  }
}

void MemoryBudget::request_check() {
  if (isolate_) isolate_->RequestInterrupt(&MemoryBudget::on_interrupt, this);
}

bool MemoryBudget::check_after_run() {
  if (condemned()) return false;
  measure_heap(false);
  if (total() > limit_) {
    verify();
  } else if (heap_.load() > force_gc_at_) {
    isolate_->MemoryPressureNotification(v8::MemoryPressureLevel::kCritical);
  }
  return !condemned();
}

bool MemoryBudget::check_after_turn(double wall_ms) {
  // GetHeapStatistics walks every page of the heap, the string table and
  // the global handles (~1,650 Ir): worth skipping after the short turns a
  // request path is made of. ArrayBuffers are counted as they come.
  unmeasured_ms_ += wall_ms > 0 ? wall_ms : 0;
  if (!condemned() && unmeasured_ms_ <= kUnmeasuredRunsMs &&
      total() + kMaxUnseenHeap <= limit_) {
    return true;
  }
  return check_after_run();
}

void MemoryBudget::reduce() {
  // kCritical collects at once, with V8's reduce-memory flags; the level
  // goes back to none so its later GCs are ordinary ones. The epilogue
  // judges the budget as after any full GC.
  isolate_->MemoryPressureNotification(v8::MemoryPressureLevel::kCritical);
  isolate_->MemoryPressureNotification(v8::MemoryPressureLevel::kNone);
}

// Every collection V8 can do, its ArrayBuffer sweeping finished by the
// next one: what is counted afterwards is live.
void MemoryBudget::collect() {
  collecting_ = true;
  isolate_->LowMemoryNotification();
  collecting_ = false;
  measure_heap(false);
}

void MemoryBudget::verify() {
  verify_requested_.store(false);
  if (condemned() || isolate_ == nullptr) return;
  collect();
  if (total() > limit_) condemn();
}

void MemoryBudget::over_budget() {
  if (isolate_ && !verify_requested_.exchange(true)) {
    isolate_->RequestInterrupt(&MemoryBudget::on_over_budget, this);
  }
}

void MemoryBudget::on_over_budget(v8::Isolate *, void *data) {
  static_cast<MemoryBudget *>(data)->verify();
}

bool MemoryBudget::charge(size_t bytes) {
  if (bytes > available()) return false;
  array_buffers_.fetch_add(bytes);
  note_buffer(bytes);
  return true;
}

bool MemoryBudget::make_room(size_t bytes) {
  if (bytes <= available()) return true;
  if (bytes > limit_ || isolate_ == nullptr || collecting_) return false;
  collect();
  return bytes <= available();
}

size_t MemoryBudget::available() {
  if (isolate_) measure_heap(false);
  size_t used = total();
  return used >= limit_ ? 0 : limit_ - used;
}

bool MemoryBudget::reserve(size_t length) {
  if (length > limit_) return false;  // RangeError: can never fit
  size_t now = array_buffers_.fetch_add(length) + length;
  note_buffer(length);
  if (now + heap_.load() > limit_) over_budget();
  return true;
}

void *MemoryBudget::Allocate(size_t length) {
  if (!reserve(length)) return nullptr;
  void *p = calloc(length ? length : 1, 1);
  if (p == nullptr) array_buffers_.fetch_sub(length);
  return p;
}

void *MemoryBudget::AllocateUninitialized(size_t length) {
  if (!reserve(length)) return nullptr;
  void *p = malloc(length ? length : 1);
  if (p == nullptr) array_buffers_.fetch_sub(length);
  return p;
}

void MemoryBudget::Free(void *data, size_t length) {
  free(data);
  array_buffers_.fetch_sub(length);
}

void MemoryBudget::free_external(void *data, size_t length, void *budget) {
  free(data);
  static_cast<MemoryBudget *>(budget)->array_buffers_.fetch_sub(length);
}

v8::MaybeLocal<v8::ArrayBuffer> MemoryBudget::new_buffer(size_t len, const void *data) {
  size_t left = len > kMeasureAbove ? available()
                                    : (total() >= limit_ ? 0 : limit_ - total());
  if (len > left && len <= limit_ && !collecting_) {
    // What is counted may be garbage already (the pieces of a stream).
    collect();
    left = total() >= limit_ ? 0 : limit_ - total();
  }
  // V8 CHECK-fails (aborts) on a backing store or a view longer than this,
  // whatever dispatch_memory_limit allows: refused here, before V8 is asked.
  if (left > v8::TypedArray::kMaxLength) left = v8::TypedArray::kMaxLength;
  void *p = len <= left ? malloc(len ? len : 1) : nullptr;
  if (p == nullptr) {
    isolate_->ThrowException(v8::Exception::RangeError(v8::String::NewFromUtf8(
        isolate_, ("Cannot allocate " + std::to_string(len) + " bytes: the script has " +
                   std::to_string(left) + " bytes of its memory limit left").c_str())
        .ToLocalChecked()));
    return {};
  }
  // Without data it starts zeroed: a native that fills less than it asked
  // for (a failure half-way, a length counted twice) must not hand the
  // script what another tenant's freed buffer held there. memset, not
  // calloc: glibc's calloc skips the thread cache (~275 instructions more
  // for the few bytes of a hello-world Response's body).
  if (data != nullptr && len) {
    memcpy(p, data, len);
  } else if (len) {
    memset(p, 0, len);
  }
  array_buffers_.fetch_add(len);
  note_buffer(len);
  std::shared_ptr<v8::BackingStore> store =
      v8::ArrayBuffer::NewBackingStore(p, len, &MemoryBudget::free_external, this);
  return v8::ArrayBuffer::New(isolate_, std::move(store));
}

v8::MaybeLocal<v8::ArrayBuffer> new_array_buffer(v8::Isolate *isolate, const void *data,
                                                 size_t len) {
  // Every isolate of the engine is made with a MemoryBudget as its allocator.
  return static_cast<MemoryBudget *>(isolate->GetArrayBufferAllocator())->new_buffer(len, data);
}

}  // namespace dispatch
