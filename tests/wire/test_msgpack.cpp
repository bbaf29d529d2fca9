#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "hex_bytes.hpp"
#include "p2p/value.hpp"
#include "p2p/wire/msgpack.hpp"

namespace {

using p2p::Array;
using p2p::Bytes;
using p2p::ByteView;
using p2p::Errc;
using p2p::Map;
using p2p::Value;
using p2p::test::from_hex;
using p2p::wire::decode;
using p2p::wire::DecodeLimits;
using p2p::wire::encode;

std::string hex(const Bytes& b) {
  return p2p::to_hex(b);
}

Errc decode_error(const Bytes& b, const DecodeLimits& limits = {}) {
  auto r = decode(b, limits);
  EXPECT_FALSE(r.ok()) << "decoded " << hex(b).substr(0, 80) << " as " << r->repr();
  return r.ok() ? Errc::invalid_argument : r.error().code;
}

struct Case {
  Value value;
  const char* hex;
};

// Every expected encoding below is what msgpack-python 1.0.3 (`msgpack.packb`, the same
// widths as py2p's umsgpack) produces for the same Python value.
TEST(MsgpackEncode, IntegerWidthBoundaries) {
  const Case cases[] = {
      {0, "00"},
      {127, "7f"},
      {128, "cc80"},
      {255, "ccff"},
      {256, "cd0100"},
      {65535, "cdffff"},
      {65536, "ce00010000"},
      {std::uint64_t{4294967295}, "ceffffffff"},
      {std::uint64_t{4294967296}, "cf0000000100000000"},
      {std::numeric_limits<std::uint64_t>::max(), "cfffffffffffffffff"},
      {-1, "ff"},
      {-32, "e0"},
      {-33, "d0df"},
      {-128, "d080"},
      {-129, "d1ff7f"},
      {-32768, "d18000"},
      {-32769, "d2ffff7fff"},
      {std::int64_t{-2147483648}, "d280000000"},
      {std::int64_t{-2147483649}, "d3ffffffff7fffffff"},
      {std::numeric_limits<std::int64_t>::min(), "d38000000000000000"},
  };
  for (const auto& c : cases) EXPECT_EQ(hex(encode(c.value)), c.hex) << c.value.repr();
}

TEST(MsgpackEncode, ScalarsAndFloats) {
  const Case cases[] = {
      {nullptr, "c0"},
      {true, "c3"},
      {false, "c2"},
      // msgpack-cxx's own pack_double would write 1.0 as the integer 01; py2p writes cb.
      {1.0, "cb3ff0000000000000"},
      {0.1, "cb3fb999999999999a"},
      {-0.0, "cb8000000000000000"},
      {1.5f, "ca3fc00000"},
      {2.0f, "ca40000000"},
  };
  for (const auto& c : cases) EXPECT_EQ(hex(encode(c.value)), c.hex) << c.value.repr();
}

// Header of the encoding of a str / bin / array / map with `n` elements.
std::string header_hex(const Value& v, std::size_t header_size) {
  return hex(encode(v)).substr(0, 2 * header_size);
}

TEST(MsgpackEncode, StrAndBinWidthBoundaries) {
  struct Width {
    std::size_t n;
    const char* str_header;
    const char* bin_header;
  };
  const Width widths[] = {
      {0, "a0", "c400"},
      {31, "bf", "c41f"},
      {32, "d920", "c420"},
      {255, "d9ff", "c4ff"},
      {256, "da0100", "c50100"},
      {65535, "daffff", "c5ffff"},
      {65536, "db00010000", "c600010000"},
  };
  for (const auto& w : widths) {
    const Value s(std::string(w.n, 'a'));
    const Value b(Bytes(w.n, 'x'));
    const std::size_t sh = std::string_view(w.str_header).size() / 2;
    const std::size_t bh = std::string_view(w.bin_header).size() / 2;
    EXPECT_EQ(header_hex(s, sh), w.str_header) << w.n;
    EXPECT_EQ(header_hex(b, bh), w.bin_header) << w.n;
    EXPECT_EQ(encode(s).size(), sh + w.n);
    EXPECT_EQ(encode(b).size(), bh + w.n);
  }
}

TEST(MsgpackEncode, ArrayAndMapWidthBoundaries) {
  struct Width {
    std::size_t n;
    const char* array_header;
    const char* map_header;
  };
  const Width widths[] = {
      {0, "90", "80"},
      {15, "9f", "8f"},
      {16, "dc0010", "de0010"},
      {65535, "dcffff", "deffff"},
      {65536, "dd00010000", "df00010000"},
  };
  for (const auto& w : widths) {
    const Value a(Array(w.n, Value(0)));
    Map m;
    for (std::size_t i = 0; i < w.n; ++i) m.emplace_back(i, 0);
    const Value mv(std::move(m));
    const std::size_t h = std::string_view(w.array_header).size() / 2;
    EXPECT_EQ(header_hex(a, h), w.array_header) << w.n;
    EXPECT_EQ(header_hex(mv, h), w.map_header) << w.n;
    EXPECT_EQ(encode(a).size(), h + w.n);
  }
}

TEST(MsgpackEncode, NestedValuesInOrder) {
  const Value v = Value::map({{"a", Value::array({1, Value(Bytes{0})})}, {2, nullptr}});
  EXPECT_EQ(hex(encode(v)), "82a1619201c4010002c0");
  EXPECT_EQ(hex(encode(Value::array({"from-py", Value(Bytes{0, 1, 2})}))),
            "92a766726f6d2d7079c403000102");
  EXPECT_EQ(hex(encode(Value("h\xc3\xa9llo"))), "a668c3a96c6c6f");
}

TEST(MsgpackEncode, AppendsToExistingBytes) {
  Bytes out{0xaa};
  encode(Value(1), out);
  encode(Value("x"), out);
  EXPECT_EQ(hex(out), "aa01a178");
}

// ---- decoding ---------------------------------------------------------------------------

Value sample_value() {
  return Value::array({
      nullptr,
      true,
      false,
      0,
      127,
      128,
      65535,
      65536,
      std::numeric_limits<std::uint64_t>::max(),
      -1,
      -33,
      -129,
      -32769,
      std::numeric_limits<std::int64_t>::min(),
      1.5f,
      0.1,
      "",
      std::string(31, 's'),
      std::string(32, 't'),
      std::string(300, 'u'),
      Value(Bytes{}),
      Value(Bytes(300, 7)),
      Value::array({}),
      Value(Array(16, Value(1))),
      Value::map({}),
      Value::map({{"k", Value::array({1, Value::map({{nullptr, "deep"}})})},
                  {Value(Bytes{1}), -5},
                  {Value::array({1, 2}), 3.25}}),
  });
}

TEST(MsgpackDecode, RoundTripsEveryType) {
  const Value v = sample_value();
  const Bytes b = encode(v);
  auto r = decode(b);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(*r, v);
  EXPECT_EQ(encode(*r), b);
}

TEST(MsgpackDecode, RoundTripsWidthBoundaries) {
  for (const std::size_t n : {0u, 15u, 16u, 31u, 32u, 255u, 256u, 65535u, 65536u}) {
    for (const Value& v :
         {Value(std::string(n, 'a')), Value(Bytes(n, 0xee)), Value(Array(n, Value(nullptr)))}) {
      auto r = decode(encode(v));
      ASSERT_TRUE(r.ok()) << n << ": " << r.error().to_string();
      EXPECT_EQ(*r, v) << n;
    }
  }
}

TEST(MsgpackDecode, ExtremeIntegers) {
  auto max = decode(from_hex("cfffffffffffffffff"));
  ASSERT_TRUE(max.ok());
  EXPECT_EQ(max->as_uint(), std::numeric_limits<std::uint64_t>::max());
  auto min = decode(from_hex("d38000000000000000"));
  ASSERT_TRUE(min.ok());
  EXPECT_EQ(min->as_int(), std::numeric_limits<std::int64_t>::min());
}

TEST(MsgpackDecode, AcceptsNonCanonicalWidths) {
  // Other encoders may use wider forms than needed; the value is what counts.
  const std::pair<const char*, Value> cases[] = {
      {"cc05", 5},
      {"cd0005", 5},
      {"ce00000005", 5},
      {"cf0000000000000005", 5},
      {"d005", 5},
      {"d1fffb", -5},
      {"d2fffffffb", -5},
      {"d3fffffffffffffffb", -5},
      {"d900", ""},
      {"da0001"
       "61",
       "a"},
      {"db00000001"
       "61",
       "a"},
      {"c50000", Value(Bytes{})},
      {"c60000000100", Value(Bytes{0})},
      {"dc0000", Value::array({})},
      {"dd0000000101", Value::array({1})},
      {"de0000", Value::map({})},
      {"df000000010102", Value::map({{1, 2}})},
      {"ca3fc00000", 1.5f},
  };
  for (const auto& [text, expected] : cases) {
    auto r = decode(from_hex(text));
    ASSERT_TRUE(r.ok()) << text << ": " << r.error().to_string();
    EXPECT_EQ(*r, expected) << text;
  }
}

TEST(MsgpackDecode, FloatWidthIsKept) {
  auto f32 = decode(from_hex("ca3fc00000"));
  auto f64 = decode(from_hex("cb3ff8000000000000"));
  ASSERT_TRUE(f32.ok() && f64.ok());
  EXPECT_EQ(f32->type(), Value::Type::float32);
  EXPECT_EQ(f64->type(), Value::Type::float64);
  EXPECT_EQ(f64->as_double(), 1.5);
}

TEST(MsgpackDecode, MapKeysOfAnyTypeInOrder) {
  auto r =
      decode(from_hex("83"
                      "02c0"
                      "a16101"
                      "c40162"
                      "02"));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  const Map& m = r->as_map();
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].first, Value(2));
  EXPECT_EQ(m[1].first, Value("a"));
  EXPECT_EQ(m[2].first, Value(Bytes{'b'}));
  EXPECT_EQ(m[2].second, Value(2));
}

