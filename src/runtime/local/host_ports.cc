#include "runtime/local/host_ports.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <random>

namespace skiff::runtime {

namespace {

constexpr int kFirstListenPort = 10000;
constexpr int kMinRangeSize = 1000;

// Binds `port` (0: any) on every IPv4 address without SO_REUSEADDR, so it fails while any
// socket holds the port on any address, even one in TIME_WAIT. The port bound, or -1.
int tryBind(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  socklen_t len = sizeof addr;
  int bound = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    bound = ntohs(addr.sin_port);
  close(fd);
  return bound;
}

}  // namespace

PortRange ephemeralPorts() {
  PortRange range{32768, 60999};
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  PortRange read;
  if (in >> read.low >> read.high && 0 < read.low && read.low <= read.high && read.high <= 65535)
    range = read;
  return range;
}

PortRange listenPortRange(PortRange ephemeral) {
  if (ephemeral.low - kFirstListenPort >= kMinRangeSize)
    return {kFirstListenPort, ephemeral.low - 1};
  if (65535 - ephemeral.high >= kMinRangeSize) return {ephemeral.high + 1, 65535};
  return {1, 0};
}

Result<int> pickListenPort(PortRange range) {
  if (range.low > range.high) {
    int port = tryBind(0);
    if (port <= 0) return unavailable("cannot allocate a port: bind() failed");
    return port;
  }
  thread_local std::mt19937 random{std::random_device{}()};
  const int size = range.high - range.low + 1;
  const int start = std::uniform_int_distribution<int>(0, size - 1)(random);
  for (int i = 0; i < size; ++i) {
    const int port = range.low + (start + i) % size;
    if (tryBind(port) == port) return port;
  }
  return unavailable("cannot allocate a port: every port in " + std::to_string(range.low) + "-" +
                     std::to_string(range.high) + " is in use");
}

Result<int> pickListenPort() { return pickListenPort(listenPortRange(ephemeralPorts())); }

}  // namespace skiff::runtime
