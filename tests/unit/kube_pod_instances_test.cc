// Pods as Instances (controller/kube_pod_mirror.h), their log lines (controller/kube_pod_access.h)
// and the end of a pod exec (kube/pod_exec.h): the translations, without a cluster.
#include <gtest/gtest.h>

#include "common/clock.h"
#include "controller/kube_pod_access.h"
#include "controller/kube_pod_mirror.h"
#include "kube/client.h"
#include "kube/pod_exec.h"
#include "model/well_known.h"

namespace skiff {
namespace {

json runningPod() {
  return json::parse(R"({
    "metadata": {
      "name": "shop-web-6d5f7c9b8-x2f4k", "namespace": "skiff-acme",
      "labels": {"skiff.dev/tenant": "acme", "skiff.dev/application": "shop",
                 "app.kubernetes.io/component": "web", "app.kubernetes.io/managed-by": "skiff"},
      "annotations": {"skiff.dev/revision": "3"}
    },
    "spec": {"nodeName": "kwok-node-1", "containers": [{"name": "web", "image": "web:1"}]},
    "status": {
      "phase": "Running", "podIP": "10.244.0.7", "startTime": "2026-11-22T05:09:30Z",
      "conditions": [
        {"type": "PodScheduled", "status": "True"},
        {"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-22T05:09:31Z"}],
      "containerStatuses": [{"name": "web", "restartCount": 2, "state": {"running": {}}}]
    }
  })");
}

TEST(PodInstanceTest, RunningPodIsAReadyInstanceOfItsCluster) {
  const json pod = runningPod();
  ASSERT_EQ(podRevisionAnnotation(pod), 3);
  auto instance = instanceFromPod(pod, "prod", 3);
  ASSERT_TRUE(instance.has_value());
  EXPECT_EQ(instance->kind, "Instance");
  EXPECT_EQ(instance->metadata.tenant, "acme");
  EXPECT_EQ(instance->metadata.name, "shop-web-6d5f7c9b8-x2f4k");
  EXPECT_EQ(instance->metadata.labels.at(kApplicationLabel), "shop");
  EXPECT_EQ(instance->metadata.labels.at(kComponentLabel), "web");
  EXPECT_EQ(instance->metadata.labels.at(kClusterLabel), "prod");
  EXPECT_EQ(instance->spec["application"], "shop");
  EXPECT_EQ(instance->spec["component"], "web");
  EXPECT_EQ(instance->spec["revision"], 3);
  EXPECT_EQ(instance->spec["node"], "kwok-node-1");
  const json& s = instance->status;
  EXPECT_EQ(s["phase"], "Running");
  EXPECT_EQ(s["ready"], true);
  EXPECT_EQ(s["restarts"], 2);
  EXPECT_EQ(s["address"], "10.244.0.7");
  EXPECT_EQ(s["node"], "kwok-node-1");
  EXPECT_EQ(s["cluster"], "prod");
  EXPECT_EQ(s["driver"], "kubernetes");
  EXPECT_EQ(s["startedAt"], "2026-11-22T05:09:30Z");
  EXPECT_EQ(s["pod"], (json{{"namespace", "skiff-acme"},
                            {"name", "shop-web-6d5f7c9b8-x2f4k"},
                            {"container", "web"}}));
  // No ports: the local gateway and services never route to a cluster's pods.
  EXPECT_FALSE(s.contains("ports"));
  const json* ready = findCondition(s, "Ready");
  ASSERT_NE(ready, nullptr);
  EXPECT_EQ((*ready)["status"], "True");

  auto place = podOf(*instance);
  ASSERT_TRUE(place.has_value());
  EXPECT_EQ(place->cluster, "prod");
  EXPECT_EQ(place->ns, "skiff-acme");
  EXPECT_EQ(place->pod, "shop-web-6d5f7c9b8-x2f4k");
  EXPECT_EQ(place->container, "web");
}

TEST(PodInstanceTest, TroubledPodsSayWhyAsLocalInstancesDo) {
  json pod = runningPod();
  pod["status"]["conditions"][1]["status"] = "False";
  pod["status"]["containerStatuses"][0]["state"] = {
      {"waiting", {{"reason", "CrashLoopBackOff"}, {"message", "back-off 10s restarting"}}}};
  auto crashing = instanceFromPod(pod, "prod", 3);
  ASSERT_TRUE(crashing.has_value());
  EXPECT_EQ(crashing->status["phase"], "Backoff");
  EXPECT_EQ(crashing->status["ready"], false);
  const json* ready = findCondition(crashing->status, "Ready");
  ASSERT_NE(ready, nullptr);
  EXPECT_EQ((*ready)["reason"], "CrashLoopBackOff");
  EXPECT_EQ((*ready)["message"], "back-off 10s restarting");

  json pending = runningPod();
  pending["spec"].erase("nodeName");
  pending["status"] = {{"phase", "Pending"},
                       {"conditions",
                        {{{"type", "PodScheduled"},
                          {"status", "False"},
                          {"reason", "Unschedulable"},
                          {"message", "0/2 nodes are available"}}}}};
  auto unscheduled = instanceFromPod(pending, "prod", 3);
  ASSERT_TRUE(unscheduled.has_value());
  EXPECT_EQ(unscheduled->status["phase"], "Pending");
  // A node name no local node agent has, even before the pod has one.
  EXPECT_EQ(unscheduled->spec["node"], "");
  EXPECT_EQ((*findCondition(unscheduled->status, "Ready"))["reason"], "Unschedulable");

  json leaving = runningPod();
  leaving["metadata"]["deletionTimestamp"] = "2026-11-22T06:00:00Z";
  EXPECT_EQ(instanceFromPod(leaving, "prod", 3)->status["phase"], "Terminating");
}

TEST(PodInstanceTest, PodsOfNoApplicationAreNotMirrored) {
  json pod = runningPod();
  pod["metadata"]["labels"].erase("app.kubernetes.io/component");
  EXPECT_FALSE(instanceFromPod(pod, "prod", 1).has_value());
  pod = runningPod();
  pod["metadata"]["labels"].erase("skiff.dev/tenant");
  EXPECT_FALSE(instanceFromPod(pod, "prod", 1).has_value());
  Object local;
  local.metadata.labels[kApplicationLabel] = "shop";
  EXPECT_FALSE(podOf(local).has_value());
}

TEST(PodLogLineTest, TimestampsBecomeTheLinesTimes) {
  const auto fallback = std::chrono::system_clock::from_time_t(0);
  runtime::LogLine line = podLogLine("2026-11-22T05:09:30.123456789Z hello world", fallback);
  std::chrono::system_clock::time_point expected;
  ASSERT_TRUE(parseTimestamp("2026-11-22T05:09:30Z", &expected));
  EXPECT_EQ(line.text, "hello world");
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::microseconds>(line.time - expected).count(),
            123456);
  runtime::LogLine plain = podLogLine("no time here", fallback);
  EXPECT_EQ(plain.text, "no time here");
  EXPECT_EQ(plain.time, fallback);
}

