#include "e2e/backend.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>

namespace skiff::test {

int connectLoopback(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool sendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Reads one HTTP message (head + Content-Length or chunked body) from `fd`, using `buf` for
// bytes already received. Returns false on a closed or broken connection.
bool readMessage(int fd, std::string& buf, std::string& head_line,
                 std::map<std::string, std::string>& headers, std::string& body) {
  auto fill = [&]() {
    char tmp[65536];
    ssize_t n = recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<size_t>(n));
    return true;
  };
  size_t end;
  while ((end = buf.find("\r\n\r\n")) == std::string::npos)
    if (!fill()) return false;
  std::istringstream lines(buf.substr(0, end));
  std::getline(lines, head_line);
  if (!head_line.empty() && head_line.back() == '\r') head_line.pop_back();
  headers.clear();
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    headers[lower(line.substr(0, colon))] = value;
  }
  buf.erase(0, end + 4);
  body.clear();
  if (lower(headers["transfer-encoding"]).find("chunked") != std::string::npos) {
    for (;;) {
      size_t crlf;
      while ((crlf = buf.find("\r\n")) == std::string::npos)
        if (!fill()) return false;
      size_t n = std::stoul(buf.substr(0, crlf), nullptr, 16);
      while (buf.size() < crlf + 2 + n + 2)
        if (!fill()) return false;
      body += buf.substr(crlf + 2, n);
      buf.erase(0, crlf + 2 + n + 2);
      if (n == 0) return true;  // no trailers in these tests
    }
  }
  size_t length = headers.count("content-length") ? std::stoul(headers["content-length"]) : 0;
  while (buf.size() < length)
    if (!fill()) return false;
  body = buf.substr(0, length);
  buf.erase(0, length);
  return true;
}

}  // namespace skiff::test
