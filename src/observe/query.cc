#include "observe/query.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <utility>

#include "common/assert.h"

namespace skiff::observe {
namespace {

// Queries are user input: bounds on their size and nesting keep the recursive parser, the
// evaluator and the expression's destructor off the end of the stack.
constexpr size_t kMaxQueryBytes = 64 * 1024;
constexpr int kMaxNesting = 100;

// ---------------------------------------------------------------------------------------------
// Lexer

enum class Tok {
  kEnd,
  kIdent,
  kNumber,
  kDuration,
  kString,
  kLParen,
  kRParen,
  kLBrace,
  kRBrace,
  kLBracket,
  kRBracket,
  kComma,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,
  kEqlC,  // ==
  kNeq,   // !=
  kLt,
  kLte,
  kGt,
  kGte,
  kAssign,    // =
  kReMatch,   // =~
  kNreMatch,  // !~
};

struct Token {
  Tok kind = Tok::kEnd;
  size_t pos = 0;    // 1-based byte position in the query
  std::string text;  // as written; for a string, its decoded value
  double number = 0;
  int64_t duration_ms = 0;
};

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
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
        out += c;
    }
  }
  return out + "\"";
}

std::string describe(const Token& t) {
  switch (t.kind) {
    case Tok::kEnd:
      return "end of query";
    case Tok::kIdent:
      return "identifier " + quote(t.text);
    case Tok::kNumber:
      return "number " + t.text;
    case Tok::kDuration:
      return "duration " + t.text;
    case Tok::kString:
      return "string " + quote(t.text);
    default:
      return quote(t.text);
  }
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isHexDigit(char c) { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isIdentStart(char c) { return isAlpha(c) || c == '_' || c == ':'; }
bool isIdentChar(char c) { return isIdentStart(c) || isDigit(c); }

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

Status errorAt(size_t pos, const std::string& message) {
  return badRequest("at " + std::to_string(pos) + ": " + message);
}

// A decimal or hexadecimal number; Inf and NaN are identifiers the parser turns into numbers.
std::optional<double> parseNumber(std::string_view s) {
  double v = 0;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    uint64_t u = 0;
    auto [end, ec] = std::from_chars(s.data() + 2, s.data() + s.size(), u, 16);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return static_cast<double>(u);
  }
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (end != s.data() + s.size()) return std::nullopt;
  if (ec == std::errc::result_out_of_range) return std::numeric_limits<double>::infinity();
  if (ec != std::errc()) return std::nullopt;
  return v;
}

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  Result<std::vector<Token>> run() {
    std::vector<Token> out;
    while (true) {
      skipSpaceAndComments();
      Token t;
      t.pos = i_ + 1;
      if (i_ >= s_.size()) {
        out.push_back(std::move(t));
        return out;
      }
      const char c = s_[i_];
      if (isDigit(c) || (c == '.' && i_ + 1 < s_.size() && isDigit(s_[i_ + 1]))) {
        if (Status st = number(t); !st.isOk()) return st;
      } else if (isIdentStart(c)) {
        const size_t start = i_;
        while (i_ < s_.size() && isIdentChar(s_[i_])) ++i_;
        t.kind = Tok::kIdent;
        t.text = std::string(s_.substr(start, i_ - start));
      } else if (c == '"' || c == '\'' || c == '`') {
        if (Status st = string(t); !st.isOk()) return st;
      } else if (Status st = op(t); !st.isOk()) {
        return st;
      }
      out.push_back(std::move(t));
    }
  }

 private:
  void skipSpaceAndComments() {
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++i_;
      } else if (c == '#') {
        while (i_ < s_.size() && s_[i_] != '\n') ++i_;
      } else {
        break;
      }
    }
  }

  Status number(Token& t) {
    const size_t start = i_;
    bool plain = true;  // digits only: may be the start of a duration
    if (s_[i_] == '0' && i_ + 1 < s_.size() && (s_[i_ + 1] == 'x' || s_[i_ + 1] == 'X')) {
      i_ += 2;
      while (i_ < s_.size() && isHexDigit(s_[i_])) ++i_;
      plain = false;
    } else {
      while (i_ < s_.size() && isDigit(s_[i_])) ++i_;
      if (i_ < s_.size() && s_[i_] == '.') {
        plain = false;
        ++i_;
        while (i_ < s_.size() && isDigit(s_[i_])) ++i_;
      }
      if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
        size_t j = i_ + 1;
        if (j < s_.size() && (s_[j] == '+' || s_[j] == '-')) ++j;
        if (j < s_.size() && isDigit(s_[j])) {
          plain = false;
          i_ = j;
          while (i_ < s_.size() && isDigit(s_[i_])) ++i_;
        }
      }
    }
    if (plain && i_ < s_.size() && std::string_view("smhdwy").find(s_[i_]) != std::string::npos) {
      i_ = start;
      return duration(t);
    }
    if (i_ < s_.size() && (isIdentChar(s_[i_]) || s_[i_] == '.'))
      return errorAt(start + 1, "malformed number " + quote(s_.substr(start, i_ - start + 1)));
    t.kind = Tok::kNumber;
    t.text = std::string(s_.substr(start, i_ - start));
    auto v = parseNumber(t.text);
    if (!v) return errorAt(start + 1, "malformed number " + quote(t.text));
    t.number = *v;
    return Status::ok();
  }

  // A sequence of <digits><unit>, e.g. 1h30m.
  Status duration(Token& t) {
    const size_t start = i_;
    constexpr int64_t kMax = int64_t{1000} * 3600 * 24 * 365 * 1000;  // a thousand years
    int64_t total = 0;
    while (i_ < s_.size() && isDigit(s_[i_])) {
      const size_t digits = i_;
      while (i_ < s_.size() && isDigit(s_[i_])) ++i_;
      int64_t n = 0;
      auto [end, ec] = std::from_chars(s_.data() + digits, s_.data() + i_, n);
      int64_t unit = 0;
      if (s_.substr(i_, 2) == "ms") {
        unit = 1;
        i_ += 2;
      } else if (i_ < s_.size()) {
        switch (s_[i_]) {
          case 's':
            unit = 1000;
            break;
          case 'm':
            unit = 60 * 1000;
            break;
          case 'h':
            unit = 3600 * 1000;
            break;
          case 'd':
            unit = 24 * 3600 * 1000;
            break;
          case 'w':
            unit = int64_t{7} * 24 * 3600 * 1000;
            break;
          case 'y':
            unit = int64_t{365} * 24 * 3600 * 1000;
            break;
        }
        if (unit != 0) ++i_;
      }
      if (unit == 0) return errorAt(i_ + 1, "expected a duration unit (ms, s, m, h, d, w or y)");
      if (ec != std::errc() || n > kMax / unit || total > kMax - n * unit)
        return errorAt(start + 1,
                       "duration " + quote(s_.substr(start, i_ - start)) + " is too long");
      total += n * unit;
    }
    if (i_ < s_.size() && (isIdentChar(s_[i_]) || s_[i_] == '.'))
      return errorAt(start + 1, "malformed duration " + quote(s_.substr(start, i_ - start + 1)) +
                                    "; write it like 90s, 5m or 1h30m");
    t.kind = Tok::kDuration;
    t.text = std::string(s_.substr(start, i_ - start));
    t.duration_ms = total;
    return Status::ok();
  }

  Status string(Token& t) {
    const char q = s_[i_];
    const size_t start = i_++;
    std::string value;
    while (true) {
      if (i_ >= s_.size()) return errorAt(start + 1, "unterminated string");
      const char c = s_[i_++];
      if (c == q) break;
      if (q == '`') {
        value += c;
        continue;
      }
      if (c == '\n') return errorAt(start + 1, "unterminated string (newline before the quote)");
      if (c != '\\') {
        value += c;
        continue;
      }
      if (i_ >= s_.size()) return errorAt(start + 1, "unterminated string");
      const char e = s_[i_++];
      switch (e) {
        case 'n':
          value += '\n';
          break;
        case 't':
          value += '\t';
          break;
        case 'r':
          value += '\r';
          break;
        case '\\':
        case '"':
        case '\'':
          value += e;
          break;
        default:
          return errorAt(i_ - 1, std::string("unknown escape \\") + e +
                                     " in a string (known: \\n \\t \\r \\\\ \\\" \\')");
      }
    }
    t.kind = Tok::kString;
    t.text = std::move(value);
    return Status::ok();
  }

  Status op(Token& t) {
    const char c = s_[i_];
    const char next = i_ + 1 < s_.size() ? s_[i_ + 1] : '\0';
    size_t len = 1;
    switch (c) {
      case '(':
        t.kind = Tok::kLParen;
        break;
      case ')':
        t.kind = Tok::kRParen;
        break;
      case '{':
        t.kind = Tok::kLBrace;
        break;
      case '}':
        t.kind = Tok::kRBrace;
        break;
      case '[':
        t.kind = Tok::kLBracket;
        break;
      case ']':
        t.kind = Tok::kRBracket;
        break;
      case ',':
        t.kind = Tok::kComma;
        break;
      case '+':
        t.kind = Tok::kAdd;
        break;
      case '-':
        t.kind = Tok::kSub;
        break;
      case '*':
        t.kind = Tok::kMul;
        break;
      case '/':
        t.kind = Tok::kDiv;
        break;
      case '%':
        t.kind = Tok::kMod;
        break;
      case '^':
        t.kind = Tok::kPow;
        break;
      case '=':
        if (next == '=') {
          t.kind = Tok::kEqlC;
          len = 2;
        } else if (next == '~') {
          t.kind = Tok::kReMatch;
          len = 2;
        } else {
          t.kind = Tok::kAssign;
        }
        break;
      case '!':
        if (next == '=') {
          t.kind = Tok::kNeq;
        } else if (next == '~') {
          t.kind = Tok::kNreMatch;
        } else {
          return errorAt(i_ + 1, "expected \"!=\" or \"!~\"");
        }
        len = 2;
        break;
      case '<':
        t.kind = next == '=' ? Tok::kLte : Tok::kLt;
        len = next == '=' ? 2 : 1;
        break;
      case '>':
        t.kind = next == '=' ? Tok::kGte : Tok::kGt;
        len = next == '=' ? 2 : 1;
        break;
      default:
        return errorAt(i_ + 1, "unexpected character " + quote(s_.substr(i_, 1)));
    }
    t.text = std::string(s_.substr(i_, len));
    i_ += len;
    return Status::ok();
  }

  std::string_view s_;
  size_t i_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Syntax tree

