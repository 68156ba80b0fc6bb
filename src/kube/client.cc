#include "kube/client.h"

#include <algorithm>
#include <array>
#include <thread>

#include "net/http_client.h"
#include "net/websocket.h"

namespace skiff::kube {
namespace {

constexpr std::array<ResourceType, 22> kTypes = {{
    {"v1", "Namespace", "namespaces", false},
    {"v1", "Node", "nodes", false},
    {"v1", "ResourceQuota", "resourcequotas", true},
    {"v1", "LimitRange", "limitranges", true},
    {"v1", "ConfigMap", "configmaps", true},
    {"v1", "Secret", "secrets", true},
    {"v1", "Service", "services", true},
    {"v1", "Pod", "pods", true},
    {"v1", "Event", "events", true},
    {"v1", "PersistentVolumeClaim", "persistentvolumeclaims", true},
    {"v1", "ServiceAccount", "serviceaccounts", true},
    {"apps/v1", "Deployment", "deployments", true},
    {"apps/v1", "StatefulSet", "statefulsets", true},
    {"apps/v1", "ReplicaSet", "replicasets", true},
    {"apps/v1", "ControllerRevision", "controllerrevisions", true},
    {"batch/v1", "Job", "jobs", true},
    {"batch/v1", "CronJob", "cronjobs", true},
    {"networking.k8s.io/v1", "Ingress", "ingresses", true},
    {"networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", true},
    {"autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true},
    {"gateway.networking.k8s.io/v1", "HTTPRoute", "httproutes", true},
    {"policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", true},
}};

StatusCode codeOfHttp(int status) {
  switch (status) {
    case 400:
      return StatusCode::kBadRequest;
    case 401:
      return StatusCode::kUnauthenticated;
    case 403:
      return StatusCode::kForbidden;
    case 404:
      return StatusCode::kNotFound;
    case 409:
      return StatusCode::kConflict;
    case 410:
      return StatusCode::kGone;
    case 413:
      return StatusCode::kTooLarge;
    case 415:
      return StatusCode::kUnsupportedMediaType;
    case 422:
      return StatusCode::kInvalid;
    default:
      return status >= 500 || status == 429 ? StatusCode::kUnavailable : StatusCode::kInternal;
  }
}

bool retryable(int http_status) {
  return http_status == 429 || http_status == 500 || http_status == 502 || http_status == 503 ||
         http_status == 504;
}

// The API server's explanation in an error answer: a Status object's message, or the text.
std::string explanation(const net::ClientResponse& response) {
  auto parsed = json::parse(response.body, nullptr, false);
  if (parsed.is_object() && parsed.value("kind", "") == "Status") {
    std::string message = parsed.value("message", "");
    if (!message.empty()) return message;
    return parsed.value("reason", "HTTP " + std::to_string(response.status));
  }
  std::string text = response.body.substr(0, 300);
  if (text.empty()) text = "HTTP " + std::to_string(response.status);
  return text;
}

}  // namespace

const ResourceType* findResourceType(std::string_view api_version, std::string_view kind) {
  for (const auto& t : kTypes)
    if (api_version == t.api_version && kind == t.kind) return &t;
  return nullptr;
}

std::string collectionPath(const ResourceType& type, const std::string& ns) {
  std::string_view version = type.api_version;
  std::string path = version.find('/') == std::string_view::npos ? "/api/" : "/apis/";
  path += version;
  if (type.namespaced && !ns.empty()) path += "/namespaces/" + ns;
  return path + "/" + type.plural;
}

std::string objectPath(const ResourceType& type, const std::string& ns, const std::string& name) {
  return collectionPath(type, ns) + "/" + name;
}

std::string podLogPath(const std::string& ns, const std::string& pod,
                       const PodLogOptions& options) {
  std::string path = objectPath(*findResourceType("v1", "Pod"), ns, pod) + "/log";
  std::vector<std::string> query;
  if (!options.container.empty())
    query.push_back("container=" + net::percentEncode(options.container));
  if (options.follow) query.push_back("follow=true");
  if (options.previous) query.push_back("previous=true");
  if (options.timestamps) query.push_back("timestamps=true");
  if (options.tail_lines) query.push_back("tailLines=" + std::to_string(*options.tail_lines));
  if (!options.since_time.empty())
    query.push_back("sinceTime=" + net::percentEncode(options.since_time));
  for (size_t i = 0; i < query.size(); ++i) path += (i == 0 ? "?" : "&") + query[i];
  return path;
}

std::string podExecPath(const std::string& ns, const std::string& pod, const std::string& container,
                        const std::vector<std::string>& argv, bool tty) {
  std::string path =
      objectPath(*findResourceType("v1", "Pod"), ns, pod) + "/exec?stdin=true&stdout=true";
  path += tty ? "&tty=true" : "&stderr=true";
  if (!container.empty()) path += "&container=" + net::percentEncode(container);
  for (const auto& arg : argv) path += "&command=" + net::percentEncode(arg);
  return path;
}

static net::TlsClientOptions tlsOf(const ClusterAccess& access) {
  net::TlsClientOptions tls;
  tls.ca_pem = access.ca_pem;
  tls.client_certificate_pem = access.client_certificate_pem;
  tls.client_key_pem = access.client_key_pem;
  tls.trust_advice = "the cluster's CA (certificate-authority-data) does not vouch for it";
  return tls;
}

Client::Client(ClusterAccess access, Options options)
    : access_(std::move(access)),
      options_(options),
      pool_(std::make_unique<net::ConnectionPool>(tlsOf(access_))),
      tokens_(options.burst),
      refilled_(std::chrono::steady_clock::now()) {}

Client::~Client() = default;

void Client::takeToken() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    auto now = std::chrono::steady_clock::now();
    double elapsed = std::chrono::duration<double>(now - refilled_).count();
    tokens_ = std::min<double>(options_.burst, tokens_ + elapsed * options_.qps);
    refilled_ = now;
    if (tokens_ >= 1) {
      tokens_ -= 1;
      return;
    }
    auto wait = std::chrono::duration<double>((1 - tokens_) / options_.qps);
    lock.unlock();
    std::this_thread::sleep_for(wait);
    lock.lock();
  }
}

