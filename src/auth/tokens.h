// Bearer secrets for sessions and API tokens: how they are made, what they look like and how
// they are stored.
//
// A token reads "skf_<id>_<secret>": `id` is 16 lowercase hex characters (the Token object's
// name, so lookup and revocation are by id) and `secret` is 32 random bytes in base64url. Only
// the SHA-256 digest of the whole token is stored (a TokenSecret, model/kinds.h); a random
// 256-bit secret needs no slow hash. The prefix lets secret scanners recognise leaked tokens.
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace skiff {

inline constexpr std::string_view kTokenPrefix = "skf_";
inline constexpr size_t kTokenIdLength = 16;

struct GeneratedToken {
  std::string id;     // "3f9c0a7e51d2b846"
  std::string token;  // "skf_3f9c0a7e51d2b846_<secret>": shown once, never stored
};

GeneratedToken generateToken();

// The id of a well-formed token; std::nullopt for anything else.
std::optional<std::string> tokenIdOf(std::string_view token);

// What is stored: hex SHA-256 of the whole token.
std::string tokenDigest(std::string_view token);

// Compares two digests in time independent of where they differ.
bool digestsEqual(std::string_view a, std::string_view b);

}  // namespace skiff
