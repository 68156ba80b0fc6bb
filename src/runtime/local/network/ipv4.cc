#include "runtime/local/network/ipv4.h"

#include <charconv>

namespace skiff::runtime::network {

std::optional<Ipv4Prefix> Ipv4Prefix::subnet(int sub_length, uint64_t index) const {
  if (sub_length < length || sub_length > 32) return std::nullopt;
  if (index >= (uint64_t{1} << (sub_length - length))) return std::nullopt;
  Ipv4Prefix p;
  p.length = sub_length;
  p.address = address + static_cast<uint32_t>(index << (32 - sub_length));
  return p;
}

std::string Ipv4Prefix::toString() const {
  return formatIpv4(address) + "/" + std::to_string(length);
}

std::optional<uint32_t> parseIpv4(std::string_view text) {
  uint32_t result = 0;
  for (int i = 0; i < 4; ++i) {
    if (i > 0) {
      if (text.empty() || text[0] != '.') return std::nullopt;
      text.remove_prefix(1);
    }
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    size_t used = static_cast<size_t>(ptr - text.data());
    if (ec != std::errc() || used == 0 || used > 3 || value > 255) return std::nullopt;
    if (used > 1 && text[0] == '0') return std::nullopt;  // no octal ambiguity
    result = (result << 8) | value;
    text.remove_prefix(used);
  }
  if (!text.empty()) return std::nullopt;
  return result;
}

std::string formatIpv4(uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." +
         std::to_string((a >> 8) & 255) + "." + std::to_string(a & 255);
}

std::optional<Ipv4Prefix> parseIpv4Prefix(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto address = parseIpv4(text.substr(0, slash));
  std::string_view len = text.substr(slash + 1);
  int length = -1;
  auto [ptr, ec] = std::from_chars(len.data(), len.data() + len.size(), length);
  if (!address || ec != std::errc() || ptr != len.data() + len.size() || length < 0 ||
      length > 32) {
    return std::nullopt;
  }
  Ipv4Prefix p{*address, length};
  if ((p.address & p.mask()) != p.address) return std::nullopt;
  return p;
}

}  // namespace skiff::runtime::network
