// The "waterfall" duplicate filter: remembers (message id, message time) pairs of broadcasts
// seen in the last 60 s. O(1) insert and lookup, expiry in insertion order, bounded size.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/bulk_buffer.hpp"
#include "p2p/wire/ids.hpp"

namespace p2p::core {

class SeenCache {
 public:
  /// Broadcasts older than this many seconds are dropped by age, so their entries can go.
  static constexpr std::uint64_t window_seconds = 60;
  /// The largest capacity honoured (a larger one is lowered to it): the index holds 32-bit
  /// ring positions. 2^31 entries would take ~80 GiB.
  static constexpr std::size_t max_capacity = std::size_t{1} << 31;

  /// `seed` keys the table's hash: ids are SHA-256 outputs, but a peer can grind ids whose
  /// low bits collide (2^20 hashes buy 20 equal bits) and turn every lookup into a long
  /// probe. A per-node secret it cannot see makes such a grind useless.
  explicit SeenCache(std::size_t capacity, std::uint64_t seed = 0);
  ~SeenCache();
  SeenCache(const SeenCache&) = delete;
  SeenCache& operator=(const SeenCache&) = delete;

  /// Records (id, time); false when it was already present. When the cache is full the
  /// oldest entry is evicted (and counted) to make room: memory stays bounded whatever the
  /// peers send.
  bool insert(const wire::Digest256& id, std::uint64_t time);
  bool contains(const wire::Digest256& id, std::uint64_t time) const;

  /// Starts loading the cache lines insert(id, ...) will touch first: its index slot (which
  /// depends on the id alone) and, when the cache is full, the slot of the entry it will
  /// evict. A large index misses the CPU caches on every lookup; issued as soon as the id is
  /// known (before the body is decoded), the loads overlap that work instead of stalling it.
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
  /// From the id's bits only, not the time, so that prefetch() can run before the time is
  /// decoded. Copies of one id with other times share a probe run; they are rare.
  std::uint32_t hash(const Key& k) const noexcept;

  /// An index entry: the low 32 bits of the key's hash, which give its home slot (the index
  /// never exceeds 2^32 slots) and spare most reads of the ring, and the key's ring position
  /// plus one (0 marks an empty slot).
  struct Slot {
    std::uint32_t hash;
    std::uint32_t pos1;
  };
  std::size_t home(std::uint32_t h) const noexcept { return h & mask_; }
  /// The slot holding `k`, or the empty slot where it would go.
  std::size_t find(const Key& k, std::uint32_t h) const noexcept;
  /// Removes the oldest entry: its index slot, then the ring's head.
  void erase_oldest() noexcept;
  void grow_index();
  void grow_ring();
  Key* ring() const noexcept { return static_cast<Key*>(ring_mem_.data()); }
  std::size_t ring_at(std::size_t i) const noexcept {
    const std::size_t p = head_ + i;
    return p < ring_capacity_ ? p : p - ring_capacity_;
  }

  /// The index: zeroed slots in a BulkBuffer (huge pages once it reaches 2 MiB, which also
  /// spares a lookup in an index of tens of MiB most of its TLB misses).
  class Slots {
   public:
    explicit Slots(std::size_t count) : mem_(count * sizeof(Slot), true), count_(count) {}
    Slot& operator[](std::size_t i) noexcept { return static_cast<Slot*>(mem_.data())[i]; }
    const Slot& operator[](std::size_t i) const noexcept {
      return static_cast<const Slot*>(mem_.data())[i];
    }
    std::size_t size() const noexcept { return count_; }

   private:
    BulkBuffer mem_;
    std::size_t count_;
  };

  /// A ring of keys in insertion order (so expiry and eviction take the oldest), indexed by
  /// an open-addressing table (linear probing, at most half full) of 8-byte slots. The keys
  /// are stored once, in the order they arrive, and only the small slots are scattered: per
  /// entry 24 bytes of ring and 16 of index, where a table of whole keys plus an order queue
  /// needed 72. Every new byte is a page the kernel must fault in and zero, which at a
  /// million broadcasts was most of a busy io thread's time. Both start small (an idle node
  /// pays ~12 KiB) and grow as needed, the ring up to the capacity: fourfold while small,
  /// twofold from 2 MiB (next_count() in seen_cache.cpp). Both live in BulkBuffers: from
  /// 2 MiB on, growing by a few huge pages instead of thousands of small ones.
  std::size_t capacity_;
  std::uint64_t seed_;
  BulkBuffer ring_mem_;
  std::size_t ring_capacity_ = 0;
  std::size_t head_ = 0;  ///< ring position of the oldest entry
  std::size_t size_ = 0;
  Slots index_;
  std::size_t mask_ = 0;
  std::uint64_t evicted_ = 0;
};

}  // namespace p2p::core
