#include "gateway/balancer.h"

namespace skiff::gateway {

Balancer::Balancer(BalancerKind kind, const std::vector<Backend>& backends)
    : kind_(kind), current_(backends.size(), 0), active_(backends.size(), 0) {
  weight_.reserve(backends.size());
  for (const Backend& b : backends) weight_.push_back(b.weight);
}

int Balancer::pick(uint64_t exclude) {
  const size_t n = weight_.size();
  if (n == 0) return -1;
  if (kind_ == BalancerKind::kRoundRobin) {
    int64_t total = 0;
    int best = -1;
    for (size_t i = 0; i < n; ++i) {
      if (excluded(exclude, i)) continue;
      current_[i] += weight_[i];
      total += weight_[i];
      if (best < 0 || current_[i] > current_[static_cast<size_t>(best)]) best = static_cast<int>(i);
    }
    if (best >= 0) current_[static_cast<size_t>(best)] -= total;
    return best;
  }
  // Least request: compare active_/weight_ by cross-multiplying, starting at a rotating index
  // so that among equally loaded backends each gets its turn.
  int best = -1;
  for (size_t k = 0; k < n; ++k) {
    size_t i = (next_ + k) % n;
    if (excluded(exclude, i)) continue;
    if (best < 0) {
      best = static_cast<int>(i);
      continue;
    }
    size_t b = static_cast<size_t>(best);
    if (static_cast<int64_t>(active_[i]) * weight_[b] <
        static_cast<int64_t>(active_[b]) * weight_[i])
      best = static_cast<int>(i);
  }
  next_ = (next_ + 1) % n;
  return best;
}

}  // namespace skiff::gateway
