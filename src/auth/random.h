// Secrets from the operating system's CSPRNG (OpenSSL's RAND_bytes, seeded from getrandom), and
// the encodings Skiff uses for them. A failing CSPRNG is not an expected error: it aborts.
// Thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace skiff {

// `n` bytes from the CSPRNG.
std::string secureRandomBytes(size_t n);

// RFC 4648 base64url without padding ("-" and "_"), safe in URLs, headers and file names.
std::string base64UrlEncode(std::string_view bytes);
// The inverse; std::nullopt for a character outside the alphabet or an impossible length.
// Padding ("=") is accepted and ignored.
std::optional<std::string> base64UrlDecode(std::string_view text);
// Lowercase hex.
std::string hexEncode(std::string_view bytes);

// A random password of `length` (at least 4) characters from letters, digits and a few symbols,
// with at least one lowercase letter, uppercase letter, digit and symbol, so that it passes any
// PasswordPolicy with min_length <= length.
std::string randomPassword(size_t length);

}  // namespace skiff
