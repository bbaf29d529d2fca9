#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "p2p/wire/frame.hpp"

namespace p2p::wire {
namespace {

Bytes random_body(std::mt19937& rng, std::size_t max_size) {
  Bytes body(1 + rng() % max_size);
  for (auto& b : body) b = static_cast<std::uint8_t>(rng() % 7);  // compressible
  return body;
}

std::uint32_t announced_length(const Bytes& frame) {
  return (std::uint32_t{frame[0]} << 24) | (std::uint32_t{frame[1]} << 16) |
         (std::uint32_t{frame[2]} << 8) | frame[3];
}

ByteView content_of(const Bytes& frame) {
  return ByteView(frame).subspan(frame_header_size);
}

// ---- make_frame / open_frame ------------------------------------------------------------------

TEST(MakeFrame, RawFrameIsLengthChecksumBody) {
  const Bytes body = {0x93, 0x02, 0xa1, 'x', 0x05};
  const Bytes frame = make_frame(body).value();
  ASSERT_EQ(frame.size(), 4 + 32 + body.size());
  EXPECT_EQ(announced_length(frame), 32 + body.size());
  const Digest256 id = sha256(body);
  EXPECT_TRUE(std::equal(id.begin(), id.end(), frame.begin() + 4));
  EXPECT_TRUE(std::equal(body.begin(), body.end(), frame.begin() + 36));
}

TEST(MakeFrame, CompressedContentIsTheCodecOfChecksumAndBody) {
  // make_frame compresses checksum and body without concatenating them first; its bytes must
  // equal compressing the concatenation, across snappy's 64 KiB block boundary too.
  std::mt19937 rng(1);
  for (std::size_t size : {std::size_t{1}, std::size_t{200}, std::size_t{70000}}) {
    Bytes body(size);
    for (auto& b : body) b = static_cast<std::uint8_t>(rng() % 5);
    const Digest256 id = sha256(body);
    Bytes joined(id.begin(), id.end());
    joined.insert(joined.end(), body.begin(), body.end());
    for (Compression c : all_compressions) {
      SCOPED_TRACE(std::string(compression_name(c)) + " " + std::to_string(size));
      const Bytes frame = make_frame(body, id, c).value();
      EXPECT_EQ(announced_length(frame), frame.size() - 4);
      const Bytes expected = compress(c, joined).value();
      EXPECT_TRUE(std::equal(expected.begin(), expected.end(), frame.begin() + 4, frame.end()));
    }
  }
}

TEST(OpenFrame, OpensRawAndEveryMethod) {
  std::mt19937 rng(2);
  const Bytes body = random_body(rng, 3000);
  const Digest256 id = sha256(body);
  OpenedFrame raw = open_frame(content_of(make_frame(body).value()), {}, 1 << 20).value();
  EXPECT_EQ(raw.body, body);
  EXPECT_EQ(raw.id, id);
  EXPECT_EQ(raw.method, std::nullopt);
  for (Compression c : all_compressions) {
    SCOPED_TRACE(compression_name(c));
    const Bytes frame = make_frame(body, c).value();
    Result<OpenedFrame> opened = open_frame(content_of(frame), all_compressions, 1 << 20);
    ASSERT_TRUE(opened) << opened.error().to_string();
    EXPECT_EQ(opened->body, body);
    EXPECT_EQ(opened->id, id);
    // Each decoder accepts only its own header, so the method reported is the one used.
    EXPECT_EQ(opened->method, c);
    const Compression only[] = {c};
    EXPECT_EQ(open_frame(content_of(frame), only, 1 << 20).value().method, c);
  }
}

TEST(OpenFrame, RawFrameOpensOnACompressedLink) {
  // js2p sends its second handshake uncompressed on a link that already runs zlib; every
  // method fails (or does not verify) and the raw bytes are taken.
  const Bytes body = {0x98, 0x02, 0xd9, 0x03, 'a', 'b', 'c', 0xce, 0, 0, 0, 1, 0x05};
  const Bytes frame = make_frame(body).value();
  const std::vector<Compression> zlib_link = {Compression::zlib};
  Result<OpenedFrame> opened = open_frame(content_of(frame), zlib_link, 1 << 20);
  ASSERT_TRUE(opened) << opened.error().to_string();
  EXPECT_EQ(opened->body, body);
  EXPECT_EQ(opened->method, std::nullopt);
  opened = open_frame(content_of(frame), all_compressions, 1 << 20);
  ASSERT_TRUE(opened) << opened.error().to_string();
  EXPECT_EQ(opened->method, std::nullopt);
}

TEST(OpenFrame, TriesMethodsInTheGivenOrder) {
  const Bytes body(500, 'q');
  const Bytes frame = make_frame(body, Compression::gzip).value();
  // gzip bytes do not decode as zlib, so a zlib-first order still reports gzip: a relay
  // forwards these exact bytes only to links that really use gzip.
  const std::vector<Compression> zlib_first = {Compression::snappy, Compression::zlib,
                                               Compression::gzip};
  EXPECT_EQ(open_frame(content_of(frame), zlib_first, 1 << 20).value().method, Compression::gzip);
  const std::vector<Compression> gzip_first = {Compression::bz2, Compression::gzip,
                                               Compression::zlib};
  EXPECT_EQ(open_frame(content_of(frame), gzip_first, 1 << 20).value().method, Compression::gzip);
}

TEST(OpenFrame, WrongChecksumIsAMismatch) {
  const Bytes body = {0x93, 0x00, 0xa1, 'x', 0x01};
  Bytes frame = make_frame(body).value();
  frame.back() ^= 1;
  Result<OpenedFrame> opened = open_frame(content_of(frame), all_compressions, 1 << 20);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, Errc::checksum_mismatch) << opened.error().to_string();