using Type = Expr::Type;

enum class NodeKind { kNumber, kVectorSelector, kMatrixSelector, kCall, kAggregate, kBinary, kNeg };

struct Node : Expr {
  Node(NodeKind k, Type t, size_t p) : kind(k), type_(t), pos(p) {}
  Type type() const override { return type_; }
  const NodeKind kind;
  const Type type_;
  const size_t pos;  // of its first token, for errors
};
using NodePtr = std::unique_ptr<Node>;

std::string formatNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, end);
}

std::string formatDuration(int64_t ms) {
  if (ms == 0) return "0s";
  static constexpr std::pair<int64_t, const char*> kUnits[] = {
      {int64_t{365} * 24 * 3600 * 1000, "y"},
      {int64_t{7} * 24 * 3600 * 1000, "w"},
      {24 * 3600 * 1000, "d"},
      {3600 * 1000, "h"},
      {60 * 1000, "m"},
      {1000, "s"},
      {1, "ms"}};
  std::string out;
  for (const auto& [unit, name] : kUnits) {
    if (ms >= unit) {
      out += std::to_string(ms / unit) + name;
      ms %= unit;
    }
  }
  return out;
}

struct NumberNode : Node {
  NumberNode(double v, size_t p) : Node(NodeKind::kNumber, Type::kScalar, p), value(v) {}
  std::string toString() const override { return formatNumber(value); }
  double value;
};

const char* opText(LabelMatcher::Op op) {
  switch (op) {
    case LabelMatcher::kEq:
      return "=";
    case LabelMatcher::kNe:
      return "!=";
    case LabelMatcher::kRe:
      return "=~";
    case LabelMatcher::kNre:
      return "!~";
  }
  return "?";
}

struct VectorSelectorNode : Node {
  VectorSelectorNode(std::string n, size_t p)
      : Node(NodeKind::kVectorSelector, Type::kVector, p), name(std::move(n)) {}
  std::string toString() const override {
    std::string out = name;
    if (matchers.empty()) return out;
    out += "{";
    for (size_t i = 0; i < matchers.size(); ++i) {
      if (i > 0) out += ", ";
      out += matchers[i].name() + opText(matchers[i].op()) + quote(matchers[i].value());
    }
    return out + "}";
  }
  std::string name;
  std::vector<LabelMatcher> matchers;
};

struct MatrixSelectorNode : Node {
  MatrixSelectorNode(std::unique_ptr<VectorSelectorNode> s, int64_t range, size_t p)
      : Node(NodeKind::kMatrixSelector, Type::kMatrix, p),
        selector(std::move(s)),
        range_ms(range) {}
  std::string toString() const override {
    return selector->toString() + "[" + formatDuration(range_ms) + "]";
  }
  std::unique_ptr<VectorSelectorNode> selector;
  int64_t range_ms;
};

enum class Fn {
  kRate,
  kIrate,
  kIncrease,
  kDelta,
  kAvgOverTime,
  kMinOverTime,
  kMaxOverTime,
  kSumOverTime,
  kCountOverTime,
  kLastOverTime,
  kHistogramQuantile,
  kAbs,
  kCeil,
  kFloor,
  kScalar,
  kVector,
  kTime,
};

struct Function {
  std::string_view name;
  Fn fn;
  Type ret;
  size_t arity;
  Type args[2];
};

