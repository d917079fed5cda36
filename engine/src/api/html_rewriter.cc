#include "api/html_rewriter.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "memory_budget.h"
#include "native_state.h"
#include "tenant_isolate.h"
#include "v8_util.h"

namespace dispatch {

namespace {

// ---------------------------------------------------------------- selectors

enum class SimpleKind : uint8_t { kType, kClass, kId, kAttr, kNthChild, kNthOfType, kNot };
enum class AttrOp : uint8_t { kExists, kEquals, kWord, kDash, kPrefix, kSuffix, kContains };

struct Simple {
  SimpleKind kind = SimpleKind::kType;
  AttrOp op = AttrOp::kExists;
  bool ci = false;  // [attr=v i]
  long a = 0, b = 0;  // an+b
  std::string name;   // type, class, id or attribute name
  std::string value;  // attribute value
  std::vector<Simple> inner;  // :not(...)
};

struct Compound {
  std::vector<Simple> simples;  // all must match; empty: `*`
  bool child = false;           // joined to the previous compound by `>`
};

using Complex = std::vector<Compound>;

struct Selector {
  std::vector<Complex> alternatives;  // a selector list: any may match
};

bool is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; }
char ascii_lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? char(c + 32) : char(c); }
bool ascii_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// CSS selectors as lol-html (Cloudflare's rewriter) takes them.
class SelectorParser {
 public:
  explicit SelectorParser(const std::string &text) : s_(text) {}

  bool parse(Selector *out) {
    for (;;) {
      skip_ws();
      Complex complex;
      if (!parse_complex(&complex)) return false;
      out->alternatives.push_back(std::move(complex));
      skip_ws();
      if (i_ == s_.size()) return true;
      if (s_[i_] != ',') return fail("unexpected '" + std::string(1, s_[i_]) + "'");
      ++i_;
    }
  }

  const std::string &error() const { return error_; }

 private:
  bool fail(const std::string &why) {
    if (error_.empty()) error_ = why;
    return false;
  }

  void skip_ws() {
    while (i_ < s_.size() && is_ws(s_[i_])) ++i_;
  }

  bool parse_complex(Complex *out) {
    Compound first;
    if (!parse_compound(&first, true)) return false;
    out->push_back(std::move(first));
    for (;;) {
      size_t before = i_;
      skip_ws();
      if (i_ == s_.size() || s_[i_] == ',') return true;
      bool child = false;
      if (s_[i_] == '>') {
        child = true;
        ++i_;
        skip_ws();
      } else if (s_[i_] == '+' || s_[i_] == '~') {
        return fail("the sibling combinators '+' and '~' are not supported");
      } else if (i_ == before) {
        return fail("unexpected '" + std::string(1, s_[i_]) + "'");
      }
      Compound next;
      if (!parse_compound(&next, true)) return false;
      next.child = child;
      out->push_back(std::move(next));
    }
  }

  static bool ident_char(unsigned char c) {
    return ascii_alpha(c) || (c >= '0' && c <= '9') || c == '-' || c == '_' || c >= 0x80;
  }

  bool parse_ident(std::string *out) {
    size_t start = i_;
    while (i_ < s_.size()) {
      unsigned char c = s_[i_];
      if (c == '\\' && i_ + 1 < s_.size()) {
        out->push_back(s_[i_ + 1]);
        i_ += 2;
      } else if (ident_char(c)) {
        out->push_back(char(c));
        ++i_;
      } else {
        break;
      }
    }
    if (i_ == start) return fail("an identifier was expected");
    if ((*out)[0] >= '0' && (*out)[0] <= '9' && s_[start] != '\\') {
      return fail("an identifier cannot start with a digit");
    }
    return true;
  }

  bool parse_compound(Compound *out, bool allow_not) {
    size_t start = i_;
    if (i_ < s_.size() && s_[i_] == '*') {
      ++i_;
    } else if (i_ < s_.size() && (ident_char(s_[i_]) || s_[i_] == '\\')) {
      Simple type;
      type.kind = SimpleKind::kType;
      if (!parse_ident(&type.name)) return false;
      for (char &c : type.name) c = ascii_lower(c);
      out->simples.push_back(std::move(type));
    }
    for (;;) {
      if (i_ == s_.size()) break;
      char c = s_[i_];
      Simple simple;
      if (c == '.' || c == '#') {
        ++i_;
        simple.kind = c == '.' ? SimpleKind::kClass : SimpleKind::kId;
        if (!parse_ident(&simple.name)) return false;
      } else if (c == '[') {
        ++i_;
        if (!parse_attribute(&simple)) return false;
      } else if (c == ':') {
        ++i_;
        if (!parse_pseudo(&simple, allow_not)) return false;
      } else {
        break;
      }
      out->simples.push_back(std::move(simple));
    }
    if (i_ == start) {
      return fail(i_ == s_.size() ? "the selector is empty or ends too early"
                                  : "unexpected '" + std::string(1, s_[i_]) + "'");
    }
    return true;
  }

  bool parse_string(std::string *out) {
    char quote = s_[i_++];
    while (i_ < s_.size() && s_[i_] != quote) {
      if (s_[i_] == '\\' && i_ + 1 < s_.size()) ++i_;
      out->push_back(s_[i_++]);
    }
    if (i_ == s_.size()) return fail("unterminated string");
    ++i_;
    return true;
  }

  bool parse_attribute(Simple *out) {
    out->kind = SimpleKind::kAttr;
    skip_ws();
    if (!parse_ident(&out->name)) return false;
    for (char &c : out->name) c = ascii_lower(c);
    skip_ws();
    if (i_ < s_.size() && s_[i_] == ']') {
      ++i_;
      return true;
    }
    if (i_ >= s_.size()) return fail("unterminated attribute selector");
    char c = s_[i_];
    if (c == '=') {
      out->op = AttrOp::kEquals;
      ++i_;
    } else {
      if (i_ + 1 >= s_.size() || s_[i_ + 1] != '=') return fail("unknown attribute operator");
      switch (c) {
        case '~': out->op = AttrOp::kWord; break;
        case '|': out->op = AttrOp::kDash; break;
        case '^': out->op = AttrOp::kPrefix; break;
        case '$': out->op = AttrOp::kSuffix; break;
        case '*': out->op = AttrOp::kContains; break;
        default: return fail("unknown attribute operator");
      }
      i_ += 2;
    }
    skip_ws();
    if (i_ >= s_.size()) return fail("unterminated attribute selector");
    if (s_[i_] == '"' || s_[i_] == '\'') {
      if (!parse_string(&out->value)) return false;
    } else if (!parse_ident(&out->value)) {
      return false;
    }
    skip_ws();
    if (i_ < s_.size() && (s_[i_] == 'i' || s_[i_] == 'I' || s_[i_] == 's' || s_[i_] == 'S')) {
      out->ci = ascii_lower(s_[i_]) == 'i';
      ++i_;
      skip_ws();
    }
    if (i_ >= s_.size() || s_[i_] != ']') return fail("unterminated attribute selector");
    ++i_;
    return true;
  }

  // an+b: odd, even, b, an, an+b, with optional signs.
  bool parse_nth(Simple *out) {
    skip_ws();
    size_t close = s_.find(')', i_);
    if (close == std::string::npos) return fail("unterminated :nth- argument");
    std::string arg;
    for (size_t k = i_; k < close; ++k) {
      if (!is_ws(s_[k])) arg.push_back(ascii_lower(s_[k]));
    }
    i_ = close + 1;
    if (arg == "odd") {
      out->a = 2, out->b = 1;
      return true;
    }
    if (arg == "even") {
      out->a = 2, out->b = 0;
      return true;
    }
    auto number = [&](const std::string &t, size_t &k, long *value) {
      size_t start = k;
      long v = 0;
      while (k < t.size() && t[k] >= '0' && t[k] <= '9') {
        if (v > 1000000000) return false;
        v = v * 10 + (t[k++] - '0');
      }
      *value = v;
      return k > start;
    };
    size_t k = 0;
    long sign = 1;
    if (k < arg.size() && (arg[k] == '+' || arg[k] == '-')) sign = arg[k++] == '-' ? -1 : 1;
    size_t n = arg.find('n');
    if (n == std::string::npos) {
      long b;
      if (!number(arg, k, &b) || k != arg.size()) return fail("invalid :nth- argument");
      out->a = 0, out->b = sign * b;
      return true;
    }
    long a = 1;
    if (k < n && !number(arg, k, &a)) return fail("invalid :nth- argument");
    if (k != n) return fail("invalid :nth- argument");
    out->a = sign * a;
    k = n + 1;
    out->b = 0;
    if (k == arg.size()) return true;
    if (arg[k] != '+' && arg[k] != '-') return fail("invalid :nth- argument");
    long bsign = arg[k++] == '-' ? -1 : 1;
    long b;
    if (!number(arg, k, &b) || k != arg.size()) return fail("invalid :nth- argument");
    out->b = bsign * b;
    return true;
  }

