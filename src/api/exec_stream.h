// One interactive exec session over a WebSocket, in the protocol of net/exec_protocol.h.
//
// runExecStream() pumps one session on the calling thread (a thread of its own: it blocks)
// until the command has ended and its status was sent, or the peer left (or the server
// stopped) and the command was ended: hung up on (a local command's process group gets
// SIGHUP), killed after a grace period. Either way the command is reaped before it returns.
#pragma once

#include <chrono>
#include <cstdint>

#include "api/websocket_channel.h"
#include "net/exec_protocol.h"
#include "runtime/exec_session.h"

namespace skiff {

struct ExecStreamOptions {
  bool stdin = false;  // whether the client's stdin messages reach the command
  // How long a command whose user left has between SIGHUP and SIGKILL.
  std::chrono::milliseconds hangup_grace{2000};
};

void runExecStream(runtime::ExecSession& session, WebSocketChannel& channel,
                   const ExecStreamOptions& options);

}  // namespace skiff
