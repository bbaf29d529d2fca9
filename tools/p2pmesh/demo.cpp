// `p2pmesh demo`: a local mesh in one process, on loopback, showing what it does.
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "mesh_links.hpp"
#include "mesh_picture.hpp"
#include "nodes.hpp"
#include "p2p/mesh_socket.hpp"

namespace p2p::cli {

namespace {

using Clock = std::chrono::steady_clock;

/// What one demo node saw, written on the io thread, read by the main thread.
struct Seen {
  std::mutex mu;
  std::optional<Clock::time_point> broadcast_at;
  std::optional<Message> broadcast;
  int broadcasts = 0, whispers = 0, replies = 0;
};

bool wait_until(double timeout_s, const std::function<bool()>& done) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a condition
  }
  return done();
}

}  // namespace

int run_demo(const DemoArgs& args) {
  if (args.nodes < 2 || args.nodes > 1024) {
    std::fprintf(stderr, "p2pmesh demo: --nodes must be between 2 and 1024\n");
    return 2;
  }
  if (args.topology != "random" && args.topology != "chain" && args.topology != "ring" &&
      args.topology != "star") {
    std::fprintf(stderr, "p2pmesh demo: unknown topology '%s' (random, chain, ring, star)\n",
                 args.topology.c_str());
    return 2;
  }
  if (args.encryption != "Plaintext" && args.encryption != "SSL") {
    std::fprintf(stderr, "p2pmesh demo: unknown encryption '%s' (Plaintext or SSL)\n",
                 args.encryption.c_str());
    return 2;
  }
  auto say = [&](const char* fmt, auto... a) {
    if (!args.quiet) {
      std::printf(fmt, a...);
      std::fflush(stdout);
    }
  };

  asio::io_context ioc;
  auto guard = asio::make_work_guard(ioc);
  std::thread io([&] { ioc.run(); });
  std::vector<std::unique_ptr<MeshSocket>> nodes;
  std::vector<std::unique_ptr<Seen>> seen;
  int exit_code = 1;
  try {
    for (std::size_t i = 0; i < args.nodes; ++i) {
      MeshOptions o;
      o.addr = "127.0.0.1";
      o.port = 0;
      o.protocol = Protocol("mesh", args.encryption);
      o.io_context = &ioc;
      o.max_outgoing = args.topology == "random" ? args.max_outgoing : args.nodes;
      // Fixed topologies stay as drawn: no peer exchange dials, no healing.
      o.auto_reconnect = args.topology == "random";
      nodes.push_back(std::make_unique<MeshSocket>(std::move(o)));
      seen.push_back(std::make_unique<Seen>());
      Seen* s = seen.back().get();
      nodes.back()->register_handler([s](Message& msg, Connection&) {
        std::lock_guard lock(s->mu);
        const auto& p = msg.packets();
        const Value* tag = p.size() > 1 ? &p[1] : nullptr;
        if (tag && *tag == Value("demo-broadcast")) {
          ++s->broadcasts;
          if (!s->broadcast_at) {
            s->broadcast_at = Clock::now();
            s->broadcast = msg;
          }
        } else if (tag && *tag == Value("demo-whisper")) {
          ++s->whispers;
        } else if (tag && *tag == Value("demo-reply")) {
          ++s->replies;
        }
        return true;
      });
    }
    const std::size_t n = nodes.size();
    std::mt19937_64 rng(args.seed);
    say("p2pmesh demo: %zu nodes (%s, %s) on 127.0.0.1\n", n, args.topology.c_str(),
        args.encryption.c_str());
    auto link = [&](std::size_t a, std::size_t b) {
      auto addr = nodes[b]->out_addr();
      if (Status st = nodes[a]->connect(addr.host, addr.port); !st)
        throw std::runtime_error("connect: " + st.error().message);
    };
    for (std::size_t i = 1; i < n; ++i) {
      if (args.topology == "random")
        link(i, std::uniform_int_distribution<std::size_t>(0, i - 1)(rng));
      if (args.topology == "chain" || args.topology == "ring") link(i, i - 1);
      if (args.topology == "star") link(i, 0);
    }
    if (args.topology == "ring" && n > 2) link(0, n - 1);

    // Formation: the graph must be connected, nothing awaiting a handshake, and the link
    // count stable for a moment (peer exchange has done its dials).
    std::size_t last_links = 0;
    std::string last_progress;
    auto stable_since = Clock::now();
    const bool formed = wait_until(args.timeout_s, [&] {
      auto edges = links_of(nodes);
      std::size_t awaiting = 0, linked = 0;
      for (auto& s : nodes) {
        awaiting += s->awaiting_ids().size();
        linked += s->routing_table().empty() ? 0 : 1;
      }
      if (edges.size() != last_links) {
        last_links = edges.size();
        stable_since = Clock::now();
      }
      // One progress line per change, so that a log (not a terminal) stays readable.
      const std::string progress = std::to_string(linked) + "/" + std::to_string(n) +
                                   " nodes linked, " + std::to_string(edges.size()) + " links, " +
                                   std::to_string(awaiting) + " handshakes pending";
      if (progress != last_progress) {
        say("  forming: %s\n", progress.c_str());
        last_progress = progress;
      }
      return awaiting == 0 && connected(n, edges) &&
             Clock::now() - stable_since > std::chrono::milliseconds(300);
    });
    if (!formed) throw std::runtime_error("the mesh did not form in time");
    const auto edges = links_of(nodes);

    // Broadcast from node 0, timed at every node.
    std::vector<std::uint64_t> copies_before(n), dups_before(n);
    for (std::size_t i = 0; i < n; ++i) {
      auto st = nodes[i]->status();
      copies_before[i] = st.counter("broadcast_copies_in");
      dups_before[i] = st.counter("duplicates_dropped");
    }
    Bytes body(args.message_size, 0x2a);
    const auto t0 = Clock::now();
    if (Status st = nodes[0]->send(Array{Value("demo-broadcast"), Value(body)}); !st)
      throw std::runtime_error("send: " + st.error().message);
    auto reached = [&] {
      std::size_t r = 0;
      for (std::size_t i = 1; i < n; ++i) {
        std::lock_guard lock(seen[i]->mu);
        r += seen[i]->broadcast_at ? 1 : 0;
      }
      return r;
    };
    const bool all_reached = wait_until(args.timeout_s, [&] { return reached() == n - 1; });
    // Let stragglers' duplicate copies land before counting them.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));

    MeshPicture picture;
    picture.title = "p2pmesh demo: " + std::to_string(n) + " nodes, broadcast from n0";
    double last_ms = 0;
    std::uint64_t total_copies = 0, total_dups = 0;
    bool exactly_once = true;
    say("\n  node  peers  reached after  copies in  duplicates\n");
    for (std::size_t i = 0; i < n; ++i) {
      auto st = nodes[i]->status();
      const auto copies = st.counter("broadcast_copies_in") - copies_before[i];
      const auto dups = st.counter("duplicates_dropped") - dups_before[i];
      total_copies += copies;
      total_dups += dups;
      std::optional<double> ms;
      {
        std::lock_guard lock(seen[i]->mu);
        if (seen[i]->broadcast_at)
          ms = std::chrono::duration<double, std::milli>(*seen[i]->broadcast_at - t0).count();
        if (i > 0 && seen[i]->broadcasts != 1) exactly_once = false;
      }
      if (i == 0) ms = 0.0;
      if (ms) last_ms = std::max(last_ms, *ms);
      picture.nodes.push_back({"n" + std::to_string(i), ms, i == 0});
      char when[32];
      if (i == 0)
        std::snprintf(when, sizeof when, "(origin)");
      else if (ms)
        std::snprintf(when, sizeof when, "%.3f ms", *ms);
      else
        std::snprintf(when, sizeof when, "never");
      say("  n%-4zu %5zu  %13s  %9llu  %10llu\n", i, st.peers, when,
          static_cast<unsigned long long>(copies), static_cast<unsigned long long>(dups));
    }
    picture.edges.assign(edges.begin(), edges.end());
    say("\n  reached %zu/%zu nodes in %.3f ms; %zu links; %llu wire copies (%.2f per node, bound "
        "2 x links = %zu); %llu duplicates dropped; delivered exactly once: %s\n",
        reached(), n - 1, last_ms, edges.size(), static_cast<unsigned long long>(total_copies),
        static_cast<double>(total_copies) / static_cast<double>(n - 1), 2 * edges.size(),
        static_cast<unsigned long long>(total_dups), exactly_once ? "yes" : "NO");

    // Whisper from node 0 to its neighbours; then the last node reached replies to node 0.
    const auto neighbours = nodes[0]->routing_table().size();
    if (Status st = nodes[0]->send(Array{Value("demo-whisper")}, flags::whisper, flags::whisper);
        !st)
      throw std::runtime_error("whisper: " + st.error().message);
    auto whispered = [&] {
      std::size_t w = 0;
      for (std::size_t i = 1; i < n; ++i) {
        std::lock_guard lock(seen[i]->mu);
        w += static_cast<std::size_t>(seen[i]->whispers);
      }
      return w;
    };
    const bool whisper_ok = wait_until(args.timeout_s, [&] { return whispered() >= neighbours; });
    say("  whisper from n0 reached %zu/%zu direct peers (and no one else: %s)\n", whispered(),
        neighbours, whispered() == neighbours ? "yes" : "NO");

    std::size_t replier = n - 1;
    double latest = -1;
    for (std::size_t i = 1; i < n; ++i)
      if (picture.nodes[i].reached_ms && *picture.nodes[i].reached_ms > latest) {
        latest = *picture.nodes[i].reached_ms;
        replier = i;
      }
    std::optional<Message> to_answer;
    {
      std::lock_guard lock(seen[replier]->mu);
      to_answer = seen[replier]->broadcast;
    }
    bool reply_ok = false;
    if (to_answer) {
      const bool direct = nodes[replier]->routing_table().count(nodes[0]->id()) > 0;
      if (Status st = to_answer->reply(Array{Value("demo-reply")}); !st)
        throw std::runtime_error("reply: " + st.error().message);
      reply_ok = wait_until(args.timeout_s, [&] {
        std::lock_guard lock(seen[0]->mu);
        return seen[0]->replies == 1;
      });
      say("  reply from n%zu to n0 (%s): %s\n", replier,
          direct ? "direct whisper" : "request/response across the mesh",
          reply_ok ? "delivered" : "LOST");
    }

    if (!args.picture.empty()) {
      std::ofstream(args.picture) << render_svg(picture);
      say("  picture: %s", args.picture.c_str());
      if (std::system("command -v neato >/dev/null 2>&1") == 0) {
        std::string base = args.picture.substr(0, args.picture.rfind('.'));
        std::ofstream(base + ".dot") << render_dot(picture);
        const std::string cmd = "neato -Tpng -o '" + base + ".png' '" + base + ".dot' 2>/dev/null";
        if (std::system(cmd.c_str()) == 0) say(" and %s.png", base.c_str());
      }
      say("\n");
    }
    const bool ok = formed && all_reached && exactly_once && whisper_ok && reply_ok &&
                    whispered() == neighbours;
    say("\n%s\n",
        ok ? "demo: everything was delivered" : "demo: FAILED, something was not delivered");
    exit_code = ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\np2pmesh demo: %s\n", e.what());
    exit_code = 1;
  }
  for (auto& s : nodes) s->close();
  guard.reset();
  ioc.stop();
  io.join();
  nodes.clear();
  return exit_code;
}

}  // namespace p2p::cli
