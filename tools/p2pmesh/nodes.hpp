// The subcommands of `p2pmesh`; each returns the process exit code.
#pragma once

#include <cstdint>
#include <string>

#include "node_options.hpp"

namespace p2p::cli {

int run_json_node(const NodeArgs& args);
int run_interactive_node(const NodeArgs& args);

struct DemoArgs {
  std::size_t nodes = 16;
  std::string topology = "random";  ///< random, chain, ring, star
  std::string encryption = "Plaintext";
  std::size_t message_size = 64;
  std::size_t max_outgoing = 4;
  std::uint64_t seed = 1;
  std::string picture = "p2pmesh-demo.svg";  ///< where the SVG goes ("" for none)
  double timeout_s = 30;
  bool quiet = false;
};
int run_demo(const DemoArgs& args);

}  // namespace p2p::cli
