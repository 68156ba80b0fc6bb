#include "alert/alerting_service.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <spdlog/spdlog.h>

#include "alert/smtp.h"
#include "alert/template.h"

namespace skiff::alert {

namespace {

json labelsJson(const Labels& labels) {
  json out = json::object();
  for (const auto& [k, v] : labels) out[k] = v;
  return out;
}

std::string timeOrEmpty(TimePoint t) { return t == TimePoint{} ? "" : formatAlertTime(t); }

}  // namespace

AlertingService::AlertingService(Store& store, const observe::TimeSeriesStore& series,
                                 runtime::LogSource& logs, const Clock& clock, Options options)
    : store_(store),
      clock_(clock),
      options_(std::move(options)),
      send_(options_.send),
      metrics_(series, options_.metric_lookback),
      logs_(logs),
      events_(store),
      queue_(options_.delivery_workers) {
  if (!send_) send_ = [](const net::ClientRequest& r) { return net::fetch(r); };
}

AlertingService::~AlertingService() { stop(); }

void AlertingService::start() {
  queue_.start();
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { run(); });
}

void AlertingService::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  queue_.stop();
}

void AlertingService::run() {
  auto next = std::chrono::steady_clock::now();
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    evaluateOnce();
    lock.lock();
    // Rounds keep their cadence however long one took, but never pile up behind a slow one.
    next = std::max(next + options_.interval, std::chrono::steady_clock::now());
    wake_.wait_until(lock, next, [this] { return stopping_; });
  }
}

std::vector<Rule> AlertingService::loadRules(std::map<std::string, std::string>* errors) {
  std::vector<Rule> rules;
  std::set<std::pair<std::string, std::string>> named;  // (tenant, object name)
  for (const StoredObjectPtr& stored : store_.list("AlertRule", {}).items) {
    named.insert({stored->metadata.tenant, stored->metadata.name});
    auto rule = ruleFromObject(stored->object());
    if (!rule.ok()) {
      (*errors)[stored->metadata.tenant + "/" + stored->metadata.name] = rule.status().toString();
      continue;
    }
    rules.push_back(std::move(rule).value());
  }
  // Built-in rules for every tenant that has applications, unless an AlertRule replaces one.
  std::set<std::string> tenants;
  for (const StoredObjectPtr& app : store_.list("Application", {}).items)
    tenants.insert(app->metadata.tenant);
  for (const std::string& tenant : tenants) {
    for (Rule& builtin : builtinRules(tenant)) {
      bool replaced = false;
      for (auto it = named.lower_bound({tenant, ""}); it != named.end() && it->first == tenant;
           ++it)
        replaced = replaced || replacesBuiltin(it->second, builtin.name);
      if (!replaced) rules.push_back(std::move(builtin));
    }
  }
  return rules;
}

