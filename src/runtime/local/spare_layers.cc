#include "runtime/local/spare_layers.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "runtime/local/rootfs.h"

namespace skiff::runtime {

namespace fs = std::filesystem;
using std::chrono::steady_clock;

namespace {

Status release(const std::string& dir) {
  if (Status s = releaseRootfs(dir); !s.isOk()) return s;
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) return internalError("cannot delete " + dir + ": " + ec.message());
  return Status::ok();
}

// Which directories the layers are now (device and inode); empty when one is missing.
std::vector<std::pair<dev_t, ino_t>> identify(const std::vector<std::string>& layers) {
  std::vector<std::pair<dev_t, ino_t>> ids;
  for (const std::string& layer : layers) {
    struct stat st;
    if (::stat(layer.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return {};
    ids.emplace_back(st.st_dev, st.st_ino);
  }
  return ids;
}

}  // namespace

SpareLayers::SpareLayers(std::string dir, std::chrono::milliseconds keep)
    : dir_(std::move(dir)), keep_(keep) {}

SpareLayers::~SpareLayers() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (const auto& [layers, spare] : ready_)
    if (Status s = release(spare.dir); !s.isOk()) spdlog::warn("spare layers: {}", s.toString());
}

void SpareLayers::startLocked() {
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  cv_.notify_all();
}

bool SpareLayers::take(const std::vector<std::string>& layers, const std::string& target) {
  std::unique_lock lock(mu_);
  auto it = ready_.find(layers);
  if (it == ready_.end()) return false;
  const std::string dir = it->second.dir;
  const auto made_over = it->second.layers;
  ready_.erase(it);
  cv_.notify_all();
  lock.unlock();
  // An image deleted and pulled again since has its layers at the same paths, but the spare's
  // mount still holds the deleted ones.
  const auto now = identify(layers);
  if (!now.empty() && now == made_over && ::rename(dir.c_str(), target.c_str()) == 0) return true;
  if (Status s = release(dir); !s.isOk()) spdlog::warn("spare layers: {}", s.toString());
  return false;
}

void SpareLayers::want(const std::vector<std::string>& layers) {
  std::lock_guard lock(mu_);
  if (no_overlay_ || stopping_ || ready_.count(layers)) return;
  wanted_.push_back(layers);
  startLocked();
}

Status SpareLayers::releaseAll() {
  std::vector<std::string> dirs;
  {
    std::unique_lock lock(mu_);
    wanted_.clear();
    cv_.wait(lock, [&] { return making_.empty(); });
    for (const auto& [layers, spare] : ready_) dirs.push_back(spare.dir);
    ready_.clear();
    // What a crashed process left: whatever is in DIR now is no spare of ours.
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_, ec))
      if (std::find(dirs.begin(), dirs.end(), entry.path().string()) == dirs.end())
        dirs.push_back(entry.path().string());
  }
  Status first;
  for (const std::string& dir : dirs)
    if (Status s = release(dir); !s.isOk() && first.isOk()) first = s;
  return first;
}

void SpareLayers::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (!wanted_.empty()) {
      const std::vector<std::string> layers = std::move(wanted_.front());
      wanted_.pop_front();
      if (no_overlay_ || ready_.count(layers) || ready_.size() >= kMaxSpares) continue;
      std::error_code ec;
      fs::create_directories(dir_, ec);
      making_ = dir_ + "/" + std::to_string(::getpid()) + "-" + std::to_string(++made_);
      const std::string dir = making_;
      lock.unlock();
      const auto ids = identify(layers);
      auto kind = ids.empty() ? Result<RootfsKind>(notFound("an image layer is gone"))
                              : prepareRootfs(layers, dir);
      lock.lock();
      making_.clear();
      cv_.notify_all();
      if (kind.ok() && *kind == RootfsKind::kOverlay && !stopping_ && !ready_.count(layers)) {
        ready_[layers] = Spare{dir, steady_clock::now(), ids};
        continue;
      }
      if (kind.ok() && *kind == RootfsKind::kCopy) no_overlay_ = true;
      lock.unlock();
      if (!kind.ok()) {
        fs::remove_all(dir, ec);  // a failed prepareRootfs() leaves no mount
      } else if (Status s = release(dir); !s.isOk()) {
        spdlog::warn("spare layers: {}", s.toString());
      }
      lock.lock();
      continue;
    }
    // The oldest spare goes once kept long enough; until then, or until wanted, wait.
    auto oldest = ready_.end();
    for (auto it = ready_.begin(); it != ready_.end(); ++it)
      if (oldest == ready_.end() || it->second.made < oldest->second.made) oldest = it;
    if (oldest == ready_.end()) {
      cv_.wait(lock);
      continue;
    }
    const auto expires = oldest->second.made + keep_;
    if (steady_clock::now() < expires) {
      cv_.wait_until(lock, expires);
      continue;
    }
    const std::string dir = oldest->second.dir;
    ready_.erase(oldest);
    lock.unlock();
    if (Status s = release(dir); !s.isOk()) spdlog::warn("spare layers: {}", s.toString());
    lock.lock();
  }
}

}  // namespace skiff::runtime
