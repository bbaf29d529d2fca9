// Which address to advertise when a node binds to every interface.
#pragma once

#include <string>
#include <string_view>

namespace p2p::net {

/// True for the bind addresses that mean "every interface": '', '0.0.0.0' and '::'. The
/// seeds promise that such a node advertises its LAN address.
bool is_wildcard_host(std::string_view host) noexcept;

/// The IPv4 address of the interface that routes towards the LAN, found by connecting a UDP
/// socket to a non-routable address (nothing is sent: a UDP connect only picks a route and a
/// source address). "127.0.0.1" when the machine has no such route (no network).
std::string lan_address();

}  // namespace p2p::net
