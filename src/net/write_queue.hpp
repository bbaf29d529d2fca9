// WriteQueue: the frames waiting to go out on one connection.
//
// Frames are shared, immutable buffers (core::SharedFrame): a broadcast is encoded once and
// every connection's queue holds a reference to the same bytes. At most one batch is in
// flight at a time (Asio allows a single outstanding write per stream); a batch gathers
// everything queued, up to a cap, into one buffer sequence, so many small frames cost one
// system call instead of one each.
//
// Small frames are copied, back to back, into chunks of up to 64 KiB instead (Gather::
// coalesce_small). Asio's async_write passes at most 16 buffers to each sendmsg(), so a
// burst of 64-byte messages, one buffer per frame, cost a system call (and a trip through
// the event loop) per 16 frames; a chunk carries ~380 such frames in one buffer. Copying
// a frame of a few hundred bytes costs less than its share of a system call, and the
// kernel copies it anyway. Large frames stay shared.
//
// While a link stays busy, the buffer of a written chunk is kept for the next one. A chunk
// freed and another allocated per 64 KiB written made the allocator hand the freed top of
// its heap back to the kernel (a free of 64 KiB or more triggers that check) and fault it in
// again, page by page, for the next chunk: ~6,000 faults, ~15% of the sending io thread's
// time, in a stream of 10^6 small broadcasts (docs/testing.md). An idle queue keeps nothing.
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
  enum class Gather {
    /// One buffer per frame. TLS links need it: the runtime writes one frame per record.
    by_reference,
    /// Frames up to small_frame_max are copied into chunks (see the top of the file).
    coalesce_small,
  };
  /// Frames up to this size are coalesced (Gather::coalesce_small).
  static constexpr std::size_t small_frame_max = 2048;
  /// A chunk of coalesced frames holds at most this many bytes.
  static constexpr std::size_t chunk_max = 64u << 10;

  /// `max_bytes` bounds the bytes queued, the batch in flight included.
  explicit WriteQueue(std::size_t max_bytes, Gather gather = Gather::by_reference)
      : max_bytes_(max_bytes), coalesce_(gather == Gather::coalesce_small) {}

  /// Queues `frame`. Returns false, and queues nothing, when the bound would be exceeded. A
  /// frame is always accepted by an empty queue, whatever its size, so a single frame larger
  /// than the bound (the core already caps frame size) can still go out to an idle peer.
  bool push(core::SharedFrame frame);

  /// Starts a batch: the first buffers not yet in flight (a frame, or a chunk of coalesced
  /// frames), at most `max_buffers` of them and (after the first) at most `max_bytes` in
  /// total. Precondition: !in_flight() && !idle(). The buffers stay valid until
  /// finish_batch(); frames pushed meanwhile never touch them.
  const std::vector<asio::const_buffer>& start_batch(std::size_t max_buffers,
                                                     std::size_t max_bytes);

  /// The batch in flight was written completely: drops its frames and releases their bytes.
  void finish_batch();

  bool in_flight() const noexcept { return in_flight_entries_ > 0; }
  /// No frame waits to be started (frames in flight do not count).
  bool idle() const noexcept { return entries_.size() == in_flight_entries_; }
  bool empty() const noexcept { return entries_.empty(); }
  std::size_t queued_bytes() const noexcept { return queued_bytes_; }
  /// Frames queued, in flight included. Walks the queue: for tests and diagnostics, not for
  /// a hot path.
  std::size_t queued_frames() const noexcept;
  std::size_t max_bytes() const noexcept { return max_bytes_; }
  /// Capacity of the written chunk kept for the next one: 0 or chunk_max, and 0 whenever
  /// the queue is empty. For tests and memory accounting.
  std::size_t spare_capacity() const noexcept { return spare_.capacity(); }
  /// Drops the frames not yet in flight (the connection is closing). The batch in flight, if
  /// any, stays: the pending write still reads its buffers.
  void drop_waiting() noexcept;

 private:
  /// One buffer of the queue: a shared frame, or (frame == nullptr) a chunk of copies.
  struct Entry {
    core::SharedFrame frame;
    Bytes chunk;
    std::size_t frames = 1;  ///< frames this entry carries
    const Bytes& bytes() const noexcept { return frame ? *frame : chunk; }
  };
  /// Appends a small frame to the last chunk, or to a new one. Needs coalesce_.
  void append_small(const Bytes& frame);

  std::size_t max_bytes_;
  bool coalesce_;
  std::deque<Entry> entries_;  ///< in-flight entries first, then waiting ones
  std::size_t in_flight_entries_ = 0;
  std::size_t in_flight_bytes_ = 0;
  std::size_t queued_bytes_ = 0;
  std::vector<asio::const_buffer> batch_;
  Bytes spare_;  ///< a written chunk_max chunk, emptied, for the next chunk (see the top)
};

}  // namespace p2p::net
