// WriteQueue: bound, batching caps, coalescing of small frames and what stays alive while a
// write is in flight.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "net/write_queue.hpp"

namespace p2p::net {
namespace {

core::SharedFrame frame(std::size_t n, std::uint8_t fill = 0xab) {
  return std::make_shared<const Bytes>(n, fill);
}

TEST(WriteQueue, AcceptsUpToTheBoundAndRefusesBeyond) {
  WriteQueue q(100);
  EXPECT_TRUE(q.push(frame(60)));
  EXPECT_TRUE(q.push(frame(40)));
  EXPECT_EQ(q.queued_bytes(), 100u);
  EXPECT_FALSE(q.push(frame(1)));  // 101 > 100
  EXPECT_EQ(q.queued_bytes(), 100u);
  EXPECT_EQ(q.queued_frames(), 2u);
}

TEST(WriteQueue, EmptyQueueTakesOneOversizeFrame) {
  WriteQueue q(10);
  EXPECT_TRUE(q.push(frame(50)));
  EXPECT_FALSE(q.push(frame(1)));
}

TEST(WriteQueue, BatchGathersEverythingWithinTheCaps) {
  WriteQueue q(1 << 20);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(q.push(frame(10)));
  const auto& b = q.start_batch(4, 1000);
  EXPECT_EQ(b.size(), 4u);
  EXPECT_EQ(asio::buffer_size(b), 40u);
  EXPECT_TRUE(q.in_flight());
  EXPECT_FALSE(q.idle());
  q.finish_batch();
  EXPECT_EQ(q.queued_frames(), 6u);
  EXPECT_EQ(q.queued_bytes(), 60u);
  const auto& b2 = q.start_batch(64, 25);  // byte cap: two frames of 10 fit, a third not
  EXPECT_EQ(b2.size(), 2u);
  q.finish_batch();
  EXPECT_EQ(q.queued_frames(), 4u);
}

TEST(WriteQueue, ByteCapAlwaysLetsTheFirstFrameThrough) {
  WriteQueue q(1 << 20);
  ASSERT_TRUE(q.push(frame(500)));
  ASSERT_TRUE(q.push(frame(5)));
  const auto& b = q.start_batch(64, 100);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].size(), 500u);
}

TEST(WriteQueue, BuffersPointAtTheSharedFrames) {
  WriteQueue q(1 << 20);
  auto f = frame(32);
  ASSERT_TRUE(q.push(f));
  const auto& b = q.start_batch(64, 1 << 20);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].data(), static_cast<const void*>(f->data()));  // no copy
}

TEST(WriteQueue, DropWaitingKeepsTheBatchInFlight) {
  WriteQueue q(1 << 20);
  auto f = frame(10);
  ASSERT_TRUE(q.push(f));
  ASSERT_TRUE(q.push(frame(20)));
  q.start_batch(1, 1 << 20);
  std::weak_ptr<const Bytes> watch = f;
  f.reset();
  q.drop_waiting();
  EXPECT_FALSE(watch.expired());  // the pending write still reads it
  EXPECT_EQ(q.queued_bytes(), 10u);
  q.finish_batch();
  EXPECT_TRUE(watch.expired());
  EXPECT_TRUE(q.empty());
}

TEST(WriteQueue, SpaceFreedByAFinishedBatchIsReusable) {
  WriteQueue q(30);
  ASSERT_TRUE(q.push(frame(20)));
  ASSERT_TRUE(q.push(frame(10)));
  EXPECT_FALSE(q.push(frame(5)));
  q.start_batch(1, 1 << 20);
  q.finish_batch();
  EXPECT_TRUE(q.push(frame(20)));
}

using Gather = WriteQueue::Gather;

/// The bytes of a batch, concatenated in order.
Bytes concat(const std::vector<asio::const_buffer>& bufs) {
  Bytes out;
  for (const auto& b : bufs) {
    const auto* p = static_cast<const std::uint8_t*>(b.data());
    out.insert(out.end(), p, p + b.size());
  }
  return out;
}

TEST(WriteQueue, SmallFramesAreCopiedBackToBackIntoOneBuffer) {
  WriteQueue q(1 << 20, Gather::coalesce_small);
  Bytes expected;
  for (std::uint8_t i = 0; i < 100; ++i) {
    auto f = frame(170, i);
    expected.insert(expected.end(), f->begin(), f->end());
    ASSERT_TRUE(q.push(std::move(f)));
  }
  EXPECT_EQ(q.queued_frames(), 100u);
  EXPECT_EQ(q.queued_bytes(), 17000u);
  const auto& b = q.start_batch(16, 1 << 20);
  EXPECT_EQ(b.size(), 1u);  // 100 frames, one buffer: one system call
  EXPECT_EQ(concat(b), expected);
  q.finish_batch();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.queued_frames(), 0u);
  EXPECT_EQ(q.queued_bytes(), 0u);
}

TEST(WriteQueue, CoalescingKeepsTheOrderAroundLargeFrames) {
  WriteQueue q(1 << 20, Gather::coalesce_small);
  auto large = frame(WriteQueue::small_frame_max + 1, 0x22);
  ASSERT_TRUE(q.push(frame(10, 0x11)));
  ASSERT_TRUE(q.push(large));
  ASSERT_TRUE(q.push(frame(10, 0x33)));
  ASSERT_TRUE(q.push(frame(WriteQueue::small_frame_max, 0x44)));  // the largest small frame
  const auto& b = q.start_batch(64, 1 << 20);
  ASSERT_EQ(b.size(), 3u);  // [small], [large], [small + small]
  EXPECT_EQ(b[1].data(), static_cast<const void*>(large->data()));  // shared, not copied
  EXPECT_EQ(b[2].size(), 10u + WriteQueue::small_frame_max);
  Bytes expected(10, 0x11);
  expected.insert(expected.end(), large->begin(), large->end());
  expected.insert(expected.end(), 10, 0x33);
  expected.insert(expected.end(), WriteQueue::small_frame_max, 0x44);
  EXPECT_EQ(concat(b), expected);
  EXPECT_EQ(q.queued_frames(), 4u);
}

