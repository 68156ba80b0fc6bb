// End-to-end tests of the resource API: the real server binary over real HTTP.
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/harness.h"

namespace skiff::test {
namespace {

using nlohmann::json;

const char* kApps = "/api/v1/tenants/default/applications";

std::string appJson(const std::string& name, int replicas = 1) {
  json doc = {{"apiVersion", "skiff.dev/v1"},
              {"kind", "Application"},
              {"metadata", {{"name", name}, {"labels", {{"team", "shop"}}}}},
              {"spec",
               {{"components",
                 {{{"name", "web"},
                   {"run", {{"command", "/bin/sleep"}, {"args", {"60"}}}},
                   {"replicas", replicas}}}}}}};
  return doc.dump();
}

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override { server_.start(); }
  HttpResult call(const std::string& method, const std::string& path, const std::string& body = "",
                  const std::string& type = "application/json") {
    return httpRequest(server_.url(), method, path, body, type);
  }
  TempDir dir_;
  ServerProcess server_{dir_.path()};
};

json parse(const HttpResult& r) { return json::parse(r.body, nullptr, false); }

TEST_F(ApiTest, DefaultTenantExistsAndOpenApiDescribesEveryPath) {
  auto t = call("GET", "/api/v1/tenants/default");
  ASSERT_EQ(t.status, 200) << t.body;
  EXPECT_EQ(parse(t)["kind"], "Tenant");
  auto doc = parse(call("GET", "/openapi.json"));
  ASSERT_TRUE(doc.is_object());
  EXPECT_EQ(doc["openapi"], "3.0.3");
  for (const char* p :
       {"/api/v1/tenants/{tenant}/applications/{name}",
        "/api/v1/tenants/{tenant}/applications/{name}/status", "/api/v1/tenants/{tenant}/revisions",
        "/api/v1/tenants/{name}", "/api/v1/applications"})
    EXPECT_TRUE(doc["paths"].contains(p)) << p;
  EXPECT_TRUE(doc["components"]["schemas"]["Application"].is_object());
  EXPECT_EQ(doc["paths"]["/api/v1/tenants/{tenant}/applications"]["post"]["responses"]["422"]
               ["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Status");
}

TEST_F(ApiTest, CreateGetListUpdateDelete) {
  auto created = call("POST", kApps, appJson("shop"));
  ASSERT_EQ(created.status, 201) << created.body;
  json obj = parse(created);
  EXPECT_EQ(obj["metadata"]["tenant"], "default");
  EXPECT_EQ(obj["metadata"]["generation"], 1);
  EXPECT_EQ(obj["spec"]["components"][0]["type"], "service") << "defaults are filled";

  auto dup = call("POST", kApps, appJson("shop"));
  EXPECT_EQ(dup.status, 409);
  EXPECT_EQ(parse(dup)["reason"], "AlreadyExists");

  // YAML is accepted too.
  auto yaml = call("POST", kApps,
                   "apiVersion: skiff.dev/v1\nkind: Application\nmetadata:\n  name: blog\n"
                   "spec:\n  components:\n  - name: web\n    run: {command: /bin/true}\n",
                   "application/yaml");
  ASSERT_EQ(yaml.status, 201) << yaml.body;

  auto list = parse(call("GET", std::string(kApps) + "?labelSelector=team%3Dshop"));
  ASSERT_EQ(list["items"].size(), 1u);
  EXPECT_EQ(list["items"][0]["metadata"]["name"], "shop");
  EXPECT_EQ(list["kind"], "ApplicationList");
  EXPECT_GE(list["metadata"]["resourceVersion"].get<int64_t>(),
            obj["metadata"]["resourceVersion"].get<int64_t>());
  EXPECT_EQ(parse(call("GET", "/api/v1/applications"))["items"].size(), 2u);

  // Update: must carry the current resourceVersion. Controllers write status meanwhile, so
  // like any client: read, write, and read again on a conflict.
  json next = json::parse(appJson("shop", 3));
  auto no_rv = call("PUT", std::string(kApps) + "/shop", next.dump());
  EXPECT_EQ(no_rv.status, 422);
  EXPECT_EQ(parse(no_rv)["details"]["causes"][0]["field"], "metadata.resourceVersion");
  HttpResult updated;
  for (int attempt = 0; attempt < 20; ++attempt) {
    next["metadata"]["resourceVersion"] =
        parse(call("GET", std::string(kApps) + "/shop"))["metadata"]["resourceVersion"];
    updated = call("PUT", std::string(kApps) + "/shop", next.dump());
    if (updated.status != 409) break;
    EXPECT_EQ(parse(updated)["reason"], "Conflict");
  }
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(parse(updated)["metadata"]["generation"], 2);
  next["metadata"]["resourceVersion"] = obj["metadata"]["resourceVersion"];  // long stale
  auto stale = call("PUT", std::string(kApps) + "/shop", next.dump());
  EXPECT_EQ(stale.status, 409);
  EXPECT_EQ(parse(stale)["reason"], "Conflict");

  // Merge patch applies to the latest version without a resourceVersion.
  auto patched = call("PATCH", std::string(kApps) + "/shop",
                      R"({"metadata":{"labels":{"team":"core"}}})", "application/merge-patch+json");
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(parse(patched)["metadata"]["labels"]["team"], "core");
  EXPECT_EQ(parse(patched)["spec"]["components"][0]["replicas"], 3);

  auto deleted = call("DELETE", std::string(kApps) + "/shop");
  EXPECT_EQ(deleted.status, 200);
  EXPECT_EQ(call("GET", std::string(kApps) + "/shop").status, 404);
}

// On a Tenant: no controller writes its status, so every version seen here is the test's own.
TEST_F(ApiTest, StatusIsWrittenOnlyThroughTheSubresource) {
  auto created = call("POST", "/api/v1/tenants", R"({"metadata":{"name":"acme"}})");
  ASSERT_EQ(created.status, 201) << created.body;
  const json before = parse(created);
  auto status =
      call("PUT", "/api/v1/tenants/acme/status",
           json{{"metadata", {{"resourceVersion", before["metadata"]["resourceVersion"]}}},
                {"status", {{"phase", "Active"}}}}
               .dump());
  ASSERT_EQ(status.status, 200) << status.body;
  json current = parse(status);
  EXPECT_EQ(current["status"]["phase"], "Active");
  EXPECT_EQ(current["metadata"]["generation"], 1) << "status is not spec";
  EXPECT_EQ(current["spec"], before["spec"]);
  // Status sent to the main resource is ignored; the spec change is taken.
  json update = {
      {"metadata", {{"name", "acme"}, {"resourceVersion", current["metadata"]["resourceVersion"]}}},
      {"spec", {{"displayName", "ACME"}}},
      {"status", {{"phase", "Hacked"}}}};
  auto put = call("PUT", "/api/v1/tenants/acme", update.dump());
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(parse(put)["status"]["phase"], "Active");
  EXPECT_EQ(parse(put)["spec"]["displayName"], "ACME");
  EXPECT_EQ(parse(put)["metadata"]["generation"], 2);
}

TEST_F(ApiTest, BadInputIsRejectedWithReasonAndFieldPathAndStoresNothing) {
  json bad = json::parse(appJson("shop"));
  bad["spec"]["components"][0]["ports"] = {{{"name", "http"}, {"port", 70000}}};
  auto r = call("POST", kApps, bad.dump());
  ASSERT_EQ(r.status, 422) << r.body;
  json err = parse(r);
  EXPECT_EQ(err["reason"], "Invalid");
  EXPECT_EQ(err["details"]["causes"][0]["field"], "spec.components[0].ports[0].port");

  auto malformed = call("POST", kApps, "{\"metadata\": ");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(parse(malformed)["reason"], "BadRequest");

  auto unknown = call("POST", kApps, R"({"metadata":{"name":"x"},"spec":{},"color":"red"})");
  EXPECT_EQ(unknown.status, 422);

  std::string huge = appJson("big");
  huge.insert(huge.size() - 1, ",\"pad\":\"" + std::string(2 << 20, 'x') + "\"");
  auto too_big = call("POST", kApps, huge);
  EXPECT_EQ(too_big.status, 413);

  EXPECT_EQ(call("POST", kApps, appJson("x"), "text/plain").status, 415);
  EXPECT_EQ(call("POST", "/api/v1/tenants/nope/applications", appJson("x")).status, 404);
  EXPECT_EQ(call("POST", "/api/v1/tenants/default/revisions", appJson("x")).status, 405);
  EXPECT_EQ(call("GET", "/api/v1/widgets").status, 404);
  EXPECT_EQ(call("DELETE", "/api/v1/tenants/default").status, 409);
  EXPECT_EQ(call("GET", std::string(kApps) + "?watch=true&resourceVersion=abc").status, 400);

  EXPECT_EQ(parse(call("GET", kApps))["items"].size(), 0u) << "nothing was stored";
  EXPECT_EQ(call("GET", "/healthz").status, 200) << "the server survived";
}

TEST_F(ApiTest, ApplicationChangesBecomeRevisions) {
  auto created = parse(call("POST", kApps, appJson("shop")));
  ASSERT_TRUE(eventually([&] {
    return parse(call("GET", std::string(kApps) + "/shop"))["status"].value("latestRevision", 0) ==
           1;
  }));
  // Controllers write the status meanwhile (which moves resourceVersion): read, modify,
  // write until no write came between, as every client does.
  json next = json::parse(appJson("shop", 2));
  ASSERT_TRUE(eventually([&] {
    next["metadata"]["resourceVersion"] =
        parse(call("GET", std::string(kApps) + "/shop"))["metadata"]["resourceVersion"];
    return call("PUT", std::string(kApps) + "/shop", next.dump()).status == 200;
  }));
  ASSERT_TRUE(eventually([&] {
    return parse(call("GET", "/api/v1/tenants/default/revisions"))["items"].size() == 2;
  }));
  auto r2 = parse(call("GET", "/api/v1/tenants/default/revisions/shop-2"));
  EXPECT_EQ(r2["spec"]["revision"], 2);
  EXPECT_EQ(r2["spec"]["template"]["components"][0]["replicas"], 2);
  // Deleting the application collects its revisions.
  ASSERT_EQ(call("DELETE", std::string(kApps) + "/shop").status, 200);
  EXPECT_TRUE(eventually(
      [&] { return parse(call("GET", "/api/v1/tenants/default/revisions"))["items"].empty(); }));
}

TEST_F(ApiTest, WatchStreamsEventsInOrderAndResumes) {
  auto first = parse(call("POST", kApps, appJson("a")));
  const int64_t rv = first["metadata"]["resourceVersion"];
  WatchStream watch(server_.url(),
                    std::string(kApps) + "?watch=true&resourceVersion=" + std::to_string(rv));
  ASSERT_EQ(watch.status(), 200);
  ASSERT_EQ(call("POST", kApps, appJson("b")).status, 201);
  ASSERT_EQ(call("DELETE", std::string(kApps) + "/a").status, 200);
  std::vector<std::pair<std::string, std::string>> seen;
  int64_t last = rv;
  while (seen.size() < 2) {
    auto line = watch.next();
    ASSERT_TRUE(line) << "watch stalled after " << seen.size() << " events";
    json e = json::parse(*line);
    if (e["object"]["kind"] != "Application") continue;
    const int64_t erv = e["object"]["metadata"]["resourceVersion"];
    EXPECT_GT(erv, last) << "events arrive in revision order";
    last = erv;
    if (e["type"] == "MODIFIED") continue;  // status written by the revision controller
    seen.emplace_back(e["type"], e["object"]["metadata"]["name"]);
  }
  EXPECT_EQ(seen[0], std::make_pair(std::string("ADDED"), std::string("b")));
  EXPECT_EQ(seen[1], std::make_pair(std::string("DELETED"), std::string("a")));

  // Without a resourceVersion the watch starts with the current objects.
  WatchStream fresh(server_.url(), std::string(kApps) + "?watch=true");
  auto line = fresh.next();
  ASSERT_TRUE(line);
  EXPECT_EQ(json::parse(*line)["object"]["metadata"]["name"], "b");
}

TEST_F(ApiTest, SigtermEndsWatchesAndExitsCleanly) {
  WatchStream watch(server_.url(), std::string(kApps) + "?watch=true&resourceVersion=0");
  ASSERT_EQ(watch.status(), 200);
  int status = server_.stop(SIGTERM);
  ASSERT_TRUE(WIFEXITED(status)) << "server died from a signal instead of exiting";
  EXPECT_EQ(WEXITSTATUS(status), 0);
  // The stream ends (drains to end-of-stream) rather than hanging.
  while (watch.next(std::chrono::seconds(5))) {
  }
}

// kill -9 at an arbitrary moment of a write load loses no acknowledged write and leaves no
// half-written object.
TEST_F(ApiTest, KillNineLosesNoAcknowledgedWrite) {
  std::mutex mu;
  std::map<std::string, int> acknowledged;  // name -> replicas
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; !stop; ++i) {
        std::string name = "w" + std::to_string(t) + "-" + std::to_string(i);
        auto r = httpRequest(server_.url(), "POST", kApps, appJson(name, i % 7 + 1));
        if (r.status == 201) {
          std::lock_guard lock(mu);
          acknowledged[name] = i % 7 + 1;
        } else if (r.status == 0) {
          return;  // the server is gone
        }
      }
    });
  }
  ASSERT_TRUE(eventually(
      [&] {
        std::lock_guard lock(mu);
        return acknowledged.size() >= 200;
      },
      std::chrono::seconds(60)));
  server_.kill9();
  stop = true;
  for (auto& w : writers) w.join();

  ServerProcess again(dir_.path());
  again.start();
  auto list = json::parse(httpRequest(again.url(), "GET", kApps).body);
  std::map<std::string, int> stored;
  for (const auto& item : list["items"])
    stored[item["metadata"]["name"]] = item["spec"]["components"][0]["replicas"];
  for (const auto& [name, replicas] : acknowledged) {
    ASSERT_TRUE(stored.count(name)) << name << " was acknowledged but lost";
    EXPECT_EQ(stored[name], replicas) << name;
  }
  // At most the in-flight requests (one per writer) may have landed without an answer.
  EXPECT_LE(stored.size(), acknowledged.size() + 4);
}

}  // namespace
}  // namespace skiff::test
