#include <gtest/gtest.h>

#include "net/asio.hpp"
#include "net/lan_address.hpp"

namespace p2p::net {
namespace {

TEST(LanAddress, WildcardHosts) {
  EXPECT_TRUE(is_wildcard_host(""));
  EXPECT_TRUE(is_wildcard_host("0.0.0.0"));
  EXPECT_TRUE(is_wildcard_host("::"));
  EXPECT_FALSE(is_wildcard_host("127.0.0.1"));
  EXPECT_FALSE(is_wildcard_host("localhost"));
}

TEST(LanAddress, IsALocalIPv4AddressWeCanBind) {
  const std::string addr = lan_address();
  std::error_code ec;
  const auto ip = asio::ip::make_address(addr, ec);
  ASSERT_FALSE(ec) << addr;
  EXPECT_TRUE(ip.is_v4());
  EXPECT_FALSE(ip.is_unspecified());
  // An address of this host: binding to it must work.
  asio::io_context ioc;
  asio::ip::tcp::acceptor acc(ioc);
  acc.open(asio::ip::tcp::v4());
  acc.bind({ip, 0}, ec);
  EXPECT_FALSE(ec) << "cannot bind " << addr << ": " << ec.message();
}

}  // namespace
}  // namespace p2p::net
