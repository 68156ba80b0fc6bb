// AtRestCipher: what the store keeps sealed on disk. Objects of sensitive kinds (Secret) are
// written to the database encrypted and decrypted when loaded; in memory, in watches and in
// API answers to callers allowed to read them they are plain. Implementations are
// thread-safe (secrets/keyring.h).
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace skiff {

class AtRestCipher {
 public:
  virtual ~AtRestCipher() = default;
  // Whether objects of `kind` are sealed.
  virtual bool seals(std::string_view kind) const = 0;
  // Encrypts under the current key; the result names the key so that open() still finds it
  // after a rotation made another key current.
  virtual Result<std::string> seal(std::string_view plaintext) const = 0;
  // Whether `text` is something seal() produced (rather than plain JSON).
  virtual bool isSealed(std::string_view text) const = 0;
  // Decrypts and authenticates; kInternal when the key is unknown or the text was altered.
  virtual Result<std::string> open(std::string_view sealed) const = 0;
};

}  // namespace skiff
