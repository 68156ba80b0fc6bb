#include "runtime/local/oci_bundle.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

namespace skiff::runtime {

namespace {

using Json = nlohmann::ordered_json;

// Docker's default set: what ordinary services need (bind low ports, chown, setuid to drop
// privileges) and nothing that reaches beyond the container (no SYS_ADMIN, NET_ADMIN, ...).
const std::vector<std::string> kDefaultCapabilities = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",    "CAP_AUDIT_WRITE",
};

// The cpu controller's period; quota = cpu_millis / 1000 of it.
constexpr int64_t kCpuPeriodMicros = 100000;

std::optional<uint32_t> parseId(std::string_view text) {
  uint32_t value = 0;
  if (text.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The colon-separated fields of each line of a passwd/group file.
std::vector<std::vector<std::string>> records(std::string_view file) {
  std::vector<std::vector<std::string>> out;
  std::istringstream lines{std::string(file)};
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields;
    std::istringstream parts(line);
    std::string field;
    while (std::getline(parts, field, ':')) fields.push_back(field);
    if (line.back() == ':') fields.emplace_back();
    out.push_back(std::move(fields));
  }
  return out;
}

Status userError(const std::string& message) {
  return Status(StatusCode::kInvalid, message,
                {{"container.user",
                  "give a numeric uid[:gid], or a name the image's /etc/passwd and /etc/group "
                  "define"}});
}

Json bindMount(const BindMount& m) {
  Json options = {"rbind", "nosuid", "nodev"};
  options.push_back(m.read_only ? "ro" : "rw");
  return {
      {"destination", m.destination}, {"type", "bind"}, {"source", m.source}, {"options", options}};
}

}  // namespace

Result<OciUser> resolveOciUser(const std::string& user, std::string_view passwd,
                               std::string_view group) {
  OciUser out;
  if (user.empty()) return out;
  const size_t colon = user.find(':');
  const std::string user_part = user.substr(0, colon);
  const std::optional<std::string> group_part =
      colon == std::string::npos ? std::nullopt : std::optional(user.substr(colon + 1));
  if (user_part.empty()) return userError("user \"" + user + "\" names no user");

  std::string user_name;
  const auto passwd_records = records(passwd);
  if (auto uid = parseId(user_part)) {
    out.uid = *uid;
    for (const auto& r : passwd_records) {
      if (r.size() >= 4 && parseId(r[2]) == *uid) {
        user_name = r[0];
        if (auto gid = parseId(r[3])) out.gid = *gid;
        break;
      }
    }
  } else {
    auto it = std::find_if(passwd_records.begin(), passwd_records.end(),
                           [&](const auto& r) { return r.size() >= 4 && r[0] == user_part; });
    if (it == passwd_records.end())
      return userError("user \"" + user_part + "\" is not in the image's /etc/passwd");
    auto named_uid = parseId((*it)[2]);
    auto named_gid = parseId((*it)[3]);
    if (!named_uid || !named_gid)
      return userError("the image's /etc/passwd has a malformed entry for \"" + user_part + "\"");
    user_name = user_part;
    out.uid = *named_uid;
    out.gid = *named_gid;
  }

  const auto group_records = records(group);
  if (group_part) {
    if (auto gid = parseId(*group_part)) {
      out.gid = *gid;
    } else {
      auto it = std::find_if(group_records.begin(), group_records.end(),
                             [&](const auto& r) { return r.size() >= 3 && r[0] == *group_part; });
      if (it == group_records.end())
        return userError("group \"" + *group_part + "\" is not in the image's /etc/group");
      auto found = parseId((*it)[2]);
      if (!found)
        return userError("the image's /etc/group has a malformed entry for \"" + *group_part +
                         "\"");
      out.gid = *found;
    }
  }
  if (!user_name.empty()) {
    for (const auto& r : group_records) {
      if (r.size() < 4) continue;
      std::istringstream members(r[3]);
      std::string member;
      while (std::getline(members, member, ',')) {
        auto gid = parseId(r[2]);
        if (member == user_name && gid && *gid != out.gid &&
            std::find(out.additional_gids.begin(), out.additional_gids.end(), *gid) ==
                out.additional_gids.end())
          out.additional_gids.push_back(*gid);
      }
    }
  }
  return out;
}

std::string ociConfigJson(const OciBundleConfig& c) {
  Json user = {{"uid", c.user.uid}, {"gid", c.user.gid}};
  if (!c.user.additional_gids.empty()) user["additionalGids"] = c.user.additional_gids;
  Json process = {
      {"terminal", false},
      {"user", user},
      {"args", c.argv},
      {"env", c.env},
      {"cwd", c.cwd},
      {"capabilities",
       {{"bounding", kDefaultCapabilities},
        {"effective", kDefaultCapabilities},
        {"permitted", kDefaultCapabilities}}},
      // No rlimits: the container keeps the server's, which it may not raise (raising
      // RLIMIT_NOFILE past the hard limit fails where the server lacks CAP_SYS_RESOURCE).
      {"noNewPrivileges", true},
  };

  Json mounts = Json::array({
      {{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
      {{"destination", "/dev"},
       {"type", "tmpfs"},
       {"source", "tmpfs"},
       {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
      {{"destination", "/dev/pts"},
       {"type", "devpts"},
       {"source", "devpts"},
       {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}}},
      {{"destination", "/dev/shm"},
       {"type", "tmpfs"},
       {"source", "shm"},
       {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
      {{"destination", "/dev/mqueue"},
       {"type", "mqueue"},
       {"source", "mqueue"},
       {"options", {"nosuid", "noexec", "nodev"}}},
      {{"destination", "/sys"},
       {"type", "sysfs"},
       {"source", "sysfs"},
       {"options", {"nosuid", "noexec", "nodev", "ro"}}},
      {{"destination", "/sys/fs/cgroup"},
       {"type", "cgroup"},
       {"source", "cgroup"},
       {"options", {"nosuid", "noexec", "nodev", "relatime", "ro"}}},
  });
  for (const BindMount& m : c.mounts) mounts.push_back(bindMount(m));

  Json network = {{"type", "network"}};
  if (!c.netns_path.empty()) network["path"] = c.netns_path;
  Json resources = {{"devices", Json::array({{{"allow", false}, {"access", "rwm"}}})}};
  if (c.limits.cpu_millis > 0)
    resources["cpu"] = {{"quota", c.limits.cpu_millis * kCpuPeriodMicros / 1000},
                        {"period", kCpuPeriodMicros}};
  // Swap equal to the limit means no swap at all: memory+swap may not exceed the limit.
  if (c.limits.memory_bytes > 0)
    resources["memory"] = {{"limit", c.limits.memory_bytes}, {"swap", c.limits.memory_bytes}};
  if (c.limits.pids > 0) resources["pids"] = {{"limit", c.limits.pids}};

  Json linux = {
      {"cgroupsPath", c.cgroups_path},
      {"resources", resources},
      {"namespaces", Json::array({{{"type", "pid"}},
                                  network,
                                  {{"type", "ipc"}},
                                  {{"type", "uts"}},
                                  {{"type", "mount"}}})},
      {"maskedPaths",
       {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
        "/proc/scsi"}},
      {"readonlyPaths", {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}},
  };

  Json config = {
      {"ociVersion", "1.0.2-dev"},
      {"process", process},
      {"root", {{"path", c.rootfs}, {"readonly", c.read_only_root}}},
      {"hostname", c.hostname},
      {"mounts", mounts},
      {"linux", linux},
  };
  return config.dump(2) + "\n";
}

std::string hostsFileContents(const std::string& hostname, const std::vector<std::string>& lines) {
  std::string out =
      "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
      "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
      "ff02::2\tip6-allrouters\n";
  bool named = false;
  for (const std::string& line : lines) {
    std::istringstream words(line);
    std::string word;
    words >> word;  // the address
    while (words >> word) named = named || word == hostname;
  }
  if (!named && !hostname.empty()) out += "127.0.1.1\t" + hostname + "\n";
  for (const std::string& line : lines) out += line + "\n";
  return out;
}

std::string resolvConfContents(const DnsConfig& dns, std::string_view host_resolv_conf) {
  std::string out;
  if (dns.nameservers.empty()) {
    std::istringstream lines{std::string(host_resolv_conf)};
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream words(line);
      std::string key, value;
      words >> key >> value;
      if (key == "nameserver" &&
          (value.rfind("127.", 0) == 0 || value == "::1" || value.rfind("0:0:0:0:0:0:0:1", 0) == 0))
        continue;
      if (dns.search.empty() || key != "search") out += line + "\n";
    }
    if (!dns.search.empty()) out += "search";
  } else {
    for (const std::string& ns : dns.nameservers) out += "nameserver " + ns + "\n";
    if (!dns.search.empty()) out += "search";
  }
  for (const std::string& domain : dns.search) out += " " + domain;
  if (!dns.search.empty()) out += "\n";
  if (!dns.options.empty()) {
    out += "options";
    for (const std::string& option : dns.options) out += " " + option;
    out += "\n";
  }
  return out;
}

}  // namespace skiff::runtime
