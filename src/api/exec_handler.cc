#include "api/exec_handler.h"

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <system_error>
#include <thread>

#include <nlohmann/json.hpp>

#include "api/errors.h"
#include "api/exec_stream.h"

namespace skiff {

namespace {

using nlohmann::json;

constexpr size_t kMaxOutput = 4 << 20;

struct ExecPath {
  std::string tenant;
  std::string instance;
};

// /api/v1/tenants/{t}/instances/{name}/exec
std::optional<ExecPath> parseExecPath(const std::string& path) {
  static const std::string prefix = "/api/v1/tenants/";
  if (path.rfind(prefix, 0) != 0) return std::nullopt;
  const std::string rest = path.substr(prefix.size());
  const size_t a = rest.find('/');
  if (a == std::string::npos || rest.compare(a, 11, "/instances/") != 0) return std::nullopt;
  const size_t b = rest.find('/', a + 11);
  if (b == std::string::npos || rest.substr(b) != "/exec") return std::nullopt;
  return ExecPath{rest.substr(0, a), rest.substr(a + 11, b - a - 11)};
}

Status invalid(const std::string& field, const std::string& message) {
  return Status(StatusCode::kInvalid, "the exec request is invalid", {{field, message}});
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Whether a comma-separated header value lists `token` (subprotocols are case-sensitive).
bool listsToken(const std::string& header, const std::string& token) {
  size_t start = 0;
  while (start <= header.size()) {
    size_t end = header.find(',', start);
    if (end == std::string::npos) end = header.size();
    const std::string item = header.substr(start, end - start);
    const size_t first = item.find_first_not_of(" \t");
    const size_t last = item.find_last_not_of(" \t");
    if (first != std::string::npos && item.substr(first, last - first + 1) == token) return true;
    start = end + 1;
  }
  return false;
}

// A boolean query parameter: absent is false.
Result<bool> flagParam(const HttpRequest& request, const std::string& name) {
  const std::string* value = request.queryParam(name);
  if (value == nullptr || *value == "false" || *value == "0") return false;
  if (value->empty() || *value == "true" || *value == "1") return true;
  return Status(StatusCode::kBadRequest,
                "query parameter " + name + " must be true or false, got \"" + *value + "\"");
}

}  // namespace

bool ExecHandler::handles(const HttpRequest& request) {
  return parseExecPath(request.path).has_value();
}

ExecHandler::~ExecHandler() {
  std::unique_lock lock(mu_);
  stopping_ = true;
  for (const auto& channel : sessions_) channel->end();
  released_.wait(lock, [this] { return sessions_.empty(); });
}

HttpResponse ExecHandler::handle(HttpRequest& request) {
  auto path = parseExecPath(request.path);
  if (!path) return errorResponse(notFound("no exec endpoint at " + request.path));
  if (request.method == "POST") return runToEnd(request, path->tenant, path->instance);
  if (request.method == "GET") return openSession(request, path->tenant, path->instance);
  return methodNotAllowed(request, "exec", "POST, or GET with a WebSocket upgrade");
}

bool ExecHandler::admit(const std::shared_ptr<WebSocketChannel>& channel) {
  std::lock_guard lock(mu_);
  if (stopping_ || sessions_.size() >= static_cast<size_t>(max_sessions_)) return false;
  sessions_.insert(channel);
  return true;
}

void ExecHandler::release(const std::shared_ptr<WebSocketChannel>& channel) {
  std::lock_guard lock(mu_);
  sessions_.erase(channel);
  // Under the lock: the destructor cannot return (and free the condition) before this is done.
  released_.notify_all();
}

HttpResponse ExecHandler::openSession(HttpRequest& request, const std::string& tenant,
                                      const std::string& instance) {
  if (!lower(request.header("upgrade")).starts_with("websocket"))
    return errorResponse(
        badRequest("GET on exec opens an interactive session, which needs a WebSocket upgrade "
                   "(\"Upgrade: websocket\", subprotocol " +
                   std::string(kExecSubprotocol) + "); POST runs a command to its end"));
  if (!listsToken(request.header("sec-websocket-protocol"), kExecSubprotocol))
    return errorResponse(badRequest("the WebSocket client must offer the subprotocol " +
                                    std::string(kExecSubprotocol) +
                                    " (Sec-WebSocket-Protocol), the only one spoken here"));
  std::vector<std::string> argv = request.queryParams("command");
  if (argv.empty())
    return errorResponse(
        invalid("command",
                "is required: one command=... parameter per argument, e.g. ?command=ls&command=/"));
  auto tty = flagParam(request, "tty");
  if (!tty.ok()) return errorResponse(tty.status());
  auto input = flagParam(request, "stdin");
  if (!input.ok()) return errorResponse(input.status());
  ExecStreamOptions options;
  options.stdin = *input;
  return deferred([this, tenant, instance, argv = std::move(argv), tty = *tty,
                   options]() -> HttpResponse {
    auto channel = std::make_shared<WebSocketChannel>(kExecSubprotocol);
    if (!admit(channel))
      return errorResponse(unavailable("this server already runs its limit of " +
                                       std::to_string(max_sessions_) +
                                       " interactive exec sessions: try again when one ends"));
    auto session = executor_.exec(tenant, instance, argv, tty);
    if (!session.ok()) {
      release(channel);
      return errorResponse(session.status());
    }
    std::shared_ptr<runtime::ExecSession> owned = std::move(*session);
    try {
      std::thread([this, channel, owned, options]() mutable {
        runExecStream(*owned, *channel, options);
        owned.reset();  // its fds too
        release(channel);
      }).detach();
    } catch (const std::system_error& e) {
      // `owned` kills and reaps the command as it goes.
      release(channel);
      return errorResponse(unavailable(std::string("cannot start the exec session: ") + e.what()));
    }
    HttpResponse r;
    r.status = 101;
    r.websocket = std::move(channel);
    return r;
  });
}

HttpResponse ExecHandler::runToEnd(HttpRequest& request, const std::string& tenant,
                                   const std::string& instance) {
  const json body = json::parse(request.body, nullptr, false);
  if (!body.is_object()) return errorResponse(badRequest("the exec request must be a JSON object"));
  std::vector<std::string> argv;
  if (!body.contains("command") || !body["command"].is_array() || body["command"].empty())
    return errorResponse(invalid("command", "is required: the argv to run, e.g. [\"ls\", \"/\"]"));
  for (const auto& a : body["command"]) {
    if (!a.is_string()) return errorResponse(invalid("command", "must hold only strings"));
    argv.push_back(a.get<std::string>());
  }
  if (body.contains("stdin") && !body["stdin"].is_string())
    return errorResponse(invalid("stdin", "must be a string"));
  const double timeout_seconds = body.value("timeoutSeconds", 60.0);
  if (!(timeout_seconds > 0 && timeout_seconds <= 3600))
    return errorResponse(invalid("timeoutSeconds", "must be between 0 and 3600"));
  const bool tty = body.value("tty", false);
  std::string input = body.value("stdin", "");
  return deferred([this, tenant, instance, argv, tty, input = std::move(input),
                   timeout_seconds]() -> HttpResponse {
    auto session = executor_.exec(tenant, instance, argv, tty);
    if (!session.ok()) return errorResponse(session.status());
    runtime::ExecSession& s = **session;
    std::string out, err;
    bool truncated = false;
    size_t written = 0;
    if (input.empty() && !tty) s.closeStdin();
    const auto deadline =
        std::chrono::steady_clock::now() +
        std::chrono::milliseconds(static_cast<int64_t>(std::llround(timeout_seconds * 1000)));
    bool timed_out = false;
    int out_fd = s.stdoutFd(), err_fd = s.stderrFd();
    while (out_fd >= 0 || err_fd >= 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        timed_out = true;
        break;
      }
      pollfd fds[3];
      int n = 0;
      const bool want_write = written < input.size();
      if (out_fd >= 0)
        fds[n++] = {out_fd, static_cast<short>(POLLIN | (tty && want_write ? POLLOUT : 0)), 0};
      if (err_fd >= 0) fds[n++] = {err_fd, POLLIN, 0};
      if (!tty && want_write) fds[n++] = {s.stdinFd(), POLLOUT, 0};
      if (::poll(fds, n, static_cast<int>(std::min<int64_t>(left.count(), 1000))) < 0) continue;
      for (int i = 0; i < n; ++i) {
        if (fds[i].revents & POLLOUT) {
          ssize_t w = ::write(fds[i].fd, input.data() + written, input.size() - written);
          if (w > 0) written += static_cast<size_t>(w);
          if (written == input.size() && !tty) s.closeStdin();
        }
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        if (fds[i].fd != out_fd && fds[i].fd != err_fd) continue;
        char buf[16384];
        ssize_t r = ::read(fds[i].fd, buf, sizeof buf);
        if (r <= 0) {
          (fds[i].fd == out_fd ? out_fd : err_fd) = -1;
          continue;
        }
        std::string& sink = fds[i].fd == out_fd ? out : err;
        if (sink.size() + static_cast<size_t>(r) > kMaxOutput)
          truncated = true;
        else
          sink.append(buf, static_cast<size_t>(r));
      }
    }
    if (timed_out) s.kill();
    auto code = s.wait();
    if (!code.ok()) return errorResponse(code.status());
    json answer = {{"exitCode", timed_out ? 137 : *code}, {"stdout", out}, {"stderr", err}};
    if (timed_out) answer["timedOut"] = true;
    if (truncated) answer["truncated"] = true;
    HttpResponse r;
    r.status = 200;
    r.content_type = "application/json";
    r.body = answer.dump(-1, ' ', false, json::error_handler_t::replace);
    return r;
  });
}

}  // namespace skiff
