#include "upload.h"

#include <jansson.h>

#include "asset_upload.h"

#include <cstring>
#include <memory>
#include <set>

namespace dispatch {

namespace {

using JsonPtr = std::unique_ptr<json_t, void (*)(json_t *)>;

constexpr size_t kMaxBoundary = 70;  // RFC 2046
constexpr size_t kMaxModulePath = 256;
constexpr size_t kMaxTags = 8;
constexpr size_t kMaxTagLength = 256;
constexpr size_t kMaxBindingName = 256;

char lower(char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char &c : out) c = lower(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Header parameters after the first ';': name=token or name="quoted".
// Calls fn(name, value) for each; false when malformed.
template <typename Fn>
bool each_param(std::string_view s, Fn &&fn) {
  size_t semi = s.find(';');
  if (semi == std::string_view::npos) return true;
  size_t i = semi + 1;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == ';')) i++;
    if (i >= s.size()) break;
    size_t eq = i;
    while (eq < s.size() && s[eq] != '=' && s[eq] != ';') eq++;
    std::string_view name = trim(s.substr(i, eq - i));
    if (eq >= s.size() || s[eq] == ';') {  // a bare token: nothing to take
      i = eq;
      continue;
    }
    i = eq + 1;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) i++;
    std::string value;
    if (i < s.size() && s[i] == '"') {
      i++;
      bool closed = false;
      while (i < s.size()) {
        char c = s[i++];
        if (c == '\\' && i < s.size()) {
          value += s[i++];
        } else if (c == '"') {
          closed = true;
          break;
        } else {
          value += c;
        }
      }
      if (!closed) return false;
    } else {
      size_t end = i;
      while (end < s.size() && s[end] != ';') end++;
      value = std::string(trim(s.substr(i, end - i)));
      i = end;
    }
    fn(lowercase(name), value);
  }
  return true;
}

std::string_view media_type(std::string_view value) {
  return trim(value.substr(0, value.find(';')));
}

bool read_part_headers(std::string_view block, MultipartPart *part, std::string *err) {
  bool disposition = false;
  size_t pos = 0;
  while (pos < block.size()) {
    size_t eol = block.find("\r\n", pos);
    if (eol == std::string_view::npos) eol = block.size();
    std::string_view line = block.substr(pos, eol - pos);
    pos = eol + 2;
    if (line.empty()) continue;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      *err = "a part has a malformed header line";
      return false;
    }
    std::string_view name = trim(line.substr(0, colon));
    std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "content-disposition")) {
      if (!iequals(media_type(value), "form-data")) {
        *err = "a part's Content-Disposition is not form-data";
        return false;
      }
      bool ok = each_param(value, [&](const std::string &p, const std::string &v) {
        if (p == "name") {
          part->name = v;
        } else if (p == "filename") {
          part->filename = v;
          part->has_filename = true;
        }
      });
      if (!ok) {
        *err = "a part's Content-Disposition has an unterminated quoted string";
        return false;
      }
      disposition = true;
    } else if (iequals(name, "content-type")) {
      part->content_type = lowercase(media_type(value));
      part->content_type_header = std::string(value);
    }
  }
  if (!disposition) {
    *err = "a part has no Content-Disposition";
    return false;
  }
  return true;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// A text module (text/plain) or a data module (application/octet-stream that
// is not JavaScript) becomes the ES module Workers makes of it.
std::string text_module(std::string_view text) {
  JsonPtr s(json_stringn_nocheck(text.data(), text.size()), json_decref);
  char *dumped = json_dumps(s.get(), JSON_ENCODE_ANY);
  std::string out = std::string("export default ") + (dumped ? dumped : "\"\"") + ";\n";
  free(dumped);
  return out;
}

std::string data_module(std::string_view bytes) {
  return "const b = atob(\"" + base64_encode(bytes, false) +
         "\");\nconst a = new Uint8Array(b.length);\n"
         "for (let i = 0; i < b.length; i++) a[i] = b.charCodeAt(i);\n"
         "export default a.buffer;\n";
}

bool js_path(std::string_view path) {
  return ends_with(path, ".js") || ends_with(path, ".mjs") || ends_with(path, ".cjs");
}

bool js_type(const std::string &type) {
  return type == "application/javascript+module" || type == "application/javascript" ||
         type == "text/javascript" || type == "application/x-javascript";
}

bool valid_kv_id(const char *id) {
  size_t n = strlen(id);
  if (n < 1 || n > 64) return false;
  for (size_t i = 0; i < n; i++) {
    char c = id[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '-' || c == '_')) {
      return false;
    }
  }
  return true;
}

bool string_array(const json_t *a, size_t max_items, size_t max_len) {
  if (!json_is_array(a) || json_array_size(a) > max_items) return false;
  size_t i;
  json_t *v;
  json_array_foreach(a, i, v) {
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max_len) {
      return false;
    }
  }
  return true;
}

}  // namespace

