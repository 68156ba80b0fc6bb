// Invoking CNI plugins as the Container Network Interface specification (1.0) describes: a
// network configuration list runs its plugins in order for ADD, each receiving the previous
// plugin's result as prevResult, and in reverse order for DEL and CHECK with the cached ADD
// result; capabilities a plugin declares receive the matching runtimeConfig entries; results
// (interfaces, IPs) and error objects ({code, msg, details}) are parsed into values.
//
// CniPlugins holds only its options and is thread-safe; the plugins themselves decide
// whether concurrent calls for different containers are safe (the standard ones lock).
#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/command.h"
#include "common/status.h"

namespace skiff::runtime::network {

// A network configuration list (a ".conflist").
struct CniConfigList {
  std::string cni_version;
  std::string name;
  bool disable_check = false;
  std::vector<nlohmann::json> plugins;  // each an object with at least "type"

  // Checks what the spec requires: cniVersion, a valid name, one or more plugins with a type.
  static Result<CniConfigList> fromJson(const nlohmann::json& j);
  nlohmann::json toJson() const;
};

struct CniInterface {
  std::string name;
  std::string mac;
  std::string sandbox;  // the netns path for interfaces inside the container, else empty
};

struct CniIpConfig {
  std::string address;  // CIDR, "10.213.0.2/24"
  std::string gateway;  // may be empty
  int interface = -1;   // index into interfaces, -1 if not given
};

// A plugin's successful result. Versions 0.3.0 to 1.0.0 share this shape; 0.1/0.2's
// "ip4"/"ip6" are accepted too.
struct CniResult {
  std::string cni_version;
  std::vector<CniInterface> interfaces;
  std::vector<CniIpConfig> ips;
  nlohmann::json raw;  // the result as the plugin gave it: the next plugin's prevResult

  static Result<CniResult> fromJson(const nlohmann::json& j);
  // The first IPv4 address (without the prefix length) assigned to an interface inside the
  // container, and its gateway; empty if none.
  std::pair<std::string, std::string> containerIpv4() const;
};

// A plugin's failure as a Status: its msg and details, the plugin and the command. Error code
// 11 (try again later) maps to kUnavailable, 7 (invalid network config) to kInvalid.
Status cniError(const std::string& plugin, const std::string& command, const CommandOutput& output);

// What the runtime knows about the container (CNI_* variables and runtimeConfig).
struct CniRuntime {
  std::string container_id;
  std::string netns;  // path; empty is allowed for DEL when the namespace is gone
  std::string ifname = "eth0";
  std::vector<std::pair<std::string, std::string>> args;  // CNI_ARGS
  // Keyed by capability ("portMappings", ...); a plugin gets the entries it declares.
  nlohmann::json capabilities = nlohmann::json::object();
};

// Runs one plugin binary; tests substitute a fake.
using CniExec = std::function<Result<CommandOutput>(
    const std::string& plugin_path, const std::vector<std::string>& env, const std::string& stdin)>;

class CniPlugins {
 public:
  struct Options {
    std::vector<std::string> plugin_dirs = {"/usr/lib/cni", "/opt/cni/bin"};
    std::chrono::milliseconds timeout{std::chrono::seconds(30)};  // per plugin call
    CniExec exec;                                                 // default: runCommand()
  };

  explicit CniPlugins(Options options);

  // ADD: each plugin in order; the last result is the list's result. Stops at the first error
  // (the spec's rule); undoing what earlier plugins did is the caller's DEL.
  Result<CniResult> add(const CniConfigList& list, const CniRuntime& runtime) const;
  // DEL: each plugin in reverse order with the cached ADD result (if any). Unlike ADD it goes on
  // after a failure, so one broken plugin does not leak what the others would release, and
  // returns the first error.
  Status del(const CniConfigList& list, const CniRuntime& runtime,
             const std::optional<nlohmann::json>& prev_result) const;
  // CHECK: each plugin in order with the cached ADD result; skipped if the list disables it.
  Status check(const CniConfigList& list, const CniRuntime& runtime,
               const nlohmann::json& prev_result) const;

  // The configuration plugin `index` of `list` receives on stdin: its own object plus the
  // list's name and cniVersion, runtimeConfig for its capabilities, and prevResult.
  static nlohmann::json pluginConfig(const CniConfigList& list, size_t index,
                                     const CniRuntime& runtime, const nlohmann::json* prev_result);
  // The environment of a plugin call.
  std::vector<std::string> pluginEnv(const std::string& command, const CniRuntime& runtime) const;
  // The executable for a plugin type, from plugin_dirs.
  Result<std::string> findPlugin(const std::string& type) const;

 private:
  Result<CommandOutput> invoke(const std::string& command, const CniConfigList& list, size_t index,
                               const CniRuntime& runtime, const nlohmann::json* prev_result) const;

  const Options options_;
};

}  // namespace skiff::runtime::network
