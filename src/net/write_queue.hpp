// WriteQueue: the frames waiting to go out on one connection.
//
// Frames are shared, immutable buffers (core::SharedFrame): a broadcast is encoded once and
// every connection's queue holds a reference to the same bytes. At most one batch is in
// flight at a time (Asio allows a single outstanding write per stream); a batch gathers
// everything queued, up to a cap, into one buffer sequence, so many small frames cost one
// system call instead of one each.
//
// The queue is bounded in bytes. A peer that does not read fills it; the runtime then closes
// that one peer (design principle 4: a slow or hostile peer closes only itself) instead of
// letting its backlog grow the process without limit.
#pragma once

#include <cstddef>
#include <deque>
#include <vector>

#include "core/types.hpp"
#include "net/asio.hpp"

namespace p2p::net {

class WriteQueue {
 public:
  /// `max_bytes` bounds the bytes queued, the batch in flight included.
  explicit WriteQueue(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  /// Queues `frame`. Returns false, and queues nothing, when the bound would be exceeded. A
  /// frame is always accepted by an empty queue, whatever its size, so a single frame larger
  /// than the bound (the core already caps frame size) can still go out to an idle peer.
  bool push(core::SharedFrame frame);

  /// Starts a batch: the first frames not yet in flight, at most `max_buffers` of them and
  /// (after the first) at most `max_bytes` in total. Precondition: !in_flight() && !idle().
  /// The buffers stay valid until finish_batch().
  const std::vector<asio::const_buffer>& start_batch(std::size_t max_buffers,
                                                     std::size_t max_bytes);

  /// The batch in flight was written completely: drops its frames and releases their bytes.
  void finish_batch();

  bool in_flight() const noexcept { return in_flight_frames_ > 0; }
  /// No frame waits to be started (frames in flight do not count).
  bool idle() const noexcept { return frames_.size() == in_flight_frames_; }
  bool empty() const noexcept { return frames_.empty(); }
  std::size_t queued_bytes() const noexcept { return queued_bytes_; }
  std::size_t queued_frames() const noexcept { return frames_.size(); }
  std::size_t max_bytes() const noexcept { return max_bytes_; }
  /// Drops the frames not yet in flight (the connection is closing). The batch in flight, if
  /// any, stays: the pending write still reads its buffers.
  void drop_waiting() noexcept;

 private:
  std::size_t max_bytes_;
  std::deque<core::SharedFrame> frames_;  ///< in-flight frames first, then waiting ones
  std::size_t in_flight_frames_ = 0;
  std::size_t in_flight_bytes_ = 0;
  std::size_t queued_bytes_ = 0;
  std::vector<asio::const_buffer> batch_;
};

}  // namespace p2p::net
