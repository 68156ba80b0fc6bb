// Pod exec: a command run in a pod's container through the API server's exec endpoint, as a
// runtime::ExecSession, so the API's exec endpoint streams it exactly as a local one.
//
// The API server speaks Kubernetes' channel protocol over a WebSocket (v5.channel.k8s.io, else
// v4.channel.k8s.io): every message's first byte names a stream — 0 stdin, 1 stdout, 2 stderr,
// 3 the command's end (a metav1.Status: Success, or Failure whose details.causes hold the
// ExitCode), 4 terminal size ({"Width", "Height"}), and with v5, 255 closes a stream (255 0:
// stdin's EOF). The session bridges it to pipes: what the user types goes from stdinFd() to
// stream 0, streams 1 and 2 come out of stdoutFd() and stderrFd(), and the end becomes the
// exit code. It has no local process (pid() is -1): pollExit() says when it ended.
//
// Each session runs two threads of its own (input, and what the server sends), joined by its
// destructor, which drops the connection first.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kube/client.h"
#include "runtime/exec_session.h"

namespace skiff::kube {

// The exit code that a stream-3 message (a metav1.Status) reports; an error carrying the
// server's message when the command could not run or ended without an exit code.
Result<int> execExitCode(std::string_view status);

// Starts `argv` in `container` of pod `ns`/`pod`. Fails as Client::openWebSocket() does (a pod
// that is gone is kNotFound naming it).
Result<std::unique_ptr<runtime::ExecSession>> startPodExec(Client& client, const std::string& ns,
                                                           const std::string& pod,
                                                           const std::string& container,
                                                           const std::vector<std::string>& argv,
                                                           bool tty);

}  // namespace skiff::kube
