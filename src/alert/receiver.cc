#include "alert/receiver.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdio>
#include <ctime>

#include "alert/template.h"

namespace skiff::alert {

namespace {

std::optional<SecretKeyRef> secretRef(const json& obj, const char* key) {
  if (!obj.contains(key) || !obj[key].is_object()) return std::nullopt;
  return SecretKeyRef{obj[key].value("name", ""), obj[key].value("key", "")};
}

json labelsJson(const Labels& labels) {
  json out = json::object();
  for (const auto& [k, v] : labels) out[k] = v;
  return out;
}

}  // namespace

ReceiverRoute ReceiverConfig::route() const {
  return {tenant, name, send_resolved, default_rules,
          std::holds_alternative<AlertmanagerTarget>(target)};
}

ReceiverConfig receiverFromObject(const Object& object) {
  const json& spec = object.spec;
  ReceiverConfig config;
  config.tenant = object.metadata.tenant;
  config.name = object.metadata.name;
  config.send_resolved = spec.value("sendResolved", true);
  config.default_rules = spec.value("defaultRules", false);
  if (spec.contains("alertmanager") && spec["alertmanager"].is_object()) {
    config.target = AlertmanagerTarget{spec["alertmanager"].value("url", "")};
  } else if (spec.contains("email") && spec["email"].is_object()) {
    const json& e = spec["email"];
    EmailTarget t;
    t.smarthost = e.value("smarthost", "");
    t.from = e.value("from", "");
    t.to = stringsAt(e, "to");
    t.username = e.value("username", "");
    t.password = secretRef(e, "password");
    config.target = t;
  } else {
    const json w = spec.value("webhook", json::object());
    WebhookTarget t;
    t.url = w.value("url", "");
    t.secret = secretRef(w, "secret");
    if (w.contains("headers") && w["headers"].is_object())
      for (auto it = w["headers"].begin(); it != w["headers"].end(); ++it)
        if (it->is_string()) t.headers.emplace_back(it.key(), it->get<std::string>());
    config.target = t;
  }
  return config;
}

std::string formatAlertTime(TimePoint t) {
  if (t == TimePoint{}) return "0001-01-01T00:00:00Z";
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const time_t seconds = static_cast<time_t>(ms / 1000);
  struct tm tm {};
  gmtime_r(&seconds, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

std::string webhookBody(const Notification& n) {
  json alerts = json::array();
  for (const Alert& a : n.alerts) {
    alerts.push_back({{"status", a.state == AlertState::kFiring ? "firing" : "resolved"},
                      {"labels", labelsJson(a.labels)},
                      {"annotations", labelsJson(a.annotations)},
                      {"startsAt", formatAlertTime(a.active_at)},
                      {"firedAt", formatAlertTime(a.fired_at)},
                      {"endsAt", formatAlertTime(a.state == AlertState::kResolved ? a.resolved_at
                                                                                  : TimePoint{})},
                      {"fingerprint", a.fingerprint},
                      {"value", formatValue(a.value)}});
  }
  json body = {{"version", "4"},
               {"status", n.firing() ? "firing" : "resolved"},
               {"receiver", n.receiver},
               {"tenant", n.tenant},
               {"groupKey", n.group_key},
               {"groupLabels", labelsJson(n.group_labels)},
               {"commonLabels", labelsJson(n.commonLabels())},
               {"commonAnnotations", labelsJson(n.commonAnnotations())},
               {"sentAt", formatAlertTime(n.at)},
               {"alerts", alerts}};
  return body.dump();
}

std::string signatureOf(const std::string& body, const std::string& key) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &length);
  std::string out = "sha256=";
  char hex[3];
  for (unsigned int i = 0; i < length; ++i) {
    std::snprintf(hex, sizeof hex, "%02x", mac[i]);
    out += hex;
  }
  return out;
}

std::string alertmanagerBody(const Notification& n, std::chrono::milliseconds firing_ends_after) {
  json alerts = json::array();
  for (const Alert& a : n.alerts) {
    const TimePoint ends =
        a.state == AlertState::kResolved
            ? a.resolved_at
            : n.at + std::chrono::duration_cast<TimePoint::duration>(firing_ends_after);
    alerts.push_back({{"labels", labelsJson(a.labels)},
                      {"annotations", labelsJson(a.annotations)},
                      {"startsAt", formatAlertTime(a.active_at)},
                      {"endsAt", formatAlertTime(ends)},
                      {"generatorURL", ""}});
  }
  return alerts.dump();
}

std::string emailMessage(const Notification& n, const EmailTarget& target) {
  size_t firing = 0;
  for (const Alert& a : n.alerts) firing += a.state == AlertState::kFiring ? 1 : 0;
  std::string subject =
      n.firing() ? "[FIRING:" + std::to_string(firing) + "] " + n.rule : "[RESOLVED] " + n.rule;
  for (const auto& [k, v] : n.group_labels)
    if (k != "alertname") subject += " " + k + "=" + v;
  std::string to;
  for (const std::string& address : target.to) to += (to.empty() ? "" : ", ") + address;
  // Label values come from series and logs: no line breaks may reach the headers.
  auto oneLine = [](std::string text) {
    for (char& c : text)
      if (c == '\r' || c == '\n') c = ' ';
    return text;
  };
  const std::time_t seconds = std::chrono::system_clock::to_time_t(n.at);
  struct tm tm {};
  gmtime_r(&seconds, &tm);
  char date[64];
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  std::string m;
  m += "From: " + target.from + "\r\n";
  m += "To: " + to + "\r\n";
  m += "Subject: " + oneLine(subject) + "\r\n";
  m += std::string("Date: ") + date + "\r\n";
  m += "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n";
  m += "Tenant " + n.tenant + ", receiver " + n.receiver + "\r\n";
  for (const Alert& a : n.alerts) {
    m += "\r\n[" + std::string(alertStateName(a.state)) + "] " + a.rule +
         " value=" + formatValue(a.value) + "\r\n";
    m += "  since " + formatAlertTime(a.active_at);
    if (a.state == AlertState::kResolved) m += ", resolved " + formatAlertTime(a.resolved_at);
    m += "\r\n";
    for (const auto& [k, v] : a.labels) m += "  " + k + "=" + oneLine(v) + "\r\n";
    for (const auto& [k, v] : a.annotations) m += "  " + k + ": " + oneLine(v) + "\r\n";
  }
  return m;
}

}  // namespace skiff::alert
