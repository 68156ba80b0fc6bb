#include "secrets/keyring.h"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>

#include "auth/random.h"
#include "common/files.h"

namespace skiff {
namespace {

constexpr std::string_view kPrefix = "$skiff-aes256gcm$";
constexpr size_t kKeyBytes = 32;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;
// Bound into every tag: a sealed value from elsewhere (another format, another purpose) fails.
constexpr std::string_view kAad = "skiff.dev/v1 Secret";

using Cipher = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

Cipher newCipher() { return Cipher(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free); }

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

std::string newKeyId() { return "k-" + hexEncode(secureRandomBytes(4)); }

Status damaged(const std::string& path, const std::string& what) {
  return internalError("the key file " + path + " is damaged: " + what);
}

}  // namespace

Result<std::unique_ptr<Keyring>> Keyring::load(const std::string& path) {
  std::unique_ptr<Keyring> ring(new Keyring(path));
  auto text = readWholeFile(path);
  if (!text.ok()) {
    if (text.status().code() != StatusCode::kNotFound) return text.status();
    std::unique_lock lock(ring->mu_);
    ring->primary_ = newKeyId();
    ring->keys_[ring->primary_] = secureRandomBytes(kKeyBytes);
    if (Status s = ring->save(); !s.isOk()) return s;
    return ring;
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%03o", st.st_mode & 0777);
    return Status(StatusCode::kInvalid, "the key file " + path +
                                            " may be read by other users (mode " + mode +
                                            "): make it readable by its owner only (chmod 600)");
  }
  auto doc = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("primary") || !doc["primary"].is_string() ||
      !doc.contains("keys") || !doc["keys"].is_object())
    return damaged(path, "expected {\"primary\": \"<id>\", \"keys\": {\"<id>\": \"<key>\"}}");
  std::unique_lock lock(ring->mu_);
  for (auto it = doc["keys"].begin(); it != doc["keys"].end(); ++it) {
    auto key = it->is_string() ? base64UrlDecode(it->get<std::string>()) : std::nullopt;
    if (!key || key->size() != kKeyBytes)
      return damaged(path, "key \"" + it.key() + "\" is not 32 bytes in base64url");
    ring->keys_[it.key()] = std::move(*key);
  }
  ring->primary_ = doc["primary"].get<std::string>();
  if (!ring->keys_.count(ring->primary_))
    return damaged(path, "the primary key \"" + ring->primary_ + "\" is not among the keys");
  return ring;
}

Status Keyring::save() const {
  nlohmann::json keys = nlohmann::json::object();
  for (const auto& [id, key] : keys_) keys[id] = base64UrlEncode(key);
  nlohmann::json doc = {{"primary", primary_}, {"keys", keys}};
  return writeFileAtomically(path_, doc.dump(2) + "\n", 0600);
}

// Clusters carry credentials (a token or a client key) like Secrets do.
bool Keyring::seals(std::string_view kind) const { return kind == "Secret" || kind == "Cluster"; }

bool Keyring::isSealed(std::string_view text) const { return text.starts_with(kPrefix); }

Result<std::string> Keyring::seal(std::string_view plaintext) const {
  std::string id, key;
  {
    std::shared_lock lock(mu_);
    id = primary_;
    key = keys_.find(primary_)->second;
  }
  // A random 96-bit nonce per seal: far below GCM's 2^32 messages per key before collisions
  // matter, and rotation resets the count.
  std::string out = secureRandomBytes(kNonceBytes);
  out.resize(kNonceBytes + plaintext.size() + kTagBytes);
  Cipher ctx = newCipher();
  int len = 0, final_len = 0;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, bytes(key), bytes(out)) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes(kAad), static_cast<int>(kAad.size())) !=
          1 ||
      EVP_EncryptUpdate(ctx.get(), bytes(out) + kNonceBytes, &len, bytes(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), bytes(out) + kNonceBytes + len, &final_len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes),
                          bytes(out) + kNonceBytes + plaintext.size()) != 1)
    return internalError("AES-256-GCM encryption failed");
  return std::string(kPrefix) + id + "$" + base64UrlEncode(out);
}

Result<std::string> Keyring::open(std::string_view sealed) const {
  if (!isSealed(sealed)) return internalError("the value is not sealed");
  sealed.remove_prefix(kPrefix.size());
  const size_t dollar = sealed.find('$');
  if (dollar == std::string_view::npos) return internalError("the sealed value lacks a key id");
  const std::string_view id = sealed.substr(0, dollar);
  std::string key;
  {
    std::shared_lock lock(mu_);
    auto it = keys_.find(id);
    if (it == keys_.end())
      return internalError("the sealed value needs key \"" + std::string(id) +
                           "\", which is not in the key file (was it retired or replaced?)");
    key = it->second;
  }
  auto raw = base64UrlDecode(sealed.substr(dollar + 1));
  if (!raw || raw->size() < kNonceBytes + kTagBytes)
    return internalError("the sealed value is truncated");
  const size_t n = raw->size() - kNonceBytes - kTagBytes;
  std::string plain(n, '\0');
  std::string tag = raw->substr(kNonceBytes + n);
  Cipher ctx = newCipher();
  int len = 0, final_len = 0;
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, bytes(key), bytes(*raw)) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes(kAad), static_cast<int>(kAad.size())) !=
          1 ||
      EVP_DecryptUpdate(ctx.get(), bytes(plain), &len, bytes(*raw) + kNonceBytes,
                        static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes),
                          tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), bytes(plain) + len, &final_len) != 1)
    return internalError(
        "the sealed value failed authentication: it was altered or sealed "
        "under another key");
  return plain;
}

std::string Keyring::primaryId() const {
  std::shared_lock lock(mu_);
  return primary_;
}

size_t Keyring::keyCount() const {
  std::shared_lock lock(mu_);
  return keys_.size();
}

Result<Keyring::Rotation> Keyring::rotate(const std::function<Result<size_t>()>& reseal) {
  std::lock_guard rotation(rotation_mu_);
  Rotation out;
  {
    std::unique_lock lock(mu_);
    const std::string previous = primary_;
    out.key_id = newKeyId();
    while (keys_.count(out.key_id)) out.key_id = newKeyId();
    keys_[out.key_id] = secureRandomBytes(kKeyBytes);
    primary_ = out.key_id;
    if (Status s = save(); !s.isOk()) {
      keys_.erase(out.key_id);
      primary_ = previous;
      return s;
    }
  }
  auto resealed = reseal();
  if (!resealed.ok()) return resealed.status();
  out.resealed = *resealed;
  std::unique_lock lock(mu_);
  auto kept = keys_;
  for (const auto& entry : keys_)
    if (entry.first != primary_) out.retired.push_back(entry.first);
  std::erase_if(keys_, [&](const auto& entry) { return entry.first != primary_; });
  if (Status s = save(); !s.isOk()) {
    keys_ = std::move(kept);
    return s;
  }
  return out;
}

}  // namespace skiff
