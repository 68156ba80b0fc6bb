// Shared fixtures of the auth unit tests: a settable clock and a fresh SQLite store in a
// temporary directory, with helpers that write users and bindings the way the API would.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "manual_clock.h"
#include "model/validation.h"
#include "store/sqlite_store.h"

namespace skiff::testing {

using FakeClock = ManualClock;

class AuthStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("skiff-auth-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name() + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    SqliteStore::Options o;
    o.path = (dir_ / "skiff.db").string();
    auto s = SqliteStore::open(o);
    ASSERT_TRUE(s.ok()) << s.status().toString();
    sqlite_ = std::move(s).value();
    store_ = sqlite_.get();
  }
  void TearDown() override {
    store_ = nullptr;
    sqlite_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Admits and creates an object as the API would; fails the test on any error.
  void create(const std::string& kind, const std::string& tenant, const std::string& name,
              json spec) {
    json doc = {{"apiVersion", kApiVersion},
                {"kind", kind},
                {"metadata", {{"name", name}}},
                {"spec", std::move(spec)}};
    auto object = admitObject(doc, {kind, tenant});
    ASSERT_TRUE(object.ok()) << object.status().toString();
    auto stored = store_->create(std::move(object).value());
    ASSERT_TRUE(stored.ok()) << stored.status().toString();
  }
  void addUser(const std::string& name, std::vector<std::string> groups = {}) {
    create("User", "", name, {{"groups", groups}});
  }
  // Binds `role` to user `subject` in `tenant`, or at platform scope when tenant is empty.
  void bind(const std::string& role, const std::string& subject, const std::string& tenant,
            const std::string& subject_kind = "User") {
    json spec = {{"role", role}, {"subjects", {{{"kind", subject_kind}, {"name", subject}}}}};
    std::string name = role + "-" + subject + "-" + std::to_string(++bindings_);
    if (tenant.empty()) {
      create("PlatformRoleBinding", "", name, spec);
    } else {
      create("RoleBinding", tenant, name, spec);
    }
  }

  std::filesystem::path dir_;
  std::unique_ptr<SqliteStore> sqlite_;
  Store* store_ = nullptr;  // the same store, through the interface the code under test uses
  FakeClock clock_;
  int bindings_ = 0;
};

}  // namespace skiff::testing
