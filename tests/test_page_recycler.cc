// tests/test_page_recycler.cc: PageRecycler (engine/src/page_recycler.h)
// over the default platform's page allocator, on real mappings: a chunk V8
// frees comes back to the next allocation zeroed, whatever it held.
#include <libplatform/libplatform.h>
#include <sys/mman.h>

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "page_recycler.h"

namespace {

int failures = 0;

void check(bool ok, const char *what) {
  std::printf("%s - %s\n", ok ? "ok" : "not ok", what);
  if (!ok) failures++;
}

using Perm = v8::PageAllocator::Permission;
constexpr size_t kChunk = dispatch::PageRecycler::kChunk;

unsigned char *take(dispatch::PageRecycler &pages) {
  void *p = pages.AllocatePages(nullptr, kChunk, kChunk, Perm::kNoAccess);
  if (p != nullptr && !pages.SetPermissions(p, kChunk, Perm::kReadWrite)) return nullptr;
  return static_cast<unsigned char *>(p);
}

bool all_zero(const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (p[i] != 0) return false;
  }
  return true;
}

// Whether any page of [p, p + n) is in memory.
bool resident(const unsigned char *p, size_t n) {
  std::vector<unsigned char> in(n / 4096);
  if (mincore(const_cast<unsigned char *>(p), n, in.data()) != 0) return false;
  for (unsigned char page : in) {
    if (page & 1) return true;
  }
  return false;
}

// Whether the process may read p: write(2) of it into a pipe fails with
// EFAULT on an inaccessible page, where a read would crash the test.
bool readable(const unsigned char *p) {
  int fds[2];
  if (pipe(fds) != 0) return true;
  bool ok = write(fds[1], p, 1) == 1;
  close(fds[0]);
  close(fds[1]);
  return ok;
}

}  // namespace