  bool parse_pseudo(Simple *out, bool allow_not) {
    std::string name;
    if (!parse_ident(&name)) return false;
    for (char &c : name) c = ascii_lower(c);
    if (name == "first-child" || name == "first-of-type") {
      out->kind = name == "first-child" ? SimpleKind::kNthChild : SimpleKind::kNthOfType;
      out->a = 0, out->b = 1;
      return true;
    }
    if (i_ >= s_.size() || s_[i_] != '(') return fail("unsupported pseudo-class :" + name);
    ++i_;
    if (name == "nth-child" || name == "nth-of-type") {
      out->kind = name == "nth-child" ? SimpleKind::kNthChild : SimpleKind::kNthOfType;
      return parse_nth(out);
    }
    if (name == "not" && allow_not) {
      out->kind = SimpleKind::kNot;
      skip_ws();
      Compound inner;
      if (!parse_compound(&inner, false)) return false;
      skip_ws();
      if (i_ >= s_.size() || s_[i_] != ')') return fail(":not() takes one compound selector");
      ++i_;
      out->inner = std::move(inner.simples);
      return true;
    }
    return fail("unsupported pseudo-class :" + name + "()");
  }

  const std::string &s_;
  size_t i_ = 0;
  std::string error_;
};

bool parse_selector(const std::string &text, Selector *out, std::string *error) {
  if (text.size() > kHtmlMaxSelectorLength) {
    *error = "the selector is longer than " + std::to_string(kHtmlMaxSelectorLength) + " characters";
    return false;
  }
  SelectorParser parser(text);
  if (parser.parse(out)) return true;
  *error = parser.error();
  return false;
}

// ---------------------------------------------------------------- tokens

struct Attr {
  std::string name;
  std::string value;
  size_t raw_from, raw_to;  // the attribute as written: kept when a handler changes another
};

struct Tag {
  std::string name;
  std::vector<Attr> attrs;
  bool self_closing = false;
};

// The HTML Standard's states inside a tag, from the tag name on.
enum class TagState : uint8_t {
  kTagName, kBeforeAttrName, kAttrName, kAfterAttrName, kBeforeAttrValue,
  kValueDq, kValueSq, kValueUnq, kAfterValueQuoted, kSelfClosing,
};

// Runs the tag states over s[p, to); the index of the '>' that ends the tag,
// or npos with p and state left where they stopped (to resume with more
// bytes). With tag, its name and attributes are collected on the way.
size_t run_tag_states(const std::string &s, size_t &p, size_t to, TagState &st, Tag *tag) {
  auto new_attr = [&](unsigned char c) {
    if (tag != nullptr) tag->attrs.push_back(Attr{std::string(1, ascii_lower(c)), std::string(), p, p + 1});
  };
  auto extend = [&] {
    if (tag != nullptr) tag->attrs.back().raw_to = p + 1;
  };
  for (; p < to; ++p) {
    unsigned char c = s[p];
    switch (st) {
      case TagState::kTagName:
        if (is_ws(c)) st = TagState::kBeforeAttrName;
        else if (c == '/') st = TagState::kSelfClosing;
        else if (c == '>') return p;
        else if (tag != nullptr) tag->name.push_back(ascii_lower(c));
        break;
      case TagState::kBeforeAttrName:
        if (is_ws(c)) break;
        if (c == '/' || c == '>') {
          st = TagState::kAfterAttrName;
          --p;  // reconsume
          break;
        }
        new_attr(c);
        st = TagState::kAttrName;
        break;
      case TagState::kAttrName:
        if (is_ws(c) || c == '/' || c == '>') {
          st = TagState::kAfterAttrName;
          --p;
        } else if (c == '=') {
          st = TagState::kBeforeAttrValue;
        } else if (tag != nullptr) {
          tag->attrs.back().name.push_back(ascii_lower(c));
          extend();
        }
        break;
      case TagState::kAfterAttrName:
        if (is_ws(c)) break;
        if (c == '/') st = TagState::kSelfClosing;
        else if (c == '=') st = TagState::kBeforeAttrValue;
        else if (c == '>') return p;
        else {
          new_attr(c);
          st = TagState::kAttrName;
        }
        break;
      case TagState::kBeforeAttrValue:
        if (is_ws(c)) break;
        if (c == '"' || c == '\'') {
          st = c == '"' ? TagState::kValueDq : TagState::kValueSq;
          extend();
        }
        else if (c == '>') return p;
        else {
          st = TagState::kValueUnq;
          --p;
        }
        break;
      case TagState::kValueDq:
      case TagState::kValueSq:
        if (c == (st == TagState::kValueDq ? '"' : '\'')) st = TagState::kAfterValueQuoted;
        else if (tag != nullptr) tag->attrs.back().value.push_back(char(c));
        extend();
        break;
      case TagState::kValueUnq:
        if (is_ws(c)) st = TagState::kBeforeAttrName;
        else if (c == '>') return p;
        else if (tag != nullptr) {
          tag->attrs.back().value.push_back(char(c));
          extend();
        }
        break;
      case TagState::kAfterValueQuoted:
        if (is_ws(c)) st = TagState::kBeforeAttrName;
        else if (c == '/') st = TagState::kSelfClosing;
        else if (c == '>') return p;
        else {
          st = TagState::kBeforeAttrName;
          --p;
        }
        break;
      case TagState::kSelfClosing:
        if (c == '>') {
          if (tag != nullptr) tag->self_closing = true;
          return p;
        }
        st = TagState::kBeforeAttrName;
        --p;
        break;
    }
  }
  return std::string::npos;
}

bool in_list(const std::string &name, std::initializer_list<const char *> names) {
  for (const char *n : names) {
    if (name == n) return true;
  }
  return false;
}

bool is_void(const std::string &name) {
  return in_list(name, {"area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr",
                        "img", "input", "keygen", "link", "meta", "param", "source", "track", "wbr"});
}

// The length of s[from, to) without an unfinished UTF-8 sequence at its end.
size_t utf8_complete_end(const std::string &s, size_t from, size_t to) {
  size_t k = to;
  size_t back = 0;
  while (k > from && back < 4) {
    unsigned char c = s[k - 1];
    if ((c & 0xC0) != 0x80) {
      size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
      return back + 1 < need ? k - 1 : to;
    }
    --k;
    ++back;
  }
  return to;
}

// ---------------------------------------------------------------- rewriter

enum Ns : uint8_t { kHtml, kSvg, kMathMl };
const char *const kNsUri[] = {"http://www.w3.org/1999/xhtml", "http://www.w3.org/2000/svg",
                              "http://www.w3.org/1998/Math/MathML"};

enum class Mode : uint8_t { kData, kRaw, kPlain };
enum class ScriptState : uint8_t {
  kData, kEscaped, kEscapedDash, kEscapedDashDash,
  kDoubleEscaped, kDoubleEscapedDash, kDoubleEscapedDashDash,
};
enum class TokenKind : uint8_t { kNone, kStart, kEnd, kComment, kDoctype, kBogus, kCdata, kEmptyEnd };
enum class Pending : uint8_t { kNone, kElement, kEndTag, kText, kComment, kDoctype, kEnd };
enum class Step : uint8_t { kEvent, kNeedInput, kYield, kError };

// An element's resolution: what its handlers did to it.
enum ElementMode : uint8_t { kKeep = 0, kRemove = 1, kKeepContent = 2, kReplace = 3 };

using Bits = std::vector<uint64_t>;
bool bit(const Bits &b, size_t i) { return (b[i >> 6] >> (i & 63)) & 1; }
void set_bit(Bits &b, size_t i) { b[i >> 6] |= uint64_t(1) << (i & 63); }

struct Entry {
  std::string name;      // lower case
  std::string end_name;  // a renamed element's end tag name, else empty
  Ns ns = kHtml;
  Ns child_ns = kHtml;
  uint8_t mode = kKeep;
  bool content_removed = false;
  double end_handler = 0;  // the built-ins' id of its onEndTag handlers
  std::string after, append;
  uint32_t children = 0;
  std::vector<std::pair<std::string, uint32_t>> types;  // children per type, for :nth-of-type
  size_t name_bytes = 0;  // its name's and its types' names' bytes, charged while open
  Bits self, ancestors;  // compounds matched here / here or above
  Bits content;          // selectors whose content this is in
};

struct FlatCompound {
  const Compound *compound;
  uint32_t selector;
  bool first;  // the leftmost of its complex selector
  bool last;   // the rightmost: the selector matches
};

constexpr size_t kWorkPerCall = 4u << 20;

class HtmlRewriter : public NativeState {
 public:
  static constexpr const char *kKind = "html-rewriter";

  explicit HtmlRewriter(MemoryBudget &budget) : NativeState(kKind), budget_(budget) {}
  ~HtmlRewriter() override { budget_.refund(charged_); }

  // Selectors with flags of which handlers they have.
  bool add_selector(Selector selector, bool element, bool text, bool comments, std::string *error) {
    for (const Complex &complex : selector.alternatives) total_compounds_ += complex.size();
    if (selectors_.size() >= kHtmlMaxSelectors) {
      *error = "HTMLRewriter: more than " + std::to_string(kHtmlMaxSelectors) + " selectors";
      return false;
    }
    if (total_compounds_ > kHtmlMaxCompounds) {
      *error = "HTMLRewriter: the selectors have more than " + std::to_string(kHtmlMaxCompounds) +
               " compound selectors in all";
      return false;
    }
    selectors_.push_back(std::move(selector));
    element_.push_back(element);
    text_.push_back(text);
    comments_.push_back(comments);
    return true;
  }

