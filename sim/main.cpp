// p2psim: builds a simulated mesh, floods broadcasts through it and prints what happened.
//
//   p2psim --nodes 1000 --topology random --seed 1 --latency-ms 5 --broadcasts 3
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "p2p/wire/compression.hpp"
#include "report.hpp"
#include "simulator.hpp"
#include "topology.hpp"

namespace {

using namespace p2p;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

sim::Duration from_ms(double ms) {
  return sim::Duration(static_cast<sim::Duration::rep>(ms * 1e6));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"p2psim: runs p2pmesh engines on a virtual network and reports broadcasts"};
  std::size_t nodes = 100;
  std::string topology = "random";
  std::uint64_t seed = 1;
  double latency_ms = 5, jitter_ms = 0, loss = 0, split = 0, join_ms = 0, interval_ms = 1000;
  double settle_s = 120, warmup_s = 0;
  std::uint64_t bandwidth = 0;
  std::size_t max_outgoing = 0, broadcasts = 1, payload_bytes = 32, seen_cache = 0;
  std::vector<std::string> compression;
  bool verbose_table = true;
  app.add_option("-n,--nodes", nodes, "number of nodes")->check(CLI::Range(1, 1'000'000));
  app.add_option("-t,--topology", topology, "chain, ring, random, complete or star")
      ->check(CLI::IsMember({"chain", "ring", "random", "complete", "star"}));
  app.add_option("-s,--seed", seed, "simulation seed (same seed, same run)");
  app.add_option("--latency-ms", latency_ms, "one-way link latency")->check(CLI::NonNegativeNumber);
  app.add_option("--jitter-ms", jitter_ms, "uniform extra latency")->check(CLI::NonNegativeNumber);
  app.add_option("--bandwidth", bandwidth, "bytes/s per link direction (0: unlimited)");
  app.add_option("--loss", loss, "per-frame retransmission probability")
      ->check(CLI::Range(0.0, 0.99));
  app.add_option("--split", split, "probability that a frame arrives in chunks")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--max-outgoing", max_outgoing, "outgoing links per node (0: topology default)");
  app.add_option("--join-interval-ms", join_ms, "virtual time between joins")
      ->check(CLI::NonNegativeNumber);
  app.add_option("-b,--broadcasts", broadcasts, "broadcasts to flood, from random nodes");
  app.add_option("--interval-ms", interval_ms, "virtual time between broadcasts")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--payload-bytes", payload_bytes, "size of each broadcast's payload");
  app.add_option("--compression", compression,
                 "methods the nodes advertise (snappy zlib gzip bz2 lzma, or none); default all");
  app.add_option("--seen-cache", seen_cache, "seen-cache entries per node (0: engine default)");
  app.add_option("--settle-s", settle_s, "longest virtual wait for the network to go quiet")
      ->check(CLI::PositiveNumber);
  app.add_option("--warmup-s", warmup_s,
                 "virtual time to run after set-up went quiet (self-healing keeps adding links)")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("!--no-table", verbose_table, "print only the summary");
  CLI11_PARSE(app, argc, argv);

  std::vector<wire::Compression> methods(wire::all_compressions.begin(),
                                         wire::all_compressions.end());
  if (!compression.empty()) {
    methods.clear();
    for (const std::string& name : compression) {
      if (name == "none") continue;
      auto m = wire::compression_from_name(name);
      if (!m) {
        std::fprintf(stderr, "p2psim: unknown compression '%s'\n", name.c_str());
        return 2;
      }
      methods.push_back(*m);
    }
  }

  sim::SimConfig config;
  config.seed = seed;
  config.record = false;  // a 100k-node run must not keep every message
  config.link.latency = from_ms(latency_ms);
  config.link.jitter = from_ms(jitter_ms);
  config.link.bandwidth_bytes_per_s = bandwidth;
  config.link.loss = loss;
  config.link.split_probability = split;
  sim::Simulator simulator(config);

  sim::NetworkSpec spec;
  spec.topology = *sim::topology_from_name(topology);
  spec.nodes = nodes;
  if (max_outgoing > 0) spec.max_outgoing = max_outgoing;
  spec.join_interval = from_ms(join_ms);
  spec.configure = [&](sim::NodeIndex, core::NodeConfig& c) {
    c.compression = methods;
    if (seen_cache > 0) c.limits.seen_cache_entries = seen_cache;
  };

