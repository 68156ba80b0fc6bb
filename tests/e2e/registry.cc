#include "e2e/registry.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace skiff::test {

namespace {

namespace fs = std::filesystem;

int run(const std::string& command) { return std::system(command.c_str()); }

}  // namespace

Registry::Registry(const std::string& dir, Auth auth, const std::string& extra_config) : dir_(dir) {
  std::string auth_config;
  if (auth == Auth::kBasic) {
    EXPECT_EQ(run("htpasswd -Bbn " + std::string(kRegistryUser) + " " + kRegistryPassword + " > " +
                  dir + "/htpasswd"),
              0);
    auth_config = "auth:\n  htpasswd:\n    realm: skiff-e2e\n    path: " + dir + "/htpasswd\n";
  } else if (auth == Auth::kToken) {
    EXPECT_EQ(run("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=skiff-e2e-token "
                  "-keyout " +
                  dir + "/token.key -out " + dir + "/token.crt 2>/dev/null"),
              0);
    token_server_.start(
        {"python3", sourceDir() + "/tests/e2e/registry_token_server.py", dir + "/token.key",
         dir + "/token.crt", "skiff-e2e-issuer", "skiff-e2e-registry", kRegistryUser,
         kRegistryPassword, dir + "/token.port"},
        dir + "/token.log");
    EXPECT_TRUE(eventually([&] { return fs::exists(dir + "/token.port"); }))
        << readFile(dir + "/token.log");
    auth_config = "auth:\n  token:\n    realm: http://127.0.0.1:" + readFile(dir + "/token.port") +
                  "/token\n    service: skiff-e2e-registry\n    issuer: skiff-e2e-issuer\n"
                  "    rootcertbundle: " +
                  dir + "/token.crt\n";
  }
  // A port taken between freePort() and the registry's bind makes it exit: try again.
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = freePort();
    std::ofstream(dir + "/config.yml")
        << "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: "
        << storage() << "\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:" << port_
        << "\n  secret: skiff-e2e\n"
        << auth_config << extra_config;
    registry_.start({"docker-registry", "serve", dir + "/config.yml"}, dir + "/registry.log");
    bool up = eventually([&] {
      if (processGone(registry_.pid())) return true;
      return httpRequest(url(), "GET", "/v2/").status != 0;
    });
    if (up && !processGone(registry_.pid())) return;
    registry_.kill();
  }
  ADD_FAILURE() << "docker-registry did not start: " << readFile(dir + "/registry.log");
}

std::string Registry::tokenLog() const { return readFile(dir_ + "/token.log"); }

std::string Registry::blobData(const std::string& digest) const {
  std::string hex = digest.substr(7);
  return storage() + "/docker/registry/v2/blobs/sha256/" + hex.substr(0, 2) + "/" + hex + "/data";
}

}  // namespace skiff::test