  void start(unsigned flags) {
    latin1_ = flags & 16;
    doc_doctype_ = flags & 1;
    doc_comments_ = flags & 2;
    doc_text_ = flags & 4;
    doc_end_ = flags & 8;
    for (uint32_t s = 0; s < selectors_.size(); ++s) {
      for (const Complex &complex : selectors_[s].alternatives) {
        for (size_t k = 0; k < complex.size(); ++k) {
          flat_.push_back(FlatCompound{&complex[k], s, k == 0, k + 1 == complex.size()});
          for (const Simple &simple : complex[k].simples) {
            if (simple.kind == SimpleKind::kNthOfType) needs_types_ = true;
            for (const Simple &inner : simple.inner) {
              if (inner.kind == SimpleKind::kNthOfType) needs_types_ = true;
            }
          }
        }
      }
    }
    compound_words_ = (flat_.size() + 63) / 64;
    selector_words_ = (selectors_.size() + 63) / 64;
    Entry root;
    root.self.assign(compound_words_, 0);
    root.ancestors.assign(compound_words_, 0);
    root.content.assign(selector_words_, 0);
    stack_.push_back(std::move(root));
  }

  // The input must have been consumed up to what an unfinished token holds.
  void write(const char *data, size_t len) {
    compact();
    in_.append(data, len);
  }
  void end() { ended_ = true; }
  bool ended() const { return ended_; }
  bool latin1() const { return latin1_; }
  bool finished() const { return finished_ && out_.empty(); }
  Pending pending() const { return pending_; }
  std::string &out() { return out_; }
  const std::string &error() const { return error_; }

  // Charges what the buffers hold now to the budget; false when it has no room.
  bool account() {
    size_t entry_bytes = sizeof(Entry) + (2 * compound_words_ + selector_words_) * 8 + 64;
    size_t now = in_.capacity() + out_.capacity() + stack_.capacity() * entry_bytes + held_ +
                 names_held_;
    if (now > charged_) {
      if (!budget_.charge_collecting(now - charged_)) return false;
    } else {
      budget_.refund(charged_ - now);
    }
    charged_ = now;
    return true;
  }

  Step step() {
    work_ = 0;
    for (;;) {
      if (pending_ != Pending::kNone) return Step::kEvent;
      if (finished_) return Step::kNeedInput;
      if (work_ > kWorkPerCall) return Step::kYield;
      scan_ = std::max(scan_, pos_);
      Step r;
      switch (mode_) {
        case Mode::kData: r = step_data(); break;
        case Mode::kRaw: r = raw_end_ == "script" ? step_script() : step_raw(); break;
        default: r = step_plain(); break;
      }
      if (r != Step::kYield) return r;  // kYield here: go round again
    }
  }

  // ---- events, for the natives
  const std::vector<uint32_t> &event_selectors() const { return event_selectors_; }
  const Tag &event_tag() const { return tag_; }
  const Entry &event_entry() const { return pending_ == Pending::kEndTag ? closing_ : element_entry_; }
  bool event_can_have_content() const { return can_have_content_; }
  std::string event_text() const {
    if (pending_ == Pending::kComment) return in_.substr(comment_from_, comment_to_ - comment_from_);
    return in_.substr(pos_, event_end_ - pos_);
  }
  bool event_last() const { return text_last_; }
  // The start tag of the element event as a handler changed it: the name,
  // then each attribute, an untouched one as it was written.
  std::string start_tag(const std::string &name, bool self_closing, const std::vector<int64_t> &raw,
                        const std::vector<std::string> &fresh) const {
    std::string tag = "<" + name;
    for (size_t k = 0; k < raw.size(); ++k) {
      tag += ' ';
      if (raw[k] >= 0 && size_t(raw[k]) < tag_.attrs.size()) {
        const Attr &a = tag_.attrs[size_t(raw[k])];
        tag.append(in_, a.raw_from, a.raw_to - a.raw_from);
      } else {
        tag += fresh[k];
      }
    }
    // As lol-html: a space before "/>" after attributes (an unquoted last value would take the '/').
    tag += self_closing ? (raw.empty() ? "/>" : " />") : ">";
    return tag;
  }
  bool event_doc() const { return event_doc_; }
  const std::string &doctype_field(int k) const { return doctype_[k]; }
  bool doctype_has(int k) const { return doctype_has_[k]; }

  // ---- resolutions
  void resolve_element(uint8_t mode, const std::string *start_tag, const std::string &before,
                       std::string after, const std::string &prepend, std::string append,
                       const std::string *inner, const std::string &replace_with, double end_handler,
                       const std::string *new_name) {
    pending_ = Pending::kNone;
    Entry &e = element_entry_;
    e.mode = mode;
    e.after = std::move(after);
    e.append = std::move(append);
    e.end_name = new_name != nullptr ? *new_name : std::string();
    // Content waiting for the end tag is held here: it counts.
    held_ += e.after.size() + e.append.size() + e.end_name.size();
    e.end_handler = end_handler;
    finish_element(start_tag, before, prepend, inner, replace_with);
  }

  void resolve_end_tag(bool removed, const std::string &before, const std::string &after,
                       const std::string *new_name) {
    pending_ = Pending::kNone;
    if (new_name != nullptr) {
      held_ -= std::min(held_, closing_.end_name.size());
      closing_.end_name = *new_name;
      held_ += closing_.end_name.size();
    }
    close_entry(closing_, closing_explicit_, removed, before, after);
  }

  void resolve_text(bool removed, const std::string &before, const std::string &after,
                    const std::string &replace_with) {
    pending_ = Pending::kNone;
    emit(before);
    if (removed) emit(replace_with);
    else emit(in_.data() + pos_, event_end_ - pos_);
    emit(after);
    pos_ = event_end_;
    text_open_ = !text_last_;
  }

  void resolve_comment(bool removed, const std::string &before, const std::string &after,
                       const std::string &replace_with, const std::string *new_text) {
    pending_ = Pending::kNone;
    emit(before);
    if (removed) {
      emit(replace_with);
    } else if (new_text != nullptr) {
      emit("<!--");
      emit(*new_text);
      emit("-->");
    } else {
      emit(in_.data() + pos_, tok_end_ - pos_);
    }
    emit(after);
    consume_token();
  }

  void resolve_doctype() {
    pending_ = Pending::kNone;
    emit(in_.data() + pos_, tok_end_ - pos_);
    consume_token();
  }

  void resolve_end(const std::string &append) {
    pending_ = Pending::kNone;
    emit(append);
    finished_ = true;
  }

 private:
  void emit(const char *data, size_t len) {
    if (suppress_ == 0) out_.append(data, len);
  }
  void emit(const std::string &s) { emit(s.data(), s.size()); }

  Step fail(std::string why) {
    error_ = std::move(why);
    return Step::kError;
  }

  // Drops consumed input; indices into in_ move with it.
  void compact() {
    if (pos_ == 0) return;
    in_.erase(0, pos_);
    scan_ -= std::min(scan_, pos_);
    if (tok_kind_ != TokenKind::kNone) tok_scan_ -= pos_;
    pos_ = 0;
    if (in_.capacity() > (size_t(64) << 10) && in_.capacity() > 4 * in_.size()) in_.shrink_to_fit();
  }

  void consume_token() {
    pos_ = tok_end_;
    tok_kind_ = TokenKind::kNone;
  }

  // ---- text

  // Whether some handler wants the text here, with the selectors in event_selectors_.
  bool wanted(const std::vector<bool> &flags, bool doc) {
    event_selectors_.clear();
    const Bits &content = stack_.back().content;
    for (uint32_t s = 0; s < selectors_.size(); ++s) {
      if (flags[s] && bit(content, s)) event_selectors_.push_back(s);
    }
    event_doc_ = doc;
    return doc || !event_selectors_.empty();
  }

  // The text of the current text node from pos_ to end; last: the node ends there.
  Step flush_text(size_t end, bool last) {
    if (!last) end = utf8_complete_end(in_, pos_, end);
    if (end == pos_ && !(last && text_open_)) return Step::kYield;
    // Handlers see removed content too, as on lol-html; what they do to it is dropped with it.
    if (wanted(text_, doc_text_)) {
      // As lol-html: a node's last chunk is an empty one of its own.
      event_end_ = end;
      text_last_ = last && end == pos_;
      pending_ = Pending::kText;
      return Step::kEvent;
    }
    emit(in_.data() + pos_, end - pos_);
    pos_ = end;
    text_open_ = !last;
    return Step::kYield;
  }

  // ---- the data state and the tokens that start with '<'

  // What starts at in_[i] == '<': kNone (a literal '<'), or the token's kind;
  // *more when the bytes so far cannot tell.
  TokenKind classify(size_t i, bool *more) {
    *more = false;
    size_t left = in_.size() - i;
    auto need = [&](size_t n) {
      if (left >= n) return false;
      *more = !ended_;
      return true;
    };
    auto starts = [&](const char *prefix, bool fold) {
      for (size_t k = 0; prefix[k] != 0; ++k) {
        if (i + k >= in_.size()) return true;  // a prefix so far
        char c = fold ? ascii_lower(in_[i + k]) : in_[i + k];
        if (c != prefix[k]) return false;
      }
      return true;
    };
    if (need(2)) return TokenKind::kNone;
    unsigned char c = in_[i + 1];
    if (ascii_alpha(c)) return TokenKind::kStart;
    if (c == '?') return TokenKind::kBogus;
    if (c == '/') {
      if (need(3)) return TokenKind::kNone;
      unsigned char d = in_[i + 2];
      if (ascii_alpha(d)) return TokenKind::kEnd;
      return d == '>' ? TokenKind::kEmptyEnd : TokenKind::kBogus;
    }
    if (c != '!') return TokenKind::kNone;
    bool comment = starts("<!--", false);
    bool doctype = starts("<!doctype", true);
    bool cdata = starts("<![CDATA[", false);
    if (comment && left >= 4) return TokenKind::kComment;
    if (doctype && left >= 9) return TokenKind::kDoctype;
    if (cdata && left >= 9) return stack_.back().child_ns == kHtml ? TokenKind::kBogus : TokenKind::kCdata;
    if ((comment || doctype || cdata) && !ended_) {
      *more = true;
      return TokenKind::kNone;
    }
    return TokenKind::kBogus;
  }

