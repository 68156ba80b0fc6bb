#include "gateway/route_table.h"

#include <algorithm>
#include <atomic>
#include <nlohmann/json.hpp>

namespace skiff::gateway {
namespace {

using nlohmann::json;

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  return out;
}

bool headerMatches(const HeaderMatch& m, const HttpHeader* headers, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    if (!equalsIgnoreCase(headers[i].name, m.name)) continue;
    switch (m.type) {
      case HeaderMatch::Type::kPresent:
        return true;
      case HeaderMatch::Type::kExact:
        if (headers[i].value == m.value) return true;
        break;
      case HeaderMatch::Type::kPrefix:
        if (headers[i].value.starts_with(m.value)) return true;
        break;
    }
  }
  return false;
}

// Whether a Cookie header ("a=1; b=2") of the request sets cookie m.name to m.value.
bool cookieMatches(const ValueMatch& m, const HttpHeader* headers, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    if (!equalsIgnoreCase(headers[i].name, "cookie")) continue;
    std::string_view rest = headers[i].value;
    while (!rest.empty()) {
      const size_t end = rest.find(';');
      std::string_view pair = rest.substr(0, end);
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      const size_t eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == m.name &&
          pair.substr(eq + 1) == m.value)
        return true;
    }
  }
  return false;
}

// Whether the query string ("a=1&b=2") sets parameter m.name to m.value.
bool queryMatches(const ValueMatch& m, std::string_view query) {
  while (!query.empty()) {
    const size_t end = query.find('&');
    std::string_view pair = query.substr(0, end);
    query = end == std::string_view::npos ? std::string_view() : query.substr(end + 1);
    const size_t eq = pair.find('=');
    const std::string_view name = pair.substr(0, eq);
    const std::string_view value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (name == m.name && value == m.value) return true;
  }
  return false;
}

size_t matchCount(const Route& r) { return r.headers.size() + r.cookies.size() + r.query.size(); }

bool isValidHost(const std::string& host) {
  if (host == "*") return true;
  if (host.empty() || host.size() > 253) return false;
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
    if (!ok) return false;
  }
  return true;
}

bool isToken(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos)
      return false;
  }
  return true;
}

// Collects field errors while walking the document, so one PUT reports all of them.
class Validator {
 public:
  void fail(std::string path, std::string message) {
    errors_.push_back({std::move(path), std::move(message)});
  }
  std::vector<FieldError>& errors() { return errors_; }

  // Reads an optional unsigned integer in [min, max]; records an error when it is not one.
  uint64_t uintField(const json& obj, const char* key, const std::string& path, uint64_t fallback,
                     uint64_t min, uint64_t max) {
    auto it = obj.find(key);
    if (it == obj.end()) return fallback;
    if (!it->is_number_integer() ||
        (it->is_number_integer() && !it->is_number_unsigned() && it->get<int64_t>() < 0)) {
      fail(path, "must be a non-negative integer");
      return fallback;
    }
    uint64_t v = it->get<uint64_t>();
    if (v < min || v > max) {
      fail(path, "must be between " + std::to_string(min) + " and " + std::to_string(max));
      return fallback;
    }
    return v;
  }

  std::string stringField(const json& obj, const char* key, const std::string& path, bool required,
                          std::string fallback = "") {
    auto it = obj.find(key);
    if (it == obj.end()) {
      if (required) fail(path, "is required");
      return fallback;
    }
    if (!it->is_string()) {
      fail(path, "must be a string");
      return fallback;
    }
    return it->get<std::string>();
  }

 private:
  std::vector<FieldError> errors_;
};

bool parseBackendAddress(const std::string& address, boost::asio::ip::tcp::endpoint& out) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) return false;
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  uint32_t port = 0;
  for (size_t i = colon + 1; i < address.size(); ++i) {
    char c = address[i];
    if (c < '0' || c > '9') return false;
    port = port * 10 + static_cast<uint32_t>(c - '0');
    if (port > 65535) return false;
  }
  if (port == 0) return false;
  boost::system::error_code ec;
  auto ip = boost::asio::ip::make_address(host, ec);
  if (ec) return false;
  out = boost::asio::ip::tcp::endpoint(ip, static_cast<uint16_t>(port));
  return true;
}

