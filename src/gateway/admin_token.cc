#include "gateway/admin_token.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "common/files.h"

namespace skiff::gateway {

Result<std::string> ensureAdminToken(const std::string& state_dir) {
  if (std::string existing = readAdminToken(state_dir); !existing.empty()) return existing;
  std::ifstream random("/dev/urandom", std::ios::binary);
  unsigned char bytes[32];
  if (!random.read(reinterpret_cast<char*>(bytes), sizeof bytes))
    return internalError("cannot read /dev/urandom for the gateway's admin token");
  static const char* kHex = "0123456789abcdef";
  std::string token;
  for (unsigned char b : bytes) {
    token += kHex[b >> 4];
    token += kHex[b & 15];
  }
  const std::string path = state_dir + "/" + kAdminTokenFile;
  if (Status s = writeFileAtomically(path, token + "\n"); !s.isOk()) return s;
  if (::chmod(path.c_str(), 0600) != 0)
    return internalError("cannot restrict " + path + ": " + std::strerror(errno));
  return token;
}

std::string readAdminToken(const std::string& state_dir) {
  auto text = readWholeFile(state_dir + "/" + kAdminTokenFile);
  if (!text.ok()) return "";
  std::string token = std::move(text).value();
  while (!token.empty() && (token.back() == '\n' || token.back() == ' ')) token.pop_back();
  return token;
}

}  // namespace skiff::gateway
