#include "image/tag_pattern.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <tuple>

namespace skiff::image {

namespace {

bool digitsOnly(const std::string& s) {
  return !s.empty() && s.size() <= 15 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// `*` matches any run of characters but '/'.
bool globMatch(const char* pattern, const char* text) {
  if (*pattern == '\0') return *text == '\0';
  if (*pattern == '*') {
    for (const char* t = text;; ++t) {
      if (globMatch(pattern + 1, t)) return true;
      if (*t == '\0' || *t == '/') return false;
    }
  }
  return *text != '\0' && *pattern == *text && globMatch(pattern + 1, text + 1);
}

// A partial version in a range ("1", "1.4", "1.x"): how many leading parts it fixes.
struct Partial {
  Version version;
  int parts = 0;
};
std::optional<Partial> parsePartial(std::string s) {
  if (!s.empty() && (s[0] == 'v' || s[0] == 'V')) s.erase(0, 1);
  Partial p;
  std::string rest = s;
  const size_t dash = rest.find('-');
  if (dash != std::string::npos) {
    p.version.prerelease = rest.substr(dash + 1);
    rest.resize(dash);
  }
  int64_t* fields[3] = {&p.version.major, &p.version.minor, &p.version.patch};
  size_t start = 0;
  for (int i = 0; i < 3 && start <= rest.size(); ++i) {
    const size_t dot = rest.find('.', start);
    const std::string part = rest.substr(start, dot == std::string::npos ? dot : dot - start);
    if (part == "x" || part == "X" || part == "*") break;
    if (!digitsOnly(part)) return std::nullopt;
    *fields[i] = std::atoll(part.c_str());
    p.parts = i + 1;
    if (dot == std::string::npos) break;
    start = dot + 1;
    if (i == 2) return std::nullopt;  // a fourth part
  }
  if (p.parts == 0 && !(rest == "x" || rest == "X" || rest == "*")) return std::nullopt;
  return p;
}

Version bump(const Partial& p, int part) {
  Version v;
  if (part == 0) v.major = p.version.major + 1;
  if (part == 1) v = {p.version.major, p.version.minor + 1, 0, ""};
  if (part == 2) v = {p.version.major, p.version.minor, p.version.patch + 1, ""};
  return v;
}

}  // namespace

std::strong_ordering Version::operator<=>(const Version& o) const {
  if (auto c = std::tie(major, minor, patch) <=> std::tie(o.major, o.minor, o.patch); c != 0)
    return c;
  if (prerelease.empty() != o.prerelease.empty())
    return prerelease.empty() ? std::strong_ordering::greater : std::strong_ordering::less;
  return prerelease <=> o.prerelease;
}

std::optional<Version> parseVersion(const std::string& tag) {
  auto p = parsePartial(tag);
  if (!p || p->parts == 0) return std::nullopt;
  return p->version;
}

Result<TagPattern> TagPattern::parse(const std::string& pattern) {
  TagPattern out;
  auto invalid = [&](const std::string& why) {
    return Status(StatusCode::kInvalid, "tag pattern \"" + pattern + "\": " + why);
  };
  if (pattern.empty()) return invalid("must not be empty");
  const bool range = pattern.find_first_of("<>=^~ ") != std::string::npos ||
                     pattern.find(".x") != std::string::npos;
  if (!range) {
    for (char c : pattern)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ||
            c == '*'))
        return invalid("a glob may hold letters, digits, '.', '-', '_' and '*', got '" +
                       std::string(1, c) + "'");
    out.glob_ = pattern;
    return out;
  }
  size_t start = 0;
  while (start < pattern.size()) {
    const size_t space = pattern.find(' ', start);
    std::string term = pattern.substr(start, space == std::string::npos ? space : space - start);
    start = space == std::string::npos ? pattern.size() : space + 1;
    if (term.empty()) continue;
    std::string op;
    for (const char* o : {">=", "<=", ">", "<", "=", "^", "~"}) {
      if (term.rfind(o, 0) == 0) {
        op = o;
        term.erase(0, op.size());
        break;
      }
    }
    auto p = parsePartial(term);
    if (!p)
      return invalid("\"" + term + "\" is not a version (MAJOR[.MINOR[.PATCH]], x for any part)");
    if (op == "^") {
      // The first non-zero part stays: ^1.4 is >=1.4.0 <2.0.0, ^0.4 is >=0.4.0 <0.5.0.
      const int keep = p->version.major != 0 || p->parts < 2   ? 0
                       : p->version.minor != 0 || p->parts < 3 ? 1
                                                               : 2;
      out.comparators_.push_back({">=", p->version});
      out.comparators_.push_back({"<", bump(*p, keep)});
    } else if (op == "~") {
      out.comparators_.push_back({">=", p->version});
      out.comparators_.push_back({"<", bump(*p, p->parts >= 2 ? 1 : 0)});
    } else if ((op.empty() || op == "=") && p->parts < 3) {
      // "1.4" or "1.x": anything in it.
      if (p->parts > 0) {
        out.comparators_.push_back({">=", p->version});
        out.comparators_.push_back({"<", bump(*p, p->parts - 1)});
      }
    } else {
      out.comparators_.push_back({op.empty() ? "=" : op, p->version});
    }
  }
  if (out.comparators_.empty()) out.comparators_.push_back({">=", Version{}});
  return out;
}

bool TagPattern::matches(const std::string& tag) const {
  if (!glob_.empty()) return globMatch(glob_.c_str(), tag.c_str());
  auto v = parseVersion(tag);
  if (!v) return false;
  // Pre-releases only when a comparator names one, as npm's ranges do.
  if (!v->prerelease.empty() &&
      std::none_of(comparators_.begin(), comparators_.end(),
                   [](const Comparator& c) { return !c.version.prerelease.empty(); }))
    return false;
  for (const Comparator& c : comparators_) {
    const auto order = *v <=> c.version;
    const bool ok = c.op == ">="   ? order >= 0
                    : c.op == ">"  ? order > 0
                    : c.op == "<=" ? order <= 0
                    : c.op == "<"  ? order < 0
                                   : order == 0;
    if (!ok) return false;
  }
  return true;
}

bool TagPattern::newer(const std::string& tag, const std::string& than) {
  auto a = parseVersion(tag), b = parseVersion(than);
  if (a && b) return *a != *b ? *a > *b : tag > than;
  if (a.has_value() != b.has_value()) return a.has_value();
  return tag > than;
}

std::optional<std::string> TagPattern::newest(const std::vector<std::string>& tags) const {
  std::optional<std::string> best;
  for (const auto& t : tags)
    if (matches(t) && (!best || newer(t, *best))) best = t;
  return best;
}

}  // namespace skiff::image
