// Churn (issue 8): 32 MeshSocket nodes in one process on a shared io_context. While
// broadcasts flow, a quarter of them are killed and as many new ones join. After the network
// heals:
//   (a) every broadcast sent after healing reaches every running node exactly once;
//   (b) no node ever delivers any broadcast twice, those sent during the churn included (how
//       far each during-churn broadcast got is reported; see the guarantee below);
//   (c) every running node is back to max_outgoing outgoing links within a bounded time.
//
// How a node is killed. The p2p.today protocol has no goodbye message: a peer learns that a
// node is gone only from its TCP connections closing. MeshSocket::close() closes the node's
// sockets without sending anything the protocol defines, so its peers see what they would
// see from a SIGKILLed process, whose kernel closes the same sockets (FIN, or RST with unread
// data). The only difference is that close() first flushes frames already queued in user
// space (at most 2 s), where a SIGKILL would cut a frame in half; a torn frame is covered by
// the frame-reader tests (tests/core, fuzz/). In-process nodes keep the test fast and let
// ASan and TSan see every node.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "../api/mesh_test_util.hpp"
#include "net/asio.hpp"

namespace p2p {
namespace {

using namespace p2p::testing;

constexpr std::size_t kInitial = 32;
constexpr std::size_t kKilled = kInitial / 4;  // and as many join
constexpr std::size_t kMaxOutgoing = 4;
constexpr std::size_t kRecoveryLinks = 1;
/// Generous: ASan/TSan on a loaded 2-core machine. A healthy run needs a few seconds.
constexpr auto kHealDeadline = std::chrono::milliseconds(90'000);

/// Short timers so that healing takes seconds, not minutes: the engine's defaults are sized
/// for the internet (limits.hpp); the logic is the same.
MeshOptions churn_options(asio::io_context& ioc) {
  MeshOptions o = loopback();
  o.io_context = &ioc;
  o.max_outgoing = kMaxOutgoing;
  o.tick_interval = std::chrono::milliseconds(50);
  o.limits.reconnect_backoff_min = std::chrono::milliseconds(100);
  o.limits.reconnect_backoff_max = std::chrono::milliseconds(1'000);
  o.limits.peer_request_interval = std::chrono::milliseconds(500);
  o.limits.recovery_links = kRecoveryLinks;
  return o;
}

/// Broadcast tags each node's user received, with the number of deliveries. Written by the
/// io threads (handlers), read by the test thread.
class Receipts {
 public:
  void add(std::size_t node, const std::string& tag) {
    std::lock_guard<std::mutex> lock(mu_);
    ++got_[node][tag];
  }
  int count(std::size_t node, const std::string& tag) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto n = got_.find(node);
    if (n == got_.end()) return 0;
    auto t = n->second.find(tag);
    return t == n->second.end() ? 0 : t->second;
  }
  /// The largest delivery count of any tag at any node, and where.
  std::tuple<int, std::size_t, std::string> max_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::tuple<int, std::size_t, std::string> best{0, 0, ""};
    for (const auto& [node, tags] : got_)
      for (const auto& [tag, n] : tags)
        if (n > std::get<0>(best)) best = {n, node, tag};
    return best;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::size_t, std::map<std::string, int>> got_;
};

/// A broadcast the test sent: who sent it and who was in the mesh at that moment.
struct Sent {
  std::string tag;
  std::size_t from = 0;
  /// Running nodes in the mesh (with a link) when it was sent, sender excluded.
  std::vector<std::size_t> present;
  bool sender_linked = false;  ///< the sender had a peer when it sent (a snapshot)
};

class Churn : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 2; ++i) io_threads_.emplace_back([this] { ioc_.run(); });
  }
  void TearDown() override {
    for (auto& n : nodes_) n->close();
    nodes_.clear();  // sockets go before the context that runs them
    work_.reset();
    ioc_.stop();
    for (auto& t : io_threads_) t.join();
  }

  /// Starts a node that records every broadcast its user receives, and dials `bootstrap`.
  std::size_t join(std::optional<std::size_t> bootstrap) {
    const std::size_t idx = nodes_.size();
    nodes_.push_back(std::make_unique<MeshSocket>(churn_options(ioc_)));
    alive_.push_back(true);
    nodes_[idx]->register_handler([this, idx](Message& m, Connection&) {
      const Array& p = m.packets();
      if (p.size() == 3 && p[1] == Value("churn"))
        if (const auto* tag = p[2].if_str()) receipts_.add(idx, *tag);
      return true;
    });
    if (bootstrap) {
      EXPECT_TRUE(nodes_[idx]->connect("127.0.0.1", nodes_[*bootstrap]->port()));
    }
    return idx;
  }

  void kill(std::size_t i) {
    nodes_[i]->close();
    alive_[i] = false;
  }

