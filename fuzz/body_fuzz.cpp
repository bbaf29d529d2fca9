// The body decoder and the engine's message-level validation, on arbitrary msgpack bodies.
// frame_fuzz reaches decode_body only through frames whose SHA-256 verifies, which random
// mutation almost never keeps; here the input IS the body.
//
//   1. decode_body agrees with the generic decoder (it accepts exactly the arrays of >= 3
//      elements with a small uint, a str/bin id and a non-negative time), and what it
//      accepts re-encodes to a body that decodes to the same message;
//      decode_body_into, over a Body left by other input (half of this one, whatever that
//      decoded to, even partly), agrees with decode_body;
//   2. the body, framed correctly (raw and snappy), is fed to a core::Node on a link before its
//      handshake and on a handshaked link, with EngineHarness checking the engine's outbox
//      and bounds: whatever the body says, the engine neither crashes nor misbehaves.
#include <cstddef>
#include <cstdint>
#include <exception>

#include "engine_harness.hpp"
#include "p2p/protocol.hpp"

namespace {

using namespace p2p;
using namespace p2p::fuzz;

constexpr std::size_t max_depth = 8;

/// A node decodes every frame into one Body: whatever an earlier frame left there, the result
/// must be decode_body()'s.
void check_decode_into(ByteView input, const Result<wire::Body>& body,
                       const wire::DecodeLimits& limits) {
  wire::Body reused;
  const Bytes rich = wire::encode_body(
      flags::broadcast, "an earlier sender", 1,
      Array{0, "str", Bytes{1, 2}, Value::array({Value::array({1}), Bytes{3}}), 2.5, nullptr});
  (void)wire::decode_body_into(rich, reused, limits);
  (void)wire::decode_body_into(input.subspan(input.size() / 2), reused, limits);
  const Status into = wire::decode_body_into(input, reused, limits);
  check(into.ok() == body.ok(), "decode_body_into and decode_body disagree on validity");
  if (!body) return;
  check(reused.msg_type == body->msg_type && reused.sender == body->sender &&
            reused.sender_is_bin == body->sender_is_bin && reused.time == body->time &&
            wire::encode(Value(reused.payload)) == wire::encode(Value(body->payload)),
        "decode_body_into over a used body gives another message");
}

void check_decoder(ByteView input) {
  const wire::DecodeLimits limits{max_depth};
  auto body = wire::decode_body(input, limits);
  check_decode_into(input, body, limits);
  auto generic = wire::decode(input, limits);
  if (!body) {
    // Either not msgpack at all, or msgpack without the envelope.
    if (generic) {
      const Array* a = generic->if_array();
      const bool envelope_ok =
          a && a->size() >= 3 && (*a)[0].is_int() && !(*a)[0].is_negative_int() &&
          (*a)[0].as_uint() < 256 && ((*a)[1].is_str() || (*a)[1].is_bin()) &&
          (((*a)[2].is_int() && !(*a)[2].is_negative_int()) || (*a)[2].is_float());
      check(!envelope_ok || (*a)[2].is_float(), "decode_body refused a valid envelope");
    }
    return;
  }
  check(generic.ok(), "decode_body accepted what msgpack refuses");
  const Array* a = generic->if_array();
  check(a && a->size() == body->payload.size() + 3, "decode_body lost payload elements");
  // Compared by encoding: a NaN packet is not == to itself.
  for (std::size_t i = 0; i < body->payload.size(); ++i)
    check(wire::encode((*a)[i + 3]) == wire::encode(body->payload[i]),
          "decode_body changed a payload element");
  check(body->sender_is_bin == (*a)[1].is_bin(), "decode_body misreports the id's type");

  const Bytes again = wire::encode_body(body->msg_type, body->sender, body->time, body->payload);
  auto back = wire::decode_body(again, limits);
  check(back.ok(), "a re-encoded body does not decode");
  check(back->msg_type == body->msg_type && back->sender == body->sender &&
            back->time == body->time &&
            wire::encode(Value(back->payload)) == wire::encode(Value(body->payload)),
        "a re-encoded body decodes to another message");
}

// Built once: Protocol and the config cost two base58 conversions that would otherwise be a
// sizeable part of every execution.
const core::NodeConfig& config() {
  static const core::NodeConfig c = [] {
    core::NodeConfig n;
    n.protocol = Protocol("mesh", "Plaintext");
    n.out_addr = Address{"10.0.0.1", 4000};
    n.id_salt = "fuzz";
    // snappy: the cheapest codec to set up, so the engine's own frames cost little.
    n.compression = {wire::Compression::snappy};
    n.limits = small_limits();
    n.limits.max_body_bytes = 64 * 1024;
    n.limits.max_frame_bytes = 64 * 1024;
    return n;
  }();
  return c;
}

const Bytes& handshake_frame() {
  static const Bytes frame = [] {
    const Value id("PeerAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    const Array payload{Value(flags::handshake), id, Value(config().protocol.id()),
                        Value::array({Value("10.0.0.2"), Value(4001)}),
                        Value::array({Value(flags::snappy)})};
    return wire::make_frame(wire::encode_body(flags::whisper, id.as_str(), utc_base, payload))
        .value();
  }();
  return frame;
}

void check_engine(ByteView input) {
  EngineHarness h(config());
  core::Node& node = h.node();
  const ConnId fresh = h.incoming({"10.0.0.9", 5000});
  const ConnId peer = h.incoming({"10.0.0.2", 4001});
  h.settle();
  h.bytes(peer, handshake_frame());
  h.settle();
  check(node.routing_table().size() == 1, "the handshake did not complete");

  const Bytes raw = wire::make_frame(input).value();
  h.bytes(fresh, raw);
  h.settle();
  h.bytes(peer, raw);
  h.settle();
  // The same body again, compressed as the link negotiated: a duplicate, or a second try.
  if (auto zipped = wire::make_frame(input, wire::Compression::snappy)) {
    h.bytes(peer, *zipped);
    h.settle();
  }
  h.advance(std::chrono::seconds(61));
  node.tick(h.now());
  h.settle();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  try {
    check_decoder(input);
    check_engine(input);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "exception escaped: %s\n", e.what());
    std::abort();
  }
  return 0;
}
