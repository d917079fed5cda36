#include "common_strings.h"

#include <cstdint>
#include <cstring>

namespace dispatch {

namespace {

// Exact bytes: a V8 string must be what the client sent, case included.
constexpr std::string_view kNames[] = {
    "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH",
    "Host", "host", "User-Agent", "user-agent", "Accept", "accept",
    "Accept-Encoding", "accept-encoding", "Accept-Language", "accept-language",
    "Connection", "connection", "Content-Type", "content-type",
    "Content-Length", "content-length", "Cookie", "cookie", "Referer", "referer",
    "Origin", "origin", "Authorization", "authorization", "Cache-Control", "cache-control",
    "Pragma", "pragma", "Upgrade-Insecure-Requests", "upgrade-insecure-requests",
    "If-None-Match", "if-none-match", "If-Modified-Since", "if-modified-since",
    "X-Forwarded-For", "x-forwarded-for", "X-Forwarded-Proto", "x-forwarded-proto",
    "X-Forwarded-Host", "x-forwarded-host", "X-Real-IP", "x-real-ip",
    "X-Request-ID", "x-request-id", "X-Requested-With", "x-requested-with",
    "Sec-Fetch-Site", "sec-fetch-site", "Sec-Fetch-Mode", "sec-fetch-mode",
    "Sec-Fetch-Dest", "sec-fetch-dest", "Sec-Fetch-User", "sec-fetch-user",
    "Sec-Ch-Ua", "sec-ch-ua", "Sec-Ch-Ua-Mobile", "sec-ch-ua-mobile",
    "Sec-Ch-Ua-Platform", "sec-ch-ua-platform", "Priority", "priority",
    "Range", "range", "DNT", "dnt", "TE", "te", "Via", "via",
    "CF-Connecting-IP", "cf-connecting-ip", "Keep-Alive"};
static_assert(sizeof(kNames) / sizeof(kNames[0]) == CommonStrings::kCount,
              "kCount is the number of names");

// Open addressing over a key of the length and the first and last bytes:
// a miss costs a probe or two and a memcmp, no hashing of the whole name.
constexpr size_t kSlots = 256;

constexpr size_t slot_of(std::string_view s) {
  return (s.size() * 31 + uint8_t(s.front()) * 7 + uint8_t(s.back()) * 3) & (kSlots - 1);
}

struct Table {
  std::array<uint8_t, kSlots> index{};  // kNames index + 1; 0: empty
  constexpr Table() {
    for (size_t i = 0; i < CommonStrings::kCount; i++) {
      size_t slot = slot_of(kNames[i]);
      while (index[slot] != 0) slot = (slot + 1) & (kSlots - 1);
      index[slot] = uint8_t(i + 1);
    }
  }
};

constexpr Table kTable;

}  // namespace

v8::Local<v8::String> CommonStrings::find(v8::Isolate *isolate, std::string_view bytes) {
  if (bytes.empty()) return {};
  for (size_t slot = slot_of(bytes);; slot = (slot + 1) & (kSlots - 1)) {
    size_t entry = kTable.index[slot];
    if (entry == 0) return {};
    std::string_view name = kNames[entry - 1];
    if (name.size() != bytes.size() || memcmp(name.data(), bytes.data(), bytes.size()) != 0) {
      continue;
    }
    v8::Eternal<v8::String> &made = made_[entry - 1];
    if (made.IsEmpty()) {
      v8::Local<v8::String> s;
      if (!v8::String::NewFromOneByte(isolate, reinterpret_cast<const uint8_t *>(name.data()),
                                      v8::NewStringType::kInternalized, int(name.size()))
               .ToLocal(&s)) {
        return {};
      }
      made.Set(isolate, s);
      return s;
    }
    return made.Get(isolate);
  }
}

}  // namespace dispatch
