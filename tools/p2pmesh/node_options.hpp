// Options shared by `p2pmesh node` and `p2pmesh demo`, checked into MeshOptions.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "p2p/error.hpp"
#include "p2p/mesh_socket.hpp"
#include "p2p/options.hpp"

namespace p2p::cli {

struct NodeArgs {
  std::string bind = "0.0.0.0";
  std::uint16_t port = 0;
  std::string subnet = "mesh";
  std::string encryption = "Plaintext";
  std::string out_addr;              ///< HOST:PORT, empty: the bound address
  std::vector<std::string> connect;  ///< HOST:PORT each
  std::size_t max_outgoing = 4;
  std::string compression = "default";  ///< comma list, "none", or "default"
  int verbosity = 0;
  bool json = false;
  bool no_reconnect = false;      ///< self-healing off: no re-dials, no automatic peer requests
  double dead_link_timeout = 30;  ///< seconds; MeshOptions::dead_link_timeout (0: system's)
};

/// "host:port" (also "[v6]:port") -> Endpoint; a clear error otherwise.
Result<Endpoint> parse_endpoint(const std::string& text);
/// "zlib,gzip" / "none" / "default" -> methods in that order.
Result<std::vector<wire::Compression>> parse_compression(const std::string& text);
/// Every argument checked; the first problem is returned as one sentence.
Result<MeshOptions> to_mesh_options(const NodeArgs& args);

/// A node's socket, or why there is none: exit code 2 for bad arguments, 1 when the socket
/// cannot be opened (port in use, unresolvable address), with the one-line reason.
struct OpenedSocket {
  std::unique_ptr<MeshSocket> sock;
  int exit_code = 0;
  std::string error;
};
OpenedSocket open_node_socket(const NodeArgs& args);

}  // namespace p2p::cli
