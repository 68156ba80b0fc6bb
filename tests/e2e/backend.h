// Test doubles on real sockets for end-to-end tests: a small threaded HTTP/1.1 backend with
// keep-alive that names itself in every response, and the raw helpers its clients use.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace skiff::test {

// A connected TCP socket to 127.0.0.1:port (TCP_NODELAY), or -1.
int connectLoopback(uint16_t port);
bool sendAll(int fd, std::string_view data);
std::string lower(std::string s);
// Reads one HTTP message (head + Content-Length or chunked body) from `fd`, using `buf` for
// bytes already received. Returns false on a closed or broken connection.
bool readMessage(int fd, std::string& buf, std::string& head_line,
                 std::map<std::string, std::string>& headers, std::string& body);

// A small threaded HTTP/1.1 backend with keep-alive. Every response names the backend
// (X-Backend header and body) and echoes what the gateway added. "/sleep/MS" waits first.
// A dropping backend reads each request and closes the connection without an answer.
class TestBackend {
 public:
  explicit TestBackend(std::string name, bool drops = false)
      : name_(std::move(name)), drops_(drops) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(listen_fd_, 512), 0);
    socklen_t len = sizeof addr;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { acceptLoop(); });
  }
  ~TestBackend() {
    stopping_ = true;
    shutdown(listen_fd_, SHUT_RDWR);
    close(listen_fd_);
    acceptor_.join();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int fd : conns_) shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : workers_) t.join();
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_.load(); }
  // Connections accepted and not yet closed by the client.
  int openConnections() const { return open_.load(); }

 private:
  void acceptLoop() {
    while (!stopping_) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      std::lock_guard<std::mutex> lock(mu_);
      conns_.push_back(fd);
      ++open_;
      workers_.emplace_back([this, fd] { serve(fd); });
    }
  }
  void serve(int fd) {
    std::string buf, line, body;
    std::map<std::string, std::string> headers;
    while (readMessage(fd, buf, line, headers, body)) {
      ++requests_;
      if (drops_) break;
      std::string path = line.substr(line.find(' ') + 1);
      path = path.substr(0, path.find(' '));
      if (path.rfind("/sleep/", 0) == 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(std::stoi(path.substr(7))));
      nlohmann::json echo = {{"backend", name_},
                             {"path", path},
                             {"bodyBytes", body.size()},
                             {"xff", headers["x-forwarded-for"]},
                             {"proto", headers["x-forwarded-proto"]},
                             {"requestId", headers["x-request-id"]},
                             {"connection", headers["connection"]}};
      std::string out = echo.dump();
      std::string resp =
          "HTTP/1.1 200 OK\r\nX-Backend: " + name_ +
          "\r\nKeep-Alive: timeout=5\r\nContent-Length: " + std::to_string(out.size()) +
          "\r\n\r\n" + out;
      if (!sendAll(fd, resp)) break;
    }
    --open_;
    close(fd);
  }

  std::string name_;
  const bool drops_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> requests_{0};
  std::atomic<int> open_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> conns_;
  std::vector<std::thread> workers_;
};

}  // namespace skiff::test
