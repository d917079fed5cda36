// request_table.h: the engine's requests in flight, by id.
//
// Ids are handed out in sequence and most requests live for a moment, so a
// table indexed by the id's low bits finds one at the first or second
// slot: no node allocated per request and no division by a prime per
// lookup, as std::unordered_map has (a request is looked up about five
// times). Open addressing, linear probing, deletion by backward shift (no
// tombstones), at most half full. Event-loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "request_scope.h"

namespace dispatch {

class RequestTable {
 public:
  RequestTable() : slots_(kInitialSlots) {}
  RequestTable(const RequestTable &) = delete;
  RequestTable &operator=(const RequestTable &) = delete;
  ~RequestTable() { clear(); }

  size_t size() const { return size_; }

  RequestScope *find(uint64_t id) const {
    if (id == 0) return nullptr;
    size_t mask = slots_.size() - 1;
    for (size_t i = size_t(id) & mask;; i = (i + 1) & mask) {
      const Slot &slot = slots_[i];
      if (slot.id == id) return slot.scope.get();
      if (slot.id == 0) return nullptr;
    }
  }

  // scope->id (never 0) must not be in the table.
  void insert(std::unique_ptr<RequestScope> scope) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    place(std::move(scope));
    size_++;
  }

  // Out of the table (null if it was not there); the caller lets it go,
  // once the table no longer holds it.
  std::unique_ptr<RequestScope> take(uint64_t id) {
    if (id == 0) return nullptr;
    size_t mask = slots_.size() - 1;
    size_t i = size_t(id) & mask;
    while (slots_[i].id != id) {
      if (slots_[i].id == 0) return nullptr;
      i = (i + 1) & mask;
    }
    std::unique_ptr<RequestScope> out = std::move(slots_[i].scope);
    slots_[i].id = 0;
    size_--;
    // Backward shift: each entry after the hole that may not stay past it
    // (its home slot is not cyclically in (hole, where it is]) moves in.
    for (size_t j = (i + 1) & mask; slots_[j].id != 0; j = (j + 1) & mask) {
      size_t home = size_t(slots_[j].id) & mask;
      bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
      if (stays) continue;
      slots_[i] = std::move(slots_[j]);
      slots_[j].id = 0;
      i = j;
    }
    return out;
  }

  // fn(RequestScope &) for each; fn must add or remove none.
  template <typename Fn>
  void each(Fn &&fn) const {
    for (const Slot &slot : slots_) {
      if (slot.id != 0) fn(*slot.scope);
    }
  }

  // Every one out of the table first, then let go of (a scope let go of
  // may look others up: it finds none).
  void clear() {
    std::vector<Slot> gone(kInitialSlots);
    gone.swap(slots_);
    size_ = 0;
  }

 private:
  static constexpr size_t kInitialSlots = 64;  // a power of two

  struct Slot {
    uint64_t id = 0;  // 0: empty
    std::unique_ptr<RequestScope> scope;
  };

  void place(std::unique_ptr<RequestScope> scope) {
    size_t mask = slots_.size() - 1;
    size_t i = size_t(scope->id) & mask;
    while (slots_[i].id != 0) i = (i + 1) & mask;
    slots_[i].id = scope->id;
    slots_[i].scope = std::move(scope);
  }

  void grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    for (Slot &slot : old) {
      if (slot.id != 0) place(std::move(slot.scope));
    }
  }

  std::vector<Slot> slots_;
  size_t size_ = 0;
};

}  // namespace dispatch
