// upload.h: a script upload of the management API (SPEC 4): the
// multipart/form-data body wrangler, curl and Cloudflare's SDK send, read
// into what SPEC 3 stores.
//
// Everything is bounded: the number of parts, the size of a part's headers,
// the boundary; every scan moves forward only (the parser is fuzzed:
// tests/fuzz_upload.cc). No V8 here: compiling the result is the caller's.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

struct json_t;

namespace dispatch {

struct MultipartPart {
  std::string name;          // Content-Disposition name=
  std::string filename;      // Content-Disposition filename=, may be empty
  bool has_filename = false;
  std::string content_type;  // lower case, without parameters
  std::string content_type_header;  // the Content-Type as given (trimmed)
  std::string_view body;     // into the request body
};

struct MultipartLimits {
  size_t max_parts = 256;
  size_t max_header_bytes = 8192;  // all header lines of one part
};

// The boundary= of a multipart/form-data Content-Type (quoted or not,
// 1-70 characters, RFC 2046). False with the reason in *err.
bool multipart_boundary(std::string_view content_type, std::string *boundary,
                        std::string *err);

// The parts of body, in order. False with the reason in *err.
bool multipart_parse(std::string_view body, std::string_view boundary,
                     const MultipartLimits &limits, std::vector<MultipartPart> *parts,
                     std::string *err);

// A module path a script may have: 1-256 bytes, relative, no "." or ".."
// segment, no empty segment, no NUL, backslash or control byte.
bool module_path_valid(std::string_view path);
// Every '/'-separated segment of path is non-empty, not "." nor "..".
bool relative_segments_valid(std::string_view path);

// What SPEC 3 stores for one script, from an upload.
struct Upload {
  std::string format;    // "module" or "service-worker"
  std::string main;      // the main module's path
  std::string code;      // its source
  std::map<std::string, std::string> modules;  // the others, by path
  // application/wasm parts, by path: their bytes as uploaded, compiled by
  // the engine when the script imports them (SPEC 3's wasm:PATH fields).
  std::map<std::string, std::string> wasm_modules;
  std::string metadata;  // JSON object to store (main_module/body_part set)
  std::vector<std::string> keep_bindings;      // binding types to carry over
  // metadata.assets (static assets, asset_upload.h): the completion token
  // of an upload session and the normalized config; keep_assets keeps the
  // previous version's. An assets-only upload has no main module: format
  // "module", main and code empty.
  bool has_assets = false;
  std::string assets_jwt;
  std::string assets_config;  // normalized JSON
  // lines of its _redirects / _headers that are not rules (skipped)
  std::vector<std::string> assets_warnings;
  bool keep_assets = false;
  size_t size() const;
};

// Reads an upload. On failure returns false with a message for the client
// (the status is always 400).
bool parse_upload(std::string_view content_type, std::string_view body, size_t max_size,
                  Upload *out, std::string *err);

// Checks a metadata.bindings array: each one has a known type and the
// fields it needs, and no two share a name. False with the reason in *err.
bool bindings_valid(const json_t *bindings, std::string *err);

// A tags array: at most 8 non-empty strings.
bool tags_valid(const json_t *tags);

}  // namespace dispatch