Route parseRoute(const json& r, const std::string& path, Validator& v) {
  Route route;
  if (!r.is_object()) {
    v.fail(path, "must be an object");
    return route;
  }
  route.id = v.stringField(r, "id", path + ".id", true);
  if (r.contains("id") && r["id"].is_string() && route.id.empty())
    v.fail(path + ".id", "must not be empty");
  std::string host = lowercase(v.stringField(r, "host", path + ".host", true));
  if (r.contains("host") && r["host"].is_string() && !isValidHost(host))
    v.fail(path + ".host", "must be a DNS name (letters, digits, '-', '.') or \"*\"");
  route.host = host;
  route.path_prefix = v.stringField(r, "pathPrefix", path + ".pathPrefix", false, "/");
  if (route.path_prefix.empty() || route.path_prefix.front() != '/')
    v.fail(path + ".pathPrefix", "must start with '/'");
  route.timeout_ms =
      static_cast<uint32_t>(v.uintField(r, "timeoutMs", path + ".timeoutMs", 30000, 1, 3600000));
  route.retries = static_cast<uint32_t>(v.uintField(r, "retries", path + ".retries", 0, 0, 10));
  std::string balancer = v.stringField(r, "balancer", path + ".balancer", false, "round_robin");
  if (auto sticky = r.find("sticky"); sticky != r.end()) {
    if (sticky->is_boolean())
      route.sticky = sticky->get<bool>();
    else
      v.fail(path + ".sticky", "must be true or false");
  }
  if (balancer == "round_robin")
    route.balancer = BalancerKind::kRoundRobin;
  else if (balancer == "least_request")
    route.balancer = BalancerKind::kLeastRequest;
  else
    v.fail(path + ".balancer", "must be \"round_robin\" or \"least_request\"");

  if (auto m = r.find("match"); m != r.end() && m->is_object()) {
    for (const char* kind : {"cookies", "query"}) {
      auto list = m->find(kind);
      if (list == m->end()) continue;
      const std::string lp = path + ".match." + kind;
      if (!list->is_array()) {
        v.fail(lp, "must be an array");
        continue;
      }
      for (size_t i = 0; i < list->size(); ++i) {
        const json& item = (*list)[i];
        const std::string ip = lp + "[" + std::to_string(i) + "]";
        if (!item.is_object()) {
          v.fail(ip, "must be an object");
          continue;
        }
        ValueMatch match{v.stringField(item, "name", ip + ".name", true),
                         v.stringField(item, "value", ip + ".value", true)};
        if (match.name.empty() && item.contains("name")) v.fail(ip + ".name", "must not be empty");
        (std::string_view(kind) == "cookies" ? route.cookies : route.query)
            .push_back(std::move(match));
      }
    }
  }
  if (auto m = r.find("match"); m != r.end()) {
    if (!m->is_object()) {
      v.fail(path + ".match", "must be an object");
    } else if (auto hs = m->find("headers"); hs != m->end()) {
      if (!hs->is_array())
        v.fail(path + ".match.headers", "must be an array");
      else {
        for (size_t i = 0; i < hs->size(); ++i) {
          const json& h = (*hs)[i];
          std::string hp = path + ".match.headers[" + std::to_string(i) + "]";
          if (!h.is_object()) {
            v.fail(hp, "must be an object");
            continue;
          }
          HeaderMatch match;
          match.name = v.stringField(h, "name", hp + ".name", true);
          if (h.contains("name") && h["name"].is_string() && !isToken(match.name))
            v.fail(hp + ".name", "must be a valid header name");
          std::string type = v.stringField(h, "type", hp + ".type", false, "exact");
          if (type == "exact")
            match.type = HeaderMatch::Type::kExact;
          else if (type == "prefix")
            match.type = HeaderMatch::Type::kPrefix;
          else if (type == "present")
            match.type = HeaderMatch::Type::kPresent;
          else
            v.fail(hp + ".type", "must be \"exact\", \"prefix\" or \"present\"");
          match.value =
              v.stringField(h, "value", hp + ".value", match.type != HeaderMatch::Type::kPresent);
          route.headers.push_back(std::move(match));
        }
      }
    }
  }

  auto bs = r.find("backends");
  if (bs == r.end()) {
    v.fail(path + ".backends", "is required (it may be empty)");
  } else if (!bs->is_array()) {
    v.fail(path + ".backends", "must be an array");
  } else {
    for (size_t i = 0; i < bs->size(); ++i) {
      const json& b = (*bs)[i];
      std::string bp = path + ".backends[" + std::to_string(i) + "]";
      if (!b.is_object()) {
        v.fail(bp, "must be an object");
        continue;
      }
      Backend backend;
      backend.address = v.stringField(b, "address", bp + ".address", true);
      if (b.contains("address") && b["address"].is_string() &&
          !parseBackendAddress(backend.address, backend.endpoint))
        v.fail(bp + ".address", "must be IP:PORT (an IPv4 or [IPv6] literal and a port 1-65535)");
      backend.weight =
          static_cast<uint32_t>(v.uintField(b, "weight", bp + ".weight", 100, 1, 10000));
      backend.revision = v.stringField(b, "revision", bp + ".revision", false);
      if (backend.revision.size() > 63) v.fail(bp + ".revision", "must be at most 63 characters");
      route.backends.push_back(std::move(backend));
    }
  }
  return route;
}

