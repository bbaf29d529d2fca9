#include "node_options.hpp"

#include <charconv>

namespace p2p::cli {

Result<Endpoint> parse_endpoint(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return Error{Errc::invalid_argument, "'" + text + "' is not HOST:PORT"};
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  const char* first = text.data() + colon + 1;
  const char* last = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(first, last, port);
  if (ec != std::errc() || ptr != last || port == 0 || port > 65535)
    return Error{Errc::invalid_argument, "'" + text + "' has no valid port (1-65535)"};
  return Endpoint{host, static_cast<std::uint16_t>(port)};
}

Result<std::vector<wire::Compression>> parse_compression(const std::string& text) {
  if (text == "default")
    return std::vector<wire::Compression>(wire::all_compressions.begin(),
                                          wire::all_compressions.end());
  if (text == "none" || text.empty()) return std::vector<wire::Compression>{};
  std::vector<wire::Compression> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = text.find(',', start);
    const std::string name =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    auto method = wire::compression_from_name(name);
    if (!method)
      return Error{Errc::invalid_argument, "unknown compression '" + name +
                                               "' (use zlib, gzip, snappy, bz2, lzma or none)"};
    out.push_back(*method);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

Result<MeshOptions> to_mesh_options(const NodeArgs& args) {
  MeshOptions o;
  if (args.encryption != "Plaintext" && args.encryption != "SSL")
    return Error{Errc::invalid_argument,
                 "unknown encryption '" + args.encryption + "' (use Plaintext or SSL)"};
  o.addr = args.bind;
  o.port = args.port;
  o.protocol = Protocol(args.subnet, args.encryption);
  if (!args.out_addr.empty()) {
    auto ep = parse_endpoint(args.out_addr);
    if (!ep) return Error{Errc::invalid_argument, "--out-addr: " + ep.error().message};
    o.out_addr = *ep;
  }
  for (const auto& c : args.connect) {
    auto ep = parse_endpoint(c);
    if (!ep) return Error{Errc::invalid_argument, "--connect: " + ep.error().message};
  }
  if (args.max_outgoing == 0)
    return Error{Errc::invalid_argument, "--max-outgoing must be at least 1"};
  o.max_outgoing = args.max_outgoing;
  o.auto_reconnect = !args.no_reconnect;
  if (!(args.dead_link_timeout >= 0) || args.dead_link_timeout > 86400)
    return Error{Errc::invalid_argument, "--dead-link-timeout must be between 0 and 86400 seconds"};
  o.dead_link_timeout =
      std::chrono::milliseconds(static_cast<std::int64_t>(args.dead_link_timeout * 1000));
  auto methods = parse_compression(args.compression);
  if (!methods) return Error{Errc::invalid_argument, "--compression: " + methods.error().message};
  o.compression = std::move(methods).value();
  o.debug_level = args.verbosity;
  return o;
}

OpenedSocket open_node_socket(const NodeArgs& args) {
  auto options = to_mesh_options(args);
  if (!options) return OpenedSocket{nullptr, 2, options.error().message};
  try {
    return OpenedSocket{std::make_unique<MeshSocket>(std::move(options).value()), 0, {}};
  } catch (const std::exception& e) {
    return OpenedSocket{nullptr, 1, e.what()};
  }
}

}  // namespace p2p::cli
