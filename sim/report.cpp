#include "report.hpp"

#include <cstdio>

#include "p2p/flags.hpp"

namespace p2p::sim {

std::string sub_flag_name(std::uint64_t sub_flag) {
  switch (sub_flag) {
    case flags::broadcast:
      return "user";
    case flags::whisper:
      return "user/whisper";
    case flags::request:
      return "request";
    case flags::response:
      return "response";
    case flags::peers:
      return "peers";
    default:
      return "0x" + std::to_string(sub_flag);
  }
}

std::string format_ms(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(d.count()) / 1e6);
  return buf;
}

std::string format_reports(const std::vector<BroadcastReport>& reports) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%4s %7s %-8s %9s %9s %6s %12s %10s %7s %8s %9s %8s\n", "#",
                "origin", "kind", "reached", "delivered", "twice", "t_all_ms", "copies", "per_nd",
                "max_sent", "max_recv", "dup");
  out += line;
  for (std::size_t i = 0; i < reports.size(); ++i) {
    const BroadcastReport& r = reports[i];
    // Appended piecewise: `"(" + std::string` trips GCC 12's -Wrestrict false positive at
    // -O3 (GCC bug 105329), which breaks Release builds with warnings as errors.
    std::string t_all;
    if (r.time_to_all) {
      t_all = format_ms(*r.time_to_all);
    } else {
      t_all = "(";
      t_all += format_ms(r.time_to_last);
      t_all += ")";
    }
    const double per_node =
        r.nodes > 0 ? static_cast<double>(r.copies) / static_cast<double>(r.nodes) : 0.0;
    std::snprintf(line, sizeof line,
                  "%4zu %7u %-8s %4zu/%-4zu %9zu %6zu %12s %10llu %7.3f %8u %9u %8.3f\n", i,
                  r.origin, sub_flag_name(r.sub_flag).c_str(), r.reached,
                  r.nodes > 0 ? r.nodes - 1 : 0, r.delivered, r.delivered_more_than_once,
                  t_all.c_str(), static_cast<unsigned long long>(r.copies), per_node,
                  r.max_copies_sent, r.max_copies_received, r.duplicate_ratio);
    out += line;
  }
  return out;
}

}  // namespace p2p::sim
