#include "asset_rules.h"

#include "asset_manifest.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

namespace dispatch {

namespace {

constexpr size_t npos = std::string_view::npos;
constexpr size_t kMaxNames = 64;         // placeholders (and the splat) of one pattern
constexpr size_t kMaxAddedBytes = 65536;  // what _headers adds to one response

std::vector<uint32_t> fail_table(std::string_view p) {
  std::vector<uint32_t> fail(p.size(), 0);
  for (size_t i = 1, k = 0; i < p.size(); i++) {
    while (k > 0 && p[i] != p[k]) k = fail[k - 1];
    if (p[i] == p[k]) k++;
    fail[i] = uint32_t(k);
  }
  return fail;
}

// JavaScript's \s, as far as bytes go.
bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

bool has_control(std::string_view s, bool tab_ok = false) {
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if ((u < 0x20 && !(tab_ok && u == '\t')) || u == 0x7f) return true;
  }
  return false;
}

bool name_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9') || c == '_'; }

bool has_placeholder(std::string_view s) {
  for (size_t i = 0; i + 1 < s.size(); i++) {
    if (s[i] == ':' && name_start(s[i + 1])) return true;
  }
  return false;
}

// RFC 9110 token.
bool http_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!(name_char(c) || strchr("!#$%&'*+-.^`|~", c) != nullptr) || c == '\0') return false;
  }
  return true;
}

// Headers nginx frames or runs the connection with: a _headers line
// naming one is ignored (Cloudflare's runtime sets them itself too).
bool framing_header(std::string_view name) {
  static const char *const names[] = {"content-length", "transfer-encoding", "connection",
                                      "keep-alive", "upgrade", "te", "trailer"};
  for (const char *n : names) {
    if (name == n) return true;
  }
  return name.compare(0, 6, "proxy-") == 0;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char &c : out) {
    if (c >= 'A' && c <= 'Z') c = char(c + 32);
  }
  return out;
}

// Bytes a URL's path, query or fragment does not carry as they are: the
// URL parser's percent-encode sets (controls, space, non-ASCII, " < > `),
// so that no control byte reaches a Location.
std::string encode_unsafe(std::string_view s) {
  return asset_percent_encode(s, [](unsigned char c) {
    return c > 0x20 && c < 0x7f && c != '"' && c != '<' && c != '>' && c != '`';
  });
}

// "https://host..." as Cloudflare's URL check reads it: the host, and the
// rest after the host.
bool url_host(std::string_view token, std::string_view *host, std::string_view *rest) {
  if (token.compare(0, 8, "https://") != 0) return false;
  size_t at = 8;
  while (at < token.size() && token[at] == '/') at++;
  size_t end = token.find('/', at);
  if (end == npos) end = token.size();
  if (end == at) return false;
  *host = token.substr(at, end - at);
  *rest = token.substr(end);
  return true;
}

// A path (with its ?query and #fragment when keep) as the URL parser
// gives it: dot segments resolved, unsafe bytes encoded.
std::string url_path(std::string_view raw, bool keep) {
  std::string_view hash;
  size_t h = raw.find('#');
  if (h != npos) {
    hash = raw.substr(h);
    raw = raw.substr(0, h);
  }
  std::string path, search;
  asset_split_url("x://h" + std::string(raw.empty() || raw[0] != '/' ? "/" : "") + std::string(raw),
                  &path, &search);
  std::string out = encode_unsafe(path);
  if (keep) out += encode_unsafe(search) + encode_unsafe(hash);
  return out;
}

// A line that is not a rule, told: only the first kMaxProblems are kept
// (the management API tells 20). All of them made 4 MiB of "x" lines
// 2 million problems, ~200 MB of the worker at each load.
void tell(std::vector<AssetRules::Problem> *problems, size_t line, std::string message) {
  if (problems->size() < AssetRules::kMaxProblems) problems->push_back({line, std::move(message)});
}

// Calls f(lineno, line) for each line of text that is neither blank nor a
// comment (trimmed) and not longer than max (told in problems); stops
// when f returns false.
template <typename F>
void each_line(std::string_view text, size_t max, std::vector<AssetRules::Problem> *problems, F f) {
  size_t lineno = 0, start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    std::string_view line = trim(text.substr(start, nl == npos ? npos : nl - start));
    start = nl == npos ? text.size() + 1 : nl + 1;
    lineno++;
    if (line.empty() || line[0] == '#') continue;
    if (line.size() > max) {
      tell(problems, lineno, "longer than " + std::to_string(max) + " bytes");
      continue;
    }
    if (!f(lineno, line)) return;
  }
}

