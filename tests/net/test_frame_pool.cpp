// FramePool: a frame's buffer comes back when its last reference goes, within the bounds,
// and an unused pool empties.
#include <gtest/gtest.h>

#include <mutex>
#include <thread>
#include <vector>

#include "net/frame_pool.hpp"

namespace p2p::net {
namespace {

Bytes buffer_of(std::size_t n, std::uint8_t fill = 0x5a) {
  return Bytes(n, fill);
}

TEST(FramePool, AFramesBufferComesBackWhenItsLastReferenceGoes) {
  auto pool = FramePool::create(1 << 20);
  Bytes b = buffer_of(4096);
  const std::uint8_t* const storage = b.data();
  core::SharedFrame frame = pool->share(std::move(b));
  EXPECT_EQ(frame->data(), storage);  // shared, not copied
  EXPECT_EQ(frame->size(), 4096u);
  core::SharedFrame second = frame;  // a second write queue's reference
  frame.reset();
  EXPECT_EQ(pool->kept(), 0u) << "still referenced";
  second.reset();
  EXPECT_EQ(pool->kept(), 1u);
  EXPECT_EQ(pool->kept_bytes(), 4096u);
  Bytes again = pool->take();
  EXPECT_EQ(again.data(), storage);
  EXPECT_TRUE(again.empty());
  EXPECT_GE(again.capacity(), 4096u);
  EXPECT_EQ(pool->kept(), 0u);
  EXPECT_EQ(pool->take().capacity(), 0u) << "an empty pool gives an empty buffer";
}

TEST(FramePool, KeepsNoMoreThanItsBound) {
  auto pool = FramePool::create(10000);
  std::vector<core::SharedFrame> frames;
  for (int i = 0; i < 4; ++i) frames.push_back(pool->share(buffer_of(4096)));
  frames.push_back(pool->share(buffer_of(FramePool::max_buffer_capacity + 1)));
  frames.clear();
  EXPECT_EQ(pool->kept(), 2u) << "two of 4,096 bytes fit in 10,000; the giant is freed";
  EXPECT_EQ(pool->kept_bytes(), 8192u);
}

TEST(FramePool, AnUnusedPoolEmptiesAtTheNextRelease) {
  auto pool = FramePool::create(1 << 20);
  pool->share(buffer_of(2048)).reset();
  (void)pool->take();                       // in use: taken from since the last release
  pool->share(buffer_of(2048)).reset();     // kept
  EXPECT_FALSE(pool->release_if_unused());  // a take happened since the last release
  EXPECT_EQ(pool->kept(), 1u);
  EXPECT_TRUE(pool->release_if_unused());  // none since: freed
  EXPECT_EQ(pool->kept(), 0u);
  EXPECT_EQ(pool->kept_bytes(), 0u);
  EXPECT_FALSE(pool->release_if_unused()) << "nothing left to free";
}

TEST(FramePool, AFrameOutlivingItsPoolsOwnerStillReturnsSafely) {
  auto pool = FramePool::create(1 << 20);
  core::SharedFrame frame = pool->share(buffer_of(3000));
  std::weak_ptr<FramePool> watch = pool;
  pool.reset();  // the runtime is gone; a write queue still holds the frame
  EXPECT_FALSE(watch.expired()) << "the frame keeps its pool alive";
  EXPECT_EQ((*frame)[2999], 0x5a);
  frame.reset();
  EXPECT_TRUE(watch.expired());
}

TEST(FramePool, FramesDroppedOnAnotherThreadFeedTheSender) {
  // The sending thread takes and shares, the io thread drops: the shape of a stream (and a
  // case for ThreadSanitizer).
  auto pool = FramePool::create(1 << 20);
  constexpr int n = 20000;
  std::vector<core::SharedFrame> handoff;
  std::mutex mu;
  std::thread io([&] {
    for (int dropped = 0; dropped < n;) {
      std::vector<core::SharedFrame> batch;
      {
        std::lock_guard<std::mutex> lock(mu);
        batch.swap(handoff);
      }
      dropped += static_cast<int>(batch.size());
      batch.clear();  // the buffers go back to the pool here, on this thread
      std::this_thread::yield();
    }
  });
  int reused = 0;
  for (int i = 0; i < n; ++i) {
    Bytes b = pool->take();
    reused += b.capacity() != 0;
    b.assign(2000, static_cast<std::uint8_t>(i));
    core::SharedFrame f = pool->share(std::move(b));
    std::lock_guard<std::mutex> lock(mu);
    handoff.push_back(std::move(f));
  }
  io.join();
  EXPECT_GT(reused, 0) << "no buffer ever came back";
  EXPECT_LE(pool->kept_bytes(), std::size_t{1} << 20);
}

}  // namespace
}  // namespace p2p::net
