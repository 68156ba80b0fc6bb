#include "cli/unified_diff.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace skiff::cli {

namespace {

// A last line without a newline ends in this byte, so that it differs from the same text with
// a newline (diff(1) reports that change too) and is marked when printed.
constexpr char kNoNewline = '\0';

std::vector<std::string> splitLines(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    if (eol == std::string_view::npos) {
      out.emplace_back(text);
      out.back() += kNoNewline;
      break;
    }
    out.emplace_back(text.substr(0, eol));
    text.remove_prefix(eol + 1);
  }
  return out;
}

enum class Op { kEqual, kDelete, kInsert };

struct Edit {
  Op op;
  size_t old_index;  // for kEqual and kDelete
  size_t new_index;  // for kEqual and kInsert
};

// Myers' O((N+M)D) algorithm: finds a shortest edit script by walking diagonals, keeping the
// furthest-reaching point of each diagonal per edit distance, then backtracks through them.
std::vector<Edit> shortestEditScript(const std::vector<std::string>& a,
                                     const std::vector<std::string>& b) {
  const int64_t n = static_cast<int64_t>(a.size());
  const int64_t m = static_cast<int64_t>(b.size());
  const int64_t max = n + m;
  const int64_t offset = max + 1;
  std::vector<int64_t> v(2 * max + 3, 0);
  std::vector<std::vector<int64_t>> trace;
  int64_t distance = -1;
  for (int64_t d = 0; d <= max && distance < 0; ++d) {
    trace.push_back(v);
    for (int64_t k = -d; k <= d; k += 2) {
      int64_t x = (k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1]))
                      ? v[offset + k + 1]
                      : v[offset + k - 1] + 1;
      int64_t y = x - k;
      while (x < n && y < m && a[x] == b[y]) ++x, ++y;
      v[offset + k] = x;
      if (x >= n && y >= m) {
        distance = d;
        break;
      }
    }
  }

  std::vector<Edit> edits;
  int64_t x = n;
  int64_t y = m;
  for (int64_t d = distance; d > 0; --d) {
    const std::vector<int64_t>& prev = trace[d];  // the state before step d was taken
    const int64_t k = x - y;
    const bool down = k == -d || (k != d && prev[offset + k - 1] < prev[offset + k + 1]);
    const int64_t prev_k = down ? k + 1 : k - 1;
    const int64_t prev_x = prev[offset + prev_k];
    const int64_t prev_y = prev_x - prev_k;
    while (x > prev_x && y > prev_y) {
      --x, --y;
      edits.push_back({Op::kEqual, static_cast<size_t>(x), static_cast<size_t>(y)});
    }
    if (down) {
      --y;
      edits.push_back({Op::kInsert, static_cast<size_t>(x), static_cast<size_t>(y)});
    } else {
      --x;
      edits.push_back({Op::kDelete, static_cast<size_t>(x), static_cast<size_t>(y)});
    }
  }
  while (x > 0 && y > 0) {
    --x, --y;
    edits.push_back({Op::kEqual, static_cast<size_t>(x), static_cast<size_t>(y)});
  }
  std::reverse(edits.begin(), edits.end());

  // Within each run of changes show every removed line before the added ones, as diff(1) does.
  for (size_t i = 0; i < edits.size();) {
    if (edits[i].op == Op::kEqual) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < edits.size() && edits[end].op != Op::kEqual) ++end;
    std::stable_partition(edits.begin() + static_cast<std::ptrdiff_t>(i),
                          edits.begin() + static_cast<std::ptrdiff_t>(end),
                          [](const Edit& e) { return e.op == Op::kDelete; });
    i = end;
  }
  return edits;
}

// "start,count" of one side of a hunk header; `first` is the 0-based index of its first line.
std::string hunkRange(size_t first, size_t count) {
  if (count == 1) return std::to_string(first + 1);
  return std::to_string(count == 0 ? first : first + 1) + "," + std::to_string(count);
}

}  // namespace

std::string unifiedDiff(std::string_view old_text, std::string_view new_text,
                        const UnifiedDiffOptions& options) {
  if (old_text == new_text) return "";
  const std::vector<std::string> a = splitLines(old_text);
  const std::vector<std::string> b = splitLines(new_text);
  const std::vector<Edit> edits = shortestEditScript(a, b);
  const size_t context = static_cast<size_t>(std::max(options.context, 0));

  auto emit = [](std::string& out, char prefix, const std::string& line) {
    out += prefix;
    if (!line.empty() && line.back() == kNoNewline) {
      out.append(line, 0, line.size() - 1);
      out += "\n\\ No newline at end of file\n";
    } else {
      out += line;
      out += '\n';
    }
  };

  std::string out = "--- " + options.old_label + "\n+++ " + options.new_label + "\n";
  size_t i = 0;
  while (i < edits.size()) {
    while (i < edits.size() && edits[i].op == Op::kEqual) ++i;
    if (i == edits.size()) break;
    // A hunk starts `context` lines before its first change and absorbs later changes whose
    // gap of unchanged lines is small enough that their context would overlap.
    size_t begin = i >= context ? i - context : 0;
    size_t end = i;
    while (true) {
      while (end < edits.size() && edits[end].op != Op::kEqual) ++end;
      size_t gap_end = end;
      while (gap_end < edits.size() && edits[gap_end].op == Op::kEqual) ++gap_end;
      if (gap_end < edits.size() && gap_end - end <= 2 * context) {
        end = gap_end;
        continue;
      }
      end = std::min(end + context, edits.size());
      break;
    }
    size_t old_first = edits[begin].old_index;
    size_t new_first = edits[begin].new_index;
    size_t old_count = 0;
    size_t new_count = 0;
    for (size_t j = begin; j < end; ++j) {
      if (edits[j].op != Op::kInsert) ++old_count;
      if (edits[j].op != Op::kDelete) ++new_count;
    }
    out +=
        "@@ -" + hunkRange(old_first, old_count) + " +" + hunkRange(new_first, new_count) + " @@\n";
    for (size_t j = begin; j < end; ++j) {
      switch (edits[j].op) {
        case Op::kEqual:
          emit(out, ' ', a[edits[j].old_index]);
          break;
        case Op::kDelete:
          emit(out, '-', a[edits[j].old_index]);
          break;
        case Op::kInsert:
          emit(out, '+', b[edits[j].new_index]);
          break;
      }
    }
    i = end;
  }
  return out;
}

}  // namespace skiff::cli