  // Finds the end of the token at pos_ (tok_end_, one past it); false when
  // more bytes are needed. Resumes where the previous call stopped.
  bool find_token_end() {
    size_t size = in_.size();
    work_ += size - tok_scan_;
    switch (tok_kind_) {
      case TokenKind::kStart:
      case TokenKind::kEnd: {
        size_t gt = run_tag_states(in_, tok_scan_, size, tag_state_, nullptr);
        if (gt == std::string::npos) return false;
        tok_end_ = gt + 1;
        return true;
      }
      case TokenKind::kComment: {
        // <!-->, <!--->, then --> or --!>
        size_t from = pos_ + 4;
        if (tok_scan_ == from) {
          if (from < size && in_[from] == '>') return found(from + 1, from, from);
          if (from + 1 < size && in_[from] == '-' && in_[from + 1] == '>') return found(from + 2, from, from);
          if (size - from < 2) return false;
        }
        for (size_t k = std::max(tok_scan_, from); k < size; ++k) {
          if (in_[k] != '>') continue;
          if (k >= from + 2 && in_[k - 1] == '-' && in_[k - 2] == '-') return found(k + 1, from, k - 2);
          if (k >= from + 3 && in_[k - 1] == '!' && in_[k - 2] == '-' && in_[k - 3] == '-') {
            return found(k + 1, from, k - 3);
          }
        }
        tok_scan_ = std::max(size, from + 3) - 3;  // a --!> may straddle the next chunk
        return false;
      }
      case TokenKind::kCdata: {
        size_t k = in_.find("]]>", tok_scan_);
        if (k == std::string::npos) {
          tok_scan_ = std::max(size, tok_scan_ + 2) - 2;
          return false;
        }
        tok_end_ = k + 3;
        return true;
      }
      default: {  // doctype, bogus comments, </>
        size_t k = in_.find('>', tok_scan_);
        if (k == std::string::npos) {
          tok_scan_ = size;
          return false;
        }
        tok_end_ = k + 1;
        return true;
      }
    }
  }

  bool found(size_t end, size_t text_from, size_t text_to) {
    tok_end_ = end;
    comment_from_ = text_from;
    comment_to_ = text_to;
    return true;
  }

  Step step_data() {
    size_t i = in_.find('<', scan_);
    if (i == std::string::npos) {
      work_ += in_.size() - scan_;
      Step r = flush_text(in_.size(), ended_);
      if (r == Step::kEvent) return r;
      scan_ = in_.size();
      if (!ended_) return Step::kNeedInput;
      return at_eof();
    }
    work_ += i - scan_ + 1;
    if (tok_kind_ == TokenKind::kNone || pos_ != i) {
      bool more;
      TokenKind kind = classify(i, &more);
      if (more) {
        Step r = flush_text(i, false);
        if (r == Step::kEvent) return r;
        scan_ = i;
        return Step::kNeedInput;
      }
      if (kind == TokenKind::kNone) {
        scan_ = i + 1;
        return Step::kYield;
      }
      if (i > pos_ || text_open_) {
        Step r = flush_text(i, true);
        if (r == Step::kEvent) return r;
      }
      tok_kind_ = kind;
      tag_state_ = TagState::kTagName;
      tok_scan_ = kind == TokenKind::kStart ? i + 1 : kind == TokenKind::kEnd ? i + 2 : i + 2;
      if (kind == TokenKind::kComment) tok_scan_ = i + 4;
      if (kind == TokenKind::kCdata) tok_scan_ = i + 9;
    }
    if (!find_token_end()) {
      if (in_.size() - pos_ > kHtmlMaxToken) {
        return fail("HTMLRewriter: a tag, comment or doctype is longer than " +
                    std::to_string(kHtmlMaxToken) + " bytes (the rewriter's limit)");
      }
      if (!ended_) return Step::kNeedInput;
      // The end of the input inside a token: its bytes go out as they came.
      emit(in_.data() + pos_, in_.size() - pos_);
      pos_ = in_.size();
      tok_kind_ = TokenKind::kNone;
      return Step::kYield;
    }
    switch (tok_kind_) {
      case TokenKind::kStart: return start_tag();
      case TokenKind::kEnd: return end_tag();
      case TokenKind::kComment:
        if (wanted(comments_, doc_comments_)) {
          pending_ = Pending::kComment;
          return Step::kEvent;
        }
        break;
      case TokenKind::kDoctype:
        if (doc_doctype_) {
          parse_doctype();
          pending_ = Pending::kDoctype;
          return Step::kEvent;
        }
        break;
      default: break;
    }
    emit(in_.data() + pos_, tok_end_ - pos_);
    consume_token();
    return Step::kYield;
  }

  // <!DOCTYPE name PUBLIC "public" "system"> / SYSTEM "system">
  void parse_doctype() {
    for (int k = 0; k < 3; ++k) doctype_[k].clear(), doctype_has_[k] = false;
    size_t k = pos_ + 9, end = tok_end_ - 1;
    auto skip = [&] { while (k < end && is_ws(in_[k])) ++k; };
    auto word = [&] {
      std::string w;
      while (k < end && !is_ws(in_[k])) w.push_back(ascii_lower(in_[k++]));
      return w;
    };
    auto quoted = [&](int field) {
      skip();
      if (k >= end || (in_[k] != '"' && in_[k] != '\'')) return false;
      char q = in_[k++];
      size_t close = in_.find(q, k);
      if (close == std::string::npos || close > end) close = end;
      doctype_[field] = in_.substr(k, close - k);
      doctype_has_[field] = true;
      k = close + 1;
      return true;
    };
    skip();
    if (k < end) {
      doctype_[0] = word();
      doctype_has_[0] = true;
    }
    skip();
    std::string keyword = word();
    if (keyword == "public") {
      if (quoted(1)) quoted(2);
    } else if (keyword == "system") {
      quoted(2);
    }
  }

  // ---- raw text (script, style, title, ...) and plaintext

  // Whether in_ at i holds "<" + prefix (ASCII case-insensitive) followed by
  // whitespace, '/' or '>'; *more when the bytes so far cannot tell.
  bool tag_at(size_t i, const char *prefix, bool *more) {
    size_t n = strlen(prefix);
    *more = false;
    if (i + 1 + n >= in_.size()) {
      // A prefix of it so far: wait for more, unless the input has ended.
      for (size_t k = 0; i + 1 + k < in_.size() && k < n; ++k) {
        if (ascii_lower(in_[i + 1 + k]) != prefix[k]) return false;
      }
      *more = !ended_;
      return false;
    }
    for (size_t k = 0; k < n; ++k) {
      if (ascii_lower(in_[i + 1 + k]) != prefix[k]) return false;
    }
    unsigned char c = in_[i + 1 + n];
    return is_ws(c) || c == '/' || c == '>';
  }

  // Script data with its escaped and double-escaped states (the HTML
  // Standard's), which decide which "</script" ends the element:
  // <script><!--<script></script>--></script> is one script.
  Step step_script() {
    size_t k = scan_;
    for (; k < in_.size(); ++k) {
      unsigned char c = in_[k];
      bool more = false;
      switch (script_state_) {
        case ScriptState::kData:
          if (c != '<') break;
          if (tag_at(k, "/script", &more)) return end_raw_text(k);
          if (!more && k + 3 < in_.size() && in_.compare(k, 4, "<!--") == 0) {
            script_state_ = ScriptState::kEscapedDashDash;
            k += 3;
          } else if (!more && k + 3 >= in_.size() && !ended_ &&
                     in_.compare(k, in_.size() - k, "<!--", in_.size() - k) == 0) {
            more = true;
          }
          break;
        case ScriptState::kEscaped:
        case ScriptState::kEscapedDash:
        case ScriptState::kEscapedDashDash:
          if (c == '-') {
            script_state_ = script_state_ == ScriptState::kEscaped ? ScriptState::kEscapedDash
                                                                   : ScriptState::kEscapedDashDash;
          } else if (c == '>') {
            script_state_ = script_state_ == ScriptState::kEscapedDashDash ? ScriptState::kData
                                                                           : ScriptState::kEscaped;
          } else if (c == '<') {
            if (tag_at(k, "/script", &more)) return end_raw_text(k);
            if (!more && tag_at(k, "script", &more)) {
              script_state_ = ScriptState::kDoubleEscaped;
              k += 6;
            } else if (!more) {
              script_state_ = ScriptState::kEscaped;
            }
          } else {
            script_state_ = ScriptState::kEscaped;
          }
          break;
        default:  // double escaped: only "-->" or "</script" leaves it
          if (c == '-') {
            script_state_ = script_state_ == ScriptState::kDoubleEscaped ? ScriptState::kDoubleEscapedDash
                                                                         : ScriptState::kDoubleEscapedDashDash;
          } else if (c == '>' && script_state_ == ScriptState::kDoubleEscapedDashDash) {
            script_state_ = ScriptState::kData;
          } else if (c == '<' && tag_at(k, "/script", &more)) {
            script_state_ = ScriptState::kEscaped;
            k += 7;
          } else if (!more) {
            script_state_ = ScriptState::kDoubleEscaped;
          }
      }
      if (more) {  // hold from the '<' on, in the state before it
        work_ += k - scan_;
        scan_ = k;  // the states up to k are taken: never again
        Step r = flush_text(k, false);
        if (r == Step::kEvent) return r;
        return Step::kNeedInput;
      }
    }
    work_ += k - scan_;
    scan_ = in_.size();
    Step r = flush_text(in_.size(), ended_);
    if (r == Step::kEvent) return r;
    if (!ended_) return Step::kNeedInput;
    mode_ = Mode::kData;
    return Step::kYield;
  }

