#include "auth/password.h"

#include <argon2.h>

#include <cctype>
#include <charconv>
#include <cstring>

#include "auth/random.h"

namespace skiff {
namespace {

// Bounds on stored parameters: far above anything Skiff writes, far below what would hurt.
constexpr uint32_t kMaxMemoryKib = 1u << 20;  // 1 GiB
constexpr uint32_t kMaxIterations = 64;
constexpr uint32_t kMaxParallelism = 16;

Status invalidPhc(const std::string& why) {
  return Status(StatusCode::kInvalid, "the stored password hash is malformed: " + why,
                {{"passwordHash", why}});
}

bool isBase64NoPad(std::string_view s) {
  if (s.empty() || s.size() % 4 == 1) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/')) return false;
  return true;
}

// "name=<digits>" into *out.
bool readParam(std::string_view field, std::string_view name, uint32_t* out) {
  if (field.size() <= name.size() + 1 || field.substr(0, name.size()) != name ||
      field[name.size()] != '=')
    return false;
  field.remove_prefix(name.size() + 1);
  auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), *out);
  return ec == std::errc() && end == field.data() + field.size();
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

std::string joinedWithAnd(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i)
    out += (i == 0 ? "" : i + 1 == items.size() ? " and " : ", ") + items[i];
  return out;
}

}  // namespace

Argon2Params testArgon2Params() {
  Argon2Params p;
  p.memory_kib = 64;
  p.iterations = 1;
  return p;
}

Result<std::string> hashPassword(std::string_view password, const Argon2Params& params) {
  if (password.size() > kMaxPasswordBytes)
    return Status(
        StatusCode::kInvalid, "the password is too long",
        {{"password", "must be at most " + std::to_string(kMaxPasswordBytes) + " bytes"}});
  std::string salt = secureRandomBytes(params.salt_bytes);
  size_t encoded_len = argon2_encodedlen(params.iterations, params.memory_kib, params.parallelism,
                                         params.salt_bytes, params.hash_bytes, Argon2_id);
  std::string encoded(encoded_len, '\0');
  int rc = argon2id_hash_encoded(params.iterations, params.memory_kib, params.parallelism,
                                 password.data(), password.size(), salt.data(), salt.size(),
                                 params.hash_bytes, encoded.data(), encoded.size());
  if (rc != ARGON2_OK)
    return internalError(std::string("hashing the password failed: ") + argon2_error_message(rc));
  encoded.resize(std::strlen(encoded.c_str()));
  return encoded;
}

Result<Argon2Params> parsePhc(std::string_view phc) {
  // "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
  std::vector<std::string_view> parts = split(phc, '$');
  if (parts.size() != 6 || !parts[0].empty())
    return invalidPhc(
        "must look like \"$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>\"");
  if (parts[1] != "argon2id")
    return invalidPhc("the algorithm must be argon2id, got \"" + std::string(parts[1]) + "\"");
  uint32_t version = 0;
  if (!readParam(parts[2], "v", &version) || version != ARGON2_VERSION_13)
    return invalidPhc("the version must be v=19, got \"" + std::string(parts[2]) + "\"");
  std::vector<std::string_view> costs = split(parts[3], ',');
  Argon2Params p;
  if (costs.size() != 3 || !readParam(costs[0], "m", &p.memory_kib) ||
      !readParam(costs[1], "t", &p.iterations) || !readParam(costs[2], "p", &p.parallelism))
    return invalidPhc("the parameters must be \"m=<KiB>,t=<passes>,p=<lanes>\", got \"" +
                      std::string(parts[3]) + "\"");
  if (p.parallelism < 1 || p.parallelism > kMaxParallelism)
    return invalidPhc("p must be between 1 and " + std::to_string(kMaxParallelism));
  if (p.iterations < 1 || p.iterations > kMaxIterations)
    return invalidPhc("t must be between 1 and " + std::to_string(kMaxIterations));
  if (p.memory_kib < 8 * p.parallelism || p.memory_kib > kMaxMemoryKib)
    return invalidPhc("m must be between 8*p and " + std::to_string(kMaxMemoryKib) + " KiB");
  if (!isBase64NoPad(parts[4]) || !isBase64NoPad(parts[5]))
    return invalidPhc("the salt and hash must be unpadded base64");
  p.salt_bytes = static_cast<uint32_t>(parts[4].size() * 3 / 4);
  p.hash_bytes = static_cast<uint32_t>(parts[5].size() * 3 / 4);
  if (p.salt_bytes < 8) return invalidPhc("the salt must be at least 8 bytes");
  if (p.hash_bytes < 16) return invalidPhc("the hash must be at least 16 bytes");
  return p;
}

