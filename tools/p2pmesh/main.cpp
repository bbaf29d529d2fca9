// p2pmesh: run a mesh node (interactive or scripted with JSON lines) or a local demo.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "nodes.hpp"

int main(int argc, char** argv) {
  using namespace p2p::cli;
  CLI::App app{
      "p2pmesh: a node of an unstructured peer-to-peer mesh, wire-compatible with py2p and js2p "
      "(protocol 0.7).\nRun `p2pmesh demo` to watch a local 16-node mesh work, or `p2pmesh node` "
      "to join one.",
      "p2pmesh"};
  app.require_subcommand(1);
  // One line per argument error, like every other error of the command.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return "p2pmesh: " + std::string(e.what()) + " (see p2pmesh --help)\n";
  });
  app.set_version_flag("--version", "p2pmesh 0.1.0 (mesh protocol 0.7)");

  NodeArgs node;
  auto* node_cmd = app.add_subcommand(
      "node",
      "Run one node. Interactive by default: each line typed is broadcast (/help lists the "
      "commands). With --json: one JSON command per line on stdin, one JSON answer or event per "
      "line on stdout (see docs/cli.md).");
  node_cmd
      ->add_option("--bind", node.bind, "Address to listen on; 0.0.0.0 advertises the LAN address")
      ->capture_default_str();
  node_cmd
      ->add_option("--port", node.port, "Port to listen on; 0 picks a free one (reported at start)")
      ->capture_default_str();
  node_cmd
      ->add_option("--subnet", node.subnet, "Protocol subnet: only nodes with the same one connect")
      ->capture_default_str();
  node_cmd->add_option("--encryption", node.encryption, "Plaintext or SSL")->capture_default_str();
  node_cmd->add_option("--out-addr", node.out_addr,
                       "HOST:PORT to advertise instead of the bound address (port forwarding)");
  node_cmd->add_option("--connect", node.connect, "HOST:PORT of a node to join; may be repeated");
  node_cmd->add_option("--max-outgoing", node.max_outgoing, "Outgoing links to keep")
      ->capture_default_str();
  node_cmd->add_option("--compression", node.compression,
                       "Methods to advertise, in order: a comma list of zlib,gzip,snappy,bz2,lzma, "
                       "or none (default: snappy,zlib,gzip,bz2,lzma)");
  node_cmd->add_flag("-v,--verbose", node.verbosity,
                     "More log lines on stderr (repeat up to -vvvvv)");
  node_cmd->add_flag("--no-reconnect", node.no_reconnect,
                     "Turn self-healing off: never re-dial lost peers or ask neighbours for more");
  node_cmd
      ->add_option("--dead-link-timeout", node.dead_link_timeout,
                   "Seconds after which a link to a vanished peer is closed (TCP keep-alive and "
                   "user timeout); 0 keeps the system's defaults")
      ->capture_default_str();
  node_cmd->add_flag("--json", node.json, "Scripting interface: JSON lines on stdin/stdout");

  DemoArgs demo;
  auto* demo_cmd = app.add_subcommand(
      "demo",
      "Start a local mesh on loopback in one process, let it form by peer exchange, then "
      "broadcast, whisper and reply, and report what happened (exit 0 only when everything was "
      "delivered).");
  demo_cmd->add_option("--nodes", demo.nodes, "Number of nodes (2-1024)")->capture_default_str();
  demo_cmd
      ->add_option("--topology", demo.topology,
                   "random (each node joins a random earlier one; "
                   "peer exchange does the rest), chain, ring or star")
      ->capture_default_str();
  demo_cmd->add_option("--encryption", demo.encryption, "Plaintext or SSL")->capture_default_str();
  demo_cmd->add_option("--size", demo.message_size, "Bytes of payload in the broadcast")
      ->capture_default_str();
  demo_cmd
      ->add_option("--max-outgoing", demo.max_outgoing, "Outgoing links per node (random topology)")
      ->capture_default_str();
  demo_cmd->add_option("--seed", demo.seed, "Seed of the random topology")->capture_default_str();
  demo_cmd
      ->add_option("--picture", demo.picture,
                   "SVG file for the picture of the mesh (a PNG beside it where Graphviz is "
                   "installed); empty for none")
      ->capture_default_str();
  demo_cmd->add_option("--timeout", demo.timeout_s, "Seconds to wait for each step")
      ->capture_default_str();
  demo_cmd->add_flag("--quiet", demo.quiet, "Print nothing; the exit code tells");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (*node_cmd) return node.json ? run_json_node(node) : run_interactive_node(node);
  return run_demo(demo);
}
