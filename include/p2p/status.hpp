// MeshStatus: what MeshSocket::status() reports.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace p2p {

struct MeshStatus {
  struct RecentError {
    std::chrono::system_clock::time_point when;
    std::string what;
  };

  /// Every counter of the engine and of the runtime, by name, in a fixed order. Engine:
  /// frames_in, frames_out, bytes_in, bytes_out, messages_delivered, messages_handled,
  /// broadcasts_sent, broadcasts_relayed, broadcast_copies_in, duplicates_dropped,
  /// expired_dropped, seen_evicted, handshakes_completed, handshake_failures, wrong_protocol,
  /// self_connections, duplicate_connections, protocol_errors, checksum_failures,
  /// oversize_frames, connections_refused, timeouts, dials, dial_failures, reconnect_dials,
  /// requests_sent, requests_answered, requests_expired, replies_indirect, ignored.
  /// Runtime: accepted, accept_errors, dial_errors, tls_failures, slow_peers_closed,
  /// io_errors, peer_eofs, bytes_read, bytes_written, reads, write_batches,
  /// callback_exceptions, commands_refused, send_pauses, sender_waits. Socket: recv_dropped.
  std::vector<std::pair<std::string, std::uint64_t>> counters;
  /// The last errors (oldest first, at most 32): failed dials and handshakes, TLS failures,
  /// I/O errors, slow peers closed, refused commands.
  std::vector<RecentError> recent_errors;

  std::size_t peers = 0;        ///< routing table size
  std::size_t awaiting = 0;     ///< connections waiting for a handshake
  std::size_t outgoing = 0;     ///< outgoing links
  std::size_t connections = 0;  ///< every open connection
  std::size_t recv_queue = 0;   ///< messages waiting for recv()
  std::size_t seen_cache = 0;   ///< entries of the broadcast de-duplication cache
  bool closed = false;

  /// The value of the named counter; throws p2p::UsageError for an unknown name (a typo
  /// must not read as zero).
  std::uint64_t counter(std::string_view name) const;
  /// py2p's notion: no recent error.
  bool nominal() const noexcept { return recent_errors.empty(); }
  /// Multi-line human-readable rendering.
  std::string to_string() const;
};

}  // namespace p2p
