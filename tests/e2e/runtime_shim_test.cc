// The process driver and its per-instance shim, driven directly from the test process with
// the real `skiff shim` binary (SKIFF_BIN): start, logs, adoption by a second driver,
// stop, exit codes, start failures, OOM kills and survival of the starter's death.
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "e2e/harness.h"
#include "runtime/local/cgroups.h"
#include "runtime/local/process_driver.h"
#include "runtime/local/shim.h"

namespace skiff::test {
namespace {

using namespace std::chrono_literals;
using runtime::InstancePhase;
using runtime::InstanceSpec;
using runtime::InstanceState;
using runtime::ProcessDriver;

std::string readText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

runtime::ProcessDriverOptions optionsFor(const std::string& root) {
  return {.root_dir = root, .shim_binary = skiffBinary()};
}

InstanceSpec shellSpec(std::string id, std::string script) {
  InstanceSpec spec;
  spec.id = std::move(id);
  spec.argv = {"sh", "-c", std::move(script)};
  spec.env = {{"PATH", "/usr/bin:/bin"}};
  spec.working_dir = "/";
  return spec;
}

// Ends an instance the test started and removes it, whatever the test did: SIGKILL to the
// workload's group and the shim, by the pids its state recorded, then remove(). Cgroup
// directories the instance recorded are removed even if remove() fails.
class InstanceGuard {
 public:
  InstanceGuard(ProcessDriver& driver, std::string id) : driver_(driver), id_(std::move(id)) {}
  ~InstanceGuard() {
    std::string dir = driver_.instanceDir(id_);
    auto text = readWholeFile(dir + "/" + runtime::kStateFile);
    std::vector<std::string> cgroup_dirs;
    pid_t shim_pid = -1;
    if (text.ok()) {
      if (auto record = runtime::decodeRecord(*text); record.ok()) {
        cgroup_dirs = record->cgroup_dirs;
        shim_pid = record->state.shim_pid;
        if (record->state.phase == InstancePhase::kRunning && record->state.pid > 0)
          ::kill(-record->state.pid, SIGKILL);
      }
    }
    if (shim_pid <= 0) shim_pid = std::atoi(readText(dir + "/" + runtime::kShimPidFile).c_str());
    if (shim_pid > 0) {
      // The shim records the exit on its own; only a wedged one is killed.
      if (!eventually([&] { return processGone(shim_pid); }, 5s)) ::kill(shim_pid, SIGKILL);
      eventually([&] { return processGone(shim_pid); }, 5s);
    }
    if (std::filesystem::exists(dir) && !driver_.remove(id_).isOk()) {
      (void)runtime::removeCgroupDirs(cgroup_dirs);
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  }

 private:
  ProcessDriver& driver_;
  std::string id_;
};

InstanceState waitForExit(ProcessDriver& driver, const std::string& id) {
  InstanceState state;
  EXPECT_TRUE(eventually(
      [&] {
        auto s = driver.inspect(id);
        if (!s.ok()) return false;
        state = *s;
        return state.phase == InstancePhase::kExited;
      },
      20s))
      << "instance " << id << " did not exit";
  return state;
}

// Every file descriptor of `pid`, as readlink shows it ("socket:[123]", "/dev/null", ...).
std::vector<std::string> openFiles(pid_t pid) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec))
    out.push_back(std::filesystem::read_symlink(entry.path(), ec).string());
  return out;
}

