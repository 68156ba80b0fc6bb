#include "model/codec.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <sstream>

namespace skiff {
namespace {

// Nesting is bounded so that nothing downstream (yaml-cpp's recursive parser, JSON
// serialization, comparison, the schema walk) can run out of stack. The check sits in the
// event handlers rather than in a pre-scan of the text: yaml-cpp reports a collection's start
// before it recurses into it, so rejecting the 65th level there stops its recursion at the
// same depth, with no second tokenizer to keep in step with YAML's indentation rules.
constexpr int kMaxDepth = 64;
// Anchors and aliases let a small document expand exponentially ("billion laughs"); these
// bound what one document may decode to, whatever its syntax.
constexpr size_t kMaxNodes = 1'000'000;
// Aliases get a tighter budget of their own: without them a value costs at least a byte of
// input, so only aliases can make a small document expensive to validate and re-serialize.
constexpr size_t kMaxAliasNodes = 100'000;
constexpr size_t kMaxDecodedBytes = 16 << 20;

std::string quotedText(std::string_view text) {
  return json(std::string(text)).dump(-1, ' ', false, json::error_handler_t::replace);
}

// Length of the UTF-8 sequence at text[i], or 0 if it is not well-formed (RFC 3629: no
// overlong forms, no surrogates, nothing past U+10FFFF).
size_t utf8SequenceLength(std::string_view text, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  unsigned char low = 0x80, high = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) low = 0xA0;
    if (c == 0xED) high = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) low = 0x90;
    if (c == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (size_t k = 2; k < n; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  return n;
}

bool isValidUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    size_t n = utf8SequenceLength(text, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string lineColumn(size_t line, size_t column) {
  return "line " + std::to_string(line + 1) + ", column " + std::to_string(column + 1);
}

// Line and column of a byte offset, for JSON errors (nlohmann reports offsets).
std::string positionOf(std::string_view text, size_t offset) {
  size_t line = 0, column = 0;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 0;
    } else {
      ++column;
    }
  }
  return lineColumn(line, column);
}

// Where an event happened, formatted only when a message needs it (most events never do).
struct Where {
  size_t line = 0;
  size_t column = 0;
  bool known = false;  // JSON events carry no position; the message names the path instead

  std::string text() const { return known ? lineColumn(line, column) : "JSON"; }
};

// Builds a JSON value from a stream of parse events with an explicit stack (no recursion),
// enforcing the depth, size and duplicate-key rules for both syntaxes. Each method returns
// false once the document is rejected; error() then says why.
class DocumentBuilder {
 public:
  bool scalar(json value, const Where& where) {
    if (!count(1, scalarBytes(value), where)) return false;
    return place(std::move(value), where);
  }

  // What the last scalar weighed, for anchors: an alias to it must cost what re-reading the
  // expanded document would, so a decoded value always decodes again from its YAML.
  size_t scalarBytes(const json& value) const {
    return (value.is_string() ? value.get_ref<const std::string&>().size() : 8) + 8;
  }

  // Inserts a copy of an already built value (a YAML alias) weighing `nodes` and `bytes`.
  bool copy(const json& value, size_t nodes, size_t bytes, const Where& where) {
    alias_nodes_ += nodes;
    if (alias_nodes_ > kMaxAliasNodes)
      return fail(where.text() + ": the document expands to more than " +
                  std::to_string(kMaxAliasNodes) + " values through aliases");
    if (!count(nodes, bytes, where)) return false;
    return place(value, where);
  }

  bool key(std::string key, const Where& where) {
    if (!count(1, key.size() + 8, where)) return false;
    Frame& top = stack_.back();
    if (top.value->contains(key))
      return fail(where.text() + ": duplicate key " + quotedText(key) + " in " + pathText());
    top.key = std::move(key);
    top.has_key = true;
    return true;
  }

  bool open(bool is_object, const Where& where) {
    if (static_cast<int>(stack_.size()) >= kMaxDepth)
      return fail(where.text() + ": nesting is deeper than " + std::to_string(kMaxDepth) +
                  " levels");
    size_t nodes_before = nodes_, bytes_before = bytes_;
    if (!count(1, 8, where)) return false;
    json* slot = nullptr;
    if (!placeSlot(is_object ? json::object() : json::array(), where, &slot)) return false;
    stack_.push_back(Frame{slot, {}, false, nodes_before, bytes_before});
    return true;
  }