constexpr Function kFunctions[] = {
    {"rate", Fn::kRate, Type::kVector, 1, {Type::kMatrix}},
    {"irate", Fn::kIrate, Type::kVector, 1, {Type::kMatrix}},
    {"increase", Fn::kIncrease, Type::kVector, 1, {Type::kMatrix}},
    {"delta", Fn::kDelta, Type::kVector, 1, {Type::kMatrix}},
    {"avg_over_time", Fn::kAvgOverTime, Type::kVector, 1, {Type::kMatrix}},
    {"min_over_time", Fn::kMinOverTime, Type::kVector, 1, {Type::kMatrix}},
    {"max_over_time", Fn::kMaxOverTime, Type::kVector, 1, {Type::kMatrix}},
    {"sum_over_time", Fn::kSumOverTime, Type::kVector, 1, {Type::kMatrix}},
    {"count_over_time", Fn::kCountOverTime, Type::kVector, 1, {Type::kMatrix}},
    {"last_over_time", Fn::kLastOverTime, Type::kVector, 1, {Type::kMatrix}},
    {"histogram_quantile",
     Fn::kHistogramQuantile,
     Type::kVector,
     2,
     {Type::kScalar, Type::kVector}},
    {"abs", Fn::kAbs, Type::kVector, 1, {Type::kVector}},
    {"ceil", Fn::kCeil, Type::kVector, 1, {Type::kVector}},
    {"floor", Fn::kFloor, Type::kVector, 1, {Type::kVector}},
    {"scalar", Fn::kScalar, Type::kScalar, 1, {Type::kVector}},
    {"vector", Fn::kVector, Type::kVector, 1, {Type::kScalar}},
    {"time", Fn::kTime, Type::kScalar, 0, {}},
};

const Function* findFunction(std::string_view name) {
  for (const auto& f : kFunctions)
    if (f.name == name) return &f;
  return nullptr;
}

struct CallNode : Node {
  CallNode(const Function& f, size_t p) : Node(NodeKind::kCall, f.ret, p), fn(f) {}
  std::string toString() const override {
    std::string out = std::string(fn.name) + "(";
    for (size_t i = 0; i < args.size(); ++i) {
      if (i > 0) out += ", ";
      out += args[i]->toString();
    }
    return out + ")";
  }
  const Function& fn;
  std::vector<NodePtr> args;
};

enum class AggOp { kSum, kAvg, kMin, kMax, kCount };

std::optional<AggOp> findAggregation(std::string_view name) {
  if (name == "sum") return AggOp::kSum;
  if (name == "avg") return AggOp::kAvg;
  if (name == "min") return AggOp::kMin;
  if (name == "max") return AggOp::kMax;
  if (name == "count") return AggOp::kCount;
  return std::nullopt;
}

const char* aggText(AggOp op) {
  switch (op) {
    case AggOp::kSum:
      return "sum";
    case AggOp::kAvg:
      return "avg";
    case AggOp::kMin:
      return "min";
    case AggOp::kMax:
      return "max";
    case AggOp::kCount:
      return "count";
  }
  return "?";
}

struct AggregateNode : Node {
  AggregateNode(AggOp o, size_t p) : Node(NodeKind::kAggregate, Type::kVector, p), op(o) {}
  std::string toString() const override {
    std::string out = aggText(op);
    if (grouped) {
      out += without ? " without (" : " by (";
      for (size_t i = 0; i < grouping.size(); ++i) out += (i > 0 ? ", " : "") + grouping[i];
      out += ") ";
    }
    return out + "(" + arg->toString() + ")";
  }
  AggOp op;
  bool grouped = false;  // by or without given
  bool without = false;
  std::vector<std::string> grouping;
  NodePtr arg;
};

enum class BinOp {
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,
  kEq,
  kNe,
  kGt,
  kLt,
  kGe,
  kLe,
  kAnd,
  kOr,
  kUnless
};

bool isComparison(BinOp op) { return op >= BinOp::kEq && op <= BinOp::kLe; }
bool isSetOp(BinOp op) { return op >= BinOp::kAnd; }

const char* binText(BinOp op) {
  static constexpr const char* kText[] = {
      "+", "-", "*", "/", "%", "^", "==", "!=", ">", "<", ">=", "<=", "and", "or", "unless"};
  return kText[static_cast<int>(op)];
}

struct BinaryNode : Node {
  BinaryNode(BinOp o, Type t, size_t p) : Node(NodeKind::kBinary, t, p), op(o) {}
  std::string toString() const override {
    // A sign binds looser than ^: (-1) ^ 2 needs its parentheses to stay itself.
    std::string left = lhs->toString();
    if (op == BinOp::kPow && left.starts_with("-")) left = "(" + left + ")";
    return "(" + left + " " + binText(op) + (return_bool ? " bool " : " ") + rhs->toString() + ")";
  }
  BinOp op;
  bool return_bool = false;
  NodePtr lhs, rhs;
};

struct NegNode : Node {
  NegNode(NodePtr a, size_t p) : Node(NodeKind::kNeg, a->type(), p), arg(std::move(a)) {}
  std::string toString() const override { return "-" + arg->toString(); }
  NodePtr arg;
};

