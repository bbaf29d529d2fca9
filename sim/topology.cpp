#include "topology.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace p2p::sim {
namespace {

constexpr std::array<std::pair<std::string_view, Topology>, 5> kNames = {{
    {"chain", Topology::chain},
    {"ring", Topology::ring},
    {"random", Topology::random_join},
    {"complete", Topology::complete},
    {"star", Topology::star},
}};

// Peer exchange dials peers until max_outgoing links exist, which would turn a line into a
// mesh; shapes that must stay exact use 0 and rely only on the dials the builder makes
// (Node::connect is a user command, not limited by max_outgoing).
std::size_t default_max_outgoing(Topology t, std::size_t n, std::size_t engine_default) {
  switch (t) {
    case Topology::chain:
    case Topology::ring:
    case Topology::star:
      return 0;
    case Topology::complete:
      return n > 1 ? n - 1 : 1;
    case Topology::random_join:
      return engine_default;
  }
  return engine_default;
}

}  // namespace

std::optional<Topology> topology_from_name(std::string_view name) {
  for (const auto& [n, t] : kNames) {
    if (n == name) return t;
  }
  if (name == "random_join") return Topology::random_join;
  return std::nullopt;
}

std::string_view topology_name(Topology t) {
  for (const auto& [n, topo] : kNames) {
    if (topo == t) return n;
  }
  return "?";
}

NodeIndex build_network(Simulator& sim, const NetworkSpec& spec) {
  const auto first = static_cast<NodeIndex>(sim.size());
  const std::size_t n = spec.nodes;
  for (std::size_t k = 0; k < n; ++k) {
    const auto index = static_cast<NodeIndex>(first + k);
    core::NodeConfig config;
    config.max_outgoing =
        spec.max_outgoing.value_or(default_max_outgoing(spec.topology, n, config.max_outgoing));
    // A hub (star centre, complete graph) must accept everyone: raise its limits.
    const bool hub =
        spec.topology == Topology::complete || (spec.topology == Topology::star && k == 0);
    if (hub) {
      config.limits.max_connections = std::max(config.limits.max_connections, 2 * n + 8);
      config.limits.max_awaiting = std::max(config.limits.max_awaiting, 2 * n + 8);
    }
    if (spec.configure) spec.configure(index, config);
    sim.add_node(std::move(config));
  }

  Rng rng(fold(sim.config().seed, 0x70901091ULL));
  const Duration start = sim.elapsed();
  for (std::size_t k = 0; k < n; ++k) {
    if (spec.join_interval > Duration::zero()) {
      sim.run_until(start + static_cast<Duration::rep>(k) * spec.join_interval);
    }
    const auto me = static_cast<NodeIndex>(first + k);
    const auto at = [&](std::size_t j) { return static_cast<NodeIndex>(first + j); };
    // A refused connect (e.g. a ring of 1) is part of the shape, not an error.
    switch (spec.topology) {
      case Topology::chain:
        if (k > 0) (void)sim.connect(me, at(k - 1));
        break;
      case Topology::ring:
        if (n > 1) (void)sim.connect(me, at((k + 1) % n));
        break;
      case Topology::random_join:
        if (k > 0) (void)sim.connect(me, at(rng.below(k)));
        break;
      case Topology::complete:
        for (std::size_t j = 0; j < k; ++j) (void)sim.connect(me, at(j));
        break;
      case Topology::star:
        if (k > 0) (void)sim.connect(me, at(0));
        break;
    }
  }
  return first;
}

}  // namespace p2p::sim
