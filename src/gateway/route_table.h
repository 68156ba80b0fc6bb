// RouteTable: the gateway's immutable routing configuration, as pushed by the control plane,
// and the matching of a request (host, path, headers) to one route.
//
// A table is built once by parseRouteTable(), which validates the JSON and reports every bad
// field by its path ("routes[2].backends[0].address"), and never changes afterwards. It is
// shared read-only between threads through std::shared_ptr<const RouteTable>; match() is
// const, allocation-free and safe to call from any number of threads at once.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "gateway/http_parser.h"

namespace skiff::gateway {

struct HeaderMatch {
  enum class Type { kExact, kPrefix, kPresent };
  std::string name;
  std::string value;
  Type type = Type::kExact;
};

// A cookie of the request's Cookie headers, or a parameter of its query string, equal to
// `value` (compared as sent: no percent-decoding).
struct ValueMatch {
  std::string name;
  std::string value;
};

enum class BalancerKind { kRoundRobin, kLeastRequest };

struct Backend {
  std::string address;  // "IP:PORT" as given
  boost::asio::ip::tcp::endpoint endpoint;
  uint32_t weight = 100;
  // The application revision the backend runs ("" when not told): its requests are counted
  // under this label too, so a release can judge the new revision against the old one.
  std::string revision;
};

struct Route {
  std::string id;
  std::string host;  // lowercase; "*" matches any host
  std::string path_prefix = "/";
  std::vector<HeaderMatch> headers;
  std::vector<ValueMatch> cookies;
  std::vector<ValueMatch> query;
  uint32_t timeout_ms = 30000;
  uint32_t retries = 0;
  BalancerKind balancer = BalancerKind::kRoundRobin;
  bool sticky = false;  // each client address keeps its backend (Balancer::pickFor)
  std::vector<Backend> backends;
  size_t index = 0;  // position in RouteTable::routes()
};

class RouteTable {
 public:
  RouteTable() = default;
  RouteTable(uint64_t version, std::vector<Route> routes, std::string json);
  // The lookup index points into routes_, so a table never moves once built.
  RouteTable(const RouteTable&) = delete;
  RouteTable& operator=(const RouteTable&) = delete;

  uint64_t version() const { return version_; }
  const std::vector<Route>& routes() const { return routes_; }
  // The table as JSON, as it was accepted (what GET /routes returns and routes.json holds).
  const std::string& json() const { return json_; }

  // The route for a request, or nullptr. `host` is the Host header as received (any case, with
  // or without a port); `target` the request target, whose query string only query matches
  // look at. Exact host routes are tried before "*" routes; within them the longest matching
  // path prefix wins, then the route with more matches (headers, cookies, query).
  const Route* match(std::string_view host, std::string_view target, const HttpHeader* headers,
                     size_t header_count) const;

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  static const Route* firstMatch(const std::vector<const Route*>& candidates, std::string_view path,
                                 std::string_view query, const HttpHeader* headers,
                                 size_t header_count);

  uint64_t version_ = 0;
  std::vector<Route> routes_;
  std::string json_ = R"({"routes":[],"version":0})";
  // Candidates per lowercase host, most specific first.
  std::unordered_map<std::string, std::vector<const Route*>, StringHash, std::equal_to<>> by_host_;
  std::vector<const Route*> any_host_;
};

// Validates and builds a table. Errors are kInvalid with one FieldError per bad field
// (or kBadRequest when `json_text` is not JSON at all).
Result<std::shared_ptr<const RouteTable>> parseRouteTable(std::string_view json_text);
// The same for a table already parsed (the admin API splits certificates off the document).
Result<std::shared_ptr<const RouteTable>> parseRouteTable(const nlohmann::json& doc);

// A Host header (or SNI name) as routes name hosts: lowercase, without port or trailing dot,
// written into `buf` (no allocation on the hot path); empty when longer than `cap`.
std::string_view normalizeHost(std::string_view host, char* buf, size_t cap);

// Segment-aware prefix test: "/api" matches "/api" and "/api/x" but not "/apix".
bool pathHasPrefix(std::string_view path, std::string_view prefix);

}  // namespace skiff::gateway
