// The runc driver against real runc and a busybox image: what a container sees (env, working
// directory, user, hostname, /etc files, volumes), limits (memory with OOM, pids), stopping,
// adoption by a second driver, and that failed starts and crashes leave nothing on the host.
#include <signal.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <set>

#include "runtime/local/oci_bundle.h"
#include "runtime/local/rootfs.h"
#include "runtime/local/shim.h"
#include "runtime_runc_test_support.h"

namespace skiff::testing {
namespace {

using runtime::InstancePhase;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

TEST(RuncShimSpecTest, SpecJsonCarriesTheRuncTarget) {
  runtime::InstanceSpec spec;
  spec.id = "web-1";
  spec.argv = {"/usr/sbin/runc", "run", "web-1"};
  runtime::ShimRuncTarget target{.runc = "/usr/sbin/runc",
                                 .root = "/data/runc",
                                 .container_id = "web-1",
                                 .memory_cgroup_dir = "/sys/fs/cgroup/memory/skiff/web-1-1234abcd",
                                 .memory_cgroup_v2 = false};
  runtime::ShimRuncTarget decoded;
  std::string log_dir;
  auto back = runtime::decodeSpec(runtime::encodeSpec(spec, "", &target, "/data/web-1/logs"),
                                  nullptr, &decoded, &log_dir);
  ASSERT_TRUE(back.ok()) << back.status().toString();
  EXPECT_EQ(*back, spec);
  EXPECT_EQ(decoded, target);
  EXPECT_EQ(log_dir, "/data/web-1/logs");

  // A process instance's spec has neither: its logs are in its state directory.
  runtime::ShimRuncTarget none;
  ASSERT_TRUE(runtime::decodeSpec(runtime::encodeSpec(spec), nullptr, &none, &log_dir).ok());
  EXPECT_TRUE(none.runc.empty());
  EXPECT_EQ(log_dir, "");
}

class RuncDriverTest : public RuncTest {
 protected:
  // Nothing of instance `id` is left on the host: no mount, runc state, cgroup, directory.
  // (The driver's spare root filesystems are its own, released when it goes.)
  void expectNoTrace(const std::string& id) {
    std::vector<std::string> mounts;
    for (const std::string& m : mountsBelow(dir_))
      if (m.rfind(root_ + "/spares/", 0) != 0) mounts.push_back(m);
    EXPECT_TRUE(mounts.empty()) << mounts.front();
    EXPECT_FALSE(fs::exists(driver_->stateDir(id)));
    EXPECT_TRUE(cgroupsOfRoot(root_).empty()) << cgroupsOfRoot(root_).front();
    EXPECT_FALSE(fs::exists(driver_->instanceDir(id)));
    EXPECT_FALSE(driver_->inspect(id).ok());
    // What the removal left to the background goes too.
    driver_->waitForDeletions();
    std::error_code ec;
    EXPECT_TRUE(!fs::exists(root_ + "/trash") || fs::is_empty(root_ + "/trash", ec));
  }
};

TEST_F(RuncDriverTest, ProbeSaysRuncIsUsable) {
  runtime::RuncProbe probe = runtime::RuncDriver::probe(kRunc);
  EXPECT_TRUE(probe.usable) << probe.reason;
  EXPECT_EQ(probe.version.rfind("1.", 0), 0u) << probe.version;
  EXPECT_TRUE(cgroupsOfRoot(root_).empty());

  runtime::RuncProbe missing = runtime::RuncDriver::probe(dir_ + "/no-runc");
  EXPECT_FALSE(missing.usable);
  EXPECT_NE(missing.reason.find("not found"), std::string::npos) << missing.reason;
  EXPECT_NE(driver_->describe().find("runc 1."), std::string::npos) << driver_->describe();
}

TEST_F(RuncDriverTest, RunsAndRecordsExitCodeAndLogs) {
  auto started =
      driver_->start(spec("job-1", {"sh", "-c", "echo hello; echo oops >&2; sleep 0.2; exit 3"}));
  ASSERT_TRUE(started.ok()) << started.status().toString();
  EXPECT_GT(started->shim_pid, 0);
  auto state = waitExited(*driver_, "job-1");
  EXPECT_EQ(state.exit_code, 3);
  EXPECT_EQ(state.signal, 0);
  EXPECT_EQ(state.reason, "Error");
  std::string logs = logText(*driver_, "job-1");
  EXPECT_NE(logs.find("stdout hello\n"), std::string::npos) << logs;
  EXPECT_NE(logs.find("stderr oops\n"), std::string::npos) << logs;

  auto list = driver_->list();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(*list, std::vector<std::string>{"job-1"});
  // On disk, only the root filesystem and the logs: the files a start writes and replaces are
  // on tmpfs.
  std::set<std::string> on_disk;
  for (const auto& entry : fs::directory_iterator(driver_->instanceDir("job-1")))
    on_disk.insert(entry.path().filename().string());
  EXPECT_EQ(on_disk, (std::set<std::string>{"logs", "rootfs", "upper", "work"}));
  EXPECT_EQ(driver_->stateDir("job-1").rfind("/dev/shm/", 0), 0u);
  EXPECT_TRUE(fs::exists(driver_->runcRoot("job-1") + "/job-1/state.json"));
  ASSERT_TRUE(driver_->remove("job-1").isOk());
  expectNoTrace("job-1");
  // The driver's directory on tmpfs goes with its last instance.
  EXPECT_FALSE(fs::exists(fs::path(driver_->stateDir("job-1")).parent_path()));
  // The logs are kept for retention.
  auto log_path = driver_->logPath("job-1");
  ASSERT_TRUE(log_path.ok());
  EXPECT_NE(slurp(*log_path).find("hello"), std::string::npos);
}

TEST_F(RuncDriverTest, EnvWorkingDirAndNumericUser) {
  auto s = spec("env-1", {"sh", "-c", "echo $GREETING; echo $SECRET; pwd; id -u; id -g"});
  s.env["GREETING"] = "hello world";
  s.secret_env["SECRET"] = "s3cret";
  s.working_dir = "/tmp";
  s.container->user = "1234:4321";
  EXPECT_EQ(runScript(*driver_, s), "hello world\ns3cret\n/tmp\n1234\n4321\n");
  // The secret variable reached the container without reaching the disk: runc's bundle, its
  // config.json, is on tmpfs, and the shim's spec does not hold it.
  const std::string config = driver_->stateDir("env-1") + "/config.json";
  EXPECT_EQ(config.rfind("/dev/shm/", 0), 0u);
  EXPECT_NE(slurp(config).find("s3cret"), std::string::npos);
  EXPECT_FALSE(fs::exists(driver_->instanceDir("env-1") + "/config.json"));
  EXPECT_EQ(slurp(driver_->stateDir("env-1") + "/spec.json").find("s3cret"), std::string::npos);
}

TEST_F(RuncDriverTest, UserByNameFromTheImage) {
  auto s = spec("user-1", {"sh", "-c", "id -u; id -g; id -G"});
  s.container->user = "app";
  EXPECT_EQ(runScript(*driver_, s), "1000\n1000\n1000 2000\n");
}

TEST_F(RuncDriverTest, HostnameHostsResolvConfAndVolumes) {
  auto s = spec("net-1", {"sh", "-c",
                          "hostname; cat /etc/hostname; cat /etc/hosts; cat /etc/resolv.conf; "
                          "cat /etc/app/mode /run/secrets/db/password"});
  s.container->hostname = "web-1";
  s.container->hosts = {"10.88.0.9 cache"};
  s.container->dns = {.nameservers = {"10.88.0.1"}, .search = {"acme.svc"}, .options = {}};
  s.container->volume_paths = {{"settings", "/etc/app"}, {"db", "/run/secrets/db"}};
  s.files = {{.volume = "settings", .name = "mode", .contents = "prod\n", .secret = false},
             {.volume = "db", .name = "password", .contents = "hunter2\n", .secret = true}};
  std::string out = runScript(*driver_, s);
  EXPECT_EQ(out.rfind("web-1\nweb-1\n127.0.0.1", 0), 0u) << out;
  EXPECT_NE(out.find("127.0.1.1\tweb-1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("10.88.0.9 cache\n"), std::string::npos) << out;
  EXPECT_NE(out.find("nameserver 10.88.0.1\nsearch acme.svc\n"), std::string::npos) << out;
  EXPECT_NE(out.find("prod\nhunter2\n"), std::string::npos) << out;
}

TEST_F(RuncDriverTest, MemoryHogIsOomKilled) {
  // Doubling a shell variable allocates without bound; 32 MiB stops it within a second.
  auto s = spec("hog-1", {"sh", "-c", "echo start; x=0123456789abcdef; while :; do x=$x$x; done"});
  s.limits.memory_bytes = 32 << 20;
  ASSERT_TRUE(driver_->start(s).ok());
  auto state = waitExited(*driver_, "hog-1", std::chrono::seconds(60));
  EXPECT_EQ(state.reason, "OOMKilled") << logText(*driver_, "hog-1");
  EXPECT_EQ(state.signal, SIGKILL);
}

TEST_F(RuncDriverTest, PidsLimitRefusesForks) {
  auto s = spec("pids-1", {"sh", "-c", "for i in $(seq 30); do sleep 5 & done; echo started"});
  s.limits.pids = 8;
  ASSERT_TRUE(driver_->start(s).ok());
  waitExited(*driver_, "pids-1", std::chrono::seconds(30));
  std::string logs = logText(*driver_, "pids-1");
  EXPECT_NE(logs.find("can't fork"), std::string::npos) << logs;
}

TEST_F(RuncDriverTest, StopLetsATermHandlerFinish) {
  auto s =
      spec("term-1", {"sh", "-c", "trap 'echo bye; exit 0' TERM; while :; do sleep 0.1; done"});
  ASSERT_TRUE(driver_->start(s).ok());
  std::this_thread::sleep_for(milliseconds(300));
  auto before = steady_clock::now();
  ASSERT_TRUE(driver_->stop("term-1", std::chrono::seconds(10)).isOk());
  EXPECT_LT(steady_clock::now() - before, std::chrono::seconds(5));
  auto state = waitExited(*driver_, "term-1");
  EXPECT_EQ(state.exit_code, 0) << state.reason;
  EXPECT_EQ(state.reason, "Completed");
  EXPECT_NE(logText(*driver_, "term-1").find("stdout bye"), std::string::npos);
}

TEST_F(RuncDriverTest, StopKillsAfterGraceWhenTermIsIgnored) {
  // As the pid namespace's init, sleep ignores SIGTERM (no handler): only SIGKILL ends it.
  ASSERT_TRUE(driver_->start(spec("stubborn-1", {"sleep", "1000"})).ok());
  auto before = steady_clock::now();
  ASSERT_TRUE(driver_->stop("stubborn-1", milliseconds(500)).isOk());
  EXPECT_GE(steady_clock::now() - before, milliseconds(500));
  auto state = waitExited(*driver_, "stubborn-1");
  EXPECT_EQ(state.signal, SIGKILL);
  EXPECT_EQ(state.reason, "Killed");
  ASSERT_TRUE(driver_->remove("stubborn-1").isOk());
  expectNoTrace("stubborn-1");
}

TEST_F(RuncDriverTest, ShimAskedToStopKillsTheContainerAfterGrace) {
  // As on a machine shutdown: SIGTERM to the shim, which forwards it through runc; the
  // container ignores it, so after its termination grace the shim has runc SIGKILL it.
  auto s = spec("shutdown-1", {"sleep", "1000"});
  s.termination_grace = milliseconds(300);
  auto started = driver_->start(s);
  ASSERT_TRUE(started.ok());
  ASSERT_EQ(::kill(started->shim_pid, SIGTERM), 0);
  auto state = waitExited(*driver_, "shutdown-1");
  EXPECT_EQ(state.signal, SIGKILL) << state.reason;
  EXPECT_EQ(state.reason, "Killed");
}

TEST_F(RuncDriverTest, StartReturnsOnceTheContainerRunsItsCommand) {
  // Not as soon as runc is done with the init, which execs the command a moment later: a
  // signal in between would end runc's code in the init (status 2), not reach the command.
  for (int i = 0; i < 10; ++i) {
    const std::string id = "exec-" + std::to_string(i);
    ASSERT_TRUE(driver_->start(spec(id, {"sleep", "1000"})).ok());
    auto runc_state =
        nlohmann::json::parse(slurp(driver_->runcRoot(id) + "/" + id + "/state.json"));
    const int init = runc_state["init_process_pid"].get<int>();
    EXPECT_EQ(slurp("/proc/" + std::to_string(init) + "/comm"), "sleep\n") << id;
    ASSERT_TRUE(driver_->stop(id, milliseconds(0)).isOk());
    ASSERT_TRUE(driver_->remove(id).isOk());
  }
}

TEST_F(RuncDriverTest, StartFailuresLeaveNothingBehind) {
  auto bad_user = spec("fail-1", {"sleep", "1"});
  bad_user.container->user = "nobody-here";
  auto r1 = driver_->start(bad_user);
  ASSERT_FALSE(r1.ok());
  EXPECT_NE(r1.status().message().find("nobody-here"), std::string::npos);
  expectNoTrace("fail-1");

  auto missing_layer = spec("fail-2", {"sleep", "1"});
  missing_layer.container->rootfs_layers.push_back(dir_ + "/layers/missing");
  auto r2 = driver_->start(missing_layer);
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.status().message().find("layers/missing"), std::string::npos);
  expectNoTrace("fail-2");

  // runc itself refuses: the command is not in the image.
  auto r3 = driver_->start(spec("fail-3", {"no-such-command"}));
  ASSERT_FALSE(r3.ok()) << r3->reason;
  EXPECT_NE(r3.status().message().find("no-such-command"), std::string::npos)
      << r3.status().message();
  expectNoTrace("fail-3");

  auto no_container = spec("fail-4", {"sleep", "1"});
  no_container.container.reset();
  EXPECT_EQ(driver_->start(no_container).status().code(), StatusCode::kInvalid);
  expectNoTrace("fail-4");

  ASSERT_TRUE(driver_->start(spec("dup-1", {"sleep", "1000"})).ok());
  EXPECT_EQ(driver_->start(spec("dup-1", {"sleep", "1000"})).status().code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(driver_->remove("dup-1").code(), StatusCode::kConflict);  // still running
}

TEST_F(RuncDriverTest, SecondDriverAdoptsRunningContainers) {
  ASSERT_TRUE(driver_->start(spec("adopt-1", {"sh", "-c", "echo up; sleep 1000"})).ok());
  driver_.reset();  // the control plane goes away; the shim and container stay
  auto second = makeDriver();
  auto list = second->list();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(*list, std::vector<std::string>{"adopt-1"});
  auto state = second->inspect("adopt-1");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->phase, InstancePhase::kRunning);
  auto exec = second->exec("adopt-1", {"echo", "still here"}, false);
  ASSERT_TRUE(exec.ok()) << exec.status().toString();
  EXPECT_EQ((*exec)->wait().value(), 0);
  ASSERT_TRUE(second->stop("adopt-1", milliseconds(200)).isOk());
  ASSERT_TRUE(second->remove("adopt-1").isOk());
  driver_ = std::move(second);
  expectNoTrace("adopt-1");
}

TEST_F(RuncDriverTest, CleanupOrphansAfterTheShimDied) {
  auto started = driver_->start(spec("orphan-1", {"sleep", "1000"}));
  ASSERT_TRUE(started.ok());
  // The shim dies (as in a crash); `runc run` and the container are left without it.
  ASSERT_EQ(::kill(started->shim_pid, SIGKILL), 0);
  auto state = waitExited(*driver_, "orphan-1");
  EXPECT_EQ(state.reason.rfind("ShimLost", 0), 0u) << state.reason;
  ASSERT_TRUE(driver_->cleanupOrphans().isOk());
  EXPECT_TRUE(mountsBelow(dir_).empty());
  EXPECT_FALSE(fs::exists(driver_->runcRoot("orphan-1") + "/orphan-1"));
  EXPECT_TRUE(cgroupsOfRoot(root_).empty());
  ASSERT_TRUE(driver_->remove("orphan-1").isOk());
  expectNoTrace("orphan-1");
}

TEST_F(RuncDriverTest, TheNextStartOfAnImageTakesASpareRootFilesystem) {
  EXPECT_EQ(runScript(*driver_, spec("spare-1", {"sh", "-c", "echo one > /written; cat /written"})),
            "one\n");
  // After a start, a root filesystem of the same image is made for the next one.
  const std::string spares = root_ + "/spares";
  auto made = [&] { return mountsBelow(spares); };
  for (int i = 0; i < 500 && made().empty(); ++i) std::this_thread::sleep_for(milliseconds(10));
  ASSERT_EQ(made().size(), 1u);
  const std::string spare = made().front();
  // The next start takes it, and sees none of the first container's writes.
  EXPECT_EQ(runScript(*driver_,
                      spec("spare-2", {"sh", "-c", "[ -e /written ] && echo seen || echo fresh"})),
            "fresh\n");
  EXPECT_FALSE(fs::exists(spare));
  // The driver leaves none behind when it goes.
  driver_.reset();
  EXPECT_TRUE(mountsBelow(spares).empty());
  EXPECT_TRUE(fs::is_empty(spares));
  driver_ = makeDriver();
}

TEST_F(RuncDriverTest, CleanupOrphansAfterAnUpgradeFromStateOnDisk) {
  // What a build before kept on disk: the root filesystem in instances/<id>/bundle, runc's
  // state in ROOT/runc (here a created container, its init waiting to run).
  const std::string dir = driver_->instanceDir("old-1");
  ASSERT_TRUE(runtime::prepareRootfs({base_layer_}, dir + "/bundle").ok());
  writeFile(dir + "/logs/current.log", "2026-12-04T10:00:00.000Z stdout before the upgrade\n");
  runtime::OciBundleConfig config;
  config.argv = {"/bin/sleep", "1000"};
  config.env = {"PATH=/bin"};
  config.rootfs = dir + "/bundle/rootfs";
  config.hostname = "old-1";
  config.cgroups_path = driver_->cgroupsPath("old-1");
  writeFile(dir_ + "/legacy-bundle/config.json", runtime::ociConfigJson(config));
  const std::string legacy_root = root_ + "/runc";
  ASSERT_EQ(std::system((std::string(kRunc) + " --root " + legacy_root + " create --bundle " +
                         dir_ + "/legacy-bundle old-1 </dev/null >/dev/null 2>&1")
                            .c_str()),
            0);
  const int init =
      nlohmann::json::parse(slurp(legacy_root + "/old-1/state.json"))["init_process_pid"]
          .get<int>();
  ASSERT_EQ(::kill(init, 0), 0);

  ASSERT_TRUE(driver_->cleanupOrphans().isOk());
  EXPECT_FALSE(fs::exists(legacy_root));
  // Gone, or a zombie until whoever adopted it reaps it.
  auto ended = [&] {
    const std::string stat = slurp("/proc/" + std::to_string(init) + "/stat");
    return stat.empty() || stat.find(") Z ") != std::string::npos;
  };
  for (int i = 0; i < 200 && !ended(); ++i) std::this_thread::sleep_for(milliseconds(10));
  EXPECT_TRUE(ended()) << "the old container's init still runs";
  expectNoTrace("old-1");
  auto log_path = driver_->logPath("old-1");
  ASSERT_TRUE(log_path.ok()) << log_path.status().toString();
  EXPECT_NE(slurp(*log_path).find("before the upgrade"), std::string::npos);
}

TEST_F(RuncDriverTest, CleanupOrphansAfterAReboot) {
  ASSERT_TRUE(driver_->start(spec("lost-1", {"sh", "-c", "echo before the reboot"})).ok());
  waitExited(*driver_, "lost-1");
  // A reboot empties tmpfs: the state directory goes, with runc's state; the mount goes too.
  ASSERT_TRUE(runtime::unmountRootfs(driver_->instanceDir("lost-1")).isOk());
  fs::remove_all(driver_->stateDir("lost-1"));
  auto list = driver_->list();
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
  ASSERT_TRUE(driver_->cleanupOrphans().isOk());
  expectNoTrace("lost-1");
  // Its logs are kept, as a removal keeps them.
  auto log_path = driver_->logPath("lost-1");
  ASSERT_TRUE(log_path.ok()) << log_path.status().toString();
  EXPECT_NE(slurp(*log_path).find("before the reboot"), std::string::npos);
  // The id can be used again.
  ASSERT_TRUE(driver_->start(spec("lost-1", {"true"})).ok());
  waitExited(*driver_, "lost-1");
  ASSERT_TRUE(driver_->remove("lost-1").isOk());
  expectNoTrace("lost-1");
}

}  // namespace
}  // namespace skiff::testing
