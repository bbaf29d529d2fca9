// Reading the golden vector files (tests/golden/README.md): hex, base64, gzip and the typed
// "expect" descriptions, turned into bytes and p2p::Values.
//
// gzip is inflated with zlib directly, not with p2pmesh's own decompressor, so that a bug in
// the code under test cannot hide in the test data it is checked against.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "p2p/bytes.hpp"
#include "p2p/value.hpp"
#include "support/json.hpp"

namespace p2p::golden {

using test_support::Json;

inline Bytes from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) throw std::runtime_error("odd-length hex");
  auto nibble = [](char c) -> std::uint8_t {
    if (c >= '0' && c <= '9') return static_cast<std::uint8_t>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<std::uint8_t>(c - 'a' + 10);
    if (c >= 'A' && c <= 'F') return static_cast<std::uint8_t>(c - 'A' + 10);
    throw std::runtime_error("bad hex digit");
  };
  Bytes out(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<std::uint8_t>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  }
  return out;
}

inline Bytes from_base64(std::string_view text) {
  auto sextet = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  Bytes out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    int v = sextet(c);
    if (v < 0) throw std::runtime_error("bad base64 character");
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(acc >> bits));
    }
  }
  return out;
}

inline Bytes gunzip(const Bytes& in) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) throw std::runtime_error("inflateInit2");
  Bytes out;
  std::uint8_t buf[65536];
  zs.next_in = const_cast<std::uint8_t*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = buf;
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      throw std::runtime_error("corrupt gzip in a vector file");
    }
    out.insert(out.end(), buf, buf + (sizeof buf - zs.avail_out));
  }
  inflateEnd(&zs);
  return out;
}

/// The bytes of "frame" or "body" of a vector, from `<field>_hex` or `<field>_gz_b64`.
inline Bytes field_bytes(const Json& vector, const std::string& field) {
  if (const Json* hex = vector.find(field + "_hex")) return from_hex(hex->as_string());
  return gunzip(from_base64(vector.at(field + "_gz_b64").as_string()));
}

inline Bytes repeat_bytes(const Bytes& unit, std::size_t length) {
  if (unit.empty()) throw std::runtime_error("empty repeat unit");
  Bytes out(length);
  for (std::size_t i = 0; i < length; ++i) out[i] = unit[i % unit.size()];
  return out;
}

/// The Value an "expect" description stands for, with exactly the msgpack type it names.
inline Value expected_value(const Json& e) {
  if (!e.is_object() || e.members.empty()) throw std::runtime_error("bad expect entry");
  const std::string& type = e.members.front().first;
  const Json& v = e.members.front().second;
  if (type == "uint") return Value(v.as_uint());
  if (type == "int") return Value(v.as_int());
  if (type == "f64") return Value(v.as_double());
  if (type == "f32") return Value(static_cast<float>(v.as_double()));
  if (type == "str") return Value(v.as_string());
  if (type == "bin_hex") return Value(from_hex(v.as_string()));
  if (type == "nil") return Value();
  if (type == "bool") return Value(v.as_bool());
  if (type == "bin_repeat") {
    return Value(repeat_bytes(from_hex(v.as_string()), e.at("len").as_uint()));
  }
  if (type == "str_repeat") {
    const std::string& unit = v.as_string();
    Bytes unit_bytes(unit.begin(), unit.end());
    Bytes all = repeat_bytes(unit_bytes, e.at("len").as_uint());
    return Value(std::string(all.begin(), all.end()));
  }
  if (type == "array") {
    Array items;
    for (const Json& item : v.as_array()) items.push_back(expected_value(item));
    return Value(std::move(items));
  }
  if (type == "map") {
    Map pairs;
    for (const Json& pair : v.as_array()) {
      const auto& kv = pair.as_array();
      if (kv.size() != 2) throw std::runtime_error("map entry is not a pair");
      pairs.emplace_back(expected_value(kv[0]), expected_value(kv[1]));
    }
    return Value(std::move(pairs));
  }
  throw std::runtime_error("unknown expect type " + type);
}

/// A Value's repr, cut short so a 1 MiB mismatch does not flood the log.
inline std::string short_repr(const Value& v) {
  std::string r = v.repr();
  if (r.size() > 300) r = r.substr(0, 300) + "... (" + std::to_string(r.size()) + " chars)";
  return r;
}

}  // namespace p2p::golden
