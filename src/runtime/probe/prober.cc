#include "runtime/probe/prober.h"

#include <utility>  // before Asio's coroutine headers

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <optional>
#include <set>

#include "common/command.h"

extern char** environ;

namespace skiff::runtime {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
template <class T>
using awaitable = asio::awaitable<T>;

constexpr size_t kMaxStatusLineBytes = 4096;

std::string lowerFirst(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

std::string formatDuration(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

std::string hostPort(const std::string& host, int port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

// What one attempt saw.
struct Outcome {
  bool ok = false;
  bool cancelled = false;  // the probe was removed or the prober stopped: not a result
  std::string message;
};

}  // namespace

Status validateProbeSpec(const ProbeSpec& spec) {
  std::vector<FieldError> fields;
  if (spec.kind == ProbeKind::kHttp || spec.kind == ProbeKind::kTcp) {
    if (spec.host.empty()) fields.push_back({"host", "must not be empty"});
    if (spec.port < 1 || spec.port > 65535) {
      fields.push_back({"port", "must be between 1 and 65535, got " + std::to_string(spec.port)});
    }
  }
  if (spec.kind == ProbeKind::kHttp) {
    if (spec.scheme == "https" || spec.scheme == "HTTPS") {
      fields.push_back({"scheme",
                        "HTTPS probes are not supported yet: serve the health endpoint over plain "
                        "HTTP or use a tcp probe"});
    } else if (spec.scheme != "http" && spec.scheme != "HTTP") {
      fields.push_back({"scheme", "must be http, got \"" + spec.scheme + "\""});
    }
    if (spec.path.empty() || spec.path[0] != '/') {
      fields.push_back({"path", "must start with '/'"});
    }
    for (size_t i = 0; i < spec.path.size(); ++i) {
      if (static_cast<unsigned char>(spec.path[i]) <= ' ') {
        fields.push_back({"path", "must not contain spaces or control characters"});
        break;
      }
    }
    for (size_t i = 0; i < spec.headers.size(); ++i) {
      const auto& [name, value] = spec.headers[i];
      bool bad_name = name.empty() || name.find_first_of(": \t\r\n") != std::string::npos;
      if (bad_name || value.find_first_of("\r\n") != std::string::npos) {
        fields.push_back({"headers[" + std::to_string(i) + "]",
                          "must be a header name without ':' or spaces and a value without line "
                          "breaks"});
      }
    }
  }
  if (spec.kind == ProbeKind::kExec && spec.argv.empty()) {
    fields.push_back({"argv", "must name a command"});
  }
  if (spec.initial_delay.count() < 0) fields.push_back({"initial_delay", "must not be negative"});
  if (spec.period.count() <= 0) fields.push_back({"period", "must be positive"});
  if (spec.timeout.count() <= 0) fields.push_back({"timeout", "must be positive"});
  if (spec.success_threshold < 1) fields.push_back({"success_threshold", "must be at least 1"});
  if (spec.failure_threshold < 1) fields.push_back({"failure_threshold", "must be at least 1"});
  if (fields.empty()) return Status::ok();
  return Status(StatusCode::kInvalid, "invalid probe", std::move(fields));
}

// One attempt's resources, shared with its deadline handler, which may run after the attempt
// has finished (and then finds nothing left to abort).
struct Attempt {
  explicit Attempt(asio::io_context& io) : socket(io), resolver(io), deadline(io) {}

  // Ends the attempt early: closes its connection, or kills its process group. The coroutine
  // that owns the attempt sees the aborted operation and looks at `timed_out`/`cancelled`.
  void abort() {
    error_code ignored;
    socket.close(ignored);
    resolver.cancel();
    if (child > 0) {
      ::kill(-child, SIGKILL);
      ::kill(child, SIGKILL);  // in case it left its process group
    }
  }

  tcp::socket socket;
  tcp::resolver resolver;
  asio::steady_timer deadline;
  pid_t child = -1;  // a spawned exec probe not yet reaped
  bool timed_out = false;
  bool cancelled = false;
};

struct Prober::Probe {
  // Constant after construction.
  std::string id;
  uint64_t handle = 0;
  ProbeSpec spec;
  ProbeCallback callback;

  // Set by retire(); read on the loop under Loop::callback_mu before a callback runs.
  std::atomic<bool> removed{false};

  // Used on the loop thread only.
  std::optional<bool> healthy;
  int successes = 0;
  int failures = 0;
  std::unique_ptr<asio::steady_timer> wait;
  std::shared_ptr<Attempt> attempt;  // the attempt in flight, if any
};

struct Prober::Loop {
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::atomic<std::thread::id> thread_id{};
  // Held while a callback runs, so a remove() from another thread can wait for one in flight.
  std::mutex callback_mu;

  // Used on the loop thread only.
  std::set<std::shared_ptr<Probe>> running;
  bool stopping = false;

  bool onLoop() const { return std::this_thread::get_id() == thread_id.load(); }

  void spawn(std::shared_ptr<Probe> probe) {
    asio::post(io, [this, probe = std::move(probe)]() mutable {
      if (stopping || probe->removed) return;
      running.insert(probe);
      asio::co_spawn(io, run(probe), asio::detached);
    });
  }

  // Called on the loop: ends what `probe` is waiting for so its coroutine sees `removed`.
  void cancel(Probe& probe) {
    if (probe.wait) probe.wait->cancel();
    if (probe.attempt) {
      probe.attempt->cancelled = true;
      probe.attempt->abort();
    }
  }

  // Called on the loop by stop(): cancels everything and lets run() return once the last
  // probe has finished (exec probes must still reap their killed processes).
  void shutdown() {
    stopping = true;
    for (const auto& probe : running) cancel(*probe);
    if (running.empty()) work.reset();
  }

  awaitable<void> run(std::shared_ptr<Probe> probe) {
    probe->wait = std::make_unique<asio::steady_timer>(io);
    auto next = std::chrono::steady_clock::now() + probe->spec.initial_delay;
    while (!probe->removed && !stopping) {
      probe->wait->expires_at(next);
      error_code ec;
      co_await probe->wait->async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (probe->removed || stopping) break;
      // Kubernetes' period runs from the start of one attempt to the next; an attempt longer
      // than the period (timeout > period) is followed at once by the next.
      next = std::chrono::steady_clock::now() + probe->spec.period;
      auto attempt = std::make_shared<Attempt>(io);
      probe->attempt = attempt;
      attempt->deadline.expires_after(probe->spec.timeout);
      attempt->deadline.async_wait([attempt](const error_code& timer_ec) {
        if (timer_ec) return;
        attempt->timed_out = true;
        attempt->abort();
      });
      Outcome outcome;
      switch (probe->spec.kind) {
        case ProbeKind::kHttp:
        case ProbeKind::kTcp:
          outcome = co_await attemptNetwork(probe->spec, *attempt);
          break;
        case ProbeKind::kExec:
          outcome = co_await attemptExec(probe->spec, *attempt);
          break;
      }
      attempt->deadline.cancel();
      probe->attempt.reset();
      if (outcome.cancelled || probe->removed || stopping) break;
      record(*probe, std::move(outcome));
    }
    probe->wait.reset();
    running.erase(probe);
    if (stopping && running.empty()) work.reset();
  }

  void record(Probe& probe, Outcome outcome) {
    if (outcome.ok) {
      probe.successes = std::min(probe.successes, INT_MAX - 1) + 1;
      probe.failures = 0;
    } else {
      probe.failures = std::min(probe.failures, INT_MAX - 1) + 1;
      probe.successes = 0;
    }
    std::optional<bool> next = probe.healthy;
    if (outcome.ok && probe.successes >= probe.spec.success_threshold) next = true;
    if (!outcome.ok && probe.failures >= probe.spec.failure_threshold) next = false;
    if (next == probe.healthy) return;
    probe.healthy = next;
    ProbeResult result{probe.id,        probe.handle,   *next,
                       probe.successes, probe.failures, std::move(outcome.message)};
    std::lock_guard<std::mutex> lock(callback_mu);
    if (probe.removed) return;
    probe.callback(result);
  }

  // After an operation of `attempt` completed: was the attempt ended early, by its deadline
  // (a failure to report) or by remove()/stop() (nothing to report)?
  static std::optional<Outcome> interrupted(const Attempt& attempt, const ProbeSpec& spec,
                                            const std::string& what) {
    if (attempt.cancelled) return Outcome{false, true, ""};
    if (attempt.timed_out)
      return Outcome{false, false, what + "timeout after " + formatDuration(spec.timeout)};
    return std::nullopt;
  }

  awaitable<Outcome> attemptNetwork(const ProbeSpec& spec, Attempt& attempt) {
    const std::string address = hostPort(spec.host, spec.port);
    const bool http = spec.kind == ProbeKind::kHttp;
    const std::string what = http ? "HTTP GET http://" + address + spec.path + ": " : "";
    const std::string dial = "dial tcp " + address + ": ";

    error_code ec;
    std::vector<tcp::endpoint> endpoints;
    auto literal = asio::ip::make_address(spec.host, ec);
    if (!ec) {
      endpoints.emplace_back(literal, static_cast<unsigned short>(spec.port));
    } else {
      ec = {};
      auto results = co_await attempt.resolver.async_resolve(
          spec.host, std::to_string(spec.port), asio::redirect_error(asio::use_awaitable, ec));
      if (auto o = interrupted(attempt, spec, what)) co_return *o;
      if (ec)
        co_return Outcome{false, false,
                          what + dial + "lookup " + spec.host + ": " + lowerFirst(ec.message())};
      for (const auto& entry : results) endpoints.push_back(entry.endpoint());
    }

    co_await asio::async_connect(attempt.socket, endpoints,
                                 asio::redirect_error(asio::use_awaitable, ec));
    if (auto o = interrupted(attempt, spec, what)) co_return *o;
    if (ec) co_return Outcome{false, false, what + dial + lowerFirst(ec.message())};
    if (!http) co_return Outcome{true, false, "dial tcp " + address + ": connected"};

    std::string request = "GET " + spec.path + " HTTP/1.1\r\n";
    bool has_host = false, has_agent = false, has_accept = false;
    for (const auto& [name, value] : spec.headers) {
      has_host |= strcasecmp(name.c_str(), "host") == 0;
      has_agent |= strcasecmp(name.c_str(), "user-agent") == 0;
      has_accept |= strcasecmp(name.c_str(), "accept") == 0;
      request += name + ": " + value + "\r\n";
    }
    if (!has_host) request += "Host: " + address + "\r\n";
    if (!has_agent) request += "User-Agent: skiff-probe/1.0\r\n";
    if (!has_accept) request += "Accept: */*\r\n";
    request += "Connection: close\r\n\r\n";
    co_await asio::async_write(attempt.socket, asio::buffer(request),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (auto o = interrupted(attempt, spec, what)) co_return *o;
    if (ec) co_return Outcome{false, false, what + lowerFirst(ec.message())};

    // Only the status line decides; the rest of the response is not read.
    std::string head;
    char buf[1024];
    size_t line_end = std::string::npos;
    while ((line_end = head.find("\r\n")) == std::string::npos) {
      if (head.size() > kMaxStatusLineBytes) {
        co_return Outcome{false, false, what + "malformed HTTP response: status line too long"};
      }
      size_t n = co_await attempt.socket.async_read_some(
          asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
      if (auto o = interrupted(attempt, spec, what)) co_return *o;
      head.append(buf, n);
      if (ec == asio::error::eof) {
        co_return Outcome{false, false, what + "connection closed before a response"};
      }
      if (ec) co_return Outcome{false, false, what + lowerFirst(ec.message())};
    }
    // "HTTP/1.1 200 OK"
    std::string line = head.substr(0, line_end);
    int status = 0;
    if (line.size() >= 12 && line.compare(0, 7, "HTTP/1.") == 0 && line[8] == ' ' &&
        std::isdigit(static_cast<unsigned char>(line[9])) &&
        std::isdigit(static_cast<unsigned char>(line[10])) &&
        std::isdigit(static_cast<unsigned char>(line[11]))) {
      status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    } else {
      co_return Outcome{false, false, what + "malformed HTTP status line"};
    }
    error_code ignored;
    attempt.socket.close(ignored);
    // Kubernetes: any status in [200, 400) is a success.
    co_return Outcome{status >= 200 && status < 400, false, what + std::to_string(status)};
  }

  awaitable<Outcome> attemptExec(const ProbeSpec& spec, Attempt& attempt) {
    const std::string what = "exec [" + joinArgs(spec.argv) + "]: ";
    pid_t pid = -1;
    {
      posix_spawn_file_actions_t actions;
      posix_spawnattr_t attr;
      posix_spawn_file_actions_init(&actions);
      posix_spawnattr_init(&attr);
      for (int fd = 0; fd <= 2; ++fd) {
        posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY,
                                         0);
      }
      // Its own process group, so a timeout kills whatever it started too; signals as a fresh
      // process would have them, whatever the embedding process blocks or ignores.
      sigset_t none, all;
      sigemptyset(&none);
      sigfillset(&all);
      posix_spawnattr_setpgroup(&attr, 0);
      posix_spawnattr_setsigmask(&attr, &none);
      posix_spawnattr_setsigdefault(&attr, &all);
      posix_spawnattr_setflags(
          &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
      std::vector<char*> args;
      for (const auto& arg : spec.argv) args.push_back(const_cast<char*>(arg.c_str()));
      args.push_back(nullptr);
      int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
      posix_spawn_file_actions_destroy(&actions);
      posix_spawnattr_destroy(&attr);
      if (rc != 0) co_return Outcome{false, false, what + lowerFirst(std::strerror(rc))};
    }
    attempt.child = pid;

    // The loop learns of the exit through a pidfd; where the kernel has none (before 5.3), a
    // helper thread waits without reaping, so the child stays ours to kill until the loop
    // reaps it.
    error_code ec;
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (pidfd >= 0) {
      asio::posix::stream_descriptor exited(io, pidfd);
      co_await exited.async_wait(asio::posix::descriptor_base::wait_read,
                                 asio::redirect_error(asio::use_awaitable, ec));
    } else {
      asio::steady_timer exited(io, asio::steady_timer::time_point::max());
      std::thread waiter([this, pid, &exited] {
        siginfo_t info;
        while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) < 0 &&
               errno == EINTR) {
        }
        asio::post(io, [&exited] { exited.cancel(); });
      });
      co_await exited.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      waiter.join();
    }
    int wstatus = 0;
    pid_t reaped;
    while ((reaped = ::waitpid(pid, &wstatus, 0)) < 0 && errno == EINTR) {
    }
    attempt.child = -1;
    if (auto o = interrupted(attempt, spec, what)) co_return *o;
    if (reaped < 0) co_return Outcome{false, false, what + lowerFirst(std::strerror(errno))};
    if (WIFEXITED(wstatus)) {
      int code = WEXITSTATUS(wstatus);
      co_return Outcome{code == 0, false, what + "exit code " + std::to_string(code)};
    }
    co_return Outcome{false, false, what + "killed by signal " + std::to_string(WTERMSIG(wstatus))};
  }
};

Prober::Prober() : loop_(std::make_unique<Loop>()) {}

Prober::~Prober() { stop(); }

Status Prober::start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return Status(StatusCode::kConflict, "the prober was stopped; make a new one");
  if (started_) return Status::ok();
  started_ = true;
  thread_ = std::thread([loop = loop_.get()] {
    loop->thread_id = std::this_thread::get_id();
    loop->io.run();
  });
  return Status::ok();
}

void Prober::stop() {
  SKIFF_ASSERT(!loop_->onLoop(), "Prober::stop() called from a probe callback");
  std::map<std::string, std::shared_ptr<Probe>> probes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    probes.swap(probes_);
  }
  for (auto& [id, probe] : probes) probe->removed = true;
  if (thread_.joinable()) {
    asio::post(loop_->io, [loop = loop_.get()] { loop->shutdown(); });
    thread_.join();
  }
}

Result<uint64_t> Prober::add(const std::string& id, ProbeSpec spec, ProbeCallback callback) {
  if (Status s = validateProbeSpec(spec); !s.isOk()) return s;
  auto probe = std::make_shared<Probe>();
  probe->id = id;
  probe->spec = std::move(spec);
  probe->callback = std::move(callback);
  std::shared_ptr<Probe> replaced;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return unavailable("the prober is stopped; probe \"" + id + "\" not added");
    probe->handle = next_handle_++;
    auto& slot = probes_[id];
    replaced = std::move(slot);
    slot = probe;
  }
  if (replaced) retire(replaced);
  loop_->spawn(probe);
  return probe->handle;
}

void Prober::remove(const std::string& id) {
  std::shared_ptr<Probe> probe;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = probes_.find(id);
    if (it == probes_.end()) return;
    probe = std::move(it->second);
    probes_.erase(it);
  }
  retire(probe);
}

void Prober::retire(const std::shared_ptr<Probe>& probe) {
  probe->removed = true;
  asio::post(loop_->io, [loop = loop_.get(), probe] { loop->cancel(*probe); });
  if (!loop_->onLoop()) {
    // A callback of this probe may be running right now; once it has returned, `removed`
    // keeps any later one from starting.
    std::lock_guard<std::mutex> wait_for_callback(loop_->callback_mu);
  }
}

}  // namespace skiff::runtime
