#include "controller/route_controller.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "model/object.h"
#include "model/well_known.h"
#include "net/tls.h"
#include "temp_store.h"

namespace skiff {
namespace {

using namespace std::chrono_literals;

// Keeps every table it is given; with `deltas`, also takes deltas, applying each to the last
// table as the gateway would, so tables.back() is always what the gateway holds.
class RecordingPublisher final : public RoutePublisher {
 public:
  Status publish(const std::string& table) override {
    std::this_thread::sleep_for(delay);  // a gateway that takes this long to accept a table
    tables.push_back(json::parse(table));
    return Status::ok();
  }
  bool takesDeltas() const override { return deltas; }
  Status publishDelta(const RouteDelta& delta) override {
    received.push_back(delta);
    if (tables.empty() || tables.back()["version"] != delta.base_version)
      return conflict("not the table the delta is against");
    json next = tables.back();
    next["version"] = delta.version;
    json routes = json::array();
    std::set<std::string> upserted;
    for (const json& r : next["routes"]) {
      const std::string id = r["id"];
      if (std::find(delta.remove.begin(), delta.remove.end(), id) != delta.remove.end()) continue;
      routes.push_back(r);
      for (const std::string& text : delta.upsert)
        if (json u = json::parse(text); u["id"] == id) {
          routes.back() = u;
          upserted.insert(id);
        }
    }
    for (const std::string& text : delta.upsert)
      if (json u = json::parse(text); !upserted.contains(u["id"])) routes.push_back(u);
    next["routes"] = std::move(routes);
    tables.push_back(std::move(next));
    return Status::ok();
  }
  std::vector<json> tables;
  std::vector<RouteDelta> received;
  bool deltas = false;
  std::chrono::milliseconds delay{0};
};

// Drives the controller as the manager would: store events enqueue keys, and run() reconciles
// queued keys until none is left. A key that asks to come back later (the table's throttle) goes
// to the back of the queue at once, so run() waits the throttle out.
class RouteControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    controller_ = std::make_unique<RouteController>(*store_, publisher_);
    controller_->bindQueue([this](const ObjectKey& key) { queue_.push_back(key); });
    for (const WatchedKind& w : controller_->watches()) {
      WatchOptions options;
      options.kind = w.kind;
      watches_.push_back(std::move(store_
                                       ->watch(options,
                                               [this, key_of = w.key_of](const WatchEvent& e) {
                                                 if (auto key = key_of(*e.object))
                                                   queue_.push_back(*key);
                                               })
                                       .value()));
    }
  }
  void TearDown() override {
    watches_.clear();
    controller_.reset();
  }
  void run() {
    while (!queue_.empty()) {
      ObjectKey key = queue_.front();
      queue_.pop_front();
      auto result = controller_->reconcile(key);
      ASSERT_TRUE(result.ok()) << result.status().toString();
      if (result->requeue_after) queue_.push_back(key);
    }
  }
  void createApp(const std::string& name, const std::string& host) {
    Object o;
    o.kind = "Application";
    o.metadata.name = name;
    o.metadata.tenant = "default";
    o.spec = {{"components",
               {{{"name", "web"},
                 {"ports", {{{"name", "http"}, {"port", 8080}}}},
                 {"routes", {{{"host", host}, {"path", "/"}, {"port", "http"}}}}}}}};
    ASSERT_TRUE(store_->create(o).ok());
  }
  void createInstance(const std::string& name, bool ready) {
    Object o;
    o.kind = "Instance";
    o.metadata.name = name;
    o.metadata.tenant = "default";
    o.metadata.labels[kApplicationLabel] = "shop";
    o.spec = {{"application", "shop"}, {"component", "web"}};
    auto created = store_->create(o);
    ASSERT_TRUE(created.ok());
    setInstanceStatus(name, ready, 9000);
  }
  void setInstanceStatus(const std::string& name, bool ready, int port) {
    Object o = store_->get({"Instance", "default", name}).value()->object();
    o.status = {{"ready", ready}, {"address", "127.0.0.1"}, {"ports", {{"http", port}}}};
    ASSERT_TRUE(store_->update(o, {.status_only = true}).ok());
  }
  const json& lastRoutes() { return publisher_.tables.back()["routes"]; }
  // Publishes a table for a new application `slow` through a gateway that takes `delay` to
  // accept it, then makes application `next` and returns how long its table waits (tableWait).
  std::optional<std::chrono::milliseconds> waitAfterASlowTable(std::chrono::milliseconds delay,
                                                               const std::string& slow,
                                                               const std::string& next) {
    const size_t published = publisher_.tables.size();
    publisher_.delay = delay;
    createApp(slow, slow + ".test");
    run();
    EXPECT_EQ(publisher_.tables.size(), published + 1);
    publisher_.delay = 0ms;
    createApp(next, next + ".test");
    return tableWait();
  }
  // Reconciles queued keys up to the table's; returns how long the table asks to wait, and
  // queues it again (nullopt: it was published at once).
  std::optional<std::chrono::milliseconds> tableWait() {
    while (!queue_.empty()) {
      ObjectKey key = queue_.front();
      queue_.pop_front();
      auto result = controller_->reconcile(key);
      EXPECT_TRUE(result.ok()) << result.status().toString();
      if (key != RouteController::tableKey()) continue;
      if (!result.ok() || !result->requeue_after) return std::nullopt;
      queue_.push_back(key);  // as the manager would, after the wait
      return result->requeue_after;
    }
    ADD_FAILURE() << "no table was queued";
    return std::nullopt;
  }

