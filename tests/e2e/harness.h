// Test harness for end-to-end tests: starts the real `skiff` binary (SKIFF_BIN) on a temporary
// data directory and an ephemeral port, talks to it over real HTTPS (verifying the certificate
// the server generated, or was given), and runs CLI commands. Every process it starts is ended
// by pid when its owner is destroyed, even on test failure.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace skiff::test {

std::string skiffBinary();
std::string sourceDir();
// The whole file ("" if it cannot be read), and its permission bits (0 if it does not exist).
std::string readFile(const std::string& path);
mode_t modeOf(const std::string& path);
// A fresh directory under $TMPDIR; the caller removes it (TempDir does).
std::string makeTempDir();

class TempDir {
 public:
  TempDir() : path_(makeTempDir()) {}
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A `skiff server` child process.
class ServerProcess {
 public:
  // `data_dir` must exist; the server is started by start().
  explicit ServerProcess(std::string data_dir, std::vector<std::string> extra_args = {});
  // Kills (SIGKILL) the server if still running, and the gateway and instances it started,
  // which outlive the server by design.
  ~ServerProcess();

  // Spawns the server and waits until its API answers; fails the test on timeout.
  void start();
  // Sends `sig` and waits for exit; returns the exit status as from waitpid (or -1).
  int stop(int sig = 15);
  void kill9();
  bool running();

  // "https://127.0.0.1:PORT" ("http://..." with --insecure-http), as api.addr says.
  const std::string& url() const { return url_; }
  // The certificate the API serves (<data-dir>/tls/server.crt unless --tls-cert was given);
  // requests to url() trust it. Empty for plain HTTP.
  const std::string& caFile() const { return ca_file_; }
  // The gateway the server runs: its proxy URL ("http://127.0.0.1:PORT", empty while it is
  // starting) and pid (-1 if unknown). Read fresh each call: the gateway may be restarted.
  std::string gatewayUrl() const;
  pid_t gatewayPid() const;
  // SIGKILLs every process the server started (gateway, shims and their workloads), which
  // outlive the server by design. The server itself must be stopped first.
  void killInstances() const;
  const std::string& dataDir() const { return data_dir_; }
  // The session of the platform admin, signed in by start().
  const std::string& adminToken() const { return admin_token_; }
  pid_t pid() const { return pid_; }
  const std::string& logPath() const { return log_path_; }

 private:
  std::string data_dir_;
  std::vector<std::string> extra_args_;
  std::string url_;
  std::string ca_file_;
  std::string log_path_;
  std::string admin_token_;
  pid_t pid_ = -1;
};

// Requests to `url` (httpRequest, WatchStream, runSkiff) send this bearer token unless they
// set an Authorization header themselves; an empty Authorization header sends none.
void rememberToken(const std::string& url, const std::string& token);
std::string tokenFor(const std::string& url);
// Requests to an https `url` verify its certificate with this PEM file (runSkiff passes it as
// SKIFF_CA); without one, they fail.
void rememberCa(const std::string& url, const std::string& ca_file);
std::string caFor(const std::string& url);

struct HttpResult {
  int status = 0;  // 0 when the connection failed
  std::string body;
  std::map<std::string, std::string> headers;  // lowercase names
};

// One HTTP/1.1 request on a new connection. `url` is the server's base URL, http:// or https://
// (IPv4 or localhost).
HttpResult httpRequest(const std::string& url, const std::string& method, const std::string& path,
                       const std::string& body = "",
                       const std::string& content_type = "application/json",
                       const std::map<std::string, std::string>& headers = {});

// True once `pid` has exited (a zombie counts as exited).
bool processGone(pid_t pid);

// A loopback TCP port that was free a moment ago (a helper server may still lose it to
// another process: start it in a retry loop).
int freePort();

// A child process (a registry, a directory, an identity provider) with its output in a log
// file, killed (SIGKILL, by pid) at the latest when this is destroyed.
class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() { kill(); }

  void start(std::vector<std::string> args, const std::string& log_path);
  // The exit status (as from waitpid) once the process exits within `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  void kill();
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

// A connection to a server, plain or TLS (harness.cc).
class ClientConnection;

// A streaming watch: opens `path` (which includes ?watch=true...) and reads event lines.
class WatchStream {
 public:
  WatchStream(const std::string& url, const std::string& path);
  ~WatchStream();
  int status() const { return status_; }
  // The next event line (without the newline), or nullopt after `timeout` or at end of stream.
  std::optional<std::string> next(std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  bool fill(std::chrono::milliseconds timeout);
  std::unique_ptr<ClientConnection> conn_;
  int status_ = 0;
  bool chunked_ = false;
  bool ended_ = false;
  std::string raw_;    // undecoded bytes
  std::string lines_;  // decoded body bytes not yet returned
};

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `skiff ARGS...` with SKIFF_SERVER=server_url, feeding `stdin_data`; waits for it.
CommandResult runSkiff(const std::vector<std::string>& args, const std::string& server_url,
                       const std::string& stdin_data = "");
// As above, with the variables in `env` set as well (an empty value unsets one), e.g. HOME and
// XDG_CONFIG_HOME pointing into a temporary directory so the CLI's config stays out of $HOME.
CommandResult runSkiff(const std::vector<std::string>& args, const std::string& server_url,
                       const std::string& stdin_data,
                       const std::map<std::string, std::string>& env);

// Creates the application `doc` names in the default tenant, or merge-patches its spec when it
// exists; a refusal fails the test.
void applyApplication(const ServerProcess& server, const nlohmann::json& doc);

// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
template <class F>
bool eventually(F condition, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    struct timespec ts {
      0, 20 * 1000 * 1000
    };
    nanosleep(&ts, nullptr);
  }
}

}  // namespace skiff::test
