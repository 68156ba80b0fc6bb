// Host ports for process workloads: picked outside the kernel's ephemeral range, and never one
// that a socket holds on any address.
#include "runtime/local/host_ports.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <set>
#include <vector>

namespace skiff::runtime {
namespace {

// A socket bound to `address`:`port` for the holder's lifetime; bound() says whether it is.
class Held {
 public:
  Held(const char* address, int port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, address, &addr.sin_addr);
    bound_ = fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~Held() {
    if (fd_ >= 0) close(fd_);
  }
  Held(const Held&) = delete;
  Held& operator=(const Held&) = delete;
  bool bound() const { return bound_; }

 private:
  int fd_ = -1;
  bool bound_ = false;
};

// The first of `n` consecutive ports from 20000 that are free on every address.
int freeRun(int n) {
  for (int first = 20000; first < 30000; first += n) {
    bool free = true;
    for (int p = first; p < first + n && free; ++p) free = Held("0.0.0.0", p).bound();
    if (free) return first;
  }
  return 0;
}

TEST(HostPortsTest, WorkloadPortsComeFromOutsideTheEphemeralRange) {
  EXPECT_EQ(listenPortRange({32768, 60999}).low, 10000);
  EXPECT_EQ(listenPortRange({32768, 60999}).high, 32767);
  // No room below: above.
  EXPECT_EQ(listenPortRange({1024, 60999}).low, 61000);
  EXPECT_EQ(listenPortRange({1024, 60999}).high, 65535);
  // No room on either side: empty, and the kernel picks.
  PortRange none = listenPortRange({1024, 65000});
  EXPECT_GT(none.low, none.high);
  auto kernel = pickListenPort(none);
  ASSERT_TRUE(kernel.ok()) << kernel.status().message();
  EXPECT_GT(*kernel, 0);

  const PortRange ephemeral = ephemeralPorts();
  ASSERT_LE(ephemeral.low, ephemeral.high);
  std::set<int> picked;
  for (int i = 0; i < 20; ++i) {
    auto port = pickListenPort();
    ASSERT_TRUE(port.ok()) << port.status().message();
    EXPECT_TRUE(*port < ephemeral.low || *port > ephemeral.high) << *port;
    EXPECT_TRUE(Held("0.0.0.0", *port).bound()) << *port;
    picked.insert(*port);
  }
  // A random start: servers picking at the same moment do not all get the same port.
  EXPECT_GT(picked.size(), 1u);
}

TEST(HostPortsTest, APortHeldOnAnyAddressIsNotPicked) {
  const int first = freeRun(4);
  ASSERT_GT(first, 0);
  // Held on another loopback address: a check on 127.0.0.1 alone would miss these.
  std::vector<std::unique_ptr<Held>> held;
  for (int p = first; p < first + 3; ++p) {
    held.push_back(std::make_unique<Held>("127.0.0.2", p));
    ASSERT_TRUE(held.back()->bound()) << p;
  }
  for (int i = 0; i < 10; ++i) {
    auto port = pickListenPort({first, first + 3});
    ASSERT_TRUE(port.ok()) << port.status().message();
    EXPECT_EQ(*port, first + 3);
  }
  held.push_back(std::make_unique<Held>("127.0.0.2", first + 3));
  ASSERT_TRUE(held.back()->bound());
  auto none = pickListenPort({first, first + 3});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(none.status().message().find(std::to_string(first) + "-" + std::to_string(first + 3)),
            std::string::npos)
      << none.status().message();
}

}  // namespace
}  // namespace skiff::runtime
