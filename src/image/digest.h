// Content digests of OCI blobs: "sha256:<64 lowercase hex>", the only algorithm Skiff accepts
// (the one every registry and the OCI image spec require). Digest is a plain value; Sha256 is a
// streaming hasher owned by one thread at a time.
#pragma once

#include <compare>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace skiff::image {

class Digest {
 public:
  Digest() = default;
  // kBadRequest naming `text` unless it is "sha256:" and 64 lowercase hex digits.
  static Result<Digest> parse(std::string_view text);
  // The digest of `bytes`.
  static Digest of(std::string_view bytes);

  bool empty() const { return hex_.empty(); }
  const std::string& hex() const { return hex_; }
  // "sha256:<hex>"
  std::string str() const { return "sha256:" + hex_; }
  // The first 12 hex digits, how people are shown a digest.
  std::string shortHex() const { return hex_.substr(0, 12); }

  auto operator<=>(const Digest&) const = default;

 private:
  explicit Digest(std::string hex) : hex_(std::move(hex)) {}
  std::string hex_;
  friend class Sha256;
};

// Streaming SHA-256 (OpenSSL EVP).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::string_view bytes);
  // The digest of everything given so far; the hasher cannot be used afterwards.
  Digest finish();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

}  // namespace skiff::image
