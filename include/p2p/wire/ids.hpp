// Hashes and identifiers: SHA-256/384, base58 (Bitcoin alphabet), protocol and node ids.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "p2p/bytes.hpp"

namespace p2p::wire {

using Digest256 = std::array<std::uint8_t, 32>;
using Digest384 = std::array<std::uint8_t, 48>;

Digest256 sha256(ByteView data) noexcept;
Digest384 sha384(ByteView data) noexcept;

/// base58 of `bytes` read as one big-endian unsigned integer, with the integer semantics of
/// the references' `b58encode_int`: no leading-'1' padding for leading zero bytes, and
/// the integer 0 encodes as "1".
std::string base58_encode_int(ByteView big_endian_integer);

/// The big-endian magnitude (no leading zero bytes; empty for 0) of a base58 string, or
/// nullopt when it holds a character outside the alphabet.
std::optional<Bytes> base58_decode_int(std::string_view text);

/// Orders two base58 integer strings by their numeric value, as py2p's connection-conflict
/// rule does with `b58decode_int`. Returns <0, 0, >0. Invalid characters sort as zero digits.
int compare_base58_int(std::string_view a, std::string_view b) noexcept;

/// base58(int(sha256(subnet + encryption + version))).
std::string protocol_id(std::string_view subnet, std::string_view encryption,
                        std::string_view version = "0.7");

/// base58(int(sha384(out_addr_text + protocol_id + salt))), as both references compute it.
/// `out_addr_text` is e.g. "('127.0.0.1', 4444)"; its form only matters for uniqueness.
std::string node_id(std::string_view out_addr_text, std::string_view protocol_id,
                    std::string_view salt);

/// Message id as text: lower-case hex of the sha256 of the body.
std::string digest_hex(const Digest256& d);

}  // namespace p2p::wire
