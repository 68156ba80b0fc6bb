#include "e2e/harness.h"

#include <sys/stat.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <nlohmann/json.hpp>

#include "runtime/local/cgroups.h"
#include "runtime/local/process_driver.h"

namespace skiff::test {

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

mode_t modeOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

namespace {

// Where a base URL points: "http(s)://HOST:PORT[/...]" with an IPv4 HOST or localhost.
struct Endpoint {
  bool tls = false;
  std::string host;  // as the URL names it, for the certificate check
  sockaddr_in addr;
};

bool parseUrl(const std::string& url, Endpoint* endpoint) {
  std::string rest;
  if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else if (url.rfind("https://", 0) == 0) {
    endpoint->tls = true;
    rest = url.substr(8);
  } else {
    return false;
  }
  if (size_t slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
  size_t colon = rest.rfind(':');
  if (colon == std::string::npos) return false;
  sockaddr_in* addr = &endpoint->addr;
  std::memset(addr, 0, sizeof *addr);
  addr->sin_family = AF_INET;
  addr->sin_port = htons(static_cast<uint16_t>(std::stoi(rest.substr(colon + 1))));
  endpoint->host = rest.substr(0, colon);
  const std::string ip = endpoint->host == "localhost" ? "127.0.0.1" : endpoint->host;
  return inet_pton(AF_INET, ip.c_str(), &addr->sin_addr) == 1;
}

// Trusted certificates of the servers started by this process, by base URL (rememberCa()).
std::mutex cas_mu;
std::map<std::string, std::string> cas_by_url;

}  // namespace

// A blocking connection; for https, TLS verified against caFor(url) and the URL's host.
class ClientConnection {
 public:
  // Null when the connection or the TLS handshake fails.
  static std::unique_ptr<ClientConnection> open(const std::string& url) {
    Endpoint endpoint;
    if (!parseUrl(url, &endpoint)) return nullptr;
    auto conn = std::unique_ptr<ClientConnection>(new ClientConnection());
    conn->fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (conn->fd_ < 0) return nullptr;
    if (connect(conn->fd_, reinterpret_cast<sockaddr*>(&endpoint.addr), sizeof endpoint.addr) != 0)
      return nullptr;
    if (!endpoint.tls) return conn;
    // A peer that hangs up mid-write must not kill the test process (SSL_write has no
    // MSG_NOSIGNAL).
    static const bool sigpipe_ignored = [] { return signal(SIGPIPE, SIG_IGN) != SIG_ERR; }();
    (void)sigpipe_ignored;
    conn->ctx_ = SSL_CTX_new(TLS_client_method());
    // Records that carry no data (session tickets) must not block a read that poll() woke.
    SSL_CTX_clear_mode(conn->ctx_, SSL_MODE_AUTO_RETRY);
    const std::string ca = caFor(url);
    if (ca.empty() || SSL_CTX_load_verify_locations(conn->ctx_, ca.c_str(), nullptr) != 1)
      return nullptr;
    SSL_CTX_set_verify(conn->ctx_, SSL_VERIFY_PEER, nullptr);
    conn->ssl_ = SSL_new(conn->ctx_);
    X509_VERIFY_PARAM* param = SSL_get0_param(conn->ssl_);
    in_addr ignored;
    if (inet_pton(AF_INET, endpoint.host.c_str(), &ignored) == 1) {
      X509_VERIFY_PARAM_set1_ip_asc(param, endpoint.host.c_str());
    } else {
      X509_VERIFY_PARAM_set1_host(param, endpoint.host.c_str(), endpoint.host.size());
      SSL_set_tlsext_host_name(conn->ssl_, endpoint.host.c_str());
    }
    SSL_set_fd(conn->ssl_, conn->fd_);
    if (SSL_connect(conn->ssl_) != 1) {
      ERR_clear_error();
      return nullptr;
    }
    return conn;
  }

  ~ClientConnection() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    if (fd_ >= 0) close(fd_);
  }

