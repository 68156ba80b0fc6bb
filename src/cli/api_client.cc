#include "cli/api_client.h"

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <utility>
#include <vector>

namespace skiff::cli {

namespace {

constexpr auto kRequestTimeout = std::chrono::seconds(30);
// Lists of many objects are large; the server bounds what it sends, not us.
constexpr uint64_t kMaxReplyBytes = uint64_t{1} << 31;
// What to do about a server whose certificate is not trusted (see unreachable()).
constexpr const char* kTrustAdvice =
    "pass --ca FILE or --fingerprint sha256:... (or set SKIFF_CA or SKIFF_FINGERPRINT) as skiff "
    "server printed them when it created its certificate";

std::string objectPath(const ObjectAddress& a) {
  if (a.kind->scope == Scope::kPlatform)
    return std::string("/api/v1/") + a.kind->plural + "/" + a.name;
  return "/api/v1/tenants/" + a.tenant + "/" + a.kind->plural + "/" + a.name;
}

std::string collectionPath(const KindInfo& kind, const std::string& tenant, bool all_tenants) {
  if (kind.scope == Scope::kPlatform || all_tenants) return std::string("/api/v1/") + kind.plural;
  return "/api/v1/tenants/" + tenant + "/" + kind.plural;
}

std::string listTarget(const ListQuery& q, const std::string& extra_query) {
  std::string query = extra_query;
  if (!q.label_selector.empty()) {
    if (!query.empty()) query += '&';
    query += "labelSelector=" + urlEncode(q.label_selector);
  }
  std::string target = collectionPath(*q.kind, q.tenant, q.all_tenants);
  return query.empty() ? target : target + "?" + query;
}

// The Status a Skiff error document (or, failing that, the raw answer) stands for.
Status statusFromErrorDocument(int http_status, const std::string& body) {
  json doc = json::parse(body, nullptr, false);
  // A Status document; its kind may be missing from an answer made outside the API handlers.
  if (doc.is_object() && doc.contains("message") &&
      (doc.value("kind", "") == "Status" || doc.contains("reason"))) {
    std::vector<FieldError> fields;
    if (auto details = doc.find("details"); details != doc.end() && details->is_object()) {
      if (auto causes = details->find("causes"); causes != details->end() && causes->is_array()) {
        for (const auto& c : *causes) {
          if (!c.is_object()) continue;
          fields.push_back({c.value("field", ""), c.value("message", "")});
        }
      }
    }
    const json& message = doc["message"];
    return Status(codeOfReason(doc.value("reason", "")),
                  message.is_string() ? message.get<std::string>() : message.dump(),
                  std::move(fields));
  }
  std::string text = body.size() > 512 ? body.substr(0, 512) + "..." : body;
  return Status(StatusCode::kInternal, "the server answered HTTP " + std::to_string(http_status) +
                                           (text.empty() ? std::string() : ": " + text));
}

}  // namespace

std::string urlEncode(const std::string& value) { return net::percentEncode(value); }

std::string resolveServerUrl(const std::string& flag_value) {
  if (!flag_value.empty()) return flag_value;
  if (const char* env = std::getenv("SKIFF_SERVER"); env != nullptr && *env != '\0') return env;
  return kDefaultServer;
}

Result<ApiClient> ApiClient::connect(const std::string& base_url, net::TlsClientOptions tls) {
  auto url = net::parseUrl(base_url);
  if (!url.ok())
    return badRequest(
        "the server URL must look like https://HOST:PORT (or http:// for a server "
        "started with --insecure-http), got \"" +
        base_url + "\" (set --server or SKIFF_SERVER)");
  std::string clean = base_url;
  while (!clean.empty() && clean.back() == '/') clean.pop_back();
  if (tls.trust_advice.empty()) tls.trust_advice = kTrustAdvice;
  return ApiClient(clean, std::move(tls));
}

Status ApiClient::unreachable(const Status& failure) const {
  // A CA file or pin that cannot be used, or a server that cannot be verified (reached, but not
  // trusted): the message says what to do, and it is not about the address.
  if (failure.code() != StatusCode::kUnavailable ||
      failure.message().find(tls_.trust_advice) != std::string::npos)
    return failure;
  return Status(failure.code(), "cannot reach the Skiff server at " + base_url_ + ": " +
                                    failure.message() + " (set --server or SKIFF_SERVER)");
}

net::ClientRequest ApiClient::makeRequest(const std::string& method, const std::string& target,
                                          const std::string& body,
                                          const std::string& content_type) const {
  net::ClientRequest request;
  request.method = method;
  request.url = base_url_ + target;
  request.timeout = kRequestTimeout;
  request.max_response_bytes = kMaxReplyBytes;
  if (!token_.empty()) request.headers.emplace_back("Authorization", "Bearer " + token_);
  request.headers.emplace_back("User-Agent", std::string("skiff-cli/") + SKIFF_VERSION);
  request.headers.emplace_back("Accept", "application/json");
  if (!content_type.empty()) request.headers.emplace_back("Content-Type", content_type);
  request.body = body;
  return request;
}

Result<ApiClient::Reply> ApiClient::exchange(const std::string& method, const std::string& target,
                                             const std::string& body,
                                             const std::string& content_type) {
  auto response = net::fetch(makeRequest(method, target, body, content_type), tls_);
  if (!response.ok()) return unreachable(response.status());
  return Reply{response->status, std::move(response->body)};
}

void ApiClient::setToken(std::string token, std::string login_hint) {
  token_ = std::move(token);
  login_hint_ = std::move(login_hint);
}

Status statusFromErrorReply(int http_status, const std::string& body) {
  Status status = statusFromErrorDocument(http_status, body);
  // Whatever sits in front of the server (a proxy) may answer these without a Status body.
  if (http_status == 401 && status.code() != StatusCode::kUnauthenticated)
    return Status(StatusCode::kUnauthenticated, status.message(), status.fields());
  if (http_status == 403 && status.code() != StatusCode::kForbidden)
    return Status(StatusCode::kForbidden, status.message(), status.fields());
  return status;
}

Status ApiClient::errorFromReply(int http_status, const std::string& body) const {
  Status status = statusFromErrorReply(http_status, body);
  if (status.code() != StatusCode::kUnauthenticated) return status;
  return Status(StatusCode::kUnauthenticated, "not logged in to " + base_url_ + ": " + login_hint_ +
                                                  " (server said: " + status.message() + ")");
}

Result<json> ApiClient::call(const std::string& method, const std::string& target,
                             const std::string& body, const std::string& content_type) {
  auto reply = exchange(method, target, body, content_type);
  if (!reply.ok()) return reply.status();
  if (reply->status < 200 || reply->status >= 300)
    return errorFromReply(reply->status, reply->body);
  if (reply->body.empty()) return json::object();  // e.g. 204 No Content
  json doc = json::parse(reply->body, nullptr, false);
  if (doc.is_discarded())
    return internalError("the server at " + base_url_ + " answered " + method + " " + target +
                         " with a body that is not JSON: is it a Skiff server?");
  return doc;
}

Result<json> ApiClient::request(const std::string& method, const std::string& target,
                                const json& body) {
  if (body.is_null()) return call(method, target);
  return call(method, target, body.dump(), "application/json");
}

Result<json> ApiClient::login(const std::string& user, const std::string& password) {
  const std::string saved = std::exchange(token_, std::string());
  const std::string target = "/api/v1/login";
  auto reply = exchange("POST", target, json{{"user", user}, {"password", password}}.dump(),
                        "application/json");
  token_ = saved;
  if (!reply.ok()) return reply.status();
  if (reply->status < 200 || reply->status >= 300)
    return statusFromErrorReply(reply->status, reply->body);
  json doc = json::parse(reply->body, nullptr, false);
  if (!doc.is_object() || !doc.contains("token") || !doc["token"].is_string())
    return internalError("the server at " + base_url_ + " answered POST " + target +
                         " without a token: is it a Skiff server that supports login?");
  return doc;
}

Result<json> ApiClient::get(const ObjectAddress& address) {
  return call("GET", objectPath(address));
}

Result<json> ApiClient::list(const ListQuery& query) { return call("GET", listTarget(query, "")); }

Result<json> ApiClient::create(const ObjectAddress& address, const json& object, bool dry_run) {
  std::string target = collectionPath(*address.kind, address.tenant, false);
  if (dry_run) target += "?dryRun=true";
  return call("POST", target, object.dump(), "application/json");
}

Result<json> ApiClient::replace(const ObjectAddress& address, const json& object, bool dry_run) {
  std::string target = objectPath(address);
  if (dry_run) target += "?dryRun=true";
  return call("PUT", target, object.dump(), "application/json");
}

Result<json> ApiClient::mergePatch(const ObjectAddress& address, const json& patch) {
  return call("PATCH", objectPath(address), patch.dump(), "application/merge-patch+json");
}

Result<json> ApiClient::remove(const ObjectAddress& address) {
  return call("DELETE", objectPath(address));
}

Result<json> ApiClient::serverVersion() { return call("GET", "/version"); }

Status ApiClient::watch(const ListQuery& query, std::optional<int64_t> resource_version,
                        const std::function<bool(const json& event)>& on_event) {
  std::string extra = "watch=true";
  if (resource_version) extra += "&resourceVersion=" + std::to_string(*resource_version);
  // Events are newline-delimited JSON; the server's bookmarks keep a quiet watch alive.
  std::string pending;  // body bytes not yet split into lines
  Status undecodable;
  Status streamed = streamGet(listTarget(query, extra), [&](std::string_view data) {
    pending.append(data);
    for (size_t eol; (eol = pending.find('\n')) != std::string::npos;) {
      std::string line = pending.substr(0, eol);
      pending.erase(0, eol + 1);
      if (line.empty()) continue;
      json event = json::parse(line, nullptr, false);
      if (event.is_discarded()) {
        undecodable = internalError("the server sent a watch event that is not JSON: " + line);
        return false;
      }
      if (!on_event(event)) return false;
    }
    return true;
  });
  return undecodable.isOk() ? streamed : undecodable;
}

Status ApiClient::streamGet(const std::string& target,
                            const std::function<bool(std::string_view data)>& on_data) {
  net::ClientRequest request = makeRequest("GET", target, "", "");
  for (auto& [name, value] : request.headers)
    if (name == "Accept") value = "text/plain, application/json";
  // The server answers once it has opened what it streams; then the stream is open-ended.
  auto response = net::fetchStreaming(request, on_data, tls_);
  if (!response.ok()) return unreachable(response.status());
  if (response->status < 200 || response->status >= 300)
    return errorFromReply(response->status, response->body);
  return Status::ok();
}

}  // namespace skiff::cli
