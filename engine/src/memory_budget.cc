#include "memory_budget.h"

#include <cstdlib>

namespace dispatch {

namespace {
// Room a terminated script gets to unwind once the heap limit is reached;
// only what it actually allocates is ever used.
constexpr size_t kUnwindHeadroom = 256u << 20;
}  // namespace

void MemoryBudget::attach(v8::Isolate *isolate) {
  isolate_ = isolate;
  isolate->AddNearHeapLimitCallback(&MemoryBudget::near_heap_limit, this);
}

size_t MemoryBudget::near_heap_limit(void *data, size_t current, size_t) {
  auto *self = static_cast<MemoryBudget *>(data);
  self->condemned_.store(true);
  self->isolate_->TerminateExecution();
  return current + kUnwindHeadroom;
}

bool MemoryBudget::reserve(size_t length) {
  if (length > limit_) return false;  // RangeError: can never fit
  size_t now = array_buffers_.fetch_add(length) + length;
  if (now + heap_.load() > limit_ && !condemned_.exchange(true) && isolate_) {
    isolate_->TerminateExecution();
  }
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

}  // namespace dispatch
