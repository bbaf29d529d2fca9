// The simulator's agenda: events ordered by (virtual time, sequence number).
//
// The sequence number is assigned at scheduling time, so two events due at the same instant
// run in the order they were scheduled. That makes every run with the same seed identical,
// and it gives each virtual link TCP's in-order delivery for free (see Simulator::send).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "core/types.hpp"

namespace p2p::sim {

using Duration = std::chrono::nanoseconds;

enum class EventKind : std::uint8_t {
  tick,            ///< Node::tick for `target` (a node index); reschedules itself
  incoming,        ///< the SYN of link `target` reached its acceptor: on_incoming
  dial_connected,  ///< the dialer of link `target` learns its connect succeeded
  dial_failed,     ///< the dialer of link `target` learns its connect failed
  bytes,           ///< frame[offset, offset+length) reaches side `side` of link `target`
  remote_closed,   ///< side `side` of link `target` sees the connection go away
  local_closed,    ///< side `side` closed the link itself; report on_closed to it
};

struct Event {
  Duration at{0};
  std::uint64_t seq = 0;
  EventKind kind = EventKind::tick;
  std::uint8_t side = 0;        ///< 0 = the dialer's end of a link, 1 = the acceptor's
  std::int32_t broadcast = -1;  ///< bytes: the tracked broadcast the frame carries, or -1
  std::uint32_t target = 0;     ///< node index (tick) or link index (everything else)
  std::uint32_t offset = 0;     ///< bytes: chunk start within the frame
  std::uint32_t length = 0;     ///< bytes: chunk length
  bool last_chunk = true;       ///< bytes: this chunk completes the frame
  core::SharedFrame frame;      ///< bytes: the shared frame the chunk belongs to
};

class EventQueue {
 public:
  /// Schedules `e` (its seq is assigned here).
  void push(Event e) {
    e.seq = next_seq_++;
    heap_.push_back(std::move(e));
    std::push_heap(heap_.begin(), heap_.end(), Later{});
  }
  bool empty() const noexcept { return heap_.empty(); }
  std::size_t size() const noexcept { return heap_.size(); }
  /// The next event due. Precondition: !empty().
  const Event& top() const noexcept { return heap_.front(); }
  Event pop() {
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    Event e = std::move(heap_.back());
    heap_.pop_back();
    return e;
  }

 private:
  struct Later {
    bool operator()(const Event& a, const Event& b) const noexcept {
      return a.at != b.at ? a.at > b.at : a.seq > b.seq;
    }
  };
  std::vector<Event> heap_;  // a binary min-heap under Later
  std::uint64_t next_seq_ = 0;
};

}  // namespace p2p::sim