  // A compressed frame whose inner checksum is wrong does not verify either.
  Digest256 wrong = sha256(body);
  wrong[0] ^= 1;
  const Bytes lying = make_frame(body, wrong, Compression::zlib).value();
  opened = open_frame(content_of(lying), all_compressions, 1 << 20);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, Errc::checksum_mismatch);

  // Compressed with a method the receiver does not try: the bytes are not a raw frame.
  const Bytes bz2_frame = make_frame(body, Compression::bz2).value();
  const std::vector<Compression> js2p = {Compression::zlib, Compression::gzip};
  opened = open_frame(content_of(bz2_frame), js2p, 1 << 20);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, Errc::checksum_mismatch);

  // Content shorter than a checksum.
  const Bytes tiny = {1, 2, 3};
  opened = open_frame(tiny, all_compressions, 1 << 20);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, Errc::checksum_mismatch);
}

TEST(OpenFrame, EmptyBodyIsValid) {
  const Bytes frame = make_frame(Bytes{}, Compression::snappy).value();
  OpenedFrame opened = open_frame(content_of(frame), all_compressions, 0).value();
  EXPECT_TRUE(opened.body.empty());
  EXPECT_EQ(opened.id, sha256(Bytes{}));
}

TEST(OpenFrame, BodyLimitAppliesToRawAndCompressed) {
  const Bytes body(100, 'b');
  const Bytes raw = make_frame(body).value();
  EXPECT_TRUE(open_frame(content_of(raw), {}, 100));
  Result<OpenedFrame> opened = open_frame(content_of(raw), {}, 99);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, Errc::too_large);
  for (Compression c : all_compressions) {
    SCOPED_TRACE(compression_name(c));
    const Bytes frame = make_frame(body, c).value();
    const Compression only[] = {c};
    EXPECT_TRUE(open_frame(content_of(frame), only, 100));
    opened = open_frame(content_of(frame), only, 99);
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().code, Errc::too_large) << opened.error().to_string();
  }
}

// ---- FrameReader ------------------------------------------------------------------------------

struct Stream {
  std::vector<Bytes> contents;  // what the reader must hand out, in order
  Bytes bytes;                  // all frames back to back
};

Stream make_stream(unsigned seed, int frames, std::size_t max_body) {
  std::mt19937 rng(seed);
  Stream s;
  for (int i = 0; i < frames; ++i) {
    const Bytes body = random_body(rng, max_body);
    std::optional<Compression> method;
    if (rng() % 2) method = all_compressions[rng() % all_compressions.size()];
    const Bytes frame = make_frame(body, method).value();
    s.contents.emplace_back(frame.begin() + 4, frame.end());
    s.bytes.insert(s.bytes.end(), frame.begin(), frame.end());
  }
  return s;
}

/// Feeds `bytes` in chunks of the given sizes (the last chunk takes the rest).
std::vector<Bytes> read_in_chunks(FrameReader& reader, ByteView bytes,
                                  const std::vector<std::size_t>& sizes) {
  std::vector<Bytes> got;
  std::size_t pos = 0;
  for (std::size_t i = 0; pos < bytes.size(); ++i) {
    const std::size_t n =
        i < sizes.size() ? std::min(sizes[i], bytes.size() - pos) : bytes.size() - pos;
    Status s = reader.feed(bytes.subspan(pos, n), [&](ByteView content) {
      got.emplace_back(content.begin(), content.end());
    });
    EXPECT_TRUE(s) << s.error().to_string();
    pos += n;
  }
  return got;
}

