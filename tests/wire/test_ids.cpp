#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>

#include "captured_bodies.hpp"
#include "hex_bytes.hpp"
#include "p2p/protocol.hpp"
#include "p2p/wire/ids.hpp"

namespace {

using p2p::Bytes;
using p2p::test::from_hex;
using namespace p2p::wire;

constexpr std::string_view alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

TEST(Digest, Sha256KnownAnswers) {
  EXPECT_EQ(digest_hex(sha256(p2p::as_bytes(""))),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(digest_hex(sha256(p2p::as_bytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Digest, Sha384KnownAnswer) {
  EXPECT_EQ(p2p::to_hex(sha384(p2p::as_bytes("abc"))),
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
            "8086072ba1e7cc2358baeca134c825a7");
}

TEST(Digest, MessageIdsOfCapturedFrames) {
  EXPECT_EQ(digest_hex(sha256(from_hex(p2p::test::py2p_handshake_body_hex))),
            p2p::test::py2p_handshake_id_hex);
  EXPECT_EQ(digest_hex(sha256(from_hex(p2p::test::js2p_handshake_body_hex))),
            p2p::test::js2p_handshake_id_hex);
}

TEST(Digest, RepeatedCallsAgree) {
  // The digest context is reused per thread: a second use must start from a clean state.
  const auto first = sha256(p2p::as_bytes("abc"));
  (void)sha384(p2p::as_bytes("something else"));
  EXPECT_EQ(sha256(p2p::as_bytes("abc")), first);
}

// Expected values come from python3-base58's b58encode_int(int.from_bytes(b, 'big')).
TEST(Base58, EncodeIntVectors) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "1"},
      {"00", "1"},
      {"0000", "1"},
      {"0001", "2"},  // leading zero bytes add no '1' padding
      {"39", "z"},
      {"3a", "21"},
      {"ff", "5Q"},
      {"0100", "5R"},
      {"0000010203", "Ldp"},
      {"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
       "JEKNVnkbo3jma5nREBBJCDoXFVeKkD56V3xKrvRmWxFG"},
      {"0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c"
       "2d2e2f30",
       "39NSSPzHrkShfgQ6nsujfruLawy1vo2d6nxyHCmQjnkneQBcFKAqV2kNVQC44KZGj"},
  };
  for (const auto& [hex, text] : cases) EXPECT_EQ(base58_encode_int(from_hex(hex)), text) << hex;
}

TEST(Base58, DecodeIntVectors) {
  EXPECT_EQ(base58_decode_int(""), Bytes{});
  EXPECT_EQ(base58_decode_int("1"), Bytes{});
  EXPECT_EQ(base58_decode_int("111"), Bytes{});
  EXPECT_EQ(base58_decode_int("1112"), Bytes{1});
  EXPECT_EQ(base58_decode_int("21"), Bytes{58});
  EXPECT_EQ(base58_decode_int("zz"), (Bytes{0x0d, 0x23}));  // 3363
  EXPECT_EQ(base58_decode_int("JEKNVnkbo3jma5nREBBJCDoXFVeKkD56V3xKrvRmWxFG"), Bytes(32, 0xff));
}

TEST(Base58, DecodeRejectsCharactersOutsideTheAlphabet) {
  for (const char* text : {"0", "O", "I", "l", "abc0", " 2", "2 ", "+", "\xc3\xa9"}) {
    EXPECT_FALSE(base58_decode_int(text).has_value()) << text;
  }
}

Bytes strip_leading_zeros(Bytes b) {
  b.erase(b.begin(), std::find_if(b.begin(), b.end(), [](std::uint8_t x) { return x != 0; }));
  return b;
}

// Numeric order of big-endian magnitudes, independent of base58.
int compare_magnitudes(Bytes a, Bytes b) {
  a = strip_leading_zeros(std::move(a));
  b = strip_leading_zeros(std::move(b));
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  return a == b ? 0 : (a < b ? -1 : 1);  // same length: lexicographic is numeric
}

int sign(int x) {
  return (x > 0) - (x < 0);
}

TEST(Base58, RandomRoundTripsAndNumericOrder) {
  std::mt19937_64 rng(20240601);
  std::vector<Bytes> numbers;
  for (int i = 0; i < 300; ++i) {
    Bytes b(rng() % 50, 0);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    if (i % 7 == 0 && !b.empty()) b[0] = 0;  // some leading zero bytes
    numbers.push_back(std::move(b));
  }
  numbers.push_back(Bytes{});
  for (const Bytes& n : numbers) {
    const std::string text = base58_encode_int(n);
    ASSERT_EQ(text.find_first_not_of(alphabet), std::string::npos) << text;
    const auto back = base58_decode_int(text);
    ASSERT_TRUE(back.has_value()) << text;
    EXPECT_EQ(*back, strip_leading_zeros(n)) << text;
  }
  for (std::size_t i = 0; i + 1 < numbers.size(); ++i) {
    const Bytes& a = numbers[i];
    const Bytes& b = numbers[i + 1];
    const int expected = compare_magnitudes(a, b);
    EXPECT_EQ(sign(compare_base58_int(base58_encode_int(a), base58_encode_int(b))), expected);
    EXPECT_EQ(sign(compare_base58_int(base58_encode_int(b), base58_encode_int(a))), -expected);
  }
}

TEST(Base58, CompareIsNumeric) {
  EXPECT_EQ(compare_base58_int("2", "2"), 0);
  EXPECT_EQ(compare_base58_int("112", "2"), 0);  // leading '1's are zeros
  EXPECT_EQ(compare_base58_int("", "1"), 0);
  EXPECT_LT(compare_base58_int("z", "21"), 0);  // 57 < 58: length beats letters
  EXPECT_GT(compare_base58_int("21", "z"), 0);
  EXPECT_LT(compare_base58_int("Z", "a"), 0);  // 32 < 33
  EXPECT_LT(compare_base58_int("9", "A"), 0);  // 8 < 9
  EXPECT_LT(compare_base58_int("H", "J"), 0);  // adjacent around the missing 'I'
  EXPECT_LT(compare_base58_int("k", "m"), 0);  // adjacent around the missing 'l'
  EXPECT_GT(compare_base58_int(p2p::test::js2p_id, p2p::test::py2p_id), 0);
  // Invalid characters count as zero digits.
  EXPECT_EQ(compare_base58_int("0002", "2"), 0);
  EXPECT_EQ(compare_base58_int("20", "21"), 0);
  EXPECT_LT(compare_base58_int("20", "22"), 0);
}

TEST(ProtocolId, KnownValues) {
  EXPECT_EQ(protocol_id("mesh", "Plaintext"), "EpAmyZWv9rZUKmjQgU3FTUD4GrJHvVEXizmghVBc8eGD");
  EXPECT_EQ(protocol_id("mesh", "SSL"), "EkE9cS4dwjZ8uo8H1pxYe7WrJ3wXgaHfozHQUkb99eHm");
  EXPECT_EQ(protocol_id("", "Plaintext"), "3soAb1XFyvZYyqgFNTxcXvzEBU6p8n821ifyVVANipvt");
  EXPECT_EQ(protocol_id("test", "Plaintext"), "9x5ybdVVmfM6Dr7Bupbr8iyjNWY1pSXQcKP2P5Wcdy6f");
  EXPECT_EQ(protocol_id("mesh", "Plaintext", "0.6"),
            "3G7Q2i4H2XcZWUWhByww5s8rn2XnP6XTkNngXKuHVm5P");
}

TEST(ProtocolId, ProtocolClass) {
  const p2p::Protocol plain;
  EXPECT_EQ(plain.subnet(), "mesh");
  EXPECT_EQ(plain.encryption(), "Plaintext");
  EXPECT_EQ(plain.id(), "EpAmyZWv9rZUKmjQgU3FTUD4GrJHvVEXizmghVBc8eGD");
  const p2p::Protocol ssl("mesh", "SSL");
  EXPECT_EQ(ssl.id(), "EkE9cS4dwjZ8uo8H1pxYe7WrJ3wXgaHfozHQUkb99eHm");
  EXPECT_EQ(p2p::Protocol("", "Plaintext").id(), "3soAb1XFyvZYyqgFNTxcXvzEBU6p8n821ifyVVANipvt");
  EXPECT_FALSE(plain == ssl);
  EXPECT_TRUE(plain == p2p::Protocol("mesh", "Plaintext"));
  // The constructor validates nothing: an unknown encryption still gets an id.
  EXPECT_FALSE(p2p::Protocol("mesh", "Carrier pigeon").id().empty());
}

TEST(NodeId, KnownValueAndFormat) {
  const std::string pid = protocol_id("mesh", "Plaintext");
  EXPECT_EQ(node_id("('127.0.0.1', 4444)", pid, "salt"),
            "mRgVWxF4nPCwxiGt4VUJYFKewhsqDEKpjEQ6ByuJbowdr6zVjiQe5eayJ3zY7Fr4k");
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200; ++i) {
    const std::string id = node_id("(127.0.0.1, 47100)", pid, std::to_string(rng()));
    // base58 of a 384-bit integer: at most 66 digits, fewer only for a small digest.
    EXPECT_LE(id.size(), 66u);
    EXPECT_GE(id.size(), 60u);
    EXPECT_EQ(id.find_first_not_of(alphabet), std::string::npos) << id;
    EXPECT_NE(id[0], '1') << id;
  }
  EXPECT_NE(node_id("a", pid, "1"), node_id("a", pid, "2"));
}

}  // namespace