size_t Upload::size() const {
  size_t total = code.size();
  for (const auto &m : modules) total += m.second.size();
  for (const auto &m : wasm_modules) total += m.second.size();
  return total;
}

bool multipart_boundary(std::string_view content_type, std::string *boundary, std::string *err) {
  if (!iequals(media_type(content_type), "multipart/form-data")) {
    *err = "the upload must be multipart/form-data";
    return false;
  }
  boundary->clear();
  bool ok = each_param(content_type, [&](const std::string &p, const std::string &v) {
    if (p == "boundary") *boundary = v;
  });
  if (!ok || boundary->empty() || boundary->size() > kMaxBoundary) {
    *err = "the multipart/form-data Content-Type has no valid boundary";
    return false;
  }
  for (char c : *boundary) {
    if (c == '\r' || c == '\n' || c == '\0') {
      *err = "the multipart/form-data Content-Type has no valid boundary";
      return false;
    }
  }
  return true;
}

bool multipart_parse(std::string_view body, std::string_view boundary,
                     const MultipartLimits &limits, std::vector<MultipartPart> *parts,
                     std::string *err) {
  parts->clear();
  std::string delimiter = "--" + std::string(boundary);
  std::string next_delimiter = "\r\n" + delimiter;

  // The first delimiter opens the body, or follows a preamble and a CRLF.
  size_t pos;
  if (body.substr(0, delimiter.size()) == delimiter) {
    pos = 0;
  } else {
    pos = body.find(next_delimiter);
    if (pos == std::string_view::npos) {
      *err = "the multipart body has no part (its boundary never appears)";
      return false;
    }
    pos += 2;
  }

  for (;;) {
    pos += delimiter.size();
    if (body.substr(pos, 2) == "--") return true;  // the close delimiter
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) pos++;
    if (body.substr(pos, 2) != "\r\n") {
      *err = "a multipart boundary is not followed by CRLF";
      return false;
    }
    pos += 2;
    if (parts->size() >= limits.max_parts) {
      *err = "the upload has more than " + std::to_string(limits.max_parts) + " parts";
      return false;
    }

    // Headers: up to an empty line, within the bound.
    MultipartPart part;
    size_t headers_end;
    if (body.substr(pos, 2) == "\r\n") {
      headers_end = pos;
    } else {
      std::string_view window = body.substr(pos, limits.max_header_bytes + 4);
      size_t blank = window.find("\r\n\r\n");
      if (blank == std::string_view::npos) {
        *err = window.size() > limits.max_header_bytes
                   ? "a part's headers are longer than " +
                         std::to_string(limits.max_header_bytes) + " bytes"
                   : "a part's headers are not terminated";
        return false;
      }
      headers_end = pos + blank + 2;
    }
    if (!read_part_headers(body.substr(pos, headers_end - pos), &part, err)) return false;
    size_t content = headers_end + 2;

    size_t end = body.find(next_delimiter, content);
    if (end == std::string_view::npos) {
      *err = "a part is not terminated by the boundary";
      return false;
    }
    part.body = body.substr(content, end - content);
    parts->push_back(std::move(part));
    pos = end + 2;
  }
}

bool module_path_valid(std::string_view path) {
  if (path.empty() || path.size() > kMaxModulePath || path.front() == '/') return false;
  if (!relative_segments_valid(path)) return false;
  for (char c : path) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '\\') return false;
  }
  return true;
}

bool relative_segments_valid(std::string_view path) {
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view segment = path.substr(start, slash - start);
    if (segment.empty() || segment == "." || segment == "..") return false;
    start = slash + 1;
  }
  return true;
}

