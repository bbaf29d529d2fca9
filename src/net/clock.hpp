// The runtime's only clock reads: the core never reads a clock (design principle 1), so
// every input the runtime feeds it carries a core::Time taken here.
#pragma once

#include <time.h>

#include <chrono>
#include <cstdint>

#include "core/types.hpp"

namespace p2p::net {

inline core::Time now() {
  using namespace std::chrono;
  return core::Time{duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()),
                    static_cast<std::uint64_t>(
                        duration_cast<seconds>(system_clock::now().time_since_epoch()).count())};
}

/// UTC seconds only, for stamping messages on callers' threads. The coarse clock costs a
/// few nanoseconds (no syscall, no TSC read) and is at most one kernel tick (a few ms)
/// behind, which a one-second stamp does not notice.
inline std::uint64_t utc_seconds() {
  timespec ts{};
  if (clock_gettime(CLOCK_REALTIME_COARSE, &ts) != 0) return now().utc;
  return static_cast<std::uint64_t>(ts.tv_sec);
}

}  // namespace p2p::net