TEST(RuntimeShimTest, RunsLogsIsAdoptedStopsAndRemoves) {
  TempDir tmp;
  ProcessDriver driver(optionsFor(tmp.path() + "/runtime"));
  EXPECT_EQ(driver.name(), "process");
  EXPECT_FALSE(driver.describe().empty());
  InstanceGuard guard(driver, "echo-1");

  // A listening socket without CLOEXEC stands for the server's: the shim must not keep it.
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  std::string listener_link =
      std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(listener)).string();

  auto started = driver.start(shellSpec("echo-1", "echo hi; sleep 30"));
  ::close(listener);
  ASSERT_TRUE(started.ok()) << started.status().toString();
  EXPECT_EQ(started->phase, InstancePhase::kRunning);
  EXPECT_GT(started->pid, 0);
  EXPECT_GT(started->shim_pid, 0);
  EXPECT_FALSE(processGone(started->pid));
  EXPECT_FALSE(processGone(started->shim_pid));
  for (pid_t pid : {started->shim_pid, started->pid})
    for (const std::string& file : openFiles(pid)) EXPECT_NE(file, listener_link) << "pid " << pid;

  auto log_path = driver.logPath("echo-1");
  ASSERT_TRUE(log_path.ok());
  EXPECT_EQ(*log_path, started->log_path);
  std::regex line(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z stdout hi\n)");
  EXPECT_TRUE(eventually([&] { return std::regex_match(readText(*log_path), line); }))
      << "log: " << readText(*log_path);

  // A restarted control plane: a new driver object on the same root adopts the instance.
  ProcessDriver restarted(optionsFor(tmp.path() + "/runtime"));
  auto ids = restarted.list();
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, std::vector<std::string>{"echo-1"});
  auto adopted = restarted.inspect("echo-1");
  ASSERT_TRUE(adopted.ok()) << adopted.status().toString();
  EXPECT_EQ(adopted->phase, InstancePhase::kRunning);
  EXPECT_EQ(adopted->pid, started->pid);
  EXPECT_EQ(adopted->shim_pid, started->shim_pid);
  EXPECT_EQ(adopted->started_at, started->started_at);

  EXPECT_EQ(restarted.remove("echo-1").code(), StatusCode::kConflict);
  auto record =
      runtime::decodeRecord(readText(driver.instanceDir("echo-1") + "/" + runtime::kStateFile));
  ASSERT_TRUE(record.ok());

  ASSERT_TRUE(restarted.stop("echo-1", 5s).isOk());
  auto stopped = driver.inspect("echo-1");
  ASSERT_TRUE(stopped.ok());
  EXPECT_EQ(stopped->phase, InstancePhase::kExited);
  EXPECT_EQ(stopped->signal, SIGTERM);
  EXPECT_EQ(stopped->exit_code, -1);
  EXPECT_EQ(stopped->reason, "Killed");
  EXPECT_GE(stopped->finished_at, stopped->started_at);
  EXPECT_TRUE(
      eventually([&] { return processGone(started->pid) && processGone(started->shim_pid); }));
  EXPECT_TRUE(driver.stop("echo-1", 1s).isOk()) << "stopping an exited instance is a no-op";

  ASSERT_TRUE(driver.remove("echo-1").isOk());
  EXPECT_TRUE(driver.list()->empty());
  EXPECT_FALSE(std::filesystem::exists(driver.instanceDir("echo-1")));
  for (const std::string& dir : record->cgroup_dirs)
    EXPECT_FALSE(std::filesystem::exists(dir)) << dir;
  EXPECT_EQ(driver.inspect("echo-1").status().code(), StatusCode::kNotFound);
  // The logs are retained after removal.
  auto retained = driver.logPath("echo-1");
  ASSERT_TRUE(retained.ok());
  EXPECT_TRUE(std::regex_match(readText(*retained), line)) << readText(*retained);
}