  // Raw text ends at i, where its end tag starts.
  Step end_raw_text(size_t i) {
    work_ += i - scan_;
    scan_ = i;
    Step r = flush_text(i, true);
    if (r == Step::kEvent) return r;
    mode_ = Mode::kData;
    scan_ = i;
    return Step::kYield;
  }

  Step step_raw() {
    for (;;) {
      size_t i = in_.find('<', scan_);
      if (i == std::string::npos) {
        work_ += in_.size() - scan_;
        Step r = flush_text(in_.size(), false);
        if (r == Step::kEvent) return r;
        scan_ = in_.size();
        if (!ended_) return Step::kNeedInput;
        r = flush_text(in_.size(), true);
        if (r == Step::kEvent) return r;
        mode_ = Mode::kData;
        return Step::kYield;
      }
      work_ += i - scan_ + 1;
      size_t need = i + 2 + raw_end_.size() + 1;
      if (need > in_.size() && !ended_) {
        Step r = flush_text(i, false);
        if (r == Step::kEvent) return r;
        scan_ = i;
        return Step::kNeedInput;
      }
      bool ends = need <= in_.size() && in_[i + 1] == '/';
      for (size_t k = 0; ends && k < raw_end_.size(); ++k) {
        ends = ascii_lower(in_[i + 2 + k]) == raw_end_[k];
      }
      if (ends) {
        unsigned char c = in_[i + 2 + raw_end_.size()];
        ends = is_ws(c) || c == '/' || c == '>';
      }
      if (!ends) {
        scan_ = i + 1;
        continue;
      }
      Step r = flush_text(i, true);
      if (r == Step::kEvent) return r;
      mode_ = Mode::kData;
      scan_ = i;
      return Step::kYield;
    }
  }

  Step step_plain() {
    Step r = flush_text(in_.size(), ended_);
    if (r == Step::kEvent) return r;
    if (!ended_) return Step::kNeedInput;
    mode_ = Mode::kData;
    return Step::kYield;
  }

  // ---- elements

  // Which entry (index into stack_) a start tag closes implicitly, or 0.
  size_t implied_close(const std::string &name) {
    auto find = [&](std::initializer_list<const char *> targets,
                    std::initializer_list<const char *> stops) -> size_t {
      for (size_t k = stack_.size() - 1; k > 0; --k) {
        const Entry &e = stack_[k];
        if (e.ns != kHtml) return 0;
        if (in_list(e.name, targets)) return k;
        if (in_list(e.name, stops) ||
            in_list(e.name, {"html", "table", "td", "th", "caption", "marquee", "object", "applet",
                             "template", "button"})) {
          return 0;
        }
      }
      return 0;
    };
    const Entry &top = stack_.back();
    if (name == "li") {
      if (size_t k = find({"li"}, {"ul", "ol", "menu"})) return k;
    } else if (name == "dt" || name == "dd") {
      if (size_t k = find({"dt", "dd"}, {"dl"})) return k;
    } else if (name == "option") {
      return top.name == "option" ? stack_.size() - 1 : 0;
    } else if (name == "optgroup") {
      return top.name == "option" || top.name == "optgroup" ? stack_.size() - 1 : 0;
    } else if (name == "tr") {
      for (size_t k = stack_.size() - 1; k > 0 && stack_[k].name != "table"; --k) {
        if (in_list(stack_[k].name, {"tr", "td", "th"})) return k;
      }
      return 0;
    } else if (name == "td" || name == "th") {
      for (size_t k = stack_.size() - 1; k > 0 && stack_[k].name != "table" && stack_[k].name != "tr"; --k) {
        if (in_list(stack_[k].name, {"td", "th"})) return k;
      }
      return 0;
    } else if (in_list(name, {"thead", "tbody", "tfoot"})) {
      for (size_t k = stack_.size() - 1; k > 0 && stack_[k].name != "table"; --k) {
        if (in_list(stack_[k].name, {"tr", "td", "th", "thead", "tbody", "tfoot"})) return k;
      }
      return 0;
    } else if (name == "a" || name == "nobr" || name == "button") {
      // A link does not nest in a link (the adoption agency closes the
      // first), nor a button in a button.
      return find({name.c_str()}, {});
    }
    if (in_list(name, {"h1", "h2", "h3", "h4", "h5", "h6"}) &&
        in_list(top.name, {"h1", "h2", "h3", "h4", "h5", "h6"}) && top.ns == kHtml) {
      return stack_.size() - 1;
    }
    if (in_list(name, {"address", "article", "aside", "blockquote", "center", "details", "dialog",
                       "dir", "div", "dl", "fieldset", "figcaption", "figure", "footer", "form",
                       "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "li", "dd",
                       "dt", "main", "menu", "nav", "ol", "p", "pre", "section", "summary",
                       "table", "ul", "listing", "plaintext", "xmp"})) {
      return find({"p"}, {});
    }
    return 0;
  }

  // *cost grows by the attributes looked through and the bytes compared,
  // so that start_tag can bound what one element costs.
  bool match_simple(const Simple &s, const Tag &tag, uint32_t index, uint32_t type_index,
                    size_t *cost) const {
    auto attr = [&](const std::string &name) -> const std::string * {
      *cost += tag.attrs.size();
      for (const Attr &a : tag.attrs) {
        if (a.name == name) return &a.value;
      }
      return nullptr;
    };
    auto nth = [&](uint32_t i) {
      long n = long(i) - s.b;
      if (s.a == 0) return n == 0;
      return n % s.a == 0 && n / s.a >= 0;
    };
    switch (s.kind) {
      case SimpleKind::kType: return tag.name == s.name;
      case SimpleKind::kId: {
        const std::string *v = attr("id");
        if (v != nullptr) *cost += s.name.size();
        return v != nullptr && *v == s.name;
      }
      case SimpleKind::kClass: {
        const std::string *v = attr("class");
        if (v != nullptr) *cost += v->size() + s.name.size();
        return v != nullptr && has_word(*v, s.name, false);
      }
      case SimpleKind::kAttr: {
        const std::string *v = attr(s.name);
        if (v == nullptr) return false;
        *cost += v->size() + s.value.size();
        return match_value(*v, s);
      }
      case SimpleKind::kNthChild: return nth(index);
      case SimpleKind::kNthOfType: return nth(type_index);
      case SimpleKind::kNot:
        for (const Simple &inner : s.inner) {
          if (!match_simple(inner, tag, index, type_index, cost)) return true;
        }
        return false;
    }
    return false;
  }

  static bool equal(const char *a, const char *b, size_t n, bool ci) {
    if (!ci) return memcmp(a, b, n) == 0;
    for (size_t k = 0; k < n; ++k) {
      if (ascii_lower(a[k]) != ascii_lower(b[k])) return false;
    }
    return true;
  }

  static bool has_word(const std::string &v, const std::string &w, bool ci) {
    if (w.empty()) return false;
    size_t k = 0;
    while (k < v.size()) {
      while (k < v.size() && is_ws(v[k])) ++k;
      size_t start = k;
      while (k < v.size() && !is_ws(v[k])) ++k;
      if (k - start == w.size() && equal(v.data() + start, w.data(), w.size(), ci)) return true;
    }
    return false;
  }

  static bool match_value(const std::string &v, const Simple &s) {
    const std::string &w = s.value;
    switch (s.op) {
      case AttrOp::kExists: return true;
      case AttrOp::kEquals: return v.size() == w.size() && equal(v.data(), w.data(), w.size(), s.ci);
      case AttrOp::kWord: return has_word(v, w, s.ci);
      case AttrOp::kDash:
        return (v.size() == w.size() || (v.size() > w.size() && v[w.size()] == '-')) &&
               equal(v.data(), w.data(), w.size(), s.ci);
      case AttrOp::kPrefix: return !w.empty() && v.size() >= w.size() && equal(v.data(), w.data(), w.size(), s.ci);
      case AttrOp::kSuffix:
        return !w.empty() && v.size() >= w.size() &&
               equal(v.data() + v.size() - w.size(), w.data(), w.size(), s.ci);
      case AttrOp::kContains: {
        // memmem is linear in both lengths (glibc's two-way search): trying
        // every offset costs their product, 16G steps for a 1 MB attribute.
        if (w.empty() || v.size() < w.size()) return false;
        if (!s.ci) return memmem(v.data(), v.size(), w.data(), w.size()) != nullptr;
        std::string lv(v), lw(w);
        for (char &c : lv) c = ascii_lower(c);
        for (char &c : lw) c = ascii_lower(c);
        return memmem(lv.data(), lv.size(), lw.data(), lw.size()) != nullptr;
      }
    }
    return false;
  }