// The routes of `list` (a table's "routes", a delta's "upsert"), each with its JSON text; errors
// name FIELD[i]..., and an id used twice.
std::vector<RoutePtr> parseRoutes(const json& list, const std::string& field, Validator& v) {
  std::vector<RoutePtr> routes;
  routes.reserve(list.size());
  std::unordered_map<std::string, size_t> ids;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string path = field + "[" + std::to_string(i) + "]";
    Route route = parseRoute(list[i], path, v);
    route.json = list[i].dump(-1, ' ', false, json::error_handler_t::replace);
    if (!route.id.empty()) {
      auto [it, inserted] = ids.emplace(route.id, i);
      if (!inserted)
        v.fail(path + ".id", "duplicates " + field + "[" + std::to_string(it->second) + "].id");
    }
    routes.push_back(std::make_shared<const Route>(std::move(route)));
  }
  return routes;
}

}  // namespace

std::string_view normalizeHost(std::string_view host, char* buf, size_t cap) {
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    host = close == std::string_view::npos ? host : host.substr(0, close + 1);
  } else {
    size_t colon = host.rfind(':');
    if (colon != std::string_view::npos) host = host.substr(0, colon);
  }
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);  // "shop.localhost."
  if (host.size() > cap) return {};
  for (size_t i = 0; i < host.size(); ++i) {
    char c = host[i];
    buf[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  }
  return std::string_view(buf, host.size());
}

bool pathHasPrefix(std::string_view path, std::string_view prefix) {
  if (!path.starts_with(prefix)) return false;
  if (path.size() == prefix.size() || prefix.back() == '/') return true;
  return path[prefix.size()] == '/';
}

namespace {
std::atomic<uint64_t> next_serial{1};
}  // namespace

RouteTable::RouteTable() : serial_(next_serial.fetch_add(1, std::memory_order_relaxed)) {}

void RouteTable::Index::reserve(size_t n) {
  size_t capacity = 16;
  while (capacity < 2 * n) capacity *= 2;
  slots_.assign(capacity, {std::string_view(), kEmpty});
  used_ = 0;
}

