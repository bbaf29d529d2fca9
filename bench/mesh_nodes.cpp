// p2p_bench_mesh: the p2pmesh workloads of bench/run.py that need nodes inside one process.
//
//   p2p_bench_mesh flood --nodes N [--floods F] [--size B] [--seed S] [--threads T]
//                        [--timeout SECONDS]
//       N nodes on 127.0.0.1 sharing one io_context run by T threads (default 1). Each node
//       dials a random earlier node and peer exchange does the rest (max_outgoing 4, as the
//       demo). Once the mesh is formed: the io threads' CPU over one quiet second
//       (idle_cpu_pct, of one core); then F broadcasts of B bytes, one at a time from random
//       nodes: for each, how many nodes it reached, the time from send() to the last
//       arrival, the io threads' CPU until the 1 ms poll saw that arrival
//       (io_cpu_to_last_ms: about the time to last when the flood waits for the CPU alone),
//       and the wire copies (broadcast_copies_in summed over every node, counted once the
//       network is quiet again) against 2 x edges. One JSON line.
//   p2p_bench_mesh hub [--max-connections N]
//       One node with its own io thread, limits raised to accept N connections. Prints
//       {"event":"ready","port":P,"pid":PID}; answers every stdin line with
//       {"peers":..,"connections":..}; exits at end of input. Its RSS is read by run.py.
//   p2p_bench_mesh clients --port P --count N
//       N nodes on one io_context (one thread), each dialling 127.0.0.1:P once (no peer
//       exchange dials, no self-healing). Prints {"event":"ready",...} once every dial is
//       under way, answers stdin lines with {"peers":<nodes linked>}; exits at end of input.
//
// Every wait has a deadline; the program exits 1 when a condition is not met in time.
#include <pthread.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "mesh_links.hpp"
#include "p2p/mesh_socket.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using p2p::MeshSocket;

std::string arg(int argc, char** argv, const char* name, const char* fallback) {
  for (int i = 2; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  return fallback;
}

std::size_t arg_n(int argc, char** argv, const char* name, std::size_t fallback) {
  return std::strtoull(arg(argc, argv, name, std::to_string(fallback).c_str()).c_str(), nullptr,
                       10);
}

/// Polls `done` every `period` until it holds or `timeout_s` passes. Arrival times are
/// taken on the io thread, so the polling period does not enter any figure; conditions that
/// query every node (routing tables, counters) poll less often, so as not to compete with
/// the io thread they wait for.
bool wait_until(double timeout_s, const std::function<bool()>& done,
                std::chrono::milliseconds period = std::chrono::milliseconds(1)) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(period);
  }
  return done();
}

/// CPU time `t` has used, in ms (its thread CPU clock).
double thread_cpu_ms(std::thread& t) {
  clockid_t id{};
  timespec ts{};
  if (pthread_getcpuclockid(t.native_handle(), &id) != 0 || clock_gettime(id, &ts) != 0) return 0;
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

/// CPU time the io threads have used together, in ms.
double io_cpu_ms(std::vector<std::thread>& io) {
  double sum = 0;
  for (auto& t : io) sum += thread_cpu_ms(t);
  return sum;
}

/// Many sockets need many descriptors: take the hard limit.
void raise_fd_limit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

p2p::MeshOptions loopback_options(asio::io_context* ioc) {
  p2p::MeshOptions o;
  o.addr = "127.0.0.1";
  o.port = 0;
  o.io_context = ioc;
  // Nothing compresses: the figures are the mesh's own cost, as with the references' runs.
  o.compression.clear();
  return o;
}

std::uint64_t total_counter(const std::vector<std::unique_ptr<MeshSocket>>& nodes,
                            const char* name) {
  std::uint64_t sum = 0;
  for (const auto& n : nodes) sum += n->status().counter(name);
  return sum;
}

std::string json_list(const std::vector<double>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s%.4f", i ? "," : "", v[i]);
    out += buf;
  }
  return out + "]";
}

