// Writes frames the way p2pmesh sends them, for the reverse golden check: check_py2p.py and
// check_js2p.js decode them with the reference implementations' own code.
//
// Usage: golden_emit_frames OUT.json
// Output: {"advertised": [flags p2pmesh advertises, in order],
//          "frames": [{"name", "compression" (name or null), "id_hex", "frame_hex",
//                      "expect": {"msg_type", "sender": {"str": id}, "time", "payload"}}]}
// "expect" uses the typed form of tests/golden/README.md, plus {"f32": x} and, for str/bin
// packets over 64 KiB, {"bin_sha256": hex, "len": N} / {"str_sha256": hex, "len": N}.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "p2p/flags.hpp"
#include "p2p/value.hpp"
#include "p2p/wire/compression.hpp"
#include "p2p/wire/frame.hpp"
#include "p2p/wire/ids.hpp"
#include "p2p/wire/message.hpp"
#include "support/json.hpp"

namespace {

using p2p::Array;
using p2p::Bytes;
using p2p::Map;
using p2p::Value;
using p2p::test_support::json_quote;
namespace flags = p2p::flags;
namespace wire = p2p::wire;

constexpr std::uint64_t fixed_time = 1500000000;  // as in the reference vectors
constexpr std::size_t large_packet = 64 * 1024;

std::string number(double d) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  return buf;
}

std::string describe(const Value& v) {
  switch (v.type()) {
    case Value::Type::nil:
      return R"({"nil":null})";
    case Value::Type::boolean:
      return std::string(R"({"bool":)") + (v.as_bool() ? "true}" : "false}");
    case Value::Type::integer:
      return v.is_negative_int() ? R"({"int":)" + std::to_string(v.as_int()) + "}"
                                 : R"({"uint":)" + std::to_string(v.as_uint()) + "}";
    case Value::Type::float32:
      return R"({"f32":)" + number(v.as_double()) + "}";
    case Value::Type::float64:
      return R"({"f64":)" + number(v.as_double()) + "}";
    case Value::Type::str:
      if (v.as_str().size() > large_packet) {
        return R"({"str_sha256":")" + wire::digest_hex(wire::sha256(p2p::as_bytes(v.as_str()))) +
               R"(","len":)" + std::to_string(v.as_str().size()) + "}";
      }
      return R"({"str":)" + json_quote(v.as_str()) + "}";
    case Value::Type::bin:
      if (v.as_bin().size() > large_packet) {
        return R"({"bin_sha256":")" + wire::digest_hex(wire::sha256(v.as_bin())) + R"(","len":)" +
               std::to_string(v.as_bin().size()) + "}";
      }
      return R"({"bin_hex":")" + p2p::to_hex(v.as_bin()) + "\"}";
    case Value::Type::array: {
      std::string out = R"({"array":[)";
      for (std::size_t i = 0; i < v.as_array().size(); ++i) {
        out += (i ? "," : "") + describe(v.as_array()[i]);
      }
      return out + "]}";
    }
    case Value::Type::map: {
      std::string out = R"({"map":[)";
      bool first = true;
      for (const auto& [key, value] : v.as_map()) {
        out += (first ? "[" : ",[") + describe(key) + "," + describe(value) + "]";
        first = false;
      }
      return out + "]}";
    }
  }
  return "null";
}

Bytes pattern(std::size_t length) {
  Bytes out(length);
  for (std::size_t i = 0; i < length; ++i) out[i] = static_cast<std::uint8_t>(i % 251);
  return out;
}

struct Message {
  std::string name;
  std::uint8_t msg_type;
  Array payload;
};

