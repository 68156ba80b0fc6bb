#include "e2e/kube_cluster.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <vector>

#include <gtest/gtest.h>

#include "common/command.h"
#include "e2e/harness.h"

namespace skiff::test {

namespace {

std::string script() { return sourceDir() + "/scripts/kube-control-plane"; }

// runCommand gives programs only PATH: the script also needs to know where the binaries are
// cached, and whose death should stop the control plane.
CommandOptions scriptOptions(std::chrono::seconds timeout) {
  CommandOptions options;
  options.env.push_back(std::string("PATH=") + kSystemPath);
  for (const char* name : {"HOME", "SKIFF_KUBE_CACHE", "SKIFF_KUBE_START_TIMEOUT", "TMPDIR"}) {
    if (const char* value = std::getenv(name))
      options.env.push_back(name + ("=" + std::string(value)));
  }
  options.env.push_back("SKIFF_KUBE_OWNER_PID=" + std::to_string(::getpid()));
  options.timeout = timeout;
  return options;
}

}  // namespace

bool KubeControlPlane::available() {
  auto result = runCommand({script(), "cached"}, scriptOptions(std::chrono::seconds(10)));
  return result.ok() && result->exit_code == 0;
}

KubeControlPlane::KubeControlPlane(const std::string& dir) : dir_(dir) {
  auto result = runCommand({script(), "start", dir}, scriptOptions(std::chrono::seconds(180)));
  if (!result.ok()) {
    ADD_FAILURE() << result.status().toString();
    return;
  }
  if (result->exit_code != 0) {
    ADD_FAILURE() << "scripts/kube-control-plane start failed (" << result->exit_code << "):\n"
                  << result->err;
    return;
  }
  url_ = result->out.substr(0, result->out.find('\n'));
}

KubeControlPlane::~KubeControlPlane() {
  auto result = runCommand({script(), "stop", dir_}, scriptOptions(std::chrono::seconds(30)));
  if (!result.ok() || result->exit_code != 0) {
    ADD_FAILURE() << "scripts/kube-control-plane stop failed: "
                  << (result.ok() ? result->err : result.status().toString());
  }
}

std::string KubeControlPlane::caPem() const { return readFile(dir_ + "/pki/ca.crt"); }
std::string KubeControlPlane::clientCertPem() const { return readFile(dir_ + "/pki/admin.crt"); }
std::string KubeControlPlane::clientKeyPem() const { return readFile(dir_ + "/pki/admin.key"); }

KubeControlPlane::Response KubeControlPlane::api(const std::string& method, const std::string& path,
                                                 const std::string& body,
                                                 const std::string& content_type) const {
  // The status code goes on a line of its own after the body.
  std::vector<std::string> argv = {"curl",       "-sS",
                                   "--max-time", "20",
                                   "--cacert",   dir_ + "/pki/ca.crt",
                                   "--cert",     dir_ + "/pki/admin.crt",
                                   "--key",      dir_ + "/pki/admin.key",
                                   "-X",         method,
                                   "-w",         "\n%{http_code}"};
  CommandOptions options;
  options.timeout = std::chrono::seconds(30);
  if (!body.empty()) {
    argv.insert(argv.end(), {"-H", "Content-Type: " + content_type, "--data-binary", "@-"});
    options.stdin_data = body;
  }
  argv.push_back(url_ + path);
  auto result = runCommand(argv, options);
  if (!result.ok() || result->exit_code != 0) return {};
  const std::string& out = result->out;
  size_t newline = out.rfind('\n');
  if (newline == std::string::npos) return {};
  return {std::atoi(out.c_str() + newline + 1), out.substr(0, newline)};
}

}  // namespace skiff::test
