// tcp_pingpong: the loopback TCP ceilings the p2pmesh benchmarks are compared with.
//
//   tcp_pingpong latency [--rounds N] [--warmup W] [--size S]
//       Two processes (fork) on 127.0.0.1 with TCP_NODELAY: the parent sends S bytes, the
//       child echoes them. One-way latency = round trip / 2; p50/p99 over N round trips
//       after W unmeasured ones.
//   tcp_pingpong stream [--bytes B] [--chunk C]
//       The parent writes B bytes in C-byte writes; the child reads them all, then answers
//       one byte. Throughput = B / (time from the first write to that answer).
//   tcp_pingpong frames [--count K] [--size S]
//       The stream again, as the mesh's frames (`uint32 BE length | sha256(body) | body`):
//       the parent writes K frames of S-byte bodies, each with its own sequence number,
//       built and hashed in place in a 64 KiB batch written at once; the child reads them,
//       checks every digest and answers one byte after the K-th. Throughput = K x S / (time
//       from the first frame to that answer). What one hop of the protocol costs at best:
//       the SHA-256 that both ends must compute, the kernel's copies and nothing else (no
//       message encoding, queues or de-duplication). Frames are sealed and read with
//       p2pmesh's own p2p::wire::seal_raw_frame, FrameReader and open_frame_view.
//   tcp_pingpong chain [--hops H] [--messages N] [--warmup W] [--size S] [--gap-us G]
//       H + 1 processes in a line of loopback TCP links, each relaying S bytes to the next
//       with blocking reads and writes. The parent sends one message every G microseconds
//       (after the previous one arrived); latency = the last process's arrival - the send
//       (CLOCK_MONOTONIC in both). p50/p99 over N messages after W unmeasured ones. Each hop
//       wakes a process that has slept since the last message, as in a mesh whose messages
//       are spaced out: what a relay chain at best costs on this machine, to set beside the
//       chain workload (the ping-pong's processes answer each other at once instead).
//
// Prints one JSON line. Apart from `frames`, no framing, no hashing, no copies beyond the
// kernel's: what any protocol over loopback TCP on this machine can at best reach.
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "loopback.hpp"
#include "p2p/wire/frame.hpp"

