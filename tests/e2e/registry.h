// A real OCI registry for end-to-end tests: Debian's docker-registry (CNCF Distribution) on a
// loopback port, its storage in a test's directory, anonymous, with htpasswd (Basic) auth, or
// with bearer tokens from tests/e2e/registry_token_server.py. Killed by pid when destroyed.
#pragma once

#include <string>

#include "e2e/harness.h"

namespace skiff::test {

inline constexpr const char* kRegistryUser = "alice";
inline constexpr const char* kRegistryPassword = "s3cret-registry-password";

class Registry {
 public:
  enum class Auth { kNone, kBasic, kToken };

  // Starts it (failing the test if it does not come up); kBasic and kToken accept
  // kRegistryUser with kRegistryPassword. `extra_config` is appended to its config.yml (e.g. a
  // notifications section).
  Registry(const std::string& dir, Auth auth, const std::string& extra_config = "");

  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string url() const { return "http://" + host(); }
  std::string storage() const { return dir_ + "/storage"; }
  std::string tokenLog() const;
  // Where the registry keeps a blob's bytes.
  std::string blobData(const std::string& digest) const;

 private:
  std::string dir_;
  int port_ = 0;
  ChildProcess token_server_;  // destroyed after the registry
  ChildProcess registry_;
};

}  // namespace skiff::test
