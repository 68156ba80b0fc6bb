// RegistryHookHandler: the endpoint a registry's notifications are sent to, for auto-deploy.
//
//   POST /api/v1/hooks/registry   a CNCF Distribution notification envelope
//                                 ({"events": [{"action": "push", "target": {"repository",
//                                 "tag", ...}, "request": {"host"}}]}) -> {"following": N}
//
// Each push of a tag makes the applications that follow that repository look at its tags at
// once (controller/image_follow_controller.h). The payload is never trusted for what to
// deploy: the controller reads the tags from the registry itself. Any signed-in caller may
// notify (configure the registry's endpoint with an API token in an Authorization header).
// Thread-safe.
#pragma once

#include <functional>

#include "api/http.h"

namespace skiff {

class RegistryHookHandler {
 public:
  // Called per pushed repository ("acme/web"); returns how many applications follow it.
  using Pushed = std::function<int(const std::string& repository)>;

  explicit RegistryHookHandler(Pushed pushed) : pushed_(std::move(pushed)) {}

  static bool handles(const HttpRequest& request);
  HttpResponse handle(HttpRequest& request);

 private:
  const Pushed pushed_;
};

}  // namespace skiff
