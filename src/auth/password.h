// Passwords: argon2id hashing to and from PHC strings (libargon2), and the password policy.
//
// A stored hash is a PHC string, "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>", which carries
// its own parameters, so raising the cost later does not invalidate existing hashes
// (needsRehash() tells when to upgrade one after a successful login). Verification compares in
// constant time. Pure functions and plain values; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace skiff {

// argon2id cost. The defaults are OWASP's minimum recommendation for argon2id (19 MiB, two
// passes, one lane): about 20-40 ms per hash on a current core.
struct Argon2Params {
  uint32_t memory_kib = 19456;
  uint32_t iterations = 2;
  uint32_t parallelism = 1;
  uint32_t salt_bytes = 16;
  uint32_t hash_bytes = 32;

  bool operator==(const Argon2Params&) const = default;
};

// Cheap parameters for tests only: hashing in well under a millisecond.
Argon2Params testArgon2Params();

// A fresh random salt, hashed with `params`. kInvalid if the password is longer than
// kMaxPasswordBytes (bounds the work an unauthenticated request can cause).
inline constexpr size_t kMaxPasswordBytes = 1024;
Result<std::string> hashPassword(std::string_view password, const Argon2Params& params);

// The parameters of a PHC string, checked for shape and sane bounds (so a tampered store cannot
// make verification allocate gigabytes). kInvalid naming what is wrong otherwise. Only argon2id,
// version 19, is accepted.
Result<Argon2Params> parsePhc(std::string_view phc);

// True if `password` matches `phc`; false if it does not; kInvalid if `phc` is malformed.
Result<bool> verifyPassword(std::string_view password, std::string_view phc);

// True if `phc` was made with parameters other than `params` (or cannot be parsed).
bool needsRehash(std::string_view phc, const Argon2Params& params);

// What a password must be. The defaults follow NIST SP 800-63B and OWASP: length matters most,
// three character classes are required, the last 5 passwords cannot be reused, and passwords do
// not expire by age unless an operator sets max_age.
struct PasswordPolicy {
  size_t min_length = 12;
  size_t max_length = 256;
  bool require_lowercase = true;
  bool require_uppercase = true;
  bool require_digit = true;
  bool require_symbol = false;  // anything that is not a letter or digit
  // A new password may not equal the current one or any of the previous `history - 1`.
  size_t history = 5;
  // Zero: passwords never expire.
  std::chrono::seconds max_age{0};

  // kInvalid with one FieldError on "password" that names everything missing, e.g.
  //   "must be at least 12 characters (got 8), contain an uppercase letter and a digit".
  Status check(std::string_view password) const;
  // kInvalid if `password` matches any of `previous` (PHC strings, newest first; only the
  // first `history` are considered).
  Status checkNotReused(std::string_view password, const std::vector<std::string>& previous) const;
  bool expired(std::chrono::system_clock::time_point changed_at,
               std::chrono::system_clock::time_point now) const;
};

}  // namespace skiff
