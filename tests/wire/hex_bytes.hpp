// Hex <-> bytes for test vectors.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "p2p/bytes.hpp"

namespace p2p::test {

/// Bytes of a lower- or upper-case hex string; throws on odd length or a non-hex digit.
inline Bytes from_hex(std::string_view hex) {
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw std::invalid_argument(std::string("not a hex digit: ") + c);
  };
  if (hex.size() % 2 != 0) throw std::invalid_argument("odd-length hex string");
  Bytes out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  }
  return out;
}

}  // namespace p2p::test
