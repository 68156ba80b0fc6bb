// ImageGarbageCollector: keeps the server's image store (the images its containers were pulled
// for) from growing without bound. Every minute it takes the manifest digests that instances
// run (status.image.digest); an image no instance has run for `unused_for` loses its reference,
// and then the store deletes every blob and unpacked layer nothing references
// (ImageStore::gc with the digests in use, so a running image is never touched).
//
// A Controller with a single key it requeues itself; reconciles run one at a time.
#pragma once

#include <chrono>
#include <map>

#include "common/clock.h"
#include "controller/controller.h"
#include "image/image_store.h"

namespace skiff::runtime {

class ImageGarbageCollector final : public Controller {
 public:
  ImageGarbageCollector(const Store& store, image::ImageStore& images, const Clock& clock,
                        std::chrono::seconds unused_for = std::chrono::minutes(10));

  std::string name() const override { return "image-gc"; }
  std::vector<WatchedKind> watches() const override { return {}; }
  Result<ReconcileResult> reconcile(const ObjectKey& key) override;
  void bindQueue(std::function<void(const ObjectKey&)> enqueue) override;

 private:
  const Store& store_;
  image::ImageStore& images_;
  const Clock& clock_;
  const std::chrono::seconds unused_for_;
  // When each unused image was first seen unused (by manifest digest); reconcile-only.
  std::map<image::Digest, std::chrono::system_clock::time_point> unused_since_;
};

}  // namespace skiff::runtime