  bool sendAll(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ssl_ != nullptr
                      ? SSL_write(ssl_, data.data() + off, static_cast<int>(data.size() - off))
                      : send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) {
        ERR_clear_error();
        return false;
      }
      off += static_cast<size_t>(n);
    }
    return true;
  }

  // Bytes read into `buf`: > 0 data, 0 the end (or an error), -1 nothing yet (a record
  // without data was processed).
  ssize_t receive(char* buf, size_t size) {
    if (ssl_ == nullptr) return std::max<ssize_t>(recv(fd_, buf, size, 0), 0);
    int n = SSL_read(ssl_, buf, static_cast<int>(size));
    if (n > 0) return n;
    const int error = SSL_get_error(ssl_, n);
    ERR_clear_error();
    return error == SSL_ERROR_WANT_READ ? -1 : 0;
  }

  // Whether receive() has something within `timeout`.
  bool readable(std::chrono::milliseconds timeout) {
    if (ssl_ != nullptr && SSL_pending(ssl_) > 0) return true;
    pollfd p{fd_, POLLIN, 0};
    return poll(&p, 1, static_cast<int>(timeout.count())) > 0;
  }

 private:
  ClientConnection() = default;
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

namespace {

// Bearer tokens of the servers started by this process, by base URL (see rememberToken()).
std::mutex tokens_mu;
std::map<std::string, std::string> tokens_by_url;

std::string buildRequest(const std::string& url, const std::string& method, const std::string& path,
                         const std::string& body, const std::string& content_type,
                         const std::map<std::string, std::string>& headers) {
  std::string req = method + " " + path + " HTTP/1.1\r\nConnection: close\r\n";
  if (!headers.count("Host")) req += "Host: skiff\r\n";
  if (const std::string token = tokenFor(url); !token.empty() && !headers.count("Authorization"))
    req += "Authorization: Bearer " + token + "\r\n";
  for (const auto& [k, v] : headers)
    if (!v.empty()) req += k + ": " + v + "\r\n";  // empty: leave the header out
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH")
    req += "Content-Type: " + content_type + "\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n";
  return req + "\r\n" + body;
}

// Parses the status line and headers at the start of `raw`; returns the header length or 0.
size_t parseHead(const std::string& raw, int* status, std::map<std::string, std::string>* headers) {
  size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos) return 0;
  std::istringstream in(raw.substr(0, end));
  std::string line;
  std::getline(in, line);
  if (line.size() >= 12) *status = std::atoi(line.c_str() + 9);
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    size_t v = line.find_first_not_of(' ', colon + 1);
    (*headers)[name] = v == std::string::npos ? "" : line.substr(v);
  }
  return end + 4;
}

// Decodes as much of a chunked body as `raw` holds, appending to `out`; sets *ended at the
// last chunk. Consumed bytes are removed from `raw`.
void dechunk(std::string& raw, std::string& out, bool* ended) {
  while (true) {
    size_t eol = raw.find("\r\n");
    if (eol == std::string::npos) return;
    size_t size = std::strtoul(raw.substr(0, eol).c_str(), nullptr, 16);
    if (size == 0) {
      *ended = true;
      raw.clear();
      return;
    }
    if (raw.size() < eol + 2 + size + 2) return;
    out.append(raw, eol + 2, size);
    raw.erase(0, eol + 2 + size + 2);
  }
}

}  // namespace

bool processGone(pid_t pid) {
  if (::kill(pid, 0) != 0) return true;
  // A zombie (killed, not yet reaped by its new parent) is gone for our purposes.
  std::string stat = readFile("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  return paren == std::string::npos || (paren + 2 < stat.size() && stat[paren + 2] == 'Z');
}

std::string skiffBinary() {
  const char* bin = std::getenv("SKIFF_BIN");
  if (bin == nullptr) throw std::runtime_error("SKIFF_BIN is not set (run the tests via ctest)");
  return bin;
}

std::string sourceDir() {
  const char* dir = std::getenv("SKIFF_SOURCE_DIR");
  return dir != nullptr && *dir != '\0' ? dir : SKIFF_SOURCE_DIR_DEFAULT;
}

std::string makeTempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/skiff-test-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

ServerProcess::ServerProcess(std::string data_dir, std::vector<std::string> extra_args)
    : data_dir_(std::move(data_dir)), extra_args_(std::move(extra_args)) {}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) kill9();
  killInstances();
}

