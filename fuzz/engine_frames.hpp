// Well-formed (and nearly well-formed) frames a fuzzed peer sends to the engine, built with
// the library's own encoders from a few input bytes: the fuzzer picks which message, from
// whom, with which compression, and the frame is right by construction -- so the engine's
// handling of handshakes, peers lists, broadcasts, requests and responses is reached without
// the fuzzer having to forge a SHA-256.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "engine_harness.hpp"
#include "p2p/protocol.hpp"

namespace p2p::fuzz {

/// Peer ids the fuzzed peers use; the engine's own id is added as the last choice.
inline const std::array<std::string, 5>& peer_ids() {
  static const std::array<std::string, 5> ids = {
      "PeerAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      "PeerBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
      "2uo1buouXCHjgoCJo9j6dqYMSDV3Wq4NCxaokdqmqi",
      "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
      "1",
  };
  return ids;
}

/// Addresses: peers, the engine's own (index 0), and one a fuzzed peer may claim twice.
inline Address address_for(std::uint8_t i, const Address& own) {
  switch (i % 6) {
    case 0:
      return own;
    case 1:
      return {"10.0.0.2", 4001};
    case 2:
      return {"10.0.0.3", 4002};
    case 3:
      return {"10.0.0.4", 4003};
    case 4:
      return {"127.0.0.1", 4004};
    default:
      return {"::1", 65535};
  }
}

class FrameBuilder {
 public:
  FrameBuilder(Reader& in, EngineHarness& h) : in_(in), h_(h) {}

  /// A peer id (str or bin, as py2p sends bin and js2p str), possibly the engine's own.
  Value id_value() {
    const std::uint8_t b = in_.u8();
    const std::string id = (b % 6) == 5 ? h_.node().id() : peer_ids()[b % 6];
    if (b & 0x80) return Value::bin(as_bytes(id));
    return Value(id);
  }
  Value address_value() {
    const std::uint8_t b = in_.u8();
    const Address a = address_for(b, h_.node().out_addr());
    if (b & 0x80) return Value::array({Value(a.host), Value(std::int64_t{-1})});  // bad port
    return Value::array({Value(a.host), Value(a.port)});
  }
  /// A list of compression flags: each of the five methods and one unknown flag, in order or
  /// reversed.
  Value methods_value() {
    static constexpr std::array<std::uint8_t, 6> all = {flags::snappy, flags::zlib, flags::gzip,
                                                        flags::bz2,    flags::lzma, 0x30};
    const std::uint8_t bits = in_.u8();
    Array list;
    for (std::size_t i = 0; i < all.size(); ++i)
      if (bits & (1u << i)) list.emplace_back(all[i]);
    if (bits & 0x40) std::reverse(list.begin(), list.end());
    if (bits & 0x80) list.emplace_back("not a flag");
    return Value(std::move(list));
  }
  /// A small user packet of any msgpack type.
  Value packet(int depth = 0) {
    const std::uint8_t b = in_.u8();
    switch (b % 9) {
      case 0:
        return Value(nullptr);
      case 1:
        return Value((b & 0x10) != 0);
      case 2:
        return Value(std::uint64_t{in_.u8()} << (b >> 4) * 4);
      case 3:
        return Value(-static_cast<std::int64_t>(in_.u8()) - 1);
      case 4:
        return Value(0.5 * in_.u8());
      case 5:
        return Value(std::string(in_.u8() % 40, 'x'));
      case 6:
        return Value(Bytes(in_.u8() % 300, 0xab));
      case 7:
        if (depth < 3) return Value::array({packet(depth + 1), packet(depth + 1)});
        return Value(Array{});
      default:
        if (depth < 3) return Value::map({{Value("k"), packet(depth + 1)}});
        return Value(Map{});
    }
  }
  Array packets() {
    Array out;
    const std::size_t n = in_.u8() % 4;
    for (std::size_t i = 0; i < n; ++i) out.push_back(packet());
    return out;
  }
  /// A request id: one the engine really sent (so a `response` reaches a pending reply) or
  /// a made-up one.
  Value request_id() {
    const std::uint8_t b = in_.u8();
    const auto& ids = h_.request_ids();
    if (!ids.empty() && (b & 1)) return Value(ids[(b >> 1) % ids.size()]);
    return Value("request-" + std::to_string(b % 4));
  }

