// The files the process driver and the shim share: spec.json and state.json round trips,
// atomic replacement, and the checks start() makes before creating anything.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "runtime/local/shim.h"

namespace skiff::runtime {
namespace {

using std::chrono::milliseconds;
using std::chrono::system_clock;

TEST(ShimFilesTest, SpecRoundTrips) {
  InstanceSpec spec;
  spec.id = "web-1";
  spec.argv = {"/bin/sh", "-c", "echo \"hi\"; sleep 1"};
  spec.env = {{"PATH", "/usr/bin:/bin"}, {"GREETING", "h\u00e9llo=world"}};
  spec.working_dir = "/tmp";
  spec.limits = {.cpu_millis = 250, .memory_bytes = 32 << 20, .pids = 64};
  spec.termination_grace = milliseconds(1500);
  spec.logs = {.max_bytes = 4096, .files = 5};
  auto decoded = decodeSpec(encodeSpec(spec));
  ASSERT_TRUE(decoded.ok()) << decoded.status().toString();
  EXPECT_EQ(*decoded, spec);
}

TEST(ShimFilesTest, RecordRoundTripsRunningAndExited) {
  ShimRecord record;
  record.state.id = "job-2";
  record.state.phase = InstancePhase::kRunning;
  record.state.shim_pid = 100;
  record.state.pid = 101;
  record.state.started_at = system_clock::time_point(milliseconds(1795324170123));
  record.state.reason = "Running";
  record.state.log_dir = "/d/instances/job-2/logs";
  record.state.log_path = "/d/instances/job-2/logs/current.log";
  record.cgroup_dirs = {"/sys/fs/cgroup/memory/skiff/job-2"};
  auto running = decodeRecord(encodeRecord(record));
  ASSERT_TRUE(running.ok()) << running.status().toString();
  EXPECT_EQ(*running, record);

  record.state.phase = InstancePhase::kExited;
  record.state.finished_at = record.state.started_at + milliseconds(2500);
  record.state.exit_code = -1;
  record.state.signal = 9;
  record.state.reason = "OOMKilled";
  auto exited = decodeRecord(encodeRecord(record));
  ASSERT_TRUE(exited.ok());
  EXPECT_EQ(*exited, record);
}

TEST(ShimFilesTest, MalformedFilesAreErrorsNotCrashes) {
  EXPECT_FALSE(decodeSpec("{").ok());
  EXPECT_FALSE(decodeSpec("[]").ok());
  EXPECT_FALSE(decodeSpec(R"({"id": "x"})").ok());
  EXPECT_FALSE(decodeSpec(R"({"id": "x", "argv": ["a"], "env": {"A": 1}})").ok());
  EXPECT_FALSE(decodeRecord(R"({"phase": "Sleeping"})").ok());
  EXPECT_FALSE(decodeRecord(R"({"phase": "Running", "pid": "one"})").ok());
  EXPECT_FALSE(decodeRecord(R"({"phase": "Exited", "startedAt": "yesterday"})").ok());
}

TEST(ShimFilesTest, WriteFileAtomicallyReplacesAndLeavesNoTemporary) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "skiff-shim-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  std::string path = tmpl + "/state.json";
  ASSERT_TRUE(writeFileAtomically(path, "first").isOk());
  ASSERT_TRUE(writeFileAtomically(path, "second").isOk());
  auto text = readWholeFile(path);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "second");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_EQ(readWholeFile(tmpl + "/missing").status().code(), StatusCode::kNotFound);
  std::filesystem::remove_all(tmpl);
}

InstanceSpec specFor(std::vector<std::string> argv) {
  InstanceSpec spec;
  spec.id = "t";
  spec.argv = std::move(argv);
  return spec;
}

TEST(ShimFilesTest, ResolvesCommandsThroughTheSpecsPath) {
  auto sh = resolveCommand(specFor({"sh", "-c", "true"}));
  ASSERT_TRUE(sh.ok()) << sh.status().toString();
  EXPECT_EQ(sh->front(), '/');

  InstanceSpec only_tmp = specFor({"sh"});
  only_tmp.env["PATH"] = "/nonexistent-dir";
  auto missing = resolveCommand(only_tmp);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalid);
  EXPECT_NE(missing.status().message().find("command \"sh\" not found in PATH"), std::string::npos);

  auto absolute = resolveCommand(specFor({"/bin/sh"}));
  ASSERT_TRUE(absolute.ok());
  EXPECT_EQ(*absolute, "/bin/sh");
  EXPECT_FALSE(resolveCommand(specFor({"/no/such/binary"})).ok());
  std::string tmpl = (std::filesystem::temp_directory_path() / "skiff-cmd-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  std::ofstream(tmpl + "/plain") << "not a program";
  ::chmod((tmpl + "/plain").c_str(), 0644);
  EXPECT_NE(resolveCommand(specFor({tmpl + "/plain"})).status().message().find("not executable"),
            std::string::npos);
  std::filesystem::remove_all(tmpl);
  EXPECT_FALSE(resolveCommand(specFor({})).ok());
}

TEST(ShimFilesTest, ValidateSpecChecksIdAndWorkingDir) {
  EXPECT_TRUE(validateSpec(specFor({"/bin/sh"})).isOk());
  InstanceSpec bad_id = specFor({"/bin/sh"});
  bad_id.id = "Web/1";
  EXPECT_EQ(validateSpec(bad_id).code(), StatusCode::kInvalid);
  InstanceSpec bad_dir = specFor({"/bin/sh"});
  bad_dir.working_dir = "/no/such/dir";
  Status s = validateSpec(bad_dir);
  EXPECT_EQ(s.code(), StatusCode::kInvalid);
  EXPECT_NE(s.message().find("working directory \"/no/such/dir\" does not exist"),
            std::string::npos);
}

}  // namespace
}  // namespace skiff::runtime