// '\' as '/', and runs of '/' as one: a relative destination's path never
// names another host.
std::string collapse_slashes(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    char d = c == '\\' ? '/' : c;
    if (d == '/' && !out.empty() && out.back() == '/') continue;
    out.push_back(d);
  }
  return out;
}

// The positions of text's segments between separators.
void segments(std::string_view text, char sep, std::vector<std::pair<size_t, size_t>> *out) {
  out->clear();
  size_t start = 0;
  while (true) {
    size_t at = text.find(sep, start);
    if (at == npos) {
      out->emplace_back(start, text.size());
      return;
    }
    out->emplace_back(start, at);
    start = at + 1;
  }
}

}  // namespace

KmpPiece kmp_piece(std::string_view text) {
  KmpPiece p;
  p.text = std::string(text);
  p.fail = fail_table(p.text);
  std::string reversed(p.text.rbegin(), p.text.rend());
  p.rfail = fail_table(reversed);
  return p;
}

size_t kmp_find(std::string_view text, size_t from, const KmpPiece &piece) {
  const std::string &p = piece.text;
  if (p.empty()) return from;
  for (size_t i = from, k = 0; i < text.size(); i++) {
    while (k > 0 && text[i] != p[k]) k = piece.fail[k - 1];
    if (text[i] == p[k]) k++;
    if (k == p.size()) return i + 1 - k;
  }
  return npos;
}

size_t kmp_rfind(std::string_view text, size_t lo, size_t hi, const KmpPiece &piece) {
  const std::string &p = piece.text;
  size_t m = p.size();
  if (hi > text.size() || hi < lo || hi - lo < m) return npos;
  if (m == 0) return hi;
  // the reversed piece over text read backwards from hi
  for (size_t i = hi, k = 0; i-- > lo;) {
    while (k > 0 && text[i] != p[m - 1 - k]) k = piece.rfail[k - 1];
    if (text[i] == p[m - 1 - k]) k++;
    if (k == m) return i;
  }
  return npos;
}

// ---- patterns ----------------------------------------------------------------

bool RulePattern::build(std::string_view text, char sep, Region *r, std::string *why) {
  enum { kBefore, kHead, kAfter } phase = kBefore;
  Seg cur;
  std::string literal;
  auto flush_literal = [&]() {
    if (literal.empty()) return;
    Token t;
    t.piece = kmp_piece(literal);
    cur.push_back(std::move(t));
    literal.clear();
  };
  auto end_segment = [&]() {
    flush_literal();
    if (phase == kBefore) {
      r->before.push_back(std::move(cur));
    } else if (phase == kHead) {
      r->head = std::move(cur);
      phase = kAfter;
    } else {
      r->after.push_back(std::move(cur));
    }
    cur.clear();
  };
  auto add_name = [&](std::string name, bool placeholder) {
    if (std::find(names_.begin(), names_.end(), name) != names_.end()) {
      *why = "\":" + name + "\" appears twice in the pattern (it never matches)";
      return false;
    }
    // Cloudflare replaces ":x" everywhere, in a later ":xy" too: two
    // groups x
    for (size_t k = 0; placeholder && k < names_.size(); k++) {
      const std::string &o = names_[k];
      if (k != splat_name_ && name.compare(0, o.size(), o) == 0) {
        *why = "\":" + o + "\" before \":" + name + "\" in one pattern (it never matches)";
        return false;
      }
    }
    if (names_.size() >= kMaxNames) {
      *why = "more than " + std::to_string(kMaxNames) + " placeholders in the pattern";
      return false;
    }
    names_.push_back(std::move(name));
    return true;
  };
  for (size_t i = 0; i < text.size(); i++) {
    char c = text[i];
    if (c == sep) {
      end_segment();
    } else if (c == '*') {
      if (r->splat || std::find(names_.begin(), names_.end(), "splat") != names_.end()) {
        *why = "more than one splat in the pattern (it never matches)";
        return false;
      }
      flush_literal();
      if (!add_name("splat", false)) return false;
      splat_name_ = names_.size() - 1;
      r->splat = true;
      r->splat_capture = names_.size() - 1;
      r->tail = std::move(cur);
      cur.clear();
      phase = kHead;
    } else if (c == ':' && i + 1 < text.size() && name_start(text[i + 1])) {
      size_t end = i + 1;
      while (end < text.size() && name_char(text[end])) end++;
      // In a host, Cloudflare's placeholder is one label only when what
      // follows is a character its RegExp escapes ('.', '-', ...).
      if (sep == '.' && end < text.size() && strchr("-\\^$+?.()|[]{}", text[end]) == nullptr) {
        *why = "a placeholder in the host followed by '" + std::string(1, text[end]) + "'";
        return false;
      }
      flush_literal();
      if (!add_name(std::string(text.substr(i + 1, end - i - 1)), true)) return false;
      if (cur.empty() || !cur.back().placeholder) {
        Token t;
        t.placeholder = true;
        cur.push_back(std::move(t));
      }
      cur.back().captures.push_back(names_.size() - 1);
      i = end - 1;
    } else {
      literal.push_back(c);
    }
  }
  end_segment();
  return true;
}

