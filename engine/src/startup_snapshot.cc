#include "startup_snapshot.h"

#include <libplatform/libplatform.h>

#include <unordered_set>

#include "platform.h"

namespace dispatch {

namespace {

// A fixed table: V8 keeps the pointer, so it may grow (a native installed
// later by the old path) but never move. The natives number about 250.
constexpr size_t kMaxReferences = 2048;
intptr_t g_references[kMaxReferences + 1];  // zero-filled: null-terminated
size_t g_nreferences = 0;
bool g_references_full = false;

v8::StartupData g_blob{nullptr, 0};

}  // namespace

void snapshot_reference(intptr_t address) {
  static std::unordered_set<intptr_t> known;
  if (!known.insert(address).second) return;
  if (g_nreferences == kMaxReferences) {
    g_references_full = true;  // that snapshot would be incomplete: none is made
    return;
  }
  g_references[g_nreferences++] = address;
}

const intptr_t *snapshot_references() { return g_references; }

v8::StartupData *snapshot_blob() { return g_blob.data != nullptr ? &g_blob : nullptr; }

bool snapshot_make(const SnapshotFiller &fill, std::string *err) {
  if (g_blob.data != nullptr) return true;
  // The blob is this process's own, in its own memory: V8's checksum of it
  // at every isolate's start (an eighth of a cold start) guards nothing.
  // The flag also stops V8's checksums of code caches: code_cache.h keeps
  // its own.
  static const char kNoChecksum[] = "--no-verify-snapshot-checksum";
  v8::V8::SetFlagsFromString(kNoChecksum, sizeof(kNoChecksum) - 1);
  v8::StartupData blob{nullptr, 0};
  {
    // The creator's isolate has an ArrayBuffer allocator of V8's own and
    // the same process-wide flags as every isolate made from the blob.
    v8::SnapshotCreator creator(g_references);
    v8::Isolate *isolate = creator.GetIsolate();
    bool filled = false;
    {
      v8::HandleScope handle_scope(isolate);
      v8::Local<v8::Context> context = v8::Context::New(isolate);
      v8::Local<v8::Object> api;
      {
        v8::Context::Scope context_scope(context);
        v8::TryCatch try_catch(isolate);
        filled = fill(context, err).ToLocal(&api);
        // Nothing may be left queued: the blob holds no microtask queue.
        isolate->PerformMicrotaskCheckpoint();
      }
      if (filled && g_references_full) {
        *err = "more natives than the external reference table holds";
        filled = false;
      }
      if (filled) {
        creator.SetDefaultContext(context);
        if (creator.AddData(context, api) != kSnapshotApiIndex) {
          *err = "the api object is not the context's first snapshot data";
          filled = false;
        }
      }
    }
    if (filled) {
      // Compiled functions are kept: they are what a cold start would
      // compile again.
      blob = creator.CreateBlob(v8::SnapshotCreator::FunctionCodeHandling::kKeep);
    }
    v8::platform::NotifyIsolateShutdown(platform_get(), isolate);
    platform_forget(isolate);
    if (!filled) return false;  // the creator disposes its isolate
  }
  if (blob.data == nullptr || blob.raw_size <= 0) {
    *err = "V8 made no blob";
    return false;
  }
  // Hash tables in the blob are rehashed with each isolate's own seed only
  // if V8 can; otherwise every isolate of the worker would share one.
  if (!blob.CanBeRehashed()) {
    delete[] blob.data;
    *err = "the blob cannot be rehashed (its isolates would share a hash seed)";
    return false;
  }
  g_blob = blob;
  return true;
}

}  // namespace dispatch