  Step start_tag() {
    tag_ = Tag();
    size_t p = pos_ + 1;
    TagState st = TagState::kTagName;
    run_tag_states(in_, p, tok_end_, st, &tag_);
    work_ += tok_end_ - pos_;
    // The first of duplicate attributes counts, as in the HTML Standard.
    if (tag_.attrs.size() > 1) {
      if (tag_.attrs.size() > 10000) return fail("HTMLRewriter: a tag has more than 10000 attributes");
      std::unordered_set<std::string> seen;
      std::vector<Attr> unique;
      for (Attr &a : tag_.attrs) {
        if (seen.insert(a.name).second) unique.push_back(std::move(a));
      }
      tag_.attrs = std::move(unique);
    }
    if (stack_.back().child_ns == kHtml && implied_close(tag_.name) != 0) return pop_top(false);
    if (stack_.size() > kHtmlMaxDepth) {
      return fail("HTMLRewriter: elements nest more than " + std::to_string(kHtmlMaxDepth) +
                  " deep (the rewriter's limit)");
    }
    Entry &parent = stack_.back();
    Entry e;
    e.name = tag_.name;
    e.ns = tag_.name == "svg" ? kSvg : tag_.name == "math" ? kMathMl : parent.child_ns;
    e.child_ns = e.ns;
    if ((e.ns == kSvg && in_list(tag_.name, {"foreignobject", "desc", "title"})) ||
        (e.ns == kMathMl && tag_.name == "annotation-xml")) {
      e.child_ns = kHtml;
    }
    uint32_t index = ++parent.children;
    uint32_t type_index = 0;
    if (needs_types_) {
      for (auto &t : parent.types) {
        if (t.first == tag_.name) type_index = ++t.second;
      }
      if (type_index == 0) {
        size_t bytes = sizeof(parent.types[0]) + tag_.name.size();
        parent.name_bytes += bytes;
        names_held_ += bytes;
        parent.types.emplace_back(tag_.name, 1);
        type_index = 1;
      }
    }
    e.self.assign(compound_words_, 0);
    e.content = parent.content;
    event_selectors_.clear();
    // One element is matched in one call, which the watchdog cannot stop:
    // what it may cost is bounded (a 1 MB attribute against 16 selectors).
    size_t cost = 0;
    for (size_t g = 0; g < flat_.size(); ++g) {
      const FlatCompound &f = flat_[g];
      if (!f.first && !bit(f.compound->child ? parent.self : parent.ancestors, g - 1)) continue;
      bool ok = true;
      for (const Simple &s : f.compound->simples) {
        ++cost;
        if (!match_simple(s, tag_, index, type_index, &cost)) {
          ok = false;
          break;
        }
      }
      if (cost > kHtmlMaxMatchWork) {
        return fail("HTMLRewriter: matching one element against the selectors costs more than " +
                    std::to_string(kHtmlMaxMatchWork) + " steps (the rewriter's limit)");
      }
      if (!ok) continue;
      set_bit(e.self, g);
      if (f.last && element_[f.selector]) event_selectors_.push_back(f.selector);
      if (f.last) set_bit(e.content, f.selector);
    }
    work_ += flat_.size() + cost;
    e.ancestors = parent.ancestors;
    for (size_t w = 0; w < compound_words_; ++w) e.ancestors[w] |= e.self[w];
    // A selector list may match through more than one of its selectors.
    std::sort(event_selectors_.begin(), event_selectors_.end());
    event_selectors_.erase(std::unique(event_selectors_.begin(), event_selectors_.end()), event_selectors_.end());
    can_have_content_ = !(e.ns == kHtml && is_void(tag_.name)) && !(e.ns != kHtml && tag_.self_closing);
    element_entry_ = std::move(e);
    if (!event_selectors_.empty()) {
      pending_ = Pending::kElement;
      return Step::kEvent;
    }
    finish_element(nullptr, std::string(), std::string(), nullptr, std::string());
    return Step::kYield;
  }

  void finish_element(const std::string *start_tag, const std::string &before, const std::string &prepend,
                      const std::string *inner, const std::string &replace_with) {
    Entry &e = element_entry_;
    emit(before);
    switch (e.mode) {
      case kReplace:
        emit(replace_with);
        e.content_removed = true;
        break;
      case kRemove: e.content_removed = true; break;
      case kKeepContent: break;
      default:
        if (start_tag != nullptr) emit(*start_tag);
        else emit(in_.data() + pos_, tok_end_ - pos_);
        emit(prepend);
        if (inner != nullptr) {
          emit(*inner);
          e.content_removed = true;
        }
    }
    consume_token();
    if (!can_have_content_) {
      emit(e.after);
      held_ -= std::min(held_, e.after.size() + e.append.size() + e.end_name.size());
      return;
    }
    if (e.ns == kHtml) {
      const std::string &n = e.name;
      if (n == "plaintext") {
        mode_ = Mode::kPlain;
      } else if (in_list(n, {"script", "style", "xmp", "iframe", "noembed", "noframes", "noscript",
                             "title", "textarea"})) {
        mode_ = Mode::kRaw;
        raw_end_ = n;
        script_state_ = ScriptState::kData;
      }
    }
    if (e.content_removed) ++suppress_;
    // A tag name may be 1 MiB (a token's bound) and 1024 may be open.
    e.name_bytes += e.name.size();
    names_held_ += e.name_bytes;
    stack_.push_back(std::move(e));
  }

  Step end_tag() {
    tag_ = Tag();
    size_t p = pos_ + 2;
    TagState st = TagState::kTagName;
    run_tag_states(in_, p, tok_end_, st, &tag_);
    work_ += tok_end_ - pos_;
    size_t k = stack_.size() - 1;
    while (k > 0 && stack_[k].name != tag_.name) --k;
    work_ += stack_.size() - k;
    if (k == 0) {  // a stray end tag: passed through
      emit(in_.data() + pos_, tok_end_ - pos_);
      consume_token();
      return Step::kYield;
    }
    return pop_top(k == stack_.size() - 1);
  }

  // Closes the innermost open element; explicit: by the end tag at pos_.
  Step pop_top(bool explicit_end) {
    closing_ = std::move(stack_.back());
    stack_.pop_back();
    names_held_ -= std::min(names_held_, closing_.name_bytes);
    if (closing_.content_removed) --suppress_;
    closing_explicit_ = explicit_end;
    if (closing_.end_handler != 0) {
      pending_ = Pending::kEndTag;
      return Step::kEvent;
    }
    close_entry(closing_, explicit_end, false, std::string(), std::string());
    return Step::kYield;
  }

  void close_entry(Entry &e, bool explicit_end, bool removed, const std::string &before,
                   const std::string &after) {
    if (e.mode == kKeep) {
      emit(e.append);
      emit(before);
      if (explicit_end && !removed) {
        if (!e.end_name.empty()) {
          emit("</");
          emit(e.end_name);
          emit(">");
        } else {
          emit(in_.data() + pos_, tok_end_ - pos_);
        }
      }
      emit(after);
    }
    emit(e.after);
    held_ -= std::min(held_, e.after.size() + e.append.size() + e.end_name.size());
    if (explicit_end) consume_token();
  }

  Step at_eof() {
    if (stack_.size() > 1) return pop_top(false);
    if (!end_sent_) {
      end_sent_ = true;
      if (doc_end_) {
        pending_ = Pending::kEnd;
        return Step::kEvent;
      }
    }
    finished_ = true;
    return Step::kNeedInput;
  }

  MemoryBudget &budget_;
  size_t charged_ = 0;
  size_t held_ = 0;  // bytes of content entries of the stack hold for their end tags
  size_t names_held_ = 0;  // name_bytes of the open elements

  std::vector<Selector> selectors_;
  std::vector<bool> element_, text_, comments_;
  std::vector<FlatCompound> flat_;
  size_t total_compounds_ = 0;
  size_t compound_words_ = 0, selector_words_ = 0;
  bool needs_types_ = false;
  bool doc_doctype_ = false, doc_comments_ = false, doc_text_ = false, doc_end_ = false;
  bool latin1_ = false;  // the document is windows-1252, not UTF-8

  std::string in_;   // input not consumed yet from pos_ on
  size_t pos_ = 0;   // the first byte not yet passed on
  size_t scan_ = 0;  // where the search for the next '<' resumes
  std::string out_;
  bool ended_ = false, end_sent_ = false, finished_ = false;
  size_t work_ = 0;

  Mode mode_ = Mode::kData;
  std::string raw_end_;  // the end tag name that ends raw text
  ScriptState script_state_ = ScriptState::kData;
  bool text_open_ = false;  // a chunk of the current text node went out without lastInTextNode

  TokenKind tok_kind_ = TokenKind::kNone;  // the token at pos_ whose end is being looked for
  size_t tok_scan_ = 0;
  size_t tok_end_ = 0;
  TagState tag_state_ = TagState::kTagName;
  size_t comment_from_ = 0, comment_to_ = 0;