uint32_t& RouteTable::Index::operator[](std::string_view key) {
  const size_t mask = slots_.size() - 1;
  std::pair<std::string_view, uint32_t>* tomb = nullptr;
  for (size_t i = std::hash<std::string_view>()(key) & mask;; i = (i + 1) & mask) {
    auto& slot = slots_[i];
    if (slot.second == kTomb) {
      if (tomb == nullptr) tomb = &slot;
      continue;
    }
    if (slot.second == kEmpty) {
      auto& taken = tomb != nullptr ? *tomb : slot;
      if (tomb == nullptr) ++used_;
      taken = {key, kEmpty};
      return taken.second;
    }
    if (slot.first == key) return slot.second;
  }
}

uint32_t RouteTable::Index::find(std::string_view key) const {
  if (slots_.empty()) return kEmpty;
  const size_t mask = slots_.size() - 1;
  for (size_t i = std::hash<std::string_view>()(key) & mask;; i = (i + 1) & mask) {
    const auto& [k, v] = slots_[i];
    if (v == kEmpty) return kEmpty;
    if (v != kTomb && k == key) return v;
  }
}

void RouteTable::Index::erase(std::string_view key) {
  const size_t mask = slots_.size() - 1;
  for (size_t i = std::hash<std::string_view>()(key) & mask;; i = (i + 1) & mask) {
    auto& [k, v] = slots_[i];
    if (v == kEmpty) return;
    if (v != kTomb && k == key) {
      k = std::string_view();
      v = kTomb;
      return;
    }
  }
}

void RouteTable::Index::rekey(std::string_view key, std::string_view same) {
  const size_t mask = slots_.size() - 1;
  for (size_t i = std::hash<std::string_view>()(key) & mask;; i = (i + 1) & mask) {
    auto& [k, v] = slots_[i];
    if (v == kEmpty) return;
    if (v != kTomb && k == key) {
      k = same;
      return;
    }
  }
}

RouteTable::RouteTable(uint64_t version, std::vector<RoutePtr> routes)
    : version_(version),
      routes_(std::move(routes)),
      serial_(next_serial.fetch_add(1, std::memory_order_relaxed)) {
  buildIndexes();
}

RouteTable::RouteTable(uint64_t version, std::vector<RoutePtr> routes, const RouteTable& base,
                       Change change)
    : version_(version),
      routes_(std::move(routes)),
      serial_(next_serial.fetch_add(1, std::memory_order_relaxed)),
      base_serial_(base.serial()),
      base_index_(std::move(change.base_index)) {
  if (!patchIndexes(base, change)) buildIndexes();
}

void RouteTable::buildIndexes() {
  // Never full, so that a probe always ends at an empty slot.
  by_host_.reserve(routes_.size());
  by_id_.reserve(routes_.size());
  next_.assign(routes_.size(), Index::kEmpty);
  any_host_ = Index::kEmpty;
  // Each host's chain in the table's order first: appended at its tail. One hash per route
  // and key.
  tail_.assign(routes_.size(), Index::kEmpty);
  std::vector<uint32_t*> several;  // the heads of chains of more than one route
  for (size_t i = 0; i < routes_.size(); ++i) {
    const uint32_t at = static_cast<uint32_t>(i);
    const Route& r = *routes_[i];
    by_id_[r.id] = at;
    // A slot of by_host_ stays where it is: the index never grows after reserve().
    uint32_t& head = r.host == "*" ? any_host_ : by_host_[r.host];
    if (head == Index::kEmpty) {
      head = at;
    } else {
      if (tail_[head] == head) several.push_back(&head);
      next_[tail_[head]] = at;
    }
    tail_[head] = at;
  }
  // Then in order of specificity: chains of several routes (a host with several paths) are
  // sorted unless they are in order already, as when all are alike.
  std::vector<uint32_t> chain;
  for (uint32_t* head : several) {
    bool ordered = true;
    for (uint32_t k = *head; ordered && next_[k] != Index::kEmpty; k = next_[k])
      ordered = moreSpecific(k, next_[k]);
    if (ordered) continue;
    chain.clear();
    for (uint32_t k = *head; k != Index::kEmpty; k = next_[k]) chain.push_back(k);
    std::sort(chain.begin(), chain.end(),
              [this](uint32_t a, uint32_t b) { return moreSpecific(a, b); });
    *head = chain.front();
    for (size_t k = 0; k + 1 < chain.size(); ++k) next_[chain[k]] = chain[k + 1];
    next_[chain.back()] = Index::kEmpty;
    tail_[chain.front()] = chain.back();
  }
}

