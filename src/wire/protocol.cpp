#include "p2p/protocol.hpp"

#include <utility>

#include "p2p/wire/ids.hpp"

namespace p2p {

Protocol::Protocol(std::string subnet, std::string encryption)
    : subnet_(std::move(subnet)),
      encryption_(std::move(encryption)),
      id_(wire::protocol_id(subnet_, encryption_, protocol_version)) {}

}  // namespace p2p