// ---------------------------------------------------------------------------------------------
// Parser: precedence climbing over the tokens. The first error is kept in error_ and every
// parse function returns nullptr from then on.

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

  NodePtr parse() {
    NodePtr e = parseExpr(0);
    if (!e) return nullptr;
    if (peek().kind != Tok::kEnd) return expected("an operator or the end of the query");
    if (e->type() == Type::kMatrix) return rangeNotAllowed(*e);
    return e;
  }
  const Status& error() const { return error_; }

 private:
  const Token& peek(size_t ahead = 0) const {
    return toks_[std::min(i_ + ahead, toks_.size() - 1)];
  }
  const Token& advance() {
    const Token& t = peek();
    if (i_ < toks_.size() - 1) ++i_;
    return t;
  }
  bool peekIdent(std::string_view name, size_t ahead = 0) const {
    return peek(ahead).kind == Tok::kIdent && peek(ahead).text == name;
  }

  std::nullptr_t fail(size_t pos, const std::string& message) {
    if (error_.isOk()) error_ = errorAt(pos, message);
    return nullptr;
  }
  std::nullptr_t expected(const std::string& what) {
    return fail(peek().pos, "expected " + what + ", found " + describe(peek()));
  }
  bool expect(Tok kind, const char* text) {
    if (peek().kind == kind) {
      advance();
      return true;
    }
    expected(quote(text));
    return false;
  }
  std::nullptr_t rangeNotAllowed(const Node& n) {
    return fail(n.pos, "a range selector such as " + n.toString() +
                           " is only allowed as the argument of a function such as rate()");
  }

  static std::optional<std::pair<BinOp, int>> binaryOp(const Token& t) {
    switch (t.kind) {
      case Tok::kAdd:
        return std::pair{BinOp::kAdd, 4};
      case Tok::kSub:
        return std::pair{BinOp::kSub, 4};
      case Tok::kMul:
        return std::pair{BinOp::kMul, 5};
      case Tok::kDiv:
        return std::pair{BinOp::kDiv, 5};
      case Tok::kMod:
        return std::pair{BinOp::kMod, 5};
      case Tok::kPow:
        return std::pair{BinOp::kPow, 6};
      case Tok::kEqlC:
        return std::pair{BinOp::kEq, 3};
      case Tok::kNeq:
        return std::pair{BinOp::kNe, 3};
      case Tok::kGt:
        return std::pair{BinOp::kGt, 3};
      case Tok::kLt:
        return std::pair{BinOp::kLt, 3};
      case Tok::kGte:
        return std::pair{BinOp::kGe, 3};
      case Tok::kLte:
        return std::pair{BinOp::kLe, 3};
      case Tok::kIdent:
        if (t.text == "and") return std::pair{BinOp::kAnd, 2};
        if (t.text == "unless") return std::pair{BinOp::kUnless, 2};
        if (t.text == "or") return std::pair{BinOp::kOr, 1};
        return std::nullopt;
      default:
        return std::nullopt;
    }
  }
  static constexpr int kPowPrecedence = 6;

  NodePtr parseExpr(int min_prec) {
    if (++depth_ > kMaxNesting) return fail(peek().pos, "the query nests too deeply");
    NodePtr lhs = parseUnary();
    while (lhs) {
      auto op = binaryOp(peek());
      if (!op || op->second < min_prec) break;
      const Token& op_tok = advance();
      bool return_bool = false;
      if (isComparison(op->first) && peekIdent("bool")) {
        advance();
        return_bool = true;
      }
      for (const char* modifier : {"on", "ignoring", "group_left", "group_right"})
        if (peekIdent(modifier))
          return fail(peek().pos, std::string("vector matching with ") + modifier +
                                      " is not supported; operations match series with "
                                      "identical labels");
      // ^ is right-associative; the others bind to the left.
      NodePtr rhs = parseExpr(op->first == BinOp::kPow ? op->second : op->second + 1);
      if (!rhs) return nullptr;
      lhs = makeBinary(op->first, op_tok.pos, return_bool, std::move(lhs), std::move(rhs));
    }
    --depth_;
    return lhs;
  }

  NodePtr makeBinary(BinOp op, size_t pos, bool return_bool, NodePtr lhs, NodePtr rhs) {
    if (lhs->type() == Type::kMatrix) return rangeNotAllowed(*lhs);
    if (rhs->type() == Type::kMatrix) return rangeNotAllowed(*rhs);
    const bool scalars = lhs->type() == Type::kScalar && rhs->type() == Type::kScalar;
    if (isSetOp(op) && (lhs->type() != Type::kVector || rhs->type() != Type::kVector))
      return fail(pos, std::string("\"") + binText(op) + "\" needs vectors on both sides");
    if (isComparison(op) && scalars && !return_bool)
      return fail(pos, std::string("a comparison of two scalars needs bool, as in 1 ") +
                           binText(op) + " bool 2");
    auto node = std::make_unique<BinaryNode>(op, scalars ? Type::kScalar : Type::kVector, lhs->pos);
    node->return_bool = return_bool;
    node->lhs = std::move(lhs);
    node->rhs = std::move(rhs);
    return node;
  }

  NodePtr parseUnary() {
    if (peek().kind != Tok::kSub && peek().kind != Tok::kAdd) return parsePrimary();
    const Token& sign = advance();
    const bool negate = sign.kind == Tok::kSub;
    const size_t pos = sign.pos;
    // A sign binds tighter than * but looser than ^: -2^2 is -4.
    NodePtr arg = parseExpr(kPowPrecedence);
    if (!arg) return nullptr;
    if (arg->type() == Type::kMatrix) return rangeNotAllowed(*arg);
    if (!negate) return arg;
    if (arg->kind == NodeKind::kNumber) {
      auto& n = static_cast<NumberNode&>(*arg);
      return std::make_unique<NumberNode>(-n.value, pos);
    }
    return std::make_unique<NegNode>(std::move(arg), pos);
  }

  NodePtr parsePrimary() {
    const Token& t = peek();
    switch (t.kind) {
      case Tok::kNumber:
        advance();
        return std::make_unique<NumberNode>(t.number, t.pos);
      case Tok::kLParen: {
        advance();
        NodePtr e = parseExpr(0);
        if (!e) return nullptr;
        if (!expect(Tok::kRParen, ")")) return nullptr;
        return e;
      }
      case Tok::kIdent:
        break;
      case Tok::kLBrace:
        return fail(t.pos, "expected a metric name before {...}; selectors need one");
      case Tok::kDuration:
        return fail(t.pos, "a duration belongs in a range selector such as x[" + t.text + "]");
      default:
        return expected("an expression");
    }
    const std::string lower = lowercase(t.text);
    if (lower == "inf" || lower == "nan") {
      advance();
      return std::make_unique<NumberNode>(
          lower == "inf" ? std::numeric_limits<double>::infinity() : std::nan(""), t.pos);
    }
    if (auto agg = findAggregation(t.text)) return parseAggregation(*agg);
    if (peek(1).kind == Tok::kLParen) return parseCall();
    return parseSelector();
  }

  NodePtr parseAggregation(AggOp op) {
    const Token& name = advance();
    auto node = std::make_unique<AggregateNode>(op, name.pos);
    const bool prefix_grouping = peekIdent("by") || peekIdent("without");
    if (prefix_grouping && !parseGrouping(*node)) return nullptr;
    if (peek().kind != Tok::kLParen) return expected(quote("("));
    advance();
    node->arg = parseExpr(0);
    if (!node->arg) return nullptr;
    if (!expect(Tok::kRParen, ")")) return nullptr;
    if (!prefix_grouping && (peekIdent("by") || peekIdent("without")) && !parseGrouping(*node))
      return nullptr;
    if (node->arg->type() != Type::kVector)
      return fail(node->arg->pos,
                  std::string("expected an instant vector to aggregate with ") + aggText(op) +
                      "(), found " +
                      (node->arg->type() == Type::kScalar ? "a scalar" : "a range selector"));
    return node;
  }

  bool parseGrouping(AggregateNode& node) {
    node.grouped = true;
    node.without = advance().text == "without";
    if (!expect(Tok::kLParen, "(")) return false;
    while (peek().kind != Tok::kRParen) {
      if (peek().kind != Tok::kIdent || peek().text.find(':') != std::string::npos) {
        expected("a label name");
        return false;
      }
      node.grouping.push_back(advance().text);
      if (peek().kind == Tok::kComma) {
        advance();
      } else if (peek().kind != Tok::kRParen) {
        expected("\",\" or \")\"");
        return false;
      }
    }
    advance();
    return true;
  }

  NodePtr parseCall() {
    const Token& name = advance();
    const Function* fn = findFunction(name.text);
    if (fn == nullptr) return fail(name.pos, "unknown function " + quote(name.text));
    auto node = std::make_unique<CallNode>(*fn, name.pos);
    advance();  // (
    while (peek().kind != Tok::kRParen) {
      NodePtr arg = parseExpr(0);
      if (!arg) return nullptr;
      node->args.push_back(std::move(arg));
      if (peek().kind == Tok::kComma) {
        advance();
      } else if (peek().kind != Tok::kRParen) {
        return expected("\",\" or \")\"");
      }
    }
    const Token& close = advance();
    if (node->args.size() != fn->arity)
      return fail(close.pos, std::string(fn->name) + "() takes " + std::to_string(fn->arity) +
                                 " argument" + (fn->arity == 1 ? "" : "s") + ", not " +
                                 std::to_string(node->args.size()));
    for (size_t i = 0; i < fn->arity; ++i) {
      const Type want = fn->args[i];
      if (node->args[i]->type() == want) continue;
      const char* what = want == Type::kMatrix   ? "a range selector such as x[5m]"
                         : want == Type::kScalar ? "a scalar"
                                                 : "an instant vector";
      return fail(node->args[i]->pos, std::string("expected ") + what + " as argument " +
                                          std::to_string(i + 1) + " of " + std::string(fn->name) +
                                          "()");
    }
    return node;
  }

  NodePtr parseSelector() {
    const Token& name = advance();
    // Words with a meaning between operands cannot name a metric: `a + on` would print as
    // what reads as vector matching.
    for (const char* reserved : {"on", "ignoring", "group_left", "group_right", "bool", "by",
                                 "without", "and", "or", "unless", "offset"})
      if (name.text == reserved)
        return fail(name.pos,
                    std::string("\"") + reserved + "\" is a reserved word, not a metric name");
    auto sel = std::make_unique<VectorSelectorNode>(name.text, name.pos);
    if (peek().kind == Tok::kLBrace) {
      advance();
      while (peek().kind != Tok::kRBrace) {
        if (peek().kind != Tok::kIdent || peek().text.find(':') != std::string::npos)
          return expected("a label name");
        std::string label = advance().text;
        LabelMatcher::Op op;
        switch (peek().kind) {
          case Tok::kAssign:
            op = LabelMatcher::kEq;
            break;
          case Tok::kNeq:
            op = LabelMatcher::kNe;
            break;
          case Tok::kReMatch:
            op = LabelMatcher::kRe;
            break;
          case Tok::kNreMatch:
            op = LabelMatcher::kNre;
            break;
          default:
            return expected("one of = != =~ !~");
        }
        advance();
        if (peek().kind != Tok::kString) return expected("a quoted label value");
        const Token& value = advance();
        auto matcher = LabelMatcher::make(std::move(label), op, value.text);
        if (!matcher.ok()) return fail(value.pos, matcher.status().message());
        sel->matchers.push_back(std::move(matcher).value());
        if (peek().kind == Tok::kComma) {
          advance();
        } else if (peek().kind != Tok::kRBrace) {
          return expected("\",\" or \"}\"");
        }
      }
      advance();
    }
    if (peek().kind != Tok::kLBracket) return sel;
    advance();
    if (peek().kind != Tok::kDuration) return expected("a duration such as 5m");
    const Token& range = advance();
    if (range.duration_ms <= 0) return fail(range.pos, "a range must be longer than 0s");
    if (!expect(Tok::kRBracket, "]")) return nullptr;
    const size_t pos = sel->pos;
    return std::make_unique<MatrixSelectorNode>(std::move(sel), range.duration_ms, pos);
  }

  std::vector<Token> toks_;  // ends with kEnd
  size_t i_ = 0;
  int depth_ = 0;
  Status error_;
};

