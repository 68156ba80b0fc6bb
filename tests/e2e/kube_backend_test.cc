// End-to-end test of the kubernetes backend against a real control plane (kube_cluster.h):
// `skiff cluster add` from a kubeconfig, an application with spec.cluster deployed through
// the real skiff server, checked through the API server itself (objects, fields, labels, the
// tenant's quota and isolation policy, the Deployment rolled out onto kwok's nodes), status
// flowing back, a spec change rolling out and `rollout undo` rolling it back, deletion pruning
// everything, and clear conditions for an object the API server rejects and for a cluster
// whose credentials are refused.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <filesystem>
#include <memory>

#include "e2e/harness.h"
#include "e2e/kube_fixture.h"

namespace skiff::test {
namespace {

using nlohmann::json;

const std::string kApps = "/api/v1/tenants/acme/applications";

json shop(const std::string& image, int replicas, const std::string& cluster = "test") {
  return {{"metadata", {{"name", "shop"}}},
          {"spec",
           {{"cluster", cluster},
            {"components",
             {{{"name", "web"},
               {"image", image},
               {"replicas", replicas},
               {"ports", {{{"name", "http"}, {"port", 8080}}}},
               {"env",
                {{{"name", "GREETING"},
                  {"valueFrom", {{"config", {{"name", "settings"}, {"key", "greeting"}}}}}}}},
               {"resources", {{"cpu", "100m"}, {"memory", "64Mi"}}},
               {"routes", {{{"host", "shop.example.com"}, {"port", "http"}}}}}}}}}};
}

// A client certificate in system:masters signed by the CA in `pki`, valid from two hours ago
// until one hour ago: {certificate PEM, key PEM}.
std::pair<std::string, std::string> expiredClientCertificate(const std::string& pki) {
  auto read_key = [](const std::string& path) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file(path.c_str(), "r"), BIO_free);
    return PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  };
  std::unique_ptr<BIO, decltype(&BIO_free)> ca_bio(BIO_new_file((pki + "/ca.crt").c_str(), "r"),
                                                   BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> ca(
      PEM_read_bio_X509(ca_bio.get(), nullptr, nullptr, nullptr), X509_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> ca_key(read_key(pki + "/ca.key"),
                                                             EVP_PKEY_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  if (!ca || !ca_key || !key || !cert) return {};
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 4242);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -7200);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), -3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("system:masters"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("expired"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.get()));
  X509_set_pubkey(cert.get(), key.get());
  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) == 0) return {};
  auto pem = [](auto write) {
    std::unique_ptr<BIO, decltype(&BIO_free)> out(BIO_new(BIO_s_mem()), BIO_free);
    write(out.get());
    char* data = nullptr;
    const long size = BIO_get_mem_data(out.get(), &data);
    return std::string(data, static_cast<size_t>(size));
  };
  return {pem([&](BIO* b) { PEM_write_bio_X509(b, cert.get()); }), pem([&](BIO* b) {
            PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
          })};
}

// Checks `value` against an OpenAPI v3 schema of the API server's (`doc` holds its components):
// every field must be one the schema declares, with the declared type. Problems are appended
// as "path: what".
void checkSchema(const json& doc, const json& schema_in, const json& value, const std::string& path,
                 std::vector<std::string>& problems) {
  json schema = schema_in;
  // References come bare or wrapped in allOf (when the field has its own description).
  for (int depth = 0; depth < 8; ++depth) {
    if (schema.contains("allOf") && schema["allOf"].size() == 1) {
      schema = schema["allOf"][0];
    } else if (schema.contains("$ref")) {
      const std::string ref = schema["$ref"];  // "#/components/schemas/NAME"
      schema = doc["components"]["schemas"][ref.substr(ref.rfind('/') + 1)];
    } else {
      break;
    }
  }
  if (schema.value("x-kubernetes-int-or-string", false)) {
    if (!value.is_string() && !value.is_number_integer())
      problems.push_back(path + ": not an int or string: " + value.dump());
    return;
  }
  const std::string type = schema.value("type", "");
  if (type == "object" || (type.empty() && schema.contains("properties"))) {
    if (!value.is_object()) {
      problems.push_back(path + ": not an object: " + value.dump());
      return;
    }
    for (const auto& [key, member] : value.items()) {
      const std::string at = path + "." + key;
      if (schema.contains("properties") && schema["properties"].contains(key)) {
        checkSchema(doc, schema["properties"][key], member, at, problems);
      } else if (schema.contains("additionalProperties") &&
                 schema["additionalProperties"].is_object()) {
        checkSchema(doc, schema["additionalProperties"], member, at, problems);
      } else if (!schema.value("x-kubernetes-preserve-unknown-fields", false)) {
        problems.push_back(at + ": not a field of the schema");
      }
    }
  } else if (type == "array") {
    if (!value.is_array()) {
      problems.push_back(path + ": not an array: " + value.dump());
      return;
    }
    for (size_t i = 0; i < value.size(); ++i)
      checkSchema(doc, schema["items"], value[i], path + "[" + std::to_string(i) + "]", problems);
  } else if (type == "string" && !value.is_string()) {
    problems.push_back(path + ": not a string: " + value.dump());
  } else if (type == "integer" && !value.is_number_integer()) {
    problems.push_back(path + ": not an integer: " + value.dump());
  } else if (type == "boolean" && !value.is_boolean()) {
    problems.push_back(path + ": not a boolean: " + value.dump());
  }
}

