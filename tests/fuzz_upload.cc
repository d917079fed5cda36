// fuzz_upload.cc: libFuzzer target for the upload parsers (engine/src/upload.*):
// the multipart/form-data reader, the metadata JSON and the module paths;
// and the static assets' readers (engine/src/asset_upload.*): the body as
// a manifest and an assets config, as an upload token, as base64.
//
// An input is a Content-Type line, "\n", then the body; tests/fuzz/upload
// holds the seeds (curl's and wrangler's shapes). Built with clang only
// (tests/CMakeLists.txt); ctest runs it for at most 60 s.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <jansson.h>

#include "asset_rules.h"
#include "asset_upload.h"
#include "upload.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view input(reinterpret_cast<const char *>(data), size);
  size_t eol = input.find('\n');
  std::string_view content_type = input.substr(0, eol);
  std::string_view body = eol == std::string_view::npos ? std::string_view() : input.substr(eol + 1);

  std::string err;
  dispatch::Upload upload;
  if (dispatch::parse_upload(content_type, body, 1 << 20, &upload, &err)) {
    // What is accepted is safe to store (an assets-only upload has no main).
    bool assets_only = upload.has_assets && upload.main.empty() && upload.code.empty();
    if (!assets_only && !dispatch::module_path_valid(upload.main)) __builtin_trap();
    for (const auto &m : upload.modules) {
      if (!dispatch::module_path_valid(m.first)) __builtin_trap();
    }
    if (upload.size() > (1 << 20)) __builtin_trap();
  } else if (err.empty()) {
    __builtin_trap();  // a refusal always says why
  }

  // The parts reader alone, with small bounds, so they are reached.
  std::string boundary;
  if (dispatch::multipart_boundary(content_type, &boundary, &err)) {
    dispatch::MultipartLimits limits;
    limits.max_parts = 4;
    limits.max_header_bytes = 64;
    std::vector<dispatch::MultipartPart> parts;
    if (dispatch::multipart_parse(body, boundary, limits, &parts, &err)) {
      for (const auto &p : parts) {
        if (p.body.data() < body.data() || p.body.data() + p.body.size() > body.data() + body.size()) {
          __builtin_trap();
        }
      }
      if (parts.size() > limits.max_parts) __builtin_trap();
    }
  }

  // Static assets: the body as a manifest ({"/path": {hash, size}}) and as
  // an assets config; what is accepted holds only valid paths, hashes,
  // sizes.
  if (json_t *j = json_loadb(body.data(), body.size(), 0, nullptr)) {
    dispatch::AssetUploadManifest manifest;
    if (dispatch::parse_asset_manifest(j, &manifest, &err)) {
      if (manifest.size() > dispatch::kMaxAssetEntries) __builtin_trap();
      for (const auto &e : manifest) {
        if (!dispatch::asset_path_valid(e.first) || !dispatch::asset_hash_valid(e.second.hash) ||
            e.second.size > dispatch::kMaxAssetSize) {
          __builtin_trap();
        }
      }
      for (const auto &b : dispatch::asset_buckets(manifest, dispatch::asset_hashes(manifest))) {
        if (b.empty() || b.size() > dispatch::kMaxBucketFiles) __builtin_trap();
      }
    } else if (err.empty()) {
      __builtin_trap();
    }
    std::string config;
    dispatch::normalize_asset_config(j, &config, &err);
    json_decref(j);
  }
  // as _redirects and _headers: whatever they hold, a Location and a
  // header value carry no control byte, a header name is a token
  {
    dispatch::AssetRules rules;
    std::vector<dispatch::AssetRules::Problem> problems;
    std::string refusal;
    rules.parse_redirects(body, false, &problems);
    rules.parse_headers(body, false, &problems, &refusal);
    std::string first(body.substr(0, std::min(body.find('\n'), size_t(300))));
    auto control = [](const std::string &s, bool tab_ok) {
      for (char c : s) {
        unsigned char u = static_cast<unsigned char>(c);
        if ((u < 0x20 && !(tab_ok && u == '\t')) || u == 0x7f) return true;
      }
      return false;
    };
    for (const std::string &path : {"/" + first, first, std::string("/a/b.c")}) {
      dispatch::AssetRules::Redirect r = rules.redirect("https://h.example", "h.example", path, "?q");
      if (control(r.location, false) || control(r.rewrite, false)) __builtin_trap();
      dispatch::AssetRules::HeaderList list = {{"etag", "\"x\""}};
      rules.apply_headers("h.example", path, &list);
      for (const auto &h : list) {
        if (h.first.empty() || control(h.first, false) || h.first.find(':') != std::string::npos ||
            control(h.second, true)) {
          __builtin_trap();
        }
      }
    }
  }
  // as a token: one that parses names a session id of 32 hex digits and a
  // 256-bit secret
  dispatch::AssetToken token;
  if (dispatch::asset_token_parse(body, &token)) {
    if (!dispatch::asset_hash_valid(token.sid) || token.secret.size() != 32) __builtin_trap();
  }
  // as base64: strict decoding accepts one spelling per byte string
  std::string bytes;
  if (dispatch::base64_decode_strict(body, &bytes) &&
      dispatch::base64_encode(bytes, false) != body) {
    __builtin_trap();
  }
  return 0;
}
