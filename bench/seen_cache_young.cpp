// The seen cache of a young node: N inserts into a new SeenCache, whose tables grow as it
// fills, against N inserts into the same cache once its tables have reached their size
// (its entries expired, its memory kept). The difference is what the growth costs, mostly
// fresh pages, so run it once per process: a second young cache in the same process would
// find memory the first one freed. Prints one JSON line.
//
//   for i in $(seq 15); do build-release/bench/seen_cache_young --count 10000; done
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string_view>
#include <vector>

#include "core/seen_cache.hpp"

namespace {

using Clock = std::chrono::steady_clock;

std::vector<p2p::wire::Digest256> random_ids(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<p2p::wire::Digest256> ids(n);
  for (auto& id : ids)
    for (std::size_t i = 0; i < id.size(); i += 8) {
      const std::uint64_t word = rng();
      std::memcpy(id.data() + i, &word, 8);
    }
  return ids;
}

/// Nanoseconds per insert of `ids` at `time`; exits if one is refused as a duplicate.
double ns_per_insert(p2p::core::SeenCache& cache, const std::vector<p2p::wire::Digest256>& ids,
                     std::uint64_t time) {
  const auto start = Clock::now();
  for (const auto& id : ids)
    if (!cache.insert(id, time)) {
      std::fprintf(stderr, "seen_cache_young: a distinct id was refused\n");
      std::exit(1);
    }
  const std::chrono::duration<double, std::nano> took = Clock::now() - start;
  return took.count() / static_cast<double>(ids.size());
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t count = 10'000;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--count" && i + 1 < argc) {
      count = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: seen_cache_young [--count N]\n");
      return 2;
    }
  }
  if (count == 0) {
    std::fprintf(stderr, "seen_cache_young: --count must be positive\n");
    return 2;
  }
  // Ids made before any timing, so that their memory is not counted. The capacity holds
  // every id, as in p2p_one_hop.
  const auto first = random_ids(count, 1);
  const auto second = random_ids(count, 2);
  constexpr std::uint64_t t0 = 1'000;
  p2p::core::SeenCache cache(count + 16, 7);
  const double young = ns_per_insert(cache, first, t0);
  const std::uint64_t t1 = t0 + p2p::core::SeenCache::window_seconds + 1;
  cache.expire(t1);  // every entry goes; the tables keep their size
  if (cache.size() != 0) {
    std::fprintf(stderr, "seen_cache_young: %zu entries left after expiry\n", cache.size());
    return 1;
  }
  const double warm = ns_per_insert(cache, second, t1);
  std::printf("{\"count\":%zu,\"young_ns_per_insert\":%.1f,\"warm_ns_per_insert\":%.1f}\n", count,
              young, warm);
  return 0;
}