std::vector<Message> messages_to_send(const std::string& my_id, const std::string& protocol) {
  const std::string id_a = wire::node_id("('127.0.0.1', 47101)", protocol, "golden-salt");
  const std::string id_b = wire::node_id("('10.0.0.7', 5000)", protocol, "golden-salt");
  Array advertised;
  for (wire::Compression c : wire::all_compressions) {
    advertised.emplace_back(static_cast<std::uint64_t>(c));
  }
  Array ints{Value(flags::broadcast)};
  for (std::uint64_t u :
       {0ull, 1ull, 127ull, 128ull, 255ull, 256ull, 65535ull, 65536ull, (1ull << 31) - 1,
        1ull << 31, (1ull << 32) - 1, 1ull << 32, (1ull << 63) - 1, ~0ull}) {
    ints.emplace_back(u);
  }
  for (std::int64_t i : {std::int64_t{-1}, std::int64_t{-32}, std::int64_t{-33}, std::int64_t{-128},
                         std::int64_t{-129}, std::int64_t{-32768}, std::int64_t{-32769},
                         std::int64_t{-2147483648LL}, std::int64_t{-2147483649LL}, INT64_MIN}) {
    ints.emplace_back(i);
  }
  Bytes all_bytes(256);
  for (int i = 0; i < 256; ++i)
    all_bytes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i);

  return {
      {"handshake",
       flags::whisper,
       {Value(flags::handshake), Value(my_id), Value(protocol), Value::array({"127.0.0.1", 47100}),
        Value(advertised)}},
      {"peers",
       flags::whisper,
       {Value(flags::peers),
        Value::array({Value::array({Value::array({"127.0.0.1", 47101}), id_a}),
                      Value::array({Value::array({"10.0.0.7", 5000}), id_b})})}},
      {"request_peers", flags::whisper, {Value(flags::request), Value("*")}},
      {"broadcast_str",
       flags::broadcast,
       {Value(flags::broadcast), "", "hello", std::string(31, 'x'), std::string(32, 'y'),
        std::string(255, 'z'), std::string(256, 'w'),
        "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80"}},
      {"broadcast_bin",
       flags::broadcast,
       {Value(flags::broadcast), Value(Bytes{}), Value(Bytes{0, 1, 2}),
        Value(Bytes(all_bytes.begin(), all_bytes.begin() + 255)), Value(all_bytes),
        Value(Bytes(300, 0xff))}},
      {"broadcast_ints", flags::broadcast, ints},
      {"broadcast_floats",
       flags::broadcast,
       {Value(flags::broadcast), 0.5, -1.25, 1e300, 0.0, 0.5f, -1.25f}},
      {"broadcast_nil_bool", flags::broadcast, {Value(flags::broadcast), nullptr, true, false}},
      {"broadcast_nested",
       flags::broadcast,
       {Value(flags::broadcast),
        Value::array(
            {1, Value::array({2, Value::array({3, Value::array({})})}), "s", Value(Bytes{'b'})}),
        Value::map({{"a", 1},
                    {"b", Value::array({Value(Bytes{'x'}), nullptr, true})},
                    {"c", Value::map({{"d", -5}})}}),
        Value::array({}), Value::map({}),
        Value::array({Value::map({{"deep", Value::array({Value::array({Value::array({Value::array(
                                               {Value::map({{"er", 0.5}})})})})})}})})}},
      {"broadcast_no_packets", flags::broadcast, {Value(flags::broadcast)}},
      {"empty_payload", flags::broadcast, {}},
      {"whisper_str_bin",
       flags::whisper,
       {Value(flags::whisper), "from-cpp", Value(Bytes{0, 1, 2})}},
      {"broadcast_str32", flags::broadcast, {Value(flags::broadcast), std::string(70000, 's')}},
      {"broadcast_1mib", flags::broadcast, {Value(flags::broadcast), Value(pattern(1u << 20))}},
  };
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " OUT.json\n";
    return 2;
  }
  const std::string protocol = wire::protocol_id("mesh", "Plaintext");
  const std::string my_id = wire::node_id("('127.0.0.1', 47100)", protocol, "golden-salt");

  std::string out = "{\"advertised\":[";
  for (std::size_t i = 0; i < wire::all_compressions.size(); ++i) {
    out += (i ? "," : "") + std::to_string(static_cast<int>(wire::all_compressions[i]));
  }
  out += "],\n\"frames\":[\n";
  std::vector<std::optional<wire::Compression>> methods{std::nullopt};
  methods.insert(methods.end(), wire::all_compressions.begin(), wire::all_compressions.end());

  bool first = true;
  for (const Message& m : messages_to_send(my_id, protocol)) {
    const Bytes body = wire::encode_body(m.msg_type, my_id, fixed_time, m.payload);
    std::string expect = R"({"msg_type":)" + std::to_string(m.msg_type) + R"(,"sender":{"str":)" +
                         json_quote(my_id) + R"(},"time":)" + std::to_string(fixed_time) +
                         R"(,"payload":[)";
    for (std::size_t i = 0; i < m.payload.size(); ++i) {
      expect += (i ? "," : "") + describe(m.payload[i]);
    }
    expect += "]}";
    for (const auto& method : methods) {
      p2p::Result<Bytes> frame = wire::make_frame(body, method);
      if (!frame) {
        std::cerr << "make_frame failed for " << m.name << ": " << frame.error().to_string()
                  << "\n";
        return 1;
      }
      out += first ? "" : ",\n";
      first = false;
      out += R"({"name":)" + json_quote(m.name) + R"(,"compression":)" +
             (method ? json_quote(wire::compression_name(*method)) : std::string("null")) +
             R"(,"id_hex":")" + wire::digest_hex(wire::sha256(body)) + R"(","frame_hex":")" +
             p2p::to_hex(*frame) + R"(","expect":)" + expect + "}";
    }
  }
  out += "\n]}\n";

  std::ofstream file(argv[1], std::ios::binary);
  file << out;
  if (!file.flush()) {
    std::cerr << "cannot write " << argv[1] << "\n";
    return 1;
  }
  std::cout << "golden_emit_frames: wrote " << argv[1] << "\n";
  return 0;
}