  std::vector<Entry> stack_;  // [0]: the document
  size_t suppress_ = 0;       // open elements whose content was removed

  Pending pending_ = Pending::kNone;
  std::vector<uint32_t> event_selectors_;
  bool event_doc_ = false;
  Tag tag_;
  Entry element_entry_;
  bool can_have_content_ = true;
  Entry closing_;
  bool closing_explicit_ = false;
  size_t event_end_ = 0;
  bool text_last_ = false;
  std::string doctype_[3];
  bool doctype_has_[3] = {false, false, false};

  std::string error_;
};

// ---------------------------------------------------------------- text

// A document is UTF-8, or windows-1252 (which its Content-Type may call
// latin1, iso-8859-1, ascii, ...): both keep ASCII where HTML's syntax is,
// so only the strings handed to and taken from handlers are converted.
const uint16_t kWindows1252High[32] = {
    0x20AC, 0x81,   0x201A, 0x192,  0x201E, 0x2026, 0x2020, 0x2021, 0x2C6,  0x2030, 0x160,
    0x2039, 0x152,  0x8D,   0x17D,  0x8F,   0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x2DC,  0x2122, 0x161,  0x203A, 0x153,  0x9D,   0x17E,  0x178,
};

v8::Local<v8::String> text_to_js(v8::Isolate *isolate, const std::string &bytes, bool latin1) {
  if (!latin1) return v8_str(isolate, bytes);
  std::u16string units(bytes.size(), u'\0');
  for (size_t k = 0; k < bytes.size(); ++k) {
    unsigned char b = bytes[k];
    units[k] = b >= 0x80 && b < 0xA0 ? char16_t(kWindows1252High[b - 0x80]) : char16_t(b);
  }
  return v8::String::NewFromTwoByte(isolate, reinterpret_cast<const uint16_t *>(units.data()),
                                    v8::NewStringType::kNormal, int(units.size()))
      .ToLocalChecked();
}

// A handler's string in the document's encoding; in windows-1252, what it
// cannot hold becomes a character reference, as lol-html writes it.
std::string text_from_js(v8::Isolate *isolate, v8::Local<v8::String> value, bool latin1) {
  if (!latin1) return to_std_string(isolate, value);
  std::u16string units(size_t(value->Length()), u'\0');
  value->Write(isolate, reinterpret_cast<uint16_t *>(units.data()), 0, int(units.size()),
               v8::String::NO_NULL_TERMINATION);
  std::string out;
  out.reserve(units.size());
  for (size_t k = 0; k < units.size(); ++k) {
    uint32_t cp = units[k];
    if (cp >= 0xD800 && cp < 0xDC00 && k + 1 < units.size() && units[k + 1] >= 0xDC00 && units[k + 1] < 0xE000) {
      cp = 0x10000 + ((cp - 0xD800) << 10) + (units[k + 1] - 0xDC00);
      ++k;
    } else if (cp >= 0xD800 && cp < 0xE000) {
      cp = 0xFFFD;  // a lone surrogate
    }
    if (cp < 0x80 || (cp >= 0xA0 && cp <= 0xFF)) {
      out.push_back(char(cp));
      continue;
    }
    int found = -1;
    for (int b = 0; b < 32 && found < 0; ++b) {
      if (kWindows1252High[b] == cp) found = b;
    }
    if (found >= 0) out.push_back(char(0x80 + found));
    else out += "&#" + std::to_string(cp) + ";";
  }
  return out;
}

// ---------------------------------------------------------------- natives

void throw_type_error(v8::Isolate *isolate, const std::string &msg) {
  isolate->ThrowException(v8::Exception::TypeError(v8_str(isolate, msg)));
}

void throw_range_error(v8::Isolate *isolate, const std::string &msg) {
  isolate->ThrowException(v8::Exception::RangeError(v8_str(isolate, msg)));
}

HtmlRewriter *rewriter_arg(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  HtmlRewriter *rw = info.Length() >= 1 ? NativeStates::unwrap<HtmlRewriter>(isolate, info[0]) : nullptr;
  if (rw == nullptr) throw_type_error(isolate, "The HTMLRewriter stream is closed");
  return rw;
}

bool account_or_throw(v8::Isolate *isolate, HtmlRewriter *rw) {
  if (rw->account()) return true;
  throw_range_error(isolate, "HTMLRewriter: the script's memory limit has no room for the rewriter's buffers");
  return false;
}

void html_check_selector(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  if (info.Length() < 1 || !info[0]->IsString()) {
    throw_type_error(isolate, "The selector must be a string");
    return;
  }
  if (v8::Local<v8::String>::Cast(info[0])->Length() > int(kHtmlMaxSelectorLength)) {
    throw_type_error(isolate, "Invalid selector: longer than " + std::to_string(kHtmlMaxSelectorLength) +
                                  " characters");
    return;
  }
  Selector selector;
  std::string error;
  std::string text = to_std_string(isolate, info[0]);
  if (!parse_selector(text, &selector, &error)) {
    throw_type_error(isolate, "Invalid selector `" + text + "`: " + error);
    return;
  }
  size_t compounds = 0;
  for (const Complex &complex : selector.alternatives) compounds += complex.size();
  if (compounds > kHtmlMaxCompounds) {
    throw_type_error(isolate, "Invalid selector: more than " + std::to_string(kHtmlMaxCompounds) +
                                  " compound selectors (the rewriter's limit)");
  }
}

// htmlCreate([selector, element, text, comments, ...], flags) -> handle
void html_create(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  if (info.Length() < 2 || !info[0]->IsArray() || !info[1]->IsUint32()) {
    throw_type_error(isolate, "htmlCreate: bad arguments");
    return;
  }
  v8::Local<v8::Array> list = info[0].As<v8::Array>();
  uint32_t n = list->Length();
  if (n % 4 != 0 || n / 4 > kHtmlMaxSelectors) {
    throw_type_error(isolate, "HTMLRewriter: more than " + std::to_string(kHtmlMaxSelectors) + " selectors");
    return;
  }
  auto rw = std::make_unique<HtmlRewriter>(TenantIsolate::from(isolate)->budget());
  for (uint32_t k = 0; k < n; k += 4) {
    v8::Local<v8::Value> items[4];
    for (uint32_t j = 0; j < 4; ++j) {
      if (!list->Get(context, k + j).ToLocal(&items[j])) return;
    }
    if (!items[0]->IsString()) {
      throw_type_error(isolate, "The selector must be a string");
      return;
    }
    Selector selector;
    std::string error;
    std::string text = text_from_js(isolate, items[0].As<v8::String>(), info[1].As<v8::Uint32>()->Value() & 16);
    if (!parse_selector(text, &selector, &error)) {
      throw_type_error(isolate, "Invalid selector `" + to_std_string(isolate, items[0]) + "`: " + error);
      return;
    }
    if (!rw->add_selector(std::move(selector), items[1]->IsTrue(), items[2]->IsTrue(), items[3]->IsTrue(),
                          &error)) {
      throw_type_error(isolate, error);
      return;
    }
  }
  rw->start(info[1].As<v8::Uint32>()->Value());
  if (!account_or_throw(isolate, rw.get())) return;
  info.GetReturnValue().Set(native_states(isolate).wrap(isolate, std::move(rw)));
}

void html_write(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  HtmlRewriter *rw = rewriter_arg(info);
  if (rw == nullptr) return;
  const char *data = nullptr;
  size_t len = 0;
  if (info.Length() < 2 || !buffer_source_bytes(info[1], &data, &len)) {
    throw_type_error(isolate, "HTMLRewriter: the body's chunks must be ArrayBuffers or ArrayBufferViews");
    return;
  }
  if (rw->ended() || rw->pending() != Pending::kNone) {
    throw_type_error(isolate, "HTMLRewriter: input written out of turn");
    return;
  }
  if (!TenantIsolate::from(isolate)->budget().make_room(len)) {
    throw_range_error(isolate, "HTMLRewriter: the script's memory limit has no room for the next chunk");
    return;
  }
  rw->write(data, len);
  account_or_throw(isolate, rw);
}

void html_end(const v8::FunctionCallbackInfo<v8::Value> &info) {
  if (HtmlRewriter *rw = rewriter_arg(info)) rw->end();
}

v8::Local<v8::Value> str_or_null(v8::Isolate *isolate, bool has, const std::string &s, bool latin1) {
  if (!has) return v8::Null(isolate);
  return text_to_js(isolate, s, latin1);
}

v8::Local<v8::Array> index_list(v8::Local<v8::Context> context, const std::vector<uint32_t> &indices) {
  v8::Isolate *isolate = context->GetIsolate();
  std::vector<v8::Local<v8::Value>> items;
  items.reserve(indices.size());
  for (uint32_t s : indices) items.push_back(v8::Integer::NewFromUnsigned(isolate, s));
  return frozen_list(context, items.data(), items.size());
}