TEST(RuntimeShimTest, RecordsExitCodeAndStderr) {
  TempDir tmp;
  ProcessDriver driver(optionsFor(tmp.path() + "/runtime"));
  InstanceGuard guard(driver, "exit-3");
  auto started = driver.start(shellSpec("exit-3", "echo bye >&2; exit 3"));
  ASSERT_TRUE(started.ok()) << started.status().toString();
  InstanceState state = waitForExit(driver, "exit-3");
  EXPECT_EQ(state.exit_code, 3);
  EXPECT_EQ(state.signal, 0);
  EXPECT_EQ(state.reason, "Error");
  EXPECT_NE(readText(state.log_path).find("Z stderr bye\n"), std::string::npos);
  // The shim is reaped while the driver's launcher, its parent, lives on: no zombie is left.
  const std::string shim_proc = "/proc/" + std::to_string(started->shim_pid);
  EXPECT_TRUE(eventually([&] { return ::access(shim_proc.c_str(), F_OK) != 0; }))
      << readText(shim_proc + "/stat");

  // A restarted driver still sees the exit code.
  ProcessDriver restarted(optionsFor(tmp.path() + "/runtime"));
  auto adopted = restarted.inspect("exit-3");
  ASSERT_TRUE(adopted.ok());
  EXPECT_EQ(adopted->exit_code, 3);
  EXPECT_EQ(restarted.start(shellSpec("exit-3", "true")).status().code(),
            StatusCode::kAlreadyExists);
}

pid_t parentOf(pid_t pid) {
  std::istringstream status(readText("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("PPid:", 0) == 0) return static_cast<pid_t>(std::atoi(line.c_str() + 5));
  return -1;
}

// The launcher's children still waiting to become shims: they keep its command line.
std::vector<pid_t> sparesOf(pid_t launcher) {
  std::vector<pid_t> spares;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::atoi(name.c_str()));
    if (parentOf(pid) == launcher &&
        readText("/proc/" + name + "/cmdline").find("--launcher") != std::string::npos)
      spares.push_back(pid);
  }
  return spares;
}

TEST(RuntimeShimTest, ShimsComeFromASpareThatIsReplacedAndEndsWithTheLauncher) {
  TempDir tmp;
  pid_t launcher = -1, spare = -1;
  {
    ProcessDriver driver(optionsFor(tmp.path() + "/runtime"));
    InstanceGuard first_guard(driver, "first");
    auto first = driver.start(shellSpec("first", "sleep 30"));
    ASSERT_TRUE(first.ok()) << first.status().toString();
    launcher = parentOf(first->shim_pid);
    ASSERT_GT(launcher, 0);
    ASSERT_TRUE(eventually([&] { return sparesOf(launcher).size() == 1; }));

    // A spare that died before it was asked for: the next shim is forked on the spot.
    spare = sparesOf(launcher).front();
    ::kill(spare, SIGKILL);
    ASSERT_TRUE(eventually([&] { return processGone(spare); }));
    InstanceGuard second_guard(driver, "second");
    ASSERT_TRUE(driver.start(shellSpec("second", "echo fine")).ok());
    InstanceState second = waitForExit(driver, "second");
    EXPECT_EQ(second.reason, "Completed");
    EXPECT_NE(readText(second.log_path).find(" stdout fine\n"), std::string::npos);

    // And one is ready again for the start after.
    ASSERT_TRUE(eventually([&] { return sparesOf(launcher).size() == 1; }));
    spare = sparesOf(launcher).front();
    ASSERT_TRUE(driver.stop("first", 5s).isOk());
    // Stopped, it cannot leave on its own when the launcher goes.
    ASSERT_EQ(::kill(spare, SIGSTOP), 0);
  }
  // The driver waited for its launcher, and the launcher ended the spare nobody asked for.
  EXPECT_TRUE(processGone(launcher));
  EXPECT_TRUE(processGone(spare));
  if (!processGone(spare)) ::kill(spare, SIGKILL);  // the host stays clean when this fails
}

TEST(RuntimeShimTest, PassesEnvAndWorkingDirAndCompletes) {
  TempDir tmp;
  ProcessDriver driver(optionsFor(tmp.path() + "/runtime"));
  InstanceGuard guard(driver, "env-1");
  InstanceSpec spec = shellSpec("env-1", "echo \"$GREETING from $(pwd)\"; echo \"home=$HOME\"");
  spec.env["GREETING"] = "hello";
  spec.working_dir = tmp.path();
  ASSERT_TRUE(driver.start(spec).ok());
  InstanceState state = waitForExit(driver, "env-1");
  EXPECT_EQ(state.exit_code, 0);
  EXPECT_EQ(state.reason, "Completed");
  std::string log = readText(state.log_path);
  EXPECT_NE(log.find(" stdout hello from " + tmp.path() + "\n"), std::string::npos) << log;
  // Nothing of the test process's environment leaks into the instance.
  EXPECT_NE(log.find(" stdout home=\n"), std::string::npos) << log;
}

