// One-hop throughput: one process sends K broadcasts of S bytes to a directly connected
// node in another process, which counts them. Prints one JSON line.
//
//   p2p_one_hop --count K --size S [--compression none|zlib|...] [--recv] [--protocol SSL]
//
// The rate is K / (time of the K-th delivery in the receiver - time of the first send in the
// sender), both read from CLOCK_MONOTONIC, which processes on one machine share. Every
// payload starts with its sequence number, so no two broadcasts are alike (p2pmesh stamps
// identical broadcasts within a second with successive times, which is not what a
// throughput test wants to measure). By default the receiver counts in a handler (the
// fastest path); --recv makes it drain recv() instead, as the references' users do.
// Compression defaults to none: on loopback it only costs CPU.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <string>
#include <string_view>
#include <thread>

#include "p2p/mesh_socket.hpp"

namespace {

struct Args {
  std::uint64_t count = 100'000;
  std::size_t size = 64;
  std::string compression = "none";
  std::string encryption = "Plaintext";
  bool use_recv = false;
  std::size_t pending_bytes = p2p::MeshOptions{}.max_pending_command_bytes;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "p2p_one_hop: %s\nusage: p2p_one_hop --count K --size S [--compression "
               "none|zlib|gzip|snappy|bz2|lzma] [--protocol Plaintext|SSL] [--recv]\n",
               why);
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage("missing value");
      return argv[++i];
    };
    if (arg == "--count")
      a.count = std::strtoull(value().c_str(), nullptr, 10);
    else if (arg == "--size")
      a.size = std::strtoull(value().c_str(), nullptr, 10);
    else if (arg == "--compression")
      a.compression = value();
    else if (arg == "--protocol")
      a.encryption = value();
    else if (arg == "--recv")
      a.use_recv = true;
    else if (arg == "--pending-bytes")
      a.pending_bytes = std::strtoull(value().c_str(), nullptr, 10);
    else
      usage("unknown argument");
  }
  if (a.count == 0) usage("--count must be positive");
  if (a.size < 8) usage("--size must be at least 8 (the sequence number)");
  return a;
}

std::int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

