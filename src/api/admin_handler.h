// AdminHandler: operations on the platform itself, for platform admins.
//
//   POST /api/v1/admin/rotate-key   seals every Secret under a new key and retires the old
//                                   ones -> {"keyId", "resealed", "retiredKeys"}
//
// The Gatekeeper has already required `create encryptionkeys` at platform scope. Thread-safe.
#pragma once

#include <functional>

#include "api/http.h"
#include "common/status.h"
#include "model/object.h"

namespace skiff {

class AdminHandler {
 public:
  // Rotates the secrets key and describes the rotation (secrets/keyring.h).
  using RotateKey = std::function<Result<json>()>;

  explicit AdminHandler(RotateKey rotate_key) : rotate_key_(std::move(rotate_key)) {}

  static bool handles(const HttpRequest& request);
  HttpResponse handle(HttpRequest& request);

 private:
  const RotateKey rotate_key_;
};

}  // namespace skiff
