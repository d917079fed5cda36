#include "api/compression.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "memory_budget.h"
#include "native_state.h"
#include "tenant_isolate.h"
#include "v8_util.h"

namespace dispatch {

namespace {

// kDeflateAny: fetch()'s Content-Encoding: deflate, which servers send
// zlib-wrapped or raw; told apart by the first bytes, as browsers do.
enum class Format { kGzip, kDeflate, kDeflateRaw, kDeflateAny };

// Every allocation of zlib's is charged to the isolate's budget; a block
// carries its size in front so that zfree can refund it.
constexpr size_t kBlockHeader = 16;

class ZlibStream : public NativeState {
 public:
  static constexpr const char *kKind = "zlib";

  ZlibStream(MemoryBudget &budget, bool decompress)
      : NativeState(kKind), budget_(budget), decompress_(decompress) {
    memset(&z_, 0, sizeof(z_));
    z_.zalloc = &ZlibStream::alloc;
    z_.zfree = &ZlibStream::release;
    z_.opaque = this;
  }

  ~ZlibStream() override {
    if (initialized_) decompress_ ? inflateEnd(&z_) : deflateEnd(&z_);
    drop_input();
  }

  // Z_OK, or zlib's error (Z_MEM_ERROR when the budget refused its memory).
  int init(Format format) {
    if (format == Format::kDeflateAny && decompress_) {
      sniff_ = true;  // inflateInit2 once the first bytes tell which
      return Z_OK;
    }
    if (format == Format::kDeflateAny) format = Format::kDeflate;
    int bits = format == Format::kGzip ? 15 + 16 : format == Format::kDeflate ? 15 : -15;
    int rc = decompress_ ? inflateInit2(&z_, bits)
                         : deflateInit2(&z_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, bits, 8,
                                        Z_DEFAULT_STRATEGY);
    initialized_ = rc == Z_OK;
    return rc;
  }

  bool decompress() const { return decompress_; }
  bool ended() const { return ended_; }
  bool input_ended() const { return input_ended_; }
  bool input_pending() const { return consumed_ < input_len_; }
  void end_input() { input_ended_ = true; }

  // false when the budget cannot hold a copy of the bytes.
  bool set_input(const char *data, size_t len) {
    drop_input();
    if (len == 0) return true;
    if (!budget_.charge_collecting(len)) return false;
    input_ = static_cast<unsigned char *>(malloc(len));
    if (input_ == nullptr) {
      budget_.refund(len);
      return false;
    }
    memcpy(input_, data, len);
    input_len_ = len;
    return true;
  }

  // Runs zlib on what input is left into out (at most out_len bytes): Z_OK
  // with *produced set (ended() once the compressed stream is complete),
  // or zlib's error.
  int run(unsigned char *out, size_t out_len, size_t *produced) {
    if (sniff_) {
      *produced = 0;
      if (!input_pending()) return Z_OK;
      // RFC 1950: CM 8, CINFO at most 7, and the header a multiple of 31.
      unsigned b0 = input_[consumed_];
      unsigned b1 = input_len_ - consumed_ > 1 ? input_[consumed_ + 1] : 0;
      bool zlib = (b0 & 0x0f) == 8 && (b0 >> 4) <= 7 && (b0 * 256 + b1) % 31 == 0;
      sniff_ = false;
      int rc = inflateInit2(&z_, zlib ? 15 : -15);
      initialized_ = rc == Z_OK;
      if (rc != Z_OK) return rc;
    }
    // zlib counts in uInt: a larger input is given in parts.
    uInt given = uInt(std::min<size_t>(input_len_ - consumed_, UINT32_MAX));
    z_.next_in = input_ ? input_ + consumed_ : nullptr;
    z_.avail_in = given;
    z_.next_out = out;
    z_.avail_out = uInt(out_len);
    bool last = input_ended_ && given == input_len_ - consumed_;
    int rc = decompress_ ? inflate(&z_, Z_NO_FLUSH) : deflate(&z_, last ? Z_FINISH : Z_NO_FLUSH);
    consumed_ += given - z_.avail_in;
    *produced = out_len - z_.avail_out;
    if (!input_pending()) drop_input();
    if (rc == Z_STREAM_END) {
      ended_ = true;
      return Z_OK;
    }
    // Z_BUF_ERROR: no progress was possible (no input left, or nothing to
    // flush); not an error for a stream fed in pieces.
    return rc == Z_BUF_ERROR ? Z_OK : rc;
  }