  testing::TempStore store_{"route"};
  RecordingPublisher publisher_;
  std::unique_ptr<RouteController> controller_;
  std::deque<ObjectKey> queue_;
  std::vector<std::unique_ptr<WatchHandle>> watches_;
};

// After a whole first table, a change goes as a delta holding that application's routes only,
// and the gateway's table stays what a whole table would be; a restarted gateway gets a whole
// table again.
TEST_F(RouteControllerTest, AfterAWholeTableOnlyChangedRoutesGo) {
  publisher_.deltas = true;
  createApp("shop", "shop.test");
  createApp("blog", "blog.test");
  run();
  ASSERT_EQ(publisher_.tables.size(), 1u);
  ASSERT_TRUE(publisher_.received.empty()) << "the first table goes whole";
  const json first = publisher_.tables.back();

  createInstance("shop-web-1", /*ready=*/true);
  run();
  ASSERT_EQ(publisher_.received.size(), 1u);
  const RouteDelta& added = publisher_.received.back();
  EXPECT_EQ(added.base_version, first["version"]);
  EXPECT_GT(added.version, added.base_version);
  ASSERT_EQ(added.upsert.size(), 1u) << "blog's route did not change";
  EXPECT_EQ(json::parse(added.upsert[0])["id"], "default/shop/web/0");
  EXPECT_EQ(json::parse(added.upsert[0])["backends"][0]["address"], "127.0.0.1:9000");
  EXPECT_TRUE(added.remove.empty());

  ASSERT_TRUE(store_->remove({"Application", "default", "blog"}).ok());
  run();
  ASSERT_EQ(publisher_.received.size(), 2u);
  EXPECT_EQ(publisher_.received.back().remove, (std::vector<std::string>{"default/blog/web/0"}));
  EXPECT_TRUE(publisher_.received.back().upsert.empty());
  ASSERT_EQ(lastRoutes().size(), 1u);
  EXPECT_EQ(lastRoutes()[0]["backends"][0]["address"], "127.0.0.1:9000");

  const size_t tables = publisher_.tables.size();
  controller_->republish();
  run();
  ASSERT_EQ(publisher_.tables.size(), tables + 1);
  EXPECT_EQ(publisher_.received.size(), 2u) << "a restarted gateway gets the whole table";
  EXPECT_EQ(lastRoutes(), publisher_.tables[tables - 1]["routes"]);
}

TEST_F(RouteControllerTest, PublishesRoutesWithReadyBackends) {
  createApp("shop", "shop.test");
  createInstance("shop-web-1", /*ready=*/true);
  createInstance("shop-web-2", /*ready=*/false);
  run();
  ASSERT_EQ(publisher_.tables.size(), 1u) << "changes in one burst make one table";
  ASSERT_EQ(lastRoutes().size(), 1u);
  EXPECT_EQ(lastRoutes()[0]["id"], "default/shop/web/0");
  EXPECT_EQ(lastRoutes()[0]["host"], "shop.test");
  EXPECT_EQ(lastRoutes()[0]["backends"],
            json::array({{{"address", "127.0.0.1:9000"}, {"weight", 100}}}));
  EXPECT_EQ(publisher_.tables.back()["version"], store_->revision());

  setInstanceStatus("shop-web-2", true, 9001);
  run();
  ASSERT_EQ(publisher_.tables.size(), 2u);
  EXPECT_EQ(lastRoutes()[0]["backends"].size(), 2u);
}

