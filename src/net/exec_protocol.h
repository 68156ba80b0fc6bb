// The interactive exec protocol of Skiff's API, subprotocol "v1.exec.skiff.dev": Kubernetes'
// channel framing over a WebSocket, shared by the server (api/exec_stream.h) and the CLI.
// Every message is binary; its first byte names the stream, the rest is the payload:
//   0  stdin   client → server  bytes for the command's input
//   1  stdout  server → client  the command's output (with a terminal: all of it)
//   2  stderr  server → client  the command's error output (never with a terminal)
//   3  status  server → client  once, last: {"exitCode": N} or {"error": "..."}; then the server
//                               closes the connection
//   4  resize  client → server  {"width": COLUMNS, "height": ROWS}: the terminal's size
//   255 close  client → server  payload 0 (stdin): no more input; the command reads EOF (with a
//                               terminal, the terminal's EOF character ^D is sent instead)
// Unknown streams are ignored, so that clients may send what later versions understand.
#pragma once

#include <cstdint>

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

// The first byte of a message on `stream`.
constexpr char streamByte(ExecStreamId stream) { return static_cast<char>(stream); }

}  // namespace skiff
