// The interactive exec protocol, subprotocol "v1.exec.skiff.dev": Kubernetes' channel framing
// over a WebSocket. Every message is binary; its first byte names the stream, the rest is the
// payload:
//   0  stdin   client → server  bytes for the command's input
//   1  stdout  server → client  the command's output (with a terminal: all of it)
//   2  stderr  server → client  the command's error output (never with a terminal)
//   3  status  server → client  once, last: {"exitCode": N} or {"error": "..."}; then the server
//                               closes the connection
//   4  resize  client → server  {"width": COLUMNS, "height": ROWS}: the terminal's size
//   255 close  client → server  payload 0 (stdin): no more input; the command reads EOF (with a
//                               terminal, the terminal's EOF character ^D is sent instead)
// Unknown streams are ignored, so that clients may send what later versions understand.
//
// runExecStream() pumps one session on the calling thread (a thread of its own: it blocks)
// until the command has ended and its status was sent, or the peer left (or the server
// stopped) and the command was ended: hung up on (a local command's process group gets
// SIGHUP), killed after a grace period. Either way the command is reaped before it returns.
#pragma once

#include <chrono>
#include <cstdint>

#include "api/websocket_channel.h"
#include "runtime/exec_session.h"

namespace skiff {

inline constexpr const char* kExecSubprotocol = "v1.exec.skiff.dev";

enum class ExecStreamId : uint8_t {
  kStdin = 0,
  kStdout = 1,
  kStderr = 2,
  kStatus = 3,
  kResize = 4,
  kClose = 255,
};

struct ExecStreamOptions {
  bool stdin = false;  // whether the client's stdin messages reach the command
  // How long a command whose user left has between SIGHUP and SIGKILL.
  std::chrono::milliseconds hangup_grace{2000};
};

void runExecStream(runtime::ExecSession& session, WebSocketChannel& channel,
                   const ExecStreamOptions& options);

}  // namespace skiff