TEST_F(RouteControllerTest, ASlowGatewayPacesTheNextTableButNotBeyondADrain) {
  createApp("shop", "shop.test");
  run();
  ASSERT_EQ(publisher_.tables.size(), 1u);

  // The gateway took 100 ms to accept a table: the next one waits four times that from its
  // start, though building it was quick.
  auto wait = waitAfterASlowTable(100ms, "cart", "shoe");
  ASSERT_TRUE(wait) << "the next table went out at once";
  EXPECT_GE(*wait, 200ms);
  run();
  ASSERT_EQ(publisher_.tables.size(), 3u);

  // However slow the gateway, the wait stays within 500 ms of the last table's start, inside
  // an instance's drain (1 s by default).
  wait = waitAfterASlowTable(300ms, "hat", "sock");
  ASSERT_TRUE(wait);
  EXPECT_LE(*wait, 200ms);
  run();
  EXPECT_EQ(publisher_.tables.size(), 5u);
}

TEST_F(RouteControllerTest, ChangesThatRoutingDoesNotUsePublishNothing) {
  createApp("shop", "shop.test");
  createInstance("shop-web-1", /*ready=*/false);
  run();
  ASSERT_EQ(publisher_.tables.size(), 1u);

  // Status written by other controllers, labels, and an unready instance changing its port
  // leave the table as it is.
  Object app = store_->get({"Application", "default", "shop"}).value()->object();
  app.status = {{"latestRevision", 1}};
  ASSERT_TRUE(store_->update(app, {.status_only = true}).ok());
  app = store_->get({"Application", "default", "shop"}).value()->object();
  app.metadata.labels["team"] = "a";
  ASSERT_TRUE(store_->update(app).ok());
  setInstanceStatus("shop-web-1", false, 9005);
  run();
  EXPECT_EQ(publisher_.tables.size(), 1u);

  // A spec change that moves the route does.
  app = store_->get({"Application", "default", "shop"}).value()->object();
  app.spec["components"][0]["routes"][0]["host"] = "new.test";
  ASSERT_TRUE(store_->update(app).ok());
  run();
  ASSERT_EQ(publisher_.tables.size(), 2u);
  EXPECT_EQ(lastRoutes()[0]["host"], "new.test");
}

TEST_F(RouteControllerTest, AReleaseSplitsTrafficByItsWeight) {
  createApp("shop", "shop.test");
  for (int i = 1; i <= 3; ++i) createInstance("shop-web-" + std::to_string(i), true);
  // The canary set's one instance, of revision 2.
  Object canary;
  canary.kind = "Instance";
  canary.metadata.name = "shop-web-c";
  canary.metadata.tenant = "default";
  canary.metadata.labels = {{kApplicationLabel, "shop"}, {kTrackLabel, "canary"}};
  canary.spec = {{"application", "shop"}, {"component", "web"}, {"revision", 2}};
  ASSERT_TRUE(store_->create(canary).ok());
  setInstanceStatus("shop-web-c", true, 9100);
  auto set_weight = [&](std::optional<int> weight) {
    Object app = store_->get({"Application", "default", "shop"}).value()->object();
    app.status = weight ? json{{"release", {{"components", {{"web", {{"weight", *weight}}}}}}}}
                        : json::object();
    ASSERT_TRUE(store_->update(app, {.status_only = true}).ok());
  };
  // The canary's share of the gateway's weights, and its backend's revision label.
  auto canary_share = [&]() {
    double canary = 0, total = 0;
    for (const auto& b : lastRoutes()[0]["backends"]) {
      total += b["weight"].get<int>();
      if (b["address"] == "127.0.0.1:9100") {
        canary += b["weight"].get<int>();
        EXPECT_EQ(b.value("revision", ""), "2");
      }
    }
    return total == 0 ? -1 : canary / total;
  };

  set_weight(25);
  run();
  EXPECT_EQ(lastRoutes()[0]["backends"].size(), 4u);
  EXPECT_DOUBLE_EQ(canary_share(), 0.25);

  const size_t published = publisher_.tables.size();
  set_weight(0);  // blue-green's preview, or an aborted release: no traffic to the canary
  run();
  EXPECT_EQ(publisher_.tables.size(), published + 1) << "a weight change alone publishes";
  EXPECT_EQ(lastRoutes()[0]["backends"].size(), 3u);
  EXPECT_DOUBLE_EQ(canary_share(), 0);

  set_weight(100);
  run();
  EXPECT_EQ(lastRoutes()[0]["backends"].size(), 1u);
  EXPECT_DOUBLE_EQ(canary_share(), 1);

  set_weight(std::nullopt);  // the release is over: every ready instance alike
  run();
  EXPECT_EQ(lastRoutes()[0]["backends"].size(), 4u);
  for (const auto& b : lastRoutes()[0]["backends"]) EXPECT_EQ(b["weight"], 100);
}

