// tcp_flood: the loopback TCP ceilings of workload (c)'s floods.
//
//   tcp_flood inproc [--nodes N] [--links L] [--floods F] [--size S] [--seed X]
//       N "nodes" in one process, one thread: node i (i >= 1) is linked to min(i, L)
//       distinct random earlier nodes by a loopback TCP connection, as p2pmesh's flood
//       benchmark joins 1,024 nodes with max_outgoing 4. One epoll set holds every socket.
//       A flood starts at a random node. After the last node is reached, the flood's
//       remaining copies are read before the next one starts, and their count is checked
//       (2 x links - (N - 1)).
//   tcp_flood procs --links I-J,I-J,... [--floods F] [--warmup W] [--gap-ms G] [--size S]
//       One process per node, linked as listed (node I dials node J), like the 16-process
//       flood. Node 0 starts each flood after G ms of quiet (the processes asleep, as in
//       bench/run.py), F floods after W unmeasured ones.
//
// A node seeing a flood for the first time writes it (S bytes) to each of its links but the
// one it came by, as a mesh node relays. Time to last = the last node's first arrival - the
// first write (CLOCK_MONOTONIC). Every socket has TCP_NODELAY. No framing, hashing,
// de-duplication table or message queue: only the system calls any relay needs
// (epoll_wait, one read per copy, one write per link), so the time to last is what this
// machine can at best do for the flood over TCP. Each mode checks that every flood reached
// every node, and prints one JSON line.
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "loopback.hpp"

namespace {

using namespace ceiling;

/// The two ends of a new loopback TCP connection to the listener on `port`: dialled, then
/// accepted.
std::pair<int, int> loopback_link(int listener, std::uint16_t port) {
  const int a = dial_loopback(port);
  const int b = accept(listener, nullptr, nullptr);
  if (b < 0) die("accept");
  set_nodelay(b);
  return {a, b};
}

/// Raises the soft limit on open files to the hard one: two descriptors per link.
void allow_many_files() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

/// `[1.000,2.000]` and the median of `ms`.
std::pair<std::string, double> list_and_median(std::vector<double> ms) {
  std::string list;
  for (double v : ms) {
    char one[32];
    std::snprintf(one, sizeof one, "%s%.3f", list.empty() ? "" : ",", v);
    list.append(one);
  }
  std::sort(ms.begin(), ms.end());
  const std::size_t n = ms.size();
  return {"[" + list + "]", n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2};
}

/// Puts flood number `flood` at the start of `message`, which has room for it (--size is at
/// least 8).
void stamp(std::vector<char>& message, std::uint64_t flood) {
  if (message.size() >= sizeof flood) std::memcpy(message.data(), &flood, sizeof flood);
}

/// Reads what `fd` has of the next `size`-byte message into `partial`, never past that
/// message. Once it is whole, the flood number it starts with (and `partial` is emptied);
/// before, nothing. A closed or failed link calls `closed`, which ends the process.
std::optional<std::uint64_t> read_copy(int fd, std::vector<char>& partial, std::size_t size,
                                       void (*closed)()) {
  char buf[4096];
  const ssize_t r = read(fd, buf, std::min(sizeof buf, size - partial.size()));
  if (r <= 0) closed();
  partial.insert(partial.end(), buf, buf + r);
  if (partial.size() < size) return std::nullopt;
  std::uint64_t flood = 0;
  std::memcpy(&flood, partial.data(), sizeof flood);
  partial.clear();
  return flood;
}

/// One end of a link: the socket, the node that owns it, the link's other end, and the
/// bytes of a message read so far.
struct End {
  int fd = -1;
  std::size_t node = 0;
  std::size_t other = 0;  // index of the other End
  std::vector<char> partial;
};

class Flood {
 public:
  Flood(std::size_t nodes, std::size_t links, std::size_t size, std::uint64_t seed)
      : size_(size), links_of_(nodes), seen_(nodes, SIZE_MAX) {
    std::uint16_t port = 0;
    const int listener = listen_loopback(port);
    epoll_ = epoll_create1(0);
    if (epoll_ < 0) die("epoll_create1");
    std::mt19937_64 rng(seed);
    for (std::size_t i = 1; i < nodes; ++i) {
      std::vector<std::size_t> earlier(i);
      for (std::size_t j = 0; j < i; ++j) earlier[j] = j;
      std::shuffle(earlier.begin(), earlier.end(), rng);
      for (std::size_t k = 0; k < std::min(i, links); ++k) link(listener, port, i, earlier[k]);
    }
    close(listener);
  }

