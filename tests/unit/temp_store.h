// TempStore: the embedded store in a fresh temporary directory, deleted with it: what the unit
// tests of controllers run against. Used through the Store interface, as its clients do.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "common/assert.h"
#include "store/sqlite_store.h"

namespace skiff::testing {

class TempStore {
 public:
  // `name` and the pid keep the directories of concurrent test processes apart.
  explicit TempStore(const std::string& name)
      : dir_(std::filesystem::temp_directory_path() /
             ("skiff-" + name + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    SqliteStore::Options options;
    options.path = (dir_ / "skiff.db").string();
    auto opened = SqliteStore::open(options);
    SKIFF_ASSERT(opened.ok(), "TempStore cannot open its store");
    store_ = std::move(opened).value();
  }
  ~TempStore() {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  TempStore(const TempStore&) = delete;
  TempStore& operator=(const TempStore&) = delete;

  Store& operator*() { return *store_; }
  Store* operator->() { return store_.get(); }
  // The directory, for a test's other files; deleted with the store.
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
};

}  // namespace skiff::testing