TEST_F(RouteControllerTest, DeletedObjectsLeaveTheTable) {
  createApp("shop", "shop.test");
  createApp("tea", "tea.test");
  createInstance("shop-web-1", /*ready=*/true);
  run();
  ASSERT_EQ(lastRoutes().size(), 2u);

  ASSERT_TRUE(store_->remove({"Instance", "default", "shop-web-1"}).ok());
  run();
  EXPECT_TRUE(lastRoutes()[0]["backends"].empty());
  ASSERT_TRUE(store_->remove({"Application", "default", "tea"}).ok());
  run();
  ASSERT_EQ(lastRoutes().size(), 1u);
  EXPECT_EQ(lastRoutes()[0]["host"], "shop.test");

  // A new application under a deleted one's name is read afresh (same generation, new uid).
  ASSERT_TRUE(store_->remove({"Application", "default", "shop"}).ok());
  createApp("shop", "other.test");
  run();
  ASSERT_EQ(lastRoutes().size(), 1u);
  EXPECT_EQ(lastRoutes()[0]["host"], "other.test");
}

// A self-signed certificate and key for shop.test, as PEM text, and the certificate's
// fingerprint.
struct TestCertificate {
  std::string certificate, key, fingerprint;
};

TestCertificate makeCertificate(const std::filesystem::path& dir, const std::string& name) {
  net::SelfSignedRequest request;
  request.cert_file = (dir / (name + ".crt")).string();
  request.key_file = (dir / (name + ".key")).string();
  request.hosts = {"shop.test"};
  auto fingerprint = net::generateSelfSigned(request);
  EXPECT_TRUE(fingerprint.ok()) << fingerprint.status().toString();
  auto read = [](const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  return {read(request.cert_file), read(request.key_file), fingerprint.ok() ? *fingerprint : ""};
}

class RouteControllerTlsTest : public RouteControllerTest {
 protected:
  void createTlsApp(const std::string& name, const std::string& host, const std::string& secret) {
    Object o;
    o.kind = "Application";
    o.metadata.name = name;
    o.metadata.tenant = "default";
    o.spec = {
        {"components",
         {{{"name", "web"},
           {"ports", {{{"name", "http"}, {"port", 8080}}}},
           {"routes",
            {{{"host", host}, {"path", "/"}, {"port", "http"}, {"tls", {{"secret", secret}}}}}}}}}};
    ASSERT_TRUE(store_->create(o).ok());
  }
  void putSecret(const std::string& name, const std::string& type, const TestCertificate& c) {
    Object o;
    o.kind = "Secret";
    o.metadata.name = name;
    o.metadata.tenant = "default";
    o.spec = {{"type", type}, {"data", {{"tls.crt", c.certificate}, {"tls.key", c.key}}}};
    auto existing = store_->get({"Secret", "default", name});
    if (existing.ok()) {
      o.metadata.resource_version = (*existing)->resourceVersion();
      ASSERT_TRUE(store_->update(o).ok());
    } else {
      ASSERT_TRUE(store_->create(o).ok());
    }
  }
  json tlsCondition(const std::string& app) {
    const Object o = store_->get({"Application", "default", app}).value()->object();
    const json* c = findCondition(o.status, "TLSReady");
    return c != nullptr ? *c : json();
  }
  const json& lastCertificates() { return publisher_.tables.back()["certificates"]; }
};

TEST_F(RouteControllerTlsTest, PublishesTheSecretsCertificateAndSaysWhyNot) {
  const TestCertificate first = makeCertificate(store_.dir(), "first");
  const TestCertificate second = makeCertificate(store_.dir(), "second");

  // The secret does not exist yet: no certificate, and the application says so.
  createTlsApp("shop", "shop.test", "shop-tls");
  run();
  ASSERT_FALSE(publisher_.tables.empty());
  EXPECT_TRUE(lastCertificates().empty());
  EXPECT_EQ(tlsCondition("shop").value("status", ""), "False");
  EXPECT_NE(tlsCondition("shop")
                .value("message", "")
                .find("secret \"shop-tls\" does not exist in tenant \"default\""),
            std::string::npos)
      << tlsCondition("shop");

  putSecret("shop-tls", "tls", first);
  run();
  ASSERT_EQ(lastCertificates().size(), 1u);
  EXPECT_EQ(lastCertificates()[0]["host"], "shop.test");
  EXPECT_EQ(lastCertificates()[0]["certificate"], first.certificate);
  EXPECT_EQ(lastCertificates()[0]["key"], first.key);
  EXPECT_EQ(tlsCondition("shop").value("status", ""), "True");
  EXPECT_NE(tlsCondition("shop").value("message", "").find(first.fingerprint), std::string::npos);
  EXPECT_EQ(tlsCondition("shop").dump().find("PRIVATE KEY"), std::string::npos);

  // A replaced certificate is published again.
  const size_t published = publisher_.tables.size();
  putSecret("shop-tls", "tls", second);
  run();
  ASSERT_GT(publisher_.tables.size(), published);
  EXPECT_EQ(lastCertificates()[0]["certificate"], second.certificate);
  EXPECT_NE(tlsCondition("shop").value("message", "").find(second.fingerprint), std::string::npos);

  // A second application claiming the host with its own certificate is refused, by name; one
  // whose secret is not of type tls is told so.
  putSecret("copy-tls", "tls", first);
  createTlsApp("zcopy", "shop.test", "copy-tls");
  putSecret("plain", "opaque", first);
  createTlsApp("tea", "tea.test", "plain");
  run();
  ASSERT_EQ(lastCertificates().size(), 1u);
  EXPECT_EQ(lastCertificates()[0]["certificate"], second.certificate);
  EXPECT_EQ(tlsCondition("zcopy").value("status", ""), "False");
  EXPECT_NE(tlsCondition("zcopy").value("message", "").find("application \"default/shop\""),
            std::string::npos)
      << tlsCondition("zcopy");
  EXPECT_NE(tlsCondition("tea").value("message", "").find("secret \"plain\" is of type \"opaque\""),
            std::string::npos)
      << tlsCondition("tea");

  // The secret deleted: its certificate is withdrawn and the owner of the host changes.
  ASSERT_TRUE(store_->remove({"Secret", "default", "shop-tls"}).ok());
  run();
  ASSERT_EQ(lastCertificates().size(), 1u);
  EXPECT_EQ(lastCertificates()[0]["certificate"], first.certificate) << "zcopy's, now";
  EXPECT_EQ(tlsCondition("shop").value("status", ""), "False");
  EXPECT_NE(tlsCondition("shop").value("message", "").find("secret \"shop-tls\" does not exist"),
            std::string::npos);
  EXPECT_EQ(tlsCondition("zcopy").value("status", ""), "True") << tlsCondition("zcopy");

  // Routes without tls drop the condition.
  Object app = store_->get({"Application", "default", "tea"}).value()->object();
  app.spec["components"][0]["routes"][0].erase("tls");
  ASSERT_TRUE(store_->update(app).ok());
  run();
  EXPECT_TRUE(tlsCondition("tea").is_null());

  // A gateway that has just started gets the table (and keys) again, unchanged.
  const size_t before = publisher_.tables.size();
  controller_->republish();
  run();
  ASSERT_EQ(publisher_.tables.size(), before + 1);
  EXPECT_EQ(lastCertificates().size(), 1u);
}

}  // namespace
}  // namespace skiff
