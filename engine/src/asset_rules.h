// asset_rules.h: a script's `_redirects` and `_headers` (Workers static
// assets; README "Static assets"), as wrangler sends their text in the
// upload's assets config and Cloudflare's asset server applies them:
//   _redirects  "FROM TO [STATUS]" lines (301, 302 the default, 303, 307,
//               308; 200 serves TO's asset at FROM), static rules before
//               dynamic ones, the first match wins
//   _headers    a URL pattern, then "Name: value" and "! Name" lines: every
//               matching block applies, in order, to an asset response
// A pattern is a path (or https://host/path for _headers): "*" is the
// splat (at most one), ":name" a placeholder (one or more bytes up to the
// next "/", in a host up to the next "."); both are substituted into the
// destination or value as ":splat" and ":name".
//
// Parsed once per load of a script; a request is matched in time linear in
// its path and the pattern (literal pieces found with KMP, placed from the
// right as a greedy regular expression would place them), whatever the
// tenant wrote.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace dispatch {

// A literal piece and its KMP failure tables (of the piece and of the
// piece reversed): what run_worker_first's globs and these patterns find
// pieces with.
struct KmpPiece {
  std::string text;
  std::vector<uint32_t> fail, rfail;
};
KmpPiece kmp_piece(std::string_view text);
// The first occurrence of piece in text at or after from (npos: none).
size_t kmp_find(std::string_view text, size_t from, const KmpPiece &piece);
// The start of the last occurrence of piece that lies in text[lo, hi)
// (npos: none).
size_t kmp_rfind(std::string_view text, size_t lo, size_t hi, const KmpPiece &piece);

class RulePattern {
 public:
  // false with *why set for a pattern that never matches on Cloudflare
  // (its RegExp does not compile: more than one splat, a placeholder name
  // used twice or one before another it starts, ":a" then ":ab"), one
  // whose host placeholder Cloudflare would let span labels, one of more
  // than 64 placeholders.
  bool compile(std::string_view source, std::string *why);
  // host: the request's host name (lower case, no port); path: its path as
  // the URL parser gives it (still percent-encoded). captures: one value
  // per name(), in order.
  bool match(std::string_view host, std::string_view path, std::vector<std::string> *captures) const;
  const std::vector<std::string> &names() const { return names_; }

 private:
  struct Token {
    bool placeholder = false;  // else a literal
    // placeholders one after the other: the first takes all but a byte
    // for each of the others, as a greedy RegExp gives it
    std::vector<size_t> captures;
    KmpPiece piece;
  };
  using Seg = std::vector<Token>;
  // A host (separator '.') or a path (separator '/'): whole segments, and
  // around the splat the part of its segment before it (anchored left) and
  // after it (anchored right), then whole segments again.
  struct Region {
    std::vector<Seg> before, after;
    bool splat = false;
    size_t splat_capture = 0;
    Seg tail, head;  // before and after the splat, in its segment
  };
  bool build(std::string_view text, char sep, Region *r, std::string *why);
  bool match_region(const Region &r, std::string_view text, char sep,
                    std::vector<std::string> *captures) const;

  bool cross_host_ = false;
  Region host_, path_;
  std::vector<std::string> names_;
  size_t splat_name_ = SIZE_MAX;  // the splat's index in names_
};

// ":name" (and ":splat") of each capture replaced, in the pattern's order,
// as Cloudflare's replacer does. false when the result would pass max
// bytes.
bool rule_substitute(std::string_view text, const std::vector<std::string> &names,
                     const std::vector<std::string> &values, size_t max, std::string *out);

class AssetRules {
 public:
  static constexpr size_t kMaxStaticRedirects = 2000;
  static constexpr size_t kMaxDynamicRedirects = 100;
  static constexpr size_t kMaxRedirectLine = 1000;
  static constexpr size_t kMaxHeaderRules = 100;
  static constexpr size_t kMaxHeaderLine = 2000;
  static constexpr size_t kMaxFileBytes = 4u << 20;  // each file's text
  static constexpr size_t kMaxResult = 8192;          // a substituted Location or value
  static constexpr size_t kMaxProblems = 100;         // lines not rules, told (the first)

  struct Problem {
    size_t line = 0;  // 1-based; 0: the file
    std::string message;
  };

  // Lines that are not rules are skipped and told in *problems (the first
  // kMaxProblems of them). strict
  // (the management API): a header name that is not an HTTP token or a
  // value with a control byte refuses the file (false, *refusal); not
  // strict (a load): that line is skipped too. html_none: the script's
  // html_handling is "none" (a FROM/ to /index loops otherwise).
  bool parse_redirects(std::string_view text, bool html_none, std::vector<Problem> *problems);
  bool parse_headers(std::string_view text, bool strict, std::vector<Problem> *problems,
                     std::string *refusal);

  bool has_redirects() const { return !static_.empty() || !dynamic_.empty(); }
  bool has_headers() const { return !headers_.empty(); }

  struct Redirect {
    int status = 0;        // 0: none; 200: serve rewrite's asset
    std::string location;  // 301-308: the Location, control bytes encoded
    std::string rewrite;   // 200: the path to serve
  };
  // The first rule for the request (origin "https://host", host lower
  // case without port, path as the URL parser gives it, search with '?').
  Redirect redirect(std::string_view origin, std::string_view host, std::string_view path,
                    std::string_view search) const;

  using HeaderList = std::vector<std::pair<std::string, std::string>>;  // lower-case names
  // Every matching block's "! Name" and "Name: value" applied to headers.
  void apply_headers(std::string_view host, std::string_view path, HeaderList *headers) const;

  // What the parsed rules hold, roughly (the script cache counts it).
  size_t bytes() const { return bytes_; }

 private:
  struct RedirectRule {
    RulePattern from;
    std::string to;
    int status = 302;
  };
  struct HeaderRule {
    RulePattern pattern;
    std::vector<std::pair<std::string, std::string>> set;
    std::vector<std::string> unset;  // each name once, sorted
  };
  std::unordered_map<std::string, RedirectRule> static_;
  std::vector<RedirectRule> dynamic_;
  std::vector<HeaderRule> headers_;
  size_t bytes_ = 0;
};

}  // namespace dispatch
