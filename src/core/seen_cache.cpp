#include "core/seen_cache.hpp"

#include <cstring>

namespace p2p::core {

SeenCache::Key SeenCache::key_of(const wire::Digest256& id, std::uint64_t time) noexcept {
  Key k{};
  std::memcpy(&k.a, id.data(), 8);
  std::memcpy(&k.b, id.data() + 8, 8);
  k.time = time;
  return k;
}

bool SeenCache::insert(const wire::Digest256& id, std::uint64_t time) {
  const Key k = key_of(id, time);
  if (set_.contains(k)) return false;
  while (set_.size() >= capacity_ && !order_.empty()) {
    set_.erase(order_.front());
    order_.pop_front();
    ++evicted_;
  }
  set_.insert(k);
  order_.push_back(k);
  return true;
}

bool SeenCache::contains(const wire::Digest256& id, std::uint64_t time) const {
  return set_.contains(key_of(id, time));
}

void SeenCache::expire(std::uint64_t now_utc) {
  // Entries leave in insertion order. An entry whose message carries a future time stays
  // until that time has aged out, and holds back the ones behind it: harmless, since the
  // capacity bound still holds.
  while (!order_.empty() && order_.front().time + window_seconds < now_utc) {
    set_.erase(order_.front());
    order_.pop_front();
  }
}

}  // namespace p2p::core
