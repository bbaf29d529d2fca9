// Helpers for the hostile-peer tests: a raw TCP peer that speaks the wire format by hand
// (built with the library's own encoders), a log capture, the exchange check that proves a
// node still serves a well-behaved peer, and the resident-set reading.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "mesh_test_util.hpp"
#include "p2p/flags.hpp"
#include "p2p/mesh_socket.hpp"
#include "p2p/wire/frame.hpp"
#include "p2p/wire/message.hpp"
#include "p2p/wire/msgpack.hpp"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define P2P_HOSTILE_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define P2P_HOSTILE_SANITIZED 1
#endif
#endif

namespace p2p::hostile {

using namespace std::chrono_literals;
using p2p::testing::wait_until;

inline std::uint64_t utc_now() {
  return static_cast<std::uint64_t>(std::time(nullptr));
}

/// A node on 127.0.0.1 whose timers run fast enough for timeout tests.
inline MeshOptions node_options(const std::string& encryption = "Plaintext") {
  MeshOptions o = p2p::testing::loopback(encryption);
  o.tick_interval = 20ms;
  o.max_outgoing = 0;  // nothing dials on its own: the tests decide every link
  return o;
}

/// Collects the node's log lines (level 1: connections and the reason each was closed).
struct LogCapture {
  struct State {
    std::mutex mu;
    std::vector<std::string> lines;
  };
  std::shared_ptr<State> state = std::make_shared<State>();

  void attach(MeshOptions& o) const {
    o.debug_level = 1;
    o.log = [s = state](int, std::string_view text) {
      std::lock_guard<std::mutex> lock(s->mu);
      s->lines.emplace_back(text);
    };
  }
  bool contains(const std::string& needle) const {
    std::lock_guard<std::mutex> lock(state->mu);
    return std::any_of(state->lines.begin(), state->lines.end(),
                       [&](const std::string& l) { return l.find(needle) != std::string::npos; });
  }
  std::string dump() const {
    std::lock_guard<std::mutex> lock(state->mu);
    std::string out;
    for (const auto& l : state->lines) out += l + "\n";
    return out;
  }
};

/// True when some recent error of `s` mentions `needle`.
inline bool has_error(const MeshSocket& s, const std::string& needle) {
  for (const auto& e : s.status().recent_errors)
    if (e.what.find(needle) != std::string::npos) return true;
  return false;
}

/// A wire peer written by hand: a plain blocking POSIX socket to 127.0.0.1.
class RawConn {
 public:
  /// `rcvbuf` > 0 shrinks the receive buffer before connecting (a peer that never reads
  /// then stops the node's writes sooner).
  explicit RawConn(std::uint16_t port, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) return;
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) close();
  }
  ~RawConn() { close(); }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  /// Writes everything; false when the node has closed the connection.
  bool send(ByteView data) {
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }

  /// The content (after the length header) of the next frame the node sends.
  std::optional<Bytes> read_frame(std::chrono::milliseconds limit = p2p::testing::deadline) {
    const auto end = std::chrono::steady_clock::now() + limit;
    Bytes header;
    if (!read_exact(header, wire::frame_header_size, end)) return std::nullopt;
    const std::size_t n = (std::size_t{header[0]} << 24) | (std::size_t{header[1]} << 16) |
                          (std::size_t{header[2]} << 8) | std::size_t{header[3]};
    Bytes content;
    if (!read_exact(content, n, end)) return std::nullopt;
    return content;
  }

  /// Waits until the node closes the connection (EOF or reset), discarding what it sends.
  bool wait_closed(std::chrono::milliseconds limit = p2p::testing::deadline) {
    const auto end = std::chrono::steady_clock::now() + limit;
    std::uint8_t buf[4096];
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      const int r = ::poll(&p, 1, static_cast<int>(left.count()));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) continue;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n == 0) return true;
      if (n < 0 && errno != EINTR && errno != EAGAIN) return true;  // reset
    }
  }

  /// Not closed by the node yet (nothing but data is pending on the socket).
  bool still_open() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) return true;
    std::uint8_t b;
    const ssize_t n = ::recv(fd_, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n > 0;
  }

 private:
  bool read_exact(Bytes& out, std::size_t n, std::chrono::steady_clock::time_point end) {
    out.resize(n);
    std::size_t got = 0;
    while (got < n) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      const int r = ::poll(&p, 1, static_cast<int>(left.count()));
      if (r <= 0) continue;
      const ssize_t k = ::recv(fd_, out.data() + got, n - got, 0);
      if (k <= 0) return false;
      got += static_cast<std::size_t>(k);
    }
    return true;
  }

  int fd_ = -1;
};

