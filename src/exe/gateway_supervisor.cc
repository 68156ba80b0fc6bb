#include "exe/gateway_supervisor.h"

#include "common/files.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <vector>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

namespace skiff {

namespace {

std::string readFile(const std::string& path) {
  auto text = readWholeFile(path);
  return text.ok() ? *text : std::string();
}

// True if `pid` runs `skiff gateway` for `state_dir` (a recycled pid must not be adopted).
bool isOurGateway(pid_t pid, const std::string& state_dir) {
  std::string cmdline = readFile("/proc/" + std::to_string(pid) + "/cmdline");
  std::vector<std::string> args;
  std::stringstream ss(cmdline);
  for (std::string a; std::getline(ss, a, '\0');) args.push_back(a);
  bool gateway = false, dir = false;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "gateway") gateway = true;
    if (args[i] == "--state-dir" && i + 1 < args.size() && args[i + 1] == state_dir) dir = true;
  }
  return gateway && dir;
}

}  // namespace

GatewaySupervisor::~GatewaySupervisor() { stop(); }

Status GatewaySupervisor::start() {
  std::error_code ec;
  std::filesystem::create_directories(options_.state_dir, ec);
  if (ec) return unavailable("cannot create " + options_.state_dir + ": " + ec.message());
  const pid_t recorded = std::atoi(readFile(options_.state_dir + "/gateway.pid").c_str());
  if (recorded > 0 && isOurGateway(recorded, options_.state_dir)) {
    std::lock_guard lock(mu_);
    pid_ = recorded;
    own_child_ = false;
    spdlog::info("adopted the running gateway (pid {})", recorded);
  } else if (Status s = spawn(); !s.isOk()) {
    return s;
  }
  watcher_ = std::thread([this] { watch(); });
  return Status::ok();
}

void GatewaySupervisor::stop() {
  stopping_ = true;
  if (watcher_.joinable()) watcher_.join();
}

std::string GatewaySupervisor::address(const char* which) const {
  auto doc = nlohmann::json::parse(readFile(options_.state_dir + "/gateway.addr"), nullptr, false);
  if (!doc.is_object()) return {};
  return doc.value(which, "");
}

std::string GatewaySupervisor::adminAddress() const { return address("admin"); }
std::string GatewaySupervisor::proxyAddress() const { return address("listen"); }
std::string GatewaySupervisor::tlsAddress() const { return address("tls"); }

Status GatewaySupervisor::spawn() {
  std::filesystem::remove(options_.state_dir + "/gateway.addr");
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return internalError("cannot find the skiff binary (/proc/self/exe)");
  self[n] = '\0';
  std::vector<std::string> args = {self,
                                   "gateway",
                                   "--listen",
                                   options_.listen,
                                   "--admin-listen",
                                   options_.admin_listen,
                                   "--state-dir",
                                   options_.state_dir};
  if (!options_.tls_listen.empty()) {
    args.push_back("--tls-listen");
    args.push_back(options_.tls_listen);
  }
  const std::string log = options_.state_dir + "/gateway.log";
  pid_t pid = fork();
  if (pid < 0) return unavailable(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    setsid();  // its own session: signals to the server's group do not reach it
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, 0);
    close_range(3, ~0U, 0);  // none of the server's sockets or database handles
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  {
    std::lock_guard lock(mu_);
    pid_ = pid;
    own_child_ = true;
  }
  if (Status s =
          writeFileAtomically(options_.state_dir + "/gateway.pid", std::to_string(pid) + "\n");
      !s.isOk())
    spdlog::warn("{}", s.toString());
  spdlog::info("started the gateway (pid {}) on {} (admin {})", pid, options_.listen,
               options_.admin_listen);
  if (on_started_) on_started_();
  return Status::ok();
}

bool GatewaySupervisor::alive() {
  std::lock_guard lock(mu_);
  if (pid_ <= 0) return false;
  if (own_child_) {
    int status;
    return waitpid(pid_, &status, WNOHANG) == 0;
  }
  return kill(pid_, 0) == 0 && isOurGateway(pid_, options_.state_dir);
}

void GatewaySupervisor::watch() {
  using std::chrono::milliseconds;
  auto backoff = milliseconds(50);
  auto last_start = std::chrono::steady_clock::now();
  while (!stopping_) {
    std::this_thread::sleep_for(milliseconds(50));
    if (alive()) {
      if (std::chrono::steady_clock::now() - last_start > std::chrono::seconds(10))
        backoff = milliseconds(50);
      continue;
    }
    spdlog::warn("the gateway exited; starting it again");
    std::this_thread::sleep_for(backoff);
    // Never slower than a second: traffic is down while the gateway is.
    backoff = std::min(backoff * 2, milliseconds(800));
    last_start = std::chrono::steady_clock::now();
    if (Status s = spawn(); !s.isOk()) spdlog::error("cannot start the gateway: {}", s.toString());
  }
}

}  // namespace skiff
