#include "runtime/local/trash.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace skiff::runtime {

namespace fs = std::filesystem;

namespace {
// Per process, not per Trash: two drivers on one root (an adoption) must not pick one name.
std::atomic<uint64_t> discarded{0};
}  // namespace

Trash::Trash(std::string dir) : dir_(std::move(dir)) {
  std::error_code ec;
  std::lock_guard lock(mu_);
  for (const auto& entry : fs::directory_iterator(dir_, ec))
    pending_.push_back(entry.path().string());
  if (!pending_.empty()) startLocked();
}

Trash::~Trash() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Trash::startLocked() {
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  cv_.notify_all();
}

Status Trash::discard(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::ok();
    return internalError("cannot delete " + path + ": " + std::strerror(errno));
  }
  if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST)
    return internalError("cannot create " + dir_ + ": " + std::strerror(errno));
  std::unique_lock lock(mu_);
  // The pid keeps names apart from what an earlier process left; a name taken anyway (an
  // earlier process with the same pid) is skipped. Two Trash objects on one directory may
  // both delete what was there when they started: one of them finishes, the other warns.
  for (int attempt = 0; attempt < 100; ++attempt) {
    const std::string target = dir_ + "/" + std::to_string(::getpid()) + "-" +
                               std::to_string(++discarded) + "-" +
                               fs::path(path).filename().string();
    struct stat taken;
    if (::lstat(target.c_str(), &taken) == 0) continue;
    if (::rename(path.c_str(), target.c_str()) == 0) {
      pending_.push_back(target);
      startLocked();
      return Status::ok();
    }
    if (errno != EXDEV)
      return internalError("cannot move " + path + " to " + target + ": " + std::strerror(errno));
    break;
  }
  lock.unlock();
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return internalError("cannot delete " + path + ": " + ec.message());
  return Status::ok();
}

void Trash::drain() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return (pending_.empty() && !deleting_) || stopping_; });
}

void Trash::run() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
    if (stopping_) return;
    const std::string path = pending_.front();
    pending_.pop_front();
    deleting_ = true;
    lock.unlock();
    std::error_code ec;
    fs::remove_all(path, ec);
    // Left in place: the next Trash on this directory tries again.
    if (ec) spdlog::warn("cannot delete {}: {}", path, ec.message());
    lock.lock();
    deleting_ = false;
    cv_.notify_all();
  }
}

}  // namespace skiff::runtime