TEST(RuntimeShimTest, MissingCommandIsAClearErrorAndLeavesNothing) {
  TempDir tmp;
  ProcessDriver driver(optionsFor(tmp.path() + "/runtime"));
  InstanceSpec spec = shellSpec("missing", "");
  spec.argv = {"no-such-command-skiff"};
  auto started = driver.start(spec);
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.status().code(), StatusCode::kInvalid);
  EXPECT_NE(started.status().message().find("command \"no-such-command-skiff\" not found in PATH"),
            std::string::npos)
      << started.status().toString();
  EXPECT_TRUE(driver.list()->empty());
  EXPECT_FALSE(std::filesystem::exists(driver.instanceDir("missing")));

  InstanceSpec no_dir = shellSpec("no-dir", "true");
  no_dir.working_dir = tmp.path() + "/absent";
  auto failed = driver.start(no_dir);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("working directory"), std::string::npos);
  EXPECT_TRUE(driver.list()->empty());
}

TEST(RuntimeShimTest, ExecFailureSeenByTheShimLeavesNothing) {
  // Passes the up-front checks (an executable regular file) but execve refuses it.
  TempDir tmp;
  std::string bogus = tmp.path() + "/bogus";
  std::ofstream(bogus) << "\x7f"
                       << "ELF not really";
  std::filesystem::permissions(bogus, std::filesystem::perms::owner_all);
  ProcessDriver driver(optionsFor(tmp.path() + "/runtime"));
  InstanceGuard guard(driver, "bogus");
  InstanceSpec spec = shellSpec("bogus", "");
  spec.argv = {bogus};
  auto started = driver.start(spec);
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.status().message().find("cannot execute"), std::string::npos)
      << started.status().toString();
  EXPECT_TRUE(driver.list()->empty());
  EXPECT_FALSE(std::filesystem::exists(driver.instanceDir("bogus")));
  runtime::CgroupLayout layout = runtime::detectCgroupLayout();
  for (const auto* place : {&layout.cpu, &layout.memory, &layout.pids}) {
    if (!place->available()) continue;
    EXPECT_FALSE(std::filesystem::exists(place->dir + "/skiff/bogus"));
  }
}

TEST(RuntimeShimTest, MemoryHogIsOOMKilled) {
  runtime::CgroupLayout layout = runtime::detectCgroupLayout();
  if (!layout.memory.available())
    GTEST_SKIP() << "no writable memory cgroup here: " << layout.describe();
  TempDir tmp;
  ProcessDriver driver(optionsFor(tmp.path() + "/runtime"));
  InstanceGuard guard(driver, "hog");
  InstanceSpec spec = shellSpec("hog", "head -c 536870912 /dev/zero | tail > /dev/null");
  if (std::filesystem::exists("/usr/bin/python3"))
    spec.argv = {"/usr/bin/python3", "-c", "x = b'x' * (512 << 20)"};
  spec.limits.memory_bytes = 32 << 20;
  auto started = driver.start(spec);
  ASSERT_TRUE(started.ok()) << started.status().toString();
  auto record =
      runtime::decodeRecord(readText(driver.instanceDir("hog") + "/" + runtime::kStateFile));
  ASSERT_TRUE(record.ok());
  EXPECT_FALSE(record->cgroup_dirs.empty());
  InstanceState state = waitForExit(driver, "hog");
  EXPECT_EQ(state.reason, "OOMKilled");
  ASSERT_TRUE(driver.remove("hog").isOk());
  for (const std::string& dir : record->cgroup_dirs)
    EXPECT_FALSE(std::filesystem::exists(dir)) << dir;
}

