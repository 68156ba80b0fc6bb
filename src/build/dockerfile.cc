#include "build/dockerfile.h"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

namespace skiff::build {

namespace {

struct OpName {
  const char* name;
  Op op;
};
constexpr OpName kOps[] = {
    {"FROM", Op::kFrom},
    {"ARG", Op::kArg},
    {"ENV", Op::kEnv},
    {"RUN", Op::kRun},
    {"COPY", Op::kCopy},
    {"ADD", Op::kAdd},
    {"WORKDIR", Op::kWorkdir},
    {"USER", Op::kUser},
    {"EXPOSE", Op::kExpose},
    {"LABEL", Op::kLabel},
    {"ENTRYPOINT", Op::kEntrypoint},
    {"CMD", Op::kCmd},
};
// Known to Docker but not run by this builder: named so the error can say so.
constexpr const char* kUnsupported[] = {"HEALTHCHECK", "ONBUILD", "SHELL",
                                        "STOPSIGNAL",  "VOLUME",  "MAINTAINER"};

Status lineError(int line, const std::string& message) {
  return Status(StatusCode::kInvalid, "Dockerfile line " + std::to_string(line) + ": " + message);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Splits on unquoted whitespace; quotes group and are removed, a backslash escapes the next
// character (kept when it does not precede a quote, a backslash or whitespace, so Windows-less
// paths and `\$` survive for expandVariables()).
Result<std::vector<std::string>> splitWords(std::string_view s, int line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < s.size() &&
                 (s[i + 1] == '"' || s[i + 1] == '\\')) {
        word += s[++i];
      } else {
        word += c;
      }
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '\\' && i + 1 < s.size() &&
               (s[i + 1] == '"' || s[i + 1] == '\'' || s[i + 1] == '\\' ||
                std::isspace(static_cast<unsigned char>(s[i + 1])))) {
      word += s[++i];
    } else {
      word += c;
    }
  }
  if (quote) return lineError(line, std::string("unterminated ") + quote + " quote");
  if (in_word) words.push_back(std::move(word));
  return words;
}

// The exec form: a JSON array of strings. nullopt when `args` is not one (then it is the
// shell form, as in Docker).
std::optional<std::vector<std::string>> execForm(std::string_view args) {
  if (args.empty() || args.front() != '[') return std::nullopt;
  auto parsed = nlohmann::json::parse(args, nullptr, false);
  if (!parsed.is_array() || parsed.empty()) return std::nullopt;
  std::vector<std::string> argv;
  for (const auto& a : parsed) {
    if (!a.is_string()) return std::nullopt;
    argv.push_back(a.get<std::string>());
  }
  return argv;
}

// Leading --name=value flags; only `allowed` ones are accepted.
Result<std::map<std::string, std::string>> takeFlags(std::vector<std::string>* words,
                                                     std::initializer_list<const char*> allowed,
                                                     const char* op, int line) {
  std::map<std::string, std::string> flags;
  while (!words->empty() && words->front().rfind("--", 0) == 0) {
    const std::string flag = words->front();
    const size_t eq = flag.find('=');
    const std::string name = flag.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return name == a; })) {
      std::string list;
      for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + "--" + a;
      return lineError(line, std::string(op) + " flag " + flag + " is not supported" +
                                 (list.empty() ? "" : " (supported: " + list + ")"));
    }
    if (eq == std::string::npos || eq + 1 == flag.size())
      return lineError(
          line, std::string(op) + " flag --" + name + " needs a value (--" + name + "=VALUE)");
    flags[name] = flag.substr(eq + 1);
    words->erase(words->begin());
  }
  return flags;
}

// ENV and LABEL: KEY=VALUE pairs, or ENV's legacy `KEY VALUE...` form.
Status parsePairs(std::string_view args, Instruction* ins) {
  const char* op = opName(ins->op);
  auto words = splitWords(args, ins->line);
  if (!words.ok()) return words.status();
  if (words->empty()) return lineError(ins->line, std::string(op) + " needs KEY=VALUE");
  if (ins->op == Op::kEnv && words->front().find('=') == std::string::npos) {
    // ENV KEY VALUE: the value is the rest of the line, spaces included.
    const std::string key = words->front();
    std::string_view rest = trim(args.substr(args.find(key) + key.size()));
    auto value = splitWords(rest, ins->line);
    if (!value.ok()) return value.status();
    if (value->empty()) return lineError(ins->line, "ENV " + key + " needs a value");
    std::string joined;
    for (const auto& w : *value) joined += (joined.empty() ? "" : " ") + w;
    ins->pairs.emplace_back(key, joined);
    return Status::ok();
  }
  for (const auto& w : *words) {
    const size_t eq = w.find('=');
    if (eq == std::string::npos || eq == 0)
      return lineError(ins->line, std::string(op) + " expects KEY=VALUE, got \"" + w + "\"");
    ins->pairs.emplace_back(w.substr(0, eq), w.substr(eq + 1));
  }
  return Status::ok();
}

