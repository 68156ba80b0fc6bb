// Rendering Skiff's model to standard Kubernetes objects, for the kubernetes backend and
// `skiff render`. A translation, not a reinterpretation: probes, resources, env, volumes,
// grace periods and rollout parameters keep their Kubernetes meaning (docs/kubernetes.md).
//
// Per component: a Deployment (service; two during a canary or blue-green release),
// StatefulSet with volumeClaimTemplates (stateful), Job or CronJob; a Service when it has ports
// (headless for stateful); an Ingress per route, or Gateway API HTTPRoutes when the cluster
// serves them; a HorizontalPodAutoscaler when it autoscales; a PersistentVolumeClaim per
// persistent volume of a service. Per application: a ConfigMap or Secret for every Config and
// Secret it uses (named "<app>-config-<name>", "<app>-secret-<name>", so applications sharing
// a Config never share an object). Per tenant: the Namespace, a ResourceQuota, a LimitRange
// and a NetworkPolicy that admits traffic from the tenant's own pods and from namespaces that
// are not tenants (ingress controllers), never from other tenants.
//
// Every object carries app.kubernetes.io/managed-by=skiff and skiff.dev/tenant; application
// objects also skiff.dev/application and the app.kubernetes.io name/instance/component labels,
// which is how the backend finds (and prunes) what it made. Pure functions; thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "model/object.h"
#include "model/well_known.h"

namespace skiff::kube {

inline constexpr const char* kManagedByLabel = "app.kubernetes.io/managed-by";
inline constexpr const char* kTenantLabel = "skiff.dev/tenant";
inline constexpr const char* kRevisionAnnotation = "skiff.dev/revision";
// On pod templates: a digest of the Config and Secret data the pods read, so that new data
// rolls the pods as a new template does.
inline constexpr const char* kConfigDigestAnnotation = "skiff.dev/config-digest";

// A service component released as two workload sets: the stable set "<app>-<name>" runs
// `stable`, the canary set "<app>-<name>-canary" this revision's component. Routes split by
// weight between the Services "<app>-<name>-stable" and "<app>-<name>-canary".
struct ComponentTracks {
  json stable;  // the component spec the stable set runs
  int64_t stable_revision = 0;
  int canary_replicas = 0;
  int weight = 0;  // % of the routed traffic the canary set takes
  // In-cluster traffic to "<app>-<name>" follows the set that takes the routed traffic, rather
  // than spreading over both sets' pods (which approximates the weight for a canary).
  bool bluegreen = false;
};

struct RenderInput {
  std::string tenant;
  std::string ns;  // the tenant's namespace on the cluster
  std::string application;
  int64_t revision = 0;
  json spec;  // the revision's Application spec, defaults applied
  // The data of the Configs and Secrets the spec (and any stable set) uses: "config/NAME" or
  // "secret/NAME" to {key: value}. A missing one is an error naming it.
  std::map<std::string, json> data;
  bool gateway_api = false;  // routes as HTTPRoutes (parent: the "skiff" Gateway) not Ingresses
  std::map<std::string, ComponentTracks> releases;  // by component name
  bool paused = false;  // `skiff rollout pause`: Deployments hold their rollout (spec.paused)
};

// The namespace of `tenant` on a cluster whose Skiff namespaces start with `prefix`.
std::string namespaceOf(const std::string& prefix, const std::string& tenant);

// kInvalid naming the field when something cannot be expressed on Kubernetes.
Result<std::vector<json>> renderApplication(const RenderInput& input);

// The tenant's Namespace, ResourceQuota, LimitRange and (with spec.networkIsolation)
// NetworkPolicy, from its spec.
std::vector<json> renderTenant(const std::string& ns, const std::string& tenant,
                               const json& tenant_spec);

// The label selector of everything rendered for `application` in its namespace.
std::string applicationSelector(const std::string& application);

}  // namespace skiff::kube
