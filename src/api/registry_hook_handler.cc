#include "api/registry_hook_handler.h"

#include <set>

#include "api/errors.h"
#include "model/object.h"

namespace skiff {

namespace {
constexpr const char* kPath = "/api/v1/hooks/registry";
}  // namespace

bool RegistryHookHandler::handles(const HttpRequest& request) { return request.path == kPath; }

HttpResponse RegistryHookHandler::handle(HttpRequest& request) {
  if (request.method != "POST") return methodNotAllowed(request, kPath, "POST");
  const json envelope = json::parse(request.body, nullptr, false);
  if (!envelope.is_object() || !envelope.contains("events") || !envelope["events"].is_array())
    return errorResponse(Status(StatusCode::kInvalid,
                                "a registry notification is a JSON object with an events array",
                                {{"events", "is required: the registry's notification envelope"}}));
  std::set<std::string> repositories;
  for (const auto& event : envelope["events"]) {
    if (!event.is_object() || event.value("action", "") != "push") continue;
    const json target = event.value("target", json::object());
    // Pushes of blobs come first and name no tag; the manifest's push under a tag is the news.
    if (!target.is_object() || !target.contains("tag")) continue;
    const std::string repository = target.value("repository", "");
    if (!repository.empty()) repositories.insert(repository);
  }
  int following = 0;
  for (const auto& repository : repositories) following += pushed_(repository);
  HttpResponse r;
  r.status = 200;
  r.body = json{{"following", following}}.dump();
  return r;
}

}  // namespace skiff
