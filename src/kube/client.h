// A Kubernetes API client of Skiff's own, over net::fetch (HTTPS with verification, client
// certificates or bearer tokens): discovery, server-side apply (field manager "skiff"), get,
// list, delete, list-then-watch with bookmarks, pod logs (streamed) and pod exec (WebSocket).
//
// Requests share a token bucket (a busy controller must not flood a cluster) and are retried
// with backoff on connection failures, 429 and 5xx answers. Every error is a Status whose
// message names the request and carries the API server's own message; its code follows the
// answer's HTTP status (404 kNotFound, 409 kConflict, 410 kGone, 422 kInvalid, 401/403, 5xx and
// unreachable kUnavailable).
//
// Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/object.h"

namespace skiff::net {
class ConnectionPool;
class WebSocketClient;
}  // namespace skiff::net

namespace skiff::kube {

// Where a cluster is and how to prove who we are to it (kubeconfig.h reads one from a
// kubeconfig file; the Cluster object stores one).
struct ClusterAccess {
  std::string server;                  // https://host:port
  std::string ca_pem;                  // the CA to trust; empty: the system's trust store
  std::string token;                   // a bearer token, or
  std::string client_certificate_pem;  // a client certificate and its key
  std::string client_key_pem;
};

// A kind of object, as the API addresses it.
struct ResourceType {
  const char* api_version;  // "apps/v1"
  const char* kind;         // "Deployment"
  const char* plural;       // "deployments"
  bool namespaced;
};

// The types Skiff renders or reads; nullptr for others.
const ResourceType* findResourceType(std::string_view api_version, std::string_view kind);
// "/apis/apps/v1/namespaces/ns/deployments" ("/api/v1/..." for the core group; no namespace
// segment when `ns` is empty or the type is cluster-scoped).
std::string collectionPath(const ResourceType& type, const std::string& ns);
std::string objectPath(const ResourceType& type, const std::string& ns, const std::string& name);

// What a pod log request asks for (the API's PodLogOptions).
struct PodLogOptions {
  std::string container;  // required when the pod has several
  bool follow = false;
  bool previous = false;
  bool timestamps = false;  // each line starts with its RFC 3339 time and a space
  std::optional<int64_t> tail_lines;
  std::string since_time;  // RFC 3339; empty: from the start
};
// GET /api/v1/namespaces/{ns}/pods/{pod}/log?... for `options`.
std::string podLogPath(const std::string& ns, const std::string& pod, const PodLogOptions& options);

// The subprotocols of pod exec, in order of preference: v5 can close stdin, v4 cannot.
inline constexpr const char* kExecProtocolV5 = "v5.channel.k8s.io";
inline constexpr const char* kExecProtocolV4 = "v4.channel.k8s.io";
// GET /api/v1/namespaces/{ns}/pods/{pod}/exec?command=...: stdin and stdout always, stderr
// unless `tty` (a terminal merges it into stdout).
std::string podExecPath(const std::string& ns, const std::string& pod, const std::string& container,
                        const std::vector<std::string>& argv, bool tty);

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED
  json object;
};

class Client {
 public:
  struct Options {
    double qps = 200;  // sustained requests per second, in bursts of up to `burst`
    int burst = 400;
    int attempts = 3;  // for failures worth retrying
    std::chrono::milliseconds timeout{10000};
  };

  explicit Client(ClusterAccess access) : Client(std::move(access), Options{}) {}
  Client(ClusterAccess access, Options options);
  ~Client();

  const std::string& server() const { return access_.server; }

  // GET /version: {"gitVersion": "v1.34.4", ...}.
  Result<json> version();
  // Whether the server serves `group_version` ("gateway.networking.k8s.io/v1"), by discovery.
  Result<bool> serves(const std::string& group_version);

  // Server-side apply of `object` (apiVersion, kind, metadata.name and, for namespaced types,
  // metadata.namespace set), forcing ownership of the fields Skiff sets. Returns the object
  // as stored.
  Result<json> apply(const json& object);
  Result<json> get(const ResourceType& type, const std::string& ns, const std::string& name);
  // The list object ({"metadata": {"resourceVersion"}, "items": [...]}) of `ns` (all
  // namespaces when empty), narrowed by a label selector ("a=b,c").
  Result<json> list(const ResourceType& type, const std::string& ns,
                    const std::string& label_selector = "");
  // Deletes in the background (dependents by the garbage collector); a missing object is fine.
  Status remove(const ResourceType& type, const std::string& ns, const std::string& name);

  // Watches from `resource_version` (as a list returned it), calling `on_event` for each
  // change until it returns false, the server ends the watch (after about `timeout`), or an
  // error. Bookmarks only move `resource_version` forward, which is updated as events arrive,
  // so the caller resumes where this ended. kGone means the version was compacted: list again.
  Status watch(const ResourceType& type, const std::string& ns, const std::string& label_selector,
               std::string& resource_version,
               const std::function<bool(const WatchEvent& event)>& on_event,
               std::chrono::seconds timeout = std::chrono::seconds(300));

  // GETs `path`, handing the body to `on_data` as it arrives until it returns false or the body
  // ends (no deadline after the answer's head: for logs that are followed). A refusal is an
  // error as for request(); no retries, since part of the body may have been handed on.
  Status stream(const std::string& path, const std::function<bool(std::string_view data)>& on_data);

  // Opens a WebSocket to `path` (pod exec), offering `subprotocols` in order of preference
  // (the client says which one the server chose). A refusal is an error as for request().
  Result<std::unique_ptr<net::WebSocketClient>> openWebSocket(
      const std::string& path, const std::vector<std::string>& subprotocols);

  // One request with retries; `path` includes the query. The answer's body as JSON (null when
  // empty).
  Result<json> request(const std::string& method, const std::string& path,
                       const std::string& body = "", const std::string& content_type = "");

 private:
  void takeToken();

  const ClusterAccess access_;
  const Options options_;
  // Requests reuse connections: a TLS handshake costs more than most requests.
  std::unique_ptr<net::ConnectionPool> pool_;
  std::mutex mu_;
  double tokens_;                                   // guarded by mu_
  std::chrono::steady_clock::time_point refilled_;  // guarded by mu_
};

}  // namespace skiff::kube
