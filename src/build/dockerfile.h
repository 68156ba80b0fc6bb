// The Dockerfile language, as far as Skiff's daemonless image builder runs it: parsing into
// stages of instructions, and the variable expansion the builder applies with the values of
// ARG and ENV known at that point of the build.
//
// Supported: FROM (scratch or an image, `AS name`), ARG (also before the first FROM), ENV,
// RUN, COPY and ADD of local files (`--from=STAGE`, `--chown=USER[:GROUP]`), WORKDIR, USER,
// EXPOSE, LABEL, ENTRYPOINT, CMD; line continuations, comments, and the shell and exec (JSON)
// forms. Anything else is refused with its line number, so a build never silently differs from
// what the Dockerfile says. Plain functions over values; thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace skiff::build {

enum class Op {
  kFrom,
  kArg,
  kEnv,
  kRun,
  kCopy,
  kAdd,
  kWorkdir,
  kUser,
  kExpose,
  kLabel,
  kEntrypoint,
  kCmd
};

const char* opName(Op op);

struct Instruction {
  Op op = Op::kRun;
  int line = 0;      // 1-based line on which the instruction starts
  std::string text;  // the instruction as written, continuations joined: part of cache keys
  // FROM: image[, name]; COPY/ADD: sources..., destination; EXPOSE: ports; WORKDIR, USER: one
  // word. Unexpanded: the builder expands variables in them.
  std::vector<std::string> words;
  // ENV, LABEL: key/value pairs; ARG: name and default (value empty and has_default false
  // when it has none).
  std::vector<std::pair<std::string, std::string>> pairs;
  bool has_default = false;
  // --from and --chown of COPY/ADD.
  std::map<std::string, std::string> flags;
  // RUN, CMD, ENTRYPOINT: the exec form's argv, or the shell form's single command string
  // (shell_form true; run as /bin/sh -c).
  std::vector<std::string> command;
  bool shell_form = false;
};

struct Stage {
  int index = 0;
  std::string name;  // from `FROM image AS name`; may be empty
  int line = 0;
  Instruction from;  // words[0] is the (unexpanded) base: "scratch" or an image reference
  std::vector<Instruction> instructions;  // after FROM
};

struct Dockerfile {
  std::vector<Instruction> global_args;  // ARGs before the first FROM
  std::vector<Stage> stages;
};

// Errors are kInvalid, "Dockerfile line N: <what is wrong>".
Result<Dockerfile> parseDockerfile(std::string_view text);

// Expands $NAME, ${NAME}, ${NAME:-default} and ${NAME:+alternative} (and \$ as a literal $).
// An unknown name expands to nothing, as in Docker; a malformed reference is an error.
Result<std::string> expandVariables(std::string_view word,
                                    const std::map<std::string, std::string>& vars);

}  // namespace skiff::build
