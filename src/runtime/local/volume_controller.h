// VolumeController: keeps each Volume object and its data on this machine in step. A Volume
// that exists gets its data ensured (created, mounted again after a reboot) and its status
// (capacity, use, whether the size is enforced); the data of a Volume that was deleted goes
// once no instance uses it any more (as Kubernetes' PVC protection waits for pods). Volumes
// found on disk at start are looked at too, so one deleted while the server was down goes.
#pragma once

#include "common/clock.h"
#include "controller/controller.h"
#include "runtime/local/volume_store.h"

namespace skiff::runtime {

class VolumeController final : public Controller {
 public:
  VolumeController(Store& store, VolumeStore& volumes, const Clock& clock);

  std::string name() const override { return "volumes"; }
  std::vector<WatchedKind> watches() const override;
  Result<ReconcileResult> reconcile(const ObjectKey& key) override;
  void bindQueue(std::function<void(const ObjectKey&)> enqueue) override;

 private:
  // Whether an instance that is not gone yet mounts the volume.
  bool inUse(const ObjectKey& key) const;

  Store& store_;
  VolumeStore& volumes_;
  const Clock& clock_;
};

}  // namespace skiff::runtime
