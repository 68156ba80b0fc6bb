#include "observe/chunk.h"

#include <algorithm>
#include <bit>
#include <string>

namespace skiff::observe {
namespace {

// Delta-of-delta buckets: a prefix of 1s closed by a 0, then the value in this many bits
// (two's complement). The last bucket ("1111") holds any 64-bit value and has no closing 0.
constexpr unsigned kDodBits[] = {14, 17, 20};

bool fitsBits(int64_t x, unsigned n) {
  const int64_t half = int64_t{1} << (n - 1);
  return x >= -half && x < half;
}

uint64_t lowBits(uint64_t x, unsigned n) { return n >= 64 ? x : x & ((uint64_t{1} << n) - 1); }

int64_t signExtend(uint64_t x, unsigned n) {
  if (x & (uint64_t{1} << (n - 1))) x |= ~((uint64_t{1} << n) - 1);
  return static_cast<int64_t>(x);
}

}  // namespace

void Chunk::writeBit(bool bit) { writeBits(bit ? 1 : 0, 1); }

void Chunk::writeBits(uint64_t value, unsigned n) {
  while (n > 0) {
    const unsigned off = bit_len_ & 7;
    if (off == 0) {
      // Grow by a quarter (at least 16 bytes) rather than doubling: a sealed chunk gives the
      // spare back, and an open one should not hold twice what it needs.
      if (data_.size() == data_.capacity())
        data_.reserve(data_.capacity() + std::max<size_t>(16, data_.capacity() / 4));
      data_.push_back(0);
    }
    const unsigned take = std::min(8 - off, n);
    const uint64_t bits = lowBits(value >> (n - take), take);
    data_.back() |= static_cast<uint8_t>(bits << (8 - off - take));
    bit_len_ += take;
    n -= take;
  }
}

bool Chunk::append(int64_t t_ms, double v) {
  if (full() || (count_ > 0 && t_ms <= last_t_)) return false;
  const uint64_t v_bits = std::bit_cast<uint64_t>(v);
  if (count_ == 0) {
    writeBits(static_cast<uint64_t>(t_ms), 64);
    writeBits(v_bits, 64);
    first_t_ = last_t_ = t_ms;
    last_v_bits_ = v_bits;
    count_ = 1;
    return true;
  }

  const uint64_t delta = static_cast<uint64_t>(t_ms) - static_cast<uint64_t>(last_t_);
  const int64_t dod = static_cast<int64_t>(delta - last_delta_);
  if (dod == 0) {
    writeBit(false);
  } else {
    unsigned bucket = 0;
    while (bucket < std::size(kDodBits) && !fitsBits(dod, kDodBits[bucket])) ++bucket;
    // Prefix: bucket+1 ones, closed by a zero except for the last bucket.
    writeBits(~uint64_t{0}, bucket + 1);
    if (bucket < std::size(kDodBits)) {
      writeBit(false);
      writeBits(lowBits(static_cast<uint64_t>(dod), kDodBits[bucket]), kDodBits[bucket]);
    } else {
      writeBits(static_cast<uint64_t>(dod), 64);
    }
  }

  const uint64_t x = v_bits ^ last_v_bits_;
  if (x == 0) {
    writeBit(false);
  } else {
    writeBit(true);
    const uint8_t leading = static_cast<uint8_t>(std::min(std::countl_zero(x), 31));
    const uint8_t trailing = static_cast<uint8_t>(std::countr_zero(x));
    if (leading_ != 0xff && leading >= leading_ && trailing >= trailing_) {
      // Fits the previous window of meaningful bits.
      writeBit(false);
      writeBits(x >> trailing_, 64 - leading_ - trailing_);
    } else {
      leading_ = leading;
      trailing_ = trailing;
      const unsigned sig = 64 - leading - trailing;
      writeBit(true);
      writeBits(leading, 5);
      writeBits(sig & 63, 6);  // 64 meaningful bits are written as 0
      writeBits(x >> trailing, sig);
    }
  }

  last_delta_ = delta;
  last_t_ = t_ms;
  last_v_bits_ = v_bits;
  ++count_;
  return true;
}

void Chunk::seal() { data_.shrink_to_fit(); }

Result<Chunk> Chunk::fromEncoded(std::string_view encoded, uint16_t count) {
  if (count > kMaxSamples)
    return badRequest("a chunk of " + std::to_string(count) + " samples; at most " +
                      std::to_string(kMaxSamples) + " fit");
  Iterator it(encoded, count);
  Chunk chunk;
  while (it.next()) {
    if (chunk.count_ == 0) chunk.first_t_ = it.at().t_ms;
    ++chunk.count_;
  }
  if (it.corrupt() || chunk.count_ != count)
    return badRequest("chunk bits do not hold " + std::to_string(count) + " ordered samples");
  if ((it.bit_pos_ + 7) / 8 != encoded.size())
    return badRequest("chunk has " + std::to_string(encoded.size()) + " bytes but its " +
                      std::to_string(count) + " samples take " +
                      std::to_string((it.bit_pos_ + 7) / 8));
  chunk.data_.assign(encoded.begin(), encoded.end());
  chunk.bit_len_ = static_cast<uint32_t>(it.bit_pos_);
  chunk.leading_ = it.leading_;
  chunk.trailing_ = it.trailing_;
  chunk.last_t_ = static_cast<int64_t>(it.t_);
  chunk.last_delta_ = it.delta_;
  chunk.last_v_bits_ = it.v_bits_;
  return chunk;
}

void Chunk::decode(int64_t from_ms, int64_t to_ms, std::vector<Sample>& out) const {
  if (empty() || last_t_ < from_ms || first_t_ > to_ms) return;
  Iterator it(*this);
  while (it.next()) {
    const Sample s = it.at();
    if (s.t_ms > to_ms) break;
    if (s.t_ms >= from_ms) out.push_back(s);
  }
}

std::vector<Sample> Chunk::samples() const {
  std::vector<Sample> out;
  out.reserve(count_);
  decode(INT64_MIN, INT64_MAX, out);
  return out;
}

Chunk::Iterator::Iterator(std::string_view encoded, uint16_t count)
    : data_(encoded), remaining_(count) {}

bool Chunk::Iterator::readBit() { return readBits(1) != 0; }

uint64_t Chunk::Iterator::readBits(unsigned n) {
  uint64_t out = 0;
  while (n > 0) {
    if (bit_pos_ >= data_.size() * 8) {
      corrupt_ = true;
      return 0;
    }
    const unsigned off = bit_pos_ & 7;
    const unsigned take = std::min(8 - off, n);
    const uint8_t byte = static_cast<uint8_t>(data_[bit_pos_ >> 3]);
    out = (out << take) | lowBits(byte >> (8 - off - take), take);
    bit_pos_ += take;
    n -= take;
  }
  return out;
}

bool Chunk::Iterator::next() {
  if (remaining_ == 0 || corrupt_) return false;
  if (read_ == 0) {
    t_ = readBits(64);
    v_bits_ = readBits(64);
  } else {
    int64_t dod = 0;
    if (readBit()) {
      unsigned bucket = 0;
      while (bucket < std::size(kDodBits) && readBit()) ++bucket;
      dod = bucket < std::size(kDodBits) ? signExtend(readBits(kDodBits[bucket]), kDodBits[bucket])
                                         : static_cast<int64_t>(readBits(64));
    }
    delta_ += static_cast<uint64_t>(dod);
    const uint64_t t = t_ + delta_;
    if (static_cast<int64_t>(t) <= static_cast<int64_t>(t_)) corrupt_ = true;
    t_ = t;

    if (readBit()) {
      if (readBit()) {
        leading_ = static_cast<uint8_t>(readBits(5));
        unsigned sig = static_cast<unsigned>(readBits(6));
        if (sig == 0) sig = 64;
        if (leading_ + sig > 64) {
          corrupt_ = true;
          return false;
        }
        trailing_ = static_cast<uint8_t>(64 - leading_ - sig);
      } else if (leading_ == 0xff) {
        corrupt_ = true;  // reuses a window that was never set
        return false;
      }
      v_bits_ ^= readBits(64 - leading_ - trailing_) << trailing_;
    }
  }
  if (corrupt_) return false;
  v_ = std::bit_cast<double>(v_bits_);
  ++read_;
  --remaining_;
  return true;
}

}  // namespace skiff::observe