using KubeBackendTest = KubeFixture;

TEST_F(KubeBackendTest, DeploysRollsOutRollsBackAndPrunesOnARealCluster) {
  // The cluster, from the control plane's kubeconfig.
  CommandResult added =
      runSkiff({"cluster", "add", "test", "--kubeconfig", cluster_->kubeconfig()}, url_);
  ASSERT_EQ(added.exit_code, 0) << added.err;
  ASSERT_TRUE(
      eventually([&] { return get("/api/v1/clusters/test")["status"].value("reachable", false); },
                 std::chrono::seconds(40)))
      << get("/api/v1/clusters/test").dump();
  EXPECT_EQ(get("/api/v1/clusters/test")["status"].value("version", "").rfind("v1.", 0), 0u);

  json tenant = {{"metadata", {{"name", "acme"}}},
                 {"spec", {{"quota", {{"cpu", 4}, {"memory", "8Gi"}, {"instances", 20}}}}}};
  ASSERT_EQ(httpRequest(url_, "POST", "/api/v1/tenants", tenant.dump()).status, 201);
  json settings = {{"metadata", {{"name", "settings"}}},
                   {"spec", {{"data", {{"greeting", "hi"}}}}}};
  ASSERT_EQ(httpRequest(url_, "POST", "/api/v1/tenants/acme/configs", settings.dump()).status, 201);
  ASSERT_EQ(httpRequest(url_, "POST", kApps, shop("registry.example/web:1", 2).dump()).status, 201);

  // The objects, as the API server has them.
  const std::string ns = "/namespaces/skiff-acme";
  json deployment;
  ASSERT_TRUE(eventually(
      [&] {
        deployment = kube("/apis/apps/v1" + ns + "/deployments/shop-web");
        return !deployment.is_null();
      },
      std::chrono::seconds(30)));
  EXPECT_EQ(deployment["metadata"]["labels"]["app.kubernetes.io/managed-by"], "skiff");
  EXPECT_EQ(deployment["spec"]["replicas"], 2);
  const json container = deployment["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(container["image"], "registry.example/web:1");
  EXPECT_EQ(container["resources"]["limits"]["cpu"], "100m");
  EXPECT_EQ(container["env"][1]["valueFrom"]["configMapKeyRef"]["name"], "shop-config-settings");
  EXPECT_EQ(kube("/api/v1" + ns + "/configmaps/shop-config-settings")["data"]["greeting"], "hi");
  EXPECT_EQ(kube("/api/v1" + ns + "/services/shop-web")["spec"]["ports"][0]["port"], 8080);
  EXPECT_EQ(
      kube("/apis/networking.k8s.io/v1" + ns + "/ingresses/shop-web-0")["spec"]["rules"][0]["host"],
      "shop.example.com");
  // The tenant's namespace carries its quota and isolation.
  EXPECT_EQ(kube("/api/v1" + ns + "/resourcequotas/skiff-quota")["spec"]["hard"]["pods"], "20");
  EXPECT_FALSE(
      kube("/apis/networking.k8s.io/v1" + ns + "/networkpolicies/skiff-isolation").is_null());

  // Rolled out onto kwok's nodes, and the status flows back.
  ASSERT_TRUE(eventually(
      [&] { return condition(get(kApps + "/shop"), "Ready").value("status", "") == "True"; },
      std::chrono::seconds(60)))
      << get(kApps + "/shop")["status"].dump();
  json app = get(kApps + "/shop");
  EXPECT_EQ(app["status"]["components"]["web"]["ready"], 2);
  EXPECT_EQ(app["status"]["cluster"], "test");
  json pods = kube("/api/v1" + ns + "/pods?labelSelector=app.kubernetes.io%2Finstance%3Dshop");
  ASSERT_EQ(pods["items"].size(), 2u);
  EXPECT_FALSE(pods["items"][0]["spec"].value("nodeName", "").empty());

  // A spec change rolls out as a new ReplicaSet; rollout undo brings the first template back.
  ASSERT_EQ(httpRequest(url_, "PUT", kApps + "/shop",
                        [&] {
                          json update = shop("registry.example/web:2", 2);
                          update["metadata"]["resourceVersion"] =
                              app["metadata"]["resourceVersion"];
                          return update.dump();
                        }())
                .status,
            200);
  auto image_now = [&] {
    return kube("/apis/apps/v1" + ns +
                "/deployments/shop-web")["spec"]["template"]["spec"]["containers"][0]
        .value("image", "");
  };
  ASSERT_TRUE(eventually([&] { return image_now() == "registry.example/web:2"; },
                         std::chrono::seconds(30)));
  EXPECT_TRUE(eventually(
      [&] {
        return kube("/apis/apps/v1" + ns +
                    "/replicasets?labelSelector=app.kubernetes.io%2Finstance%3Dshop")["items"]
                   .size() == 2;
      },
      std::chrono::seconds(30)));
  CommandResult undo = runSkiff({"rollout", "undo", "shop", "-n", "acme"}, url_);
  ASSERT_EQ(undo.exit_code, 0) << undo.err;
  EXPECT_TRUE(eventually([&] { return image_now() == "registry.example/web:1"; },
                         std::chrono::seconds(30)));

  // `skiff render` prints what was applied.
  CommandResult rendered = runSkiff({"render", "shop", "-n", "acme"}, url_);
  ASSERT_EQ(rendered.exit_code, 0) << rendered.err;
  EXPECT_NE(rendered.out.find("kind: Deployment"), std::string::npos);
  EXPECT_NE(rendered.out.find("name: shop-web"), std::string::npos);

  // Every rendered object conforms to the OpenAPI schema the API server publishes.
  CommandResult listed = runSkiff({"render", "shop", "-n", "acme", "-o", "json"}, url_);
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  const json paths = kube("/openapi/v3")["paths"];
  std::map<std::string, json> docs;  // by group-version path, "apis/apps/v1"
  std::vector<std::string> problems;
  size_t checked = 0;
  const json list = json::parse(listed.out);
  for (const auto& object : list["items"]) {
    const std::string api_version = object["apiVersion"];
    const std::string gv =
        api_version.find('/') == std::string::npos ? "api/" + api_version : "apis/" + api_version;
    ASSERT_TRUE(paths.contains(gv)) << gv;
    if (!docs.count(gv)) docs[gv] = kube(paths[gv]["serverRelativeURL"].get<std::string>());
    const json& doc = docs[gv];
    const std::string group =
        gv.rfind("api/", 0) == 0 ? "" : api_version.substr(0, api_version.find('/'));
    const std::string version = api_version.substr(api_version.find('/') + 1);
    json schema;
    for (const auto& [name, s] : doc["components"]["schemas"].items()) {
      for (const auto& gvk : s.value("x-kubernetes-group-version-kind", json::array()))
        if (gvk.value("kind", "") == object["kind"] && gvk.value("group", "") == group &&
            gvk.value("version", "") == version)
          schema = s;
    }
    ASSERT_FALSE(schema.is_null()) << "no schema for " << api_version << " " << object["kind"];
    checkSchema(doc, schema, object, object["kind"].get<std::string>(), problems);
    ++checked;
    if (object["kind"] == "Deployment") {
      // The check itself catches a misspelt field and a wrong type.
      json wrong = object;
      wrong["spec"]["replicas"] = "two";
      wrong["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always";
      std::vector<std::string> caught;
      checkSchema(doc, schema, wrong, "Deployment", caught);
      EXPECT_EQ(caught.size(), 2u) << ::testing::PrintToString(caught);
    }
  }
  EXPECT_GE(checked, 6u);  // namespace, quota, policy, config map, deployment, service, ingress
  EXPECT_TRUE(problems.empty()) << ::testing::PrintToString(problems);

  // What the API server rejects becomes a condition naming its reason: a Service name is a
  // DNS label of at most 63 characters, and "<application>-<component>" here is 71.
  json long_names = shop("registry.example/web:1", 1);
  long_names["metadata"]["name"] = "a-rather-long-application-name";
  long_names["spec"]["components"][0]["name"] = std::string(40, 'c');
  long_names["spec"]["components"][0].erase("env");
  ASSERT_EQ(httpRequest(url_, "POST", kApps, long_names.dump()).status, 201);
  const std::string long_path = kApps + "/a-rather-long-application-name";
  ASSERT_TRUE(eventually(
      [&] { return condition(get(long_path), "Deployed").value("status", "") == "False"; },
      std::chrono::seconds(30)));
  json rejected = condition(get(long_path), "Deployed");
  EXPECT_EQ(rejected["reason"], "ApplyRejected") << rejected.dump();
  EXPECT_NE(rejected.value("message", "").find("63"), std::string::npos) << rejected.dump();
  ASSERT_EQ(httpRequest(url_, "DELETE", long_path).status, 200);

  // Pods that cannot be scheduled (64 cores asked, the nodes have 32) hold the rollout, and
  // say why.
  ASSERT_EQ(
      httpRequest(url_, "POST", "/api/v1/tenants", json{{"metadata", {{"name", "roomy"}}}}.dump())
          .status,
      201);
  json huge = shop("registry.example/web:1", 1);
  huge["spec"]["components"][0].erase("env");
  huge["spec"]["components"][0]["resources"] = {{"cpu", 64}, {"memory", "64Mi"}};
  const std::string roomy = "/api/v1/tenants/roomy/applications";
  ASSERT_EQ(httpRequest(url_, "POST", roomy, huge.dump()).status, 201);
  ASSERT_TRUE(reasonBecomes(roomy + "/shop", "Progressing", "InstancesFailing"))
      << get(roomy + "/shop")["status"].dump();
  EXPECT_NE(get(roomy + "/shop")["status"]["components"]["web"]
                .value("failing", "")
                .find("Unschedulable"),
            std::string::npos);

  // Deleting the application prunes everything it made, and nothing else.
  ASSERT_EQ(httpRequest(url_, "DELETE", kApps + "/shop").status, 200);
  // The ConfigMap is pruned last.
  EXPECT_TRUE(eventually(
      [&] { return kube("/api/v1" + ns + "/configmaps/shop-config-settings").is_null(); },
      std::chrono::seconds(30)));
  EXPECT_TRUE(kube("/apis/apps/v1" + ns + "/deployments/shop-web").is_null());
  EXPECT_TRUE(kube("/api/v1" + ns + "/services/shop-web").is_null());
  EXPECT_TRUE(kube("/apis/networking.k8s.io/v1" + ns + "/ingresses/shop-web-0").is_null());
  EXPECT_FALSE(kube("/api/v1" + ns + "/resourcequotas/skiff-quota").is_null());
}

// Canary and blue-green releases as two workload sets with weighted routing (ingress-nginx's
// canary Ingress here: the control plane serves no Gateway API), held at their manual gate
// until `skiff rollout promote`, and undone by `rollout undo`.
TEST_F(KubeBackendTest, CanaryAndBlueGreenReleasesMoveTrafficBetweenTwoSets) {
  addClusterAndTenant("test", "acme");
  auto release = [](const std::string& image, const std::string& strategy) {
    json app = shop(image, 4);
    json& web = app["spec"]["components"][0];
    web.erase("env");
    web["rollout"] = {{"strategy", strategy}, {"autoPromote", false}};
    if (strategy == "canary") web["rollout"]["steps"] = {{{"weight", 25}}, {{"weight", 50}}};
    return app;
  };
  auto put = [&](json app) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      app["metadata"]["resourceVersion"] = get(kApps + "/shop")["metadata"]["resourceVersion"];
      int status = httpRequest(url_, "PUT", kApps + "/shop", app.dump()).status;
      if (status != 409) return status;
    }
    return 409;
  };
  const std::string ns = "/namespaces/skiff-acme";
  auto deployment = [&](const std::string& name) {
    return kube("/apis/apps/v1" + ns + "/deployments/" + name);
  };
  auto image_of = [](const json& d) {
    return d.is_null() ? "" : d["spec"]["template"]["spec"]["containers"][0].value("image", "");
  };
  auto ingress = [&](const std::string& name) {
    return kube("/apis/networking.k8s.io/v1" + ns + "/ingresses/" + name);
  };
  auto backend_of = [](const json& i) {
    return i["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"].value("name", "");
  };
  auto ready = [&] {
    return condition(get(kApps + "/shop"), "Ready").value("status", "") == "True";
  };

  ASSERT_EQ(
      httpRequest(url_, "POST", kApps, release("registry.example/web:1", "canary").dump()).status,
      201);
  ASSERT_TRUE(eventually(ready, std::chrono::seconds(60))) << get(kApps + "/shop")["status"];
  EXPECT_EQ(get(kApps + "/shop")["status"]["stableRevision"], 1);
  EXPECT_TRUE(deployment("shop-web-canary").is_null()) << "the first deploy is no release";

  // A new image: the canary set walks its steps and waits at the last one (50%: 2 of 4).
  ASSERT_EQ(put(release("registry.example/web:2", "canary")), 200);
  ASSERT_TRUE(eventually(
      [&] {
        json web = get(kApps + "/shop")["status"].value(
            json::json_pointer("/release/components/web"), json::object());
        return web.value("step", 0) == 1 &&
               web.value("message", "").find("skiff rollout promote") != std::string::npos;
      },
      std::chrono::seconds(60)))
      << get(kApps + "/shop")["status"];
  json canary = deployment("shop-web-canary");
  EXPECT_EQ(image_of(canary), "registry.example/web:2");
  EXPECT_EQ(canary["spec"]["replicas"], 2);
  EXPECT_EQ(image_of(deployment("shop-web")), "registry.example/web:1");
  EXPECT_EQ(deployment("shop-web")["spec"]["replicas"], 4);
  EXPECT_EQ(backend_of(ingress("shop-web-0")), "shop-web-stable");
  json canary_ingress = ingress("shop-web-0-canary");
  EXPECT_EQ(backend_of(canary_ingress), "shop-web-canary");
  EXPECT_EQ(canary_ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"],
            "50");
  EXPECT_FALSE(ready());
  CommandResult waiting =
      runSkiff({"rollout", "status", "shop", "-n", "acme", "--timeout", "2s"}, url_);
  EXPECT_NE(waiting.exit_code, 0);
  EXPECT_NE(waiting.out.find("web: step 2 of 2, 50% of routed traffic on the canary set, waiting "
                             "for `skiff rollout promote`"),
            std::string::npos)
      << waiting.out;

  // Promoted: the stable set takes the new template, then the canary set goes.
  CommandResult promoted = runSkiff({"rollout", "promote", "shop", "-n", "acme"}, url_);
  ASSERT_EQ(promoted.exit_code, 0) << promoted.err;
  EXPECT_NE(promoted.out.find("revision 2 promoted"), std::string::npos) << promoted.out;
  ASSERT_TRUE(eventually(
      [&] {
        // Pruned in this order: routes, workloads, then Services.
        return get(kApps + "/shop")["status"].value("stableRevision", 0) == 2 && ready() &&
               kube("/api/v1" + ns + "/services/shop-web-canary").is_null();
      },
      std::chrono::seconds(90)))
      << get(kApps + "/shop")["status"];
  EXPECT_EQ(image_of(deployment("shop-web")), "registry.example/web:2");
  EXPECT_TRUE(ingress("shop-web-0-canary").is_null());
  EXPECT_EQ(backend_of(ingress("shop-web-0")), "shop-web");
  EXPECT_TRUE(deployment("shop-web-canary").is_null());

  // Blue-green: the new set comes up at full size with no traffic; in-cluster traffic stays on
  // the stable set. `rollout undo` before the switch abandons it, the stable set untouched.
  const std::string replica_sets =
      "/apis/apps/v1" + ns +
      "/replicasets?labelSelector=app.kubernetes.io%2Fcomponent%3Dweb%2Cskiff.dev%2Ftrack%3Dstable";
  const size_t stable_sets = kube(replica_sets)["items"].size();
  auto green_ready = [&] {
    json d = deployment("shop-web-canary");
    return !d.is_null() && d["status"].value("readyReplicas", 0) == 4;
  };
  ASSERT_EQ(put(release("registry.example/web:3", "bluegreen")), 200);
  ASSERT_TRUE(eventually(green_ready, std::chrono::seconds(60)));
  EXPECT_EQ(kube("/api/v1" + ns + "/services/shop-web")["spec"]["selector"]["skiff.dev/track"],
            "stable");
  EXPECT_EQ(ingress("shop-web-0-canary")["metadata"]["annotations"]
                                        ["nginx.ingress.kubernetes.io/canary-weight"],
            "0");
  CommandResult undo = runSkiff({"rollout", "undo", "shop", "-n", "acme"}, url_);
  ASSERT_EQ(undo.exit_code, 0) << undo.err;
  ASSERT_TRUE(eventually([&] { return deployment("shop-web-canary").is_null() && ready(); },
                         std::chrono::seconds(60)))
      << get(kApps + "/shop")["status"];
  EXPECT_EQ(image_of(deployment("shop-web")), "registry.example/web:2");
  EXPECT_EQ(kube(replica_sets)["items"].size(), stable_sets) << "the stable set never rolled";

  // A canary aborted by hand: its set scales to nothing and takes no traffic, the stable set
  // untouched; the next revision releases from the stable one.
  ASSERT_EQ(put(release("registry.example/web:4", "canary")), 200);
  // Its first step (1 pod) may already have given way to the second (2) when this looks.
  ASSERT_TRUE(eventually(
      [&] {
        json d = deployment("shop-web-canary");
        return !d.is_null() && d["status"].value("readyReplicas", 0) >= 1;
      },
      std::chrono::seconds(60)));
  CommandResult aborted = runSkiff({"rollout", "abort", "shop", "-n", "acme"}, url_);
  ASSERT_EQ(aborted.exit_code, 0) << aborted.err;
  ASSERT_TRUE(eventually(
      [&] {
        json d = deployment("shop-web-canary");
        return !d.is_null() && d["spec"].value("replicas", -1) == 0 &&
               condition(get(kApps + "/shop"), "Progressing").value("reason", "") ==
                   "RolloutAborted";
      },
      std::chrono::seconds(60)))
      << get(kApps + "/shop")["status"];
  // Applied after the workloads, in the same pass.
  EXPECT_TRUE(eventually([&] {
    return ingress("shop-web-0-canary")["metadata"]["annotations"].value(
               "nginx.ingress.kubernetes.io/canary-weight", "") == "0";
  }));
  EXPECT_EQ(image_of(deployment("shop-web")), "registry.example/web:2");
  EXPECT_EQ(get(kApps + "/shop")["status"]["release"]["components"]["web"]["aborted"]["metric"],
            "manual");

  // Blue-green again, promoted: the switch, then the stable set catches up and the new set goes.
  ASSERT_EQ(put(release("registry.example/web:3", "bluegreen")), 200);
  ASSERT_TRUE(eventually(green_ready, std::chrono::seconds(60)));
  promoted = runSkiff({"rollout", "promote", "shop", "-n", "acme"}, url_);
  ASSERT_EQ(promoted.exit_code, 0) << promoted.err;
  ASSERT_TRUE(eventually(
      [&] {
        return image_of(deployment("shop-web")) == "registry.example/web:3" && ready() &&
               deployment("shop-web-canary").is_null();
      },
      std::chrono::seconds(90)))
      << get(kApps + "/shop")["status"];
  EXPECT_FALSE(
      kube("/api/v1" + ns + "/services/shop-web")["spec"]["selector"].contains("skiff.dev/track"));

  // Moving to another cluster is a release like any other: the objects appear there and go
  // from the old one. (The same API server, registered again with another namespace prefix.)
  CommandResult second = runSkiff({"cluster", "add", "second", "--kubeconfig",
                                   cluster_->kubeconfig(), "--namespace-prefix", "moved-"},
                                  url_);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  json moved = release("registry.example/web:3", "bluegreen");
  moved["spec"]["cluster"] = "second";
  ASSERT_EQ(put(moved), 200);
  ASSERT_TRUE(eventually(
      [&] {
        return !kube("/apis/apps/v1/namespaces/moved-acme/deployments/shop-web").is_null() &&
               deployment("shop-web").is_null() &&
               get(kApps + "/shop")["status"].value("cluster", "") == "second" && ready();
      },
      std::chrono::seconds(60)))
      << get(kApps + "/shop")["status"];
  EXPECT_TRUE(ingress("shop-web-0").is_null());

  // Back to the embedded runtime: what it had on the cluster goes, and so does its status there.
  json home = release("registry.example/web:3", "bluegreen");
  home["spec"]["cluster"] = "local";
  ASSERT_EQ(put(home), 200);
  ASSERT_TRUE(eventually(
      [&] {
        return kube("/apis/apps/v1/namespaces/moved-acme/deployments/shop-web").is_null() &&
               !get(kApps + "/shop")["status"].contains("cluster");
      },
      std::chrono::seconds(60)))
      << get(kApps + "/shop")["status"];
}

