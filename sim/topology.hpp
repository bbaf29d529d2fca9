// Network shapes for the simulator: who dials whom when the network is built.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string_view>

#include "core/node.hpp"
#include "simulator.hpp"

namespace p2p::sim {

enum class Topology {
  chain,        ///< node i dials i-1; max_outgoing 0 keeps it a line
  ring,         ///< node i dials (i+1) mod n; max_outgoing 0 keeps it a circle
  random_join,  ///< node i dials one random earlier node; peer exchange does the rest
  complete,     ///< node i dials every earlier node
  star,         ///< every node dials node 0
};

std::optional<Topology> topology_from_name(std::string_view name);
std::string_view topology_name(Topology t);

struct NetworkSpec {
  Topology topology = Topology::random_join;
  std::size_t nodes = 10;
  /// Overrides the topology's default max_outgoing (chain, ring, star: 0, so peer exchange
  /// adds no link; complete: n - 1; random_join: the engine's default, 4).
  std::optional<std::size_t> max_outgoing;
  /// Virtual time between two nodes' first dials; 0 dials all at once.
  Duration join_interval{0};
  /// Last word on every node's configuration (protocol, limits, compression...).
  std::function<void(NodeIndex, core::NodeConfig&)> configure;
};

/// Adds `spec.nodes` nodes and issues their first dials (advancing the clock by
/// join_interval between joins). Returns the index of the first node added. The handshakes
/// and peer exchange happen when the simulator runs next (e.g. run_until_quiet).
NodeIndex build_network(Simulator& sim, const NetworkSpec& spec);

}  // namespace p2p::sim