TEST(RuntimeShimTest, ShimSurvivesTheDeathOfItsStarter) {
  TempDir tmp;
  std::string root = tmp.path() + "/runtime";
  ProcessDriver driver(optionsFor(root));
  InstanceGuard guard(driver, "orphan");

  pid_t starter = ::fork();
  ASSERT_GE(starter, 0);
  if (starter == 0) {
    // Stands for a server that starts an instance and is then killed with SIGKILL.
    ProcessDriver own(optionsFor(root));
    bool ok = own.start(shellSpec("orphan", "echo up; sleep 30")).ok();
    if (!ok) ::_exit(1);
    ::pause();
    ::_exit(0);
  }
  bool running = eventually([&] {
    auto s = driver.inspect("orphan");
    return s.ok() && s->phase == InstancePhase::kRunning;
  });
  ::kill(starter, SIGKILL);
  int status = 0;
  ::waitpid(starter, &status, 0);
  ASSERT_TRUE(running) << "the starter did not start the instance";
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

  std::this_thread::sleep_for(300ms);
  auto state = driver.inspect("orphan");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->phase, InstancePhase::kRunning) << state->reason;
  EXPECT_FALSE(processGone(state->shim_pid));
  EXPECT_FALSE(processGone(state->pid));
  ASSERT_TRUE(driver.stop("orphan", 5s).isOk());
  EXPECT_EQ(driver.inspect("orphan")->phase, InstancePhase::kExited);
}

TEST(RuntimeShimTest, StopEscalatesToSigkillAfterTheGrace) {
  TempDir tmp;
  ProcessDriver driver(optionsFor(tmp.path() + "/runtime"));
  InstanceGuard guard(driver, "stubborn");
  auto started = driver.start(shellSpec("stubborn", "trap '' TERM; echo ready; sleep 30 & wait"));
  ASSERT_TRUE(started.ok()) << started.status().toString();
  // The trap must be in place before we signal.
  ASSERT_TRUE(
      eventually([&] { return readText(started->log_path).find("ready") != std::string::npos; }));
  auto begin = std::chrono::steady_clock::now();
  ASSERT_TRUE(driver.stop("stubborn", 300ms).isOk());
  EXPECT_GE(std::chrono::steady_clock::now() - begin, 300ms);
  auto state = driver.inspect("stubborn");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->signal, SIGKILL);
  EXPECT_EQ(state->reason, "Killed");
  // The background sleep was in the same process group: nothing of the instance is left.
  EXPECT_TRUE(eventually([&] { return ::kill(-started->pid, 0) != 0; }, 5s));
}

TEST(RuntimeShimTest, ShimForwardsSigtermAndKillsAfterTheSpecsGrace) {
  TempDir tmp;
  ProcessDriver driver(optionsFor(tmp.path() + "/runtime"));
  InstanceGuard guard(driver, "shutdown");
  InstanceSpec spec = shellSpec("shutdown",
                                "trap 'echo got-term' TERM; echo ready; "
                                "while true; do sleep 0.05; done");
  spec.termination_grace = 300ms;
  auto started = driver.start(spec);
  ASSERT_TRUE(started.ok()) << started.status().toString();
  ASSERT_TRUE(
      eventually([&] { return readText(started->log_path).find("ready") != std::string::npos; }));
  // As on a machine shutdown: the shim itself receives SIGTERM.
  ASSERT_EQ(::kill(started->shim_pid, SIGTERM), 0);
  InstanceState state = waitForExit(driver, "shutdown");
  EXPECT_EQ(state.signal, SIGKILL);
  EXPECT_GE(state.finished_at - state.started_at, 300ms);
  EXPECT_NE(readText(state.log_path).find(" stdout got-term\n"), std::string::npos)
      << readText(state.log_path);
}

}  // namespace
}  // namespace skiff::test
