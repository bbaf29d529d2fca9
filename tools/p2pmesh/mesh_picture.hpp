// Pictures of a mesh for `p2pmesh demo`: an SVG drawn directly, and a Graphviz DOT file that
// `neato` turns into a PNG where Graphviz is installed.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace p2p::cli {

struct MeshPicture {
  struct Node {
    std::string label;                 ///< short name, e.g. "n3"
    std::optional<double> reached_ms;  ///< when the broadcast arrived; nullopt: never
    bool origin = false;
  };
  std::vector<Node> nodes;
  std::vector<std::pair<std::size_t, std::size_t>> edges;  ///< undirected links
  std::string title;
};

/// Nodes on a circle, links as lines, each node coloured from green (first) to red (last)
/// by the time the broadcast reached it; unreached nodes grey.
std::string render_svg(const MeshPicture& picture);

/// The same graph in DOT, coloured alike, for `neato -Tpng`.
std::string render_dot(const MeshPicture& picture);

}  // namespace p2p::cli