// ---------------------------------------------------------------------------------------------
// Evaluation: the expression is evaluated at each step over samples loaded once for the whole
// query. Elements point at labels and names kept by the evaluator, so a step copies no strings.

struct Element {
  const std::string* name;  // nullptr once dropped
  const Labels* labels;
  double v;
};
using Vector = std::vector<Element>;

struct Value {
  bool is_scalar = false;
  double scalar = 0;
  Vector vector;
};

const std::string& nameOf(const Element& e) {
  static const std::string kNone;
  return e.name ? *e.name : kNone;
}

struct LabelsLess {
  bool operator()(const Labels* a, const Labels* b) const { return *a < *b; }
};

bool elementLess(const Element& a, const Element& b) {
  if (*a.labels != *b.labels) return *a.labels < *b.labels;
  return nameOf(a) < nameOf(b);
}

std::string formatLabels(const Labels& labels) {
  std::string out = "{";
  for (const auto& [k, v] : labels) out += (out.size() > 1 ? ", " : "") + k + "=" + quote(v);
  return out + "}";
}

// Samples with from < t <= to.
std::span<const Sample> window(const std::vector<Sample>& samples, int64_t from, int64_t to) {
  auto after = [](int64_t t, const Sample& s) { return t < s.t_ms; };
  auto lo = std::upper_bound(samples.begin(), samples.end(), from, after);
  auto hi = std::upper_bound(lo, samples.end(), to, after);
  return {lo, hi};
}

int64_t saturatingSub(int64_t a, int64_t b) {
  return a < std::numeric_limits<int64_t>::min() + b ? std::numeric_limits<int64_t>::min() : a - b;
}

// rate(), increase() and delta() as Prometheus computes them: the change over the samples in
// the window (counter resets added back), extrapolated towards the window's edges when the
// samples come close to them, but never to before a counter's zero.
std::optional<double> extrapolatedRate(std::span<const Sample> s, int64_t range_start,
                                       int64_t range_end, bool is_counter, bool is_rate) {
  if (s.size() < 2) return std::nullopt;
  double result = s.back().v - s.front().v;
  if (is_counter) {
    for (size_t i = 1; i < s.size(); ++i)
      if (s[i].v < s[i - 1].v) result += s[i - 1].v;
  }
  double to_start = static_cast<double>(s.front().t_ms - range_start) / 1000;
  const double to_end = static_cast<double>(range_end - s.back().t_ms) / 1000;
  const double sampled = static_cast<double>(s.back().t_ms - s.front().t_ms) / 1000;
  const double average = sampled / static_cast<double>(s.size() - 1);
  if (is_counter && result > 0 && s.front().v >= 0) {
    const double to_zero = sampled * (s.front().v / result);
    if (to_zero < to_start) to_start = to_zero;
  }
  const double threshold = average * 1.1;
  double interval = sampled;
  interval += to_start < threshold ? to_start : average / 2;
  interval += to_end < threshold ? to_end : average / 2;
  double factor = interval / sampled;
  if (is_rate) factor /= static_cast<double>(range_end - range_start) / 1000;
  return result * factor;
}

