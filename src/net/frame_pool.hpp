// FramePool: the buffers of large frames, given back by the io thread once a frame's last
// write is done, for the sending thread's next frames.
//
// A frame above Runtime::inline_frame_max is encoded into a buffer of the sending thread and
// handed to the io thread by reference; the io thread drops it once written. Freed there
// and allocated anew by the sender, each such buffer went back to the sender's malloc arena
// across threads (taking the arena's lock against the sender's own mallocs), and the freed
// buffers, coalescing at the top of the heap, made glibc return it to the kernel and fault
// it in again, page by page, for the next frames: about a fifth of the sending thread's time
// in a stream of 4 KiB broadcasts (docs/testing.md). Kept here instead, a buffer goes round
// between the two threads without either the allocator or a page fault.
//
// The pool holds a bounded number of bytes (the runtime passes what its queues may hold: the
// buffers a stream keeps in circulation, which without the pool would sit freed in the
// allocator's heap), keeps no buffer above max_buffer_capacity, and one that went unused
// for a whole tick is emptied (release_if_unused()): an idle node holds no burst's buffers.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "core/types.hpp"

namespace p2p::net {

class FramePool : public std::enable_shared_from_this<FramePool> {
 public:
  /// Larger buffers (rare, large frames) are freed: one would pin its size for little gain.
  static constexpr std::size_t max_buffer_capacity = std::size_t{64} << 10;

  /// A pool that keeps at most `limit` bytes of buffers.
  static std::shared_ptr<FramePool> create(std::size_t limit) {
    return std::shared_ptr<FramePool>(new FramePool(limit));
  }

  /// The frame made of `buffer` (all of it: size it first). When the frame's last
  /// reference goes, on whatever thread, the buffer comes back here (or is freed if the pool
  /// is full); the pool lives as long as any of its frames.
  core::SharedFrame share(Bytes&& buffer);
  /// An empty buffer with the capacity of one given back, or an empty buffer without any
  /// when none is kept. Any thread.
  Bytes take();
  /// Frees every kept buffer if take() was not called since the last call; returns whether
  /// it did. For the io thread's tick.
  bool release_if_unused();

  std::size_t kept() const;        ///< buffers kept now (for tests)
  std::size_t kept_bytes() const;  ///< their capacity in bytes (for tests)

 private:
  explicit FramePool(std::size_t limit) : max_bytes_(limit) {}
  /// The deleter of the frames share() makes.
  struct GiveBack;
  /// Keeps `buffer` if it fits the bounds, else lets it be freed.
  void give_back(Bytes&& buffer) noexcept;

  const std::size_t max_bytes_;
  mutable std::mutex mu_;
  std::vector<Bytes> kept_;
  std::size_t kept_bytes_ = 0;
  bool taken_since_release_ = false;
};

}  // namespace p2p::net