void AlertingService::evaluateOnce() {
  std::lock_guard round(round_mu_);
  const TimePoint now = clock_.now();
  std::map<std::string, std::string> errors;  // "tenant/rule" -> why it was not evaluated
  std::vector<Rule> rules = loadRules(&errors);

  std::set<std::string> evaluated;
  for (const Rule& rule : rules) {
    if (rule.disabled || std::holds_alternative<std::monostate>(rule.condition)) continue;
    const std::string key = rule.tenant + "/" + rule.name;
    Result<std::vector<ActiveSeries>> active = std::vector<ActiveSeries>{};
    if (const auto* m = std::get_if<MetricCondition>(&rule.condition))
      active = metrics_.evaluate(rule, *m, now);
    else if (const auto* l = std::get_if<LogCondition>(&rule.condition))
      active = logs_.evaluate(rule, *l, now);
    else if (const auto* e = std::get_if<EventCondition>(&rule.condition))
      active = events_.evaluate(rule, *e, now);
    evaluated.insert(key);
    auto [it, added] = rule_alerts_.try_emplace(key);
    // A failed evaluation leaves the alerts as they were: a broken query must not resolve them.
    if (!active.ok()) {
      errors[key] = active.status().message();
      continue;
    }
    it->second.update(rule, *active, now);
  }
  for (auto it = rule_alerts_.begin(); it != rule_alerts_.end();)
    it = evaluated.count(it->first) > 0 ? std::next(it) : rule_alerts_.erase(it);

  std::vector<Alert> alerts;
  for (const auto& [key, state] : rule_alerts_)
    for (Alert& a : state.alerts()) alerts.push_back(std::move(a));

  std::vector<Silence> silences;
  for (const StoredObjectPtr& stored : store_.list("Silence", {}).items) {
    const Object s = stored->object();
    Silence silence;
    silence.tenant = s.metadata.tenant;
    silence.name = s.metadata.name;
    const json matchers = s.spec.value("matchers", json::object());
    for (auto it = matchers.begin(); matchers.is_object() && it != matchers.end(); ++it)
      if (it->is_string()) silence.matchers[it.key()] = it->get<std::string>();
    if (!parsePreciseTimestamp(s.spec.value("startsAt", ""), &silence.starts_at))
      parseTimestamp(s.metadata.created_at, &silence.starts_at);
    if (!parsePreciseTimestamp(s.spec.value("endsAt", ""), &silence.ends_at)) continue;
    silence.comment = s.spec.value("comment", "");
    silences.push_back(std::move(silence));
  }
  std::map<std::pair<std::string, std::string>, ReceiverConfig> receivers;
  std::vector<ReceiverRoute> routes;
  for (const StoredObjectPtr& stored : store_.list("Receiver", {}).items) {
    ReceiverConfig config = receiverFromObject(stored->object());
    routes.push_back(config.route());
    receivers.emplace(std::make_pair(config.tenant, config.name), std::move(config));
  }

  {
    std::vector<std::string> failed;
    {
      std::lock_guard lock(failed_mu_);
      failed.swap(failed_groups_);
    }
    for (const std::string& group : failed) notifier_.forget(group);
  }
  for (const Notification& n : notifier_.tick(alerts, rules, silences, routes, now)) {
    auto it = receivers.find({n.tenant, n.receiver});
    if (it != receivers.end()) dispatch(n, it->second);
  }

  // The API's view, per tenant.
  std::map<std::string, const Rule*> rule_of;
  for (const Rule& r : rules) rule_of[r.tenant + "/" + r.name] = &r;
  std::map<std::string, json> view;
  const Suppression& held = notifier_.suppressed();
  for (const Alert& a : alerts) {
    const std::string id = a.tenant + "/" + a.fingerprint;
    const Rule* rule = rule_of[a.tenant + "/" + a.rule];
    json item = {{"rule", a.rule},
                 {"labels", labelsJson(a.labels)},
                 {"annotations", labelsJson(a.annotations)},
                 {"state", alertStateName(a.state)},
                 {"value", a.value},
                 {"activeAt", timeOrEmpty(a.active_at)},
                 {"firingAt", timeOrEmpty(a.fired_at)},
                 {"resolvedAt", timeOrEmpty(a.resolved_at)},
                 {"fingerprint", a.fingerprint},
                 {"silenced", held.silenced.count(id) > 0},
                 {"inhibited", held.inhibited.count(id) > 0},
                 {"builtin", rule != nullptr && rule->builtin}};
    if (!std::isfinite(a.value)) item["value"] = formatValue(a.value);
    auto& list = view[a.tenant];
    if (list.is_null()) list = json::array();
    list.push_back(std::move(item));
  }
  {
    std::lock_guard lock(view_mu_);
    view_ = std::move(view);
  }

  // Status of the tenants' own rules.
  std::map<std::string, const Rule*> user_rules;
  for (const Rule& r : rules)
    if (!r.builtin) user_rules[r.tenant + "/" + r.name] = &r;
  std::set<std::string> present;
  for (const StoredObjectPtr& stored : store_.list("AlertRule", {}).items) {
    const std::string key = stored->metadata.tenant + "/" + stored->metadata.name;
    present.insert(key);
    auto r = user_rules.find(key);
    auto e = errors.find(key);
    writeRuleStatus(stored, r == user_rules.end() ? nullptr : r->second,
                    e == errors.end() ? "" : e->second, now);
  }
  for (auto it = rule_status_.begin(); it != rule_status_.end();)
    it = present.count(it->first) > 0 ? std::next(it) : rule_status_.erase(it);

  // Parsed queries and log cursors of rules that went away.
  if (++rounds_ % 12 == 0) {
    metrics_.sweep();
    logs_.sweep();
  }
}

