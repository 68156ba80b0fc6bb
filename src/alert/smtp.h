// A minimal SMTP client (RFC 5321) for email receivers: connect, EHLO, AUTH PLAIN when a
// username is given, MAIL FROM, RCPT TO per recipient, DATA (dot-stuffed), QUIT. Plain TCP
// only: without STARTTLS a password would cross the network in the clear, so AUTH is refused
// unless the server is on loopback (a local relay such as Postfix that forwards over TLS).
//
// Errors: kUnavailable for what may pass (connecting, timeouts, 4xx replies), kInvalid for a
// permanent refusal (5xx replies), each naming the step and the server's reply. One call per
// message; thread-safe (shares nothing).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/status.h"

namespace skiff::alert {

struct SmtpRequest {
  std::string smarthost;  // host:port
  std::string helo = "skiff";
  std::string username;  // empty: no AUTH
  std::string password;
  std::string from;
  std::vector<std::string> to;
  std::string message;  // headers and body, CRLF line ends
  std::chrono::milliseconds timeout{std::chrono::seconds(15)};
};

Status sendMail(const SmtpRequest& request);

}  // namespace skiff::alert