  // Closes the innermost container; returns it with its weight, for anchors.
  const json& close(size_t* nodes, size_t* bytes) {
    Frame frame = std::move(stack_.back());
    stack_.pop_back();
    *nodes = nodes_ - frame.nodes_at_open;
    *bytes = bytes_ - frame.bytes_at_open;
    return *frame.value;
  }

  // Starts the next document of a stream. The expansion limits stay cumulative: a stream of
  // many small alias bombs must not add up to an unbounded one.
  void startDocument() {
    stack_.clear();
    root_ = json();
    has_root_ = false;
    last_ = nullptr;
  }

  bool expectingKey() const {
    return !stack_.empty() && stack_.back().value->is_object() && !stack_.back().has_key;
  }
  int depth() const { return static_cast<int>(stack_.size()); }
  bool done() const { return stack_.empty() && has_root_; }
  json takeRoot() { return std::move(root_); }
  const std::string& error() const { return error_; }
  bool fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return false;
  }
  const json& lastPlaced() const { return *last_; }

 private:
  struct Frame {
    json* value;
    std::string key;
    bool has_key;
    size_t nodes_at_open;
    size_t bytes_at_open;
  };

  bool count(size_t nodes, size_t bytes, const Where& where) {
    nodes_ += nodes;
    bytes_ += bytes;
    if (nodes_ > kMaxNodes)
      return fail(where.text() + ": the document expands to more than " +
                  std::to_string(kMaxNodes) + " values (too many aliases?)");
    if (bytes_ > kMaxDecodedBytes)
      return fail(where.text() + ": the document expands to more than " +
                  std::to_string(kMaxDecodedBytes >> 20) + " MiB (too many aliases?)");
    return true;
  }

  bool place(json value, const Where& where) {
    json* slot = nullptr;
    return placeSlot(std::move(value), where, &slot);
  }

  bool placeSlot(json value, const Where& where, json** slot) {
    if (stack_.empty()) {
      if (has_root_) return fail(where.text() + ": unexpected content after the document");
      root_ = std::move(value);
      has_root_ = true;
      *slot = &root_;
    } else if (stack_.back().value->is_array()) {
      json& array = *stack_.back().value;
      array.push_back(std::move(value));
      *slot = &array.back();
    } else {
      Frame& top = stack_.back();
      if (!top.has_key) return fail(where.text() + ": a mapping key must be a string");
      *slot = &(*top.value)[top.key];
      **slot = std::move(value);
      top.has_key = false;
    }
    last_ = *slot;
    return true;
  }

  std::string pathText() const {
    std::string path;
    for (size_t i = 0; i + 1 < stack_.size(); ++i) {
      const Frame& f = stack_[i];
      if (f.value->is_array()) {
        path += "[" + std::to_string(f.value->size() - 1) + "]";
      } else {
        if (!path.empty()) path += ".";
        path += f.key;
      }
    }
    return path.empty() ? "the top-level mapping" : path;
  }

  std::vector<Frame> stack_;
  json root_;
  bool has_root_ = false;
  json* last_ = nullptr;
  size_t nodes_ = 0;
  size_t bytes_ = 0;
  size_t alias_nodes_ = 0;
  std::string error_;
};

// ---- JSON ------------------------------------------------------------------------------

class JsonSax : public nlohmann::json_sax<json> {
 public:
  explicit JsonSax(std::string_view text) : text_(text) {}

  bool null() override { return builder_.scalar(nullptr, Where{}); }
  bool boolean(bool v) override { return builder_.scalar(v, Where{}); }
  bool number_integer(number_integer_t v) override { return builder_.scalar(v, Where{}); }
  bool number_unsigned(number_unsigned_t v) override { return builder_.scalar(v, Where{}); }
  bool number_float(number_float_t v, const string_t&) override {
    return builder_.scalar(v, Where{});
  }
  bool string(string_t& v) override { return builder_.scalar(std::move(v), Where{}); }
  bool binary(binary_t&) override { return builder_.fail("JSON: binary values are not allowed"); }
  bool start_object(std::size_t) override { return builder_.open(true, Where{}); }
  bool key(string_t& k) override { return builder_.key(std::move(k), Where{}); }
  bool end_object() override { return closed(); }
  bool start_array(std::size_t) override { return builder_.open(false, Where{}); }
  bool end_array() override { return closed(); }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    // nlohmann's message starts with "[json.exception.parse_error.101] parse error at line
    // 1, column 2: "; keep only the explanation and give our own position.
    std::string what = ex.what();
    if (size_t colon = what.find(": "); colon != std::string::npos) what = what.substr(colon + 2);
    if (position > 0) position -= 1;
    return builder_.fail("JSON " + positionOf(text_, position) + ": " + what);
  }

  DocumentBuilder& builder() { return builder_; }

 private:
  bool closed() {
    size_t nodes = 0, bytes = 0;
    builder_.close(&nodes, &bytes);
    return true;
  }

  std::string_view text_;
  DocumentBuilder builder_;
};

