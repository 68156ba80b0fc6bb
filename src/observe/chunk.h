// Chunk: up to 120 samples of one series, compressed as in Facebook's Gorilla paper (and
// Prometheus' XOR chunk): timestamps as deltas of deltas in variable-width buckets, values as
// the XOR with the previous value, of which only the meaningful bits are written. Regular
// scrapes of a slowly moving value take one to two bytes a sample.
//
// A chunk is open while it accepts samples (in strictly increasing time order) and sealed once
// full or when seal() gives back its spare capacity. The chunk owns its encoded bits; copies are
// independent. Not thread-safe: its owner (TimeSeriesStore) serialises access.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace skiff::observe {

struct Sample {
  int64_t t_ms = 0;
  double v = 0;
  bool operator==(const Sample&) const = default;
};

class Chunk {
 public:
  static constexpr uint16_t kMaxSamples = 120;

  Chunk() = default;

  // Rebuilds a chunk from encoded() and count(), as a snapshot keeps them; an error when the bits
  // do not hold `count` samples in increasing time order. The result accepts further appends.
  static Result<Chunk> fromEncoded(std::string_view encoded, uint16_t count);

  // False, and nothing changes, when the chunk is full or `t_ms` is not after the last sample.
  bool append(int64_t t_ms, double v);
  // Gives back the encoded buffer's spare capacity; appends still work but reallocate.
  void seal();

  uint16_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  bool full() const { return count_ >= kMaxSamples; }
  int64_t minTime() const { return first_t_; }  // meaningless when empty()
  int64_t maxTime() const { return last_t_; }   // meaningless when empty()

  // Memory the chunk holds: the object itself and its buffer's capacity.
  size_t bytes() const { return sizeof(Chunk) + data_.capacity(); }
  std::string_view encoded() const {
    return {reinterpret_cast<const char*>(data_.data()), data_.size()};
  }

  // Appends the samples with from_ms <= t_ms <= to_ms to `out`, in time order.
  void decode(int64_t from_ms, int64_t to_ms, std::vector<Sample>& out) const;
  std::vector<Sample> samples() const;

  // Walks the samples in time order: `while (it.next()) use(it.at());`.
  class Iterator {
   public:
    explicit Iterator(const Chunk& chunk) : Iterator(chunk.encoded(), chunk.count_) {}
    Iterator(std::string_view encoded, uint16_t count);
    bool next();
    Sample at() const { return {static_cast<int64_t>(t_), v_}; }
    // True when the bits ran out or were inconsistent before `count` samples were read.
    bool corrupt() const { return corrupt_; }

   private:
    friend class Chunk;
    bool readBit();
    uint64_t readBits(unsigned n);

    std::string_view data_;
    size_t bit_pos_ = 0;
    uint16_t remaining_;
    uint16_t read_ = 0;
    bool corrupt_ = false;
    uint64_t t_ = 0;  // unsigned: deltas of arbitrary timestamps wrap instead of overflowing
    uint64_t delta_ = 0;
    uint64_t v_bits_ = 0;
    double v_ = 0;
    uint8_t leading_ = 0xff;  // 0xff: no XOR window yet
    uint8_t trailing_ = 0;
  };

 private:
  void writeBit(bool bit);
  void writeBits(uint64_t value, unsigned n);

  std::vector<uint8_t> data_;
  uint32_t bit_len_ = 0;
  uint16_t count_ = 0;
  // State of the last append, which the next one encodes against.
  uint8_t leading_ = 0xff;  // 0xff: no XOR window yet
  uint8_t trailing_ = 0;
  int64_t first_t_ = 0;
  int64_t last_t_ = 0;
  uint64_t last_delta_ = 0;
  uint64_t last_v_bits_ = 0;
};

}  // namespace skiff::observe
