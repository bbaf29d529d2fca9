// The runtime's only clock reads: the core never reads a clock (design principle 1), so
// every input the runtime feeds it carries a core::Time taken here.
#pragma once

#include <chrono>

#include "core/types.hpp"

namespace p2p::net {

inline core::Time now() {
  using namespace std::chrono;
  return core::Time{duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()),
                    static_cast<std::uint64_t>(
                        duration_cast<seconds>(system_clock::now().time_since_epoch()).count())};
}

}  // namespace p2p::net
