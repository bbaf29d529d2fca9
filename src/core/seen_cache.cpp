#include "core/seen_cache.hpp"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace p2p::core {

namespace {

constexpr std::size_t initial_slots = 1024;
constexpr std::size_t map_threshold_bytes = std::size_t{1} << 20;

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
    : capacity_(capacity == 0 ? 1 : capacity),
      seed_(mix(seed ^ 0x9E3779B97F4A7C15ull)),
      slots_(initial_slots),
      mask_(initial_slots - 1) {}

SeenCache::Key SeenCache::key_of(const wire::Digest256& id, std::uint64_t time) noexcept {
  Key k{};
  std::memcpy(&k.a, id.data(), 8);
  std::memcpy(&k.b, id.data() + 8, 8);
  k.time = time;
  // The all-zero key marks an empty slot; a real id with 128 zero bits at time 0 (never
  // seen in practice, and rejected by age anyway) is folded onto a neighbour.
  if (empty(k)) k.b = 1;
  return k;
}

SeenCache::Slots::Slots(std::size_t count) : count_(count) {
  const std::size_t bytes = count * sizeof(Key);
  if (bytes >= map_threshold_bytes) {
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) {
#ifdef MADV_HUGEPAGE
      ::madvise(p, bytes, MADV_HUGEPAGE);  // a hint: without THP the table just uses 4 KiB pages
#endif
      data_ = static_cast<Key*>(p);
      mapped_ = true;
      return;
    }
  }
  data_ = static_cast<Key*>(std::calloc(count, sizeof(Key)));
  if (data_ == nullptr) throw std::bad_alloc();
}

SeenCache::Slots::~Slots() {
  release();
}

SeenCache::Slots::Slots(Slots&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      count_(std::exchange(other.count_, 0)),
      mapped_(std::exchange(other.mapped_, false)) {}

SeenCache::Slots& SeenCache::Slots::operator=(Slots&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    count_ = std::exchange(other.count_, 0);
    mapped_ = std::exchange(other.mapped_, false);
  }
  return *this;
}

void SeenCache::Slots::release() noexcept {
  if (data_ == nullptr) return;
  if (mapped_)
    ::munmap(data_, count_ * sizeof(Key));
  else
    std::free(data_);
  data_ = nullptr;
}

std::size_t SeenCache::home(const Key& k) const noexcept {
  return static_cast<std::size_t>(mix(k.a ^ seed_ ^ mix(k.b))) & mask_;
}

void SeenCache::prefetch(const wire::Digest256& id) const noexcept {
  // key_of() with any time: home() does not read it.
  __builtin_prefetch(&slots_[home(key_of(id, 1))]);
  if (size_ >= capacity_ && !order_.empty()) __builtin_prefetch(&slots_[home(order_.front())]);
}

std::size_t SeenCache::probe(const Key& k) const noexcept {
  std::size_t i = home(k);
  while (!empty(slots_[i]) && !(slots_[i] == k)) i = (i + 1) & mask_;
  return i;
}

bool SeenCache::insert(const wire::Digest256& id, std::uint64_t time) {
  const Key k = key_of(id, time);
  std::size_t i = probe(k);
  if (!empty(slots_[i])) return false;
  if (size_ >= capacity_) {
    while (size_ >= capacity_ && !order_.empty()) {
      erase(order_.front());
      order_.pop_front();
      ++evicted_;
    }
    i = probe(k);  // erasing shifted entries
  }
  if ((size_ + 1) * 2 > slots_.size()) {
    grow();
    i = probe(k);
  }
  slots_[i] = k;
  ++size_;
  order_.push_back(k);
  return true;
}

bool SeenCache::contains(const wire::Digest256& id, std::uint64_t time) const {
  return !empty(slots_[probe(key_of(id, time))]);
}

void SeenCache::erase(const Key& k) noexcept {
  std::size_t i = probe(k);
  if (empty(slots_[i])) return;
  // Backward-shift deletion: pull later members of the probe run into the hole, so that
  // lookups never need tombstones and the table never degrades.
  for (std::size_t j = (i + 1) & mask_; !empty(slots_[j]); j = (j + 1) & mask_) {
    const std::size_t h = home(slots_[j]);
    // slots_[j] may move to i when its home is not in the cyclic range (i, j].
    const bool home_in_range = i <= j ? (i < h && h <= j) : (i < h || h <= j);
    if (!home_in_range) {
      slots_[i] = slots_[j];
      i = j;
    }
  }
  slots_[i] = Key{0, 0, 0};
  --size_;
}

void SeenCache::grow() {
  Slots old(slots_.size() * 2);
  std::swap(old, slots_);
  mask_ = slots_.size() - 1;
  for (std::size_t i = 0; i < old.size(); ++i)
    if (!empty(old[i])) slots_[probe(old[i])] = old[i];
}

void SeenCache::expire(std::uint64_t now_utc) {
  // Entries leave in insertion order. An entry whose message carries a future time stays
  // until that time has aged out, and holds back the ones behind it: harmless, since the
  // capacity bound still holds.
  while (!order_.empty() && order_.front().time + window_seconds < now_utc) {
    erase(order_.front());
    order_.pop_front();
  }
}

}  // namespace p2p::core