bool isRemoteSource(const std::string& source) {
  return source.rfind("http://", 0) == 0 || source.rfind("https://", 0) == 0 ||
         source.rfind("git@", 0) == 0;
}

Status parseArguments(std::string_view args, Instruction* ins) {
  const int line = ins->line;
  const char* op = opName(ins->op);
  switch (ins->op) {
    case Op::kRun:
    case Op::kCmd:
    case Op::kEntrypoint: {
      if (args.empty()) return lineError(line, std::string(op) + " needs a command");
      if (ins->op == Op::kRun && args.rfind("--", 0) == 0)
        return lineError(line, "RUN flags (" + std::string(args.substr(0, args.find(' '))) +
                                   ") are not supported");
      if (auto argv = execForm(args)) {
        ins->command = std::move(*argv);
      } else {
        ins->command = {std::string(args)};
        ins->shell_form = true;
      }
      return Status::ok();
    }
    case Op::kEnv:
    case Op::kLabel:
      return parsePairs(args, ins);
    case Op::kArg: {
      auto words = splitWords(args, line);
      if (!words.ok()) return words.status();
      if (words->size() != 1) return lineError(line, "ARG takes one NAME or NAME=DEFAULT");
      const std::string& w = words->front();
      const size_t eq = w.find('=');
      ins->has_default = eq != std::string::npos;
      ins->pairs.emplace_back(w.substr(0, eq), ins->has_default ? w.substr(eq + 1) : "");
      if (ins->pairs.back().first.empty()) return lineError(line, "ARG needs a name");
      return Status::ok();
    }
    default:
      break;
  }
  std::vector<std::string> words;
  if (auto argv = execForm(args); argv && (ins->op == Op::kCopy || ins->op == Op::kAdd)) {
    words = std::move(*argv);
  } else {
    auto split = splitWords(args, line);
    if (!split.ok()) return split.status();
    words = std::move(split).value();
  }
  switch (ins->op) {
    case Op::kFrom: {
      auto flags = takeFlags(&words, {"platform"}, op, line);
      if (!flags.ok()) return flags.status();
      if (flags->count("platform") && (*flags)["platform"] != "linux/amd64")
        return lineError(line, "FROM --platform=" + (*flags)["platform"] +
                                   " is not supported: images are built for linux/amd64");
      if (words.size() == 3 && upper(words[1]) == "AS") {
        words.erase(words.begin() + 1);
      } else if (words.size() != 1) {
        return lineError(line, "FROM expects IMAGE or IMAGE AS NAME");
      }
      break;
    }
    case Op::kCopy:
    case Op::kAdd: {
      auto flags = takeFlags(&words, {"from", "chown"}, op, line);
      if (!flags.ok()) return flags.status();
      if (ins->op == Op::kAdd && flags->count("from"))
        return lineError(line, "ADD does not take --from; use COPY --from");
      ins->flags = std::move(flags).value();
      if (words.size() < 2) return lineError(line, std::string(op) + " needs SOURCE... DEST");
      for (size_t i = 0; i + 1 < words.size(); ++i)
        if (isRemoteSource(words[i]))
          return lineError(line, std::string(op) + " of a URL (" + words[i] +
                                     ") is not supported: builds read only the local context");
      break;
    }
    case Op::kWorkdir:
    case Op::kUser:
      if (words.size() != 1) return lineError(line, std::string(op) + " takes one argument");
      break;
    case Op::kExpose:
      if (words.empty()) return lineError(line, "EXPOSE needs a port");
      break;
    default:
      break;
  }
  ins->words = std::move(words);
  return Status::ok();
}

}  // namespace

const char* opName(Op op) {
  for (const auto& o : kOps)
    if (o.op == op) return o.name;
  return "?";
}

