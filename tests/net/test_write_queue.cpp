// WriteQueue: bound, batching caps and what stays alive while a write is in flight.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace p2p::net