/// Peak resident memory of this process so far, in KiB: VmHWM, the high-water mark of the
/// process's own memory. getrusage()'s ru_maxrss does not do here: Linux keeps it across
/// execve, so a sender started by a larger parent (bench/run.py's Python, ~22 MiB)
/// reported the parent's peak.
long max_rss_kib() {
  if (std::FILE* f = std::fopen("/proc/self/status", "r")) {
    char line[256];
    long kib = -1;
    while (std::fgets(line, sizeof line, f))
      if (std::sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
    std::fclose(f);
    if (kib >= 0) return kib;
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

p2p::MeshOptions options(const Args& a) {
  p2p::MeshOptions o;
  o.addr = "127.0.0.1";
  o.protocol = p2p::Protocol("mesh", a.encryption);
  o.compression.clear();
  if (a.compression != "none") {
    auto c = p2p::wire::compression_from_name(a.compression);
    if (!c) usage("unknown compression");
    o.compression.push_back(*c);
  }
  o.auto_reconnect = false;
  o.max_pending_command_bytes = a.pending_bytes;
  // The seen cache must hold every id of the run for exactly-once to be checkable at 10^6.
  o.limits.seen_cache_entries = std::max<std::size_t>(o.limits.seen_cache_entries, a.count + 16);
  return o;
}

// Pipes carry small fixed records between the processes.
template <class T>
void put(int fd, const T& v) {
  if (write(fd, &v, sizeof v) != static_cast<ssize_t>(sizeof v)) std::_Exit(3);
}
template <class T>
bool get(int fd, T& v) {
  return read(fd, &v, sizeof v) == static_cast<ssize_t>(sizeof v);
}

struct ReceiverReport {
  std::int64_t first_ns = 0, last_ns = 0;
  std::uint64_t received = 0;
  double cpu_s = 0;
  long max_rss_kib = 0;
};

/// Receiver process: listens, reports its port, counts K messages, reports the times.
int run_receiver(const Args& a, int to_parent, int from_parent) {
  p2p::MeshSocket node(options(a));
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::int64_t> first_ns{0}, last_ns{0};
  std::promise<void> done;
  const double cpu0 = cpu_seconds();
  auto count_one = [&] {
    const auto n = received.fetch_add(1, std::memory_order_relaxed) + 1;
    if (n == 1) first_ns.store(now_ns(), std::memory_order_relaxed);
    if (n == a.count) {
      last_ns.store(now_ns(), std::memory_order_relaxed);
      done.set_value();
    }
  };
  if (!a.use_recv) {
    node.register_handler([&](p2p::Message&, p2p::Connection&) {
      count_one();
      return true;
    });
  }
  const std::uint16_t port = node.port();
  put(to_parent, port);
  auto finished = done.get_future();
  if (a.use_recv) {
    while (received.load(std::memory_order_relaxed) < a.count) {
      auto batch = node.recv(4096);
      if (batch.empty()) {
        if (node.recv_for(std::chrono::seconds(60)))
          count_one();
        else
          break;
      }
      for (std::size_t i = 0; i < batch.size(); ++i) count_one();
    }
  } else if (finished.wait_for(std::chrono::seconds(600)) != std::future_status::ready) {
    std::fprintf(stderr, "receiver: timed out with %" PRIu64 " of %" PRIu64 "\n", received.load(),
                 a.count);
  }
  ReceiverReport r{first_ns.load(), last_ns.load(), received.load(), cpu_seconds() - cpu0,
                   max_rss_kib()};
  put(to_parent, r);
  char bye = 0;
  (void)get(from_parent, bye);  // stay up until the sender is done with us
  return r.received == a.count ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  int up[2], down[2];  // receiver -> parent, parent -> receiver
  if (pipe(up) != 0 || pipe(down) != 0) return 3;
  // Fork before any thread exists: the receiver is a separate process, as on a network.
  const pid_t child = fork();
  if (child < 0) return 3;
  if (child == 0) {
    close(up[0]);
    close(down[1]);
    std::_Exit(run_receiver(a, up[1], down[0]));
  }
  close(up[1]);
  close(down[0]);
  std::uint16_t port = 0;
  if (!get(up[0], port)) return 3;

  int rc = 0;
  {
    p2p::MeshSocket node(options(a));
    std::promise<void> connected;
    node.once("connect", [&] { connected.set_value(); });
    if (!node.connect("127.0.0.1", port) ||
        connected.get_future().wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
      std::fprintf(stderr, "sender: could not connect\n");
      kill(child, SIGKILL);
      waitpid(child, nullptr, 0);
      return 1;
    }
    // One packet array serves every send, as the ZeroMQ publisher sends from one buffer:
    // send() encodes the packets before it returns, so only the sequence number changes.
    p2p::Array packets{p2p::Value(p2p::Bytes(a.size, 0x5a))};
    p2p::Bytes& payload = *packets[0].if_bin();  // a bin: built so just above
    const double cpu0 = cpu_seconds();
    const std::int64_t t0 = now_ns();
    for (std::uint64_t i = 0; i < a.count; ++i) {
      std::memcpy(payload.data(), &i, sizeof i);
      if (!node.send(packets)) {
        std::fprintf(stderr, "sender: send failed at %" PRIu64 "\n", i);
        rc = 1;
        break;
      }
    }
    const std::int64_t t_sent = now_ns();
    const double sender_cpu = cpu_seconds() - cpu0;
    ReceiverReport r;
    if (!get(up[0], r)) rc = 1;
    const char bye = 1;
    put(down[1], bye);
    const double seconds = static_cast<double>(r.last_ns - t0) / 1e9;
    if (r.received != a.count || seconds <= 0) rc = 1;
    const double rate = rc == 0 ? static_cast<double>(a.count) / seconds : 0.0;
    std::printf("{\"workload\":\"one_hop\",\"impl\":\"p2pmesh\",\"count\":%" PRIu64
                ",\"size\":%zu,\"compression\":\"%s\",\"protocol\":\"%s\",\"receiver\":\"%s\","
                "\"received\":%" PRIu64 ",\"start_monotonic_ns\":%" PRId64
                ",\"seconds\":%.6f,\"first_delivery_seconds\":%.6f,\"send_seconds\":%.6f,"
                "\"msgs_per_s\":%.1f,\"payload_bytes_per_s\":%.1f,"
                "\"sender_cpu_ns_per_msg\":%.1f,\"receiver_cpu_ns_per_msg\":%.1f,"
                "\"sender_max_rss_kib\":%ld,\"receiver_max_rss_kib\":%ld,\"ok\":%s}\n",
                a.count, a.size, a.compression.c_str(), a.encryption.c_str(),
                a.use_recv ? "recv" : "handler", r.received, t0, seconds,
                static_cast<double>(r.first_ns - t0) / 1e9, static_cast<double>(t_sent - t0) / 1e9,
                rate, rate * static_cast<double>(a.size),
                sender_cpu * 1e9 / static_cast<double>(a.count),
                r.cpu_s * 1e9 / static_cast<double>(a.count), max_rss_kib(), r.max_rss_kib,
                rc == 0 ? "true" : "false");
    std::fflush(stdout);
  }
  int status = 0;
  waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) rc = rc ? rc : 1;
  return rc;
}
