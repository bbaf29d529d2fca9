// core::Node fed arbitrary event sequences: connections opening (both ways), dial results,
// raw bytes, well-formed frames of every message kind, closes, the clock, and every user
// command -- with EngineHarness checking the outbox and the engine's bounds after each step.
//
// Input layout (read front to back, see fuzz/make_seed_corpus.py for seeds):
//   byte 0: configuration (compression set, self-healing);
//   byte 1: what the user handler does with each message it sees: decline, take it, or call
//           back into the engine (disconnect, send, reply);
//   then steps, each an opcode byte and its arguments, until the input ends.
#include <cstddef>
#include <cstdint>
#include <exception>

#include "engine_frames.hpp"

namespace {

using namespace p2p;
using namespace p2p::fuzz;

core::NodeConfig make_config(std::uint8_t b) {
  static const Protocol protocol("mesh", "Plaintext");  // a base58 conversion: once
  core::NodeConfig c;
  c.protocol = protocol;
  c.out_addr = Address{"10.0.0.1", 4000};
  c.id_salt = "fuzz";
  c.seed = b;
  c.max_outgoing = 2;
  c.auto_reconnect = (b & 0x08) != 0;
  c.limits = small_limits();
  // What we advertise and write with. bz2 and lzma are read-only here: compressing with them
  // costs milliseconds (an 8 MiB / 94 MiB encoder state), which would slow the fuzzer tenfold;
  // their decoders are fuzzed by decompress_{bz2,lzma}_fuzz and frame_fuzz.
  using wire::Compression;
  switch (b % 4) {
    case 0:
      c.compression = {Compression::snappy, Compression::zlib, Compression::gzip};
      break;
    case 1:
      c.compression = {};
      break;
    case 2:
      c.compression = {Compression::gzip, Compression::zlib};
      break;
    default:
      c.compression = {Compression::zlib};
      break;
  }
  return c;
}

enum class Which { any, open, dialing };

// Connections the simulated runtime holds at once: max_connections (6) and many more on
// their way out, so the engine's refusals and closes are still reached.
constexpr std::size_t max_runtime_connections = 32;

/// A connection the runtime knows, chosen by one byte; 0xff names one that does not exist.
/// Bytes only ever arrive on open connections (a dial in progress has no socket yet).
std::optional<ConnId> pick(const EngineHarness& h, std::uint8_t b, Which which = Which::any) {
  if (b == 0xff && which != Which::dialing) return ConnId{1'000'000};
  std::vector<ConnId> ids;
  for (const auto& [id, state] : h.conns()) {
    const bool dialing = state == EngineHarness::State::dialing;
    if (which == Which::any || (which == Which::dialing) == dialing) ids.push_back(id);
  }
  if (ids.empty()) return std::nullopt;
  return ids[b % ids.size()];
}

/// The engine's connections the runtime still has to report closed.
std::optional<ConnId> pick_closing(const EngineHarness& h, std::uint8_t b) {
  std::vector<ConnId> ids;
  for (const auto& [id, state] : h.conns())
    if (h.asked_to_close(id)) ids.push_back(id);
  if (ids.empty()) return std::nullopt;
  return ids[b % ids.size()];
}

std::chrono::nanoseconds advance_for(std::uint8_t b) {
  using namespace std::chrono;
  // Up to 10 s in 50 ms steps (handshake, stall and request timeouts), or up to 110 s in
  // 2 s steps (the 60 s broadcast window, backoff).
  if (b < 200) return milliseconds(50 * b);
  return seconds(2 * (b - 200));
}

void step(Reader& in, EngineHarness& h, FrameBuilder& fb) {
  core::Node& node = h.node();
  const std::uint8_t op = in.u8();
  switch (op % 16) {
    case 0: {
      const Address from = address_for(in.u8(), node.out_addr());
      // A real runtime finishes the closes the engine asks for within moments, so it never
      // holds more than a few sockets beyond max_connections. Without this cap an input of
      // repeated opens makes thousands, and every step (and invariant check) walks them all.
      if (h.conns().size() < max_runtime_connections) h.incoming(from);
      break;
    }
    case 1:
      if (auto c = pick(h, in.u8(), Which::dialing)) h.dial_connected(*c);
      break;
    case 2:
      if (auto c = pick(h, in.u8(), Which::dialing)) h.dial_failed(*c);
      break;
    case 3: {  // raw bytes, up to 255
      const auto c = pick(h, in.u8(), Which::open);
      const ByteView data = in.bytes(in.u8());
      if (c) h.bytes(*c, data);
      break;
    }
    case 4: {  // a well-formed frame, whole or in two pieces
      const auto c = pick(h, in.u8(), Which::open);
      const std::uint8_t split = in.u8();
      const Bytes f = fb.frame();
      if (!c || f.empty()) break;
      const std::size_t at = split % f.size();
      h.bytes(*c, ByteView(f).first(at));
      h.settle();
      h.bytes(*c, ByteView(f).subspan(at));
      break;
    }
    case 5:  // the peer closed, or an I/O error
      if (auto c = pick(h, in.u8())) h.closed(*c);
      break;
    case 6:  // the runtime finished a close the engine asked for
      if (auto c = pick_closing(h, in.u8())) h.closed(*c);
      break;
    case 7:
      h.advance(advance_for(in.u8()));
      node.tick(h.now());
      break;
    case 8: {
      const std::uint8_t b = in.u8();
      (void)node.send(fb.packets(), b & 1 ? flags::whisper : flags::broadcast, b >> 1, h.now());
      break;
    }
    case 9: {
      const auto c = pick(h, in.u8());
      const std::uint8_t b = in.u8();
      const Array packets = fb.packets();
      if (c) (void)node.send_to(*c, packets, b & 1 ? flags::whisper : b % 5, b >> 1, h.now());
      break;
    }
    case 10: {
      const std::uint8_t a = in.u8();
      const std::uint8_t i = in.u8();
      std::optional<core::PeerId> id;
      if (i & 1) id = (i >> 1) % 6 == 5 ? node.id() : peer_ids()[(i >> 1) % 6];
      Address addr = address_for(a, node.out_addr());
      if (a & 0x80) addr.port = 0;
      (void)node.connect(addr, id, h.now());
      break;
    }
    case 11:
      if (auto c = pick(h, in.u8())) node.disconnect(*c, "fuzz: user");
      break;
    case 12:
      node.request_peers(h.now());
      break;
    case 13: {  // reply to a delivered message, or to someone we never heard of
      const std::uint8_t b = in.u8();
      core::Message to;
      if (!h.delivered().empty() && (b & 1)) {
        to = h.delivered()[(b >> 1) % h.delivered().size()];
      } else {
        const Value id = fb.id_value();
        to.sender = id.is_str() ? id.as_str() : std::string(as_chars(id.as_bin()));
        to.sender_is_bin = id.is_bin();
      }
      const Array packets = fb.packets();
      h.capture_request_ids(true);
      (void)node.reply(to, packets, h.now());
      h.settle();
      h.capture_request_ids(false);
      break;
    }
    case 14: {  // raw bytes, up to 64 KiB (partial frames, oversize headers)
      const std::uint16_t n = in.u16();
      const auto c = pick(h, in.u8(), Which::open);
      const ByteView data = in.bytes(n);
      if (c) h.bytes(*c, data);
      break;
    }
    default:
      break;
  }
  h.settle();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Reader in(data, size);
  try {
    EngineHarness h(make_config(in.u8()));
    FrameBuilder fb(in, h);
    core::Node& node = h.node();
    // Re-entrant handler: may decline, take the message, or call back into the engine. What
    // it does comes from header byte 1, not from the step stream, so that a seed's steps stay
    // aligned however many messages reach the handler.
    const std::uint8_t mode = in.u8();
    std::uint32_t calls = 0;
    node.register_handler([&](const core::Message& msg, const core::LinkView& link) {
      const std::uint32_t action = mode >= 128 ? mode % 6 : (mode + calls++) % 6;
      switch (action) {
        case 0:
          return false;
        case 1:
          return true;
        case 2:
          node.disconnect(link.conn, "fuzz: handler");
          return true;
        case 3:
          (void)node.send(Array{Value("echo")}, flags::broadcast, flags::broadcast, h.now());
          return false;
        case 4:
          (void)node.reply(msg, Array{Value("re")}, h.now());
          return true;
        default:
          (void)node.send_to(link.conn, Array{Value("to")}, flags::whisper, flags::whisper,
                             h.now());
          return true;
      }
    });
    while (!in.done()) step(in, h, fb);
    // Let every timer fire: timeouts, expiry and self-healing must keep the bounds too.
    for (int i = 0; i < 3; ++i) {
      h.advance(std::chrono::seconds(61));
      node.tick(h.now());
      h.settle();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "exception escaped the engine: %s\n", e.what());
    std::abort();
  }
  return 0;
}
