// Message and Connection: the methods that reach back into their socket.
#include "p2p/message.hpp"

#include "api/access.hpp"
#include "p2p/flags.hpp"

namespace p2p {

Status Message::reply(Array packets) const {
  const std::size_t bytes = detail::packets_bytes(packets);
  return detail::run_command(
      owner_, "reply",
      [to = detail::Access::reply_target(*this), packets = std::move(packets)](
          core::Node& n, core::Time t) { return n.reply(to, packets, t); },
      bytes);
}

std::string Message::repr() const {
  std::string out = "Message(type=" + std::to_string(type_) + ", packets=[";
  for (std::size_t i = 0; i < packets_.size(); ++i) {
    if (i) out += ", ";
    out += packets_[i].repr();
  }
  return out + "], sender=" + sender_ + ")";
}

Status Connection::send(std::uint8_t flag, std::uint8_t type, Array packets) const {
  if (flag != flags::broadcast && flag != flags::whisper)
    return Error{Errc::invalid_argument, "flag must be flags::broadcast or flags::whisper"};
  const std::size_t bytes = detail::packets_bytes(packets);
  return detail::run_command(
      owner_, "send on a connection",
      [conn = conn_, flag, type, packets = std::move(packets)](core::Node& n, core::Time t) {
        return n.send_to(conn, packets, flag, type, t);
      },
      bytes);
}

}  // namespace p2p