Result<bool> verifyPassword(std::string_view password, std::string_view phc) {
  if (auto params = parsePhc(phc); !params.ok()) return params.status();
  if (password.size() > kMaxPasswordBytes) return false;
  std::string encoded(phc);  // argon2 wants a NUL-terminated string
  // argon2_verify recomputes the hash and compares it in constant time.
  int rc = argon2id_verify(encoded.c_str(), password.data(), password.size());
  if (rc == ARGON2_OK) return true;
  if (rc == ARGON2_VERIFY_MISMATCH) return false;
  if (rc == ARGON2_MEMORY_ALLOCATION_ERROR)
    return internalError("verifying the password failed: out of memory");
  return invalidPhc(argon2_error_message(rc));
}

bool needsRehash(std::string_view phc, const Argon2Params& params) {
  auto parsed = parsePhc(phc);
  return !parsed.ok() || !(*parsed == params);
}

Status PasswordPolicy::check(std::string_view password) const {
  std::vector<std::string> problems;
  if (password.size() < min_length)
    problems.push_back("be at least " + std::to_string(min_length) + " characters (got " +
                       std::to_string(password.size()) + ")");
  if (password.size() > max_length)
    problems.push_back("be at most " + std::to_string(max_length) + " characters (got " +
                       std::to_string(password.size()) + ")");
  bool lower = false, upper = false, digit = false, symbol = false;
  for (char c : password) {
    auto u = static_cast<unsigned char>(c);
    if (std::islower(u))
      lower = true;
    else if (std::isupper(u))
      upper = true;
    else if (std::isdigit(u))
      digit = true;
    else
      symbol = true;
  }
  std::vector<std::string> missing;
  if (require_lowercase && !lower) missing.push_back("a lowercase letter");
  if (require_uppercase && !upper) missing.push_back("an uppercase letter");
  if (require_digit && !digit) missing.push_back("a digit");
  if (require_symbol && !symbol) missing.push_back("a symbol (not a letter or digit)");
  if (!missing.empty()) problems.push_back("contain " + joinedWithAnd(missing));
  if (problems.empty()) return Status::ok();
  std::string message = "must " + problems[0];
  for (size_t i = 1; i < problems.size(); ++i)
    message += (i + 1 == problems.size() ? " and " : ", ") + problems[i];
  return Status(StatusCode::kInvalid, "the password does not meet the password policy",
                {{"password", message}});
}

Status PasswordPolicy::checkNotReused(std::string_view password,
                                      const std::vector<std::string>& previous) const {
  for (size_t i = 0; i < previous.size() && i < history; ++i) {
    auto same = verifyPassword(password, previous[i]);
    if (!same.ok()) continue;  // a damaged old hash cannot match; it must not block a change
    if (*same)
      return Status(StatusCode::kInvalid, "the password does not meet the password policy",
                    {{"password", "must differ from the last " + std::to_string(history) +
                                      " passwords of this user"}});
  }
  return Status::ok();
}

bool PasswordPolicy::expired(std::chrono::system_clock::time_point changed_at,
                             std::chrono::system_clock::time_point now) const {
  return max_age.count() > 0 && now >= changed_at + max_age;
}

}  // namespace skiff