TEST(PodExecTest, ExitCodesComeFromTheStatus) {
  EXPECT_EQ(*kube::execExitCode(R"({"metadata": {}, "status": "Success"})"), 0);
  auto failed = kube::execExitCode(R"({"metadata": {}, "status": "Failure",
      "message": "command terminated with non-zero exit code: exit status 3",
      "reason": "NonZeroExitCode",
      "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}})");
  ASSERT_TRUE(failed.ok()) << failed.status().message();
  EXPECT_EQ(*failed, 3);
  auto broken = kube::execExitCode(R"({"status": "Failure", "reason": "InternalError",
      "message": "Internal error occurred: executable file not found"})");
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.status().message().find("executable file not found"), std::string::npos);
  EXPECT_FALSE(kube::execExitCode("not json").ok());
}

TEST(PodExecTest, PathsAskForWhatTheSessionNeeds) {
  EXPECT_EQ(kube::podExecPath("skiff-acme", "shop-web-0", "web", {"sh", "-c", "echo a b"}, false),
            "/api/v1/namespaces/skiff-acme/pods/shop-web-0/exec?stdin=true&stdout=true&stderr=true"
            "&container=web&command=sh&command=-c&command=echo%20a%20b");
  EXPECT_EQ(kube::podExecPath("ns", "p", "", {"sh"}, true),
            "/api/v1/namespaces/ns/pods/p/exec?stdin=true&stdout=true&tty=true&command=sh");
  kube::PodLogOptions options;
  options.container = "web";
  options.follow = true;
  options.timestamps = true;
  options.tail_lines = 10;
  options.since_time = "2026-11-22T05:09:30Z";
  EXPECT_EQ(kube::podLogPath("ns", "p", options),
            "/api/v1/namespaces/ns/pods/p/log?container=web&follow=true&timestamps=true"
            "&tailLines=10&sinceTime=2026-11-22T05%3A09%3A30Z");
}

}  // namespace
}  // namespace skiff
