// MeshLimits: every bound of the protocol engine, with its default and why that value
// (design principle 3). The engine (core::Limits) and the public options share this one
// definition.
#pragma once

#include <chrono>
#include <cstddef>

namespace p2p {

struct MeshLimits {
  /// Largest frame accepted on the wire (compressed size, after the 4-byte header).
  /// Bitcoin Core caps a message at 4 MB; a 1 MiB packet (the interop suite's largest) plus
  /// msgpack framing must fit, so 4 MiB.
  std::size_t max_frame_bytes = 4u << 20;
  /// Largest body after decompression: a bomb costs at most this much memory per frame.
  std::size_t max_body_bytes = 4u << 20;
  /// Deepest msgpack nesting accepted in a body (real messages nest <= 4).
  std::size_t max_depth = 32;
  /// Open connections of all kinds. Bitcoin Core's default is 125; a mesh node needs
  /// max_outgoing plus its incoming share, so the same order of magnitude.
  std::size_t max_connections = 128;
  /// Connections that have not completed a handshake yet: a flood of half-open sockets must
  /// not crowd out real peers.
  std::size_t max_awaiting = 32;
  /// Time a connection may take to deliver its handshake.
  std::chrono::milliseconds handshake_timeout{10'000};
  /// Time a frame may take from its first byte to its last (slowloris). Measured from the
  /// first byte, so trickling a byte now and then does not extend it. The references use
  /// 60 s; a 4 MiB frame needs ~70 KB/s to make it.
  std::chrono::milliseconds stalled_frame_timeout{60'000};
  /// Entries of the broadcast de-duplication cache (40 bytes each: a 24-byte key and two
  /// 8-byte index slots). At 1 M broadcasts/s for the 60 s window this would need 60 M
  /// entries (~2.4 GiB); 1 Mi entries (40 MiB, allocated as they fill) cover 16 k msg/s
  /// sustained. When full the oldest entry is evicted and counted.
  std::size_t seen_cache_entries = 1u << 20;
  /// Replies waiting for a `response` (indirect reply path).
  std::size_t max_pending_requests = 1024;
  /// How long an indirect reply waits for its `response` before it is dropped and counted.
  std::chrono::milliseconds request_timeout{30'000};
  /// Addresses remembered from peers lists and past links, for self-healing.
  std::size_t max_known_peers = 1024;
  /// Self-healing redials a known address after this, then twice as long after each failed
  /// dial, up to reconnect_backoff_max, each wait times a jitter in [0.5, 1.5) so that nodes
  /// that lost the same peer do not redial it in step. 1 s is a few round trips on any real
  /// path; the 64 s cap keeps an address that is down for good at about one dial a minute.
  std::chrono::milliseconds reconnect_backoff_min{1'000};
  std::chrono::milliseconds reconnect_backoff_max{64'000};
  /// While short of max_outgoing links, a node asks its neighbours for their peers this often
  /// (one small `request *` per neighbour).
  std::chrono::milliseconds peer_request_interval{10'000};
  /// Extra outgoing links, beyond max_outgoing, kept only for redialling peers whose link
  /// broke without us closing it (the peer crashed, or a partition cut it). Without them a
  /// node that refilled max_outgoing links on its side of a partition never dials across
  /// again, and the two islands stay apart after the partition heals. One extra link per
  /// node is enough to bridge: every link cut by the partition has a dialler that remembers
  /// it. 0 turns recovery off.
  std::size_t recovery_links = 1;
};

}  // namespace p2p