Result<json> decodeJson(std::string_view text) {
  JsonSax sax(text);
  bool ok = json::sax_parse(text.begin(), text.end(), &sax, nlohmann::detail::input_format_t::json,
                            /*strict=*/true);
  if (!ok || !sax.builder().error().empty()) {
    const std::string& error = sax.builder().error();
    return badRequest("cannot decode the document: " + (error.empty() ? "malformed JSON" : error));
  }
  return sax.builder().takeRoot();
}

// ---- YAML ------------------------------------------------------------------------------

// The YAML 1.2 core schema's reading of a plain scalar.
enum class PlainKind { kNull, kBool, kInt, kFloat, kString };

struct Plain {
  PlainKind kind;
  json value;         // kString leaves it empty
  std::string error;  // set when the scalar is a number JSON cannot hold
};

bool allOf(std::string_view s, bool (*pred)(char)) {
  if (s.empty()) return false;
  for (char c : s)
    if (!pred(c)) return false;
  return true;
}

bool isDecDigit(char c) { return c >= '0' && c <= '9'; }
bool isHexDigit(char c) {
  return isDecDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool isOctDigit(char c) { return c >= '0' && c <= '7'; }

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool isCoreFloat(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t int_digits = 0, frac_digits = 0;
  while (i < s.size() && isDecDigit(s[i])) ++i, ++int_digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && isDecDigit(s[i])) ++i, ++frac_digits;
  }
  if (int_digits == 0 && frac_digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() && isDecDigit(s[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

Plain resolvePlain(std::string_view s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL")
    return {PlainKind::kNull, nullptr, {}};
  if (s == "true" || s == "True" || s == "TRUE") return {PlainKind::kBool, true, {}};
  if (s == "false" || s == "False" || s == "FALSE") return {PlainKind::kBool, false, {}};
  std::string_view digits = s;
  bool negative = false;
  if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) {
    negative = digits[0] == '-';
    digits.remove_prefix(1);
  }
  if (allOf(digits, isDecDigit)) {
    uint64_t magnitude = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude);
    if (ec == std::errc() && end == digits.data() + digits.size()) {
      if (!negative) return {PlainKind::kInt, json(magnitude), {}};
      if (magnitude <= uint64_t{1} << 63)
        return {PlainKind::kInt, json(static_cast<int64_t>(0 - magnitude)), {}};
    }
    // Too large for 64 bits: JSON readers would see it as a floating-point number too.
  } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
    std::string_view body = s.substr(2);
    bool hex = s[1] == 'x';
    if (allOf(body, hex ? isHexDigit : isOctDigit)) {
      uint64_t v = 0;
      auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), v, hex ? 16 : 8);
      if (ec != std::errc() || end != body.data() + body.size())
        return {PlainKind::kInt, nullptr, "integer " + std::string(s) + " does not fit in 64 bits"};
      return {PlainKind::kInt, json(v), {}};
    }
    return {PlainKind::kString, nullptr, {}};
  }
  std::string_view mag = s;
  if (!mag.empty() && (mag[0] == '-' || mag[0] == '+')) mag.remove_prefix(1);
  if (mag == ".inf" || mag == ".Inf" || mag == ".INF" || s == ".nan" || s == ".NaN" || s == ".NAN")
    return {PlainKind::kFloat, nullptr,
            "the number " + std::string(s) + " (infinity or NaN) cannot be represented in JSON"};
  if (isCoreFloat(s)) {
    std::string_view text = s[0] == '+' ? s.substr(1) : s;
    double v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v))
      return {PlainKind::kFloat, nullptr,
              "the number " + std::string(s) + " is out of range for JSON"};
    return {PlainKind::kFloat, json(v), {}};
  }
  return {PlainKind::kString, nullptr, {}};
}

constexpr const char* kCoreTagPrefix = "tag:yaml.org,2002:";