void ServerProcess::killInstances() const {
  // Everything this server started names a path under its data directory on its command line
  // (the gateway's --state-dir, each shim's --dir); the workloads lead their own process
  // groups under their shims. Twice, a moment apart: a process the server was starting when it
  // died appears a little late.
  const std::string prefix = data_dir_ + "/";
  for (int pass = 0; pass < 2; ++pass) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
      const std::string name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      const pid_t pid = std::atoi(name.c_str());
      if (pid == pid_ || pid == ::getpid()) continue;
      std::stringstream cmdline(readFile("/proc/" + name + "/cmdline"));
      bool ours = false;
      for (std::string arg; std::getline(cmdline, arg, '\0');)
        ours = ours || arg.rfind(prefix, 0) == 0;
      if (!ours) continue;
      std::stringstream children(readFile("/proc/" + name + "/task/" + name + "/children"));
      for (pid_t child; children >> child;) {
        ::kill(-child, SIGKILL);
        ::kill(child, SIGKILL);
      }
      ::kill(pid, SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // The cgroups the shims made go once their processes are gone, also those of a shim killed
  // before it recorded them: they are named after this server's runtime directory.
  (void)runtime::removeCgroupDirs(
      runtime::instanceCgroupDirs(runtime::detectCgroupLayout(), data_dir_ + "/runtime"));
  // Containers are runc's children, not the shims': runc, the network namespaces, bridges,
  // firewall rules and mounts go through the binary's own cleanup.
  if (std::filesystem::exists(data_dir_ + "/containers") ||
      std::filesystem::exists(data_dir_ + "/network"))
    (void)runSkiff({"host-cleanup", "--data-dir", data_dir_}, "");
  // So do the secret files the driver keeps on tmpfs.
  std::error_code ec;
  std::filesystem::remove_all(runtime::ProcessDriver::secretRoot(data_dir_ + "/runtime"), ec);
}

std::string ServerProcess::gatewayUrl() const {
  std::string addr = readFile(data_dir_ + "/gateway/gateway.addr");
  const std::string key = "\"listen\":\"";
  size_t at = addr.find(key);
  if (at == std::string::npos) return {};
  size_t end = addr.find('"', at + key.size());
  return "http://" + addr.substr(at + key.size(), end - at - key.size());
}

pid_t ServerProcess::gatewayPid() const {
  std::string pid = readFile(data_dir_ + "/gateway/gateway.pid");
  return pid.empty() ? -1 : std::atoi(pid.c_str());
}

void ServerProcess::start() {
  std::filesystem::remove(data_dir_ + "/api.addr");
  log_path_ = data_dir_ + "/server.log";
  std::vector<std::string> args = {skiffBinary(),
                                   "server",
                                   "--data-dir",
                                   data_dir_,
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--gateway-listen",
                                   "127.0.0.1:0",
                                   "--gateway-admin-listen",
                                   "127.0.0.1:0",
                                   "--gateway-tls-listen",
                                   "127.0.0.1:0"};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  pid_ = fork();
  if (pid_ == 0) {
    int log = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(log, 1);
    dup2(log, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  ASSERT_GT(pid_, 0);
  ca_file_.clear();
  for (size_t i = 0; i + 1 < extra_args_.size(); ++i)
    if (extra_args_[i] == "--tls-cert") ca_file_ = extra_args_[i + 1];
  bool up = eventually(
      [&] {
        std::string addr = readFile(data_dir_ + "/api.addr");
        if (addr.empty() || addr.back() != '\n') return !running();
        addr.pop_back();
        url_ = addr;
        if (url_.rfind("https://", 0) == 0) {
          if (ca_file_.empty()) ca_file_ = data_dir_ + "/tls/server.crt";
          rememberCa(url_, ca_file_);
        } else {
          ca_file_.clear();
        }
        return httpRequest(url_, "GET", "/healthz").status == 200;
      },
      std::chrono::seconds(20));
  ASSERT_TRUE(up && running()) << "server did not start; log:\n" << readFile(log_path_);
  // Sign in as the platform admin the server created on its first start; requests to this
  // server carry the session from now on.
  const std::string password = readFile(data_dir_ + "/admin-password");
  nlohmann::json login = {{"user", "admin"}, {"password", password.substr(0, password.find('\n'))}};
  HttpResult r = httpRequest(url_, "POST", "/api/v1/login", login.dump(), "application/json",
                             {{"Authorization", ""}});
  ASSERT_EQ(r.status, 200) << r.body;
  admin_token_ = nlohmann::json::parse(r.body).value("token", "");
  rememberToken(url_, admin_token_);
}

void rememberToken(const std::string& url, const std::string& token) {
  std::lock_guard lock(tokens_mu);
  tokens_by_url[url] = token;
}

std::string tokenFor(const std::string& url) {
  std::lock_guard lock(tokens_mu);
  auto it = tokens_by_url.find(url);
  return it == tokens_by_url.end() ? std::string() : it->second;
}

void rememberCa(const std::string& url, const std::string& ca_file) {
  std::lock_guard lock(cas_mu);
  cas_by_url[url] = ca_file;
}

std::string caFor(const std::string& url) {
  std::lock_guard lock(cas_mu);
  auto it = cas_by_url.find(url);
  return it == cas_by_url.end() ? std::string() : it->second;
}

bool ServerProcess::running() {
  if (pid_ <= 0) return false;
  int status;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

int ServerProcess::stop(int sig) {
  if (pid_ <= 0) return -1;
  kill(pid_, sig);
  int status = -1;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

void ServerProcess::kill9() { stop(SIGKILL); }

HttpResult httpRequest(const std::string& url, const std::string& method, const std::string& path,
                       const std::string& body, const std::string& content_type,
                       const std::map<std::string, std::string>& headers) {
  HttpResult result;
  auto conn = ClientConnection::open(url);
  if (!conn) return result;
  // A server may answer (e.g. 413) before taking the whole body: read the answer regardless.
  conn->sendAll(buildRequest(url, method, path, body, content_type, headers));
  std::string raw;
  char buf[65536];
  for (ssize_t n; (n = conn->receive(buf, sizeof buf)) != 0;)
    if (n > 0) raw.append(buf, static_cast<size_t>(n));
  conn.reset();
  size_t head = parseHead(raw, &result.status, &result.headers);
  if (head == 0) {
    result.status = 0;
    return result;
  }
  raw.erase(0, head);
  if (result.headers["transfer-encoding"] == "chunked") {
    bool ended = false;
    dechunk(raw, result.body, &ended);
  } else {
    result.body = std::move(raw);
  }
  return result;
}

WatchStream::WatchStream(const std::string& url, const std::string& path) {
  conn_ = ClientConnection::open(url);
  if (!conn_) return;
  const std::string req = buildRequest(url, "GET", path, "", "", {});
  if (!conn_->sendAll(req)) return;
  std::map<std::string, std::string> headers;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  size_t head = 0;
  while ((head = parseHead(raw_, &status_, &headers)) == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    if (!fill(std::chrono::milliseconds(200)) && ended_) break;
  }
  if (head == 0) return;
  raw_.erase(0, head);
  chunked_ = headers["transfer-encoding"] == "chunked";
  if (!chunked_) {
    lines_ = raw_;
    raw_.clear();
  }
}

WatchStream::~WatchStream() { conn_.reset(); }

bool WatchStream::fill(std::chrono::milliseconds timeout) {
  if (!conn_ || ended_) return false;
  if (!conn_->readable(timeout)) return false;
  char buf[65536];
  ssize_t n = conn_->receive(buf, sizeof buf);
  if (n < 0) return false;
  if (n == 0) {
    ended_ = true;
    return false;
  }
  raw_.append(buf, static_cast<size_t>(n));
  return true;
}

std::optional<std::string> WatchStream::next(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (chunked_) dechunk(raw_, lines_, &ended_);
    if (size_t nl = lines_.find('\n'); nl != std::string::npos) {
      std::string line = lines_.substr(0, nl);
      lines_.erase(0, nl + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || ended_) return std::nullopt;
    fill(left);
  }
}

void applyApplication(const ServerProcess& server, const nlohmann::json& doc) {
  const std::string apps = "/api/v1/tenants/default/applications";
  const std::string name = doc["metadata"].value("name", "");
  if (httpRequest(server.url(), "GET", apps + "/" + name).status == 404) {
    auto created = httpRequest(server.url(), "POST", apps, doc.dump());
    EXPECT_EQ(created.status, 201) << created.body;
    return;
  }
  nlohmann::json patch = {{"spec", doc["spec"]}};
  auto r = httpRequest(server.url(), "PATCH", apps + "/" + name, patch.dump(),
                       "application/merge-patch+json");
  EXPECT_EQ(r.status, 200) << r.body;
}

CommandResult runSkiff(const std::vector<std::string>& args, const std::string& server_url,
                       const std::string& stdin_data) {
  return runSkiff(args, server_url, stdin_data, {});
}

CommandResult runSkiff(const std::vector<std::string>& args, const std::string& server_url,
                       const std::string& stdin_data,
                       const std::map<std::string, std::string>& env) {
  CommandResult result;
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) || pipe2(out_pipe, O_CLOEXEC) || pipe2(err_pipe, O_CLOEXEC))
    return result;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    setenv("SKIFF_SERVER", server_url.c_str(), 1);
    if (const std::string ca = caFor(server_url); !ca.empty()) setenv("SKIFF_CA", ca.c_str(), 1);
    if (const std::string token = tokenFor(server_url); !token.empty())
      setenv("SKIFF_TOKEN", token.c_str(), 1);
    // Last, so that a test can unset or replace SKIFF_TOKEN too.
    for (const auto& [name, value] : env) {
      if (value.empty()) {
        unsetenv(name.c_str());
      } else {
        setenv(name.c_str(), value.c_str(), 1);
      }
    }
    std::string bin = skiffBinary();
    std::vector<char*> argv = {bin.data()};
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  std::thread writer([&] {
    size_t off = 0;
    while (off < stdin_data.size()) {
      ssize_t n = write(in_pipe[1], stdin_data.data() + off, stdin_data.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    close(in_pipe[1]);
  });
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    if (poll(fds, 2, 60000) <= 0) {
      kill(pid, SIGKILL);  // hung: fail the test rather than the whole run
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(n));
      }
    }
  }
  writer.join();
  for (auto& f : fds)
    if (f.fd >= 0) close(f.fd);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

int freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

void ChildProcess::start(std::vector<std::string> args, const std::string& log_path) {
  kill();
  pid_ = fork();
  if (pid_ == 0) {
    int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(log, 1);
    dup2(log, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  ASSERT_GT(pid_, 0);
}

std::optional<int> ChildProcess::wait(std::chrono::milliseconds timeout) {
  std::optional<int> exit_status;
  eventually(
      [&] {
        int status = 0;
        if (pid_ <= 0 || waitpid(pid_, &status, WNOHANG) != pid_) return false;
        pid_ = -1;
        exit_status = status;
        return true;
      },
      timeout);
  return exit_status;
}

void ChildProcess::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

}  // namespace skiff::test
