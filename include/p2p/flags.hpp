// The protocol's flag bytes (py2p `flags.py`, js2p `base.flags`), as named constants.
#pragma once

#include <cstdint>

namespace p2p::flags {

// Main flags: the first element of every message body.
inline constexpr std::uint8_t broadcast = 0x00;  ///< relayed to the whole network (also a sub-flag)
inline constexpr std::uint8_t renegotiate = 0x01;  ///< link-local negotiation, never relayed
inline constexpr std::uint8_t whisper = 0x02;      ///< to direct peers only (also a sub-flag)
inline constexpr std::uint8_t ping = 0x03;         ///< reserved, unused by the mesh
inline constexpr std::uint8_t pong = 0x04;         ///< reserved, unused by the mesh

// Sub-flags: the first payload element.
inline constexpr std::uint8_t compression = 0x01;
inline constexpr std::uint8_t handshake = 0x05;
inline constexpr std::uint8_t notify = 0x06;
inline constexpr std::uint8_t peers = 0x07;
inline constexpr std::uint8_t request = 0x08;
inline constexpr std::uint8_t resend = 0x09;
inline constexpr std::uint8_t response = 0x0A;
inline constexpr std::uint8_t store = 0x0B;
inline constexpr std::uint8_t retrieve = 0x0C;
inline constexpr std::uint8_t retrieved = 0x0D;
inline constexpr std::uint8_t forward = 0x0E;
inline constexpr std::uint8_t new_paths = 0x0F;
inline constexpr std::uint8_t revoke_paths = 0x10;
inline constexpr std::uint8_t delta = 0x11;

// Compression method flags, as advertised in the handshake.
inline constexpr std::uint8_t bz2 = 0x10;
inline constexpr std::uint8_t gzip = 0x11;
inline constexpr std::uint8_t lzma = 0x12;
inline constexpr std::uint8_t zlib = 0x13;
inline constexpr std::uint8_t snappy = 0x20;

/// Flags below this value are reserved by the protocol.
inline constexpr std::uint8_t reserved_limit = 0x30;

}  // namespace p2p::flags
