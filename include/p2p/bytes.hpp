// Byte containers shared by every layer of p2pmesh.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace p2p {

/// An owned, contiguous byte string (msgpack `bin`, frame bodies, digests).
using Bytes = std::vector<std::uint8_t>;

/// A non-owning view of bytes; valid only as long as the bytes it points at.
using ByteView = std::span<const std::uint8_t>;

inline ByteView as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

inline std::string_view as_chars(ByteView b) noexcept {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

/// Lower-case hexadecimal rendering, for logs, ids and tests.
std::string to_hex(ByteView bytes);

}  // namespace p2p
