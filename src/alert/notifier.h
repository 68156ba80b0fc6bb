// Notifier: decides which alerts are sent to which receiver, and when — Alertmanager's
// dispatcher in miniature, per tenant:
//
//  - routing: an alert goes to its rule's receivers (a built-in rule's to the tenant's receivers
//    with defaultRules);
//  - grouping: per receiver, alerts of one rule with equal values of the rule's groupBy labels
//    form a group, notified together: first `groupWait` after the group appears, then at most
//    every `groupInterval`;
//  - deduplication: a group is notified only when it has alerts firing that the receiver was
//    not told of, or (sendResolved) alerts it was told of that resolved since, or when
//    `repeatInterval` passed with alerts still firing; never the same state twice otherwise.
//    An Alertmanager receiver is sent the firing alerts at every groupInterval instead (it
//    resolves alerts that are not re-sent and deduplicates itself);
//  - silences: an alert matching an active Silence is not sent; when the silence ends and the
//    alert still fires, it is news again and is sent;
//  - inhibition: while a rule with `inhibits` fires, alerts of the rules it names whose `equal`
//    labels agree with a firing alert of it are held back like silenced ones.
//
// tick() is pure but for the groups it keeps between calls: time comes in as an argument.
// Not thread-safe: one thread (the alerting service's loop) owns a Notifier.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "alert/alert_state.h"
#include "alert/rule.h"

namespace skiff::alert {

struct Silence {
  std::string tenant;
  std::string name;
  Labels matchers;        // every one must equal the alert's label
  TimePoint starts_at{};  // epoch: from its creation
  TimePoint ends_at{};
  std::string comment;

  bool activeAt(TimePoint now) const { return starts_at <= now && now < ends_at; }
  bool matches(const Labels& labels) const;
};

// What the notifier needs to know of a receiver.
struct ReceiverRoute {
  std::string tenant;
  std::string name;
  bool send_resolved = true;
  bool default_rules = false;
  bool alertmanager = false;  // re-sent at every groupInterval while firing
};

struct Notification {
  std::string tenant;
  std::string receiver;
  std::string rule;
  std::string group_key;  // stable: receiver, rule and the group's label values
  Labels group_labels;
  std::vector<Alert> alerts;  // firing ones, then resolved ones
  TimePoint at{};
  std::chrono::milliseconds group_interval{};  // of the rule: when the group is next looked at
  // Whether any alert fires ("firing"), else every alert resolved ("resolved").
  bool firing() const;
  Labels commonLabels() const;
  Labels commonAnnotations() const;
};

// What one tick saw, for the API and status: which alerts were held back, and why.
struct Suppression {
  std::set<std::string> silenced;   // "tenant/fingerprint"
  std::set<std::string> inhibited;  // "tenant/fingerprint"
};

class Notifier {
 public:
  // `alerts` is every alert of every tenant now (pending ones are ignored); `rules` the rules
  // they come from (by tenant and name). An alert that was in a group and is no longer given
  // (its rule was deleted) counts as resolved at `now`.
  std::vector<Notification> tick(const std::vector<Alert>& alerts, const std::vector<Rule>& rules,
                                 const std::vector<Silence>& silences,
                                 const std::vector<ReceiverRoute>& receivers, TimePoint now);
  // A notification of the group could not be delivered: its alerts are news again, sent at the
  // group's next flush.
  void forget(const std::string& group_key);
  const Suppression& suppressed() const { return suppressed_; }
  size_t groups() const { return groups_.size(); }

 private:
  struct Group {
    std::string tenant, receiver, rule;
    Labels group_labels;
    std::chrono::milliseconds interval{}, repeat{};
    bool send_resolved = true;
    bool alertmanager = false;
    TimePoint next_flush{};
    std::map<std::string, Alert> alerts;  // by fingerprint, as last given
    std::set<std::string> held;           // fingerprints silenced or inhibited now
    bool seen = false;                    // given an alert in this tick
    // What the receiver was last told fires, and when it was last told anything.
    std::set<std::string> notified_firing;
    TimePoint last_sent{};
  };
  std::optional<Notification> flush(Group& group, TimePoint now);

  std::map<std::string, Group> groups_;  // by group key
  Suppression suppressed_;
};

}  // namespace skiff::alert
