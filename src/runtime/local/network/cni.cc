#include "runtime/local/network/cni.h"

#include <unistd.h>

#include <regex>

namespace skiff::runtime::network {

using Json = nlohmann::json;

namespace {

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

std::string stringField(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

Result<CniConfigList> CniConfigList::fromJson(const Json& j) {
  if (!j.is_object()) return Status(StatusCode::kInvalid, "a CNI network list must be an object");
  CniConfigList list;
  list.cni_version = stringField(j, "cniVersion");
  list.name = stringField(j, "name");
  if (list.cni_version.empty()) {
    return Status(StatusCode::kInvalid, "the CNI network list has no cniVersion",
                  {{"cniVersion", "required, e.g. \"1.0.0\""}});
  }
  // The spec's pattern for network names.
  static const std::regex kName("^[a-zA-Z0-9][a-zA-Z0-9_.\\-]*$");
  if (!std::regex_match(list.name, kName)) {
    return Status(StatusCode::kInvalid, "the CNI network list has no valid name",
                  {{"name", "letters, digits, '_', '.' and '-', starting with a letter or digit"}});
  }
  list.disable_check = j.value("disableCheck", false);
  auto plugins = j.find("plugins");
  if (plugins == j.end() || !plugins->is_array() || plugins->empty()) {
    return Status(StatusCode::kInvalid, "the CNI network list has no plugins",
                  {{"plugins", "a non-empty list of plugin configurations"}});
  }
  for (size_t i = 0; i < plugins->size(); ++i) {
    const Json& p = (*plugins)[i];
    if (!p.is_object() || stringField(p, "type").empty()) {
      return Status(StatusCode::kInvalid, "a CNI plugin configuration has no type",
                    {{"plugins[" + std::to_string(i) + "].type", "required: the plugin binary"}});
    }
    list.plugins.push_back(p);
  }
  return list;
}

Json CniConfigList::toJson() const {
  Json j = {{"cniVersion", cni_version}, {"name", name}, {"plugins", plugins}};
  if (disable_check) j["disableCheck"] = true;
  return j;
}

Result<CniResult> CniResult::fromJson(const Json& j) {
  if (!j.is_object()) return Status(StatusCode::kInvalid, "a CNI result must be a JSON object");
  CniResult result;
  result.raw = j;
  result.cni_version = stringField(j, "cniVersion");
  if (auto it = j.find("interfaces"); it != j.end() && it->is_array()) {
    for (const Json& i : *it) {
      if (!i.is_object())
        return Status(StatusCode::kInvalid, "a CNI result interface is no object");
      result.interfaces.push_back(
          {stringField(i, "name"), stringField(i, "mac"), stringField(i, "sandbox")});
    }
  }
  if (auto it = j.find("ips"); it != j.end() && it->is_array()) {
    for (const Json& ip : *it) {
      if (!ip.is_object() || stringField(ip, "address").empty()) {
        return Status(StatusCode::kInvalid, "a CNI result IP has no address");
      }
      CniIpConfig c{stringField(ip, "address"), stringField(ip, "gateway"), -1};
      if (auto iface = ip.find("interface"); iface != ip.end() && iface->is_number_integer()) {
        c.interface = iface->get<int>();
        if (c.interface < 0 || c.interface >= static_cast<int>(result.interfaces.size())) {
          return Status(StatusCode::kInvalid, "a CNI result IP names interface " +
                                                  std::to_string(c.interface) + " of " +
                                                  std::to_string(result.interfaces.size()));
        }
      }
      result.ips.push_back(std::move(c));
    }
  }
  // Spec 0.1/0.2.
  for (const char* family : {"ip4", "ip6"}) {
    if (auto it = j.find(family); it != j.end() && it->is_object()) {
      result.ips.push_back({stringField(*it, "ip"), stringField(*it, "gateway"), -1});
    }
  }
  return result;
}

std::pair<std::string, std::string> CniResult::containerIpv4() const {
  for (const auto& ip : ips) {
    if (ip.address.find(':') != std::string::npos) continue;
    // Addresses tied to a host-side interface (no sandbox) are not the container's.
    if (ip.interface >= 0 && interfaces[static_cast<size_t>(ip.interface)].sandbox.empty()) {
      continue;
    }
    return {ip.address.substr(0, ip.address.find('/')), ip.gateway};
  }
  return {};
}

Status cniError(const std::string& plugin, const std::string& command,
                const CommandOutput& output) {
  const std::string what = "CNI plugin " + plugin + " " + command;
  Json err = Json::parse(output.out, nullptr, false);
  if (err.is_object() && !stringField(err, "msg").empty()) {
    std::string message = what + " failed: " + stringField(err, "msg");
    std::string details = stringField(err, "details");
    if (!details.empty()) message += ": " + details;
    int code = err.value("code", 0);
    if (code != 0) message += " (CNI error code " + std::to_string(code) + ")";
    StatusCode status = code == 11  ? StatusCode::kUnavailable
                        : code == 7 ? StatusCode::kInvalid
                                    : StatusCode::kInternal;
    return Status(status, message);
  }
  std::string detail = trimmed(output.err.empty() ? output.out : output.err);
  return internalError(what + " failed with exit code " + std::to_string(output.exit_code) +
                       (detail.empty() ? std::string(" and no error message") : ": " + detail));
}

CniPlugins::CniPlugins(Options options) : options_(std::move(options)) {}

Result<std::string> CniPlugins::findPlugin(const std::string& type) const {
  if (type.empty() || type.find('/') != std::string::npos || type == "." || type == "..") {
    return Status(StatusCode::kInvalid, "\"" + type + "\" is not a CNI plugin name");
  }
  std::string searched;
  for (const auto& dir : options_.plugin_dirs) {
    std::string path = dir + "/" + type;
    if (::access(path.c_str(), X_OK) == 0) return path;
    searched += (searched.empty() ? "" : ", ") + dir;
  }
  return Status(StatusCode::kUnavailable, "CNI plugin \"" + type + "\" not found in " + searched +
                                              "; install the CNI plugins (Debian: apt-get install "
                                              "containernetworking-plugins)");
}

Json CniPlugins::pluginConfig(const CniConfigList& list, size_t index, const CniRuntime& runtime,
                              const Json* prev_result) {
  Json config = list.plugins.at(index);
  config["name"] = list.name;
  config["cniVersion"] = list.cni_version;
  Json runtime_config = Json::object();
  if (auto caps = config.find("capabilities"); caps != config.end() && caps->is_object()) {
    for (const auto& [capability, enabled] : caps->items()) {
      if (!enabled.is_boolean() || !enabled.get<bool>()) continue;
      if (auto value = runtime.capabilities.find(capability); value != runtime.capabilities.end()) {
        runtime_config[capability] = *value;
      }
    }
  }
  if (!runtime_config.empty()) config["runtimeConfig"] = std::move(runtime_config);
  if (prev_result != nullptr) config["prevResult"] = *prev_result;
  return config;
}

std::vector<std::string> CniPlugins::pluginEnv(const std::string& command,
                                               const CniRuntime& runtime) const {
  std::string path;
  for (const auto& dir : options_.plugin_dirs) path += (path.empty() ? "" : ":") + dir;
  std::string args;
  for (const auto& [k, v] : runtime.args) args += (args.empty() ? "" : ";") + k + "=" + v;
  std::vector<std::string> env = {
      "CNI_COMMAND=" + command,     "CNI_CONTAINERID=" + runtime.container_id,
      "CNI_NETNS=" + runtime.netns, "CNI_IFNAME=" + runtime.ifname,
      "CNI_PATH=" + path,           std::string("PATH=") + kSystemPath,
  };
  if (!args.empty()) env.push_back("CNI_ARGS=" + args);
  return env;
}

Result<CommandOutput> CniPlugins::invoke(const std::string& command, const CniConfigList& list,
                                         size_t index, const CniRuntime& runtime,
                                         const Json* prev_result) const {
  const std::string type = list.plugins.at(index).at("type").get<std::string>();
  auto path = findPlugin(type);
  if (!path.ok()) return path.status();
  std::string config = pluginConfig(list, index, runtime, prev_result).dump();
  auto env = pluginEnv(command, runtime);
  Result<CommandOutput> out =
      options_.exec
          ? options_.exec(*path, env, config)
          : runCommand({*path}, {.env = env, .stdin_data = config, .timeout = options_.timeout});
  if (!out.ok()) {
    return Status(out.status().code(),
                  "CNI plugin " + type + " " + command + ": " + out.status().message());
  }
  if (out->exit_code != 0) return cniError(type, command, *out);
  return out;
}

Result<CniResult> CniPlugins::add(const CniConfigList& list, const CniRuntime& runtime) const {
  std::optional<Json> prev;
  for (size_t i = 0; i < list.plugins.size(); ++i) {
    auto out = invoke("ADD", list, i, runtime, prev ? &*prev : nullptr);
    if (!out.ok()) return out.status();
    Json result = Json::parse(out->out, nullptr, false);
    if (!result.is_object()) {
      return internalError("CNI plugin " + list.plugins[i]["type"].get<std::string>() +
                           " ADD succeeded but printed no JSON result: " + trimmed(out->out));
    }
    prev = std::move(result);
  }
  auto parsed = CniResult::fromJson(*prev);
  if (!parsed.ok()) {
    return internalError("the result of CNI network " + list.name +
                         " cannot be read: " + parsed.status().message());
  }
  return parsed;
}

Status CniPlugins::del(const CniConfigList& list, const CniRuntime& runtime,
                       const std::optional<Json>& prev_result) const {
  Status first;
  for (size_t i = list.plugins.size(); i-- > 0;) {
    auto out = invoke("DEL", list, i, runtime, prev_result ? &*prev_result : nullptr);
    if (!out.ok() && first.isOk()) first = out.status();
  }
  return first;
}

Status CniPlugins::check(const CniConfigList& list, const CniRuntime& runtime,
                         const Json& prev_result) const {
  if (list.disable_check) return Status::ok();
  for (size_t i = 0; i < list.plugins.size(); ++i) {
    auto out = invoke("CHECK", list, i, runtime, &prev_result);
    if (!out.ok()) return out.status();
  }
  return Status::ok();
}

}  // namespace skiff::runtime::network