int main() {
  std::unique_ptr<v8::Platform> platform = v8::platform::NewDefaultPlatform();
  dispatch::PageRecycler pages(platform->GetPageAllocator());

  unsigned char *first = take(pages);
  check(first != nullptr, "a chunk is mapped");
  std::memset(first, 0xA5, kChunk);  // every page of it written: all resident
  check(pages.FreePages(first, kChunk), "a freed chunk is taken back");
  check(pages.kept() == 1, "and kept");
  unsigned char *again = take(pages);
  check(again == first, "the next chunk asked for is the kept one");
  check(again != nullptr && all_zero(again, kChunk), "every byte of it is zero again");

  // written in a few pages only, one of them handed back to the kernel the
  // way V8 uncommits (discarded, not resident): zero all the same
  std::memset(again + 4096, 0x5A, 100);
  std::memset(again + kChunk - 4096, 0x5A, 4096);
  std::memset(again + 8 * 4096, 0x5A, 4096);
  pages.DiscardSystemPages(again + 8 * 4096, 4096);
  check(pages.FreePages(again, kChunk), "a partly written chunk is taken back");
  unsigned char *third = take(pages);
  check(third == first && all_zero(third, kChunk), "and comes back all zero");
  check(pages.FreePages(third, kChunk), "freed again");

  // other sizes are not kept
  void *big = pages.AllocatePages(nullptr, 2 * kChunk, kChunk, Perm::kNoAccess);
  check(big != nullptr && pages.FreePages(big, 2 * kChunk), "a mapping of another size is freed");
  check(pages.kept() == 1, "and not kept");

  // a chunk V8 shrinks (its pages of objects that never move, once a
  // snapshot is read) is taken back whole when V8 frees what is left of it
  unsigned char *shrinking = take(pages);
  check(shrinking == first, "the kept chunk is handed out");
  std::memset(shrinking, 0xC3, kChunk);
  check(pages.ReleasePages(shrinking, kChunk, 128 << 10) &&
            pages.ReleasePages(shrinking, 128 << 10, 64 << 10),
        "a chunk is shrunk, twice");
  check(!resident(shrinking + (64 << 10), kChunk - (64 << 10)), "its tail holds no memory");
  check(pages.FreePages(shrinking, 64 << 10) && pages.kept() == 1,
        "freeing what is left of it keeps the whole chunk");
  unsigned char *whole = take(pages);
  check(whole == shrinking && whole != nullptr && all_zero(whole, kChunk),
        "and it comes back whole, every byte zero");
  check(pages.FreePages(whole, kChunk), "freed again");

  // bounded: past kMaxKept, freed chunks are unmapped (a shrunk one whole)
  std::vector<void *> many;
  for (size_t i = 0; i < dispatch::PageRecycler::kMaxKept + 8; i++) many.push_back(take(pages));
  check(pages.kept() == 0, "allocations use the kept chunk up first");
  void *last = many.back();
  many.pop_back();
  pages.ReleasePages(last, kChunk, 64 << 10);
  for (void *p : many) pages.FreePages(p, kChunk);
  check(pages.kept() == dispatch::PageRecycler::kMaxKept, "at most kMaxKept chunks are kept");
  std::vector<unsigned char> in(kChunk / 4096);
  check(pages.FreePages(last, 64 << 10) && mincore(last, kChunk, in.data()) != 0 && errno == ENOMEM,
        "a shrunk chunk past the bound is unmapped whole");

  // a chunk V8 uncommits (the half of a new space a scavenge emptied) is
  // parked: inaccessible, its pages resident; committed again, it is zero
  pages.release();
  unsigned char *semi = take(pages);
  std::memset(semi, 0x77, kChunk);
  check(pages.SetPermissions(semi, kChunk, Perm::kNoAccess), "a chunk is uncommitted");
  check(pages.parked_bytes() == kChunk, "it is parked");
  check(resident(semi, kChunk), "its pages stay in memory");
  check(!readable(semi), "and are inaccessible");
  check(pages.SetPermissions(semi, kChunk, Perm::kReadWrite), "and committed again");
  check(pages.parked_bytes() == 0 && resident(semi, kChunk), "no longer parked, still in memory");
  check(all_zero(semi, kChunk), "every byte of it zero, as a discarded chunk would be");
  check(pages.SetPermissions(semi, kChunk, Perm::kNoAccess) && pages.FreePages(semi, kChunk),
        "a parked chunk is freed");
  check(pages.parked_bytes() == 0 && pages.kept() == 1, "and kept, no longer parked");
  unsigned char *reused = take(pages);
  check(reused == semi && all_zero(reused, kChunk), "it comes back zero to the next isolate");

  // part of a parked chunk used otherwise: unparked, its pages discarded
  unsigned char *odd = take(pages);
  std::memset(odd, 0x42, kChunk);
  check(pages.SetPermissions(odd, kChunk, Perm::kNoAccess) && pages.parked_bytes() == kChunk, "parked again");
  check(pages.SetPermissions(odd + 4096, 4096, Perm::kReadWrite), "one page of it is made accessible");
  check(pages.parked_bytes() == 0 && !resident(odd, kChunk), "the chunk is unparked, its pages discarded");
  check(all_zero(odd + 4096, 4096), "that page reads zero");
  check(pages.FreePages(odd, kChunk), "and the chunk is freed");
  check(take(pages) == odd, "kept, it is handed out again");

  // a chunk-sized piece of a larger mapping (a code range's page, handed
  // out by V8's own sub-allocator) is discarded as V8 asks, not parked
  void *range = pages.AllocatePages(nullptr, 2 * kChunk, kChunk, Perm::kNoAccess);
  auto *piece = static_cast<unsigned char *>(range);
  check(range != nullptr && pages.SetPermissions(piece, kChunk, Perm::kReadWrite), "a piece of a range is committed");
  std::memset(piece, 0x99, kChunk);
  check(pages.SetPermissions(piece, kChunk, Perm::kNoAccess) && pages.parked_bytes() == 0,
        "uncommitted, it is not parked");
  check(!resident(piece, kChunk), "its pages are discarded");
  check(pages.FreePages(range, 2 * kChunk), "the range is freed");

  // bounded: past kMaxParked, the longest parked is discarded
  std::vector<unsigned char *> halves;
  for (size_t i = 0; i <= dispatch::PageRecycler::kMaxParked; i++) {
    unsigned char *c = take(pages);
    if (c == nullptr) break;
    c[0] = 1;
    halves.push_back(c);
  }
  for (unsigned char *c : halves) pages.SetPermissions(c, kChunk, Perm::kNoAccess);
  check(pages.parked_bytes() == dispatch::PageRecycler::kMaxParked * kChunk,
        "at most kMaxParked chunks are parked");
  check(!resident(halves.front(), kChunk) && resident(halves.back(), kChunk),
        "the first parked was discarded, the last is in memory");
  check(pages.SetPermissions(halves.front(), kChunk, Perm::kReadWrite) && all_zero(halves.front(), kChunk),
        "the discarded one commits again, zero");
  for (unsigned char *c : halves) pages.FreePages(c, kChunk);
  check(pages.parked_bytes() == 0, "freed, none is parked");

  // release(): every kept chunk goes back to the kernel
  pages.release();
  check(pages.kept() == 0, "release() gives every kept chunk back");
  unsigned char *fresh = take(pages);
  check(fresh != nullptr && all_zero(fresh, kChunk), "and a chunk is mapped afresh after it");
  check(pages.FreePages(fresh, kChunk) && pages.kept() == 1, "then kept again");

  std::printf("%s\n", failures == 0 ? "all passed" : "FAILED");
  return failures == 0 ? 0 : 1;
}
