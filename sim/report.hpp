// Plain-text rendering of broadcast reports (p2psim, the benchmark, test diagnostics).
#pragma once

#include <string>
#include <vector>

#include "broadcast_tracker.hpp"

namespace p2p::sim {

/// Name of a broadcast's sub-flag: "user" for a user broadcast, "request", "response", ...
std::string sub_flag_name(std::uint64_t sub_flag);

/// One row per report, aligned columns, a header line first.
std::string format_reports(const std::vector<BroadcastReport>& reports);

/// Milliseconds with three decimals, e.g. "12.345".
std::string format_ms(Duration d);

}  // namespace p2p::sim