TEST(FrameReader, OneByteAtATime) {
  const Stream s = make_stream(3, 20, 300);
  FrameReader reader(1 << 20);
  const std::vector<std::size_t> ones(s.bytes.size(), 1);
  EXPECT_EQ(read_in_chunks(reader, s.bytes, ones), s.contents);
  EXPECT_FALSE(reader.has_partial());
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(FrameReader, ManyFramesInOneChunkAreNotCopied) {
  const Stream s = make_stream(4, 50, 200);
  FrameReader reader(1 << 20);
  std::vector<Bytes> got;
  const std::uint8_t* begin = s.bytes.data();
  const std::uint8_t* end = begin + s.bytes.size();
  Status status = reader.feed(s.bytes, [&](ByteView content) {
    EXPECT_GE(content.data(), begin);  // a view into the chunk itself
    EXPECT_LE(content.data() + content.size(), end);
    got.emplace_back(content.begin(), content.end());
  });
  ASSERT_TRUE(status);
  EXPECT_EQ(got, s.contents);
  EXPECT_FALSE(reader.has_partial());
}

TEST(FrameReader, RandomChunkings) {
  for (unsigned seed = 1; seed <= 30; ++seed) {
    SCOPED_TRACE(seed);
    const Stream s = make_stream(100 + seed, 25, 2000);
    std::mt19937 rng(seed);
    std::vector<std::size_t> sizes;
    for (std::size_t total = 0; total < s.bytes.size();) {
      // Mostly small chunks, sometimes big ones spanning several frames.
      const std::size_t n = rng() % 8 == 0 ? 1 + rng() % 20000 : 1 + rng() % 64;
      sizes.push_back(n);
      total += n;
    }
    FrameReader reader(1 << 20);
    EXPECT_EQ(read_in_chunks(reader, s.bytes, sizes), s.contents);
    EXPECT_FALSE(reader.has_partial());
  }
}

TEST(FrameReader, PartialFrameIsReported) {
  const Bytes frame = make_frame(Bytes(50, 1)).value();
  FrameReader reader(1 << 20);
  int frames = 0;
  auto count = [&](ByteView) { ++frames; };
  ASSERT_TRUE(reader.feed(ByteView(frame).first(2), count));
  EXPECT_TRUE(reader.has_partial());
  EXPECT_EQ(reader.buffered(), 2u);
  ASSERT_TRUE(reader.feed(ByteView(frame).subspan(2, 30), count));
  EXPECT_EQ(reader.buffered(), 32u);
  ASSERT_TRUE(reader.feed(ByteView(frame).subspan(32), count));
  EXPECT_EQ(frames, 1);
  EXPECT_FALSE(reader.has_partial());
}

TEST(FrameReader, FourGibHeaderIsRejectedAtOnce) {
  FrameReader reader(4 << 20);
  const Bytes header = {0xff, 0xff, 0xff, 0xff, 0x00};
  bool called = false;
  Status s = reader.feed(header, [&](ByteView) { called = true; });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::too_large) << s.error().to_string();
  EXPECT_FALSE(called);
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(FrameReader, OversizeHeaderSplitAcrossChunks) {
  FrameReader reader(100);
  const Bytes header = {0x00, 0x00, 0x00, 101};
  ASSERT_TRUE(reader.feed(ByteView(header).first(3), [](ByteView) {}));
  Status s = reader.feed(ByteView(header).subspan(3), [](ByteView) {});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::too_large);
  EXPECT_FALSE(reader.has_partial());
}

TEST(FrameReader, FrameOfExactlyMaxFrameIsAccepted) {
  const Bytes frame = make_frame(Bytes(68, 9)).value();  // content of 100 bytes
  FrameReader reader(100);
  int frames = 0;
  ASSERT_TRUE(reader.feed(frame, [&](ByteView c) { frames += c.size() == 100; }));
  EXPECT_EQ(frames, 1);
  FrameReader smaller(99);
  EXPECT_FALSE(smaller.feed(frame, [](ByteView) {}));
}

TEST(FrameReader, ZeroLengthFrameIsMalformed) {
  FrameReader reader(100);
  const Bytes zero = {0, 0, 0, 0};
  Status s = reader.feed(zero, [](ByteView) {});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::malformed);
}

TEST(FrameReader, FailureIsSticky) {
  const Bytes good = make_frame(Bytes(10, 1)).value();
  Bytes stream = good;
  const Bytes bad = {0x7f, 0, 0, 0};
  stream.insert(stream.end(), bad.begin(), bad.end());
  stream.insert(stream.end(), good.begin(), good.end());
  FrameReader reader(1000);
  int frames = 0;
  auto count = [&](ByteView) { ++frames; };
  Status first = reader.feed(stream, count);
  ASSERT_FALSE(first);
  EXPECT_EQ(frames, 1);  // the frame before the bad header was delivered, none after it
  for (int i = 0; i < 3; ++i) {
    Status again = reader.feed(good, count);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, Errc::too_large);
    EXPECT_EQ(again.error().message, first.error().message);
  }
  EXPECT_EQ(frames, 1);
}

}  // namespace
}  // namespace p2p::wire