// htmlNext(handle) -> event | 0 | null. Events:
//   [0, selectors, tagName, [name, value, ...], selfClosing, canHaveContent, namespaceURI]
//   [1, endHandlerId, name]                       an end tag with onEndTag handlers
//   [2, selectors, text, lastInTextNode, document]  a text chunk
//   [3, selectors, text, document]                a comment
//   [4, name, publicId, systemId]                 the doctype
//   [5]                                           the end of the document
void html_next(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  HtmlRewriter *rw = rewriter_arg(info);
  if (rw == nullptr) return;
  if (rw->pending() != Pending::kNone) {
    throw_type_error(isolate, "HTMLRewriter: the previous event is not resolved");
    return;
  }
  Step step = rw->step();
  if (!account_or_throw(isolate, rw)) return;
  if (step == Step::kError) {
    throw_type_error(isolate, rw->error());
    return;
  }
  if (step == Step::kYield) {
    info.GetReturnValue().Set(0);
    return;
  }
  if (step == Step::kNeedInput) {
    info.GetReturnValue().SetNull();
    return;
  }
  std::vector<v8::Local<v8::Value>> items;
  const bool latin1 = rw->latin1();
  auto num = [&](double v) { items.push_back(v8::Number::New(isolate, v)); };
  switch (rw->pending()) {
    case Pending::kElement: {
      const Tag &tag = rw->event_tag();
      num(0);
      items.push_back(index_list(context, rw->event_selectors()));
      items.push_back(text_to_js(isolate, tag.name, latin1));
      std::vector<v8::Local<v8::Value>> attrs;
      for (const Attr &a : tag.attrs) {
        attrs.push_back(text_to_js(isolate, a.name, latin1));
        attrs.push_back(text_to_js(isolate, a.value, latin1));
      }
      items.push_back(frozen_list(context, attrs.data(), attrs.size()));
      items.push_back(v8::Boolean::New(isolate, tag.self_closing));
      items.push_back(v8::Boolean::New(isolate, rw->event_can_have_content()));
      items.push_back(v8_str(isolate, kNsUri[rw->event_entry().ns]));
      break;
    }
    case Pending::kEndTag:
      num(1);
      num(rw->event_entry().end_handler);
      items.push_back(text_to_js(isolate, rw->event_entry().end_name.empty() ? rw->event_entry().name
                                                                             : rw->event_entry().end_name,
                                 latin1));
      break;
    case Pending::kText:
      num(2);
      items.push_back(index_list(context, rw->event_selectors()));
      items.push_back(text_to_js(isolate, rw->event_text(), latin1));
      items.push_back(v8::Boolean::New(isolate, rw->event_last()));
      items.push_back(v8::Boolean::New(isolate, rw->event_doc()));
      break;
    case Pending::kComment:
      num(3);
      items.push_back(index_list(context, rw->event_selectors()));
      items.push_back(text_to_js(isolate, rw->event_text(), latin1));
      items.push_back(v8::Boolean::New(isolate, rw->event_doc()));
      break;
    case Pending::kDoctype:
      num(4);
      for (int k = 0; k < 3; ++k) {
        items.push_back(str_or_null(isolate, rw->doctype_has(k), rw->doctype_field(k), latin1));
      }
      break;
    case Pending::kEnd:
      num(5);
      break;
    case Pending::kNone:
      break;
  }
  info.GetReturnValue().Set(frozen_list(context, items.data(), items.size()));
}

// htmlResolve(handle, edits), edits by event:
//   element: [mode, [name, selfClosing, attr index | 'name="value"', ...]|null, before, after, prepend, append, inner|null, replaceWith, endHandlerId, endName|null]
//   end tag: [removed, before, after, name|null]
//   text:    [removed, before, after, replaceWith]
//   comment: [removed, before, after, replaceWith, text|null]
//   doctype: []      end: [append]
void html_resolve(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  HtmlRewriter *rw = rewriter_arg(info);
  if (rw == nullptr) return;
  if (rw->pending() == Pending::kNone || info.Length() < 2 || !info[1]->IsArray()) {
    throw_type_error(isolate, "HTMLRewriter: nothing to resolve");
    return;
  }
  v8::Local<v8::Array> edits = info[1].As<v8::Array>();
  // The content is copied here: it must fit what is left of the budget first.
  size_t total = 0;
  for (uint32_t k = 0; k < 10 && k < edits->Length(); ++k) {
    v8::Local<v8::Value> v;
    if (!edits->Get(context, k).ToLocal(&v)) return;
    // UTF-8: 3 bytes a UTF-16 unit at most; windows-1252: "&#65535;" at most
    size_t per_unit = rw->latin1() ? 8 : 3;
    if (v->IsString()) total += size_t(v.As<v8::String>()->Length()) * per_unit;
    if (v->IsArray()) {  // a changed start tag's parts
      v8::Local<v8::Array> parts = v.As<v8::Array>();
      for (uint32_t j = 0; j < parts->Length(); ++j) {
        v8::Local<v8::Value> part;
        if (!parts->Get(context, j).ToLocal(&part)) return;
        total += part->IsString() ? size_t(part.As<v8::String>()->Length()) * per_unit + 1 : 16;
      }
    }
  }
  if (!TenantIsolate::from(isolate)->budget().make_room(total)) {
    throw_range_error(isolate, "HTMLRewriter: the content a handler inserted does not fit the script's memory limit");
    return;
  }
  std::vector<std::string> s(10);
  std::vector<bool> has(10, false);
  double numbers[10] = {0};
  bool flags[10] = {false};
  for (uint32_t k = 0; k < 10 && k < edits->Length(); ++k) {
    v8::Local<v8::Value> v;
    if (!edits->Get(context, k).ToLocal(&v)) return;
    if (v->IsString()) {
      s[k] = text_from_js(isolate, v.As<v8::String>(), rw->latin1());
      has[k] = true;
    } else if (v->IsNumber()) {
      numbers[k] = v.As<v8::Number>()->Value();
    } else if (v->IsBoolean()) {
      flags[k] = v->IsTrue();
    }
  }
  auto opt = [&](int k) -> const std::string * { return has[k] ? &s[k] : nullptr; };
  switch (rw->pending()) {
    case Pending::kElement: {
      double mode = numbers[0];
      if (mode < 0 || mode > 3) mode = 0;
      // [name, selfClosing, attribute index | 'name="value"', ...]
      std::string start_tag;
      bool changed = false;
      v8::Local<v8::Value> parts;
      if (!edits->Get(context, 1).ToLocal(&parts)) return;
      if (parts->IsArray() && parts.As<v8::Array>()->Length() >= 2) {
        v8::Local<v8::Array> list = parts.As<v8::Array>();
        std::vector<int64_t> raw;
        std::vector<std::string> fresh;
        std::string name;
        bool self_closing = false;
        for (uint32_t k = 0; k < list->Length(); ++k) {
          v8::Local<v8::Value> v;
          if (!list->Get(context, k).ToLocal(&v)) return;
          std::string text = v->IsString() ? text_from_js(isolate, v.As<v8::String>(), rw->latin1()) : std::string();
          if (k == 0) name = std::move(text);
          else if (k == 1) self_closing = v->IsTrue();
          else {
            double index = v->IsNumber() ? v.As<v8::Number>()->Value() : -1;
            raw.push_back(index >= 0 && index < 1e9 ? int64_t(index) : -1);
            fresh.push_back(std::move(text));
          }
        }
        start_tag = rw->start_tag(name, self_closing, raw, fresh);
        changed = true;
      }
      rw->resolve_element(uint8_t(mode), changed ? &start_tag : nullptr, s[2], s[3], s[4], s[5], opt(6), s[7],
                          numbers[8], opt(9));
      break;
    }
    case Pending::kEndTag: rw->resolve_end_tag(flags[0], s[1], s[2], opt(3)); break;
    case Pending::kText: rw->resolve_text(flags[0], s[1], s[2], s[3]); break;
    case Pending::kComment: rw->resolve_comment(flags[0], s[1], s[2], s[3], opt(4)); break;
    case Pending::kDoctype: rw->resolve_doctype(); break;
    case Pending::kEnd: rw->resolve_end(s[0]); break;
    case Pending::kNone: break;
  }
  account_or_throw(isolate, rw);
}

// htmlTake(handle) -> Uint8Array of the output so far, or null.
void html_take(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  HtmlRewriter *rw = rewriter_arg(info);
  if (rw == nullptr) return;
  std::string &out = rw->out();
  // Small pieces wait until there is more (or the caller wants what there is).
  double min = info.Length() >= 2 && info[1]->IsNumber() ? info[1].As<v8::Number>()->Value() : 0;
  if (out.empty() || double(out.size()) < min) {
    info.GetReturnValue().SetNull();
    return;
  }
  v8::Local<v8::ArrayBuffer> buffer;
  if (!new_array_buffer(isolate, out.data(), out.size()).ToLocal(&buffer)) return;
  size_t len = out.size();
  out.clear();
  if (out.capacity() > (size_t(256) << 10)) out.shrink_to_fit();
  rw->account();  // only less than before
  info.GetReturnValue().Set(v8::Uint8Array::New(buffer, 0, len));
}

void html_finished(const v8::FunctionCallbackInfo<v8::Value> &info) {
  if (HtmlRewriter *rw = rewriter_arg(info)) info.GetReturnValue().Set(rw->finished());
}

}  // namespace

void install_html_rewriter_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native) {
  set_function(context, native, "htmlCheckSelector", html_check_selector);
  set_function(context, native, "htmlCreate", html_create);
  set_function(context, native, "htmlWrite", html_write);
  set_function(context, native, "htmlEnd", html_end);
  set_function(context, native, "htmlNext", html_next);
  set_function(context, native, "htmlResolve", html_resolve);
  set_function(context, native, "htmlTake", html_take);
  set_function(context, native, "htmlFinished", html_finished);
}

}  // namespace dispatch