int flood(int argc, char** argv) {
  const std::size_t n = std::max<std::size_t>(2, arg_n(argc, argv, "--nodes", 256));
  const std::size_t floods = std::max<std::size_t>(1, arg_n(argc, argv, "--floods", 5));
  const std::size_t size = arg_n(argc, argv, "--size", 64);
  const std::size_t threads = std::clamp<std::size_t>(arg_n(argc, argv, "--threads", 1), 1, 64);
  const double timeout_s = std::strtod(arg(argc, argv, "--timeout", "120").c_str(), nullptr);
  std::mt19937_64 rng(arg_n(argc, argv, "--seed", 1));
  raise_fd_limit();

  asio::io_context ioc;
  auto guard = asio::make_work_guard(ioc);
  std::vector<std::thread> io;
  for (std::size_t t = 0; t < threads; ++t) io.emplace_back([&] { ioc.run(); });
  std::vector<std::unique_ptr<MeshSocket>> nodes;
  // arrival[i]: steady_clock ns of the current flood's first delivery at node i, 0 if none.
  std::vector<std::atomic<std::int64_t>> arrival(n);
  std::atomic<std::uint64_t> current{0};
  int rc = 0;
  try {
    for (std::size_t i = 0; i < n; ++i) {
      nodes.push_back(std::make_unique<MeshSocket>(loopback_options(&ioc)));
      nodes.back()->register_handler([&, i](p2p::Message& msg, p2p::Connection&) {
        const auto& p = msg.packets();
        if (p.size() > 1 && p[1].is_int() && p[1].as_uint() == current.load()) {
          std::int64_t expected = 0;
          arrival[i].compare_exchange_strong(
              expected,
              std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
                  .count());
        }
        return true;
      });
    }
    const auto t_form = Clock::now();
    for (std::size_t i = 1; i < n; ++i) {
      auto addr = nodes[std::uniform_int_distribution<std::size_t>(0, i - 1)(rng)]->out_addr();
      if (auto st = nodes[i]->connect(addr.host, addr.port); !st)
        throw std::runtime_error("connect: " + st.error().message);
    }
    // Formed: connected, no handshake pending, and the link count stable for 300 ms.
    std::size_t edges = 0, last_edges = SIZE_MAX;
    auto stable_since = Clock::now();
    const bool formed = wait_until(
        timeout_s,
        [&] {
          const auto links = p2p::cli::links_of(nodes);
          const bool connected = p2p::cli::connected(nodes.size(), links);
          edges = links.size();
          std::size_t awaiting = 0;
          for (auto& s : nodes) awaiting += s->awaiting_ids().size();
          if (edges != last_edges) {
            last_edges = edges;
            stable_since = Clock::now();
          }
          return connected && awaiting == 0 &&
                 Clock::now() - stable_since > std::chrono::milliseconds(300);
        },
        std::chrono::milliseconds(20));
    const double form_s = std::chrono::duration<double>(Clock::now() - t_form).count();
    if (!formed) throw std::runtime_error("the mesh did not form in time");
    // What the formed, quiet mesh costs in the background (timers, self-healing checks):
    // the io threads' CPU over one second, as a share of one core.
    const double idle_cpu0 = io_cpu_ms(io);
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const double idle_cpu_pct = (io_cpu_ms(io) - idle_cpu0) / 10.0;

    std::vector<double> ms, io_ms, reached, copies;
    const p2p::Bytes body(size, 0x42);
    for (std::size_t f = 1; f <= floods; ++f) {
      for (auto& a : arrival) a.store(0);
      current.store(f);
      const std::size_t origin = std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
      const auto copies_before = total_counter(nodes, "broadcast_copies_in");
      const double io_cpu0 = io_cpu_ms(io);
      const auto t0 = Clock::now();
      if (auto st = nodes[origin]->send(p2p::Array{p2p::Value(f), p2p::Value(body)}); !st)
        throw std::runtime_error("send: " + st.error().message);
      auto count_reached = [&] {
        std::size_t r = 0;
        for (std::size_t i = 0; i < n; ++i) r += (i != origin && arrival[i].load() != 0);
        return r;
      };
      wait_until(timeout_s, [&] { return count_reached() == n - 1; });
      io_ms.push_back(io_cpu_ms(io) - io_cpu0);
      // Copies still in flight after the last arrival: count once the total is stable.
      std::uint64_t last = UINT64_MAX, now = 0;
      auto still_since = Clock::now();
      wait_until(
          timeout_s,
          [&] {
            now = total_counter(nodes, "broadcast_copies_in");
            if (now != last) {
              last = now;
              still_since = Clock::now();
            }
            return Clock::now() - still_since > std::chrono::milliseconds(100);
          },
          std::chrono::milliseconds(10));
      std::int64_t latest = 0;
      for (std::size_t i = 0; i < n; ++i) latest = std::max(latest, arrival[i].load());
      const auto t0_ns =
          std::chrono::duration_cast<std::chrono::nanoseconds>(t0.time_since_epoch()).count();
      ms.push_back(static_cast<double>(latest - t0_ns) / 1e6);
      reached.push_back(static_cast<double>(count_reached()));
      copies.push_back(static_cast<double>(now - copies_before));
    }
    std::printf(
        "{\"workload\":\"flood_inproc\",\"impl\":\"p2pmesh\",\"nodes\":%zu,\"edges\":%zu,"
        "\"threads\":%zu,\"form_s\":%.3f,\"idle_cpu_pct\":%.2f,\"size\":%zu,"
        "\"time_to_last_ms\":%s,\"io_cpu_to_last_ms\":%s,"
        "\"reached\":%s,\"copies\":%s}\n",
        n, edges, threads, form_s, idle_cpu_pct, size, json_list(ms).c_str(),
        json_list(io_ms).c_str(), json_list(reached).c_str(), json_list(copies).c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "p2p_bench_mesh flood: %s\n", e.what());
    rc = 1;
  }
  for (auto& s : nodes) s->close();
  guard.reset();
  ioc.stop();
  for (auto& t : io) t.join();
  nodes.clear();
  return rc;
}