  std::size_t edges() const { return ends_.size() / 2; }

  /// One flood from `origin`: the time to the last node in ns, and the copies read.
  std::pair<std::int64_t, std::size_t> run(std::size_t flood, std::size_t origin) {
    std::vector<char> message(size_, 0);
    stamp(message, flood);
    const std::size_t nodes = links_of_.size();
    const std::size_t expected = 2 * edges() - (nodes - 1);
    std::size_t reached = 1, copies = 0;
    std::int64_t last_ns = 0;
    seen_[origin] = flood;
    const std::int64_t t0 = monotonic_ns();
    relay(origin, SIZE_MAX, message);
    epoll_event events[256];
    const std::int64_t deadline = t0 + 60'000'000'000;
    while (copies < expected) {
      const int n = epoll_wait(epoll_, events, 256, 1000);
      if (n < 0) die("epoll_wait");
      if (monotonic_ns() > deadline) {
        std::fprintf(stderr, "tcp_flood: flood %zu: %zu of %zu copies within 60 s\n", flood, copies,
                     expected);
        std::exit(1);
      }
      for (int e = 0; e < n; ++e) {
        End& end = ends_[events[e].data.u64];
        const auto got = read_copy(end.fd, end.partial, size_, [] { die("read"); });
        if (!got) continue;
        ++copies;
        if (*got != flood) {
          std::fprintf(stderr, "tcp_flood: flood %zu: a copy of flood %llu\n", flood,
                       static_cast<unsigned long long>(*got));
          std::exit(1);
        }
        if (seen_[end.node] == flood) continue;
        seen_[end.node] = flood;
        if (++reached == nodes) last_ns = monotonic_ns();
        relay(end.node, ends_[end.other].node, message);
      }
    }
    if (reached != nodes) {
      std::fprintf(stderr, "tcp_flood: flood %zu reached %zu of %zu nodes\n", flood, reached,
                   nodes);
      std::exit(1);
    }
    return {last_ns - t0, copies};
  }

 private:
  void link(int listener, std::uint16_t port, std::size_t a, std::size_t b) {
    const auto [fa, fb] = loopback_link(listener, port);
    add_end(fa, a);
    add_end(fb, b);
    ends_[ends_.size() - 2].other = ends_.size() - 1;
    ends_[ends_.size() - 1].other = ends_.size() - 2;
  }

  void add_end(int fd, std::size_t node) {
    End end;
    end.fd = fd;
    end.node = node;
    end.partial.reserve(size_);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = ends_.size();
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
    links_of_[node].push_back(ends_.size());
    ends_.push_back(std::move(end));
  }

  /// Writes the message to every link of `node` but the one to `from`.
  void relay(std::size_t node, std::size_t from, const std::vector<char>& message) {
    for (std::size_t i : links_of_[node]) {
      if (ends_[ends_[i].other].node == from) continue;
      // Small writes to an idle loopback socket go whole; a short one would be a bug here.
      if (write(ends_[i].fd, message.data(), message.size()) !=
          static_cast<ssize_t>(message.size()))
        die("write");
    }
  }

