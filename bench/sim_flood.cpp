// sim_flood: floods one broadcast through a 10,000-node simulated mesh and reports the wall
// time and memory of the flood itself, with the set-up (joins, peer exchange, self-healing
// settling) measured separately.
//
//   sim_flood [nodes=10000] [seed=1] [warmup_s=20] [floods=1]
//
// A plain timed program rather than a Google Benchmark: the set-up costs seconds and must run
// once, and the figure of interest is one flood, not a mean over iterations. Exits 1 if the
// flood does not reach every node exactly once or breaks the 2 x edges copy bound.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <string>

#include "report.hpp"
#include "simulator.hpp"
#include "topology.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

/// CPU time of this process in ms: on a machine shared with other jobs, the honest cost.
double cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

/// A field of /proc/self/status in MiB (VmRSS: now, VmHWM: peak), or -1.
double status_mib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0)
      return std::strtod(line.c_str() + field.size() + 1, nullptr) / 1024.0;
  }
  return -1;
}

/// Resets VmHWM to the current RSS (Linux >= 4.0), so the next peak is the flood's own.
bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  return static_cast<bool>(out.flush());
}

}  // namespace

int main(int argc, char** argv) {
  using namespace p2p;
  const std::size_t nodes = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 10'000;
  const std::uint64_t seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1;
  const double warmup_s = argc > 3 ? std::strtod(argv[3], nullptr) : 20;
  const std::size_t floods = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 1;
  if (nodes < 2) {
    std::fprintf(stderr, "usage: sim_flood [nodes>=2] [seed] [warmup_s] [floods]\n");
    return 2;
  }

  sim::SimConfig config;
  config.seed = seed;
  config.record = false;
  sim::Simulator simulator(config);
  sim::NetworkSpec spec;
  spec.topology = sim::Topology::random_join;
  spec.nodes = nodes;

  auto t0 = Clock::now();
  double c0 = cpu_ms();
  sim::build_network(simulator, spec);
  bool quiet = simulator.run_until_quiet(std::chrono::minutes(5));
  simulator.run_for(
      std::chrono::duration_cast<sim::Duration>(std::chrono::duration<double>(warmup_s)));
  quiet = simulator.run_until_quiet(std::chrono::minutes(5)) && quiet;
  const double setup_ms = ms_since(t0), setup_cpu = cpu_ms() - c0;
  const std::size_t edges = simulator.edges();
  const double setup_rss = status_mib("VmRSS"), setup_peak = status_mib("VmHWM");
  std::printf(
      "set-up: %zu nodes (random join, seed %llu), %zu edges, %.1f ms wall (%.1f ms CPU) for "
      "%s ms virtual (%s); RSS %.1f MiB, peak %.1f MiB\n",
      nodes, static_cast<unsigned long long>(seed), edges, setup_ms, setup_cpu,
      sim::format_ms(simulator.elapsed()).c_str(), quiet ? "quiet" : "NOT quiet", setup_rss,
      setup_peak);

  // The first flood is the headline figure; further ones (argument 4) give a spread and a
  // flood-dominated profile.
  const bool peak_reset = reset_peak_rss();
  sim::Rng pick(seed);
  bool ok = true;
  double total_ms = 0, worst_ms = 0, total_cpu = 0;
  for (std::size_t f = 0; f < floods; ++f) {
    const auto events_before = simulator.stats().events;
    const auto origin = static_cast<sim::NodeIndex>(pick.below(nodes));
    t0 = Clock::now();
    c0 = cpu_ms();
    auto b =
        simulator.broadcast(origin, Array{Value("sim_flood"), Value(f), Value(Bytes(64, 0x42))});
    const bool flooded = b && simulator.run_until_quiet(std::chrono::minutes(5));
    const double flood_ms = ms_since(t0), flood_cpu = cpu_ms() - c0;
    total_ms += flood_ms;
    total_cpu += flood_cpu;
    worst_ms = std::max(worst_ms, flood_ms);
    if (!b) {
      std::printf("broadcast failed: %s\n", b.error().to_string().c_str());
      return 1;
    }
    const sim::BroadcastReport r = simulator.report(*b);
    const bool exactly_once = r.delivered == nodes - 1 && r.delivered_more_than_once == 0;
    const bool within_bound = r.copies <= 2 * edges;
    ok = ok && exactly_once && within_bound && flooded;
    if (f > 0 && exactly_once && within_bound && flooded) continue;
    const double flood_peak = status_mib("VmHWM");
    std::printf(
        "flood %zu: %.1f ms wall (%.1f ms CPU), %llu events, %s; peak RSS during the flood %.1f "
        "MiB%s "
        "(+%.1f MiB over the set-up's RSS)\n",
        f, flood_ms, flood_cpu,
        static_cast<unsigned long long>(simulator.stats().events - events_before),
        flooded ? "quiet" : "NOT quiet", flood_peak,
        peak_reset ? "" : " (could not reset VmHWM: whole-run peak)", flood_peak - setup_rss);
    std::fputs(sim::format_reports({r}).c_str(), stdout);
    std::printf("exactly once at every node: %s; copies %llu <= 2 x edges %zu: %s\n",
                exactly_once ? "yes" : "NO", static_cast<unsigned long long>(r.copies), 2 * edges,
                within_bound ? "yes" : "NO");
  }
  if (floods > 1) {
    std::printf(
        "%zu floods: mean %.1f ms wall (%.1f ms CPU), worst %.1f ms wall; all exactly "
        "once: %s\n",
        floods, total_ms / static_cast<double>(floods), total_cpu / static_cast<double>(floods),
        worst_ms, ok ? "yes" : "NO");
  }
  return ok ? 0 : 1;
}
