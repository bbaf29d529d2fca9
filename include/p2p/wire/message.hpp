// Message bodies: the msgpack array [msg_type, sender_id, time, payload0, payload1, ...].
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "p2p/bytes.hpp"
#include "p2p/error.hpp"
#include "p2p/value.hpp"
#include "p2p/wire/msgpack.hpp"

namespace p2p::wire {

struct Body {
  std::uint8_t msg_type = 0;   ///< main flag: broadcast, whisper, renegotiate, ...
  std::string sender;          ///< id bytes, whether they came as str or bin
  bool sender_is_bin = false;  ///< py2p sends bin ids, js2p and p2pmesh str
  std::uint64_t time = 0;      ///< UTC seconds
  Array payload;               ///< payload[0] is the sub-flag when present
};

/// Decodes and validates the envelope: an array of at least 3 elements whose first is an
/// unsigned integer < 256, second a str or bin, third a non-negative integer (a float is
/// accepted and truncated, since js2p's msgpack-lite may write one).
Result<Body> decode_body(ByteView body, const DecodeLimits& limits = {});

/// decode_body() into an existing Body, whose strings, arrays and byte strings keep their
/// storage where the new body has values of the same types: a reader that decodes every
/// frame into one Body allocates nothing per message once the buffers have grown. On
/// failure `body` is left partly decoded.
Status decode_body_into(ByteView body, Body& out, const DecodeLimits& limits = {});

/// Encodes a body the way p2pmesh sends it: sender id as str, time as the smallest uint.
Bytes encode_body(std::uint8_t msg_type, std::string_view sender, std::uint64_t time,
                  std::span<const Value> payload);

/// The same body for a payload [sub_flag, packets...] given in two parts, so the caller's
/// packets are encoded where they are instead of being copied into one array first. The
/// body starts after `headroom` bytes left for the caller (a frame header; see
/// seal_raw_frame), so that a raw frame needs no second buffer.
Bytes encode_body(std::uint8_t msg_type, std::string_view sender, std::uint64_t time,
                  std::uint8_t sub_flag, std::span<const Value> packets, std::size_t headroom);

/// The same, written into `buffer` from offset `headroom` on, so that one buffer can serve
/// message after message: it only grows (and zero-fills) when a body needs more room than
/// it has. Returns headroom + the body's size; the bytes after that are left as they were.
std::size_t encode_body_into(Bytes& buffer, std::uint8_t msg_type, std::string_view sender,
                             std::uint64_t time, std::uint8_t sub_flag,
                             std::span<const Value> packets, std::size_t headroom);

}  // namespace p2p::wire
