// Receivers: where a tenant's notifications go, read from its Receiver objects, and what is
// sent there — the request bodies of each kind (docs/alerting.md shows them):
//
//  - webhook: Alertmanager's webhook body ({version, status, receiver, groupLabels,
//    commonLabels, commonAnnotations, alerts: [...]}) plus Skiff's fields, signed with the
//    HMAC-SHA256 of the body under the receiver's secret: `X-Skiff-Signature: sha256=<hex>`,
//    and `X-Skiff-Timestamp` (Unix seconds of sending);
//  - alertmanager: Alertmanager's v2 API, POST {url}/api/v2/alerts with [{labels, annotations,
//    startsAt, endsAt, generatorURL}]; a firing alert's endsAt lies ahead (Alertmanager
//    resolves it then unless it is posted again), a resolved one's is its resolution;
//  - email: a plain-text message over SMTP (alert/smtp.h).
//
// Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "alert/notifier.h"
#include "model/object.h"

namespace skiff::alert {

struct SecretKeyRef {
  std::string name;
  std::string key;
};

struct WebhookTarget {
  std::string url;
  std::optional<SecretKeyRef> secret;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct AlertmanagerTarget {
  std::string url;  // base URL
};

struct EmailTarget {
  std::string smarthost;  // host:port
  std::string from;
  std::vector<std::string> to;
  std::string username;
  std::optional<SecretKeyRef> password;
};

struct ReceiverConfig {
  std::string tenant;
  std::string name;
  std::variant<WebhookTarget, AlertmanagerTarget, EmailTarget> target;
  bool send_resolved = true;
  bool default_rules = false;

  ReceiverRoute route() const;
};

// The receiver an admitted Receiver object describes.
ReceiverConfig receiverFromObject(const Object& object);

// RFC 3339 UTC with milliseconds ("2026-01-31T08:00:00.250Z"); the epoch gives Go's zero time
// ("0001-01-01T00:00:00Z"), as Alertmanager writes an unset endsAt.
std::string formatAlertTime(TimePoint t);

// The webhook body of a notification.
std::string webhookBody(const Notification& n);
// "sha256=" and the hex HMAC-SHA256 of `body` under `key`.
std::string signatureOf(const std::string& body, const std::string& key);
// The Alertmanager v2 body; firing alerts end `firing_ends_after` from n.at unless posted again.
std::string alertmanagerBody(const Notification& n, std::chrono::milliseconds firing_ends_after);
// The email message (headers and body, CRLF line ends, not yet dot-stuffed).
std::string emailMessage(const Notification& n, const EmailTarget& target);

}  // namespace skiff::alert
