// Helpers shared by the simulator tests.
#pragma once

#include <algorithm>
#include <deque>
#include <string_view>
#include <vector>

#include "simulator.hpp"
#include "topology.hpp"

namespace p2p::sim::testing {

/// A network spec with the topology's defaults.
inline NetworkSpec shape(Topology t, std::size_t nodes) {
  NetworkSpec s;
  s.topology = t;
  s.nodes = nodes;
  return s;
}

/// One bin packet, as py2p's `send(b"...")` makes it.
inline Array bin_packet(std::string_view text) {
  return Array{Value::bin(as_bytes(text))};
}

/// True when `a` has `b` in its routing table.
inline bool has_peer(const Simulator& sim, NodeIndex a, NodeIndex b) {
  const core::PeerId& id = sim.node(b).id();
  for (const core::PeerInfo& p : sim.node(a).routing_table()) {
    if (p.id == id) return true;
  }
  return false;
}

/// Nodes reachable from `start` over routing-table links (either direction), sorted.
inline std::vector<NodeIndex> component_of(const Simulator& sim, NodeIndex start) {
  std::vector<std::vector<NodeIndex>> adj(sim.size());
  for (NodeIndex i = 0; i < sim.size(); ++i) {
    for (const core::PeerInfo& p : sim.node(i).routing_table()) {
      if (auto j = sim.index_of(p.id)) {
        adj[i].push_back(*j);
        adj[*j].push_back(i);
      }
    }
  }
  std::vector<bool> seen(sim.size());
  std::vector<NodeIndex> out;
  std::deque<NodeIndex> todo{start};
  seen[start] = true;
  while (!todo.empty()) {
    const NodeIndex n = todo.front();
    todo.pop_front();
    out.push_back(n);
    for (NodeIndex m : adj[n]) {
      if (!seen[m]) {
        seen[m] = true;
        todo.push_back(m);
      }
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// Messages in node `i`'s inbox whose packets equal `packets` (sub-flag first).
inline std::size_t count_inbox(const Simulator& sim, NodeIndex i, const Array& packets) {
  return static_cast<std::size_t>(
      std::count_if(sim.inbox(i).begin(), sim.inbox(i).end(),
                    [&](const core::Message& m) { return m.packets == packets; }));
}

/// True when node `i` raised an event of `kind` about connection `conn`.
inline bool raised(const Simulator& sim, NodeIndex i, core::EventKind kind, core::ConnId conn) {
  return std::any_of(sim.events().begin(), sim.events().end(), [&](const EventRecord& e) {
    return e.node == i && e.event.kind == kind && e.event.conn == conn;
  });
}

}  // namespace p2p::sim::testing
