#include "alert/alert_state.h"

#include <openssl/sha.h>

#include <cstdio>

#include "alert/template.h"

namespace skiff::alert {

const char* alertStateName(AlertState state) {
  switch (state) {
    case AlertState::kPending:
      return "pending";
    case AlertState::kFiring:
      return "firing";
    case AlertState::kResolved:
      return "resolved";
  }
  return "unknown";
}

std::string fingerprintOf(const Labels& labels) {
  // Separators that cannot occur in label names keep {a="b,c"} apart from {a="b", c=...}.
  std::string text;
  for (const auto& [name, value] : labels) {
    text += name;
    text += '\xff';
    text += value;
    text += '\xfe';
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  char hex[17];
  for (int i = 0; i < 8; ++i) std::snprintf(hex + 2 * i, 3, "%02x", digest[i]);
  return std::string(hex, 16);
}

int RuleAlerts::update(const Rule& rule, const std::vector<ActiveSeries>& active, TimePoint now) {
  int changed = 0;
  std::map<std::string, const ActiveSeries*> holding;
  std::map<std::string, Labels> labels_of;
  for (const ActiveSeries& series : active) {
    Labels labels = series.labels;
    for (const auto& [k, v] : rule.labels) labels[k] = v;
    labels["alertname"] = rule.name;
    labels["severity"] = rule.severity;
    labels["tenant"] = rule.tenant;
    std::string fp = fingerprintOf(labels);
    holding[fp] = &series;
    labels_of[fp] = std::move(labels);
  }
  for (auto& [fp, series] : holding) {
    auto it = alerts_.find(fp);
    if (it == alerts_.end() || it->second.state == AlertState::kResolved) {
      Alert alert;
      alert.tenant = rule.tenant;
      alert.rule = rule.name;
      alert.labels = labels_of[fp];
      alert.fingerprint = fp;
      alert.active_at = now;
      alerts_[fp] = std::move(alert);
      it = alerts_.find(fp);
      ++changed;
    }
    Alert& alert = it->second;
    alert.value = series->value;
    if (alert.state == AlertState::kPending && now - alert.active_at >= rule.for_duration) {
      alert.state = AlertState::kFiring;
      alert.fired_at = now;
      ++changed;
    }
    alert.annotations.clear();
    for (const auto& [k, text] : rule.annotations)
      alert.annotations[k] = expandTemplate(text, alert.labels, alert.value, rule.name);
  }
  for (auto it = alerts_.begin(); it != alerts_.end();) {
    Alert& alert = it->second;
    if (holding.count(it->first) > 0) {
      ++it;
      continue;
    }
    if (alert.state == AlertState::kPending) {
      it = alerts_.erase(it);
      ++changed;
      continue;
    }
    if (alert.state == AlertState::kFiring) {
      alert.state = AlertState::kResolved;
      alert.resolved_at = now;
      ++changed;
    }
    if (now - alert.resolved_at > keep_resolved_) {
      it = alerts_.erase(it);
      continue;
    }
    ++it;
  }
  return changed;
}

std::vector<Alert> RuleAlerts::alerts() const {
  std::vector<Alert> out;
  out.reserve(alerts_.size());
  for (const auto& [fp, alert] : alerts_) out.push_back(alert);
  return out;
}

size_t RuleAlerts::count(AlertState state) const {
  size_t n = 0;
  for (const auto& [fp, alert] : alerts_) n += alert.state == state ? 1 : 0;
  return n;
}

}  // namespace skiff::alert
