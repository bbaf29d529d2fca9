#include "mesh_links.hpp"

#include <algorithm>
#include <map>
#include <string>

namespace p2p::cli {

Links links_of(const std::vector<std::unique_ptr<MeshSocket>>& nodes) {
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < nodes.size(); ++i) index[nodes[i]->id()] = i;
  Links links;
  for (std::size_t i = 0; i < nodes.size(); ++i)
    for (const auto& [id, c] : nodes[i]->routing_table())
      if (auto it = index.find(id); it != index.end())
        links.insert({std::min(i, it->second), std::max(i, it->second)});
  return links;
}

bool connected(std::size_t n, const Links& links) {
  if (n == 0) return true;
  std::vector<std::vector<std::size_t>> adj(n);
  for (auto [a, b] : links) {
    adj[a].push_back(b);
    adj[b].push_back(a);
  }
  std::vector<bool> seen(n, false);
  std::vector<std::size_t> stack{0};
  seen[0] = true;
  std::size_t count = 1;
  while (!stack.empty()) {
    auto v = stack.back();
    stack.pop_back();
    for (auto w : adj[v])
      if (!seen[w]) {
        seen[w] = true;
        ++count;
        stack.push_back(w);
      }
  }
  return count == n;
}

}  // namespace p2p::cli
