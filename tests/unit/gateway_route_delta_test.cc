// Route deltas (applyRouteDelta) and their journal (RouteStore): what a delta keeps, replaces,
// adds and removes; what it refuses; and a store that replays the journal, cuts a torn line and
// folds the journal into the table.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "gateway/route_store.h"
#include "gateway/route_table.h"
#include "temp_dir_test.h"

namespace skiff::gateway {
namespace {

using nlohmann::json;

json route(const std::string& id, const std::string& host, const std::string& prefix = "/") {
  return {{"id", id}, {"host", host}, {"pathPrefix", prefix}, {"backends", json::array()}};
}

std::shared_ptr<const RouteTable> base() {
  auto t = parseRouteTable(json{{"version", 5},
                                {"routes",
                                 {route("a", "a.test"), route("b", "b.test"),
                                  route("c", "shop.test"), route("d", "shop.test", "/api")}}});
  EXPECT_TRUE(t.ok()) << t.status().toString();
  return *t;
}

std::vector<std::string> ids(const RouteTable& t) {
  std::vector<std::string> out;
  for (const RoutePtr& r : t.routes()) out.push_back(r->id);
  return out;
}

std::string idFor(const RouteTable& t, std::string_view host, std::string_view target) {
  const Route* r = t.match(host, target, nullptr, 0);
  return r ? r->id : "";
}

TEST(GatewayRouteDelta, ReplacesInPlaceAppendsNewRemovesAndSharesTheRest) {
  auto from = base();
  auto next = applyRouteDelta(*from, {{"baseVersion", 5},
                                      {"version", 9},
                                      {"remove", {"b"}},
                                      {"upsert",
                                       {route("e", "e.test"), route("c", "shop.test", "/x"),
                                        route("f", "shop.test", "/api/v2")}}});
  ASSERT_TRUE(next.ok()) << next.status().toString();
  const RouteTable& t = **next;
  EXPECT_EQ(t.version(), 9u);
  EXPECT_EQ(ids(t), (std::vector<std::string>{"a", "c", "d", "e", "f"}));
  EXPECT_EQ(t.routes()[0], from->routes()[0]) << "a kept route is shared, not copied";
  EXPECT_EQ(t.routes()[2], from->routes()[3]);
  EXPECT_NE(t.routes()[1], from->routes()[2]) << "c was replaced";
  EXPECT_EQ(t.baseSerial(), from->serial());
  EXPECT_EQ(t.baseIndex(),
            (std::vector<size_t>{0, RouteTable::kNone, 3, RouteTable::kNone, RouteTable::kNone}));
  // Matching sees the new table: longest prefix first on a host with several routes.
  EXPECT_EQ(idFor(t, "b.test", "/"), "");
  EXPECT_EQ(idFor(t, "e.test", "/"), "e");
  EXPECT_EQ(idFor(t, "shop.test", "/api/v2/x"), "f");
  EXPECT_EQ(idFor(t, "shop.test", "/api/x"), "d");
  EXPECT_EQ(idFor(t, "shop.test", "/x/1"), "c");
  EXPECT_EQ(idFor(t, "shop.test", "/"), "");
  // The table's JSON is the routes as given, in order.
  const json shown = json::parse(t.json());
  EXPECT_EQ(shown["version"], 9);
  EXPECT_EQ(shown["routes"][1]["pathPrefix"], "/x");
}

// A table made by deltas patches its base's indexes: after each of many random deltas it must
// match every request and find every id exactly as a table built from scratch does.
TEST(GatewayRouteDelta, PatchedIndexesMatchLikeATableBuiltAfresh) {
  std::mt19937 rng(7);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  const std::vector<std::string> hosts = {"*", "a.test", "b.test", "c.test"};
  const std::vector<std::string> prefixes = {"/", "/api", "/api/v1", "/static"};
  auto randomRoute = [&](const std::string& id) {
    json r = route(id, hosts[pick(hosts.size())], prefixes[pick(prefixes.size())]);
    if (pick(4) == 0) r["match"] = {{"headers", {{{"name", "X-Beta"}, {"type", "present"}}}}};
    return r;
  };
  std::shared_ptr<const RouteTable> table = std::make_shared<RouteTable>();
  std::set<std::string> live;
  int next_id = 0;
  for (uint64_t version = 1; version <= 1000; ++version) {
    json remove = json::array(), upsert = json::array();
    std::set<std::string> touched;
    // Mostly additions at first, then as many removals as additions, and replacements.
    for (size_t n = pick(version < 40 ? 12 : 4); n > 0; --n)
      upsert.push_back(randomRoute("r" + std::to_string(next_id++)));
    for (size_t n = pick(4); n > 0 && !live.empty(); --n) {
      auto it = std::next(live.begin(), static_cast<long>(pick(live.size())));
      if (!touched.insert(*it).second) continue;
      if (pick(2) == 0)
        remove.push_back(*it);
      else
        upsert.push_back(randomRoute(*it));
    }
    auto next = applyRouteDelta(*table, {{"baseVersion", table->version()},
                                         {"version", version},
                                         {"remove", remove},
                                         {"upsert", upsert}});
    ASSERT_TRUE(next.ok()) << next.status().toString();
    table = *next;
    for (const json& id : remove) live.erase(id.get<std::string>());
    for (const json& r : upsert) live.insert(r["id"].get<std::string>());

    const RouteTable fresh(version, table->routes());
    ASSERT_EQ(table->routes().size(), live.size());
    for (size_t i = 0; i < table->routes().size(); ++i)
      ASSERT_EQ(table->indexOf(table->routes()[i]->id), i) << "version " << version;
    for (const json& id : remove)
      ASSERT_EQ(table->indexOf(id.get<std::string>()), RouteTable::kNone);
    const HttpHeader beta{"X-Beta", "1"};
    for (const char* host : {"a.test", "b.test", "c.test", "d.test"})
      for (const char* target : {"/", "/api", "/api/v1/x", "/static/y", "/other"})
        for (size_t headers = 0; headers < 2; ++headers) {
          const Route* want = fresh.match(host, target, &beta, headers);
          const Route* got = table->match(host, target, &beta, headers);
          ASSERT_EQ(got ? got->id : "", want ? want->id : "")
              << "version " << version << ", " << host << target << ", headers " << headers;
        }
  }
}

TEST(GatewayRouteDelta, AgainstAnotherVersionIsAConflict) {
  auto next = applyRouteDelta(*base(), {{"baseVersion", 4}, {"version", 9}});
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.status().code(), StatusCode::kConflict);
}

TEST(GatewayRouteDelta, BadDeltasNameEachField) {
  auto next = applyRouteDelta(
      *base(), {{"baseVersion", 5},
                {"version", 4},
                {"remove", {"zz", 7, "a"}},
                {"upsert", {route("a", "a.test"), route("e", "bad host"), route("e", "e.test")}}});
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.status().code(), StatusCode::kInvalid);
  std::set<std::string> paths;
  for (const FieldError& f : next.status().fields()) paths.insert(f.path);
  // The version first: nothing else is looked at while it is wrong.
  EXPECT_EQ(paths, (std::set<std::string>{"version"}));
  next = applyRouteDelta(
      *base(), {{"baseVersion", 5},
                {"version", 6},
                {"remove", {"zz", 7, "a"}},
                {"upsert", {route("a", "a.test"), route("e", "bad host"), route("e", "e.test")}}});
  ASSERT_FALSE(next.ok());
  paths.clear();
  for (const FieldError& f : next.status().fields()) paths.insert(f.path);
  EXPECT_EQ(paths, (std::set<std::string>{"remove[0]", "remove[1]", "upsert[0].id",
                                          "upsert[1].host", "upsert[2].id"}));
}

