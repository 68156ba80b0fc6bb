// The skiff CLI: subcommands that drive a Skiff server over its REST API (apply, get, describe,
// delete, diff, rollout, version). The server comes from --server or SKIFF_SERVER.
#pragma once

#include <memory>

namespace CLI {
class App;
}

namespace skiff::cli {

class Commands {
 public:
  // Registers the client subcommands on `app`.
  explicit Commands(CLI::App& app);
  ~Commands();
  // Runs whichever client subcommand was parsed; returns the process exit code.
  int run();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace skiff::cli