TEST(WriteQueue, AChunkHoldsAtMostChunkMaxBytes) {
  WriteQueue q(1 << 20, Gather::coalesce_small);
  const std::size_t per_frame = 1000;
  const std::size_t n = 3 * WriteQueue::chunk_max / per_frame;  // three chunks' worth
  for (std::size_t i = 0; i < n; ++i) ASSERT_TRUE(q.push(frame(per_frame)));
  const auto& b = q.start_batch(64, 1 << 20);
  const std::size_t per_chunk = WriteQueue::chunk_max / per_frame;  // whole frames only
  ASSERT_EQ(b.size(), (n + per_chunk - 1) / per_chunk);
  for (const auto& buf : b) {
    EXPECT_LE(buf.size(), WriteQueue::chunk_max);
    EXPECT_EQ(buf.size() % per_frame, 0u);  // no frame is split across chunks
  }
  EXPECT_EQ(asio::buffer_size(b), n * per_frame);
}

TEST(WriteQueue, FramesQueuedDuringAWriteNeverTouchTheChunkInFlight) {
  WriteQueue q(1 << 20, Gather::coalesce_small);
  ASSERT_TRUE(q.push(frame(100, 0x01)));
  const auto& b = q.start_batch(64, 1 << 20);
  ASSERT_EQ(b.size(), 1u);
  const asio::const_buffer in_flight = b[0];
  const Bytes before = concat(b);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(q.push(frame(100, 0x02)));  // would regrow it
  EXPECT_EQ(in_flight.size(), 100u);
  EXPECT_EQ(std::memcmp(in_flight.data(), before.data(), before.size()), 0);
  EXPECT_FALSE(q.idle());
  q.finish_batch();
  EXPECT_EQ(q.queued_frames(), 1000u);
  const auto& b2 = q.start_batch(64, 1 << 20);
  EXPECT_EQ(asio::buffer_size(b2), 100'000u);
  EXPECT_EQ(concat(b2), Bytes(100'000, 0x02));
}

TEST(WriteQueue, TheBoundCountsCoalescedBytes) {
  WriteQueue q(1000, Gather::coalesce_small);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(q.push(frame(100)));
  EXPECT_FALSE(q.push(frame(1)));
  EXPECT_EQ(q.queued_frames(), 10u);
  q.start_batch(64, 1 << 20);
  q.finish_batch();
  EXPECT_TRUE(q.push(frame(1000)));
}

TEST(WriteQueue, DropWaitingDropsCoalescedFramesButNotTheBatchInFlight) {
  WriteQueue q(1 << 20, Gather::coalesce_small);
  ASSERT_TRUE(q.push(frame(10)));
  q.start_batch(64, 1 << 20);
  ASSERT_TRUE(q.push(frame(20)));
  ASSERT_TRUE(q.push(frame(30)));
  q.drop_waiting();
  EXPECT_EQ(q.queued_bytes(), 10u);
  EXPECT_EQ(q.queued_frames(), 1u);
  EXPECT_TRUE(q.idle());
  q.finish_batch();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.queued_bytes(), 0u);
}

TEST(WriteQueue, ByReferenceKeepsOneBufferPerFrame) {
  WriteQueue q(1 << 20, Gather::by_reference);  // TLS: one frame per record
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(q.push(frame(10)));
  EXPECT_EQ(q.start_batch(64, 1 << 20).size(), 5u);
}

TEST(WriteQueue, ABusyQueueReusesAWrittenChunksBuffer) {
  WriteQueue q(1 << 20, Gather::coalesce_small);
  const std::size_t per_frame = 1000;
  const std::size_t per_chunk = WriteQueue::chunk_max / per_frame;
  for (std::size_t i = 0; i < per_chunk + 1; ++i) ASSERT_TRUE(q.push(frame(per_frame, 0x01)));
  const auto& b = q.start_batch(1, 1 << 20);  // the full chunk only
  ASSERT_EQ(b.size(), 1u);
  const void* const written = b[0].data();
  q.finish_batch();  // one frame still waits: the link is busy
  EXPECT_EQ(q.spare_capacity(), WriteQueue::chunk_max);
  // The waiting chunk fills; the next one takes the spare's buffer, and its bytes are the
  // new frames, nothing of the old.
  for (std::size_t i = 0; i < per_chunk; ++i) ASSERT_TRUE(q.push(frame(per_frame, 0x02)));
  EXPECT_EQ(q.spare_capacity(), 0u);
  q.start_batch(1, 1 << 20);
  q.finish_batch();  // the chunk holding the 0x01 frame and the first 0x02 ones
  const auto& b2 = q.start_batch(64, 1 << 20);
  ASSERT_EQ(b2.size(), 1u);
  EXPECT_EQ(b2[0].data(), written);
  EXPECT_EQ(concat(b2), Bytes(per_frame, 0x02));
}

TEST(WriteQueue, AnEmptiedQueueKeepsNoSpareChunk) {
  WriteQueue q(1 << 20, Gather::coalesce_small);
  const std::size_t per_frame = 1000;
  for (std::size_t i = 0; i < WriteQueue::chunk_max / per_frame; ++i)
    ASSERT_TRUE(q.push(frame(per_frame)));
  q.start_batch(64, 1 << 20);
  q.finish_batch();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.spare_capacity(), 0u);  // an idle link holds none of its burst's buffers
}

}  // namespace
}  // namespace p2p::net