// histogram_quantile() of one histogram's (upper bound, cumulative count) buckets, as
// Prometheus' bucketQuantile: NaN without a +Inf bucket or observations, the lower bound of the
// +Inf bucket when the rank falls in it, linear interpolation within any other bucket.
double bucketQuantile(double q, std::vector<std::pair<double, double>> buckets) {
  if (std::isnan(q)) return std::nan("");
  if (q < 0) return -std::numeric_limits<double>::infinity();
  if (q > 1) return std::numeric_limits<double>::infinity();
  std::sort(buckets.begin(), buckets.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  if (buckets.empty() || !std::isinf(buckets.back().first) || buckets.back().first < 0)
    return std::nan("");
  // Buckets of the same bound (from series differing only in their name) add up.
  std::vector<std::pair<double, double>> merged;
  for (const auto& b : buckets) {
    if (!merged.empty() && merged.back().first == b.first)
      merged.back().second += b.second;
    else
      merged.push_back(b);
  }
  // Counts scraped at slightly different moments may decrease; they cannot really.
  for (size_t i = 1; i < merged.size(); ++i)
    merged[i].second = std::max(merged[i].second, merged[i - 1].second);
  if (merged.size() < 2) return std::nan("");
  const double observations = merged.back().second;
  if (observations == 0) return std::nan("");
  double rank = q * observations;
  size_t b = 0;
  while (b < merged.size() - 1 && merged[b].second < rank) ++b;
  if (b == merged.size() - 1) return merged[merged.size() - 2].first;
  if (b == 0 && merged[0].first <= 0) return merged[0].first;
  double start = 0;
  double count = merged[b].second;
  if (b > 0) {
    start = merged[b - 1].first;
    count -= merged[b - 1].second;
    rank -= merged[b - 1].second;
  }
  return start + (merged[b].first - start) * (rank / count);
}

std::optional<double> parseBound(std::string_view s) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  // A NaN bound is no bucket (and would break the sort by bound).
  if (ec != std::errc() || end != s.data() + s.size() || s.empty() || std::isnan(v))
    return std::nullopt;
  return v;
}

double arithmetic(BinOp op, double a, double b) {
  switch (op) {
    case BinOp::kAdd:
      return a + b;
    case BinOp::kSub:
      return a - b;
    case BinOp::kMul:
      return a * b;
    case BinOp::kDiv:
      return a / b;  // IEEE: x/0 is ±Inf, 0/0 NaN, as in Prometheus
    case BinOp::kMod:
      return std::fmod(a, b);
    case BinOp::kPow:
      return std::pow(a, b);
    default:
      SKIFF_ASSERT(false, "not an arithmetic operator");
      return 0;
  }
}

bool compare(BinOp op, double a, double b) {
  switch (op) {
    case BinOp::kEq:
      return a == b;
    case BinOp::kNe:
      return a != b;
    case BinOp::kGt:
      return a > b;
    case BinOp::kLt:
      return a < b;
    case BinOp::kGe:
      return a >= b;
    case BinOp::kLe:
      return a <= b;
    default:
      SKIFF_ASSERT(false, "not a comparison");
      return false;
  }
}

class Evaluator {
 public:
  Evaluator(const TimeSeriesStore& store, const QueryOptions& options)
      : store_(store), options_(options) {}

  // Loads what every selector needs for evaluations at times in [start, end].
  Status load(const Node& n, int64_t start, int64_t end) {
    switch (n.kind) {
      case NodeKind::kNumber:
        return Status::ok();
      case NodeKind::kVectorSelector:
        return select(n, static_cast<const VectorSelectorNode&>(n),
                      saturatingSub(start, options_.lookback.count()), end);
      case NodeKind::kMatrixSelector: {
        const auto& m = static_cast<const MatrixSelectorNode&>(n);
        return select(n, *m.selector, saturatingSub(start, m.range_ms), end);
      }
      case NodeKind::kCall:
        for (const auto& arg : static_cast<const CallNode&>(n).args)
          if (Status st = load(*arg, start, end); !st.isOk()) return st;
        return Status::ok();
      case NodeKind::kAggregate:
        return load(*static_cast<const AggregateNode&>(n).arg, start, end);
      case NodeKind::kBinary: {
        const auto& b = static_cast<const BinaryNode&>(n);
        if (Status st = load(*b.lhs, start, end); !st.isOk()) return st;
        return load(*b.rhs, start, end);
      }
      case NodeKind::kNeg:
        return load(*static_cast<const NegNode&>(n).arg, start, end);
    }
    return Status::ok();
  }

  // The value at t; check error() after.
  Value eval(const Node& n, int64_t t) {
    switch (n.kind) {
      case NodeKind::kNumber:
        return scalar(static_cast<const NumberNode&>(n).value);
      case NodeKind::kVectorSelector:
        return instantSelector(n, t);
      case NodeKind::kMatrixSelector:
        SKIFF_ASSERT(false, "the parser lets range selectors only into function arguments");
        return {};
      case NodeKind::kCall:
        return call(static_cast<const CallNode&>(n), t);
      case NodeKind::kAggregate:
        return aggregate(static_cast<const AggregateNode&>(n), t);
      case NodeKind::kBinary:
        return binary(static_cast<const BinaryNode&>(n), t);
      case NodeKind::kNeg: {
        Value v = eval(*static_cast<const NegNode&>(n).arg, t);
        v.scalar = -v.scalar;
        for (auto& e : v.vector) {
          e.v = -e.v;
          e.name = nullptr;
        }
        return v;
      }
    }
    return {};
  }

  const Status& error() const { return error_; }

 private:
  static Value scalar(double v) { return Value{true, v, {}}; }

  Status select(const Node& key, const VectorSelectorNode& sel, int64_t start, int64_t end) {
    std::vector<LabelMatcher> matchers = sel.matchers;
    matchers.insert(matchers.end(), options_.confine.begin(), options_.confine.end());
    auto series = store_.select(sel.name, matchers, start, end);
    for (const auto& s : series) loaded_ += s.samples.size();
    if (loaded_ > options_.max_samples)
      return Status(StatusCode::kTooLarge, "the query would load more than " +
                                               std::to_string(options_.max_samples) +
                                               " samples; narrow its selectors or its time range");
    data_[&key] = std::move(series);
    return Status::ok();
  }

  const Labels* intern(Labels labels) { return &*interned_.insert(std::move(labels)).first; }

  Value instantSelector(const Node& n, int64_t t) {
    Value out;
    for (const auto& s : data_[&n]) {
      auto w = window(s.samples, t - options_.lookback.count(), t);
      if (!w.empty()) out.vector.push_back({&s.name, &s.labels, w.back().v});
    }
    return out;
  }

  Value call(const CallNode& c, int64_t t) {
    switch (c.fn.fn) {
      case Fn::kTime:
        return scalar(static_cast<double>(t) / 1000);
      case Fn::kScalar: {
        Value v = eval(*c.args[0], t);
        return scalar(v.vector.size() == 1 ? v.vector[0].v : std::nan(""));
      }
      case Fn::kVector:
        return Value{false, 0, {{nullptr, intern({}), eval(*c.args[0], t).scalar}}};
      case Fn::kAbs:
      case Fn::kCeil:
      case Fn::kFloor: {
        Value v = eval(*c.args[0], t);
        for (auto& e : v.vector) {
          e.name = nullptr;
          e.v = c.fn.fn == Fn::kAbs    ? std::fabs(e.v)
                : c.fn.fn == Fn::kCeil ? std::ceil(e.v)
                                       : std::floor(e.v);
        }
        return v;
      }
      case Fn::kHistogramQuantile:
        return histogramQuantile(c, t);
      default:
        return overTime(c, t);
    }
  }

