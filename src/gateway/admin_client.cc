#include "gateway/admin_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "gateway/admin_token.h"

namespace skiff::gateway {

namespace {

// One request on a fresh connection, with a 2 s bound on each socket operation. Returns the
// status code and body.
Result<std::pair<int, std::string>> exchange(const std::string& address,
                                             const std::string& request) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) return unavailable("gateway admin address unknown");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::atoi(address.c_str() + colon + 1)));
  if (inet_pton(AF_INET, address.substr(0, colon).c_str(), &addr.sin_addr) != 1)
    return unavailable("gateway admin address \"" + address + "\" is not IPv4");
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return unavailable(std::string("socket: ") + std::strerror(errno));
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  auto fail = [&](const std::string& what) {
    std::string msg = "gateway admin at " + address + ": " + what + ": " + std::strerror(errno);
    close(fd);
    return unavailable(msg);
  };
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return fail("connect");
  for (size_t off = 0; off < request.size();) {
    ssize_t n = send(fd, request.data() + off, request.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return fail("send");
    off += static_cast<size_t>(n);
  }
  std::string response;
  char buf[8192];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0) response.append(buf, static_cast<size_t>(n));
  close(fd);
  if (response.size() < 12 || response.compare(0, 5, "HTTP/") != 0)
    return unavailable("gateway admin at " + address + " sent no HTTP response");
  size_t body = response.find("\r\n\r\n");
  return std::make_pair(std::atoi(response.c_str() + 9),
                        body == std::string::npos ? std::string() : response.substr(body + 4));
}

}  // namespace

Result<std::pair<int, std::string>> AdminClient::sendRoutes(const std::string& method,
                                                            const std::string& body) {
  const std::string address = admin_address_();
  if (address.empty()) return unavailable("the gateway is not running yet");
  // Read each time: a gateway started afresh may have made the token only just now.
  const std::string token = readAdminToken(state_dir_);
  const std::string request = method + " /routes HTTP/1.1\r\nHost: " + address +
                              "\r\nAuthorization: Bearer " + token +
                              "\r\nContent-Type: application/json\r\nConnection: close\r\n"
                              "Content-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body;
  return exchange(address, request);
}

Status AdminClient::publish(const std::string& body) {
  auto answer = sendRoutes("PUT", body);
  if (!answer.ok()) return answer.status();
  if (answer->first == 200) return Status::ok();
  // A faster publisher got there first.
  if (answer->first == 409) return conflict("the gateway holds a newer route table");
  return internalError("the gateway refused the route table (HTTP " +
                       std::to_string(answer->first) + "): " + answer->second);
}

Status AdminClient::publishDelta(const RouteDelta& delta) {
  // Written by hand: the routes are JSON texts already.
  std::string body = "{\"baseVersion\":" + std::to_string(delta.base_version) +
                     ",\"version\":" + std::to_string(delta.version) + ",\"remove\":[";
  for (size_t i = 0; i < delta.remove.size(); ++i)
    body += (i ? "," : "") + nlohmann::json(delta.remove[i]).dump();
  body += "],\"upsert\":[";
  for (size_t i = 0; i < delta.upsert.size(); ++i) body += (i ? "," : "") + delta.upsert[i];
  body += "]}";
  auto answer = sendRoutes("PATCH", body);
  if (!answer.ok()) return answer.status();
  if (answer->first == 200) return Status::ok();
  if (answer->first == 409)
    return conflict("the gateway holds another route table: " + answer->second);
  return internalError("the gateway refused the route delta (HTTP " +
                       std::to_string(answer->first) + "): " + answer->second);
}

Result<std::string> AdminClient::metrics() {
  const std::string address = admin_address_();
  if (address.empty()) return unavailable("the gateway is not running yet");
  const std::string request = "GET /metrics HTTP/1.1\r\nHost: " + address +
                              "\r\nAuthorization: Bearer " + readAdminToken(state_dir_) +
                              "\r\nConnection: close\r\n\r\n";
  auto answer = exchange(address, request);
  if (!answer.ok()) return answer.status();
  if (answer->first != 200)
    return unavailable("the gateway's metrics answered HTTP " + std::to_string(answer->first) +
                       ": " + answer->second);
  return std::move(answer->second);
}

}  // namespace skiff::gateway
