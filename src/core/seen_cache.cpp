#include "core/seen_cache.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace p2p::core {

namespace {

constexpr std::size_t initial_ring = 256;
constexpr std::size_t initial_slots = 2 * initial_ring;

/// The next size of a table of `count` entries of `entry_bytes` each. Every growth takes
/// fresh memory: on the benchmark VM each new 4 KiB page costs 6-11 us to fault in, far
/// more than the copy or rehash that fills it, so the pages a table takes on its way to
/// its final size are most of what a young cache costs (bench/seen_cache_young: 10^4
/// inserts into a new cache took ~195 ns each when it doubled, ~9 ns once its tables had
/// their size). Quadrupling takes 4/3 of the final size in all, where doubling takes twice
/// it. From BulkBuffer::huge_page_bytes on a table lives on huge pages, whose memory costs
/// ~25 times less per byte (bench/ceilings/page_faults), so there it doubles, to stay close
/// to what it holds.
std::size_t next_count(std::size_t count, std::size_t entry_bytes) noexcept {
  return count * 4 * entry_bytes < BulkBuffer::huge_page_bytes ? count * 4 : count * 2;
}

/// The murmur3 finaliser: every input bit reaches every output bit.
std::uint64_t mix(std::uint64_t x) noexcept {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

}  // namespace

SeenCache::SeenCache(std::size_t capacity, std::uint64_t seed)
    : capacity_(std::clamp<std::size_t>(capacity, 1, max_capacity)),
      seed_(mix(seed ^ 0x9E3779B97F4A7C15ull)),
      index_(initial_slots),
      mask_(initial_slots - 1) {
  ring_capacity_ = std::min(initial_ring, capacity_);
  ring_mem_ = BulkBuffer(ring_capacity_ * sizeof(Key), false);
}

SeenCache::~SeenCache() = default;

SeenCache::Key SeenCache::key_of(const wire::Digest256& id, std::uint64_t time) noexcept {
  Key k{};
  std::memcpy(&k.a, id.data(), 8);
  std::memcpy(&k.b, id.data() + 8, 8);
  k.time = time;
  return k;
}

std::uint32_t SeenCache::hash(const Key& k) const noexcept {
  return static_cast<std::uint32_t>(mix(k.a ^ seed_ ^ mix(k.b)));
}

void SeenCache::prefetch(const wire::Digest256& id) const noexcept {
  // key_of() with any time: hash() does not read it.
  __builtin_prefetch(&index_[home(hash(key_of(id, 1)))]);
  if (size_ >= capacity_) __builtin_prefetch(&index_[home(hash(ring()[head_]))]);
}

std::size_t SeenCache::find(const Key& k, std::uint32_t h) const noexcept {
  std::size_t i = home(h);
  // A slot whose hash differs cannot hold k: the ring (another cache line) is read only on
  // a 32-bit match.
  while (index_[i].pos1 != 0 && !(index_[i].hash == h && ring()[index_[i].pos1 - 1] == k))
    i = (i + 1) & mask_;
  return i;
}

bool SeenCache::insert(const wire::Digest256& id, std::uint64_t time) {
  const Key k = key_of(id, time);
  const std::uint32_t h = hash(k);
  std::size_t i = find(k, h);
  if (index_[i].pos1 != 0) return false;
  bool shifted = false;
  while (size_ >= capacity_) {
    erase_oldest();
    ++evicted_;
    shifted = true;  // erasing pulls later slots back
  }
  if (size_ == ring_capacity_) grow_ring();  // below capacity here, so the ring can grow
  if ((size_ + 1) * 2 > index_.size()) {
    grow_index();
    shifted = true;
  }
  if (shifted) i = find(k, h);
  const std::size_t pos = ring_at(size_);
  ring()[pos] = k;
  index_[i] = Slot{h, static_cast<std::uint32_t>(pos + 1)};
  ++size_;
  return true;
}

bool SeenCache::contains(const wire::Digest256& id, std::uint64_t time) const {
  const Key k = key_of(id, time);
  return index_[find(k, hash(k))].pos1 != 0;
}

void SeenCache::erase_oldest() noexcept {
  const auto want = static_cast<std::uint32_t>(head_ + 1);
  std::size_t i = home(hash(ring()[head_]));
  while (index_[i].pos1 != want) i = (i + 1) & mask_;  // every ring entry has its slot
  // Backward-shift deletion: pull later members of the probe run into the hole, so that
  // lookups never need tombstones and the table never degrades.
  for (std::size_t j = (i + 1) & mask_; index_[j].pos1 != 0; j = (j + 1) & mask_) {
    const std::size_t h = home(index_[j].hash);
    // index_[j] may move to i when its home is not in the cyclic range (i, j].
    const bool home_in_range = i <= j ? (i < h && h <= j) : (i < h || h <= j);
    if (!home_in_range) {
      index_[i] = index_[j];
      i = j;
    }
  }
  index_[i] = Slot{0, 0};
  head_ = head_ + 1 == ring_capacity_ ? 0 : head_ + 1;
  --size_;
}

void SeenCache::grow_index() {
  Slots old(next_count(index_.size(), sizeof(Slot)));
  std::swap(old, index_);
  mask_ = index_.size() - 1;
  // Slots carry their hash, so moving them reads neither the ring nor the hash function.
  for (std::size_t i = 0; i < old.size(); ++i) {
    if (old[i].pos1 == 0) continue;
    std::size_t j = home(old[i].hash);
    while (index_[j].pos1 != 0) j = (j + 1) & mask_;
    index_[j] = old[i];
  }
}

void SeenCache::grow_ring() {
  // Called when the ring is full: its entries run from head_ to the end, then from 0 to
  // head_. After the resize the first run moves to the new end, so the free space lies
  // between the two runs, where the next entry goes.
  const std::size_t old_capacity = ring_capacity_;
  const std::size_t new_capacity = std::min(next_count(old_capacity, sizeof(Key)), capacity_);
  // A new buffer and a copy, not realloc(): realloc would move a large ring with mremap(),
  // keeping it on 4 KiB pages.
  BulkBuffer grown(new_capacity * sizeof(Key), false);
  std::memcpy(grown.data(), ring(), old_capacity * sizeof(Key));
  ring_mem_ = std::move(grown);
  ring_capacity_ = new_capacity;
  if (head_ == 0) return;  // one run: nothing moves
  const std::size_t shift = new_capacity - old_capacity;
  std::memmove(ring() + head_ + shift, ring() + head_, (old_capacity - head_) * sizeof(Key));
  for (std::size_t i = 0; i < index_.size(); ++i)
    if (index_[i].pos1 > head_) index_[i].pos1 += static_cast<std::uint32_t>(shift);
  head_ += shift;
}

void SeenCache::expire(std::uint64_t now_utc) {
  // Entries leave in insertion order. An entry whose message carries a future time stays
  // until that time has aged out, and holds back the ones behind it: harmless, since the
  // capacity bound still holds.
  while (size_ > 0 && ring()[head_].time + window_seconds < now_utc) erase_oldest();
}

}  // namespace p2p::core