  // The functions of a range selector: one element per series with samples in the window.
  Value overTime(const CallNode& c, int64_t t) {
    const auto& m = static_cast<const MatrixSelectorNode&>(*c.args[0]);
    const int64_t from = t - m.range_ms;
    Value out;
    for (const auto& s : data_[&m]) {
      const auto w = window(s.samples, from, t);
      if (w.empty()) continue;
      std::optional<double> v;
      switch (c.fn.fn) {
        case Fn::kRate:
          v = extrapolatedRate(w, from, t, true, true);
          break;
        case Fn::kIncrease:
          v = extrapolatedRate(w, from, t, true, false);
          break;
        case Fn::kDelta:
          v = extrapolatedRate(w, from, t, false, false);
          break;
        case Fn::kIrate:
          if (w.size() >= 2) {
            const Sample& last = w[w.size() - 1];
            const Sample& prev = w[w.size() - 2];
            const double change = last.v < prev.v ? last.v : last.v - prev.v;
            v = change * 1000 / static_cast<double>(last.t_ms - prev.t_ms);
          }
          break;
        case Fn::kAvgOverTime:
        case Fn::kSumOverTime: {
          double sum = 0;
          for (const Sample& x : w) sum += x.v;
          v = c.fn.fn == Fn::kSumOverTime ? sum : sum / static_cast<double>(w.size());
          break;
        }
        case Fn::kMinOverTime:
        case Fn::kMaxOverTime: {
          const bool is_max = c.fn.fn == Fn::kMaxOverTime;
          double r = w[0].v;
          for (const Sample& x : w)
            if ((is_max ? x.v > r : x.v < r) || std::isnan(r)) r = x.v;
          v = r;
          break;
        }
        case Fn::kCountOverTime:
          v = static_cast<double>(w.size());
          break;
        case Fn::kLastOverTime:
          v = w.back().v;
          break;
        default:
          SKIFF_ASSERT(false, "not a range function");
      }
      if (v) out.vector.push_back({nullptr, &s.labels, *v});
    }
    return out;
  }

  // The labels of `e`'s group for `node`: those named (by) or all but those named (without).
  const Labels* groupOf(const Node& node, const Element& e, bool without,
                        const std::vector<std::string>& names) {
    auto [it, inserted] = groups_.try_emplace({&node, e.labels}, nullptr);
    if (!inserted) return it->second;
    Labels key;
    if (without) {
      key = *e.labels;
      for (const auto& n : names) key.erase(n);
    } else {
      for (const auto& n : names)
        if (auto l = e.labels->find(n); l != e.labels->end() && !l->second.empty()) key.insert(*l);
    }
    return it->second = intern(std::move(key));
  }

  Value histogramQuantile(const CallNode& c, int64_t t) {
    const double q = eval(*c.args[0], t).scalar;
    const Value v = eval(*c.args[1], t);
    std::map<const Labels*, std::vector<std::pair<double, double>>, LabelsLess> histograms;
    static const std::vector<std::string> kLe = {"le"};
    for (const auto& e : v.vector) {
      auto le = e.labels->find("le");
      if (le == e.labels->end()) continue;
      auto bound = parseBound(le->second);
      if (!bound) continue;
      histograms[groupOf(c, e, true, kLe)].emplace_back(*bound, e.v);
    }
    Value out;
    for (auto& [labels, buckets] : histograms)
      out.vector.push_back({nullptr, labels, bucketQuantile(q, std::move(buckets))});
    return out;
  }

  Value aggregate(const AggregateNode& a, int64_t t) {
    const Value v = eval(*a.arg, t);
    struct Group {
      double value = 0;
      size_t count = 0;
    };
    std::map<const Labels*, Group, LabelsLess> groups;
    for (const auto& e : v.vector) {
      Group& g = groups[groupOf(a, e, a.without, a.grouping)];
      if (g.count++ == 0) {
        g.value = e.v;
        continue;
      }
      switch (a.op) {
        case AggOp::kSum:
        case AggOp::kAvg:
          g.value += e.v;
          break;
        case AggOp::kMin:
          if (e.v < g.value || std::isnan(g.value)) g.value = e.v;
          break;
        case AggOp::kMax:
          if (e.v > g.value || std::isnan(g.value)) g.value = e.v;
          break;
        case AggOp::kCount:
          break;
      }
    }
    Value out;
    for (const auto& [labels, g] : groups) {
      double value = g.value;
      if (a.op == AggOp::kAvg) value /= static_cast<double>(g.count);
      if (a.op == AggOp::kCount) value = static_cast<double>(g.count);
      out.vector.push_back({nullptr, labels, value});
    }
    return out;
  }

  Value binary(const BinaryNode& b, int64_t t) {
    Value lhs = eval(*b.lhs, t);
    Value rhs = eval(*b.rhs, t);
    const bool cmp = isComparison(b.op);
    if (lhs.is_scalar && rhs.is_scalar) {
      if (cmp) return scalar(compare(b.op, lhs.scalar, rhs.scalar) ? 1 : 0);
      return scalar(arithmetic(b.op, lhs.scalar, rhs.scalar));
    }
    if (isSetOp(b.op)) return setOperation(b.op, std::move(lhs.vector), rhs.vector);
    if (lhs.is_scalar || rhs.is_scalar) {
      const bool scalar_left = lhs.is_scalar;
      const double s = scalar_left ? lhs.scalar : rhs.scalar;
      Vector& vec = scalar_left ? rhs.vector : lhs.vector;
      Value out;
      for (Element e : vec) {
        const double l = scalar_left ? s : e.v;
        const double r = scalar_left ? e.v : s;
        if (!cmp) {
          e.v = arithmetic(b.op, l, r);
          e.name = nullptr;
        } else if (b.return_bool) {
          e.v = compare(b.op, l, r) ? 1 : 0;
          e.name = nullptr;
        } else if (!compare(b.op, l, r)) {
          continue;  // a filter keeps the vector's element as it is
        }
        out.vector.push_back(e);
      }
      return out;
    }

    // One-to-one: each side's series matched by their labels, the metric name aside.
    std::map<const Labels*, size_t, LabelsLess> right;
    for (size_t i = 0; i < rhs.vector.size(); ++i) {
      if (!right.emplace(rhs.vector[i].labels, i).second) {
        failOnce("more than one series with labels " + formatLabels(*rhs.vector[i].labels) +
                 " on the right of \"" + binText(b.op) +
                 "\"; one-to-one matching needs unique label sets (aggregate first)");
        return {};
      }
    }
    std::set<const Labels*, LabelsLess> matched;
    Value out;
    for (Element e : lhs.vector) {
      auto r = right.find(e.labels);
      if (r == right.end()) continue;
      if (!matched.insert(e.labels).second) {
        failOnce("more than one series with labels " + formatLabels(*e.labels) +
                 " on the left of \"" + binText(b.op) +
                 "\"; one-to-one matching needs unique label sets (aggregate first)");
        return {};
      }
      const double rv = rhs.vector[r->second].v;
      if (!cmp) {
        e.v = arithmetic(b.op, e.v, rv);
        e.name = nullptr;
      } else if (b.return_bool) {
        e.v = compare(b.op, e.v, rv) ? 1 : 0;
        e.name = nullptr;
      } else if (!compare(b.op, e.v, rv)) {
        continue;
      }
      out.vector.push_back(e);
    }
    return out;
  }