// Thrown from inside yaml-cpp's callbacks to stop its parser; caught in decodeYaml and turned
// into a Status, never seen outside this file.
struct YamlRejected {};

class YamlHandler : public YAML::EventHandler {
 public:
  // The documents decoded so far, in order (an empty document decodes to null).
  std::vector<json>& documents() { return documents_; }
  const std::string& error() const { return builder_.error(); }

  explicit YamlHandler(std::string_view text) : text_(text) {}

  void OnDocumentStart(const YAML::Mark& mark) override {
    // yaml-cpp 0.7 does not consume a stray flow indicator (",", "]", "}") outside a flow
    // collection and starts empty documents at the same place forever; nothing valid starts
    // two documents at one position.
    if (last_document_start_ && *last_document_start_ == mark.pos) {
      std::string found = mark.pos >= 0 && static_cast<size_t>(mark.pos) < text_.size()
                              ? " " + quotedText(text_.substr(mark.pos, 1))
                              : "";
      reject(mark, "unexpected" + found + " outside a flow collection ([...] or {...})");
    }
    last_document_start_ = mark.pos;
    builder_.startDocument();
    anchors_.clear();
  }
  void OnDocumentEnd() override {
    if (builder_.done()) documents_.push_back(builder_.takeRoot());
  }

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (builder_.expectingKey())
      reject(mark, "a mapping key must be a string, got null (quote it: \"null\")");
    scalar(mark, nullptr, anchor);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) reject(mark, "alias to an unknown anchor");
    const Anchored& a = it->second;
    if (builder_.expectingKey()) {
      if (!a.value.is_string()) reject(mark, "a mapping key must be a string");
      if (!builder_.key(a.value.get<std::string>(), where(mark))) throw YamlRejected{};
      return;
    }
    if (!builder_.copy(a.value, a.nodes, a.bytes, where(mark))) throw YamlRejected{};
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    if (!isValidUtf8(value)) reject(mark, "the text is not valid UTF-8");
    if (builder_.expectingKey()) {
      // Keys are strings in JSON: a plain key like 8080 or true keeps its text, but one that
      // reads as null has no text to keep.
      if (tag == "?" && resolvePlain(value).kind == PlainKind::kNull)
        reject(mark, "a mapping key must be a string, got null (quote it: \"" + value + "\")");
      if (!builder_.key(value, where(mark))) throw YamlRejected{};
      if (anchor != 0) anchors_[anchor] = Anchored{json(value), 1, builder_.scalarBytes(value)};
      return;
    }
    json v;
    if (tag == "!" || tag == std::string(kCoreTagPrefix) + "str") {
      v = value;
    } else {
      Plain plain = resolvePlain(value);
      if (!plain.error.empty()) reject(mark, plain.error);
      if (tag != "?") {
        static const std::pair<const char*, PlainKind> kTags[] = {
            {"null", PlainKind::kNull},
            {"bool", PlainKind::kBool},
            {"int", PlainKind::kInt},
            {"float", PlainKind::kFloat},
        };
        bool known = false;
        for (const auto& [name, kind] : kTags) {
          if (tag != std::string(kCoreTagPrefix) + name) continue;
          known = true;
          bool fits =
              plain.kind == kind || (kind == PlainKind::kFloat && plain.kind == PlainKind::kInt);
          if (!fits) reject(mark, quotedText(value) + " cannot be read as !!" + name);
        }
        if (!known) reject(mark, "unsupported tag " + quotedText(tag));
      }
      v = plain.kind == PlainKind::kString ? json(value) : std::move(plain.value);
    }
    scalar(mark, std::move(v), anchor);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    openCollection(mark, tag, anchor, false);
  }
  void OnSequenceEnd() override { closeCollection(); }
  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    openCollection(mark, tag, anchor, true);
  }
  void OnMapEnd() override { closeCollection(); }

 private:
  struct Anchored {
    json value;
    size_t nodes;
    size_t bytes;
  };

  static Where where(const YAML::Mark& mark) {
    return Where{static_cast<size_t>(mark.line), static_cast<size_t>(mark.column), true};
  }

  [[noreturn]] void reject(const YAML::Mark& mark, const std::string& message) {
    builder_.fail(where(mark).text() + ": " + message);
    throw YamlRejected{};
  }

  void scalar(const YAML::Mark& mark, json value, YAML::anchor_t anchor) {
    size_t bytes = builder_.scalarBytes(value);
    if (!builder_.scalar(std::move(value), where(mark))) throw YamlRejected{};
    if (anchor != 0) anchors_[anchor] = Anchored{builder_.lastPlaced(), 1, bytes};
  }

  void openCollection(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                      bool is_map) {
    if (builder_.expectingKey())
      reject(mark, std::string("a mapping key must be a string, got a ") +
                       (is_map ? "mapping" : "sequence"));
    if (tag != "?" && tag != "!" && tag != std::string(kCoreTagPrefix) + (is_map ? "map" : "seq"))
      reject(mark, "unsupported tag " + quotedText(tag));
    if (!builder_.open(is_map, where(mark))) throw YamlRejected{};
    open_anchors_.push_back(anchor);
  }

  void closeCollection() {
    size_t nodes = 0, bytes = 0;
    const json& value = builder_.close(&nodes, &bytes);
    YAML::anchor_t anchor = open_anchors_.back();
    open_anchors_.pop_back();
    if (anchor != 0) anchors_[anchor] = Anchored{value, nodes, bytes};
  }

  std::string_view text_;
  std::optional<int> last_document_start_;
  DocumentBuilder builder_;
  std::map<YAML::anchor_t, Anchored> anchors_;
  std::vector<YAML::anchor_t> open_anchors_;
  std::vector<json> documents_;
};

