#include "runtime/local/instance_usage.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace skiff::runtime {

namespace {

std::optional<std::string> readProcFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool sameFile(const std::string& a, const std::string& b) {
  struct stat sa, sb;
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

}  // namespace

NetworkBytes parseNetDev(std::string_view text) {
  // "  eth0: RX-bytes packets errs drop fifo frame compressed multicast TX-bytes ..." after two
  // header lines.
  NetworkBytes total;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    if (name == "lo" || name.find('|') != std::string_view::npos) continue;
    std::istringstream fields{std::string(line.substr(colon + 1))};
    uint64_t values[9] = {};
    int read = 0;
    while (read < 9 && fields >> values[read]) ++read;
    if (read < 9) continue;
    total.received += values[0];
    total.transmitted += values[8];
  }
  return total;
}

std::string readMountinfo() { return readProcFile("/proc/self/mountinfo").value_or(""); }

Result<InstanceUsage> readInstanceUsage(pid_t pid, std::string_view mountinfo) {
  const std::string proc = "/proc/" + std::to_string(pid);
  auto cgroup = readProcFile(proc + "/cgroup");
  if (!cgroup || cgroup->empty())
    return Status(StatusCode::kNotFound, "process " + std::to_string(pid) + " is gone");
  InstanceUsage usage;
  usage.cgroup = readCgroupUsage(parseCgroupLayout(mountinfo, *cgroup));
  if (!sameFile(proc + "/ns/net", "/proc/self/ns/net"))
    if (auto dev = readProcFile(proc + "/net/dev")) usage.network = parseNetDev(*dev);
  return usage;
}

}  // namespace skiff::runtime