  static Value setOperation(BinOp op, Vector lhs, const Vector& rhs) {
    std::set<const Labels*, LabelsLess> right;
    for (const auto& e : rhs) right.insert(e.labels);
    Value out;
    if (op == BinOp::kOr) {
      std::set<const Labels*, LabelsLess> left;
      for (const auto& e : lhs) left.insert(e.labels);
      out.vector = std::move(lhs);
      for (const auto& e : rhs)
        if (!left.count(e.labels)) out.vector.push_back(e);
      return out;
    }
    for (const auto& e : lhs)
      if ((right.count(e.labels) != 0) == (op == BinOp::kAnd)) out.vector.push_back(e);
    return out;
  }

  void failOnce(const std::string& message) {
    if (error_.isOk()) error_ = badRequest(message);
  }

  const TimeSeriesStore& store_;
  const QueryOptions& options_;
  std::map<const Node*, std::vector<Series>> data_;  // per selector; constant once loaded
  size_t loaded_ = 0;
  std::set<Labels> interned_;  // labels made during evaluation; elements point into it
  std::map<std::pair<const Node*, const Labels*>, const Labels*> groups_;  // groupOf()'s answers
  Status error_;
};

// Query times come from users; keeping them within ±285000 years keeps the arithmetic on them
// (t - range, t - lookback) far from overflowing.
constexpr int64_t kMaxAbsTimeMs = int64_t{1} << 53;

Status checkTime(int64_t t_ms, const char* what) {
  if (t_ms >= -kMaxAbsTimeMs && t_ms <= kMaxAbsTimeMs) return Status::ok();
  return badRequest(std::string("the query's ") + what + " " + std::to_string(t_ms) +
                    " (milliseconds since the epoch) is out of range");
}

const Node* asNode(const Expr& e) { return dynamic_cast<const Node*>(&e); }

Status duplicateSeries(const Element& e) {
  return badRequest("the result holds more than one series named " + quote(nameOf(e)) +
                    " with labels " + formatLabels(*e.labels));
}

}  // namespace

Result<std::unique_ptr<Expr>> parseQuery(std::string_view text) {
  if (text.size() > kMaxQueryBytes)
    return badRequest("the query is longer than " + std::to_string(kMaxQueryBytes) + " bytes");
  auto tokens = Lexer(text).run();
  if (!tokens.ok()) return tokens.status();
  Parser parser(std::move(tokens).value());
  NodePtr root = parser.parse();
  if (!root) return parser.error();
  return std::unique_ptr<Expr>(std::move(root));
}

Result<QueryResult> instantQuery(const TimeSeriesStore& store, std::string_view query, int64_t t_ms,
                                 const QueryOptions& options) {
  auto expr = parseQuery(query);
  if (!expr.ok()) return expr.status();
  return instantQuery(store, **expr, t_ms, options);
}

Result<QueryResult> instantQuery(const TimeSeriesStore& store, const Expr& query, int64_t t_ms,
                                 const QueryOptions& options) {
  if (Status st = checkTime(t_ms, "time"); !st.isOk()) return st;
  const Node* root = asNode(query);
  SKIFF_ASSERT(root != nullptr, "expressions come from parseQuery()");
  Evaluator evaluator(store, options);
  if (Status st = evaluator.load(*root, t_ms, t_ms); !st.isOk()) return st;
  Value v = evaluator.eval(*root, t_ms);
  if (!evaluator.error().isOk()) return evaluator.error();
  QueryResult out;
  if (v.is_scalar) {
    out.kind = QueryResult::kScalar;
    out.scalar = v.scalar;
    return out;
  }
  out.kind = QueryResult::kVector;
  std::sort(v.vector.begin(), v.vector.end(), elementLess);
  for (size_t i = 0; i < v.vector.size(); ++i) {
    const Element& e = v.vector[i];
    if (i > 0 && !elementLess(v.vector[i - 1], e)) return duplicateSeries(e);
    out.series.push_back(Series{nameOf(e), *e.labels, {{t_ms, e.v}}});
  }
  return out;
}

Result<QueryResult> rangeQuery(const TimeSeriesStore& store, std::string_view query,
                               int64_t start_ms, int64_t end_ms, int64_t step_ms,
                               const QueryOptions& options) {
  auto expr = parseQuery(query);
  if (!expr.ok()) return expr.status();
  return rangeQuery(store, **expr, start_ms, end_ms, step_ms, options);
}

Result<QueryResult> rangeQuery(const TimeSeriesStore& store, const Expr& query, int64_t start_ms,
                               int64_t end_ms, int64_t step_ms, const QueryOptions& options) {
  if (Status st = checkTime(start_ms, "start"); !st.isOk()) return st;
  if (Status st = checkTime(end_ms, "end"); !st.isOk()) return st;
  if (step_ms <= 0) return badRequest("the step of a range query must be positive");
  if (end_ms < start_ms) return badRequest("the end of a range query is before its start");
  const uint64_t points =
      (static_cast<uint64_t>(end_ms) - static_cast<uint64_t>(start_ms)) / step_ms + 1;
  if (points > options.max_points_per_series)
    return badRequest("the range query asks for " + std::to_string(points) +
                      " points per series, over the limit of " +
                      std::to_string(options.max_points_per_series) +
                      "; raise the step or shorten the range");
  const Node* root = asNode(query);
  SKIFF_ASSERT(root != nullptr, "expressions come from parseQuery()");
  Evaluator evaluator(store, options);
  if (Status st = evaluator.load(*root, start_ms, end_ms); !st.isOk()) return st;

  struct Key {
    const Labels* labels;
    const std::string* name;
  };
  auto key_less = [](const Key& a, const Key& b) {
    return elementLess({a.name, a.labels, 0}, {b.name, b.labels, 0});
  };
  std::map<Key, std::vector<Sample>, decltype(key_less)> series(key_less);
  std::vector<Sample> scalars;
  for (uint64_t i = 0; i < points; ++i) {
    const int64_t t = start_ms + static_cast<int64_t>(i) * step_ms;
    Value v = evaluator.eval(*root, t);
    if (!evaluator.error().isOk()) return evaluator.error();
    if (v.is_scalar) {
      scalars.push_back({t, v.scalar});
      continue;
    }
    for (const Element& e : v.vector) {
      auto& samples = series[Key{e.labels, e.name}];
      if (!samples.empty() && samples.back().t_ms == t) return duplicateSeries(e);
      samples.push_back({t, e.v});
    }
  }
  QueryResult out;
  out.kind = QueryResult::kMatrix;
  if (root->type() == Type::kScalar) {
    out.series.push_back(Series{"", {}, std::move(scalars)});
    return out;
  }
  for (auto& [key, samples] : series)
    out.series.push_back(Series{key.name ? *key.name : "", *key.labels, std::move(samples)});
  return out;
}

}  // namespace skiff::observe
