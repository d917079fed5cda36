// compression.h: the zlib half of CompressionStream / DecompressionStream
// (engine/js/compression.js): gzip, deflate (the zlib format) and deflate-raw,
// both ways, incrementally, with output made only as it is asked for.
//
//   native.zlibCreate(format, decompress) -> handle
//   native.zlibWrite(handle, bytes)   the next input (copied; the previous
//                                     input must have been read out)
//   native.zlibEnd(handle)            no more input comes
//   native.zlibRead(handle) -> Uint8Array | null
//                                     the next piece of output (at most
//                                     kZlibPiece bytes), or null when the
//                                     input written so far gave all it
//                                     gives (after zlibEnd: the stream is
//                                     complete)
//   native.freeNative(handle)         (native_state.h) frees the state now
//
// Every piece, the pending input and zlib's own memory are charged to the
// isolate's budget, so a decompression bomb meets dispatch_memory_limit as a
// RangeError, or streams out in constant memory when its reader keeps up.
// Bad input (a wrong format, corrupt or truncated data, bytes after the end)
// is a TypeError; so is a handle that is not a live stream.
#pragma once

#include <v8.h>

#include <cstddef>

namespace dispatch {
constexpr size_t kZlibPiece = 64 * 1024;
void install_compression_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native);
}  // namespace dispatch