  std::size_t size_;
  int epoll_ = -1;
  std::vector<End> ends_;
  std::vector<std::vector<std::size_t>> links_of_;
  std::vector<std::size_t> seen_;  // the last flood each node saw
};

int inproc(int argc, char** argv) {
  const std::size_t nodes = std::clamp<std::size_t>(arg(argc, argv, "--nodes", 1024), 2, 8192);
  const std::size_t links = std::clamp<std::size_t>(arg(argc, argv, "--links", 4), 1, 64);
  const std::size_t floods = std::clamp<std::size_t>(arg(argc, argv, "--floods", 5), 1, 1000);
  const std::size_t size = std::clamp<std::size_t>(arg(argc, argv, "--size", 180), 8, 4096);
  const std::uint64_t seed = arg(argc, argv, "--seed", 1);
  allow_many_files();  // 8,192 descriptors for 1,024 nodes
  Flood flood(nodes, links, size, seed);
  std::mt19937_64 rng(seed + 1);
  std::vector<double> ms;
  std::size_t copies = 0;
  for (std::size_t f = 0; f < floods; ++f) {
    const auto [ns, c] = flood.run(f, rng() % nodes);
    ms.push_back(static_cast<double>(ns) / 1e6);
    copies = std::max(copies, c);
  }
  const auto [list, median] = list_and_median(ms);
  std::printf(
      "{\"workload\":\"tcp_flood\",\"impl\":\"tcp\",\"nodes\":%zu,\"edges\":%zu,\"size\":%zu,"
      "\"floods\":%zu,\"copies\":%zu,\"time_to_last_ms\":%s,\"median_ms\":%.3f}\n",
      nodes, flood.edges(), size, floods, copies, list.c_str(), median);
  return 0;
}

/// What a node process tells the parent: it saw `flood` first at `ns` (node 0: started it).
struct Arrival {
  std::uint32_t node;
  std::uint32_t flood;
  std::int64_t ns;
};

/// A node process of `procs`: relays each flood's first copy on its links but the one it
/// came by, and reports the arrival to `report`. Node 0 starts a flood when the parent
/// writes its number to `start`. Ends at end of file on `start` or on any link.
[[noreturn]] void node_process(std::uint32_t node, const std::vector<int>& fds, int start,
                               int report, std::size_t size) {
  const int ep = epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  auto watch = [ep](int fd, std::uint64_t key) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = key;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
  };
  for (std::size_t i = 0; i < fds.size(); ++i) watch(fds[i], i);
  if (start >= 0) watch(start, SIZE_MAX);
  std::vector<std::vector<char>> partial(fds.size());
  std::vector<char> message(size, 0);
  std::uint32_t seen = UINT32_MAX;
  auto relay = [&](std::size_t except) {
    for (std::size_t i = 0; i < fds.size(); ++i)
      if (i != except && write(fds[i], message.data(), size) != static_cast<ssize_t>(size))
        _exit(1);
  };
  auto tell = [&](std::int64_t ns) {
    const Arrival a{node, seen, ns};
    if (write(report, &a, sizeof a) != static_cast<ssize_t>(sizeof a)) _exit(1);
  };
  for (;;) {
    epoll_event events[16];
    const int n = epoll_wait(ep, events, 16, -1);
    if (n < 0) _exit(1);
    for (int e = 0; e < n; ++e) {
      const std::uint64_t key = events[e].data.u64;
      if (key == SIZE_MAX) {
        std::uint32_t flood = 0;
        if (read(start, &flood, sizeof flood) != static_cast<ssize_t>(sizeof flood)) _exit(0);
        seen = flood;
        stamp(message, flood);
        const std::int64_t t0 = monotonic_ns();
        relay(SIZE_MAX);
        tell(t0);
        continue;
      }
      // End of file on a link: the parent is done, and the nodes close one another.
      const auto got = read_copy(fds[key], partial[key], size, [] { _exit(0); });
      if (!got || *got == seen) continue;
      const std::int64_t t = monotonic_ns();
      seen = static_cast<std::uint32_t>(*got);
      stamp(message, *got);
      relay(key);
      tell(t);
    }
  }
}

