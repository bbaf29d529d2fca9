// SeenCache against a reference model: the open-addressing table must agree with std::set
// through inserts, evictions at capacity, expiry and growth.
#include <gtest/gtest.h>

#include <deque>
#include <random>
#include <set>
#include <tuple>
#include <vector>

#include "core/seen_cache.hpp"

namespace p2p::core {
namespace {

wire::Digest256 digest(std::mt19937_64& rng) {
  wire::Digest256 d{};
  for (auto& b : d) b = static_cast<std::uint8_t>(rng());
  return d;
}

// Capacity 5,000 keeps the ring and the index on the heap; 100,000 grows both past 2 MiB,
// onto huge-page mappings (BulkBuffer), the ring while it wraps.
class SeenCacheModel : public ::testing::TestWithParam<std::size_t> {};

TEST_P(SeenCacheModel, AgreesThroughEvictionExpiryAndGrowth) {
  const std::size_t capacity = GetParam();
  const int steps = static_cast<int>(capacity * 8);
  SeenCache cache(capacity, 42);
  std::set<std::tuple<wire::Digest256, std::uint64_t>> model;
  std::deque<std::tuple<wire::Digest256, std::uint64_t>> order;
  std::vector<std::tuple<wire::Digest256, std::uint64_t>> all;
  std::mt19937_64 rng(7);
  std::uint64_t now = 1000, evicted = 0;
  for (int step = 0; step < steps; ++step) {
    if (step % static_cast<int>(capacity / 5) == 0) {
      now += 7;
      cache.expire(now);
      while (!order.empty() && std::get<1>(order.front()) + SeenCache::window_seconds < now) {
        model.erase(order.front());
        order.pop_front();
      }
    }
    // Mostly new ids, sometimes a repeat of an old one (present or long gone), sometimes an
    // old id with another time (the same slot home, a different entry).
    std::tuple<wire::Digest256, std::uint64_t> key;
    const auto pick = rng() % 8;
    if (!all.empty() && pick < 2)
      key = all[rng() % all.size()];
    else if (!all.empty() && pick == 2)
      key = {std::get<0>(all[rng() % all.size()]), now - rng() % 3};
    else
      key = {digest(rng), now - rng() % 3};
    cache.prefetch(std::get<0>(key));  // a hint only: no effect on the answers
    const bool fresh = !model.contains(key);
    ASSERT_EQ(cache.insert(std::get<0>(key), std::get<1>(key)), fresh) << "step " << step;
    if (fresh) {
      if (model.size() >= capacity) {
        model.erase(order.front());
        order.pop_front();
        ++evicted;
      }
      model.insert(key);
      order.push_back(key);
      all.push_back(key);
    }
    ASSERT_EQ(cache.size(), model.size());
  }
  EXPECT_EQ(cache.evicted(), evicted);
  EXPECT_GT(evicted, 0u);
  for (const auto& k : all)
    ASSERT_EQ(cache.contains(std::get<0>(k), std::get<1>(k)), model.contains(k));
}

INSTANTIATE_TEST_SUITE_P(Capacities, SeenCacheModel, ::testing::Values(5000, 100000));

// The ring of keys grows while it wraps: expiry has moved its head before it fills, so the
// older run must move and the index follow it. Rounds of rising size, each expiring the
// last; capacity 1,000 also makes the last growth a non-power of two and then evicts.
TEST(SeenCache, GrowsItsRingWhileWrapped) {
  for (const std::size_t capacity : {std::size_t{1000}, std::size_t{100000}}) {
    SeenCache cache(capacity, 9);
    std::mt19937_64 rng(capacity);
    std::deque<std::tuple<wire::Digest256, std::uint64_t>> live;
    std::vector<std::tuple<wire::Digest256, std::uint64_t>> gone;
    std::uint64_t evicted = 0;
    for (std::uint64_t round = 0; round < 16; ++round) {
      const std::uint64_t time = 1000 + round * (SeenCache::window_seconds + 1);
      cache.expire(time);  // the previous round is now too old
      for (const auto& k : live) gone.push_back(k);
      live.clear();
      for (std::size_t n = 0; n < 150 * (round + 1); ++n) {
        const auto id = digest(rng);
        ASSERT_TRUE(cache.insert(id, time));
        ASSERT_FALSE(cache.insert(id, time));
        if (live.size() == capacity) {
          gone.push_back(live.front());
          live.pop_front();
          ++evicted;
        }
        live.emplace_back(id, time);
      }
      ASSERT_EQ(cache.size(), live.size()) << "round " << round;
      for (const auto& [id, t] : live) ASSERT_TRUE(cache.contains(id, t)) << "round " << round;
    }
    for (const auto& [id, t] : gone) ASSERT_FALSE(cache.contains(id, t));
    EXPECT_EQ(cache.evicted(), evicted);
    EXPECT_EQ(evicted > 0, capacity == 1000);
  }
}

TEST(SeenCache, ACapacityOfZeroStillHoldsOne) {
  SeenCache cache(0);
  std::mt19937_64 rng(1);
  const auto a = digest(rng), b = digest(rng);
  EXPECT_TRUE(cache.insert(a, 1));
  EXPECT_FALSE(cache.insert(a, 1));
  EXPECT_TRUE(cache.insert(b, 1));
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.evicted(), 1u);
  EXPECT_TRUE(cache.insert(a, 1));  // forgotten by eviction
}

}  // namespace
}  // namespace p2p::core
