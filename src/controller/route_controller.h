// RouteController: keeps the gateway's route table equal to what the applications ask for.
// Every route of every component becomes a gateway route whose backends are the component's
// ready instances (Instance status `ready`, `address` and `ports`). The table is handed to a
// RoutePublisher, which retries with backoff when the gateway cannot be reached.
//
// Work is proportional to the change: each Application or Instance event reconciles that
// object's key, which re-reads only that object and only when what routing takes from it can
// have changed (an application's spec, an instance's readiness and address). A change that
// alters the table marks it stale and queues the table's own key, which publishes at a bounded
// rate what changed since the last table: the routes of the applications touched since are
// built again, and only they go to the gateway, as a RouteDelta, when the publisher takes
// deltas and holds our last table; otherwise (the first table, a gateway restarted or out of
// step, a certificate changed) the whole table goes. Status writes and other no-op events cost a
// map lookup.
//
// A component being released (status.release, controller/release_plan.h) splits its routes'
// traffic by weight: its canary instances (label skiff.dev/track=canary) share the release's
// weight, the others the rest; with rollout.preview, requests to the preview host or with the
// preview header reach the canary set only. A route with `revision: N` (A/B) takes its
// requests to the instances running revision N's template, whatever the weights. Instances of a
// replaced set kept warm (label skiff.dev/track=warm) take no traffic. Every backend carries its
// instance's revision, under which the gateway counts its requests for the release's analysis.
//
// Routes with `tls: {secret: NAME}` take their host's certificate chain and key from that Secret
// (type tls, in the application's tenant) and publish them with the table; the gateway keeps
// them in memory only. Secrets are watched, so a changed certificate is published again and a
// deleted or unusable one withdrawn (that host's handshakes then fail). Each application with
// such routes gets a TLSReady condition saying which hosts serve which secret, or why one does
// not (naming the secret). When one host is claimed with certificates by several applications,
// the first (by tenant and name) serves and the others' conditions name it.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <tuple>

#include "common/clock.h"
#include "controller/controller.h"

namespace skiff {

// A change to the route table the gateway holds (version base_version) that makes the table of
// `version`: routes added or replaced (each its JSON text, as in a table's "routes"), and the
// ids of routes gone.
struct RouteDelta {
  uint64_t base_version = 0;
  uint64_t version = 0;
  std::vector<std::string> upsert;
  std::vector<std::string> remove;
};

// Where route tables go (the local gateway's admin API). Implementations are thread-safe.
class RoutePublisher {
 public:
  virtual ~RoutePublisher() = default;
  // `table` is the route table's JSON text.
  virtual Status publish(const std::string& table) = 0;
  // Whether publishDelta() can be used.
  virtual bool takesDeltas() const { return false; }
  // Applies `delta`; kConflict when the gateway does not hold the table of delta.base_version
  // (the caller then publishes the whole table).
  virtual Status publishDelta(const RouteDelta& delta) {
    (void)delta;
    return internalError("this publisher takes whole tables only");
  }
};

class RouteController final : public Controller {
 public:
  RouteController(Store& store, RoutePublisher& publisher,
                  const Clock& clock = SystemClock::instance())
      : store_(store), publisher_(publisher), clock_(clock) {}

  std::string name() const override { return "routes"; }
  std::vector<WatchedKind> watches() const override;
  Result<ReconcileResult> reconcile(const ObjectKey& key) override;
  void bindQueue(std::function<void(const ObjectKey&)> enqueue) override;

  // The key that rebuilds and publishes the table.
  static const ObjectKey& tableKey();

  // Publishes the table again although nothing changed: for a gateway that has just started
  // and holds no TLS keys (they are never persisted). Thread-safe.
  void republish();

