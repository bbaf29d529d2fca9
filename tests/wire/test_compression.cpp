#include <gtest/gtest.h>
#include <lzma.h>

#include <random>
#include <string>
#include <vector>

#include "hex_bytes.hpp"
#include "p2p/wire/compression.hpp"

namespace p2p::wire {
namespace {

using test::from_hex;

/// Text-like bytes: compressible, but not trivially, so every codec does real work.
Bytes sample(std::size_t size, unsigned seed = 7) {
  static constexpr std::string_view words[] = {
      "mesh ", "peer ", "frame ", "zlib ", "\x00\x01", "broadcast ", "whisper ", "\xff\xfe\xfd"};
  std::mt19937 rng(seed);
  Bytes out;
  out.reserve(size + 16);
  while (out.size() < size) {
    if (rng() % 4 == 0) {
      out.push_back(static_cast<std::uint8_t>(rng()));
    } else {
      std::string_view w = words[rng() % std::size(words)];
      out.insert(out.end(), w.begin(), w.end());
    }
  }
  out.resize(size);
  return out;
}

std::string name_of(const testing::TestParamInfo<Compression>& info) {
  return std::string(compression_name(info.param));
}

// ---- names, flags, negotiation ----------------------------------------------------------------

TEST(CompressionNames, FlagsAndNamesRoundTrip) {
  EXPECT_EQ(compression_from_flag(0x20), Compression::snappy);
  EXPECT_EQ(compression_from_flag(0x13), Compression::zlib);
  EXPECT_EQ(compression_from_flag(0x11), Compression::gzip);
  EXPECT_EQ(compression_from_flag(0x10), Compression::bz2);
  EXPECT_EQ(compression_from_flag(0x12), Compression::lzma);
  EXPECT_EQ(compression_from_flag(0x14), std::nullopt);
  EXPECT_EQ(compression_from_flag(0x113), std::nullopt);  // no truncation to a byte
  EXPECT_EQ(compression_from_flag(0), std::nullopt);
  for (Compression c : all_compressions) {
    EXPECT_EQ(compression_from_name(compression_name(c)), c);
  }
  EXPECT_EQ(compression_name(Compression::bz2), "bz2");
  EXPECT_EQ(compression_from_name("deflate"), std::nullopt);
  EXPECT_EQ(compression_from_name("ZLIB"), std::nullopt);
}

TEST(CompressionNames, ChooseTakesOurFirstMethodThatTheyList) {
  const std::vector<Compression> py2p = {Compression::snappy, Compression::zlib, Compression::gzip,
                                         Compression::bz2, Compression::lzma};
  const std::vector<Compression> js2p = {Compression::zlib, Compression::gzip};
  EXPECT_EQ(choose_compression(py2p, py2p), Compression::snappy);
  EXPECT_EQ(choose_compression(py2p, js2p), Compression::zlib);
  EXPECT_EQ(choose_compression(js2p, py2p), Compression::zlib);
  const std::vector<Compression> reversed = {Compression::gzip, Compression::zlib};
  EXPECT_EQ(choose_compression(reversed, js2p), Compression::gzip);  // our order wins
  EXPECT_EQ(choose_compression(py2p, {}), std::nullopt);
  EXPECT_EQ(choose_compression({}, py2p), std::nullopt);
  const std::vector<Compression> bz2_only = {Compression::bz2};
  EXPECT_EQ(choose_compression(js2p, bz2_only), std::nullopt);
}

// ---- round trips ------------------------------------------------------------------------------

class Codec : public testing::TestWithParam<Compression> {};

TEST_P(Codec, RoundTripsAtEverySize) {
  for (std::size_t size :
       {std::size_t{0}, std::size_t{64}, std::size_t{4096}, std::size_t{1} << 20}) {
    SCOPED_TRACE(size);
    const Bytes input = sample(size);
    Result<Bytes> packed = compress(GetParam(), input);
    ASSERT_TRUE(packed) << packed.error().to_string();
    EXPECT_FALSE(packed->empty());
    if (size >= 4096) {
      EXPECT_LT(packed->size(), input.size());
    }
    Result<Bytes> unpacked = decompress(GetParam(), *packed, input.size());
    ASSERT_TRUE(unpacked) << unpacked.error().to_string();
    EXPECT_EQ(*unpacked, input);
  }
}

TEST_P(Codec, CapIsExactAtTheBoundary) {
  // 1 MiB takes the two-pass path, 40 KiB the single-pass one.
  for (std::size_t size : {std::size_t{40} << 10, std::size_t{1} << 20}) {
    SCOPED_TRACE(size);
    const Bytes input = sample(size, 11);
    const Bytes packed = compress(GetParam(), input).value();
    Result<Bytes> exact = decompress(GetParam(), packed, size);
    ASSERT_TRUE(exact) << exact.error().to_string();
    EXPECT_EQ(*exact, input);
    Result<Bytes> one_short = decompress(GetParam(), packed, size - 1);
    ASSERT_FALSE(one_short);
    EXPECT_EQ(one_short.error().code, Errc::too_large) << one_short.error().to_string();
  }
  const Bytes empty = compress(GetParam(), Bytes{}).value();
  Result<Bytes> nothing = decompress(GetParam(), empty, 0);
  ASSERT_TRUE(nothing) << nothing.error().to_string();
  EXPECT_TRUE(nothing->empty());
  Result<Bytes> one_byte = decompress(GetParam(), compress(GetParam(), sample(1)).value(), 0);
  ASSERT_FALSE(one_byte);
  EXPECT_EQ(one_byte.error().code, Errc::too_large);
}

// ---- hostile input ----------------------------------------------------------------------------

TEST_P(Codec, RejectsTruncatedInput) {
  const Bytes packed = compress(GetParam(), sample(4096)).value();
  for (std::size_t keep : {std::size_t{0}, std::size_t{1}, packed.size() / 2, packed.size() - 1}) {
    SCOPED_TRACE(keep);
    Result<Bytes> out = decompress(GetParam(), ByteView(packed).first(keep), 1 << 20);
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, Errc::compression) << out.error().to_string();
  }
}

TEST_P(Codec, RejectsTrailingGarbage) {
  for (std::size_t size : {std::size_t{0}, std::size_t{100}}) {
    Bytes packed = compress(GetParam(), sample(size)).value();
    packed.push_back('x');
    Result<Bytes> out = decompress(GetParam(), packed, 1 << 20);
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, Errc::compression) << out.error().to_string();
    // A second copy of the whole stream is trailing garbage too (no concatenated streams).
    packed.pop_back();
    const Bytes once = packed;
    packed.insert(packed.end(), once.begin(), once.end());
    out = decompress(GetParam(), packed, 1 << 20);
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, Errc::compression) << out.error().to_string();
  }
}

