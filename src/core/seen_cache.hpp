// The "waterfall" duplicate filter: remembers (message id, message time) pairs of broadcasts
// seen in the last 60 s. O(1) insert and lookup, expiry in insertion order, bounded size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_set>

#include "p2p/wire/ids.hpp"

namespace p2p::core {

class SeenCache {
 public:
  /// Broadcasts older than this many seconds are dropped by age, so their entries can go.
  static constexpr std::uint64_t window_seconds = 60;

  explicit SeenCache(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  /// Records (id, time); false when it was already present. When the cache is full the
  /// oldest entry is evicted (and counted) to make room: memory stays bounded whatever the
  /// peers send.
  bool insert(const wire::Digest256& id, std::uint64_t time);
  bool contains(const wire::Digest256& id, std::uint64_t time) const;

  /// Drops entries that can no longer match: a broadcast with time < now - 60 is rejected
  /// by age before the cache is consulted.
  void expire(std::uint64_t now_utc);

  std::size_t size() const noexcept { return set_.size(); }
  std::uint64_t evicted() const noexcept { return evicted_; }
  void reset_evicted() noexcept { evicted_ = 0; }

 private:
  // 128 bits of the SHA-256 id plus the time: a false match (which would silently drop a
  // real message) needs a 2^-128 collision, while an entry costs 24 bytes, not 40.
  struct Key {
    std::uint64_t a, b, time;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept {
      return k.a ^ (k.time * 0x9E3779B97F4A7C15ull);
    }
  };
  static Key key_of(const wire::Digest256& id, std::uint64_t time) noexcept;

  std::size_t capacity_;
  std::unordered_set<Key, KeyHash> set_;
  std::deque<Key> order_;  // insertion order, for expiry and eviction
  std::uint64_t evicted_ = 0;
};

}  // namespace p2p::core