TEST(MsgpackDecode, TruncatedAtEveryOffset) {
  const Bytes b = encode(sample_value());
  for (std::size_t n = 0; n < b.size(); ++n) {
    const Bytes prefix(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_EQ(decode_error(prefix), Errc::truncated) << "prefix of " << n << " bytes";
  }
}

TEST(MsgpackDecode, NeverUsedByteIsMalformed) {
  EXPECT_EQ(decode_error(from_hex("c1")), Errc::malformed);
  EXPECT_EQ(decode_error(from_hex("92"
                                  "01"
                                  "c1")),
            Errc::malformed);
}

TEST(MsgpackDecode, ExtTypesAreMalformed) {
  for (const char* text : {"d40100", "d5010000",
                           "d601"
                           "00000000",
                           "d701"
                           "0000000000000000",
                           "d801"
                           "00000000000000000000000000000000",
                           "c70101"
                           "00",
                           "c8000101"
                           "00",
                           "c900000001"
                           "01"
                           "00",
                           // timestamp ext (-1), which msgpack-python would turn into a Timestamp
                           "d6ff"
                           "00000000"}) {
    EXPECT_EQ(decode_error(from_hex(text)), Errc::malformed) << text;
  }
}

TEST(MsgpackDecode, TrailingBytesAreMalformed) {
  EXPECT_EQ(decode_error(from_hex("0000")), Errc::malformed);
  EXPECT_EQ(decode_error(from_hex("9101"
                                  "c0")),
            Errc::malformed);
  EXPECT_EQ(decode_error(from_hex("a0"
                                  "a0")),
            Errc::malformed);
}

TEST(MsgpackDecode, EmptyInputIsTruncated) {
  EXPECT_EQ(decode_error(Bytes{}), Errc::truncated);
}

Bytes nested_arrays(std::size_t depth, std::uint8_t array_header = 0x91) {
  Bytes b(depth, array_header);
  b.push_back(0x00);
  return b;
}

TEST(MsgpackDecode, DepthLimit) {
  const DecodeLimits limits;  // max_depth 64
  EXPECT_TRUE(decode(nested_arrays(limits.max_depth), limits).ok());
  EXPECT_EQ(decode_error(nested_arrays(limits.max_depth + 1), limits), Errc::depth_exceeded);
  EXPECT_TRUE(decode(nested_arrays(3), DecodeLimits{3}).ok());
  EXPECT_EQ(decode_error(nested_arrays(4), DecodeLimits{3}), Errc::depth_exceeded);
  // Maps count as levels too, in keys and values alike.
  EXPECT_EQ(decode_error(from_hex("81"
                                  "81"
                                  "0001"
                                  "02"),
                         DecodeLimits{1}),
            Errc::depth_exceeded);
  EXPECT_EQ(decode_error(from_hex("81"
                                  "01"
                                  "9100"),
                         DecodeLimits{1}),
            Errc::depth_exceeded);
  EXPECT_TRUE(decode(from_hex("81"
                              "01"
                              "9100"),
                     DecodeLimits{2})
                  .ok());
  // Depth 0 accepts scalars only.
  EXPECT_TRUE(decode(from_hex("a161"), DecodeLimits{0}).ok());
  EXPECT_EQ(decode_error(from_hex("90"), DecodeLimits{0}), Errc::depth_exceeded);
  // Far deeper than the limit: rejected without recursing through all of it.
  EXPECT_EQ(decode_error(nested_arrays(1'000'000)), Errc::depth_exceeded);
}

TEST(MsgpackDecode, HugeCountsWithShortInputAreRejected) {
  // A hostile header claims up to 4 GiB; the input holds only a few bytes.
  for (const char* text : {"ddffffffff"
                           "00",
                           "dfffffffff"
                           "0000",
                           "dbffffffff"
                           "61",
                           "c6ffffffff"
                           "00",
                           "dcffff"
                           "00",
                           "deffff"
                           "0000",
                           "daffff"
                           "61",
                           "c5ffff"
                           "00",
                           "d9ff"
                           "61",
                           "c4ff"
                           "00",
                           // a count that fits arrays but not maps (two values per entry)
                           "83"
                           "0102"
                           "03"}) {
    EXPECT_EQ(decode_error(from_hex(text)), Errc::truncated) << text;
  }
}

TEST(MsgpackDecode, ErrorsSayWhere) {
  auto r =
      decode(from_hex("92"
                      "01"
                      "c1"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("offset 2"), std::string::npos) << r.error().message;
}

}  // namespace