class RouteStoreTest : public skiff::testing::TempDirTest {};

TEST_F(RouteStoreTest, ReplaysTheJournalAndCutsATornLine) {
  auto t0 = base();
  {
    RouteStore store(dir_);
    ASSERT_TRUE(store.save(*t0).isOk());
    json delta = {{"baseVersion", 5}, {"version", 6}, {"remove", {"a"}}};
    auto t1 = applyRouteDelta(*t0, delta);
    ASSERT_TRUE(t1.ok());
    ASSERT_TRUE(store.append(delta.dump(), **t1).isOk());
    json delta2 = {{"baseVersion", 6}, {"version", 7}, {"upsert", {route("g", "g.test")}}};
    auto t2 = applyRouteDelta(**t1, delta2);
    ASSERT_TRUE(t2.ok());
    ASSERT_TRUE(store.append(delta2.dump(), **t2).isOk());
  }
  // A crash in the middle of the next append.
  std::ofstream(dir_ + "/routes.journal", std::ios::app) << R"({"baseVersion":7,"vers)";
  RouteStore store(dir_);
  auto loaded = store.load();
  ASSERT_TRUE(loaded.ok()) << loaded.status().toString();
  EXPECT_EQ((*loaded)->version(), 7u);
  EXPECT_EQ(ids(**loaded), (std::vector<std::string>{"b", "c", "d", "g"}));
  // The torn line is gone, so the next delta starts a line of its own.
  json delta3 = {{"baseVersion", 7}, {"version", 8}, {"remove", {"g"}}};
  auto t3 = applyRouteDelta(**loaded, delta3);
  ASSERT_TRUE(t3.ok());
  ASSERT_TRUE(store.append(delta3.dump(), **t3).isOk());
  auto again = RouteStore(dir_).load();
  ASSERT_TRUE(again.ok()) << again.status().toString();
  EXPECT_EQ(ids(**again), (std::vector<std::string>{"b", "c", "d"}));
}