TEST_P(Codec, RejectsRandomBytes) {
  std::mt19937 rng(5);
  for (int round = 0; round < 50; ++round) {
    Bytes noise(1 + rng() % 300);
    for (auto& b : noise) b = static_cast<std::uint8_t>(rng());
    Result<Bytes> out = decompress(GetParam(), noise, 1 << 20);
    // Random bytes are occasionally a valid snappy block; never an error other than these.
    if (!out) {
      EXPECT_TRUE(out.error().code == Errc::compression || out.error().code == Errc::too_large)
          << out.error().to_string();
    } else {
      EXPECT_EQ(GetParam(), Compression::snappy);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllMethods, Codec, testing::ValuesIn(all_compressions), name_of);

TEST(CompressionIntegrity, ChecksummedCodecsRejectACorruptedChecksum) {
  // zlib ends in adler32, gzip in crc32 + size, bz2 carries a stream crc before its last
  // bytes, xz ends its block with CRC64 followed by the index and footer.
  const Bytes input = sample(4096);
  struct Case {
    Compression method;
    std::size_t from_end;
  };
  for (Case c : {Case{Compression::zlib, 1}, Case{Compression::gzip, 5}, Case{Compression::gzip, 1},
                 Case{Compression::bz2, 3}}) {
    SCOPED_TRACE(compression_name(c.method));
    Bytes packed = compress(c.method, input).value();
    packed[packed.size() - c.from_end] ^= 0x40;
    Result<Bytes> out = decompress(c.method, packed, 1 << 20);
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, Errc::compression) << out.error().to_string();
  }
  Bytes xz = compress(Compression::lzma, input).value();
  // The payload byte in the middle of the compressed block: caught by the CRC64 or the decoder.
  xz[xz.size() / 2] ^= 0x01;
  Result<Bytes> out = decompress(Compression::lzma, xz, 1 << 20);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, Errc::compression) << out.error().to_string();
}