Result<Dockerfile> parseDockerfile(std::string_view text) {
  Dockerfile file;
  int line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    // One logical line: physical lines joined while they end in a backslash; comment lines
    // inside a continuation are dropped, as Docker does.
    std::string logical;
    int start_line = 0;
    bool continued = true;
    while (continued && pos < text.size()) {
      size_t end = text.find('\n', pos);
      if (end == std::string_view::npos) end = text.size();
      std::string_view physical = text.substr(pos, end - pos);
      pos = end + 1;
      ++line_no;
      std::string_view t = trim(physical);
      if (t.empty() || t.front() == '#') {
        continued = start_line != 0;
        continue;
      }
      if (start_line == 0) start_line = line_no;
      continued = t.back() == '\\';
      if (continued) t.remove_suffix(1);
      logical += std::string(t) + (continued ? " " : "");
    }
    if (start_line == 0) continue;
    std::string_view l = trim(logical);
    const size_t space = l.find_first_of(" \t");
    const std::string keyword = upper(l.substr(0, space));
    std::string_view args = space == std::string_view::npos ? "" : trim(l.substr(space));
    Instruction ins;
    ins.line = start_line;
    ins.text = std::string(l);
    bool known = false;
    for (const auto& o : kOps)
      if (keyword == o.name) {
        ins.op = o.op;
        known = true;
      }
    if (!known) {
      const bool docker = std::find(std::begin(kUnsupported), std::end(kUnsupported), keyword) !=
                          std::end(kUnsupported);
      return lineError(start_line, docker ? keyword + " is not supported by skiff image build"
                                          : "unknown instruction \"" + keyword + "\"");
    }
    if (Status s = parseArguments(args, &ins); !s.isOk()) return s;
    if (ins.op == Op::kFrom) {
      Stage stage;
      stage.index = static_cast<int>(file.stages.size());
      stage.line = start_line;
      if (ins.words.size() == 2) stage.name = ins.words[1];
      for (const auto& other : file.stages)
        if (!stage.name.empty() && other.name == stage.name)
          return lineError(start_line, "stage name \"" + stage.name + "\" is used twice");
      stage.from = std::move(ins);
      file.stages.push_back(std::move(stage));
    } else if (file.stages.empty()) {
      if (ins.op != Op::kArg)
        return lineError(start_line, std::string(opName(ins.op)) +
                                         " before the first FROM (only ARG may come first)");
      file.global_args.push_back(std::move(ins));
    } else {
      file.stages.back().instructions.push_back(std::move(ins));
    }
  }
  if (file.stages.empty()) return Status(StatusCode::kInvalid, "Dockerfile has no FROM");
  return file;
}

Result<std::string> expandVariables(std::string_view word,
                                    const std::map<std::string, std::string>& vars) {
  auto nameChar = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  auto lookup = [&](const std::string& name) -> const std::string* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : &it->second;
  };
  std::string out;
  for (size_t i = 0; i < word.size(); ++i) {
    const char c = word[i];
    if (c == '\\' && i + 1 < word.size() && word[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (c != '$' || i + 1 == word.size()) {
      out += c;
      continue;
    }
    if (word[i + 1] == '{') {
      const size_t close = word.find('}', i + 2);
      if (close == std::string_view::npos)
        return Status(StatusCode::kInvalid, "unterminated ${ in \"" + std::string(word) + "\"");
      std::string_view inner = word.substr(i + 2, close - i - 2);
      const size_t colon = inner.find(':');
      const std::string name(inner.substr(0, colon));
      if (name.empty() || !std::all_of(name.begin(), name.end(), nameChar))
        return Status(StatusCode::kInvalid, "bad variable reference ${" + std::string(inner) + "}");
      const std::string* value = lookup(name);
      if (colon == std::string_view::npos) {
        if (value) out += *value;
      } else if (colon + 1 < inner.size() && (inner[colon + 1] == '-' || inner[colon + 1] == '+')) {
        const bool set = value && !value->empty();
        auto alternative = expandVariables(inner.substr(colon + 2), vars);
        if (!alternative.ok()) return alternative.status();
        if (inner[colon + 1] == '-')
          out += set ? *value : *alternative;
        else if (set)
          out += *alternative;
      } else {
        return Status(StatusCode::kInvalid, "unsupported modifier in ${" + std::string(inner) +
                                                "}: use ${NAME:-default} or ${NAME:+value}");
      }
      i = close;
      continue;
    }
    size_t end = i + 1;
    while (end < word.size() && nameChar(word[end])) ++end;
    if (end == i + 1) {
      out += c;
      continue;
    }
    if (const std::string* value = lookup(std::string(word.substr(i + 1, end - i - 1))))
      out += *value;
    i = end - 1;
  }
  return out;
}

}  // namespace skiff::build