bool RouteTable::patchIndexes(const RouteTable& base, const Change& change) {
  if (base.by_id_.crowded(change.added.size()) || base.by_host_.crowded(change.added.size()))
    return false;
  // A route's position here, from its position in the base (kEmpty: gone): positions only
  // shift down past removed routes, so chains keep their order.
  std::vector<uint32_t> moved(base.routes_.size(), Index::kEmpty);
  for (size_t i = 0; i < base_index_.size(); ++i)
    if (base_index_[i] != kNone) moved[base_index_[i]] = static_cast<uint32_t>(i);
  by_id_ = base.by_id_;
  by_host_ = base.by_host_;
  std::vector<uint32_t> next = base.next_;
  std::vector<uint32_t> tail = base.tail_;
  uint32_t any = base.any_host_;

  // Out with what went, in the base's numbering. Their hosts' keys may view their strings.
  std::vector<std::string_view> hosts;
  for (uint32_t b : change.gone) {
    const Route& r = *base.routes_[b];
    by_id_.erase(r.id);
    uint32_t& head = r.host == "*" ? any : by_host_[r.host];
    if (head == b) {
      head = next[b];
      if (head != Index::kEmpty) tail[head] = tail[b];
    } else {
      uint32_t k = head;
      while (next[k] != b) k = next[k];
      next[k] = next[b];
      if (tail[head] == b) tail[head] = k;
    }
    if (r.host != "*") {
      if (head == Index::kEmpty)
        by_host_.erase(r.host);
      else
        hosts.push_back(r.host);
    }
  }
  // Renumbered.
  auto renumber = [&](uint32_t b) { return b == Index::kEmpty ? b : moved[b]; };
  by_id_.remap(renumber);
  by_host_.remap(renumber);
  any_host_ = renumber(any);
  next_.assign(routes_.size(), Index::kEmpty);
  tail_.assign(routes_.size(), Index::kEmpty);
  for (size_t b = 0; b < next.size(); ++b) {
    if (moved[b] == Index::kEmpty) continue;
    next_[moved[b]] = renumber(next[b]);
    tail_[moved[b]] = renumber(tail[b]);
  }
  // In with what came.
  for (uint32_t i : change.added) {
    by_id_[routes_[i]->id] = i;
    link(i);
  }
  // Keys viewing a string of a route that went now view the same host in a route here.
  for (std::string_view host : hosts) {
    const uint32_t head = by_host_.find(host);
    if (head != Index::kEmpty) by_host_.rekey(host, routes_[head]->host);
  }
  return true;
}

void RouteTable::link(uint32_t i) {
  const Route& r = *routes_[i];
  uint32_t& head = r.host == "*" ? any_host_ : by_host_[r.host];
  if (head == Index::kEmpty) {
    head = i;
    tail_[i] = i;
    return;
  }
  if (moreSpecific(i, head)) {
    next_[i] = head;
    tail_[i] = tail_[head];
    head = i;
    return;
  }
  // Last is the common case (a new route, as specific as the others): no walk.
  if (moreSpecific(tail_[head], i)) {
    next_[tail_[head]] = i;
    tail_[head] = i;
    return;
  }
  uint32_t k = head;
  while (!moreSpecific(i, next_[k])) k = next_[k];
  next_[i] = next_[k];
  next_[k] = i;
}

bool RouteTable::moreSpecific(uint32_t ia, uint32_t ib) const {
  const Route& a = *routes_[ia];
  const Route& b = *routes_[ib];
  if (a.path_prefix.size() != b.path_prefix.size())
    return a.path_prefix.size() > b.path_prefix.size();
  if (matchCount(a) != matchCount(b)) return matchCount(a) > matchCount(b);
  return ia < ib;  // stable: the order the control plane gave
}