int hub(int argc, char** argv) {
  const std::size_t max = arg_n(argc, argv, "--max-connections", 1100);
  raise_fd_limit();
  p2p::MeshOptions o = loopback_options(nullptr);
  o.limits.max_connections = max;
  o.limits.max_awaiting = max;  // every client dials at once
  o.auto_reconnect = false;
  o.max_outgoing = 0;  // a pure hub: it dials nobody from the peers lists it gets
  MeshSocket sock(std::move(o));
  std::printf("{\"event\":\"ready\",\"port\":%u}\n", static_cast<unsigned>(sock.port()));
  std::fflush(stdout);
  std::string line;
  while (std::getline(std::cin, line)) {
    const auto st = sock.status();
    std::printf("{\"peers\":%zu,\"connections\":%zu}\n", st.peers, st.connections);
    std::fflush(stdout);
  }
  sock.close();
  return 0;
}

int clients(int argc, char** argv) {
  const auto port = static_cast<std::uint16_t>(arg_n(argc, argv, "--port", 0));
  const std::size_t count = arg_n(argc, argv, "--count", 1000);
  raise_fd_limit();
  asio::io_context ioc;
  auto guard = asio::make_work_guard(ioc);
  std::thread io([&] { ioc.run(); });
  std::vector<std::unique_ptr<MeshSocket>> nodes;
  int rc = 0;
  try {
    for (std::size_t i = 0; i < count; ++i) {
      p2p::MeshOptions o = loopback_options(&ioc);
      o.max_outgoing = 1;  // the one explicit dial fills it: no peer-exchange dials
      o.auto_reconnect = false;
      nodes.push_back(std::make_unique<MeshSocket>(std::move(o)));
      if (auto st = nodes.back()->connect("127.0.0.1", port); !st)
        throw std::runtime_error("connect: " + st.error().message);
    }
    std::printf("{\"event\":\"ready\",\"count\":%zu}\n", count);
    std::fflush(stdout);
    std::string line;
    while (std::getline(std::cin, line)) {
      std::size_t linked = 0;
      for (auto& s : nodes) linked += s->routing_table().empty() ? 0 : 1;
      std::printf("{\"peers\":%zu}\n", linked);
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "p2p_bench_mesh clients: %s\n", e.what());
    rc = 1;
  }
  for (auto& s : nodes) s->close();
  guard.reset();
  ioc.stop();
  io.join();
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "flood") return flood(argc, argv);
  if (mode == "hub") return hub(argc, argv);
  if (mode == "clients") return clients(argc, argv);
  std::fprintf(stderr,
               "usage: p2p_bench_mesh flood --nodes N [--floods F] [--size B] [--seed S] "
               "[--threads T] [--timeout SECONDS]\n"
               "       p2p_bench_mesh hub [--max-connections N]\n"
               "       p2p_bench_mesh clients --port P --count N\n");
  return 2;
}