void AlertingService::writeRuleStatus(const StoredObjectPtr& stored, const Rule* rule,
                                      const std::string& error, TimePoint now) {
  const std::string key = stored->metadata.tenant + "/" + stored->metadata.name;
  RuleStatus next;
  next.error = error;
  next.generation = stored->metadata.generation;
  if (rule != nullptr) {
    auto it = rule_alerts_.find(key);
    if (it != rule_alerts_.end()) {
      next.firing = it->second.count(AlertState::kFiring);
      next.pending = it->second.count(AlertState::kPending);
    }
  }
  auto [it, added] = rule_status_.try_emplace(key);
  RuleStatus& last = it->second;
  const auto monotonic = clock_.monotonic();
  const bool material = added || last.error != next.error || last.firing != next.firing ||
                        last.pending != next.pending || last.generation != next.generation;
  if (!material && monotonic - last.written < options_.status_every) return;
  next.written = monotonic;
  last = next;

  Object object = stored->object();
  const std::string now_text = formatTimestamp(now);
  json status = object.status.is_object() ? object.status : json::object();
  status["observedGeneration"] = stored->metadata.generation;
  status["firing"] = next.firing;
  status["pending"] = next.pending;
  status["lastEvaluation"] = now_text;
  Condition ready{"Ready", "True", "Evaluated", "", ""};
  if (rule != nullptr && rule->disabled) {
    ready = {"Ready", "False", "Disabled", "the rule is disabled", ""};
  } else if (!error.empty()) {
    ready = {"Ready", "False", "EvaluationFailed", error, ""};
  }
  if (error.empty())
    status.erase("error");
  else
    status["error"] = error;
  setCondition(status, ready, now_text);
  object.status = status;
  UpdateOptions update;
  update.status_only = true;
  update.unconditional = true;
  if (auto written = store_.update(std::move(object), update); !written.ok())
    if (written.status().code() != StatusCode::kNotFound)
      spdlog::warn("alerting: cannot write the status of AlertRule {}: {}", key,
                   written.status().toString());
}

Result<std::string> AlertingService::secretValue(const std::string& tenant,
                                                 const SecretKeyRef& ref) const {
  auto stored = store_.get({"Secret", tenant, ref.name});
  if (!stored.ok())
    return notFound("secret \"" + ref.name + "\" not found in tenant \"" + tenant + "\"");
  const json data = stored.value()->object().spec.value("data", json::object());
  if (!data.contains(ref.key) || !data[ref.key].is_string())
    return notFound("secret \"" + ref.name + "\" has no key \"" + ref.key + "\"");
  return data[ref.key].get<std::string>();
}

