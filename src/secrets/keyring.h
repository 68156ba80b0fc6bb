// Keyring: the keys that seal Secrets at rest (AES-256-GCM), kept in a key file outside the
// database (mode 0600), so a copy of skiff.db alone reveals nothing. One key is primary and
// seals; older keys only open what they sealed until `rotate` has re-sealed it and retired
// them.
//
// The key file is JSON: {"primary": "<id>", "keys": {"<id>": "<base64url of 32 bytes>"}}.
// Sealed text is "$skiff-aes256gcm$<id>$<base64url(nonce[12] | ciphertext | tag[16])>".
// Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/at_rest.h"

namespace skiff {

class Keyring final : public AtRestCipher {
 public:
  // Opens the key file, creating it with a fresh key when it does not exist. Refuses a file
  // that others may read or that does not parse (naming what is wrong).
  static Result<std::unique_ptr<Keyring>> load(const std::string& path);

  bool seals(std::string_view kind) const override;
  Result<std::string> seal(std::string_view plaintext) const override;
  bool isSealed(std::string_view text) const override;
  Result<std::string> open(std::string_view sealed) const override;

  std::string primaryId() const;
  size_t keyCount() const;

  struct Rotation {
    std::string key_id;                // the new primary key
    size_t resealed = 0;               // rows `reseal` rewrote
    std::vector<std::string> retired;  // ids of the keys forgotten
  };
  // `skiff admin rotate-key`: makes a new random key primary (saved before anything is sealed
  // with it), has `reseal` rewrite everything sealed (SqliteStore::reseal), then forgets the
  // old keys. If `reseal` fails the old keys stay, so everything remains readable.
  // Rotations are serialized.
  Result<Rotation> rotate(const std::function<Result<size_t>()>& reseal);

 private:
  explicit Keyring(std::string path) : path_(std::move(path)) {}
  Status save() const;  // requires mu_ held

  std::mutex rotation_mu_;
  const std::string path_;
  mutable std::shared_mutex mu_;
  std::map<std::string, std::string, std::less<>> keys_;  // id -> 32 raw bytes; guarded by mu_
  std::string primary_;                                   // guarded by mu_
};

}  // namespace skiff