TEST_F(KubeBackendTest, RefusedCredentialsAndUnknownClustersAreConditions) {
  // A token the API server does not know.
  json bad = {
      {"metadata", {{"name", "wrong"}}},
      {"spec",
       {{"server", cluster_->url()}, {"caData", cluster_->caPem()}, {"token", "not-a-token"}}}};
  ASSERT_EQ(httpRequest(url_, "POST", "/api/v1/clusters", bad.dump()).status, 201);
  ASSERT_TRUE(
      eventually([&] { return get("/api/v1/clusters/wrong")["status"].contains("lastError"); },
                 std::chrono::seconds(30)));
  json status = get("/api/v1/clusters/wrong")["status"];
  EXPECT_EQ(status["reachable"], false);
  EXPECT_NE(status.value("lastError", "").find("Unauthorized"), std::string::npos) << status.dump();

  ASSERT_EQ(
      httpRequest(url_, "POST", "/api/v1/tenants", json{{"metadata", {{"name", "acme"}}}}.dump())
          .status,
      201);
  json on_wrong = shop("registry.example/web:1", 1, "wrong");
  on_wrong["spec"]["components"][0].erase("env");
  ASSERT_EQ(httpRequest(url_, "POST", kApps, on_wrong.dump()).status, 201);
  ASSERT_TRUE(eventually(
      [&] { return condition(get(kApps + "/shop"), "Deployed").value("status", "") == "False"; },
      std::chrono::seconds(30)));
  json deployed = condition(get(kApps + "/shop"), "Deployed");
  EXPECT_EQ(deployed["reason"], "ClusterUnreachable") << deployed.dump();

  // A client certificate that has expired: the API server would only say "Unauthorized".
  auto [certificate, key] = expiredClientCertificate(dir_.path() + "/pki");
  ASSERT_FALSE(certificate.empty());
  json expired = {{"metadata", {{"name", "expired"}}},
                  {"spec",
                   {{"server", cluster_->url()},
                    {"caData", cluster_->caPem()},
                    {"clientCertificate", certificate},
                    {"clientKey", key}}}};
  ASSERT_EQ(httpRequest(url_, "POST", "/api/v1/clusters", expired.dump()).status, 201);
  ASSERT_TRUE(reasonBecomes("/api/v1/clusters/expired", "Ready", "CredentialsExpired"))
      << get("/api/v1/clusters/expired").dump();
  EXPECT_NE(condition(get("/api/v1/clusters/expired"), "Ready")
                .value("message", "")
                .find("client certificate expired at"),
            std::string::npos);
  EXPECT_TRUE(get("/api/v1/clusters/expired")["status"].contains("credentialsExpireAt"));
  json on_expired = on_wrong;
  on_expired["metadata"]["name"] = "stale";
  on_expired["spec"]["cluster"] = "expired";
  ASSERT_EQ(httpRequest(url_, "POST", kApps, on_expired.dump()).status, 201);
  ASSERT_TRUE(reasonBecomes(kApps + "/stale", "Deployed", "CredentialsExpired"))
      << get(kApps + "/stale")["status"].dump();

  json nowhere = on_wrong;
  nowhere["metadata"]["name"] = "lost";
  nowhere["spec"]["cluster"] = "nowhere";
  ASSERT_EQ(httpRequest(url_, "POST", kApps, nowhere.dump()).status, 201);
  ASSERT_TRUE(reasonBecomes(kApps + "/lost", "Deployed", "ClusterNotFound"));
}

}  // namespace
}  // namespace skiff::test
