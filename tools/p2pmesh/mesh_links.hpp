// The links of a set of MeshSockets, read from their routing tables, and whether they form
// one connected mesh: how the demo and the flood benchmark decide that a mesh has formed.
#pragma once

#include <cstddef>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "p2p/mesh_socket.hpp"

namespace p2p::cli {

/// Undirected links (smaller index first), by node index.
using Links = std::set<std::pair<std::size_t, std::size_t>>;

/// Every link some node lists in its routing table to another node of `nodes`.
Links links_of(const std::vector<std::unique_ptr<MeshSocket>>& nodes);

/// Whether `links` connect all `n` nodes.
bool connected(std::size_t n, const Links& links);

}  // namespace p2p::cli
