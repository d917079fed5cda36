#include "page_recycler.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

namespace dispatch {

PageRecycler::PageRecycler(v8::PageAllocator *inner)
    : inner_(inner), os_page_(size_t(sysconf(_SC_PAGESIZE))) {}

// A chunk is reserved inaccessible and committed by SetPermissions: a kept
// one is handed out inaccessible too (the hint is only a hint).
void *PageRecycler::AllocatePages(void *hint, size_t length, size_t alignment,
                                  Permission permissions) {
  if (length != kChunk || alignment != kChunk) {
    return inner_->AllocatePages(hint, length, alignment, permissions);
  }
  void *chunk = nullptr;
  if (permissions == kNoAccess) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!kept_.empty()) {
      chunk = kept_.back();
      kept_.pop_back();
      handed_.insert(chunk);
      return chunk;
    }
  }
  chunk = inner_->AllocatePages(hint, length, alignment, permissions);
  if (chunk != nullptr && chunk_start(chunk)) {
    std::lock_guard<std::mutex> lock(mu_);
    handed_.insert(chunk);
  }
  return chunk;
}

// V8 uncommits a chunk it pools for itself: after each scavenge, the half
// of the new space it just emptied (V8 does so whenever the isolate
// allocates little per millisecond of wall time, which is every isolate of
// a worker with many tenants). Discarded, the next scavenge commits it
// again and faults in and zeroes every page the script allocates through
// (a fault per 4 KiB of allocation: with 1,000 tenants a fifth of a fault
// per request, and a VM's page faults are dear). Parked, the pages stay
// resident but inaccessible, and are zeroed in place when V8 commits the
// chunk again, as a discarded chunk would come back. Only whole chunks
// V8 took from here are parked, at most kMaxParked of them.
bool PageRecycler::SetPermissions(void *address, size_t length, Permission permissions) {
  std::lock_guard<std::mutex> lock(mu_);
  if (length != kChunk || !chunk_start(address)) {
    // Part of a parked chunk: V8 uses it otherwise than to commit it again
    // (not seen in V8 10.2); it gets the discarded pages it counts on, and
    // is never discarded under it later.
    if (!parked_.empty()) {
      uintptr_t first = reinterpret_cast<uintptr_t>(address) / kChunk * kChunk;
      for (uintptr_t c = first; c < reinterpret_cast<uintptr_t>(address) + length; c += kChunk) {
        auto at = parked_at_.find(reinterpret_cast<void *>(c));
        if (at != parked_at_.end()) unpark(at, true);
      }
    }
    return inner_->SetPermissions(address, length, permissions);
  }
  auto it = parked_at_.find(address);
  if (permissions == kNoAccess) {
    if (it != parked_at_.end()) return true;
    if (handed_.count(address) == 0 || mprotect(address, length, PROT_NONE) != 0) {
      return inner_->SetPermissions(address, length, permissions);
    }
    parked_.push_front(address);
    parked_at_.emplace(address, parked_.begin());
    // Past the bound, the longest parked is discarded, as V8 asked.
    if (parked_.size() > kMaxParked) unpark(parked_at_.find(parked_.back()), true);
    return true;
  }
  if (it == parked_at_.end()) return inner_->SetPermissions(address, length, permissions);
  bool writable = permissions == kReadWrite || permissions == kReadWriteExecute;
  unpark(it, !writable);
  if (!inner_->SetPermissions(address, length, permissions)) return false;
  if (writable) memset(address, 0, length);
  return true;
}

// discard: its pages dropped as V8 asked when it parked the chunk (what
// is not zeroed here must come back zero from the kernel).
void PageRecycler::unpark(std::unordered_map<void *, std::list<void *>::iterator>::iterator it,
                          bool discard) {
  if (discard) madvise(it->first, kChunk, MADV_DONTNEED);
  parked_.erase(it->second);
  parked_at_.erase(it);
}

size_t PageRecycler::parked_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return parked_.size() * kChunk;
}

// V8 is done with the whole mapping (from any of its threads): a chunk is
// kept, scrubbed, while there is room; anything else is unmapped.
bool PageRecycler::FreePages(void *address, size_t length) {
  if (chunk_start(address)) {
    std::lock_guard<std::mutex> lock(mu_);
    handed_.erase(address);
    auto it = parked_at_.find(address);
    if (it != parked_at_.end()) unpark(it, false);  // scrub() zeroes its resident pages
    // A chunk V8 shrank: its tail is freed with it.
    if (length < kChunk && shrunk_.erase(address) != 0) length = kChunk;
  }
  if (length == kChunk && chunk_start(address) &&
      kept() < kMaxKept && scrub(static_cast<unsigned char *>(address), length)) {
    std::lock_guard<std::mutex> lock(mu_);
    if (kept_.size() < kMaxKept) {
      kept_.push_back(address);
      return true;
    }
  }
  return inner_->FreePages(address, length);
}

// V8 shrinks a chunk to what it uses: after a snapshot is read, each space's
// pages of objects that never move (about three chunks an isolate).
// Unmapped, the tail would cost the chunk its place here when V8 frees the
// rest, and under churn a fifth of the chunks asked for came fresh from the
// kernel, every page of them faulted in. The tail is dropped from memory and
// made inaccessible instead, as good as unmapped, and FreePages takes the
// chunk back whole.
bool PageRecycler::ReleasePages(void *address, size_t length, size_t new_length) {
  auto *base = static_cast<unsigned char *>(address);
  if (chunk_start(address) && new_length < length && new_length % os_page_ == 0) {
    std::lock_guard<std::mutex> lock(mu_);
    if ((length == kChunk || shrunk_.count(address) != 0) &&
        madvise(base + new_length, length - new_length, MADV_DONTNEED) == 0 &&
        mprotect(base + new_length, length - new_length, PROT_NONE) == 0) {
      shrunk_.insert(address);
      return true;
    }
  }
  return inner_->ReleasePages(address, length, new_length);
}

void PageRecycler::release() {
  std::vector<void *> kept;
  {
    std::lock_guard<std::mutex> lock(mu_);
    kept.swap(kept_);
  }
  for (void *chunk : kept) inner_->FreePages(chunk, kChunk);
}

size_t PageRecycler::kept() const {
  std::lock_guard<std::mutex> lock(mu_);
  return kept_.size();
}

// Zero again, and inaccessible: the resident pages are cleared in place
// (that is what saves their faults next time); those not resident are
// dropped (a swapped-out page would otherwise come back with its data).
// False when the kernel refuses: the mapping is unmapped instead.
bool PageRecycler::scrub(unsigned char *base, size_t length) {
  size_t pages = length / os_page_;
  std::vector<unsigned char> resident(pages);
  if (mincore(base, length, resident.data()) != 0 ||
      mprotect(base, length, PROT_READ | PROT_WRITE) != 0) {
    return false;
  }
  for (size_t i = 0; i < pages;) {
    size_t end = i;
    bool in = resident[i] & 1;
    while (end < pages && bool(resident[end] & 1) == in) end++;
    if (in) {
      memset(base + i * os_page_, 0, (end - i) * os_page_);
    } else if (madvise(base + i * os_page_, (end - i) * os_page_, MADV_DONTNEED) != 0) {
      return false;
    }
    i = end;
  }
  return mprotect(base, length, PROT_NONE) == 0;
}

}  // namespace dispatch
