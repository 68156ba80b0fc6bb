#include "common/status.h"

#include <cstdio>
#include <cstdlib>

namespace skiff {

void assertFailed(const char* file, int line, const char* expr, const std::string& message) {
  std::fprintf(stderr, "skiff: assertion failed at %s:%d: %s: %s\n", file, line, expr,
               message.c_str());
  std::abort();
}

std::string Status::toString() const {
  std::string out = message_;
  for (const auto& f : fields_) {
    if (!out.empty()) out += "; ";
    out += f.path + ": " + f.message;
  }
  return out;
}

namespace {
struct CodeInfo {
  StatusCode code;
  const char* reason;
  int http;
};
constexpr CodeInfo kCodes[] = {
    {StatusCode::kOk, "OK", 200},
    {StatusCode::kBadRequest, "BadRequest", 400},
    {StatusCode::kInvalid, "Invalid", 422},
    {StatusCode::kNotFound, "NotFound", 404},
    {StatusCode::kAlreadyExists, "AlreadyExists", 409},
    {StatusCode::kConflict, "Conflict", 409},
    {StatusCode::kGone, "Gone", 410},
    {StatusCode::kTooLarge, "RequestEntityTooLarge", 413},
    {StatusCode::kUnsupportedMediaType, "UnsupportedMediaType", 415},
    {StatusCode::kMethodNotAllowed, "MethodNotAllowed", 405},
    {StatusCode::kUnauthenticated, "Unauthorized", 401},
    {StatusCode::kForbidden, "Forbidden", 403},
    {StatusCode::kUnavailable, "ServiceUnavailable", 503},
    {StatusCode::kInternal, "InternalError", 500},
};
}  // namespace

const char* reasonOf(StatusCode code) {
  for (const auto& c : kCodes)
    if (c.code == code) return c.reason;
  return "InternalError";
}

int httpStatusOf(StatusCode code) {
  for (const auto& c : kCodes)
    if (c.code == code) return c.http;
  return 500;
}

StatusCode codeOfReason(const std::string& reason) {
  for (const auto& c : kCodes)
    if (reason == c.reason) return c.code;
  return StatusCode::kInternal;
}

}  // namespace skiff
