// Balancer: picks the backend of a route for one request.
//
// Each worker thread owns one Balancer per route of the table it serves, so picking needs no
// lock and no shared atomic; the cost is that round robin and least request are exact per
// thread and only approximately so across threads. Not thread-safe.
//
// round_robin is nginx's smooth weighted round robin: with equal weights it is a strict
// rotation, and with weights w_i backend i gets w_i / sum(w) of the picks, interleaved rather
// than in bursts. least_request picks the backend with the fewest requests in flight relative
// to its weight, breaking ties by rotation so idle backends share the load. Sticky routes use
// pickFor() instead.
#pragma once

#include <cstdint>
#include <vector>

#include "gateway/route_table.h"

namespace skiff::gateway {

class Balancer {
 public:
  Balancer(BalancerKind kind, const std::vector<Backend>& backends);

  // The index of the backend to use, skipping those whose bit is set in `exclude` (backends
  // past the 64th cannot be excluded); -1 when every backend is excluded or there are none.
  int pick(uint64_t exclude = 0);
  // The backend for a sticky route: the same `client` key always gets the same backend while
  // the backends stay, and a backend's share is its weight's. Weighted rendezvous hashing, so
  // raising one backend's weight moves clients only onto it (a canary step keeps its clients).
  int pickFor(uint64_t client, uint64_t exclude = 0) const;
  // Least request bookkeeping: call around each request sent to backend `i`.
  void onRequestStart(int i) { ++active_[static_cast<size_t>(i)]; }
  void onRequestEnd(int i) { --active_[static_cast<size_t>(i)]; }
  uint32_t active(int i) const { return active_[static_cast<size_t>(i)]; }

 private:
  static bool excluded(uint64_t mask, size_t i) { return i < 64 && ((mask >> i) & 1) != 0; }

  BalancerKind kind_;
  std::vector<int64_t> weight_;
  std::vector<uint64_t> seed_;    // per backend, from its address: for pickFor
  std::vector<int64_t> current_;  // smooth weighted round robin state
  std::vector<uint32_t> active_;
  size_t next_ = 0;  // rotation for least_request ties
};

}  // namespace skiff::gateway
