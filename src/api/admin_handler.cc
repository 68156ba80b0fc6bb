#include "api/admin_handler.h"

#include "api/errors.h"

namespace skiff {

namespace {
constexpr const char* kRotateKeyPath = "/api/v1/admin/rotate-key";
}  // namespace

bool AdminHandler::handles(const HttpRequest& request) { return request.path == kRotateKeyPath; }

HttpResponse AdminHandler::handle(HttpRequest& request) {
  if (request.method != "POST") return methodNotAllowed(request, kRotateKeyPath, "POST");
  // Re-sealing rewrites every secret while writes wait: off the event loops.
  return deferred([this]() -> HttpResponse {
    auto rotated = rotate_key_();
    if (!rotated.ok()) return errorResponse(rotated.status());
    HttpResponse r;
    r.status = 200;
    r.body = rotated->dump();
    return r;
  });
}

}  // namespace skiff