static net::ClientRequest requestOf(const ClusterAccess& access, const std::string& method,
                                    const std::string& path, const std::string& body,
                                    const std::string& content_type) {
  net::ClientRequest req;
  req.method = method;
  req.url = access.server + path;
  req.body = body;
  req.headers.emplace_back("Accept", "application/json");
  if (!content_type.empty()) req.headers.emplace_back("Content-Type", content_type);
  if (!access.token.empty()) req.headers.emplace_back("Authorization", "Bearer " + access.token);
  return req;
}

Result<json> Client::request(const std::string& method, const std::string& path,
                             const std::string& body, const std::string& content_type) {
  net::ClientRequest req = requestOf(access_, method, path, body, content_type);
  req.timeout = options_.timeout;
  std::chrono::milliseconds backoff(100);
  for (int attempt = 1;; ++attempt) {
    takeToken();
    auto response = pool_->fetch(req);
    const bool last = attempt >= options_.attempts;
    if (!response.ok()) {
      // Only a server that could not be reached is worth another try; a bad CA or key is not.
      if (last || response.status().code() != StatusCode::kUnavailable)
        return Status(response.status().code(),
                      method + " " + path + ": " + response.status().message());
    } else if (response->status >= 200 && response->status < 300) {
      if (response->body.empty()) return json();
      auto parsed = json::parse(response->body, nullptr, false);
      if (parsed.is_discarded())
        return Status(StatusCode::kInternal,
                      method + " " + path + ": the API server answered something not JSON");
      return parsed;
    } else if (last || !retryable(response->status)) {
      return Status(codeOfHttp(response->status), "the API server at " + access_.server +
                                                      " refused " + method + " " + path + ": " +
                                                      explanation(*response));
    } else if (std::string after = response->header("Retry-After"); !after.empty()) {
      backoff = std::chrono::milliseconds(
          std::clamp<int64_t>(std::atoll(after.c_str()) * 1000, 100, 2000));
    }
    std::this_thread::sleep_for(backoff);
    backoff *= 2;
  }
}

Result<json> Client::version() { return request("GET", "/version"); }

Result<bool> Client::serves(const std::string& group_version) {
  std::string path = group_version.find('/') == std::string::npos ? "/api/" : "/apis/";
  auto answer = request("GET", path + group_version);
  if (answer.ok()) return true;
  if (answer.status().code() == StatusCode::kNotFound) return false;
  return answer.status();
}

