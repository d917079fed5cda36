// page_recycler.h: V8's heap chunks, kept for the next isolate instead of
// given back to the kernel.
//
// Under churn every cold start maps about ten 256 KiB heap chunks and
// faults their pages in one by one: a third of the worker's CPU went to
// the kernel (mmap, page faults and zeroing them, munmap at disposal). A
// chunk V8 frees is scrubbed here and handed to the next isolate still
// mapped, its pages resident. Scrubbed means every byte zero again, as in
// a fresh mapping: the pages held another tenant's heap. Mappings of other
// sizes (code ranges, large objects) go to the default allocator as
// before. The platform (platform.cc) hands it to V8.
//
// A chunk V8 only uncommits to pool it for itself (each isolate's emptied
// half of its new space, after every scavenge) is parked: inaccessible but
// still resident, and zeroed in place when V8 commits it again, instead of
// discarded and faulted back in page by page (see SetPermissions).
#pragma once

#include <v8-platform.h>

#include <list>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace dispatch {

class PageRecycler final : public v8::PageAllocator {
 public:
  // V8 10.2's regular heap chunk (its Page::kPageSize, aligned to its size).
  static constexpr size_t kChunk = 256u << 10;
  // As many as the isolates disposed between two cold starts need (about
  // ten chunks each, 16 starts in one turn of the event loop under churn):
  // at most 64 MiB held in the worker's RSS.
  static constexpr size_t kMaxKept = 256;
  // Parked chunks at most (256 MiB): past it the longest parked is
  // discarded, as V8 would have done.
  static constexpr size_t kMaxParked = 1024;

  explicit PageRecycler(v8::PageAllocator *inner);

  size_t AllocatePageSize() override { return inner_->AllocatePageSize(); }
  size_t CommitPageSize() override { return inner_->CommitPageSize(); }
  void SetRandomMmapSeed(int64_t seed) override { inner_->SetRandomMmapSeed(seed); }
  void *GetRandomMmapAddr() override { return inner_->GetRandomMmapAddr(); }
  void *AllocatePages(void *hint, size_t length, size_t alignment,
                      Permission permissions) override;
  bool FreePages(void *address, size_t length) override;
  bool ReleasePages(void *address, size_t length, size_t new_length) override;
  bool SetPermissions(void *address, size_t length, Permission permissions) override;
  bool DiscardSystemPages(void *address, size_t size) override {
    return inner_->DiscardSystemPages(address, size);
  }
  bool DecommitPages(void *address, size_t size) override {
    return inner_->DecommitPages(address, size);
  }

  // Chunks kept now (for tests).
  size_t kept() const;
  // Bytes of the chunks parked now (see SetPermissions): isolate memory
  // V8 no longer counts.
  size_t parked_bytes() const;
  // Every kept chunk goes back to the kernel: the worker holds them only
  // while isolates come and go (isolate_pool.cc, after a quiet while).
  void release();

 private:
  bool scrub(unsigned char *base, size_t length);
  void unpark(std::unordered_map<void *, std::list<void *>::iterator>::iterator it, bool discard);
  bool chunk_start(const void *address) const {
    return reinterpret_cast<uintptr_t>(address) % kChunk == 0;
  }

  v8::PageAllocator *inner_;
  size_t os_page_;
  mutable std::mutex mu_;
  std::vector<void *> kept_;
  // Chunks V8 shrank whose tails are still ours (see ReleasePages).
  std::unordered_set<void *> shrunk_;
  // Chunks handed to V8 whole (AllocatePages) and not freed yet: the only
  // ones parked. A code range's pages reach SetPermissions through V8's own
  // sub-allocator, which counts on inaccessible pages being discarded.
  std::unordered_set<void *> handed_;
  // Parked chunks, most recently parked first, and where each is in it.
  std::list<void *> parked_;
  std::unordered_map<void *, std::list<void *>::iterator> parked_at_;
};

}  // namespace dispatch
