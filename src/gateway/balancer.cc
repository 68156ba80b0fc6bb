#include "gateway/balancer.h"

#include <cmath>
#include <functional>
#include <string>

namespace skiff::gateway {

namespace {

// SplitMix64's finaliser: spreads any 64-bit input evenly.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

Balancer::Balancer(BalancerKind kind, const std::vector<Backend>& backends)
    : kind_(kind), current_(backends.size(), 0), active_(backends.size(), 0) {
  weight_.reserve(backends.size());
  for (const Backend& b : backends) {
    weight_.push_back(b.weight);
    seed_.push_back(std::hash<std::string>{}(b.address));
  }
}

int Balancer::pickFor(uint64_t client, uint64_t exclude) const {
  int best = -1;
  double best_score = 0;
  for (size_t i = 0; i < weight_.size(); ++i) {
    if (excluded(exclude, i)) continue;
    // A uniform draw in (0, 1) per (client, backend); the smallest -ln(u) / weight wins.
    const double u = (static_cast<double>(mix(client ^ seed_[i]) >> 11) + 0.5) / 9007199254740992.0;
    const double score = -std::log(u) / static_cast<double>(weight_[i]);
    if (best < 0 || score < best_score) {
      best = static_cast<int>(i);
      best_score = score;
    }
  }
  return best;
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
