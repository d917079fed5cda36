// memory_budget.h: what one isolate may hold, heap and ArrayBuffers.
//
// The heap is capped by V8's ResourceConstraints; a near-heap-limit callback
// grants headroom to unwind and terminates, so a heap bomb never aborts the
// worker. ArrayBuffer memory is outside the heap, so every isolate gets this
// counting allocator. It refuses (a catchable RangeError) only a single
// allocation larger than the whole budget: V8 turns some other refusals into
// a fatal process OOM. Past the budget it allocates anyway, condemns the
// isolate and terminates it; a condemned isolate is disposed.
#pragma once

#include <v8.h>

#include <atomic>
#include <cstddef>

namespace dispatch {

class MemoryBudget : public v8::ArrayBuffer::Allocator {
 public:
  explicit MemoryBudget(size_t limit) : limit_(limit) {}

  void attach(v8::Isolate *isolate);  // after the isolate exists

  void *Allocate(size_t length) override;
  void *AllocateUninitialized(size_t length) override;
  void Free(void *data, size_t length) override;

  bool condemned() const { return condemned_.load(); }
  size_t array_buffer_bytes() const { return array_buffers_.load(); }
  // The heap's size as of the end of the last run; the allocator counts it
  // against the same budget.
  void set_heap_bytes(size_t bytes) { heap_.store(bytes); }
  size_t heap_bytes() const { return heap_.load(); }
  size_t total() const { return array_buffer_bytes() + heap_bytes(); }

 private:
  bool reserve(size_t length);
  static size_t near_heap_limit(void *data, size_t current, size_t initial);

  const size_t limit_;
  v8::Isolate *isolate_ = nullptr;
  // Backing stores can be freed on V8's background threads.
  std::atomic<size_t> array_buffers_{0};
  std::atomic<size_t> heap_{0};
  std::atomic<bool> condemned_{false};
};

}  // namespace dispatch
