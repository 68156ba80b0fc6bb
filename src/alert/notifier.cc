#include "alert/notifier.h"

#include <algorithm>

namespace skiff::alert {

bool Silence::matches(const Labels& labels) const {
  if (matchers.empty()) return false;
  for (const auto& [name, value] : matchers) {
    auto it = labels.find(name);
    if ((it == labels.end() ? std::string() : it->second) != value) return false;
  }
  return true;
}

bool Notification::firing() const {
  return std::any_of(alerts.begin(), alerts.end(),
                     [](const Alert& a) { return a.state == AlertState::kFiring; });
}

namespace {

Labels common(const std::vector<Alert>& alerts, Labels Alert::*field) {
  if (alerts.empty()) return {};
  Labels out = alerts.front().*field;
  for (const Alert& a : alerts) {
    for (auto it = out.begin(); it != out.end();) {
      auto other = (a.*field).find(it->first);
      it = other != (a.*field).end() && other->second == it->second ? std::next(it) : out.erase(it);
    }
  }
  return out;
}

std::string key(const std::string& tenant, const std::string& fingerprint) {
  return tenant + "/" + fingerprint;
}

}  // namespace

Labels Notification::commonLabels() const { return common(alerts, &Alert::labels); }
Labels Notification::commonAnnotations() const { return common(alerts, &Alert::annotations); }

void Notifier::forget(const std::string& group_key) {
  auto it = groups_.find(group_key);
  if (it != groups_.end()) it->second.notified_firing.clear();
}

std::vector<Notification> Notifier::tick(const std::vector<Alert>& alerts,
                                         const std::vector<Rule>& rules,
                                         const std::vector<Silence>& silences,
                                         const std::vector<ReceiverRoute>& receivers,
                                         TimePoint now) {
  std::map<std::pair<std::string, std::string>, const Rule*> rule_of;
  for (const Rule& r : rules) rule_of[{r.tenant, r.name}] = &r;
  std::map<std::pair<std::string, std::string>, const ReceiverRoute*> receiver_of;
  for (const ReceiverRoute& r : receivers) receiver_of[{r.tenant, r.name}] = &r;

  // Held back: silenced, or inhibited by a firing alert of a rule that names this one's.
  suppressed_ = {};
  for (const Alert& a : alerts) {
    if (a.state != AlertState::kFiring) continue;
    for (const Silence& s : silences)
      if (s.tenant == a.tenant && s.activeAt(now) && s.matches(a.labels))
        suppressed_.silenced.insert(key(a.tenant, a.fingerprint));
    for (const Alert& source : alerts) {
      if (source.state != AlertState::kFiring || source.tenant != a.tenant ||
          source.fingerprint == a.fingerprint)
        continue;
      auto r = rule_of.find({source.tenant, source.rule});
      if (r == rule_of.end() || !r->second->inhibits) continue;
      const Inhibition& inhibition = *r->second->inhibits;
      if (std::find(inhibition.rules.begin(), inhibition.rules.end(), a.rule) ==
          inhibition.rules.end())
        continue;
      const bool equal = std::all_of(inhibition.equal.begin(), inhibition.equal.end(),
                                     [&](const std::string& label) {
                                       auto x = source.labels.find(label);
                                       auto y = a.labels.find(label);
                                       return (x == source.labels.end() ? "" : x->second) ==
                                              (y == a.labels.end() ? "" : y->second);
                                     });
      if (equal) suppressed_.inhibited.insert(key(a.tenant, a.fingerprint));
    }
  }

  std::map<std::string, std::set<std::string>> given;  // group key -> fingerprints
  for (auto& [k, group] : groups_) group.held.clear();
  for (const Alert& a : alerts) {
    if (a.state == AlertState::kPending) continue;
    auto r = rule_of.find({a.tenant, a.rule});
    if (r == rule_of.end()) continue;
    const Rule& rule = *r->second;
    std::vector<const ReceiverRoute*> targets;
    if (rule.builtin) {
      for (const ReceiverRoute& route : receivers)
        if (route.tenant == a.tenant && route.default_rules) targets.push_back(&route);
    } else {
      for (const std::string& name : rule.receivers)
        if (auto it = receiver_of.find({a.tenant, name}); it != receiver_of.end())
          targets.push_back(it->second);
    }
    Labels group_labels;
    for (const std::string& label : rule.group_by)
      if (auto it = a.labels.find(label); it != a.labels.end()) group_labels[label] = it->second;
    std::string suffix = "{";
    for (const auto& [name, value] : group_labels)
      suffix += (suffix.size() > 1 ? "," : "") + name + "=\"" + value + "\"";
    suffix += "}";
    const bool held = suppressed_.silenced.count(key(a.tenant, a.fingerprint)) > 0 ||
                      suppressed_.inhibited.count(key(a.tenant, a.fingerprint)) > 0;
    for (const ReceiverRoute* route : targets) {
      const std::string group_key = a.tenant + "/" + route->name + "/" + rule.name + suffix;
      auto it = groups_.find(group_key);
      if (it == groups_.end()) {
        // A group begins with a firing alert; one that resolved before it was ever grouped has
        // nothing to tell.
        if (a.state != AlertState::kFiring) continue;
        Group group;
        group.tenant = a.tenant;
        group.receiver = route->name;
        group.rule = rule.name;
        group.group_labels = group_labels;
        group.next_flush = now + rule.group_wait;
        it = groups_.emplace(group_key, std::move(group)).first;
      }
      Group& group = it->second;
      group.interval = rule.group_interval;
      group.repeat = rule.repeat_interval;
      group.send_resolved = route->send_resolved;
      group.alertmanager = route->alertmanager;
      group.alerts[a.fingerprint] = a;
      if (held) group.held.insert(a.fingerprint);
      given[group_key].insert(a.fingerprint);
    }
  }

  std::vector<Notification> out;
  for (auto it = groups_.begin(); it != groups_.end();) {
    Group& group = it->second;
    // A receiver that was deleted is told nothing more.
    if (receiver_of.count({group.tenant, group.receiver}) == 0) {
      it = groups_.erase(it);
      continue;
    }
    const auto& present = given[it->first];
    for (auto& [fp, alert] : group.alerts) {
      if (present.count(fp) == 0 && alert.state != AlertState::kResolved) {
        alert.state = AlertState::kResolved;
        alert.resolved_at = now;
      }
    }
    if (now >= group.next_flush) {
      if (auto n = flush(group, now)) {
        n->group_key = it->first;
        out.push_back(std::move(*n));
      }
      group.next_flush = now + group.interval;
      for (auto a = group.alerts.begin(); a != group.alerts.end();)
        a = a->second.state == AlertState::kResolved ? group.alerts.erase(a) : std::next(a);
    }
    if (group.alerts.empty() && group.notified_firing.empty()) {
      it = groups_.erase(it);
      continue;
    }
    ++it;
  }
  return out;
}

std::optional<Notification> Notifier::flush(Group& group, TimePoint now) {
  std::set<std::string> firing;
  std::vector<const Alert*> resolved;
  for (const auto& [fp, alert] : group.alerts) {
    if (alert.state == AlertState::kFiring && group.held.count(fp) == 0) firing.insert(fp);
    if (alert.state == AlertState::kResolved && group.notified_firing.count(fp) > 0)
      resolved.push_back(&alert);
  }
  // Told firing before, gone since without resolving (its rule was deleted): already marked
  // resolved in tick(). Held back (silenced) but still firing: not news either way.
  const bool news = std::any_of(firing.begin(), firing.end(), [&](const std::string& fp) {
    return group.notified_firing.count(fp) == 0;
  });
  const bool tell_resolved = group.send_resolved || group.alertmanager;
  const bool send =
      news || (tell_resolved && !resolved.empty()) ||
      (!firing.empty() && (group.alertmanager || now - group.last_sent >= group.repeat));
  if (!send) {
    std::set<std::string> kept;
    for (const std::string& fp : group.notified_firing)
      if (firing.count(fp) > 0) kept.insert(fp);
    group.notified_firing = std::move(kept);
    return std::nullopt;
  }
  Notification n;
  n.tenant = group.tenant;
  n.receiver = group.receiver;
  n.rule = group.rule;
  n.group_labels = group.group_labels;
  n.at = now;
  n.group_interval = group.interval;
  for (const std::string& fp : firing) n.alerts.push_back(group.alerts.at(fp));
  if (tell_resolved)
    for (const Alert* a : resolved) n.alerts.push_back(*a);
  // Firing first, each part by labels: what people read in order.
  std::stable_sort(n.alerts.begin(), n.alerts.end(), [](const Alert& a, const Alert& b) {
    const bool fa = a.state == AlertState::kFiring, fb = b.state == AlertState::kFiring;
    return fa != fb ? fa : a.labels < b.labels;
  });
  group.notified_firing = std::move(firing);
  group.last_sent = now;
  if (n.alerts.empty()) return std::nullopt;
  return n;
}

}  // namespace skiff::alert
