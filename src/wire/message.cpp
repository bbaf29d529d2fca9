// Message bodies, encoded and decoded in place with the msgpack codec's building blocks: no
// temporary Value array is built for the envelope, and the sender id is read straight from
// the input into its string.
#include "p2p/wire/message.hpp"

#include <cmath>
#include <string>

#include "wire/msgpack_codec.hpp"

namespace p2p::wire {

namespace {

constexpr std::size_t envelope_size = 3;  // msg_type, sender, time

Error envelope_error(std::string message) {
  return Error{Errc::protocol, "message body: " + std::move(message)};
}

// js2p's msgpack-lite writes integers of 2^32 and above as float64, so a float time is taken
// and truncated, as the references do when they compare it with their clock.
bool time_from_value(const Value& v, std::uint64_t& time) {
  if (v.is_int()) {
    if (v.is_negative_int()) return false;
    time = v.as_uint();
    return true;
  }
  if (v.is_float()) {
    const double d = v.as_double();
    // 2^64 is exactly representable; anything at or above it does not fit.
    if (!(d >= 0.0) || !(d < 18446744073709551616.0)) return false;  // also rejects NaN
    time = static_cast<std::uint64_t>(d);
    return true;
  }
  return false;
}

}  // namespace

Status decode_body_into(ByteView data, Body& body, const DecodeLimits& limits) {
  detail::Reader reader(data, limits);
  if (!data.empty() && !reader.next_is_array()) {
    return envelope_error("not a msgpack array");
  }
  std::size_t count = 0;
  if (!reader.read_array_header(count, 1)) return reader.error();
  if (count < envelope_size) {
    return envelope_error(std::to_string(count) + " elements, at least 3 needed");
  }

  Value msg_type;
  if (!reader.read_value(msg_type, 1)) return reader.error();
  if (!msg_type.is_int() || msg_type.is_negative_int() || msg_type.as_uint() > 0xff) {
    return envelope_error("msg_type must be an integer in [0, 255], got " + msg_type.repr());
  }
  body.msg_type = static_cast<std::uint8_t>(msg_type.as_uint());

  if (!reader.read_str_or_bin(body.sender, body.sender_is_bin)) return reader.error();

  Value time;
  if (!reader.read_value(time, 1)) return reader.error();
  if (!time_from_value(time, body.time)) {
    return envelope_error("time must be a non-negative number, got " + time.repr());
  }

  // The header check already bounded count by the bytes left, so a reserve is at most one
  // Value per input byte.
  if (!reader.read_items(count - envelope_size, body.payload, 1)) return reader.error();
  if (!reader.at_end()) {
    return Error{Errc::malformed, std::to_string(data.size() - reader.offset()) +
                                      " trailing bytes after the message body"};
  }
  return {};
}

Result<Body> decode_body(ByteView data, const DecodeLimits& limits) {
  Body body;
  if (auto decoded = decode_body_into(data, body, limits); !decoded) return decoded.error();
  return body;
}

Bytes encode_body(std::uint8_t msg_type, std::string_view sender, std::uint64_t time,
                  std::span<const Value> payload) {
  const std::size_t count = envelope_size + payload.size();
  std::size_t size = detail::array_header_size(count) + detail::uint_size(msg_type) +
                     detail::str_header_size(sender.size()) + sender.size() +
                     detail::uint_size(time);
  for (const Value& v : payload) size += detail::encoded_size(v);

  Bytes out(size);
  detail::Writer w(out.data(), out.data() + out.size());
  w.array_header(count);
  w.uint(msg_type);
  w.str(sender);
  w.uint(time);
  for (const Value& v : payload) w.value(v);
  return out;
}

Bytes encode_body(std::uint8_t msg_type, std::string_view sender, std::uint64_t time,
                  std::uint8_t sub_flag, std::span<const Value> packets, std::size_t headroom) {
  Bytes out;
  encode_body_into(out, msg_type, sender, time, sub_flag, packets, headroom);
  return out;
}

std::size_t encode_body_into(Bytes& buffer, std::uint8_t msg_type, std::string_view sender,
                             std::uint64_t time, std::uint8_t sub_flag,
                             std::span<const Value> packets, std::size_t headroom) {
  const std::size_t count = envelope_size + 1 + packets.size();
  std::size_t size = detail::array_header_size(count) + detail::uint_size(msg_type) +
                     detail::str_header_size(sender.size()) + sender.size() +
                     detail::uint_size(time) + detail::uint_size(sub_flag);
  for (const Value& v : packets) size += detail::encoded_size(v);

  const std::size_t end = headroom + size;
  if (buffer.size() < end) buffer.resize(end);
  detail::Writer w(buffer.data() + headroom, buffer.data() + end);
  w.array_header(count);
  w.uint(msg_type);
  w.str(sender);
  w.uint(time);
  w.uint(sub_flag);
  for (const Value& v : packets) w.value(v);
  return end;
}

}  // namespace p2p::wire
