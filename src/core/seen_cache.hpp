// The "waterfall" duplicate filter: remembers (message id, message time) pairs of broadcasts
// seen in the last 60 s. O(1) insert and lookup, expiry in insertion order, bounded size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

#include "p2p/wire/ids.hpp"

namespace p2p::core {

class SeenCache {
 public:
  /// Broadcasts older than this many seconds are dropped by age, so their entries can go.
  static constexpr std::uint64_t window_seconds = 60;

  /// `seed` keys the table's hash: ids are SHA-256 outputs, but a peer can grind ids whose
  /// low bits collide (2^20 hashes buy 20 equal bits) and turn every lookup into a long
  /// probe. A per-node secret it cannot see makes such a grind useless.
  explicit SeenCache(std::size_t capacity, std::uint64_t seed = 0);

  /// Records (id, time); false when it was already present. When the cache is full the
  /// oldest entry is evicted (and counted) to make room: memory stays bounded whatever the
  /// peers send.
  bool insert(const wire::Digest256& id, std::uint64_t time);
  bool contains(const wire::Digest256& id, std::uint64_t time) const;

  /// Starts loading the cache lines insert(id, ...) will touch: its slot (which depends on
  /// the id alone) and, when the cache is full, the slot of the entry it will evict. A
  /// large table misses the CPU caches on every lookup; issued as soon as the id is known
  /// (before the body is decoded), the loads overlap that work instead of stalling it.
  void prefetch(const wire::Digest256& id) const noexcept;

  /// Drops entries that can no longer match: a broadcast with time < now - 60 is rejected
  /// by age before the cache is consulted.
  void expire(std::uint64_t now_utc);

  std::size_t size() const noexcept { return size_; }
  std::uint64_t evicted() const noexcept { return evicted_; }
  void reset_evicted() noexcept { evicted_ = 0; }

 private:
  // 128 bits of the SHA-256 id plus the time: a false match (which would silently drop a
  // real message) needs a 2^-128 collision, while an entry costs 24 bytes, not 40.
  struct Key {
    std::uint64_t a, b, time;
    friend bool operator==(const Key&, const Key&) = default;
  };
  static Key key_of(const wire::Digest256& id, std::uint64_t time) noexcept;
  static bool empty(const Key& k) noexcept { return k.a == 0 && k.b == 0 && k.time == 0; }
  /// From the id's bits only, not the time, so that prefetch() can run before the time is
  /// decoded. Copies of one id with other times share a probe run; they are rare.
  std::size_t home(const Key& k) const noexcept;
  /// The slot holding `k`, or the empty slot where it would go.
  std::size_t probe(const Key& k) const noexcept;
  void erase(const Key& k) noexcept;
  void grow();

  /// Zeroed slots. Up to 1 MiB from the heap; beyond, an anonymous mapping (zero pages
  /// cost nothing until touched) with transparent huge pages requested, since a lookup in
  /// a table of tens of MiB otherwise misses the TLB as well as the caches.
  class Slots {
   public:
    explicit Slots(std::size_t count);
    ~Slots();
    Slots(Slots&& other) noexcept;
    Slots& operator=(Slots&& other) noexcept;
    Slots(const Slots&) = delete;
    Slots& operator=(const Slots&) = delete;
    Key& operator[](std::size_t i) noexcept { return data_[i]; }
    const Key& operator[](std::size_t i) const noexcept { return data_[i]; }
    std::size_t size() const noexcept { return count_; }

   private:
    void release() noexcept;
    Key* data_ = nullptr;
    std::size_t count_ = 0;
    bool mapped_ = false;
  };

  // An open-addressing table (linear probing, at most half full) rather than a node-based
  // set: a lookup is one or two cache lines instead of a pointer chase, and an insert
  // allocates nothing. It starts small (an idle node pays ~24 KiB) and doubles as needed,
  // up to twice the capacity's slots.
  std::size_t capacity_;
  std::uint64_t seed_;
  Slots slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
  std::deque<Key> order_;  // insertion order, for expiry and eviction
  std::uint64_t evicted_ = 0;
};

}  // namespace p2p::core
