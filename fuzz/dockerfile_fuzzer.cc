// libFuzzer harness for the Dockerfile parser and variable expansion (build/dockerfile.h), which
// read whatever file `skiff image build` is given. Beyond not crashing, a parsed file must be
// well-formed: at least one stage, lines increasing, every stage starting with its FROM.
// Built and run by scripts/fuzz.
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "build/dockerfile.h"

namespace {

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "invariant broken: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::map<std::string, std::string> vars{{"A", "1"}, {"EMPTY", ""}, {"PATH", "/bin"}};
  (void)skiff::build::expandVariables(input, vars);
  auto file = skiff::build::parseDockerfile(input);
  if (!file.ok()) return 0;
  check(!file->stages.empty(), "a parsed Dockerfile has a stage");
  int last = 0;
  for (const auto& stage : file->stages) {
    check(stage.from.op == skiff::build::Op::kFrom && !stage.from.words.empty(), "stage FROM");
    check(stage.line > last, "stage lines increase");
    last = stage.line;
    for (const auto& ins : stage.instructions) {
      check(ins.line > last, "instruction lines increase");
      last = ins.line;
      for (const auto& word : ins.words) (void)skiff::build::expandVariables(word, vars);
    }
  }
  return 0;
}