  std::vector<std::size_t> running() const {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < nodes_.size(); ++i)
      if (alive_[i]) out.push_back(i);
    return out;
  }

  std::size_t random_running(std::mt19937& rng) const {
    const auto r = running();
    return r[std::uniform_int_distribution<std::size_t>(0, r.size() - 1)(rng)];
  }

  Sent broadcast(std::size_t from, const std::string& tag) {
    Sent s{tag, from, {}, !nodes_[from]->routing_table().empty()};
    for (std::size_t i : running())
      if (i != from && !nodes_[i]->routing_table().empty()) s.present.push_back(i);
    EXPECT_TRUE(nodes_[from]->send({"churn", tag})) << tag;
    return s;
  }

  /// Healed: no running node lists a killed one, every running node has max_outgoing
  /// established outgoing links, and the running nodes form one network over links both
  /// ends list. Sets `why` to the first thing missing.
  bool healed(std::string& why) const {
    const auto live = running();
    std::map<std::string, std::size_t> index;
    std::set<std::string> dead;
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      if (alive_[i])
        index.emplace(nodes_[i]->id(), i);
      else
        dead.insert(nodes_[i]->id());
    }
    std::map<std::size_t, std::map<std::string, Connection>> tables;
    for (std::size_t i : live) {
      tables[i] = nodes_[i]->routing_table();
      std::size_t out = 0;
      for (const auto& [pid, conn] : tables[i]) {
        if (dead.count(pid)) {
          why = "node " + std::to_string(i) + " still lists a killed node";
          return false;
        }
        out += conn.outgoing() ? 1 : 0;
      }
      if (out < kMaxOutgoing) {
        why = "node " + std::to_string(i) + " has " + std::to_string(out) + " outgoing links";
        return false;
      }
    }
    std::set<std::size_t> seen{live.front()};
    std::vector<std::size_t> todo{live.front()};
    while (!todo.empty()) {
      const std::size_t i = todo.back();
      todo.pop_back();
      for (const auto& [pid, conn] : tables[i]) {
        auto j = index.find(pid);
        if (j == index.end() || seen.count(j->second)) continue;
        if (!tables[j->second].count(nodes_[i]->id())) continue;  // not both ways yet
        seen.insert(j->second);
        todo.push_back(j->second);
      }
    }
    if (seen.size() != live.size()) {
      why = "only " + std::to_string(seen.size()) + " of " + std::to_string(live.size()) +
            " running nodes are connected";
      return false;
    }
    return true;
  }

  /// Waits until healed(); returns how long it took (or nullopt past the deadline).
  std::optional<std::chrono::milliseconds> wait_healed(std::string& why) {
    const auto start = std::chrono::steady_clock::now();
    if (!wait_until([&] { return healed(why); }, kHealDeadline)) return std::nullopt;
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start);
  }

  asio::io_context ioc_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      asio::make_work_guard(ioc_)};
  std::vector<std::thread> io_threads_;
  std::vector<std::unique_ptr<MeshSocket>> nodes_;
  std::vector<bool> alive_;  // only the test thread touches it
  Receipts receipts_;
};

