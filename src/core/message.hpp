// A user-level message as the core hands it out.
#pragma once

#include <cstdint>

#include "core/types.hpp"
#include "p2p/value.hpp"
#include "p2p/wire/ids.hpp"

namespace p2p::core {

struct Message {
  std::uint8_t msg_type = 0;   ///< main flag: flags::broadcast or flags::whisper
  PeerId sender;               ///< original sender's id bytes
  bool sender_is_bin = false;  ///< how the sender's id travelled (kept for replies)
  std::uint64_t time = 0;      ///< UTC seconds, as stamped by the sender
  Array packets;               ///< [sub_flag, payload...], as the seeds show them
  wire::Digest256 id{};        ///< sha256 of the body
  ConnId via = 0;              ///< the connection it arrived on
};

}  // namespace p2p::core