TEST_F(RouteStoreTest, ADeltaToANewGatewaysEmptyTableIsKept) {
  RouteStore store(dir_);
  auto empty = store.load();
  ASSERT_TRUE(empty.ok());
  json delta = {{"baseVersion", 0}, {"version", 2}, {"upsert", {route("a", "a.test")}}};
  auto next = applyRouteDelta(**empty, delta);
  ASSERT_TRUE(next.ok()) << next.status().toString();
  ASSERT_TRUE(store.append(delta.dump(), **next).isOk());
  auto loaded = RouteStore(dir_).load();
  ASSERT_TRUE(loaded.ok()) << loaded.status().toString();
  EXPECT_EQ((*loaded)->version(), 2u);
  EXPECT_EQ(ids(**loaded), (std::vector<std::string>{"a"}));
}

TEST_F(RouteStoreTest, FoldsALongJournalIntoTheTable) {
  RouteStore store(dir_);
  std::shared_ptr<const RouteTable> t = base();
  ASSERT_TRUE(store.save(*t).isOk());
  // Past 1 MiB of deltas the journal becomes a new routes.json.
  const std::string filler(4000, 'x');
  for (uint64_t v = 6; v < 6 + 400; ++v) {
    json delta = {{"baseVersion", v - 1},
                  {"version", v},
                  {"upsert",
                   {route("r" + std::to_string(v % 7) + filler.substr(0, 3000), "r.test",
                          "/" + std::to_string(v % 7))}}};
    auto next = applyRouteDelta(*t, delta);
    ASSERT_TRUE(next.ok()) << next.status().toString();
    t = *next;
    ASSERT_TRUE(store.append(delta.dump(), *t).isOk());
  }
  EXPECT_LT(std::filesystem::file_size(dir_ + "/routes.journal"), uint64_t{1} << 20);
  auto loaded = RouteStore(dir_).load();
  ASSERT_TRUE(loaded.ok()) << loaded.status().toString();
  EXPECT_EQ((*loaded)->json(), t->json());
}

}  // namespace
}  // namespace skiff::gateway