  /// One frame, header included.
  Bytes frame() {
    const std::uint8_t kind = in_.u8();
    const std::uint8_t how = in_.u8();
    std::uint8_t msg_type = flags::whisper;
    Value sender = id_value();
    Array payload;
    switch (kind % 10) {
      case 0: {  // handshake
        const std::uint8_t p = in_.u8();
        Value proto(p % 3 == 1 ? std::string("WrongProtocolId") : h_.node().protocol().id());
        if (p % 3 == 2) proto = Value::bin(as_bytes(h_.node().protocol().id()));
        payload = {Value(flags::handshake), sender, proto, address_value(), methods_value()};
        break;
      }
      case 1: {  // peers list
        Array list;
        const std::size_t n = in_.u8() % 5;
        for (std::size_t i = 0; i < n; ++i)
          list.push_back(Value::array({address_value(), id_value()}));
        payload = {Value(flags::peers), Value(std::move(list))};
        break;
      }
      case 2:    // broadcast
      case 3: {  // whisper
        msg_type = kind % 10 == 2 ? flags::broadcast : flags::whisper;
        const std::uint8_t sub = in_.u8();
        payload = {Value(sub % 4 == 3 ? std::uint8_t{sub} : std::uint8_t(sub % 2 ? 2 : 0))};
        for (auto& v : packets()) payload.push_back(std::move(v));
        break;
      }
      case 4:  // renegotiate compression
        msg_type = flags::renegotiate;
        payload = {Value(flags::compression), methods_value()};
        break;
      case 5:  // renegotiate resend
        msg_type = flags::renegotiate;
        payload = {Value(flags::resend)};
        break;
      case 6:  // request_peers, str or bin "*"
        payload = {Value(flags::request),
                   in_.u8() & 1 ? Value::bin(as_bytes("*")) : Value(std::string("*"))};
        break;
      case 7:  // request for a peer's address (flooded as a broadcast)
        msg_type = flags::broadcast;
        payload = {Value(flags::request), request_id(), id_value()};
        break;
      case 8:  // response to a request
        msg_type = flags::broadcast;
        payload = {Value(flags::response), request_id(),
                   Value::array({address_value(), id_value()})};
        break;
      default:  // any message type, any payload
        msg_type = in_.u8();
        payload = packets();
        break;
    }
    // The time: now, a little late, just expired, or from the future.
    static constexpr std::array<std::int64_t, 4> skew = {0, -59, -61, 30};
    const auto t =
        static_cast<std::uint64_t>(static_cast<std::int64_t>(h_.now().utc) + skew[(how >> 3) % 4]);
    Array body{Value(msg_type), sender, Value(t)};
    body.insert(body.end(), payload.begin(), payload.end());
    // Frames of the fast codecs only: bz2 and lzma frames come from the golden seeds as raw
    // bytes (compressing them here would cost milliseconds per frame).
    static constexpr std::array<std::optional<wire::Compression>, 4> methods = {
        std::nullopt, wire::Compression::snappy, wire::Compression::zlib, wire::Compression::gzip};
    auto made = wire::make_frame(wire::encode(Value(std::move(body))), methods[how % 4]);
    if (!made) return {};
    Bytes f = std::move(made).value();
    if ((how & 0x60) == 0x60) f.back() ^= 0x01;  // a checksum that does not verify
    return f;
  }

 private:
  Reader& in_;
  EngineHarness& h_;
};

}  // namespace p2p::fuzz
