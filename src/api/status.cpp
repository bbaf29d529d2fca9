#include "p2p/status.hpp"

#include <ctime>

#include "p2p/error.hpp"

namespace p2p {

std::uint64_t MeshStatus::counter(std::string_view name) const {
  for (const auto& [n, v] : counters)
    if (n == name) return v;
  throw UsageError("MeshStatus has no counter named '" + std::string(name) + "'");
}

std::string MeshStatus::to_string() const {
  std::string out = "peers " + std::to_string(peers) + ", awaiting " + std::to_string(awaiting) +
                    ", outgoing " + std::to_string(outgoing) + ", connections " +
                    std::to_string(connections) + ", recv queue " + std::to_string(recv_queue) +
                    (closed ? ", closed" : "") + "\n";
  for (const auto& [n, v] : counters)
    if (v) out += "  " + n + " " + std::to_string(v) + "\n";
  for (const auto& e : recent_errors) {
    const std::time_t t = std::chrono::system_clock::to_time_t(e.when);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
    out += std::string("  error ") + stamp + " " + e.what + "\n";
  }
  return out;
}

}  // namespace p2p