TEST(CompressionIntegrity, SnappyRejectsAnImpossibleLengthBeforeAllocating) {
  // Length header 0xFFFFFFFF followed by one literal byte: no valid block expands that much.
  const Bytes lie = from_hex("ffffffff0f0061");
  Result<Bytes> out = decompress(Compression::snappy, lie, std::size_t{1} << 40);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, Errc::compression) << out.error().to_string();
}

TEST(CompressionIntegrity, LzmaRefusesADictionaryAboveTheMemoryLimit) {
  // lzma.compress(b"hi", preset=9): a 64 MiB dictionary, beyond the decoder's memory limit.
  const Bytes preset9 = from_hex(
      "fd377a585a000004e6d6b446020021011c00000010cf58cc0100016869000000fea93811bccaa5480001"
      "1a02dc2ea57e1fb6f37d010000000004595a");
  Result<Bytes> out = decompress(Compression::lzma, preset9, 1 << 20);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, Errc::compression) << out.error().to_string();
}

// A small message gets a small encoder: bz2's block and xz's dictionary fit the input, so
// neither side allocates level 9's or preset 6's megabytes for a 4 KiB message.
TEST(CompressionSizing, Bz2BlockSizeFitsTheInput) {
  struct Case {
    std::size_t size;
    char level;  // the '1'..'9' after "BZh" in the stream header
  };
  for (Case c : {Case{0, '1'}, Case{4096, '1'}, Case{99'981, '1'}, Case{99'982, '2'},
                 Case{250'000, '3'}, Case{1'000'000, '9'}}) {
    SCOPED_TRACE(c.size);
    const Bytes input = sample(c.size);
    const Bytes packed = compress(Compression::bz2, input).value();
    ASSERT_GE(packed.size(), 4u);
    EXPECT_EQ(packed[3], static_cast<std::uint8_t>(c.level));
    EXPECT_TRUE(decompress(Compression::bz2, packed, c.size).value() == input);
  }
}

TEST(CompressionSizing, XzDictionaryFitsTheInput) {
  for (std::size_t size : {std::size_t{0}, std::size_t{100}, std::size_t{64 * 1024}}) {
    SCOPED_TRACE(size);
    const Bytes input = sample(size);
    const Bytes packed = compress(Compression::lzma, input).value();
    // Preset 6's 8 MiB dictionary would need about 9 MiB to decode.
    std::uint64_t memlimit = 1 << 20;
    Bytes out(size);
    std::size_t in_pos = 0;
    std::size_t out_pos = 0;
    EXPECT_EQ(lzma_stream_buffer_decode(&memlimit, 0, nullptr, packed.data(), &in_pos,
                                        packed.size(), out.data(), &out_pos, out.size()),
              LZMA_OK);
    EXPECT_EQ(out_pos, size);
    EXPECT_TRUE(out == input);
  }
}

// ---- bytes made by Python -----------------------------------------------------------------------

// data = b"The quick brown fox jumps over the lazy dog. " * 4 + bytes(range(16)), compressed by
// /usr/bin/python3 with zlib.compressobj(-1, DEFLATED, 15 or 31), bz2.compress, lzma.compress
// and snappy.compress: what py2p's compress() sends.
Bytes python_input() {
  Bytes data;
  for (int i = 0; i < 4; ++i) {
    std::string_view s = "The quick brown fox jumps over the lazy dog. ";
    data.insert(data.end(), s.begin(), s.end());
  }
  for (std::uint8_t b = 0; b < 16; ++b) data.push_back(b);
  return data;
}

struct PythonVector {
  Compression method;
  std::string_view hex;
};

constexpr PythonVector python_vectors[] = {
    {Compression::zlib,
     "789c0bc94855282ccd4cce56482aca2fcf5348cbaf50c82acd2d2856c82f4b2d5228014ae72456552aa4e4a7"
     "eb29840c0ec50c8c4ccc2cac6cec1c9c5cdc3cbc7cfc0007234115"},
    {Compression::gzip,
     "1f8b08000000000000030bc94855282ccd4cce56482aca2fcf5348cbaf50c82acd2d2856c82f4b2d522801"
     "4ae72456552aa4e4a7eb29840c0ec50c8c4ccc2cac6cec1c9c5cdc3cbc7cfc0070660782c4000000"},
    {Compression::bz2,
     "425a68393141592653595442c9f600001dd3807fffc00104003ffffff020006825534000000000d0015553"
     "65000000341a1a36491a1559761969b71d79f8218a40c03d0d03d0b812080486415a966c40a8a0a848815"
     "961e09174f6504099591339f4b089a8fc4889326682e5a5a7f1772453850905442c9f60"},
    {Compression::lzma,
     "fd377a585a000004e6d6b4460200210116000000742fe5a3e000c300435d002a1a08a2032566f14b78c5a2"
     "05ff2ee6d9d2201aad34f8e21de84136fadc0669bb3ce410342709ebb366e3ed376a28556185448776390"
     "213020ad1f51704b428d67ba0000062e58abd6a4eafcb00015fc4010000008147a49ab1c467fb02000000"
     "0004595a"},
    {Compression::snappy,
     "c401b054686520717569636b2062726f776e20666f78206a756d7073206f76657220746865206c617a7920"
     "646f672e20fe2d00fe2d000d2d3c000102030405060708090a0b0c0d0e0f"},
};

TEST(CompressionPython, DecodesWhatPythonWrote) {
  for (const PythonVector& v : python_vectors) {
    SCOPED_TRACE(compression_name(v.method));
    Result<Bytes> out = decompress(v.method, from_hex(v.hex), 4096);
    ASSERT_TRUE(out) << out.error().to_string();
    EXPECT_EQ(*out, python_input());
  }
}

TEST(CompressionPython, WritesWhatPythonWrites) {
  // Same system libraries and the same parameters as py2p (level -1, wbits 15/31, bz2 level
  // 9, xz preset 6 with CRC64), so the compressed data is identical, not merely compatible.
  // The one difference is deliberate: bz2's block size and xz's dictionary are cut to the
  // input (CompressionSizing), which changes only a header field.
  for (const PythonVector& v : python_vectors) {
    SCOPED_TRACE(compression_name(v.method));
    const std::string ours = to_hex(compress(v.method, python_input()).value());
    const std::string_view theirs = v.hex;
    if (v.method == Compression::bz2) {
      // "BZh" then the block size digit: '1' here, '9' from Python.
      EXPECT_EQ(ours.substr(0, 6), theirs.substr(0, 6));
      EXPECT_EQ(ours.substr(6, 2), "31");
      EXPECT_EQ(ours.substr(8), theirs.substr(8));
    } else if (v.method == Compression::lzma) {
      // The 12-byte stream header, then a 12-byte block header whose LZMA2 property byte (the
      // dictionary size) and CRC32 differ; the compressed block and everything after match.
      EXPECT_EQ(ours.substr(0, 24), theirs.substr(0, 24));
      EXPECT_EQ(ours.substr(48), theirs.substr(48));
    } else {
      EXPECT_EQ(ours, theirs);
    }
  }
}

TEST(CompressionPython, ZlibAndGzipEachAcceptOnlyTheirOwnHeader) {
  // A gzip stream reported as "zlib" would be forwarded as-is to zlib links, where js2p's
  // decoder rejects it; so each method opens only its own format.
  const Bytes zlib_bytes = from_hex(python_vectors[0].hex);
  const Bytes gzip_bytes = from_hex(python_vectors[1].hex);
  EXPECT_EQ(decompress(Compression::zlib, zlib_bytes, 4096).value(), python_input());
  EXPECT_EQ(decompress(Compression::gzip, gzip_bytes, 4096).value(), python_input());
  EXPECT_EQ(decompress(Compression::gzip, zlib_bytes, 4096).error().code, Errc::compression);
  EXPECT_EQ(decompress(Compression::zlib, gzip_bytes, 4096).error().code, Errc::compression);
}

}  // namespace
}  // namespace p2p::wire
