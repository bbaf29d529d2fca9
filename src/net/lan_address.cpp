#include "net/lan_address.hpp"

#include "net/asio.hpp"

namespace p2p::net {

bool is_wildcard_host(std::string_view host) noexcept {
  return host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]";
}

std::string lan_address() {
  asio::io_context ioc;
  asio::ip::udp::socket sock(ioc);
  std::error_code ec;
  sock.open(asio::ip::udp::v4(), ec);
  if (ec) return "127.0.0.1";
  // 10.255.255.255 is a private address nobody answers at; a connected UDP socket takes the
  // source address of the route to it, i.e. the LAN interface (or the default route's).
  sock.connect({asio::ip::make_address_v4("10.255.255.255"), 1}, ec);
  if (ec) return "127.0.0.1";
  const auto local = sock.local_endpoint(ec);
  if (ec || local.address().is_unspecified()) return "127.0.0.1";
  return local.address().to_string();
}

}  // namespace p2p::net
