// AuditLog: entries are chained, survive reopening, are filtered by user/tenant/time, and any
// edit, removal or reordering of an entry is found by verify().
#include "audit/audit_log.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace skiff {
namespace {

using std::chrono::system_clock;

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "skiff-audit-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static AuditEntry entry(const std::string& user, const std::string& tenant, int status,
                          int seconds = 0) {
    AuditEntry e;
    e.time = system_clock::time_point(std::chrono::seconds(1795324170 + seconds));
    e.user = user;
    e.tenant = tenant;
    e.verb = "create";
    e.resource = "applications";
    e.name = "shop";
    e.status = status;
    e.source = "127.0.0.1";
    return e;
  }
  std::vector<std::string> lines() const {
    std::ifstream in(dir_ + "/audit.log");
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
  void rewrite(const std::vector<std::string>& lines) const {
    std::ofstream out(dir_ + "/audit.log", std::ios::trunc);
    for (const auto& line : lines) out << line << "\n";
  }
  // Three entries by alice, bob, alice.
  void writeThree() {
    auto log = AuditLog::open(dir_);
    ASSERT_TRUE(log.ok()) << log.status().toString();
    ASSERT_TRUE((*log)->append(entry("alice", "acme", 201, 0), true).isOk());
    ASSERT_TRUE((*log)->append(entry("bob", "beta", 403, 10), false).isOk());
    ASSERT_TRUE((*log)->append(entry("alice", "beta", 200, 20), true).isOk());
  }
  AuditVerification verify() {
    auto log = AuditLog::open(dir_);
    EXPECT_TRUE(log.ok());
    auto v = (*log)->verify();
    EXPECT_TRUE(v.ok());
    return *v;
  }

  std::string dir_;
};

TEST_F(AuditLogTest, ChainsEntriesAcrossReopeningAndKeepsTheFilePrivate) {
  writeThree();
  {
    auto log = AuditLog::open(dir_);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->append(entry("carol", "acme", 204, 30), true).isOk());
  }
  AuditVerification v = verify();
  EXPECT_TRUE(v.intact) << v.problem;
  EXPECT_EQ(v.entries, 4);
  auto all = lines();
  ASSERT_EQ(all.size(), 4u);
  EXPECT_NE(all[3].find("\"seq\":4"), std::string::npos) << all[3];
  EXPECT_NE(all[0].find("\"time\":\"2026-11-22T05:09:30.000Z\""), std::string::npos) << all[0];
  struct stat st;
  ASSERT_EQ(::stat((dir_ + "/audit.log").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(AuditLogTest, QueriesByUserTenantAndTime) {
  writeThree();
  auto log = AuditLog::open(dir_);
  ASSERT_TRUE(log.ok());
  AuditQuery q;
  q.user = "alice";
  EXPECT_EQ((*log)->query(q)->size(), 2u);
  q.tenant = "beta";
  EXPECT_EQ((*log)->query(q)->size(), 1u);
  AuditQuery recent;
  recent.since = system_clock::time_point(std::chrono::seconds(1795324170 + 5));
  auto found = (*log)->query(recent);
  ASSERT_EQ(found->size(), 2u);
  EXPECT_NE((*found)[0].find("\"user\":\"bob\""), std::string::npos);
  recent.limit = 1;
  found = (*log)->query(recent);
  ASSERT_EQ(found->size(), 1u);
  EXPECT_NE((*found)[0].find("\"seq\":3"), std::string::npos);
}

TEST_F(AuditLogTest, AnEditedEntryIsFound) {
  writeThree();
  auto all = lines();
  const size_t at = all[1].find("\"status\":403");
  ASSERT_NE(at, std::string::npos);
  all[1].replace(at, 12, "\"status\":200");
  rewrite(all);
  AuditVerification v = verify();
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.broken_at_line, 2);
  EXPECT_NE(v.problem.find("modified"), std::string::npos) << v.problem;
}

TEST_F(AuditLogTest, ARemovedOrReorderedEntryIsFound) {
  writeThree();
  auto all = lines();
  rewrite({all[0], all[2]});
  AuditVerification v = verify();
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.broken_at_line, 2);
  rewrite({all[1], all[0], all[2]});
  EXPECT_EQ(verify().broken_at_line, 1);
  // Dropping the newest entry leaves a valid chain: only the head hash recorded before shows it.
  rewrite(all);
  const std::string head = verify().head_hash;
  rewrite({all[0], all[1]});
  AuditVerification shortened = verify();
  EXPECT_TRUE(shortened.intact);
  EXPECT_NE(shortened.head_hash, head);
}

TEST_F(AuditLogTest, ATornLastLineIsCutOffOnOpen) {
  writeThree();
  {
    std::ofstream out(dir_ + "/audit.log", std::ios::app);
    out << "{\"seq\":4,\"ti";
  }
  auto log = AuditLog::open(dir_);
  ASSERT_TRUE(log.ok()) << log.status().toString();
  ASSERT_TRUE((*log)->append(entry("dave", "acme", 201, 40), true).isOk());
  AuditVerification v = *(*log)->verify();
  EXPECT_TRUE(v.intact) << v.problem;
  EXPECT_EQ(v.entries, 4);
}

}  // namespace
}  // namespace skiff