 private:
  // One route of a component, without its backends; the backends are the ready instances of
  // `component` on port `port`.
  struct RouteSpec {
    std::string id, host, path_prefix;
    int64_t timeout_ms = 0;
    int retries = 0;
    json match;  // null: none
    std::string component;
    std::optional<std::string> port;
    std::string tls_secret;       // empty: no TLS certificate for this host
    json preview;                 // the component's rollout.preview (null: none)
    bool sticky = false;          // rollout.sticky: each client keeps its instance
    int64_t pinned_revision = 0;  // A/B: only instances of this revision's template, or none
    std::string pinned_hash;      // that template's hash (kTemplateHashLabel); "" not known yet
    bool operator==(const RouteSpec&) const = default;
  };
  // A Secret some route names for its certificate, as last read.
  struct SecretEntry {
    int64_t rv = 0;       // 0: it does not exist
    std::string problem;  // why it cannot serve a host; empty when it can
    std::string certificate, key, fingerprint;
    bool operator==(const SecretEntry&) const = default;
  };
  // Which application serves a host's certificate, from which secret.
  struct CertificateOwner {
    ObjectKey application;
    ObjectKey secret;
  };
  // What one Application contributes, read from the spec of `uid` at `generation`, and the
  // canary weights of its components being released (from its status).
  struct AppEntry {
    std::string uid;
    int64_t generation = 0;
    std::vector<RouteSpec> routes;
    std::map<std::string, int> canary_weights;  // component -> % of its traffic
    bool unresolved_pins = false;               // a route names a revision not made yet: read again
  };
  // What one Instance contributes.
  struct InstanceEntry {
    int64_t rv = 0;
    bool ready = false;
    bool canary = false;
    std::string application, component, address, revision, hash;
    std::map<std::string, int> ports;
    // Equal for routing: both unready (no backend), or the same backend.
    bool routesLike(const InstanceEntry& o) const {
      if (!ready && !o.ready) return true;
      return ready == o.ready && application == o.application && component == o.component &&
             address == o.address && ports == o.ports && canary == o.canary &&
             revision == o.revision && hash == o.hash;
    }
  };

  void refreshApplication(const StoredObject& stored);
  void refreshInstance(const StoredObject& stored);
  Result<ReconcileResult> refreshSecret(const ObjectKey& key);
  // The template hash of `component` in revision `revision` (a pinned A/B route's instances);
  // "" when that revision is not there (yet).
  std::string pinnedHash(const ObjectKey& app, int64_t revision,
                         const std::string& component) const;
  // Reads and checks a Secret for serving as a certificate (no lock needed).
  SecretEntry loadSecret(const ObjectKey& key) const;
  // Writes the application's TLSReady condition when it has routes with certificates (or had).
  Status updateTlsCondition(const StoredObject& stored);
  // Host -> the application and secret that serve its certificate. Requires mu_.
  std::map<std::string, CertificateOwner> certificateOwners() const;
  Result<ReconcileResult> publishTable();
  // Gateway routes, (id, JSON text) in order, per application: of the applications in `only`,
  // or of all (nullptr). Built when published, not kept: they would double the controller's
  // memory for what a hash in published_ tells. Requires mu_.
  using BuiltRoutes = std::map<ObjectKey, std::vector<std::pair<std::string, std::string>>>;
  BuiltRoutes buildRoutes(const std::set<ObjectKey>* only) const;
  // The gateway route table of all applications' `built` routes: {"version": store revision,
  // "routes": [...], "certificates": [...]}, in the gateway's admin format (docs/gateway.md), as
  // JSON text. Requires mu_.
  std::string wholeTable(uint64_t version, const BuiltRoutes& built) const;
  // The delta from the gateway's table (published_) to the touched applications' `built`
  // routes, or nullopt when the whole table is the smaller message. `sent` gets the route ids
  // the delta changes, with their new hashes (nullopt: removed). Requires mu_.
  std::optional<RouteDelta> deltaOfTouched(
      uint64_t version, const BuiltRoutes& built,
      std::vector<std::pair<std::string, std::optional<size_t>>>& sent) const;
  // Marks the table stale because `app`'s routes may have changed. Requires mu_.
  void touch(const ObjectKey& app);
  void markStale();  // requires mu_

  Store& store_;
  RoutePublisher& publisher_;
  const Clock& clock_;
  std::function<void(const ObjectKey&)> enqueue_;  // set once, before start

  // The work queue hands one key to one worker at a time; mu_ covers workers reconciling
  // different keys at once.
  std::mutex mu_;
  std::map<ObjectKey, AppEntry> apps_;            // guarded by mu_
  std::map<ObjectKey, InstanceEntry> instances_;  // guarded by mu_
  std::map<ObjectKey, SecretEntry> secrets_;      // guarded by mu_: those routes name
  bool stale_ = false;         // the gateway's table differs from the caches; guarded by mu_
  bool table_queued_ = false;  // the table key is queued or waiting; guarded by mu_
  std::optional<std::chrono::steady_clock::time_point> next_build_;  // guarded by mu_
  // Guarded by mu_: the applications whose routes changed since the last table was built (the
  // removed ones too), and what the gateway holds from us: the table's version (0: not known,
  // the next table goes whole), each route's id with the hash of its JSON, and whether its
  // certificates are out of date (they travel with whole tables only).
  std::set<ObjectKey> touched_;
  uint64_t gateway_version_ = 0;
  std::map<std::string, size_t> published_;
  bool certificates_changed_ = true;
};

}  // namespace skiff
