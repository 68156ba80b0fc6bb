// ServerTest: a fixture with the real server running in a temporary data directory, its gateway
// up, and the JSON helpers the runtime's tests share.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "e2e/harness.h"

namespace skiff::test {

class ServerTest : public ::testing::Test {
 protected:
  // `server_args` are added to the server's command line (e.g. a faster --metrics-interval).
  explicit ServerTest(std::vector<std::string> server_args = {})
      : server_(dir_.path(), std::move(server_args)) {}
  void SetUp() override {
    server_.start();
    ASSERT_TRUE(eventually([&] { return !server_.gatewayUrl().empty(); }));
  }
  // GET `path` of the API as JSON (discarded when it is not).
  nlohmann::json get(const std::string& path) {
    return nlohmann::json::parse(httpRequest(server_.url(), "GET", path).body, nullptr, false);
  }
  void apply(const nlohmann::json& doc) { applyApplication(server_, doc); }

  TempDir dir_;
  ServerProcess server_;
};

}  // namespace skiff::test
