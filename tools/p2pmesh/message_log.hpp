// The messages a command-line node has received: numbered from 0, held for `reply N`
// (the most recent `capacity` of them), queued for `recv`, counted for `wait`.
// Written on the io thread, read from the command thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "p2p/message.hpp"

namespace p2p::cli {

/// CLOCK_MONOTONIC in nanoseconds (the `recv_ns` / `t_ns` of the JSON interface).
std::int64_t monotonic_ns();

struct LoggedMessage {
  std::uint64_t index = 0;
  std::int64_t recv_ns = 0;
  Message msg;
};

class MessageLog {
 public:
  explicit MessageLog(std::size_t capacity = 65536) : capacity_(capacity) {}

  /// Takes a message (a handler that returns true owns it); returns it numbered and
  /// stamped. The held and the pending queue share this one immutable copy: a node relaying
  /// a burst pays one allocation per message here, not a deep copy per queue.
  std::shared_ptr<const LoggedMessage> add(Message&& msg);
  /// A held message by index; nullopt when it never existed or was dropped as too old.
  std::optional<Message> get(std::uint64_t index) const;
  /// Everything received since the last drain (at most `capacity`, oldest dropped first).
  std::vector<std::shared_ptr<const LoggedMessage>> drain();

  struct WaitResult {
    bool ok = false;
    std::uint64_t received = 0;
    std::int64_t first_ns = 0, last_ns = 0;
  };
  /// Waits until `count` messages were received since the last reset, or `timeout`. One
  /// waiter at a time (the JSON node runs its commands one after another): the wake-up is
  /// armed for a single count.
  WaitResult wait(std::uint64_t count, std::chrono::milliseconds timeout);
  /// Zeroes the count and the first/last times (indices keep counting).
  void reset();
  std::uint64_t received() const;
  std::uint64_t dropped() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::size_t capacity_;
  std::deque<std::shared_ptr<const LoggedMessage>> held_;     // the last `capacity_`, for reply
  std::deque<std::shared_ptr<const LoggedMessage>> pending_;  // not yet drained by recv
  std::uint64_t next_index_ = 0;
  std::uint64_t received_ = 0;
  std::uint64_t dropped_ = 0;
  std::int64_t first_ns_ = 0, last_ns_ = 0;
  /// The count a wait() is waiting for (0: nobody waits). add() wakes the waiter only when
  /// it is reached: a wake-up per message cost a context switch per message, and a node
  /// relaying a burst to such a slow reader closed it as a slow peer.
  std::uint64_t wake_at_ = 0;
};

}  // namespace p2p::cli