Result<std::vector<json>> decodeYamlStream(std::string_view text) {
  YamlHandler handler(text);
  try {
    std::istringstream in{std::string(text)};
    YAML::Parser parser(in);
    while (parser.HandleNextDocument(handler)) {
    }
  } catch (const YamlRejected&) {
    return badRequest("cannot decode the YAML document: " + handler.error());
  } catch (const YAML::Exception& e) {
    return badRequest("cannot decode the YAML document: " + lineColumn(e.mark.line, e.mark.column) +
                      ": " + e.msg);
  }
  return std::move(handler.documents());
}

bool looksLikeJson(std::string_view text) {
  size_t i = text.find_first_not_of(" \t\r\n");
  return i != std::string_view::npos && (text[i] == '{' || text[i] == '[');
}

// ---- YAML output -----------------------------------------------------------------------

// Plain (unquoted) only when the text reads back as the same string in any position we
// emit it; everything else is double-quoted, which always round-trips.
bool canBePlain(const std::string& s) {
  if (s.empty() || s.size() > 256) return false;
  char first = s.front();
  bool first_ok = (first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z') ||
                  (first >= '0' && first <= '9') || first == '_' || first == '/';
  if (!first_ok || s.back() == ' ' || s.back() == ':') return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.' || c == '/' || c == ':' || c == '@' || c == '+' ||
              c == '=' || c == ' ';
    if (!ok) return false;
    if (c == ':' && i + 1 < s.size() && s[i + 1] == ' ') return false;
    if (c == ' ' && i + 1 < s.size() && s[i + 1] == ' ') return false;
  }
  return resolvePlain(s).kind == PlainKind::kString;
}

void appendDoubleQuoted(const std::string& s, std::string& out) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = utf8SequenceLength(s, i);
    if (n == 0) {
      // Not text; cannot happen for decoded documents, but keep the output valid YAML.
      out += "\\uFFFD";
      ++i;
      continue;
    }
    if (n == 1) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\r':
          out += "\\r";
          break;
        default:
          if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02X", c);
            out += buf;
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    // Decode the code point: C1 controls, line/paragraph separators and the BOM are
    // escaped because YAML readers treat them as breaks or strip them.
    uint32_t cp = n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    if ((cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF) {
      char buf[12];
      std::snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned>(cp));
      out += buf;
    } else {
      out.append(s, i, n);
    }
    i += n;
  }
  out += '"';
}

void appendString(const std::string& s, std::string& out) {
  if (canBePlain(s)) {
    out += s;
  } else {
    appendDoubleQuoted(s, out);
  }
}

void appendScalar(const json& v, std::string& out) {
  switch (v.type()) {
    case json::value_t::null:
      out += "null";
      break;
    case json::value_t::boolean:
      out += v.get<bool>() ? "true" : "false";
      break;
    case json::value_t::number_integer:
      out += std::to_string(v.get<int64_t>());
      break;
    case json::value_t::number_unsigned:
      out += std::to_string(v.get<uint64_t>());
      break;
    case json::value_t::number_float: {
      double d = v.get<double>();
      if (!std::isfinite(d)) {
        out += "null";  // what JSON serialization does too
        break;
      }
      char buf[32];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
      std::string text(buf, ec == std::errc() ? end : buf);
      // Keep it a float when read back.
      if (text.find_first_of(".eE") == std::string::npos) text += ".0";
      out += text;
      break;
    }
    case json::value_t::string:
      appendString(v.get_ref<const std::string&>(), out);
      break;
    case json::value_t::object:
      out += "{}";
      break;
    case json::value_t::array:
      out += "[]";
      break;
    case json::value_t::binary:
    case json::value_t::discarded:
      out += "null";
      break;
  }
}