size_t RouteTable::indexOf(std::string_view id) const {
  const uint32_t at = by_id_.find(id);
  return at == Index::kEmpty ? kNone : at;
}

const std::string& RouteTable::json() const {
  // The keys in the order a JSON library sorts them, as tables were always shown.
  std::call_once(json_once_, [this] {
    size_t bytes = 40;
    for (const RoutePtr& r : routes_) bytes += r->json.size() + 1;
    json_.reserve(bytes);
    json_ = "{\"routes\":[";
    for (size_t i = 0; i < routes_.size(); ++i) {
      if (i > 0) json_ += ',';
      json_ += routes_[i]->json;
    }
    json_ += "],\"version\":" + std::to_string(version_) + "}";
  });
  return json_;
}

size_t RouteTable::firstMatch(uint32_t first, std::string_view path, std::string_view query,
                              const HttpHeader* headers, size_t header_count) const {
  for (uint32_t i = first; i != Index::kEmpty; i = next_[i]) {
    const Route& r = *routes_[i];
    if (!pathHasPrefix(path, r.path_prefix)) continue;
    bool ok = true;
    for (const HeaderMatch& m : r.headers) ok = ok && headerMatches(m, headers, header_count);
    for (const ValueMatch& m : r.cookies) ok = ok && cookieMatches(m, headers, header_count);
    for (const ValueMatch& m : r.query) ok = ok && queryMatches(m, query);
    if (ok) return i;
  }
  return kNone;
}

const Route* RouteTable::match(std::string_view host, std::string_view target,
                               const HttpHeader* headers, size_t header_count,
                               size_t* index) const {
  // Absolute-form targets ("http://host/path") carry the authority themselves.
  if (target.size() > 7 && (target.starts_with("http://") || target.starts_with("HTTP://"))) {
    std::string_view rest = target.substr(7);
    size_t slash = rest.find('/');
    host = rest.substr(0, slash);
    target = slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
  }
  const size_t question = target.find('?');
  std::string_view path = target.substr(0, question);
  std::string_view query =
      question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
  char buf[256];
  std::string_view h = normalizeHost(host, buf, sizeof buf);
  size_t found = kNone;
  if (!h.empty()) found = firstMatch(by_host_.find(h), path, query, headers, header_count);
  if (found == kNone) found = firstMatch(any_host_, path, query, headers, header_count);
  if (found == kNone) return nullptr;
  if (index != nullptr) *index = found;
  return routes_[found].get();
}