bool bindings_valid(const json_t *bindings, std::string *err) {
  if (!json_is_array(bindings)) {
    *err = "metadata.bindings must be an array";
    return false;
  }
  std::set<std::string> names;
  int assets_bindings = 0;
  size_t i;
  json_t *b;
  json_array_foreach(bindings, i, b) {
    const char *type = json_string_value(json_object_get(b, "type"));
    const char *name = json_string_value(json_object_get(b, "name"));
    if (!json_is_object(b) || type == nullptr || name == nullptr || *name == '\0' ||
        strlen(name) > kMaxBindingName) {
      *err = "binding " + std::to_string(i) + " needs a type and a name";
      return false;
    }
    std::string what = std::string("binding \"") + name + "\"";
    if (!names.insert(name).second) {
      *err = what + " appears twice";
      return false;
    }
    if (strcmp(type, "plain_text") == 0 || strcmp(type, "secret_text") == 0) {
      if (!json_is_string(json_object_get(b, "text"))) {
        *err = what + " (" + type + ") needs a text";
        return false;
      }
    } else if (strcmp(type, "json") == 0) {
      if (json_object_get(b, "json") == nullptr) {
        *err = what + " (json) needs a json value";
        return false;
      }
    } else if (strcmp(type, "kv_namespace") == 0) {
      const char *id = json_string_value(json_object_get(b, "namespace_id"));
      if (id == nullptr || !valid_kv_id(id)) {
        *err = what + " (kv_namespace) needs a namespace_id of 1-64 characters of "
               "A-Z a-z 0-9 - _";
        return false;
      }
    } else if (strcmp(type, "dispatch_namespace") == 0) {
      if (!json_is_string(json_object_get(b, "namespace"))) {
        *err = what + " (dispatch_namespace) needs a namespace";
        return false;
      }
    } else if (strcmp(type, "service") == 0) {
      // Another script of the uploader's own namespace (README Bindings);
      // its name's syntax is checked where the scratch isolate starts.
      if (!json_is_string(json_object_get(b, "service"))) {
        *err = what + " (service) needs a service";
        return false;
      }
    } else if (strcmp(type, "inherit") == 0) {
      // resolved against the version it replaces
    } else if (strcmp(type, "assets") == 0) {
      // the script's static assets (env.NAME, a Fetcher): one at most
      if (assets_bindings++ > 0) {
        *err = what + " is a second assets binding (a script has one at most)";
        return false;
      }
    } else {
      *err = what + " has the unknown binding type \"" + type + "\"";
      return false;
    }
  }
  return true;
}

bool tags_valid(const json_t *tags) { return string_array(tags, kMaxTags, kMaxTagLength); }

