// IPv4 addresses and prefixes as plain values, for carving tenant subnets and service ranges
// out of configured pools. Thread-safe (pure functions).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace skiff::runtime::network {

struct Ipv4Prefix {
  uint32_t address = 0;  // host byte order, host bits zero
  int length = 0;

  uint64_t size() const { return uint64_t{1} << (32 - length); }
  uint32_t mask() const { return length == 0 ? 0 : ~uint32_t{0} << (32 - length); }
  bool contains(uint32_t a) const { return (a & mask()) == address; }
  bool overlaps(const Ipv4Prefix& o) const {
    const uint32_t m = length < o.length ? mask() : o.mask();
    return (address & m) == (o.address & m);
  }
  // The index-th sub-prefix of `sub_length`; nullopt past the end.
  std::optional<Ipv4Prefix> subnet(int sub_length, uint64_t index) const;
  std::string toString() const;  // "10.213.0.0/24"
  bool operator==(const Ipv4Prefix&) const = default;
};

std::optional<uint32_t> parseIpv4(std::string_view text);
std::string formatIpv4(uint32_t address);
// "a.b.c.d/n" with no host bits set.
std::optional<Ipv4Prefix> parseIpv4Prefix(std::string_view text);

}  // namespace skiff::runtime::network