namespace {

using namespace ceiling;
using Clock = std::chrono::steady_clock;

/// Forks a child that accepts one connection on `listener` and runs `serve` on it.
template <class F>
pid_t spawn_server(int listener, F serve) {
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    alarm(600);  // bounded even if the parent dies without closing the link
    int fd = accept(listener, nullptr, nullptr);
    if (fd < 0) die("accept");
    set_nodelay(fd);
    serve(fd);
    _exit(0);
  }
  close(listener);
  return pid;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

int latency(std::size_t rounds, std::size_t warmup, std::size_t size) {
  std::uint16_t port = 0;
  int listener = listen_loopback(port);
  pid_t child = spawn_server(listener, [size](int fd) {
    std::vector<char> buf(size);
    while (read_all(fd, buf.data(), size) && write_all(fd, buf.data(), size)) {
    }
  });
  int fd = dial_loopback(port);
  std::vector<char> buf(size, 'x');
  std::vector<double> one_way_us;
  one_way_us.reserve(rounds);
  for (std::size_t i = 0; i < warmup + rounds; ++i) {
    const auto t0 = Clock::now();
    if (!write_all(fd, buf.data(), size) || !read_all(fd, buf.data(), size)) die("echo");
    const auto rtt = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    if (i >= warmup) one_way_us.push_back(rtt / 2);
  }
  close(fd);
  waitpid(child, nullptr, 0);
  double sum = 0;
  for (double v : one_way_us) sum += v;
  std::printf(
      "{\"workload\":\"tcp_latency\",\"impl\":\"tcp\",\"rounds\":%zu,\"size\":%zu,"
      "\"one_way_p50_us\":%.3f,\"one_way_p99_us\":%.3f,\"one_way_mean_us\":%.3f}\n",
      rounds, size, percentile(one_way_us, 50), percentile(one_way_us, 99),
      sum / static_cast<double>(rounds));
  return 0;
}

int stream(std::size_t total, std::size_t chunk) {
  std::uint16_t port = 0;
  int listener = listen_loopback(port);
  pid_t child = spawn_server(listener, [chunk](int fd) {
    std::vector<char> buf(chunk);
    while (read(fd, buf.data(), buf.size()) > 0) {
    }
    char ack = 'k';
    write_all(fd, &ack, 1);
  });
  int fd = dial_loopback(port);
  std::vector<char> buf(chunk, 'x');
  const auto t0 = Clock::now();
  for (std::size_t sent = 0; sent < total; sent += chunk)
    if (!write_all(fd, buf.data(), std::min(chunk, total - sent))) die("write");
  shutdown(fd, SHUT_WR);
  char ack = 0;
  if (!read_all(fd, &ack, 1)) die("ack");
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  close(fd);
  waitpid(child, nullptr, 0);
  std::printf(
      "{\"workload\":\"tcp_stream\",\"impl\":\"tcp\",\"bytes\":%zu,\"chunk\":%zu,\"seconds\":%.6f,"
      "\"bytes_per_s\":%.1f}\n",
      total, chunk, s, static_cast<double>(total) / s);
  return 0;
}

/// The child of `frames`: reads frames until it has `count` of them, checks each digest
/// (p2pmesh's own frame reader and check), then answers one byte ('k', or 'x' at the first
/// bad frame).
void check_frames(int fd, std::size_t count, std::size_t size) {
  using p2p::wire::raw_frame_overhead;
  p2p::wire::FrameReader reader(raw_frame_overhead + size);
  std::vector<std::uint8_t> buf(std::max<std::size_t>(raw_frame_overhead + size, 64u << 10));
  std::size_t done = 0;
  bool good = true;
  while (good && done < count) {
    const ssize_t r = read(fd, buf.data(), buf.size());
    if (r <= 0) _exit(1);
    const p2p::Status fed = reader.feed(
        p2p::ByteView(buf.data(), static_cast<std::size_t>(r)), [&](p2p::ByteView content) {
          const auto opened = p2p::wire::open_frame_view(content, {}, size);
          good = good && opened && opened->body.size() == size;
          ++done;
        });
    good = good && fed.ok();
  }
  const char answer = good ? 'k' : 'x';
  write_all(fd, &answer, 1);
}

int frames(std::size_t count, std::size_t size) {
  size = std::max(size, sizeof(std::uint64_t));  // the sequence number starts each body
  std::uint16_t port = 0;
  int listener = listen_loopback(port);
  pid_t child = spawn_server(listener, [count, size](int fd) { check_frames(fd, count, size); });
  int fd = dial_loopback(port);
  const std::size_t frame = p2p::wire::raw_frame_overhead + size;
  const std::size_t batch_bytes = std::max<std::size_t>(frame, 64u << 10);
  std::vector<std::uint8_t> payload(size, 0x5a), batch(batch_bytes);
  std::size_t filled = 0;
  const auto t0 = Clock::now();
  for (std::uint64_t i = 0; i < count; ++i) {
    if (batch_bytes - filled < frame) {
      if (!write_all(fd, reinterpret_cast<const char*>(batch.data()), filled)) die("write");
      filled = 0;
    }
    std::memcpy(payload.data(), &i, sizeof i);
    std::uint8_t* p = batch.data() + filled;
    std::memcpy(p + p2p::wire::raw_frame_overhead, payload.data(), size);
    // The length header and the digest, in place (p2pmesh's own sealing).
    if (!p2p::wire::seal_raw_frame(std::span<std::uint8_t>(p, frame))) die("seal_raw_frame");
    filled += frame;
  }
  if (!write_all(fd, reinterpret_cast<const char*>(batch.data()), filled)) die("write");
  char answer = 0;
  if (!read_all(fd, &answer, 1)) die("answer");
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  close(fd);
  waitpid(child, nullptr, 0);
  if (answer != 'k') {
    std::fprintf(stderr, "tcp_pingpong frames: the receiver found a bad frame\n");
    return 1;
  }
  std::printf(
      "{\"workload\":\"tcp_frames\",\"impl\":\"tcp\",\"count\":%zu,\"size\":%zu,"
      "\"seconds\":%.6f,\"msgs_per_s\":%.1f,\"payload_bytes_per_s\":%.1f}\n",
      count, size, s, static_cast<double>(count) / s,
      static_cast<double>(count) * static_cast<double>(size) / s);
  return 0;
}

int chain(std::size_t hops, std::size_t messages, std::size_t warmup, std::size_t size,
          std::size_t gap_us) {
  size = std::max(size, sizeof(std::int64_t));  // the send time travels in the message
  // Process i (1..hops) accepts from process i-1 on listeners[i] and dials process i+1; all
  // listeners exist before any fork, so every dial finds its peer listening.
  std::vector<int> listeners(hops + 1, -1);
  std::vector<std::uint16_t> ports(hops + 1, 0);
  for (std::size_t i = 1; i <= hops; ++i) listeners[i] = listen_loopback(ports[i]);
  int result[2];
  if (pipe(result) != 0) die("pipe");
  std::vector<pid_t> children;
  for (std::size_t i = 1; i <= hops; ++i) {
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid > 0) {
      children.push_back(pid);
      continue;
    }
    alarm(600);  // bounded even if the parent dies without closing the link
    int up = accept(listeners[i], nullptr, nullptr);
    if (up < 0) die("accept");
    set_nodelay(up);
    const bool last = i == hops;
    int down = last ? -1 : dial_loopback(ports[i + 1]);
    std::vector<char> buf(size);
    while (read_all(up, buf.data(), size)) {
      if (!last) {
        if (!write_all(down, buf.data(), size)) break;
        continue;
      }
      std::int64_t sent_ns = 0;
      std::memcpy(&sent_ns, buf.data(), sizeof sent_ns);
      const std::int64_t took_ns = monotonic_ns() - sent_ns;
      if (!write_all(result[1], reinterpret_cast<const char*>(&took_ns), sizeof took_ns)) break;
    }
    _exit(0);  // EOF from upstream: closing `down` passes it on
  }
  for (int l : listeners)
    if (l >= 0) close(l);
  close(result[1]);
  int fd = dial_loopback(ports[1]);
  std::vector<char> buf(size, 'x');
  std::vector<double> latency_us;
  latency_us.reserve(messages);
  const timespec gap{static_cast<time_t>(gap_us / 1'000'000),
                     static_cast<long>(gap_us % 1'000'000 * 1000)};
  for (std::size_t i = 0; i < warmup + messages; ++i) {
    nanosleep(&gap, nullptr);
    const std::int64_t now_ns = monotonic_ns();
    std::memcpy(buf.data(), &now_ns, sizeof now_ns);
    std::int64_t took_ns = 0;
    if (!write_all(fd, buf.data(), size) ||
        !read_all(result[0], reinterpret_cast<char*>(&took_ns), sizeof took_ns))
      die("chain");
    if (i >= warmup) latency_us.push_back(static_cast<double>(took_ns) / 1e3);
  }
  close(fd);
  for (pid_t pid : children) waitpid(pid, nullptr, 0);
  std::printf(
      "{\"workload\":\"tcp_chain\",\"impl\":\"tcp\",\"hops\":%zu,\"messages\":%zu,"
      "\"size\":%zu,\"gap_us\":%zu,\"p50_us\":%.3f,\"p99_us\":%.3f}\n",
      hops, messages, size, gap_us, percentile(latency_us, 50), percentile(latency_us, 99));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "latency")
    return latency(std::max<std::size_t>(1, arg(argc, argv, "--rounds", 100'000)),
                   arg(argc, argv, "--warmup", 1'000),
                   std::max<std::size_t>(1, arg(argc, argv, "--size", 64)));
  if (mode == "stream")
    return stream(arg(argc, argv, "--bytes", std::size_t{4} << 30),
                  std::max<std::size_t>(1, arg(argc, argv, "--chunk", 64u << 10)));
  if (mode == "frames")
    return frames(std::max<std::size_t>(1, arg(argc, argv, "--count", 300'000)),
                  std::min<std::size_t>(arg(argc, argv, "--size", 4096), 16u << 20));
  if (mode == "chain")
    return chain(std::clamp<std::size_t>(arg(argc, argv, "--hops", 7), 1, 64),
                 std::max<std::size_t>(1, arg(argc, argv, "--messages", 1'000)),
                 arg(argc, argv, "--warmup", 100), arg(argc, argv, "--size", 64),
                 std::min<std::size_t>(arg(argc, argv, "--gap-us", 1'000), 10'000'000));
  std::fprintf(stderr,
               "usage: tcp_pingpong latency [--rounds N] [--warmup W] [--size S]\n"
               "       tcp_pingpong stream [--bytes B] [--chunk C]\n"
               "       tcp_pingpong frames [--count K] [--size S]\n"
               "       tcp_pingpong chain [--hops H] [--messages N] [--warmup W] [--size S]"
               " [--gap-us G]\n");
  return 2;
}
