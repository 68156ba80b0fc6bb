#include "model/label_selector.h"

#include <algorithm>

#include "model/formats.h"

namespace skiff {
namespace {

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && isSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back())) s.remove_suffix(1);
  return s;
}

Status termError(std::string_view term, const std::string& why) {
  return badRequest("invalid label selector term \"" + std::string(term) + "\": " + why);
}

// Splits on commas outside parentheses: "a in (x,y),b" is two terms.
Result<std::vector<std::string_view>> splitTerms(std::string_view text) {
  std::vector<std::string_view> terms;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size()) {
      char c = text[i];
      if (c == '(') {
        if (++depth > 1)
          return badRequest("invalid label selector: nested '(' in \"" + std::string(text) + "\"");
        continue;
      }
      if (c == ')') {
        if (--depth < 0)
          return badRequest("invalid label selector: unbalanced ')' in \"" + std::string(text) +
                            "\"");
        continue;
      }
      if (c != ',' || depth > 0) continue;
    }
    if (i == text.size() && depth > 0) return termError(trim(text.substr(start)), "missing ')'");
    terms.push_back(trim(text.substr(start, i - start)));
    start = i + 1;
  }
  return terms;
}

Status checkKey(std::string_view term, std::string_view key) {
  if (key.empty()) return termError(term, "the label key is missing");
  if (std::string e = labelKeyError(key); !e.empty())
    return termError(term, "invalid label key \"" + std::string(key) + "\": " + e);
  return Status::ok();
}

Status checkValue(std::string_view term, std::string_view value) {
  if (std::string e = labelValueError(value); !e.empty())
    return termError(term, "invalid label value \"" + std::string(value) + "\": " + e);
  return Status::ok();
}

Result<LabelSelector::Requirement> parseTerm(std::string_view term) {
  using Op = LabelSelector::Op;
  LabelSelector::Requirement req;
  if (term.empty()) return badRequest("invalid label selector: empty term (stray ',')");
  if (term.front() == '!') {
    std::string_view key = trim(term.substr(1));
    if (Status s = checkKey(term, key); !s.isOk()) return s;
    req.key = std::string(key);
    req.op = Op::kNotExists;
    return req;
  }
  size_t key_end = 0;
  while (key_end < term.size() && !isSpace(term[key_end]) &&
         std::string_view("=!(),").find(term[key_end]) == std::string_view::npos)
    ++key_end;
  std::string_view key = term.substr(0, key_end);
  if (Status s = checkKey(term, key); !s.isOk()) return s;
  req.key = std::string(key);
  std::string_view rest = trim(term.substr(key_end));
  if (rest.empty()) {
    req.op = Op::kExists;
    return req;
  }
  std::string_view value;
  if (rest.substr(0, 2) == "==" || rest.substr(0, 2) == "!=") {
    req.op = rest[0] == '!' ? Op::kNotEquals : Op::kEquals;
    value = trim(rest.substr(2));
  } else if (rest[0] == '=') {
    req.op = Op::kEquals;
    value = trim(rest.substr(1));
  } else {
    size_t word_end = 0;
    while (word_end < rest.size() && !isSpace(rest[word_end]) && rest[word_end] != '(') ++word_end;
    std::string_view word = rest.substr(0, word_end);
    if (word == "in") {
      req.op = Op::kIn;
    } else if (word == "notin") {
      req.op = Op::kNotIn;
    } else {
      return termError(
          term, "expected =, ==, !=, in or notin after the key, got \"" + std::string(word) + "\"");
    }
    std::string_view set = trim(rest.substr(word_end));
    if (set.size() < 2 || set.front() != '(' || set.back() != ')')
      return termError(term, "expected a parenthesized list of values, like (a,b)");
    set = set.substr(1, set.size() - 2);
    if (trim(set).empty()) return termError(term, "the list of values is empty");
    size_t start = 0;
    for (size_t i = 0; i <= set.size(); ++i) {
      if (i < set.size() && set[i] != ',') continue;
      std::string_view v = trim(set.substr(start, i - start));
      if (Status s = checkValue(term, v); !s.isOk()) return s;
      req.values.emplace_back(v);
      start = i + 1;
    }
    std::sort(req.values.begin(), req.values.end());
    req.values.erase(std::unique(req.values.begin(), req.values.end()), req.values.end());
    return req;
  }
  if (Status s = checkValue(term, value); !s.isOk()) return s;
  req.values.emplace_back(value);
  return req;
}

}  // namespace

Result<LabelSelector> LabelSelector::parse(std::string_view text) {
  LabelSelector selector;
  if (trim(text).empty()) return selector;
  auto terms = splitTerms(text);
  if (!terms.ok()) return terms.status();
  for (std::string_view term : *terms) {
    auto req = parseTerm(term);
    if (!req.ok()) return req.status();
    selector.requirements_.push_back(std::move(req).value());
  }
  return selector;
}

bool LabelSelector::matches(const std::map<std::string, std::string>& labels) const {
  for (const auto& req : requirements_) {
    auto it = labels.find(req.key);
    bool has = it != labels.end();
    bool in_set =
        has && std::find(req.values.begin(), req.values.end(), it->second) != req.values.end();
    bool ok = false;
    switch (req.op) {
      case Op::kEquals:
      case Op::kIn:
        ok = in_set;
        break;
      // As in Kubernetes, a label that is absent is "not equal" to any value.
      case Op::kNotEquals:
      case Op::kNotIn:
        ok = !in_set;
        break;
      case Op::kExists:
        ok = has;
        break;
      case Op::kNotExists:
        ok = !has;
        break;
    }
    if (!ok) return false;
  }
  return true;
}

}  // namespace skiff