Result<std::shared_ptr<const RouteTable>> parseRouteTable(std::string_view json_text) {
  json doc = json::parse(json_text.begin(), json_text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return badRequest("route table is not valid JSON");
  return parseRouteTable(doc);
}

Result<std::shared_ptr<const RouteTable>> parseRouteTable(const json& doc) {
  if (!doc.is_object())
    return Status(StatusCode::kInvalid, "route table must be a JSON object",
                  {{"", "must be an object"}});
  Validator v;
  uint64_t version = 0;
  if (!doc.contains("version"))
    v.fail("version", "is required");
  else
    version = v.uintField(doc, "version", "version", 0, 0, UINT64_MAX);
  std::vector<RoutePtr> routes;
  auto rs = doc.find("routes");
  if (rs == doc.end()) {
    v.fail("routes", "is required (it may be empty)");
  } else if (!rs->is_array()) {
    v.fail("routes", "must be an array");
  } else {
    routes = parseRoutes(*rs, "routes", v);
  }
  if (!v.errors().empty()) {
    return Status(StatusCode::kInvalid, "route table is invalid", std::move(v.errors()));
  }
  return std::shared_ptr<const RouteTable>(
      std::make_shared<RouteTable>(version, std::move(routes)));
}

Result<std::shared_ptr<const RouteTable>> applyRouteDelta(const RouteTable& base,
                                                          const json& delta) {
  if (!delta.is_object())
    return Status(StatusCode::kInvalid, "route delta must be a JSON object",
                  {{"", "must be an object"}});
  Validator v;
  const uint64_t base_version = v.uintField(delta, "baseVersion", "baseVersion", 0, 0, UINT64_MAX);
  if (!delta.contains("baseVersion")) v.fail("baseVersion", "is required");
  const uint64_t version = v.uintField(delta, "version", "version", 0, 0, UINT64_MAX);
  if (!delta.contains("version"))
    v.fail("version", "is required");
  else if (version < base_version)
    v.fail("version", "must not be below baseVersion " + std::to_string(base_version));
  if (!v.errors().empty())
    return Status(StatusCode::kInvalid, "route delta is invalid", std::move(v.errors()));
  if (base_version != base.version())
    return conflict("route delta is against version " + std::to_string(base_version) +
                    ", but the installed table is version " + std::to_string(base.version()) +
                    "; send the whole table");

  std::vector<bool> removed(base.routes().size(), false);
  if (auto rm = delta.find("remove"); rm != delta.end()) {
    if (!rm->is_array()) {
      v.fail("remove", "must be an array of route ids");
    } else {
      for (size_t i = 0; i < rm->size(); ++i) {
        const std::string path = "remove[" + std::to_string(i) + "]";
        const json& id = (*rm)[i];
        const size_t at =
            id.is_string() ? base.indexOf(id.get_ref<const std::string&>()) : RouteTable::kNone;
        if (!id.is_string())
          v.fail(path, "must be a route id");
        else if (at == RouteTable::kNone)
          v.fail(path, "no route \"" + id.get<std::string>() + "\" in table version " +
                           std::to_string(base.version()));
        else
          removed[at] = true;
      }
    }
  }
  std::vector<RoutePtr> upserts;
  if (auto up = delta.find("upsert"); up != delta.end()) {
    if (!up->is_array()) {
      v.fail("upsert", "must be an array of routes");
    } else {
      upserts = parseRoutes(*up, "upsert", v);
      for (size_t i = 0; i < upserts.size(); ++i)
        if (size_t at = base.indexOf(upserts[i]->id); at != RouteTable::kNone && removed[at])
          v.fail("upsert[" + std::to_string(i) + "].id", "is also removed");
    }
  }
  if (!v.errors().empty())
    return Status(StatusCode::kInvalid, "route delta is invalid", std::move(v.errors()));

  // Base routes in order, replaced in place by their upsert; the new ones after them.
  // The base's routes are shared, not copied: only what the delta brings is new.
  std::vector<size_t> replaced(upserts.size(), RouteTable::kNone);  // upsert -> base index
  std::vector<size_t> replacement(base.routes().size(), RouteTable::kNone);
  for (size_t i = 0; i < upserts.size(); ++i) {
    if (size_t at = base.indexOf(upserts[i]->id); at != RouteTable::kNone) {
      replaced[i] = at;
      replacement[at] = i;
    }
  }
  std::vector<RoutePtr> routes;
  RouteTable::Change change;
  routes.reserve(base.routes().size() + upserts.size());
  change.base_index.reserve(base.routes().size() + upserts.size());
  auto add = [&](RoutePtr route) {
    change.added.push_back(static_cast<uint32_t>(routes.size()));
    routes.push_back(std::move(route));
    change.base_index.push_back(RouteTable::kNone);
  };
  for (size_t i = 0; i < base.routes().size(); ++i) {
    if (removed[i] || replacement[i] != RouteTable::kNone)
      change.gone.push_back(static_cast<uint32_t>(i));
    if (removed[i]) continue;
    if (replacement[i] != RouteTable::kNone) {
      add(upserts[replacement[i]]);
    } else {
      routes.push_back(base.routes()[i]);
      change.base_index.push_back(i);
    }
  }
  for (size_t i = 0; i < upserts.size(); ++i)
    if (replaced[i] == RouteTable::kNone) add(std::move(upserts[i]));
  return std::shared_ptr<const RouteTable>(
      std::make_shared<RouteTable>(version, std::move(routes), base, std::move(change)));
}

}  // namespace skiff::gateway
