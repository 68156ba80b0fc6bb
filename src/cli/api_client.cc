#include "cli/api_client.h"

#include <utility>  // before Boost.Asio on Boost 1.74

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <limits>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace skiff::cli {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

constexpr auto kRequestTimeout = std::chrono::seconds(30);
// Lists of many objects are large; the server bounds what it sends, not us.
constexpr uint64_t kMaxReplyBytes = uint64_t{1} << 31;
// For open-ended streams. Not boost::none: Boost 1.74's parser then refuses every answer with a
// Content-Length (it compares the length with an empty optional), such as a JSON error answer.
constexpr uint64_t kUnlimitedBody = std::numeric_limits<uint64_t>::max();

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

// Connects a stream to host:port; the error is the resolver's or the last connect attempt's.
beast::error_code connectStream(beast::tcp_stream& stream, boost::asio::io_context& io,
                                const std::string& host, const std::string& port) {
  beast::error_code ec;
  tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(host, port, ec);
  if (ec) return ec;
  stream.expires_after(kRequestTimeout);
  stream.connect(endpoints, ec);
  return ec;
}

http::request<http::string_body> makeRequest(http::verb verb, const std::string& target,
                                             const std::string& host, const std::string& token,
                                             const std::string& body,
                                             const std::string& content_type) {
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, host);
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  req.set(http::field::user_agent, std::string("skiff-cli/") + SKIFF_VERSION);
  req.set(http::field::accept, "application/json");
  req.set(http::field::connection, "close");
  if (!content_type.empty()) req.set(http::field::content_type, content_type);
  req.body() = body;
  req.prepare_payload();
  return req;
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

std::string urlEncode(const std::string& value) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string resolveServerUrl(const std::string& flag_value) {
  if (!flag_value.empty()) return flag_value;
  if (const char* env = std::getenv("SKIFF_SERVER"); env != nullptr && *env != '\0') return env;
  return kDefaultServer;
}

Result<ApiClient> ApiClient::connect(const std::string& base_url) {
  const std::string scheme = "http://";
  auto bad = [&] {
    return badRequest("the server URL must look like http://HOST:PORT, got \"" + base_url +
                      "\" (set --server or SKIFF_SERVER)");
  };
  if (base_url.rfind(scheme, 0) != 0) return bad();
  std::string rest = base_url.substr(scheme.size());
  std::string prefix;
  if (size_t slash = rest.find('/'); slash != std::string::npos) {
    prefix = rest.substr(slash);
    rest.resize(slash);
  }
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  std::string host = rest;
  std::string port = "80";
  if (!rest.empty() && rest.front() == '[') {  // [IPv6]:port
    size_t close = rest.find(']');
    if (close == std::string::npos) return bad();
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return bad();
      port = rest.substr(close + 2);
    }
  } else if (size_t colon = rest.rfind(':'); colon != std::string::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host.empty() || port.empty() || port.find_first_not_of("0123456789") != std::string::npos)
    return bad();
  std::string clean = base_url;
  while (clean.size() > scheme.size() && clean.back() == '/') clean.pop_back();
  return ApiClient(clean, host, port, prefix);
}

Status ApiClient::unreachable(const std::string& reason) const {
  return Status(StatusCode::kUnavailable, "cannot reach the Skiff server at " + base_url_ + ": " +
                                              reason + " (set --server or SKIFF_SERVER)");
}

Result<ApiClient::Reply> ApiClient::exchange(const std::string& method, const std::string& target,
                                             const std::string& body,
                                             const std::string& content_type) {
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  if (auto ec = connectStream(stream, io, host_, port_)) return unreachable(ec.message());
  auto req = makeRequest(http::string_to_verb(method), path_prefix_ + target, host_, token_, body,
                         content_type);
  beast::error_code ec;
  stream.expires_after(kRequestTimeout);
  http::write(stream, req, ec);
  if (ec) return unreachable(ec.message());
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxReplyBytes);
  http::read(stream, buffer, parser, ec);
  if (ec) return unreachable(ec.message());
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  Reply reply;
  reply.status = static_cast<int>(parser.get().result_int());
  reply.body = std::move(parser.get().body());
  return reply;
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
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  if (auto ec = connectStream(stream, io, host_, port_)) return unreachable(ec.message());
  auto req = makeRequest(http::verb::get, path_prefix_ + target, host_, token_, "", "");
  req.set(http::field::accept, "text/plain, application/json");
  beast::error_code ec;
  http::write(stream, req, ec);
  if (ec) return unreachable(ec.message());

  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(kUnlimitedBody);
  // The server answers once it has opened what it streams; then the stream is open-ended.
  stream.expires_after(kRequestTimeout);
  http::read_header(stream, buffer, parser, ec);
  if (ec) return unreachable(ec.message());
  stream.expires_never();

  const int http_status = static_cast<int>(parser.get().result_int());
  const bool failed = http_status < 200 || http_status >= 300;
  std::string error_body;
  char chunk[16 * 1024];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    http::read_some(stream, buffer, parser, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec == http::error::end_of_stream || ec == boost::asio::error::eof) break;
    if (ec) return unreachable("the stream broke: " + ec.message());
    const std::string_view data(chunk, sizeof chunk - parser.get().body().size);
    if (failed) {
      error_body.append(data);
    } else if (!data.empty() && !on_data(data)) {
      return Status::ok();
    }
  }
  if (failed) return errorFromReply(http_status, error_body);
  return Status::ok();
}

}  // namespace skiff::cli