bool parse_upload(std::string_view content_type, std::string_view body, size_t max_size,
                  Upload *out, std::string *err) {
  std::string boundary;
  std::vector<MultipartPart> parts;
  if (!multipart_boundary(content_type, &boundary, err) ||
      !multipart_parse(body, boundary, MultipartLimits(), &parts, err)) {
    return false;
  }

  const MultipartPart *meta_part = nullptr;
  for (const auto &p : parts) {
    if (p.name == "metadata") {
      if (meta_part != nullptr) {
        *err = "the upload has two metadata parts";
        return false;
      }
      meta_part = &p;
    }
  }
  if (meta_part == nullptr) {
    *err = "the upload has no metadata part";
    return false;
  }
  json_error_t jerr;
  JsonPtr meta(json_loadb(meta_part->body.data(), meta_part->body.size(), JSON_REJECT_DUPLICATES,
                          &jerr),
               json_decref);
  if (!meta || !json_is_object(meta.get())) {
    *err = meta ? std::string("metadata is not a JSON object")
                : std::string("metadata is not valid JSON: ") + jerr.text;
    return false;
  }

  // Static assets: the completion token of an upload session, or
  // keep_assets (the previous version's).
  out->has_assets = false;
  out->keep_assets = false;
  if (json_t *k = json_object_get(meta.get(), "keep_assets")) {
    if (!json_is_boolean(k)) {
      *err = "metadata.keep_assets must be a boolean";
      return false;
    }
    out->keep_assets = json_is_true(k);
  }
  if (json_t *a = json_object_get(meta.get(), "assets")) {
    const char *jwt = json_string_value(json_object_get(a, "jwt"));
    if (!json_is_object(a) || jwt == nullptr || *jwt == '\0') {
      *err = "metadata.assets must be {\"jwt\": COMPLETION_TOKEN, \"config\": {...}}";
      return false;
    }
    if (!normalize_asset_config(json_object_get(a, "config"), &out->assets_config, err,
                                &out->assets_warnings)) {
      return false;
    }
    out->has_assets = true;
    out->assets_jwt = jwt;
  }

  const char *main_module = json_string_value(json_object_get(meta.get(), "main_module"));
  const char *body_part = json_string_value(json_object_get(meta.get(), "body_part"));
  bool assets_only = out->has_assets && main_module == nullptr && body_part == nullptr &&
                     parts.size() == 1;
  if (!assets_only && (main_module == nullptr) == (body_part == nullptr)) {
    *err = "metadata needs main_module (ES modules) or body_part (service worker), "
           "one of them";
    return false;
  }
  out->format = main_module || assets_only ? "module" : "service-worker";
  out->main = main_module ? main_module : body_part ? body_part : "";
  if (!assets_only && !module_path_valid(out->main)) {
    *err = "the main module's name \"" + out->main + "\" is not a safe module path";
    return false;
  }

  // What is stored: the fields this platform knows, checked.
  JsonPtr stored(json_object(), json_decref);
  if (!assets_only) {
    json_object_set_new(stored.get(), main_module ? "main_module" : "body_part",
                        json_string(out->main.c_str()));
  }
  if (json_t *b = json_object_get(meta.get(), "bindings")) {
    if (!bindings_valid(b, err)) return false;
    json_object_set(stored.get(), "bindings", b);
  }
  if (json_t *d = json_object_get(meta.get(), "compatibility_date")) {
    if (!json_is_string(d)) {
      *err = "metadata.compatibility_date must be a string (YYYY-MM-DD)";
      return false;
    }
    json_object_set(stored.get(), "compatibility_date", d);
  }
  if (json_t *f = json_object_get(meta.get(), "compatibility_flags")) {
    if (!string_array(f, 64, 128)) {
      *err = "metadata.compatibility_flags must be an array of strings";
      return false;
    }
    json_object_set(stored.get(), "compatibility_flags", f);
  }
  if (json_t *t = json_object_get(meta.get(), "tags")) {
    if (!tags_valid(t)) {
      *err = "metadata.tags must be an array of at most 8 non-empty strings";
      return false;
    }
    json_object_set(stored.get(), "tags", t);
  }
  if (json_t *l = json_object_get(meta.get(), "limits")) {
    json_t *cpu = json_object_get(l, "cpu_ms");
    json_t *sub = json_object_get(l, "subrequests");
    if (!json_is_object(l) || (cpu && (!json_is_number(cpu) || json_number_value(cpu) < 0)) ||
        (sub && (!json_is_number(sub) || json_number_value(sub) < 0))) {
      *err = "metadata.limits must be {\"cpu_ms\":N,\"subrequests\":N} with N >= 0";
      return false;
    }
    json_object_set(stored.get(), "limits", l);
  }
  if (json_t *u = json_object_get(meta.get(), "usage_model")) {
    if (json_is_string(u)) json_object_set(stored.get(), "usage_model", u);
  }
  out->keep_bindings.clear();
  if (json_t *k = json_object_get(meta.get(), "keep_bindings")) {
    if (!string_array(k, 64, 64)) {
      *err = "metadata.keep_bindings must be an array of binding types";
      return false;
    }
    size_t i;
    json_t *v;
    json_array_foreach(k, i, v) out->keep_bindings.emplace_back(json_string_value(v));
  }

  // The modules, by filename or else part name.
  bool found_main = false;
  out->modules.clear();
  out->wasm_modules.clear();
  for (const auto &p : parts) {
    if (&p == meta_part) continue;
    std::string path = p.has_filename && !p.filename.empty() ? p.filename : p.name;
    const std::string &type = p.content_type;
    if (type == "application/source-map" || ends_with(path, ".map")) continue;  // ignored
    if (!module_path_valid(path)) {
      *err = "the module name \"" + path.substr(0, 256) + "\" is not a safe module path "
             "(relative, no \".\" or \"..\" segments, no control bytes)";
      return false;
    }
    // The main module is named by its path, or (body_part, as Cloudflare
    // defines it) by the name of its part.
    bool is_main = path == out->main || p.name == out->main;
    if (is_main && found_main) {
      *err = "the module \"" + path + "\" is uploaded twice";
      return false;
    }
    // A Wasm part is kept as bytes: the engine compiles it (never the
    // script), and only an ES module can import it.
    bool wasm = type == "application/wasm" && !is_main;
    if (wasm && out->format != "module") {
      *err = "the WebAssembly module \"" + path + "\" can only be imported by an ES module "
             "script (main_module), not a service worker (body_part)";
      return false;
    }
    std::string source;
    if (wasm) {
      source = std::string(p.body);
    } else if (is_main || js_type(type) ||
               (js_path(path) && (type.empty() || type == "application/octet-stream"))) {
      source = std::string(p.body);
    } else if (type == "text/plain") {
      source = text_module(p.body);
    } else if (type == "application/octet-stream" || type.empty()) {
      source = data_module(p.body);
    } else {
      *err = "the module \"" + path + "\" has the unsupported content type \"" + type + "\"";
      return false;
    }
    if (is_main) {
      out->code = std::move(source);
      found_main = true;
    } else if (out->format == "module") {
      // One path, one module, whatever its kind.
      auto &mine = wasm ? out->wasm_modules : out->modules;
      auto &other = wasm ? out->modules : out->wasm_modules;
      if (other.count(path) || !mine.emplace(path, std::move(source)).second) {
        *err = "the module \"" + path + "\" is uploaded twice";
        return false;
      }
    }
    if (out->size() > max_size) {
      *err = "the script is larger than dispatch_script_max_size (" +
             std::to_string(max_size) + " bytes)";
      return false;
    }
  }
  if (!found_main && !assets_only) {
    *err = "the main module \"" + out->main + "\" is not among the uploaded parts";
    return false;
  }

  char *dumped = json_dumps(stored.get(), JSON_COMPACT);
  if (dumped == nullptr) {
    *err = "metadata cannot be stored";
    return false;
  }
  out->metadata = dumped;
  free(dumped);
  return true;
}

}  // namespace dispatch