  const char *message() const { return z_.msg; }

 private:
  void drop_input() {
    if (input_ == nullptr) return;
    free(input_);
    budget_.refund(input_len_);
    input_ = nullptr;
    input_len_ = consumed_ = 0;
  }

  static voidpf alloc(voidpf opaque, uInt items, uInt size) {
    auto *self = static_cast<ZlibStream *>(opaque);
    size_t bytes = size_t(items) * size_t(size) + kBlockHeader;
    if (!self->budget_.charge_collecting(bytes)) return Z_NULL;
    auto *block = static_cast<unsigned char *>(malloc(bytes));
    if (block == nullptr) {
      self->budget_.refund(bytes);
      return Z_NULL;
    }
    memcpy(block, &bytes, sizeof(bytes));
    return block + kBlockHeader;
  }

  static void release(voidpf opaque, voidpf address) {
    if (address == Z_NULL) return;
    auto *self = static_cast<ZlibStream *>(opaque);
    unsigned char *block = static_cast<unsigned char *>(address) - kBlockHeader;
    size_t bytes;
    memcpy(&bytes, block, sizeof(bytes));
    free(block);
    self->budget_.refund(bytes);
  }

  MemoryBudget &budget_;
  const bool decompress_;
  z_stream z_;
  bool initialized_ = false;
  bool sniff_ = false;        // kDeflateAny before its first bytes
  bool ended_ = false;        // the compressed stream is complete
  bool input_ended_ = false;  // zlibEnd: no more input comes
  unsigned char *input_ = nullptr;
  size_t input_len_ = 0;
  size_t consumed_ = 0;
};

void throw_type_error(v8::Isolate *isolate, const std::string &msg) {
  isolate->ThrowException(v8::Exception::TypeError(v8_str(isolate, msg)));
}

void throw_range_error(v8::Isolate *isolate, const std::string &msg) {
  isolate->ThrowException(v8::Exception::RangeError(v8_str(isolate, msg)));
}

// The stream behind info[0], or null with a TypeError thrown.
ZlibStream *stream_arg(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  ZlibStream *stream =
      info.Length() >= 1 ? NativeStates::unwrap<ZlibStream>(isolate, info[0]) : nullptr;
  if (stream == nullptr) throw_type_error(isolate, "The compression stream is closed");
  return stream;
}

// zlibCreate(format, decompress) -> handle
void zlib_create(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  std::string name = info.Length() >= 1 && info[0]->IsString()
                         ? to_std_string(isolate, info[0]) : std::string();
  Format format;
  if (name == "gzip") {
    format = Format::kGzip;
  } else if (name == "deflate") {
    format = Format::kDeflate;
  } else if (name == "deflate-raw") {
    format = Format::kDeflateRaw;
  } else if (name == "deflate-any") {  // the built-ins' fetch() only
    format = Format::kDeflateAny;
  } else {
    throw_type_error(isolate, "The compression format must be 'gzip', 'deflate' or 'deflate-raw'");
    return;
  }
  bool decompress = info.Length() >= 2 && info[1]->IsTrue();
  auto stream = std::make_unique<ZlibStream>(TenantIsolate::from(isolate)->budget(), decompress);
  int rc = stream->init(format);
  if (rc == Z_MEM_ERROR) {
    throw_range_error(isolate, "The script's memory limit has no room for another compression stream");
    return;
  }
  if (rc != Z_OK) {
    throw_type_error(isolate, "The compression stream could not be started");
    return;
  }
  info.GetReturnValue().Set(native_states(isolate).wrap(isolate, std::move(stream)));
}

// zlibWrite(handle, bytes): the next input; the previous must have been read out.
void zlib_write(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  ZlibStream *stream = stream_arg(info);
  if (stream == nullptr) return;
  const char *data = nullptr;
  size_t len = 0;
  if (info.Length() < 2 || !buffer_source_bytes(info[1], &data, &len)) {
    throw_type_error(isolate, "The chunk must be an ArrayBuffer or an ArrayBufferView");
    return;
  }
  if (stream->input_ended()) {
    throw_type_error(isolate, "The stream is closed: no more chunks may be written");
    return;
  }
  if (stream->input_pending()) {
    throw_type_error(isolate, "The previous chunk has not been read out yet");
    return;
  }
  if (len > 0 && stream->decompress() && stream->ended()) {
    throw_type_error(isolate, "Trailing bytes after end of compressed data");
    return;
  }
  if (!stream->set_input(data, len)) {
    throw_range_error(isolate, "Cannot hold a chunk of " + std::to_string(len) +
                                   " bytes: it does not fit what is left of the script's memory limit");
  }
}

// zlibEnd(handle): no more input comes.
void zlib_end(const v8::FunctionCallbackInfo<v8::Value> &info) {
  if (ZlibStream *stream = stream_arg(info)) stream->end_input();
}

// zlibRead(handle) -> the next piece of output, or null.
void zlib_read(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  ZlibStream *stream = stream_arg(info);
  if (stream == nullptr) return;
  // One thread runs the isolate; the piece is copied out before anything
  // else can run.
  static thread_local unsigned char piece[kZlibPiece];
  size_t produced = 0;
  if (!stream->ended()) {
    int rc = stream->run(piece, sizeof(piece), &produced);
    if (rc == Z_MEM_ERROR) {
      throw_range_error(isolate, "The script's memory limit has no room for the compression stream");
      return;
    }
    if (rc == Z_NEED_DICT) {
      throw_type_error(isolate, "Decompression failed: the data needs a preset dictionary");
      return;
    }
    if (rc != Z_OK) {
      const char *why = stream->message();
      throw_type_error(isolate, std::string(stream->decompress() ? "Decompression" : "Compression") +
                                    " failed: " + (why ? why : "invalid data"));
      return;
    }
  }
  if (stream->decompress() && stream->ended() && stream->input_pending()) {
    throw_type_error(isolate, "Trailing bytes after end of compressed data");
    return;
  }
  if (produced == 0) {
    if (stream->input_ended() && !stream->ended()) {
      if (stream->decompress()) {
        throw_type_error(isolate, "Called close() on a decompression stream with incomplete data");
        return;
      }
      // deflate() with Z_FINISH always produces its trailer: unreachable.
      throw_type_error(isolate, "Compression failed: the stream did not finish");
      return;
    }
    info.GetReturnValue().SetNull();
    return;
  }
  // Garbage pieces of a reader that keeps up are collected to make room.
  if (!TenantIsolate::from(isolate)->budget().make_room(produced)) {
    throw_range_error(isolate, "Cannot allocate " + std::to_string(produced) +
                                   " bytes of output: the script's memory limit is reached");
    return;
  }
  v8::Local<v8::ArrayBuffer> buffer;
  if (!new_array_buffer(isolate, piece, produced).ToLocal(&buffer)) return;
  info.GetReturnValue().Set(v8::Uint8Array::New(buffer, 0, produced));
}

}  // namespace

void install_compression_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native) {
  set_function(context, native, "zlibCreate", zlib_create);
  set_function(context, native, "zlibWrite", zlib_write);
  set_function(context, native, "zlibEnd", zlib_end);
  set_function(context, native, "zlibRead", zlib_read);
}

}  // namespace dispatch
