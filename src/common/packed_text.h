// PackedText: an immutable text held compressed (zstd), for what a process keeps in memory for
// long and reads now and then, such as the store's snapshot of every object. JSON objects of a
// few kilobytes take a little under half their size alone, and far less packed against a
// dictionary: a text like them (zstd's raw-content dictionary), so that what they share with it
// (field names, defaults) costs a reference. Packing costs about as much as serializing the
// text, unpacking a tenth of parsing it or less.
//
// A value type; const methods are safe to call from many threads at once.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace skiff {

class PackedText {
 public:
  // What texts are packed against; shared by them, so it lives as long as the last one.
  using Dictionary = std::shared_ptr<const std::string>;

  PackedText() = default;
  explicit PackedText(std::string_view text, Dictionary dictionary = nullptr);

  std::string unpack() const;
  // Appends the text to `out` (one copy less than `out += unpack()`).
  void appendTo(std::string& out) const;

  size_t size() const { return size_; }  // of the text
  bool empty() const { return size_ == 0; }
  size_t packedSize() const { return bytes_.size(); }

 private:
  // A zstd frame, or the text itself when packing would not make it smaller.
  std::string bytes_;
  Dictionary dictionary_;  // what the frame was packed against; null: nothing
  size_t size_ = 0;
  bool raw_ = true;
};

}  // namespace skiff