/// Builds the frames a (possibly lying) peer sends, with the library's own encoders.
struct Forger {
  std::string id = "HostilePeer1111111111111111111111111111111111111111111111111111111";
  std::string protocol_id;

  explicit Forger(std::string protocol, std::string own_id = {})
      : protocol_id(std::move(protocol)) {
    if (!own_id.empty()) id = std::move(own_id);
  }

  /// A whole frame (header included) of [flag, sender, time, payload...].
  static Bytes frame(std::uint8_t flag, const std::string& sender, const Array& payload,
                     std::optional<wire::Compression> method = std::nullopt) {
    const Bytes body = wire::encode_body(flag, sender, utc_now(), payload);
    return wire::make_frame(body, method).value();
  }
  Bytes frame(std::uint8_t flag, const Array& payload,
              std::optional<wire::Compression> method = std::nullopt) const {
    return frame(flag, id, payload, method);
  }
  /// [whisper, id, time, handshake, id, protocol_id, [host, port], [methods]]
  Bytes handshake(const Array& methods = {}, std::uint16_t port = 1) const {
    return frame(flags::whisper,
                 Array{Value(flags::handshake), Value(id), Value(protocol_id),
                       Value::array({Value("127.0.0.1"), Value(port)}), Value(methods)});
  }
  Bytes broadcast(const Array& packets,
                  std::optional<wire::Compression> method = std::nullopt) const {
    Array payload{Value(flags::broadcast)};
    payload.insert(payload.end(), packets.begin(), packets.end());
    return frame(flags::broadcast, payload, method);
  }
};

/// The decoded body of a frame content the node sent uncompressed (its handshake).
inline wire::Body decode_raw(const Bytes& content) {
  const ByteView body = ByteView(content).subspan(wire::checksum_size);
  return wire::decode_body(body).value();
}

/// Waits for a message on `s` whose packets()[1] is `token`, skipping others.
inline bool receives(MeshSocket& s, const std::string& token,
                     std::chrono::milliseconds limit = p2p::testing::deadline) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    auto m = s.recv_for(100ms);
    if (m && m->packets().size() > 1 && m->packets()[1] == Value(token)) return true;
  }
  return false;
}

/// Proves `node` still serves `good`, a linked peer: a broadcast each way arrives.
inline ::testing::AssertionResult exchanges(MeshSocket& node, MeshSocket& good) {
  static int round = 0;
  const std::string there = "to-good-" + std::to_string(++round);
  const std::string back = "to-node-" + std::to_string(round);
  if (!node.send({there})) return ::testing::AssertionFailure() << "node refused send";
  if (!receives(good, there))
    return ::testing::AssertionFailure() << "good peer never got " << there << "\n"
                                         << node.status().to_string();
  if (!good.send({back})) return ::testing::AssertionFailure() << "good peer refused send";
  if (!receives(node, back))
    return ::testing::AssertionFailure() << "node never got " << back << "\n"
                                         << node.status().to_string();
  return ::testing::AssertionSuccess();
}

/// Resident set size of this process, from /proc/self/statm.
inline std::size_t rss_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  const int got = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return got == 2 ? resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)) : 0;
}

/// Checks RSS growth since construction against `limit`, in builds without sanitizers
/// (their shadow memory and quarantine make RSS meaningless).
struct RssGuard {
  std::size_t start = rss_bytes();
  void check(std::size_t limit, const char* what) const {
#ifndef P2P_HOSTILE_SANITIZED
    const std::size_t now = rss_bytes();
    const std::size_t grown = now > start ? now - start : 0;
    EXPECT_LT(grown, limit) << what << ": RSS grew by " << (grown >> 20) << " MiB";
#else
    (void)limit;
    (void)what;
#endif
  }
};

}  // namespace p2p::hostile