bool RulePattern::compile(std::string_view source, std::string *why) {
  *this = RulePattern();
  std::string_view path = source;
  if (source.compare(0, 8, "https://") == 0) {
    cross_host_ = true;
    size_t slash = source.find('/', 8);
    std::string_view host = source.substr(8, slash == npos ? npos : slash - 8);
    path = slash == npos ? std::string_view("/") : source.substr(slash);
    if (!build(host, '.', &host_, why)) return false;
  }
  return build(path, '/', &path_, why);
}

namespace {

// A group of placeholders takes text[from, to): the first all but a byte
// for each of the others.
template <typename Token>
void take(const Token &group, std::string_view text, size_t from, size_t to,
          std::vector<std::string> *captures) {
  size_t others = group.captures.size() - 1;
  (*captures)[group.captures[0]] = std::string(text.substr(from, to - from - others));
  for (size_t k = 1; k <= others; k++) {
    (*captures)[group.captures[k]] = std::string(text.substr(to - others + k - 1, 1));
  }
}

// Places a segment's tokens in text[lo, hi), from the right, each literal
// as far right as it goes: the captures a greedy regular expression gives.
// left / right: anchored at lo / hi (not left: a group of placeholders
// first takes a byte each, the splat before it the rest). *start, *end:
// where they went.
template <typename Token>
bool place(const std::vector<Token> &seg, std::string_view text, size_t lo, size_t hi, bool left,
           bool right, std::vector<std::string> *captures, size_t *start, size_t *end) {
  if (seg.empty()) {
    *start = *end = right ? hi : lo;
    return !(left && right) || lo == hi;
  }
  size_t pos = hi;
  const Token *pending = nullptr;  // placeholders that end at pos
  *end = hi;
  for (size_t k = seg.size(); k-- > 0;) {
    const Token &t = seg[k];
    if (t.placeholder) {
      pending = &t;
      continue;
    }
    size_t m = t.piece.text.size();
    size_t need = pending ? pending->captures.size() : 0;  // a byte each at least
    if (pos < lo + need) return false;
    size_t limit = pos - need;
    size_t s;
    if (k + 1 == seg.size() && right) {
      if (hi - lo < m) return false;
      s = hi - m;
      if (text.compare(s, m, t.piece.text) != 0) return false;
    } else if (k == 0 && left) {
      if (lo + m > limit || text.compare(lo, m, t.piece.text) != 0) return false;
      s = lo;
    } else {
      s = kmp_rfind(text, lo, limit, t.piece);
      if (s == npos) return false;
    }
    if (k == 0 && left && s != lo) return false;
    if (k + 1 == seg.size()) *end = s + m;
    if (pending) {
      take(*pending, text, s + m, pos, captures);
      pending = nullptr;
    }
    pos = s;
  }
  if (pending) {
    size_t need = pending->captures.size();
    if (pos < lo + need) return false;
    size_t from = left ? lo : pos - need;
    take(*pending, text, from, pos, captures);
    pos = from;
  }
  *start = pos;
  return true;
}

}  // namespace