  std::printf(
      "p2psim: %zu nodes, topology %s, seed %llu, latency %.3f ms, jitter %.3f ms, "
      "bandwidth %llu B/s, loss %.3f, split %.3f\n",
      nodes, topology.c_str(), static_cast<unsigned long long>(seed), latency_ms, jitter_ms,
      static_cast<unsigned long long>(bandwidth), loss, split);

  auto t0 = Clock::now();
  sim::build_network(simulator, spec);
  bool quiet = simulator.run_until_quiet(from_ms(settle_s * 1000));
  if (warmup_s > 0) {
    simulator.run_for(from_ms(warmup_s * 1000));
    quiet = simulator.run_until_quiet(from_ms(settle_s * 1000));
  }
  const double setup_ms = ms_since(t0);
  const std::size_t edges = simulator.edges();
  std::printf("set-up: %.1f ms wall, %s after %s ms virtual; %zu edges, mean degree %.2f\n",
              setup_ms, quiet ? "quiet" : "NOT quiet", sim::format_ms(simulator.elapsed()).c_str(),
              edges, nodes > 0 ? 2.0 * static_cast<double>(edges) / static_cast<double>(nodes) : 0);

  sim::Rng pick(sim::fold(seed, 0xb40adca57ULL));
  std::vector<std::size_t> user_broadcasts;
  const auto events_before = simulator.stats().events;
  t0 = Clock::now();
  for (std::size_t b = 0; b < broadcasts; ++b) {
    const auto origin = static_cast<sim::NodeIndex>(pick.below(nodes));
    Bytes payload(payload_bytes, static_cast<std::uint8_t>('a' + b % 26));
    auto r = simulator.broadcast(origin, Array{Value("p2psim"), Value(b), Value(payload)});
    if (!r) {
      std::printf("broadcast %zu from node %u failed: %s\n", b, origin,
                  r.error().to_string().c_str());
    } else {
      user_broadcasts.push_back(*r);
    }
    if (b + 1 < broadcasts) simulator.run_for(from_ms(interval_ms));
  }
  const bool flooded = simulator.run_until_quiet(from_ms(settle_s * 1000));
  const double flood_ms = ms_since(t0);
  std::printf("flood: %.1f ms wall for %zu broadcast(s), %llu events%s; %zu edges after\n",
              flood_ms, broadcasts,
              static_cast<unsigned long long>(simulator.stats().events - events_before),
              flooded ? "" : " (NOT quiet at the deadline)", simulator.edges());

  std::vector<sim::BroadcastReport> reports;
  bool exactly_once = true;
  for (std::size_t b : user_broadcasts) {
    reports.push_back(simulator.report(b));
    const auto& r = reports.back();
    if (r.delivered_more_than_once > 0 || r.delivered + 1 != r.nodes) exactly_once = false;
  }
  if (verbose_table && !reports.empty()) std::fputs(sim::format_reports(reports).c_str(), stdout);

  const sim::SimStats& st = simulator.stats();
  const sim::Anomalies& an = simulator.anomalies();
  std::printf(
      "totals: %llu events, %llu frames (%llu bytes) sent, %llu lost, %llu retransmissions, "
      "%llu dials (%llu refused, %llu unreachable), %llu closes\n",
      static_cast<unsigned long long>(st.events), static_cast<unsigned long long>(st.frames_sent),
      static_cast<unsigned long long>(st.bytes_sent),
      static_cast<unsigned long long>(st.frames_lost),
      static_cast<unsigned long long>(st.retransmissions),
      static_cast<unsigned long long>(st.dials), static_cast<unsigned long long>(st.dials_refused),
      static_cast<unsigned long long>(st.dials_unreachable),
      static_cast<unsigned long long>(st.closes));
  std::printf(
      "user delivery exactly once at every node: %s; engine anomalies: %llu; unreadable "
      "frames: %llu; trace %016llx\n",
      exactly_once ? "yes" : "NO", static_cast<unsigned long long>(an.total()),
      static_cast<unsigned long long>(simulator.unreadable_frames()),
      static_cast<unsigned long long>(simulator.trace_hash()));
  return exactly_once && an.total() == 0 ? 0 : 1;
}
