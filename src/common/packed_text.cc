#include "common/packed_text.h"

#include <zstd.h>

#include <memory>

#include "common/assert.h"

namespace skiff {
namespace {

// Level 1: on texts of a few kilobytes higher levels gain a few percent for twice the time.
constexpr int kLevel = 1;

// A context per thread: creating one costs more than packing a small text with it.
struct Contexts {
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> compress{ZSTD_createCCtx(), ZSTD_freeCCtx};
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> decompress{ZSTD_createDCtx(), ZSTD_freeDCtx};
  std::string scratch;
};

Contexts& contexts() {
  thread_local Contexts c;
  SKIFF_ASSERT(c.compress && c.decompress, "zstd could not allocate its contexts");
  return c;
}

}  // namespace

PackedText::PackedText(std::string_view text, Dictionary dictionary) : size_(text.size()) {
  Contexts& c = contexts();
  c.scratch.resize(ZSTD_compressBound(text.size()));
  const size_t n = dictionary
                       ? ZSTD_compress_usingDict(c.compress.get(), c.scratch.data(),
                                                 c.scratch.size(), text.data(), text.size(),
                                                 dictionary->data(), dictionary->size(), kLevel)
                       : ZSTD_compressCCtx(c.compress.get(), c.scratch.data(), c.scratch.size(),
                                           text.data(), text.size(), kLevel);
  SKIFF_ASSERT(!ZSTD_isError(n), std::string("zstd failed to compress: ") + ZSTD_getErrorName(n));
  raw_ = n >= text.size();
  // Assigned, not moved: the scratch buffer keeps its capacity, the text gets exactly its size.
  if (raw_) {
    bytes_.assign(text);
  } else {
    bytes_.assign(c.scratch.data(), n);
    dictionary_ = std::move(dictionary);
  }
  // Every thread that writes keeps a scratch buffer: not one as large as the largest object.
  constexpr size_t kKeptScratch = 64 << 10;
  if (c.scratch.capacity() > kKeptScratch) std::string().swap(c.scratch);
}

std::string PackedText::unpack() const {
  std::string out;
  appendTo(out);
  return out;
}

void PackedText::appendTo(std::string& out) const {
  if (raw_) {
    out.append(bytes_);
    return;
  }
  const size_t at = out.size();
  out.resize(at + size_);
  ZSTD_DCtx* context = contexts().decompress.get();
  const size_t n =
      dictionary_
          ? ZSTD_decompress_usingDict(context, out.data() + at, size_, bytes_.data(), bytes_.size(),
                                      dictionary_->data(), dictionary_->size())
          : ZSTD_decompressDCtx(context, out.data() + at, size_, bytes_.data(), bytes_.size());
  SKIFF_ASSERT(!ZSTD_isError(n) && n == size_,
               "a packed text does not unpack to its size: memory is corrupt");
}

}  // namespace skiff