bool RulePattern::match_region(const Region &r, std::string_view text, char sep,
                               std::vector<std::string> *captures) const {
  std::vector<std::pair<size_t, size_t>> segs;
  segments(text, sep, &segs);
  size_t a = r.before.size(), b = r.after.size(), n = segs.size();
  size_t s, e;
  auto whole = [&](const Seg &seg, size_t i) {
    return place(seg, text, segs[i].first, segs[i].second, true, true, captures, &s, &e);
  };
  if (!r.splat) {
    if (n != a) return false;
    for (size_t i = 0; i < n; i++) {
      if (!whole(r.before[i], i)) return false;
    }
    return true;
  }
  if (n < a + b + 1) return false;
  for (size_t i = 0; i < a; i++) {
    if (!whole(r.before[i], i)) return false;
  }
  for (size_t j = 0; j < b; j++) {
    if (!whole(r.after[j], n - b + j)) return false;
  }
  // What follows the splat goes as far right as it can (the splat is
  // greedy), what precedes it as far right as that leaves room for (it
  // comes first).
  size_t first = a, last = n - 1 - b;
  size_t head_start, tail_end;
  if (!place(r.head, text, segs[last].first, segs[last].second, false, true, captures, &head_start,
             &e)) {
    return false;
  }
  size_t limit = first == last ? head_start : segs[first].second;
  // placeholders right before the splat take all they can
  bool tail_right = !r.tail.empty() && r.tail.back().placeholder;
  if (!place(r.tail, text, segs[first].first, limit, true, tail_right, captures, &s, &tail_end)) {
    return false;
  }
  (*captures)[r.splat_capture] = std::string(text.substr(tail_end, head_start - tail_end));
  return true;
}

bool RulePattern::match(std::string_view host, std::string_view path,
                        std::vector<std::string> *captures) const {
  captures->assign(names_.size(), std::string());
  if (cross_host_ && !match_region(host_, host, '.', captures)) return false;
  return match_region(path_, path, '/', captures);
}

bool rule_substitute(std::string_view text, const std::vector<std::string> &names,
                     const std::vector<std::string> &values, size_t max, std::string *out) {
  out->assign(text.data(), text.size());
  if (text.find(':') == npos) return out->size() <= max;
  std::string next;
  for (size_t i = 0; i < names.size() && i < values.size(); i++) {
    std::string needle = ":" + names[i];
    size_t at = out->find(needle);
    if (at == npos) continue;
    next.clear();
    size_t from = 0;
    while (at != npos) {
      next.append(*out, from, at - from);
      next += values[i];
      if (next.size() > max) return false;
      from = at + needle.size();
      at = out->find(needle, from);
    }
    next.append(*out, from, npos);
    if (next.size() > max) return false;
    out->swap(next);
  }
  return true;
}

// ---- _redirects -----------------------------------------------------------------