void AlertingService::dispatch(const Notification& n, const ReceiverConfig& receiver) {
  const std::string lane = receiver.tenant + "/" + receiver.name;
  const bool pushed = queue_.push(lane, [this, n, receiver](const Sleeper& sleep) {
    DeliveryOutcome outcome;
    if (const auto* webhook = std::get_if<WebhookTarget>(&receiver.target)) {
      net::ClientRequest request;
      request.method = "POST";
      request.url = webhook->url;
      request.body = webhookBody(n);
      request.timeout = options_.request_timeout;
      request.headers.emplace_back("Content-Type", "application/json");
      for (const auto& h : webhook->headers) request.headers.push_back(h);
      Result<std::string> key = std::string();
      if (webhook->secret) key = secretValue(receiver.tenant, *webhook->secret);
      if (!key.ok()) {
        outcome.error = key.status().message();
      } else {
        outcome = deliverWithRetry(
            [&] {
              // A fresh timestamp per attempt, so receivers can refuse stale replays.
              net::ClientRequest attempt = request;
              const auto seconds =
                  std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch())
                      .count();
              attempt.headers.emplace_back("X-Skiff-Timestamp", std::to_string(seconds));
              if (webhook->secret)
                attempt.headers.emplace_back("X-Skiff-Signature", signatureOf(request.body, *key));
              return httpAttempt(send_, attempt);
            },
            options_.retry, sleep);
      }
    } else if (const auto* am = std::get_if<AlertmanagerTarget>(&receiver.target)) {
      net::ClientRequest request;
      request.method = "POST";
      std::string base = am->url;
      while (!base.empty() && base.back() == '/') base.pop_back();
      request.url = base + "/api/v2/alerts";
      request.timeout = options_.request_timeout;
      request.headers.emplace_back("Content-Type", "application/json");
      // Alertmanager resolves a firing alert at endsAt unless it is posted again: the alert is
      // re-posted every groupInterval, so a few of them leave room for a late round.
      const auto ends_after =
          std::max<std::chrono::milliseconds>(std::chrono::minutes(5), 4 * n.group_interval);
      request.body = alertmanagerBody(n, ends_after);
      outcome =
          deliverWithRetry([&] { return httpAttempt(send_, request); }, options_.retry, sleep);
    } else if (const auto* email = std::get_if<EmailTarget>(&receiver.target)) {
      SmtpRequest request;
      request.smarthost = email->smarthost;
      request.from = email->from;
      request.to = email->to;
      request.username = email->username;
      request.message = emailMessage(n, *email);
      request.timeout = options_.request_timeout;
      Result<std::string> password = std::string();
      if (email->password) password = secretValue(receiver.tenant, *email->password);
      if (!password.ok()) {
        outcome.error = password.status().message();
      } else {
        request.password = *password;
        outcome = deliverWithRetry(
            [&] {
              AttemptResult r;
              Status s = sendMail(request);
              r.ok = s.isOk();
              r.retryable = s.code() == StatusCode::kUnavailable;
              r.error = s.message();
              return r;
            },
            options_.retry, sleep);
      }
    }
    recordDelivery(receiver, n, outcome);
  });
  if (!pushed) spdlog::debug("alerting: stopping, notification to {} dropped", lane);
}

void AlertingService::recordDelivery(const ReceiverConfig& receiver, const Notification& n,
                                     const DeliveryOutcome& outcome) {
  if (!outcome.ok) {
    spdlog::warn("alerting: notification to receiver {}/{} failed after {} attempt(s): {}",
                 receiver.tenant, receiver.name, outcome.attempts, outcome.error);
    std::lock_guard lock(failed_mu_);
    failed_groups_.push_back(n.group_key);
  }
  json entry = {{"at", formatAlertTime(clock_.now())},
                {"group", n.group_key},
                {"status", n.firing() ? "firing" : "resolved"},
                {"alerts", n.alerts.size()},
                {"ok", outcome.ok},
                {"attempts", outcome.attempts}};
  if (outcome.code != 0) entry["code"] = outcome.code;
  if (!outcome.error.empty()) entry["error"] = outcome.error;

  const ObjectKey key{"Receiver", receiver.tenant, receiver.name};
  std::lock_guard lock(deliveries_mu_);
  const std::string id = receiver.tenant + "/" + receiver.name;
  auto stored = store_.get(key);
  if (!stored.ok()) {
    deliveries_.erase(id);
    return;
  }
  Object object = stored.value()->object();
  auto [it, added] = deliveries_.try_emplace(id, json::array());
  // Seeded from status, so a restart keeps the log going.
  if (added && object.status.is_object() && object.status.contains("deliveries") &&
      object.status["deliveries"].is_array())
    it->second = object.status["deliveries"];
  it->second.push_back(entry);
  while (it->second.size() > options_.deliveries_kept) it->second.erase(it->second.begin());
  if (!object.status.is_object()) object.status = json::object();
  object.status["deliveries"] = it->second;
  object.status["observedGeneration"] = stored.value()->metadata.generation;
  if (outcome.ok) object.status["lastSuccessAt"] = entry["at"];
  UpdateOptions update;
  update.status_only = true;
  update.unconditional = true;
  if (auto written = store_.update(std::move(object), update); !written.ok())
    spdlog::warn("alerting: cannot write the status of Receiver {}: {}", id,
                 written.status().toString());
}

json AlertingService::alerts(const std::string& tenant) const {
  std::lock_guard lock(view_mu_);
  auto it = view_.find(tenant);
  return {{"items", it == view_.end() ? json::array() : it->second}};
}

}  // namespace skiff::alert