int procs(int argc, char** argv) {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> links;
  for (int i = 2; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--links") != 0) continue;
    std::stringstream in(argv[i + 1]);
    std::string item;
    while (std::getline(in, item, ',')) {
      unsigned a = 0, b = 0;
      if (std::sscanf(item.c_str(), "%u-%u", &a, &b) != 2 || a == b || a > 255 || b > 255) {
        std::fprintf(stderr, "tcp_flood procs: bad link \"%s\" (want I-J, 0-255)\n", item.c_str());
        return 2;
      }
      links.emplace_back(a, b);
    }
  }
  if (links.empty()) {
    std::fprintf(stderr, "tcp_flood procs: --links I-J,I-J,... is required\n");
    return 2;
  }
  const std::size_t floods = std::clamp<std::size_t>(arg(argc, argv, "--floods", 10), 1, 1000);
  const std::size_t warmup = std::min<std::size_t>(arg(argc, argv, "--warmup", 3), 100);
  const std::size_t gap_ms = std::min<std::size_t>(arg(argc, argv, "--gap-ms", 250), 5000);
  const std::size_t size = std::clamp<std::size_t>(arg(argc, argv, "--size", 180), 8, 4096);
  std::uint32_t nodes = 0;
  for (auto [a, b] : links) nodes = std::max({nodes, a + 1, b + 1});
  allow_many_files();
  std::uint16_t port = 0;
  const int listener = listen_loopback(port);
  std::vector<std::vector<int>> fds(nodes);
  for (auto [a, b] : links) {
    const auto [fa, fb] = loopback_link(listener, port);
    fds[a].push_back(fa);
    fds[b].push_back(fb);
  }
  close(listener);
  int report[2], start[2];
  if (pipe(report) != 0 || pipe(start) != 0) die("pipe");
  std::vector<pid_t> children;
  for (std::uint32_t k = 0; k < nodes; ++k) {
    const pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid > 0) {
      children.push_back(pid);
      continue;
    }
    alarm(600);  // bounded even if the parent dies
    for (std::uint32_t j = 0; j < nodes; ++j)
      if (j != k)
        for (int fd : fds[j]) close(fd);
    close(report[0]);
    close(start[1]);
    if (k != 0) close(start[0]);
    node_process(k, fds[k], k == 0 ? start[0] : -1, report[1], size);
  }
  for (auto& list : fds)
    for (int fd : list) close(fd);
  close(report[1]);
  close(start[0]);
  std::vector<double> ms;
  bool ok = true;
  const timespec gap{static_cast<time_t>(gap_ms / 1000),
                     static_cast<long>(gap_ms % 1000) * 1'000'000};
  for (std::uint32_t f = 0; ok && f < warmup + floods; ++f) {
    nanosleep(&gap, nullptr);
    if (write(start[1], &f, sizeof f) != static_cast<ssize_t>(sizeof f)) die("start");
    std::vector<std::int64_t> at(nodes, -1);
    for (std::uint32_t got = 0; got < nodes;) {
      pollfd p{report[0], POLLIN, 0};
      Arrival a{};
      if (poll(&p, 1, 10'000) != 1 ||
          read(report[0], &a, sizeof a) != static_cast<ssize_t>(sizeof a) || a.flood != f ||
          a.node >= nodes || at[a.node] >= 0) {
        std::fprintf(stderr, "tcp_flood procs: flood %u reached %u of %u nodes within 10 s\n", f,
                     got, nodes);
        ok = false;
        break;
      }
      at[a.node] = a.ns;
      ++got;
    }
    if (ok && f >= warmup)
      ms.push_back(static_cast<double>(*std::max_element(at.begin(), at.end()) - at[0]) / 1e6);
  }
  close(start[1]);  // node 0 ends; the others see their links close
  for (pid_t pid : children) {
    if (!ok) kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  if (!ok) return 1;
  const auto [list, median] = list_and_median(ms);
  std::printf(
      "{\"workload\":\"tcp_flood_procs\",\"impl\":\"tcp\",\"nodes\":%u,\"edges\":%zu,"
      "\"size\":%zu,\"floods\":%zu,\"gap_ms\":%zu,\"time_to_last_ms\":%s,\"median_ms\":%.3f}\n",
      nodes, links.size(), size, floods, gap_ms, list.c_str(), median);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  alarm(900);  // bounded whatever happens
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "inproc") return inproc(argc, argv);
  if (mode == "procs") return procs(argc, argv);
  std::fprintf(stderr,
               "usage: tcp_flood inproc [--nodes N] [--links L] [--floods F] [--size S] "
               "[--seed X]\n"
               "       tcp_flood procs --links I-J,... [--floods F] [--warmup W] [--gap-ms G] "
               "[--size S]\n");
  return 2;
}
