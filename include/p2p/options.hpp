// MeshOptions: everything a MeshSocket can be configured with, each bound with its default.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "p2p/limits.hpp"
#include "p2p/message.hpp"
#include "p2p/protocol.hpp"
#include "p2p/wire/compression.hpp"

namespace asio {
class io_context;
}

namespace p2p {

/// TLS settings, used when the protocol's encryption is "SSL".
///
/// By default (all empty) a node presents a fresh self-signed certificate and accepts any
/// peer, as py2p and js2p do: the link is encrypted but nobody is authenticated. Setting
/// `ca_file` and/or `pinned_sha256` turns verification on in both directions (as a client
/// the node verifies the server; as a server it requests and verifies a client certificate);
/// with both set a peer must pass both. Host names are never checked.
struct TlsOptions {
  std::string cert_file;  ///< PEM certificate chain to present; empty: generate one
  std::string key_file;   ///< PEM private key of cert_file
  std::string ca_file;    ///< PEM CA bundle peers' certificates must chain to
  /// SHA-256 fingerprints (hex, ':' separators allowed) of the peer certificates accepted.
  /// MeshSocket::certificate_fingerprint() gives a node's own.
  std::vector<std::string> pinned_sha256;
};

/// Receives log lines: level 1 (connections, errors) .. 5 (every handler entry and every
/// message in or out), as the references' debug_level. Called on the io thread (and on the
/// constructing thread during construction); must not block for long.
using LogSink = std::function<void(int level, std::string_view text)>;

struct MeshOptions {
  /// Bind address. "" or "0.0.0.0" binds every interface and advertises the LAN address
  /// (127.0.0.1 when there is none); a host name is resolved.
  std::string addr = "0.0.0.0";
  /// Bind port; 0 picks a free one (port() reports it).
  std::uint16_t port = 0;
  Protocol protocol{"mesh", "Plaintext"};
  /// Address advertised to peers instead of the bound one (port forwarding). An empty host
  /// or a zero port keeps the bound value.
  std::optional<Endpoint> out_addr;
  /// 0: silent .. 5: everything (see LogSink).
  int debug_level = 0;
  /// Where log lines go; empty: standard error.
  LogSink log;

  /// Outgoing links the node keeps (py2p's max_outgoing); peers lists fill up to it.
  std::size_t max_outgoing = 4;
  /// Re-dial known peers when outgoing links are lost (self-healing).
  bool auto_reconnect = true;
  /// Compression methods advertised, in order of preference. Empty: never compress.
  std::vector<wire::Compression> compression{wire::all_compressions.begin(),
                                             wire::all_compressions.end()};
  MeshLimits limits;

  /// Messages waiting for recv(). When full, the oldest is dropped and counted
  /// (status counter "recv_dropped"): a reader that stopped reading must not grow the
  /// process; 65536 small messages are a few MiB.
  std::size_t max_recv_queue = 65536;
  /// Bytes that may wait to be written to one peer. The node's own sends are paced: above
  /// half of it, commands from other threads wait until the queue drains (see
  /// max_pending_commands). Traffic the node relays is not paced (that would let one slow
  /// peer throttle the mesh): beyond the bound the peer is closed as too slow (status
  /// counter "slow_peers_closed"). 4 MiB is one maximum-size frame: a peer that cannot take
  /// that much is stalled, and 128 connections stay within ~512 MiB in the worst case.
  std::size_t max_queued_bytes_per_peer = 4u << 20;
  /// A peer with bytes waiting that completes no write for this long has stopped reading:
  /// it is closed ("slow_peers_closed"), which also releases paced senders. Long enough for
  /// a 4 MiB frame over a slow link.
  std::chrono::milliseconds write_stall_timeout{30'000};
  /// A link whose peer vanished (host down, cable cut, partition) is closed after about this
  /// long: TCP keep-alive probes an idle link and TCP_USER_TIMEOUT bounds unacknowledged
  /// data. The protocol has no keep-alive of its own, and without this Linux keeps such a
  /// link for ~15 minutes (tcp_retries2), during which self-healing does not redial. 30 s,
  /// as write_stall_timeout; 0 leaves the system's defaults.
  std::chrono::milliseconds dead_link_timeout{30'000};
  /// Largest socket read handed to the frame reader. A connection's buffer starts at 4 KiB
  /// and doubles up to this only while reads fill it, so idle connections stay small.
  std::size_t read_buffer_bytes = 64u << 10;
  /// Period of the engine's timer (timeouts, cache expiry, self-healing).
  std::chrono::milliseconds tick_interval{250};
  /// Commands (send, connect, reply, ...) from other threads waiting for the io thread.
  /// When that many wait, the calling thread blocks until the io thread has worked the
  /// queue down to half (waking per free place would cost a context switch per call): a
  /// producer faster than the network is slowed down rather than growing memory. Calls on
  /// an io thread, or from any socket's handler or listener, never block: waiting there
  /// could wait for the very thread that waits (two sockets whose handlers send through
  /// each other), so their commands are queued beyond the bound.
  std::size_t max_pending_commands = 65536;
  /// Bytes of the messages those commands carry (a send's encoded frame, a reply's
  /// packets): the same wait applies when they reach this, until they are down to half. The
  /// count alone bounds small messages; this bounds large ones, which would otherwise let
  /// a producer facing a backlogged peer hold 65,536 x 4 MiB. One command is always
  /// accepted into a queue below the bound, so a message larger than it still goes. 16 MiB
  /// lets a fast producer of 4 KiB messages keep its peer busy: 4 MiB cost it ~15% of its
  /// rate (docs/testing.md, "Bounding the bytes of waiting commands").
  std::size_t max_pending_command_bytes = 16u << 20;

  TlsOptions tls;

  /// Run on this io_context instead of an own io thread: one process can host hundreds of
  /// nodes on a few threads. The caller runs the context (io_context::run) and keeps it
  /// alive longer than the socket; close() then does not wait (see MeshSocket::close).
  asio::io_context* io_context = nullptr;
};

}  // namespace p2p