Result<json> Client::apply(const json& object) {
  const std::string api_version = object.value("apiVersion", "");
  const std::string kind = object.value("kind", "");
  const ResourceType* type = findResourceType(api_version, kind);
  if (type == nullptr)
    return Status(StatusCode::kInvalid,
                  "cannot apply " + api_version + " " + kind + ": not a type Skiff manages");
  const json& meta = object.value("metadata", json::object());
  const std::string name = meta.value("name", "");
  const std::string ns = meta.value("namespace", "");
  if (name.empty() || (type->namespaced && ns.empty()))
    return Status(StatusCode::kInvalid, "cannot apply " + kind + " without metadata.name" +
                                            (type->namespaced ? " and metadata.namespace" : ""));
  // JSON is YAML, so the apply patch goes as JSON text.
  return request("PATCH", objectPath(*type, ns, name) + "?fieldManager=skiff&force=true",
                 object.dump(), "application/apply-patch+yaml");
}

Result<json> Client::get(const ResourceType& type, const std::string& ns, const std::string& name) {
  return request("GET", objectPath(type, ns, name));
}

Result<json> Client::list(const ResourceType& type, const std::string& ns,
                          const std::string& label_selector) {
  std::string path = collectionPath(type, ns);
  if (!label_selector.empty()) path += "?labelSelector=" + net::percentEncode(label_selector);
  return request("GET", path);
}

Status Client::remove(const ResourceType& type, const std::string& ns, const std::string& name) {
  auto answer = request("DELETE", objectPath(type, ns, name) + "?propagationPolicy=Background");
  if (answer.ok() || answer.status().code() == StatusCode::kNotFound) return Status::ok();
  return answer.status();
}

Status Client::watch(const ResourceType& type, const std::string& ns,
                     const std::string& label_selector, std::string& resource_version,
                     const std::function<bool(const WatchEvent& event)>& on_event,
                     std::chrono::seconds timeout) {
  std::string path =
      collectionPath(type, ns) +
      "?watch=1&allowWatchBookmarks=true&resourceVersion=" + net::percentEncode(resource_version) +
      "&timeoutSeconds=" + std::to_string(timeout.count());
  if (!label_selector.empty()) path += "&labelSelector=" + net::percentEncode(label_selector);
  std::string pending;
  Status failed;
  Status streamed = stream(path, [&](std::string_view data) {
    pending.append(data);
    size_t line_end;
    while ((line_end = pending.find('\n')) != std::string::npos) {
      auto event = json::parse(pending.substr(0, line_end), nullptr, false);
      pending.erase(0, line_end + 1);
      if (!event.is_object()) continue;
      const std::string kind = event.value("type", "");
      json object = event.value("object", json::object());
      if (kind == "ERROR") {
        const int code = object.value("code", 500);
        failed = Status(codeOfHttp(code),
                        "watch of " + path + " ended: " + object.value("message", "an error"));
        return false;
      }
      const std::string rv = object.value("metadata", json::object()).value("resourceVersion", "");
      if (!rv.empty()) resource_version = rv;
      if (kind == "BOOKMARK") continue;
      if (!on_event(WatchEvent{kind, std::move(object)})) return false;
    }
    return true;
  });
  if (!streamed.isOk()) return streamed;
  return failed;
}

Status Client::stream(const std::string& path,
                      const std::function<bool(std::string_view data)>& on_data) {
  net::ClientRequest req = requestOf(access_, "GET", path, "", "");
  req.timeout = options_.timeout;
  takeToken();
  auto response = net::fetchStreaming(req, on_data, tlsOf(access_));
  if (!response.ok())
    return Status(response.status().code(), "GET " + path + ": " + response.status().message());
  if (response->status < 200 || response->status >= 300)
    return Status(codeOfHttp(response->status), "the API server at " + access_.server +
                                                    " refused GET " + path + ": " +
                                                    explanation(*response));
  return Status::ok();
}

Result<std::unique_ptr<net::WebSocketClient>> Client::openWebSocket(
    const std::string& path, const std::vector<std::string>& subprotocols) {
  const net::ClientRequest head = requestOf(access_, "GET", path, "", "");
  net::WebSocketRequest req;
  req.url = head.url;
  req.subprotocols = subprotocols;
  req.timeout = options_.timeout;
  if (!access_.token.empty()) req.headers.emplace_back("Authorization", "Bearer " + access_.token);
  takeToken();
  auto opened = net::WebSocketClient::open(req, tlsOf(access_));
  if (!opened.ok())
    return Status(opened.status().code(), "GET " + path + ": " + opened.status().message());
  if (!opened->client)
    return Status(codeOfHttp(opened->refusal.status), "the API server at " + access_.server +
                                                          " refused GET " + path + ": " +
                                                          explanation(opened->refusal));
  return std::move(opened->client);
}

}  // namespace skiff::kube
