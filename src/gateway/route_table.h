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
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
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
  std::string json;  // the route as accepted (compact JSON): tables are kept and shown as given
};

// Routes never change once parsed: a table made from another by a delta shares the routes it
// keeps.
using RoutePtr = std::shared_ptr<const Route>;

class RouteTable {
 public:
  static constexpr size_t kNone = SIZE_MAX;

  // What a delta changed, by position: `gone` in the base (removed or replaced), `added` in
  // the new table (replacements, in place, and new routes, at the end), and `base_index`, each
  // route's position in the base (kNone: added).
  struct Change {
    std::vector<uint32_t> gone;
    std::vector<uint32_t> added;
    std::vector<size_t> base_index;
  };

  RouteTable();
  explicit RouteTable(uint64_t version, std::vector<RoutePtr> routes);
  // A table made from `base` by a delta: its indexes are the base's, patched where the delta
  // changed something (rebuilt when the patches would crowd them).
  RouteTable(uint64_t version, std::vector<RoutePtr> routes, const RouteTable& base, Change change);
  // The lookup index points into the routes, so a table never moves once built.
  RouteTable(const RouteTable&) = delete;
  RouteTable& operator=(const RouteTable&) = delete;

  uint64_t version() const { return version_; }
  const std::vector<RoutePtr>& routes() const { return routes_; }
  // The table as JSON, as it was accepted (what GET /routes returns and routes.json holds):
  // its routes' own texts, joined on first use.
  const std::string& json() const;

  // Unique to this table in this process; for a table made by a delta, the serial of its base
  // and each route's index there (kNone: new or replaced). Workers keep the state of the routes
  // a delta left alone.
  uint64_t serial() const { return serial_; }
  uint64_t baseSerial() const { return base_serial_; }
  const std::vector<size_t>& baseIndex() const { return base_index_; }

  // The route for a request, or nullptr; `index`, when given, gets its position in routes().
  // `host` is the Host header as received (any case, with or without a port); `target` the
  // request target, whose query string only query matches look at. Exact host routes are tried
  // before "*" routes; within them the longest matching path prefix wins, then the route with
  // more matches (headers, cookies, query), then the first.
  const Route* match(std::string_view host, std::string_view target, const HttpHeader* headers,
                     size_t header_count, size_t* index = nullptr) const;
  // The index of the route with `id` in routes(), or kNone.
  size_t indexOf(std::string_view id) const;

 private:
  // An open-addressing hash from a route's string (host or id, viewed in the route) to an index
  // into routes_, without an allocation per route. A table made by a delta copies its base's
  // and patches it: a key erased leaves a tombstone, which a later insert may take.
  class Index {
   public:
    static constexpr uint32_t kEmpty = UINT32_MAX;
    void reserve(size_t n);
    // The slot of `key`: its value, or kEmpty to be filled.
    uint32_t& operator[](std::string_view key);
    uint32_t find(std::string_view key) const;  // kEmpty when absent
    void erase(std::string_view key);
    // Points the slot of `key`, which must be there, at an equal string that outlives it.
    void rekey(std::string_view key, std::string_view same);
    // Applies `f` to every value.
    template <typename F>
    void remap(F f) {
      for (auto& [k, v] : slots_)
        if (v != kEmpty && v != kTomb) v = f(v);
    }
    // Whether `more` inserts would fill more than three quarters of the slots.
    bool crowded(size_t more) const { return 4 * (used_ + more) > 3 * slots_.size(); }

   private:
    static constexpr uint32_t kTomb = UINT32_MAX - 1;
    std::vector<std::pair<std::string_view, uint32_t>> slots_;
    size_t used_ = 0;  // slots not empty, tombstones included
  };

  // Builds the indexes from scratch, or from `base`'s with `change` applied (false: they would
  // be crowded; nothing is changed then).
  void buildIndexes();
  bool patchIndexes(const RouteTable& base, const Change& change);
  // Puts routes_[i] into its host's chain where moreSpecific() orders it.
  void link(uint32_t i);

  // The first route of the chain from `first` (next_) that matches, or kNone.
  size_t firstMatch(uint32_t first, std::string_view path, std::string_view query,
                    const HttpHeader* headers, size_t header_count) const;
  // Whether routes_[a] is tried before routes_[b] on one host.
  bool moreSpecific(uint32_t a, uint32_t b) const;

  uint64_t version_ = 0;
  std::vector<RoutePtr> routes_;
  uint64_t serial_ = 0;
  uint64_t base_serial_ = 0;  // 0: none
  std::vector<size_t> base_index_;
  mutable std::once_flag json_once_;
  mutable std::string json_;
  // The candidates of a lowercase host, most specific first: the first in by_host_, each
  // next one in next_; "*" routes from any_host_.
  Index by_host_;
  Index by_id_;
  std::vector<uint32_t> next_;
  std::vector<uint32_t> tail_;  // each chain's last route, at its head's index
  uint32_t any_host_ = Index::kEmpty;
};

// Validates and builds a table. Errors are kInvalid with one FieldError per bad field
// (or kBadRequest when `json_text` is not JSON at all).
Result<std::shared_ptr<const RouteTable>> parseRouteTable(std::string_view json_text);
// The same for a table already parsed (the admin API splits certificates off the document).
Result<std::shared_ptr<const RouteTable>> parseRouteTable(const nlohmann::json& doc);

// The table that `delta` makes of `base`, which must be the table it was computed against:
//   {"baseVersion": N, "version": M, "remove": ["ID", ...], "upsert": [ROUTE, ...]}
// with M >= N. Removed ids must exist; an upserted route replaces the one with its id in place,
// or else comes last. Errors: kConflict when base is not version N (the sender then sends the
// whole table), kInvalid naming each bad field ("upsert[2].host", "remove[0]").
Result<std::shared_ptr<const RouteTable>> applyRouteDelta(const RouteTable& base,
                                                          const nlohmann::json& delta);

// A Host header (or SNI name) as routes name hosts: lowercase, without port or trailing dot,
// written into `buf` (no allocation on the hot path); empty when longer than `cap`.
std::string_view normalizeHost(std::string_view host, char* buf, size_t cap);

// Segment-aware prefix test: "/api" matches "/api" and "/api/x" but not "/apix".
bool pathHasPrefix(std::string_view path, std::string_view prefix);

}  // namespace skiff::gateway