void emitSequence(const json& array, int indent, bool first_inline, std::string& out);

constexpr size_t kMaxImplicitKeyBytes = 512;

// Emits the entries of a non-empty mapping at `indent`; the first one continues the current
// line when `first_inline` (after "- ").
void emitMapping(const json& object, int indent, bool first_inline, std::string& out) {
  bool first = true;
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (!(first && first_inline)) out.append(indent, ' ');
    first = false;
    std::string key;
    appendString(it.key(), key);
    if (key.size() > kMaxImplicitKeyBytes) {
      // YAML limits implicit keys to 1024 characters; longer ones need the explicit form.
      out += "? " + key + "\n";
      out.append(indent, ' ');
    } else {
      out += key;
    }
    out += ':';
    const json& v = it.value();
    if (v.is_object() && !v.empty()) {
      out += '\n';
      emitMapping(v, indent + 2, false, out);
    } else if (v.is_array() && !v.empty()) {
      out += '\n';
      emitSequence(v, indent, false, out);
    } else {
      out += ' ';
      appendScalar(v, out);
      out += '\n';
    }
  }
}

void emitSequence(const json& array, int indent, bool first_inline, std::string& out) {
  bool first = true;
  for (const json& v : array) {
    if (!(first && first_inline)) out.append(indent, ' ');
    first = false;
    out += "- ";
    if (v.is_object() && !v.empty()) {
      emitMapping(v, indent + 2, true, out);
    } else if (v.is_array() && !v.empty()) {
      emitSequence(v, indent + 2, true, out);
    } else {
      appendScalar(v, out);
      out += '\n';
    }
  }
}

}  // namespace

Result<json> decodeDocument(std::string_view body, std::string_view content_type) {
  bool as_json = false;
  if (content_type.empty()) {
    as_json = looksLikeJson(body);
  } else if (content_type == "application/json") {
    as_json = true;
  } else if (content_type != "application/yaml" && content_type != "application/x-yaml" &&
             content_type != "text/yaml") {
    return Status(StatusCode::kUnsupportedMediaType,
                  "content type " + quotedText(content_type) +
                      " is not supported: send application/json or application/yaml");
  }
  if (as_json) return decodeJson(body);

  auto documents = decodeYamlStream(body);
  if (!documents.ok()) return documents.status();
  if (documents->empty()) return badRequest("the document is empty");
  if (documents->size() == 1) return std::move(documents->front());
  // Stray "---" separators leave empty documents around the one that matters.
  std::optional<json> found;
  for (json& doc : *documents) {
    if (doc.is_null()) continue;
    if (found)
      return badRequest(
          "expected a single YAML document, found several (separated by "
          "\"---\"): send them one at a time");
    found = std::move(doc);
  }
  if (!found) return json(nullptr);
  return std::move(*found);
}

Result<std::vector<json>> decodeDocuments(std::string_view text) {
  std::vector<json> out;
  if (looksLikeJson(text)) {
    auto doc = decodeJson(text);
    if (!doc.ok()) return doc.status();
    if (doc->is_array()) {
      for (size_t i = 0; i < doc->size(); ++i) {
        if (!(*doc)[i].is_object())
          return badRequest("element " + std::to_string(i) + " of the JSON array is not an object");
        out.push_back(std::move((*doc)[i]));
      }
    } else {
      out.push_back(std::move(*doc));
    }
    return out;
  }
  auto documents = decodeYamlStream(text);
  if (!documents.ok()) return documents.status();
  for (json& doc : *documents)
    if (!doc.is_null()) out.push_back(std::move(doc));
  return out;
}

std::string toYaml(const json& value) {
  std::string out;
  if (value.is_object() && !value.empty()) {
    emitMapping(value, 0, false, out);
  } else if (value.is_array() && !value.empty()) {
    emitSequence(value, 0, false, out);
  } else {
    appendScalar(value, out);
    out += '\n';
  }
  return out;
}

}  // namespace skiff