bool AssetRules::parse_redirects(std::string_view text, bool html_none,
                                 std::vector<Problem> *problems) {
  static_.clear();
  dynamic_.clear();
  if (text.size() > kMaxFileBytes) {
    problems->push_back({0, "_redirects is more than " + std::to_string(kMaxFileBytes >> 20) + " MiB"});
    return false;
  }
  auto problem = [&](size_t line, std::string message) {
    tell(problems, line, std::move(message));
    return true;  // on to the next line
  };
  size_t statics = 0, dynamics = 0;
  bool can_static = true;
  std::unordered_set<std::string> seen;
  each_line(text, kMaxRedirectLine, problems, [&](size_t lineno, std::string_view line) {
    for (size_t i = 1; i < line.size(); i++) {  // a comment after whitespace
      if (line[i] == '#' && space(line[i - 1])) {
        line = trim(line.substr(0, i));
        break;
      }
    }
    std::vector<std::string_view> tokens;
    for (size_t i = 0; i < line.size();) {
      size_t j = i;
      while (j < line.size() && !space(line[j])) j++;
      tokens.push_back(line.substr(i, j - i));
      while (j < line.size() && space(line[j])) j++;
      i = j;
    }
    if (tokens.size() < 2 || tokens.size() > 3) {
      return problem(lineno, "expected 2 or 3 whitespace-separated tokens, got " +
                                 std::to_string(tokens.size()));
    }
    std::string_view host, rest;
    if (url_host(tokens[0], &host, &rest)) {
      return problem(lineno, "only relative URLs are allowed as a source");
    }
    std::string from = url_path(tokens[0], false);
    bool dynamic = !can_static || from.find('*') != npos || has_placeholder(from);
    if (!dynamic && ++statics > kMaxStaticRedirects) {
      return problem(lineno, "more than " + std::to_string(kMaxStaticRedirects) + " static rules");
    }
    if (dynamic) {
      can_static = false;
      if (++dynamics > kMaxDynamicRedirects) {
        problem(lineno, "more than " + std::to_string(kMaxDynamicRedirects) +
                            " dynamic rules: this line and the rest are ignored");
        return false;
      }
    }
    std::string to;
    bool absolute = url_host(tokens[1], &host, &rest);
    if (absolute) {
      to = "https://" + encode_unsafe(host) + url_path(rest, true);
    } else if (!tokens[1].empty() && tokens[1][0] == '/') {
      to = url_path(tokens[1], true);
    } else {
      return problem(lineno, "the destination is neither a path (/...) nor an https:// URL");
    }
    int status = 302;
    if (tokens.size() == 3) {
      std::string_view s = tokens[2];
      status = s.size() == 3 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })
                   ? std::stoi(std::string(s)) : 0;
      if (status != 200 && status != 301 && status != 302 && status != 303 && status != 307 &&
          status != 308) {
        return problem(lineno, "valid statuses are 200, 301, 302 (the default), 303, 307 and 308");
      }
    }
    if (has_control(tokens[0]) || has_control(tokens[1])) {
      return problem(lineno, "a control character in the rule");
    }
    auto ends_index = [](const std::string &s) {
      std::string p = s.substr(0, s.find_first_of("?#"));
      auto ends = [&](const char *x) {
        return p.size() >= strlen(x) && p.compare(p.size() - strlen(x), npos, x) == 0;
      };
      return ends("/index") || ends("/index.html");
    };
    size_t n = from.size();
    bool wildcard_to_index = n >= 2 && from.compare(n - 2, 2, "/*") == 0 && ends_index(to);
    bool root_to_index = n >= 1 && from[n - 1] == '/' && ends_index(to);
    if (!absolute && (wildcard_to_index || (root_to_index && !html_none))) {
      return problem(lineno, "a rule that loops (the asset server's redirect strips .html or "
                             "/index and meets it again)");
    }
    if (!seen.insert(from).second) return problem(lineno, "a second rule for " + from + "");
    if (status == 200 && absolute) {
      return problem(lineno, "a 200 (rewrite) serves a path of this script, not an https:// URL");
    }
    RedirectRule rule;
    rule.to = std::move(to);
    rule.status = status;
    bytes_ += from.size() + rule.to.size() + sizeof rule;
    if (!dynamic) {
      static_.emplace(from, std::move(rule));  // looked up as it is
      return true;
    }
    std::string why;
    if (!rule.from.compile(from, &why)) return problem(lineno, why);
    bytes_ += 10 * from.size();  // its pieces' KMP tables
    dynamic_.push_back(std::move(rule));
    return true;
  });
  return true;
}

namespace {

// Where a destination leads, from a request of origin with search: the
// URL parser's resolution, a relative one never leaving the origin.
std::string location(std::string_view target, std::string_view origin, std::string_view search) {
  std::string_view host, rest;
  bool absolute = url_host(target, &host, &rest);
  std::string path_part = absolute ? url_path(rest, true) : url_path(collapse_slashes(target), true);
  size_t q = path_part.find_first_of("?#");
  std::string path = path_part.substr(0, q);
  std::string tail = q == npos ? std::string() : path_part.substr(q);
  size_t h = tail.find('#');
  std::string dsearch = tail.substr(0, h), dhash = h == npos ? std::string() : tail.substr(h);
  if (dsearch == "?") dsearch.clear();  // a bare '?' is none
  std::string relative = path + (dsearch.empty() ? encode_unsafe(search) : dsearch) + dhash;
  if (!absolute || "https://" + lower(host) == origin) return relative;
  return "https://" + encode_unsafe(host) + relative;
}

}  // namespace

