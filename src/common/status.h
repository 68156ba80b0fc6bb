// Status and Result<T>: how expected failures travel in Skiff.
//
// A Status carries a code (which maps to an HTTP status and a machine-readable reason), a
// message for people and, for bad user input, the offending field paths. Result<T> holds
// either a value or a non-OK Status. Both are plain values, safe to copy across threads.
#pragma once

#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "common/assert.h"

namespace skiff {

enum class StatusCode {
  kOk,
  kBadRequest,  // the request cannot be decoded (malformed JSON/YAML, bad query)
  kInvalid,     // decoded, but the object breaks the model's rules
  kNotFound,
  kAlreadyExists,
  kConflict,  // stale resourceVersion or a state that forbids the operation
  kGone,      // a watch asked for history that was compacted
  kTooLarge,  // body over the limit
  kUnsupportedMediaType,
  kMethodNotAllowed,
  kUnauthenticated,  // no valid credentials
  kForbidden,        // authenticated, but not permitted
  kUnavailable,      // a dependency (server, disk) cannot be reached
  kInternal,
};

// One offending field: `path` is like "spec.components[1].ports[0].port".
struct FieldError {
  std::string path;
  std::string message;
  bool operator==(const FieldError&) const = default;
};

class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message, std::vector<FieldError> fields = {})
      : code_(code), message_(std::move(message)), fields_(std::move(fields)) {}

  static Status ok() { return Status(); }
  bool isOk() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::vector<FieldError>& fields() const { return fields_; }

  // "message" followed by one "path: message" per field, separated by "; ".
  std::string toString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::vector<FieldError> fields_;
};

// Machine-readable reason for a code, as the API reports it ("NotFound", "Invalid", ...).
const char* reasonOf(StatusCode code);
// HTTP status for a code.
int httpStatusOf(StatusCode code);
// Inverse of reasonOf(); kInternal for an unknown reason.
StatusCode codeOfReason(const std::string& reason);

inline Status badRequest(std::string message) {
  return Status(StatusCode::kBadRequest, std::move(message));
}
inline Status notFound(std::string message) {
  return Status(StatusCode::kNotFound, std::move(message));
}
inline Status alreadyExists(std::string message) {
  return Status(StatusCode::kAlreadyExists, std::move(message));
}
inline Status conflict(std::string message) {
  return Status(StatusCode::kConflict, std::move(message));
}
inline Status internalError(std::string message) {
  return Status(StatusCode::kInternal, std::move(message));
}
inline Status forbidden(std::string message) {
  return Status(StatusCode::kForbidden, std::move(message));
}
inline Status unavailable(std::string message) {
  return Status(StatusCode::kUnavailable, std::move(message));
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    SKIFF_ASSERT(!std::get<Status>(v_).isOk(), "Result built from an OK status has no value");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & {
    SKIFF_ASSERT(ok(), "value() of a failed Result: " + status().toString());
    return std::get<T>(v_);
  }
  const T& value() const& {
    SKIFF_ASSERT(ok(), "value() of a failed Result: " + status().toString());
    return std::get<T>(v_);
  }
  T&& value() && {
    SKIFF_ASSERT(ok(), "value() of a failed Result: " + status().toString());
    return std::get<T>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace skiff
