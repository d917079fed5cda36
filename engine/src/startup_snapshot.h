// startup_snapshot.h: a V8 startup snapshot of a context with the built-ins
// already evaluated, made once in each worker process at start.
//
// Made in the process that uses it, by the V8 it runs (a blob built at build
// time aborts every worker after a libnode update), from the engine's own
// JavaScript only: no tenant code and no file ever goes into it. Every
// isolate deserializes its context instead of running install_builtins:
// the natives, the built-ins' factory run, the globals deleted, and the
// built-ins' api object kept as the context's snapshot data.
#pragma once

#include <v8.h>

#include <cstdint>
#include <functional>
#include <string>

namespace dispatch {

// A C++ address that objects in the snapshot point at (a native's callback,
// an external string's resource): V8 serializes it as its index in this
// table, which every isolate made from the snapshot is given.
void snapshot_reference(intptr_t address);
// The table, null-terminated; its entries never move or change.
const intptr_t *snapshot_references();

// What fills the snapshot's context: the lockdown, the natives and the
// built-ins' factory. Returns the api object, or empty with *err set.
using SnapshotFiller = std::function<v8::MaybeLocal<v8::Object>(v8::Local<v8::Context>,
                                                                std::string *err)>;

// Makes the process's snapshot (once). False with *err when V8 cannot: the
// engine then starts every isolate the old way.
bool snapshot_make(const SnapshotFiller &fill, std::string *err);

// The blob, or null when there is none.
v8::StartupData *snapshot_blob();

// The index of the api object in the snapshot's context data.
constexpr size_t kSnapshotApiIndex = 0;

}  // namespace dispatch
