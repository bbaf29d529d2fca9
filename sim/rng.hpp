// A small seeded PRNG and hash helpers for the simulator.
//
// The simulator must give the same trace for the same seed on every platform, so it does not
// use std::uniform_*_distribution (their algorithms are implementation-defined).
#pragma once

#include <cstdint>
#include <cstring>

#include "p2p/bytes.hpp"

namespace p2p::sim {

/// The SplitMix64 finalizer: a cheap, well-mixing bijection of 64-bit words.
constexpr std::uint64_t mix64(std::uint64_t z) noexcept {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// Folds `word` into a running hash (order-sensitive).
constexpr std::uint64_t fold(std::uint64_t hash, std::uint64_t word) noexcept {
  return mix64(hash ^ (word + 0x9e3779b97f4a7c15ULL + (hash << 6) + (hash >> 2)));
}

/// Hash of a byte string, eight bytes at a time.
inline std::uint64_t hash_bytes(ByteView bytes) noexcept {
  std::uint64_t h = fold(0, bytes.size());
  std::size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, bytes.data() + i, 8);
    h = fold(h, w);
  }
  std::uint64_t tail = 0;
  if (i < bytes.size()) std::memcpy(&tail, bytes.data() + i, bytes.size() - i);
  return fold(h, tail);
}

/// SplitMix64 generator: tiny state, so every node and link can own one cheaply.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) noexcept : state_(seed) {}

  std::uint64_t next() noexcept {
    state_ += 0x9e3779b97f4a7c15ULL;
    return mix64(state_);
  }
  /// Uniform in [0, n) (0 when n == 0). The modulo bias is below 2^-40 for n < 2^24.
  std::uint64_t below(std::uint64_t n) noexcept { return n == 0 ? 0 : next() % n; }
  /// Uniform in [0, 1).
  double unit() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  bool chance(double p) noexcept { return p > 0 && unit() < p; }

 private:
  std::uint64_t state_;
};

}  // namespace p2p::sim