AssetRules::Redirect AssetRules::redirect(std::string_view origin, std::string_view host,
                                          std::string_view path, std::string_view search) const {
  Redirect r;
  const RedirectRule *rule = nullptr;
  std::vector<std::string> captures;
  auto it = static_.find(std::string(path));
  if (it != static_.end()) {
    rule = &it->second;
  } else {
    for (const RedirectRule &d : dynamic_) {
      if (d.from.match(host, path, &captures)) {
        rule = &d;
        break;
      }
    }
  }
  if (rule == nullptr) return r;
  std::string target;
  if (!rule_substitute(rule->to, rule->from.names(), captures, kMaxResult, &target)) return r;
  target = std::string(trim(target));
  if (rule->status == 200) {
    r.rewrite = url_path(collapse_slashes(target), false);
  } else {
    r.location = location(target, origin, search);
  }
  r.status = rule->status;
  return r;
}

// ---- _headers -------------------------------------------------------------------

bool AssetRules::parse_headers(std::string_view text, bool strict, std::vector<Problem> *problems,
                               std::string *refusal) {
  headers_.clear();
  if (text.size() > kMaxFileBytes) {
    *refusal = "_headers is more than " + std::to_string(kMaxFileBytes >> 20) + " MiB";
    return false;
  }
  bytes_ += text.size();
  auto problem = [&](size_t line, std::string message) {
    tell(problems, line, std::move(message));
    return true;  // on to the next line
  };
  struct Pending {
    std::string path;
    size_t line = 0;
    std::vector<std::pair<std::string, std::string>> set;
    std::unordered_map<std::string, size_t> set_index;  // a name's place in set
    std::vector<std::string> unset;
  };
  std::unordered_map<std::string, size_t> index;  // a path's rule (a later block replaces it)
  size_t rules = 0;
  bool open = false, refused = false;
  Pending cur;
  auto close = [&]() {
    if (!open) return;
    open = false;
    if (cur.set.empty() && cur.unset.empty()) {
      problem(cur.line, "no headers for " + cur.path);
      return;
    }
    rules++;
    HeaderRule rule;
    std::string why;
    if (!rule.pattern.compile(cur.path, &why)) {
      problem(cur.line, why);
      return;
    }
    // each name once, sorted: apply_headers() looks names up in it
    std::sort(cur.unset.begin(), cur.unset.end());
    cur.unset.erase(std::unique(cur.unset.begin(), cur.unset.end()), cur.unset.end());
    bytes_ += 10 * cur.path.size() + sizeof rule +
              (2 * cur.set.size() + cur.unset.size()) * sizeof(std::string);
    rule.set = std::move(cur.set);
    rule.unset = std::move(cur.unset);
    auto at = index.find(cur.path);
    if (at != index.end()) {
      headers_[at->second] = std::move(rule);
    } else {
      index.emplace(cur.path, headers_.size());
      headers_.push_back(std::move(rule));
    }
  };
  // Not valid HTTP: refuses the file at upload, the line at a load.
  auto bad_http = [&](size_t line, const std::string &message) {
    if (!strict) return problem(line, message);
    *refusal = "_headers line " + std::to_string(line) + ": " + message;
    refused = true;
    return false;
  };
  each_line(text, kMaxHeaderLine, problems, [&](size_t lineno, std::string_view line) {
    size_t scheme = line.find("://");
    bool is_path = line[0] == '/' ||
                   (scheme != npos && scheme > 0 &&
                    std::none_of(line.begin(), line.begin() + scheme, space));
    if (is_path) {
      if (rules >= kMaxHeaderRules) {
        problem(lineno, "more than " + std::to_string(kMaxHeaderRules) +
                            " rules: this line and the rest are ignored");
        return false;
      }
      close();
      std::string_view host, rest;
      std::string path;
      if (url_host(line, &host, &rest)) {
        size_t colon = host.rfind(':');
        if (colon != npos && colon + 1 < host.size() &&
            std::all_of(host.begin() + colon + 1, host.end(), [](char c) { return c >= '0' && c <= '9'; })) {
          return problem(lineno, "a port in a URL pattern");
        }
        path = "https://" + encode_unsafe(host) + url_path(rest, false);
      } else if (line[0] == '/') {
        path = url_path(line, false);
      } else {
        return problem(lineno, "a pattern is a path (/...) or an https:// URL");
      }
      open = true;
      cur = Pending();
      cur.path = std::move(path);
      cur.line = lineno;
      return true;
    }
    size_t colon = line.find(':');
    if (colon == npos) {
      if (!open) return problem(lineno, "expected a path starting with /");
      if (line.compare(0, 2, "! ") != 0) return problem(lineno, "expected \"Name: value\" or \"! Name\"");
      std::string name = lower(trim(line.substr(2)));
      if (!http_token(name)) return bad_http(lineno, "\"" + name.substr(0, 100) + "\" is not a header name");
      if (framing_header(name)) return problem(lineno, name + " is set by the server");
      cur.unset.push_back(std::move(name));
      return true;
    }
    std::string name = lower(trim(line.substr(0, colon)));
    std::string_view value = trim(line.substr(colon + 1));
    if (name.find(' ') != npos) return problem(lineno, "a header name with a space");
    if (name.empty()) return problem(lineno, "no header name");
    if (value.empty()) return problem(lineno, "no header value");
    if (!open) return problem(lineno, "a header before any path");
    if (!http_token(name)) return bad_http(lineno, "\"" + name.substr(0, 100) + "\" is not a header name");
    if (has_control(value, true)) return bad_http(lineno, "the value of " + name + " has a control character");
    if (framing_header(name)) return problem(lineno, name + " is set by the server");
    auto same = cur.set_index.find(name);
    if (same != cur.set_index.end()) {
      std::string &joined = cur.set[same->second].second;
      joined += ", ";
      joined.append(value.data(), value.size());
    } else {
      cur.set_index.emplace(name, cur.set.size());
      cur.set.emplace_back(std::move(name), std::string(value));
    }
    return true;
  });
  if (refused) return false;
  close();
  return true;
}

