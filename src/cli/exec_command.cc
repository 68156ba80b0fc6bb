// `skiff exec APP/COMPONENT[/INSTANCE] [-i] [-t] -- COMMAND...`: runs a command inside a
// running instance and exits with its exit code. Without an instance name, the component's
// first ready instance (by name) is used.
//
// Without -i and -t: one POST /api/v1/tenants/{t}/instances/{name}/exec, which answers with
// the output once the command has ended. With -i (forward standard input as it comes) or -t
// (give the command a terminal): a WebSocket session on the same path (api/exec_stream.h has
// the protocol), output shown as it comes; with -t and a terminal on standard input, that
// terminal is in raw mode meanwhile (so Ctrl-C, Ctrl-D and the like reach the command) and its
// size follows the local one (SIGWINCH).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ostream>
#include <sstream>
#include <thread>

#include "cli/api_client.h"
#include "cli/subcommands.h"
#include "cli/terminal.h"
#include "model/kinds.h"
#include "model/well_known.h"
#include "net/exec_protocol.h"
#include "net/websocket.h"

namespace skiff::cli {

namespace {

// The instance `target` names, or the component's first ready one.
Result<std::string> resolveInstance(ApiClient& client, const std::string& tenant,
                                    const std::string& target) {
  std::vector<std::string> parts;
  std::stringstream in(target);
  for (std::string part; std::getline(in, part, '/');) parts.push_back(part);
  if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty())
    return badRequest("cannot read \"" + target +
                      "\": write APPLICATION/COMPONENT or APPLICATION/COMPONENT/INSTANCE");
  if (parts.size() == 3) return parts[2];
  ListQuery query;
  query.kind = findKind("Instance");
  query.tenant = tenant;
  query.label_selector =
      std::string(kApplicationLabel) + "=" + parts[0] + "," + kComponentLabel + "=" + parts[1];
  auto list = client.list(query);
  if (!list.ok()) return list.status();
  const json items = list->value("items", json::array());
  std::string first;
  for (const auto& item : items) {
    const std::string name = item["metadata"].value("name", "");
    if (item.value("status", json::object()).value("ready", false) &&
        (first.empty() || name < first))
      first = name;
  }
  if (first.empty())
    return notFound("component " + parts[1] + " of application " + parts[0] + " in tenant " +
                    tenant + " has no ready instance (skiff get instances -n " + tenant + ")");
  return first;
}

constexpr char kStdinStream = streamByte(ExecStreamId::kStdin);
constexpr char kStdoutStream = streamByte(ExecStreamId::kStdout);
constexpr char kStderrStream = streamByte(ExecStreamId::kStderr);
constexpr char kStatusStream = streamByte(ExecStreamId::kStatus);
constexpr char kResizeStream = streamByte(ExecStreamId::kResize);
constexpr char kCloseStream = streamByte(ExecStreamId::kClose);

// Written by the SIGWINCH handler: the input pump's cue to send the terminal's new size.
int g_winch_fd = -1;

extern "C" void noteResize(int) {
  const int saved = errno;
  if (g_winch_fd >= 0) (void)!::write(g_winch_fd, "w", 1);
  errno = saved;
}

std::string resizeMessage(const TerminalSize& size) {
  return std::string(1, kResizeStream) +
         json{{"width", size.columns}, {"height", size.rows}}.dump();
}

// The local terminal whose size the remote one follows: standard output's, else input's.
std::optional<TerminalSize> localTerminalSize() {
  if (auto size = terminalSize(STDOUT_FILENO)) return size;
  return terminalSize(STDIN_FILENO);
}

// Sends standard input (with `forward_input`) and terminal resizes (with `follow_size`) until
// told to stop through `control` ('q'), on a thread of its own.
void pumpInput(net::WebSocketClient& socket, int control, bool forward_input, bool follow_size) {
  bool input_open = forward_input;
  char buf[32 * 1024];
  for (;;) {
    pollfd fds[2] = {{control, POLLIN, 0}, {input_open ? STDIN_FILENO : -1, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[0].revents != 0) {
      char cue[64];
      const ssize_t n = ::read(control, cue, sizeof cue);
      for (ssize_t i = 0; i < n; ++i) {
        if (cue[i] == 'q') return;
        if (cue[i] == 'w' && follow_size)
          if (auto size = localTerminalSize()) socket.send(resizeMessage(*size));
      }
    }
    if (fds[1].revents == 0) continue;
    const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      // The end of input (or an input that broke): the command reads EOF.
      socket.send(std::string{kCloseStream, kStdinStream});
      input_open = false;
      if (!follow_size) return;
      continue;
    }
    if (!socket.send(kStdinStream + std::string(buf, static_cast<size_t>(n)))) return;
  }
}

Status refusalStatus(const ApiClient& client, const net::ClientResponse& refusal) {
  Status status = statusFromErrorReply(refusal.status, refusal.body);
  if (status.code() != StatusCode::kUnauthenticated) return status;
  return Status(StatusCode::kUnauthenticated,
                "not logged in to " + client.baseUrl() +
                    ": run skiff login (server said: " + status.message() + ")");
}

// The interactive form: a WebSocket session for as long as the command runs.
int runInteractive(CommandContext& ctx, const ExecOptions& options, const std::string& tenant,
                   const std::string& instance) {
  std::string target = "/api/v1/tenants/" + urlEncode(tenant) + "/instances/" +
                       urlEncode(instance) + "/exec?tty=" + (options.tty ? "true" : "false") +
                       "&stdin=" + (options.stdin ? "true" : "false");
  for (const auto& arg : options.command) target += "&command=" + urlEncode(arg);
  net::WebSocketRequest request;
  request.url = ctx.client.baseUrl() + target;
  request.subprotocols = {kExecSubprotocol};
  if (!ctx.client.token().empty())
    request.headers.emplace_back("Authorization", "Bearer " + ctx.client.token());
  auto opened = net::WebSocketClient::open(request, ctx.client.tls());
  if (!opened.ok()) return reportError(ctx.err, ctx.client.unreachable(opened.status()));
  if (!opened->client) return reportError(ctx.err, refusalStatus(ctx.client, opened->refusal));
  net::WebSocketClient& socket = *opened->client;

  // Raw mode only for a person at a terminal; piped input is forwarded as it is.
  std::unique_ptr<RawTerminal> raw;
  if (options.tty && options.stdin && stdinIsTerminal()) {
    auto entered = RawTerminal::enter();
    if (!entered.ok()) return reportError(ctx.err, entered.status());
    raw = std::move(entered).value();
  }
  const bool follow_size = options.tty && localTerminalSize().has_value();
  if (follow_size) socket.send(resizeMessage(*localTerminalSize()));

  int control[2];
  if (::pipe2(control, O_CLOEXEC | O_NONBLOCK) != 0)
    return reportError(ctx.err, internalError(std::string("pipe: ") + std::strerror(errno)));
  struct sigaction previous_winch {};
  if (follow_size) {
    g_winch_fd = control[1];
    struct sigaction winch {};
    winch.sa_handler = noteResize;
    winch.sa_flags = SA_RESTART;
    sigemptyset(&winch.sa_mask);
    ::sigaction(SIGWINCH, &winch, &previous_winch);
  }
  std::thread input;
  if (options.stdin || follow_size)
    input = std::thread(pumpInput, std::ref(socket), control[0], options.stdin, follow_size);

  std::optional<int> exit_code;
  std::string remote_error;
  while (auto message = socket.receive()) {
    if (message->empty()) continue;
    const std::string_view payload = std::string_view(*message).substr(1);
    switch ((*message)[0]) {
      case kStdoutStream:
        ctx.out.write(payload.data(), static_cast<std::streamsize>(payload.size()));
        ctx.out.flush();
        break;
      case kStderrStream:
        ctx.err.write(payload.data(), static_cast<std::streamsize>(payload.size()));
        ctx.err.flush();
        break;
      case kStatusStream: {
        const json status = json::parse(payload, nullptr, false);
        if (status.is_object() && status.contains("exitCode") &&
            status["exitCode"].is_number_integer())
          exit_code = status["exitCode"].get<int>();
        else
          remote_error =
              status.is_object() && status.contains("error") && status["error"].is_string()
                  ? status["error"].get<std::string>()
                  : "the server sent a status that is not one: " + std::string(payload);
        break;
      }
      default:
        break;  // streams of later versions
    }
  }

  (void)!::write(control[1], "q", 1);
  if (input.joinable()) input.join();
  if (follow_size) {
    ::sigaction(SIGWINCH, &previous_winch, nullptr);
    g_winch_fd = -1;
  }
  ::close(control[0]);
  ::close(control[1]);
  raw.reset();  // before any message, so that it reads as usual
  if (exit_code) return *exit_code;
  if (!remote_error.empty()) return reportError(ctx.err, internalError(remote_error));
  Status ending = socket.ending();
  return reportError(ctx.err, Status(StatusCode::kUnavailable,
                                     "the session ended before the command did: " +
                                         (ending.isOk() ? std::string("the server closed it")
                                                        : ending.message())));
}

}  // namespace

int runExec(CommandContext& ctx, const ExecOptions& options) {
  if (options.command.empty())
    return reportError(ctx.err,
                       badRequest("give the command after --, e.g. skiff exec shop/web -- ls /"));
  const std::string tenant = options.tenant.effective();
  auto instance = resolveInstance(ctx.client, tenant, options.target);
  if (!instance.ok()) return reportError(ctx.err, instance.status());
  if (options.stdin || options.tty) return runInteractive(ctx, options, tenant, *instance);
  const json body = {{"command", options.command}, {"tty", false}};
  auto answer = ctx.client.request(
      "POST",
      "/api/v1/tenants/" + urlEncode(tenant) + "/instances/" + urlEncode(*instance) + "/exec",
      body);
  if (!answer.ok()) return reportError(ctx.err, answer.status());
  ctx.out << answer->value("stdout", "");
  ctx.err << answer->value("stderr", "");
  if (answer->value("timedOut", false)) ctx.err << "error: the command timed out and was killed\n";
  return answer->value("exitCode", 1);
}

}  // namespace skiff::cli