TEST_F(Churn, QuarterKilledAndReplacedWhileBroadcastsFlow) {
  std::mt19937 rng(20240608);
  // A random tree (each node dials one earlier node); peers lists and self-healing then fill
  // every node's max_outgoing links.
  join(std::nullopt);
  for (std::size_t i = 1; i < kInitial; ++i)
    join(std::uniform_int_distribution<std::size_t>(0, i - 1)(rng));
  std::string why;
  const auto formed = wait_healed(why);
  ASSERT_TRUE(formed) << "the initial network never formed: " << why;

  // ---- churn: kill a quarter abruptly and join as many, broadcasting all along ----------
  std::vector<Sent> during;
  int serial = 0;
  auto send_some = [&](int n) {
    for (int k = 0; k < n; ++k)
      during.push_back(broadcast(random_running(rng), "during-" + std::to_string(serial++)));
  };
  std::vector<std::size_t> killed, joined;
  for (std::size_t step = 0; step < kKilled; ++step) {
    send_some(3);
    // Victims are drawn from the original nodes: a quarter of them die.
    std::vector<std::size_t> originals;
    for (std::size_t i = 0; i < kInitial; ++i)
      if (alive_[i]) originals.push_back(i);
    const std::size_t victim =
        originals[std::uniform_int_distribution<std::size_t>(0, originals.size() - 1)(rng)];
    kill(victim);
    killed.push_back(victim);
    send_some(2);
    const std::size_t fresh = join(random_running(rng));
    joined.push_back(fresh);
    send_some(1);
    // Pace the churn by the network, not by a clock: the newcomer's first link is up.
    ASSERT_TRUE(wait_until([&] { return !nodes_[fresh]->routing_table().empty(); }))
        << "node " << fresh << " never joined\n"
        << nodes_[fresh]->status().to_string();
    send_some(1);
  }
  ASSERT_EQ(running().size(), kInitial);

  // ---- (c) healing: routing tables refilled within a bounded time -----------------------
  const auto heal_time = wait_healed(why);
  ASSERT_TRUE(heal_time) << "not healed after " << kHealDeadline.count() << " ms: " << why;
  RecordProperty("heal_ms", std::to_string(heal_time->count()));
  std::printf("[ churn    ] healed %lld ms after the last join\n",
              static_cast<long long>(heal_time->count()));
  for (std::size_t i : running()) {
    const MeshStatus st = nodes_[i]->status();
    EXPECT_GE(nodes_[i]->outgoing().size(), kMaxOutgoing) << "node " << i;
    // Recovery links are the only way above max_outgoing, and they are bounded.
    EXPECT_LE(st.outgoing, kMaxOutgoing + kRecoveryLinks) << "node " << i;
    EXPECT_EQ(st.counter("protocol_errors"), 0u) << "node " << i;
  }

  // ---- (a) after healing, every broadcast reaches every running node exactly once -------
  std::vector<Sent> after;
  for (int k = 0; k < 10; ++k)
    after.push_back(broadcast(random_running(rng), "after-" + std::to_string(k)));
  for (const Sent& s : after) {
    for (std::size_t i : s.present) {
      ASSERT_TRUE(wait_until([&] { return receipts_.count(i, s.tag) >= 1; }))
          << s.tag << " never reached node " << i << "\n"
          << nodes_[i]->status().to_string();
    }
  }
  // A last broadcast marks the end: once every node has it, any copy of the earlier ones
  // still travelling has had every chance to be delivered twice.
  const Sent marker = broadcast(random_running(rng), "marker");
  for (std::size_t i : marker.present)
    ASSERT_TRUE(wait_until([&] { return receipts_.count(i, marker.tag) >= 1; })) << "node " << i;
  for (const Sent& s : after) {
    EXPECT_EQ(receipts_.count(s.from, s.tag), 0) << s.tag << ": the sender got its own echo";
    for (std::size_t i : s.present)
      EXPECT_EQ(receipts_.count(i, s.tag), 1) << s.tag << " node " << i;
  }

  // ---- (b) no duplicate ever; how far the during-churn broadcasts got -------------------
  // Guaranteed: at most one delivery per node and broadcast (the seen cache outlives the
  // test). Not guaranteed: that a broadcast sent during the churn reaches everyone. There is
  // no store-and-forward, so a node that joins after a flood has passed never sees it, and a
  // node whose paths to the sender all ran through nodes killed while the flood travelled
  // misses it. What is reported: deliveries among the nodes present at the send (running
  // with a link) that are still running ("survivors"), and among the nodes that joined
  // later. In practice (this test, loopback) every survivor gets every one of them.
  const auto [most, where, which] = receipts_.max_count();
  EXPECT_LE(most, 1) << "node " << where << " delivered " << which << " " << most << " times";
  std::size_t survivor_slots = 0, survivor_hits = 0, late_hits = 0, complete = 0, unlinked = 0;
  for (const Sent& s : during) {
    unlinked += s.sender_linked ? 0 : 1;
    std::size_t slots = 0, hits = 0;
    for (std::size_t i : s.present) {
      if (!alive_[i]) continue;
      ++slots;
      hits += receipts_.count(i, s.tag) ? 1 : 0;
    }
    for (std::size_t i : running()) {
      const bool present = std::find(s.present.begin(), s.present.end(), i) != s.present.end();
      if (!present && i != s.from && receipts_.count(i, s.tag)) ++late_hits;
    }
    survivor_slots += slots;
    survivor_hits += hits;
    complete += hits == slots ? 1 : 0;
  }
  std::printf(
      "[ churn    ] %zu broadcasts during the churn: %zu reached every surviving node present "
      "at the send; %zu of %zu (survivor, broadcast) deliveries; %zu to nodes that joined "
      "later; %zu sent by a node that had no link yet\n",
      during.size(), complete, survivor_hits, survivor_slots, late_hits, unlinked);
  RecordProperty("during_complete", std::to_string(complete));
  RecordProperty("during_survivor_deliveries",
                 std::to_string(survivor_hits) + "/" + std::to_string(survivor_slots));
  // Flooding over a mesh of degree >= 4 loses little even under churn; this catches a relay
  // that stopped working, not the (allowed) stragglers.
  EXPECT_GE(survivor_hits * 2, survivor_slots);
}

}  // namespace
}  // namespace p2p