// In time linear in what the matching blocks hold and what is added (names
// are found through an index, never by scanning the list), and a
// value's substitution counts against kMaxAddedBytes whether or not it is
// added: 14,000 distinct names in one block held the worker 2 s a request.
void AssetRules::apply_headers(std::string_view host, std::string_view path, HeaderList *headers) const {
  HeaderList &list = *headers;
  std::vector<bool> dead(list.size(), false);
  std::unordered_map<std::string, std::vector<size_t>> where;  // a name's live places in list
  for (size_t i = 0; i < list.size(); i++) where[list[i].first].push_back(i);
  std::unordered_set<std::string> set_here;  // names a rule set: a later one appends
  auto erase = [&](const std::string &name) {
    auto it = where.find(name);
    if (it == where.end()) return;
    for (size_t i : it->second) dead[i] = true;
    where.erase(it);
  };
  std::vector<std::string> captures;
  std::string value;
  size_t added = 0;
  for (const HeaderRule &rule : headers_) {
    if (added > kMaxAddedBytes) break;
    if (!rule.pattern.match(host, path, &captures)) continue;
    // "! Name" lines (unique in a rule): the fewer of them or of the names here
    if (rule.unset.size() <= where.size()) {
      for (const std::string &name : rule.unset) erase(name);
    } else {
      for (auto it = where.begin(); it != where.end();) {
        if (!std::binary_search(rule.unset.begin(), rule.unset.end(), it->first)) {
          ++it;
          continue;
        }
        for (size_t i : it->second) dead[i] = true;
        it = where.erase(it);
      }
    }
    for (const auto &h : rule.set) {
      bool ok = rule_substitute(h.second, rule.pattern.names(), captures, kMaxResult, &value);
      added += h.first.size() + (ok ? value.size() : kMaxResult);
      if (added > kMaxAddedBytes) break;
      if (!ok || has_control(value, true)) continue;
      bool again = set_here.count(h.first) != 0;
      if (again && h.first != "set-cookie") {
        auto it = where.find(h.first);
        if (it != where.end()) {
          list[it->second.front()].second += ", " + value;
          continue;
        }
      } else if (!again) {
        erase(h.first);
        set_here.insert(h.first);
      }
      where[h.first].push_back(list.size());
      list.emplace_back(h.first, value);
      dead.push_back(false);
    }
  }
  size_t kept = 0;
  for (size_t i = 0; i < list.size(); i++) {
    if (dead[i]) continue;
    if (kept != i) list[kept] = std::move(list[i]);
    kept++;
  }
  list.resize(kept);
}

}  // namespace dispatch
