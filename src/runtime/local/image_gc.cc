#include "runtime/local/image_gc.h"

#include <spdlog/spdlog.h>

#include <set>

namespace skiff::runtime {

namespace {
constexpr std::chrono::seconds kInterval(60);
}  // namespace

ImageGarbageCollector::ImageGarbageCollector(const Store& store, image::ImageStore& images,
                                             const Clock& clock, std::chrono::seconds unused_for)
    : store_(store), images_(images), clock_(clock), unused_for_(unused_for) {}

void ImageGarbageCollector::bindQueue(std::function<void(const ObjectKey&)> enqueue) {
  enqueue({"ImageStore", "", "local"});
}

Result<ReconcileResult> ImageGarbageCollector::reconcile(const ObjectKey&) {
  std::set<image::Digest> in_use;
  for (const auto& item : store_.list("Instance", {}).items) {
    const Object instance = item->object();
    const json image = instance.status.value("image", json::object());
    if (auto digest = image::Digest::parse(image.value("digest", "")); digest.ok())
      in_use.insert(*digest);
  }
  auto images = images_.list();
  if (!images.ok()) return images.status();
  const auto now = clock_.now();
  std::map<image::Digest, std::chrono::system_clock::time_point> still_unused;
  for (const auto& image : *images) {
    if (in_use.count(image.manifest_digest)) continue;
    auto since = unused_since_.try_emplace(image.manifest_digest, now).first->second;
    still_unused[image.manifest_digest] = since;
    if (now - since < unused_for_) continue;
    if (Status s = images_.remove(image.reference); !s.isOk()) return s;
    spdlog::info("images: removed {}, which no instance has run for {} s", image.reference,
                 unused_for_.count());
  }
  unused_since_ = std::move(still_unused);
  auto collected = images_.gc(in_use);
  if (!collected.ok()) return collected.status();
  if (collected->bytes_freed > 0)
    spdlog::info("images: freed {} bytes ({} blobs, {} unpacked layers)", collected->bytes_freed,
                 collected->blobs_removed, collected->layers_removed);
  return ReconcileResult{kInterval};
}

}  // namespace skiff::runtime
