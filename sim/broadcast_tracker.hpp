// Follows every broadcast through the simulated network: copies on the wire, first arrival
// per node, user-level deliveries. The per-broadcast report is computed from these counts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/types.hpp"
#include "event_queue.hpp"
#include "p2p/wire/ids.hpp"

namespace p2p::sim {

using NodeIndex = std::uint32_t;

/// What the simulator needs to know about one frame a node sends.
struct FrameInfo {
  std::uint64_t hash = 0;       ///< content hash, folded into the trace
  std::int32_t broadcast = -1;  ///< index of the tracked broadcast it carries, or -1
};

/// The figures of one broadcast, as the tests check them and p2psim prints them.
struct BroadcastReport {
  std::string id_hex;          ///< message id (sha256 of the body), hex
  NodeIndex origin = 0;        ///< node that sent it first
  std::uint64_t sub_flag = 0;  ///< payload[0]: 0 for a user broadcast, 8 for `request`, ...
  Duration start{0};           ///< virtual time of its first copy on the wire
  std::size_t nodes = 0;       ///< nodes in the simulation, origin included
  std::size_t reached = 0;     ///< nodes other than the origin that received >= 1 copy
  std::size_t delivered = 0;   ///< nodes where it reached the user (receive queue) >= once
  std::size_t delivered_more_than_once = 0;  ///< must stay 0: delivery is exactly once
  /// Time from `start` until every other node had a copy (nullopt if some never did).
  std::optional<Duration> time_to_all;
  Duration time_to_last{0};               ///< time from `start` to the last first arrival
  std::uint64_t copies = 0;               ///< frames carrying it that were written to a link
  std::uint64_t copies_received = 0;      ///< of those, frames that arrived whole
  std::uint32_t max_copies_sent = 0;      ///< by any single node
  std::uint32_t max_copies_received = 0;  ///< by any single node
  /// Copies received beyond each node's first (origin echoes included), per reached node:
  /// 0 would be a perfect tree.
  double duplicate_ratio = 0;
};

class BroadcastTracker {
 public:
  /// Classifies a frame `from` writes at `at`. A broadcast id seen for the first time is
  /// registered with `from` as its origin: no other node can hold it yet.
  FrameInfo classify_send(const core::SharedFrame& frame, NodeIndex from, Duration at,
                          std::size_t node_count);

  void count_sent(std::int32_t b, NodeIndex from);
  void count_received(std::int32_t b, NodeIndex at, Duration when);
  void count_delivered(const wire::Digest256& id, NodeIndex at);

  std::size_t size() const noexcept { return tracked_.size(); }
  std::optional<std::size_t> find(const wire::Digest256& id) const;
  BroadcastReport report(std::size_t b, std::size_t node_count) const;
  /// Frames that neither verified as raw nor opened with any codec (an engine bug).
  std::uint64_t unreadable_frames() const noexcept { return unreadable_; }

 private:
  struct PerNode {
    std::uint32_t sent = 0, received = 0, delivered = 0;
    Duration first{-1};
  };
  struct Tracked {
    wire::Digest256 id{};
    NodeIndex origin = 0;
    std::uint64_t sub_flag = 0;
    Duration start{0};
    std::uint64_t copies = 0, copies_received = 0;
    std::vector<PerNode> nodes;
  };
  struct Cached {
    core::SharedFrame keep;  // pins the address used as the key while the entry lives
    FrameInfo info;
  };
  struct DigestHash {
    std::size_t operator()(const wire::Digest256& d) const noexcept;
  };

  FrameInfo inspect(const core::SharedFrame& frame, NodeIndex from, Duration at,
                    std::size_t node_count);
  PerNode& slot(Tracked& t, NodeIndex n);

  // A relay writes one shared frame to all its links, so most sends hit this cache and cost a
  // hash lookup; the frame is decoded once per distinct buffer.
  std::unordered_map<const Bytes*, Cached> cache_;
  std::unordered_map<wire::Digest256, std::int32_t, DigestHash> by_id_;
  std::vector<Tracked> tracked_;
  std::uint64_t unreadable_ = 0;
};

}  // namespace p2p::sim
