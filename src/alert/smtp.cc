#include "alert/smtp.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <openssl/evp.h>

namespace skiff::alert {

namespace {

using Deadline = std::chrono::steady_clock::time_point;

int remainingMs(Deadline deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

class Connection {
 public:
  explicit Connection(Deadline deadline) : deadline_(deadline) {}
  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Status open(const std::string& host, const std::string& port) {
    struct addrinfo hints {};
    hints.ai_socktype = SOCK_STREAM;
    struct addrinfo* found = nullptr;
    if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0)
      return unavailable("cannot resolve " + host + ": " + gai_strerror(rc));
    std::string error = "no address";
    for (struct addrinfo* a = found; a != nullptr; a = a->ai_next) {
      int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (fd < 0) continue;
      loopback_ = isLoopback(a->ai_addr);
      if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0 || errno == EINPROGRESS) {
        struct pollfd p {
          fd, POLLOUT, 0
        };
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (::poll(&p, 1, remainingMs(deadline_)) == 1 &&
            ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0) {
          fd_ = fd;
          break;
        }
        error = soerr != 0 ? std::strerror(soerr) : "timed out";
      } else {
        error = std::strerror(errno);
      }
      ::close(fd);
    }
    ::freeaddrinfo(found);
    if (fd_ < 0) return unavailable("cannot connect to " + host + ":" + port + ": " + error);
    return Status::ok();
  }

  bool loopback() const { return loopback_; }

  Status write(const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EINTR)
        return unavailable(std::string("cannot send: ") + std::strerror(errno));
      struct pollfd p {
        fd_, POLLOUT, 0
      };
      if (::poll(&p, 1, remainingMs(deadline_)) <= 0) return unavailable("timed out sending");
    }
    return Status::ok();
  }

  // One reply (the lines of a multi-line one joined by " "), and its code.
  Result<std::pair<int, std::string>> reply() {
    std::string text;
    while (true) {
      auto line = readLine();
      if (!line.ok()) return line.status();
      if (line->size() < 3) return unavailable("malformed reply \"" + *line + "\"");
      text += (text.empty() ? "" : " ") + line->substr(0, line->size());
      if (line->size() == 3 || (*line)[3] != '-') {
        int code = std::atoi(line->substr(0, 3).c_str());
        if (code < 200 || code > 599) return unavailable("malformed reply \"" + *line + "\"");
        return std::make_pair(code, text);
      }
    }
  }

 private:
  static bool isLoopback(const struct sockaddr* addr) {
    if (addr->sa_family == AF_INET)
      return (ntohl(reinterpret_cast<const sockaddr_in*>(addr)->sin_addr.s_addr) >> 24) == 127;
    if (addr->sa_family == AF_INET6) {
      const auto* a6 = reinterpret_cast<const sockaddr_in6*>(addr);
      return IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
    }
    return false;
  }

  Result<std::string> readLine() {
    while (true) {
      size_t end = buffer_.find("\r\n");
      if (end != std::string::npos) {
        std::string line = buffer_.substr(0, end);
        buffer_.erase(0, end + 2);
        return line;
      }
      if (buffer_.size() > 64 * 1024) return unavailable("a reply line is too long");
      struct pollfd p {
        fd_, POLLIN, 0
      };
      if (::poll(&p, 1, remainingMs(deadline_)) <= 0)
        return unavailable("timed out waiting for the server");
      char chunk[4096];
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n == 0) return unavailable("the server closed the connection");
      if (n < 0 && errno != EAGAIN && errno != EINTR)
        return unavailable(std::string("cannot read: ") + std::strerror(errno));
      if (n > 0) buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

  const Deadline deadline_;
  int fd_ = -1;
  bool loopback_ = false;
  std::string buffer_;
};

std::string base64(const std::string& data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// Lines starting with "." get another (RFC 5321 4.5.2); bare LFs become CRLF.
std::string dotStuffed(const std::string& message) {
  std::string out;
  bool line_start = true;
  for (size_t i = 0; i < message.size(); ++i) {
    char c = message[i];
    if (line_start && c == '.') out += '.';
    if (c == '\n' && (i == 0 || message[i - 1] != '\r')) out += '\r';
    out += c;
    line_start = c == '\n';
  }
  if (out.size() < 2 || out.substr(out.size() - 2) != "\r\n") out += "\r\n";
  return out;
}

}  // namespace

Status sendMail(const SmtpRequest& request) {
  const size_t colon = request.smarthost.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return badRequest("smarthost must be host:port, got \"" + request.smarthost + "\"");
  std::string host = request.smarthost.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  Connection c(std::chrono::steady_clock::now() + request.timeout);
  if (Status s = c.open(host, request.smarthost.substr(colon + 1)); !s.isOk()) return s;

  // Sends `command` (nothing for the greeting) and expects a reply with code `want`.
  auto step = [&c](const std::string& what, const std::string& command, int want) -> Status {
    if (!command.empty())
      if (Status s = c.write(command + "\r\n"); !s.isOk()) return s;
    auto r = c.reply();
    if (!r.ok()) return Status(r.status().code(), what + ": " + r.status().message());
    if (r->first == want || (want == 250 && r->first == 251)) return Status::ok();
    const std::string message = what + ": the server answered " + r->second;
    return r->first >= 500 ? Status(StatusCode::kInvalid, message) : unavailable(message);
  };
  if (Status s = step("greeting", "", 220); !s.isOk()) return s;
  if (Status s = step("EHLO", "EHLO " + request.helo, 250); !s.isOk()) return s;
  if (!request.username.empty()) {
    if (!c.loopback())
      return Status(StatusCode::kInvalid,
                    "AUTH: refusing to send a password over plain TCP to " + request.smarthost +
                        " (STARTTLS is not supported; relay through a local SMTP server)");
    const std::string plain = std::string(1, '\0') + request.username + '\0' + request.password;
    if (Status s = step("AUTH", "AUTH PLAIN " + base64(plain), 235); !s.isOk()) return s;
  }
  if (Status s = step("MAIL FROM", "MAIL FROM:<" + request.from + ">", 250); !s.isOk()) return s;
  for (const std::string& to : request.to)
    if (Status s = step("RCPT TO " + to, "RCPT TO:<" + to + ">", 250); !s.isOk()) return s;
  if (Status s = step("DATA", "DATA", 354); !s.isOk()) return s;
  if (Status s = step("message", dotStuffed(request.message) + ".", 250); !s.isOk()) return s;
  // The message is accepted; a failing QUIT changes nothing.
  (void)step("QUIT", "QUIT", 221);
  return Status::ok();
}

}  // namespace skiff::alert
