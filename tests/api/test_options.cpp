// Options and bounds: defaults, addresses, the receive-queue and slow-peer policies, the log
// sink, and the refusal of blocking calls on the io thread.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "mesh_test_util.hpp"
#include "net/lan_address.hpp"

namespace p2p {
namespace {

using namespace p2p::testing;

TEST(Options, SeedConstructor) {
  MeshSocket s("127.0.0.1", 0, Protocol("mesh", "Plaintext"), std::nullopt, 0);
  EXPECT_NE(s.port(), 0);
  EXPECT_EQ(s.out_addr(), (Endpoint{"127.0.0.1", s.port()}));
  EXPECT_EQ(s.protocol().id(), "EpAmyZWv9rZUKmjQgU3FTUD4GrJHvVEXizmghVBc8eGD");
  EXPECT_GE(s.id().size(), 60u);
}

TEST(Options, ASendAboveMaxBodyBytesIsRefusedAtOnce) {
  MeshOptions o = loopback();
  o.limits.max_body_bytes = 1000;
  MeshSocket s(o);
  // Encoded on the calling thread, so the size is known before anything is queued.
  const Status big = s.send({Value(Bytes(2000, 7))});
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, Errc::too_large);
  EXPECT_TRUE(s.send({Value(Bytes(100, 7))}));
  // Only the message that fit reached the node.
  EXPECT_TRUE(wait_until([&] { return s.status().counter("broadcasts_sent") == 1; }));
  EXPECT_EQ(s.status().counter("commands_refused"), 0u);
}

TEST(Options, WildcardBindAdvertisesTheLanAddress) {
  for (const char* any : {"0.0.0.0", ""}) {
    MeshSocket s(any, 0);
    EXPECT_EQ(s.out_addr().host, net::lan_address()) << "bind '" << any << "'";
    EXPECT_EQ(s.out_addr().port, s.port());
  }
}

TEST(Options, OutAddrOverridesWhatPeersSee) {
  MeshOptions oa = loopback();
  oa.out_addr = Endpoint{"35.24.77.21", 44565};
  oa.max_outgoing = 0;
  MeshSocket a(oa);
  EXPECT_EQ(a.out_addr(), (Endpoint{"35.24.77.21", 44565}));
  auto b = make_node();
  ASSERT_TRUE(link(a, *b));
  EXPECT_EQ(b->routing_table().at(a.id()).addr(), (Endpoint{"35.24.77.21", 44565}));
}

TEST(Options, RefusesWhatCannotWork) {
  EXPECT_THROW(MeshSocket("127.0.0.1", 0, Protocol("mesh", "ROT13")), UsageError);
  MeshSocket a("127.0.0.1", 0);
  try {
    MeshSocket b("127.0.0.1", a.port());
    ADD_FAILURE() << "bound a port already listened on";
  } catch (const SocketError& e) {
    EXPECT_EQ(e.error().code, Errc::io);
  }
  MeshOptions bad_tls = loopback("SSL");
  bad_tls.tls.pinned_sha256 = {"xyz"};
  EXPECT_THROW(MeshSocket{bad_tls}, UsageError);
  EXPECT_THROW(a.register_handler(nullptr), UsageError);
  EXPECT_FALSE(a.send({"x"}, 0x07).ok()) << "only broadcast and whisper are main flags";
}

TEST(Options, FullReceiveQueueDropsTheOldest) {
  MeshOptions ob = loopback();
  ob.max_recv_queue = 3;
  MeshSocket b(ob);
  auto a = make_node();
  ASSERT_TRUE(link(*a, b));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(a->send({i}));
  ASSERT_TRUE(wait_until([&] { return b.status().counter("messages_delivered") == 5; }));
  const auto st = b.status();
  EXPECT_EQ(st.recv_queue, 3u);
  EXPECT_EQ(st.counter("recv_dropped"), 2u);
  auto got = b.recv(10);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].packets()[1], Value(2));
  EXPECT_EQ(got[2].packets()[1], Value(4));
}

/// Makes a node's io thread block in a handler on "block" (so that it stops reading)
/// until unblock(). Shared with the handler, and released by a Gate::OpenAtExit of its gate
/// declared after the nodes, so that a failing test still unblocks before the nodes close.
struct Blocker {
  Gate gate;
  std::atomic<bool> blocked{false};
  void unblock() { gate.open(); }
  static MeshSocket::Handler handler(std::shared_ptr<Blocker> self) {
    return [self](Message& m, Connection&) {
      if (m.packets().size() > 1 && m.packets()[1] == Value("block")) {
        self->blocked = true;
        self->gate.wait();
        return true;
      }
      return false;
    };
  }
};
/// Incompressible bytes: the queue bounds count compressed frames.
Bytes noise(std::size_t n, std::uint32_t seed) {
  Bytes out(n);
  for (auto& b : out) {
    seed = seed * 1664525u + 1013904223u;
    b = static_cast<std::uint8_t>(seed >> 24);
  }
  return out;
}

TEST(Options, OwnSendsArePacedAndAStalledPeerIsClosed) {
  auto blocker = std::make_shared<Blocker>();
  MeshOptions oa = loopback();
  oa.max_queued_bytes_per_peer = 256u << 10;
  oa.write_stall_timeout = 1s;
  oa.max_outgoing = 0;
  oa.max_pending_commands = 64;
  MeshSocket a(oa);
  auto b = make_node();
  const Gate::OpenAtExit guard{blocker->gate};
  b->register_handler(Blocker::handler(blocker));
  ASSERT_TRUE(link(a, *b));
  ASSERT_TRUE(a.send({"block"}));
  ASSERT_TRUE(wait_until([&] { return blocker->blocked.load(); }));
  // Far more than the kernel buffers and the queue bound hold: the sending thread is
  // paced (it blocks), and b is not closed for being slow until it stalls for 1 s.
  const Bytes chunk = noise(64u << 10, 1);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 600; ++i) ASSERT_TRUE(a.send({chunk, i}));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 900ms) << "the sender was not paced";
  EXPECT_TRUE(wait_until([&] { return a.status().counter("slow_peers_closed") == 1; }));
  EXPECT_TRUE(wait_until([&] { return a.routing_table().empty(); }));
  const auto st = a.status();
  ASSERT_FALSE(st.recent_errors.empty());
  EXPECT_NE(st.recent_errors.back().what.find("slow peer"), std::string::npos);
}

// a's options in the pacing tests: a 1 MiB queue towards each peer and room for 16
// commands, so that a pauses its sends soon after its peer stops reading.
MeshOptions paced_options() {
  MeshOptions oa = loopback();
  oa.max_queued_bytes_per_peer = 1u << 20;
  oa.max_outgoing = 0;
  oa.max_pending_commands = 16;
  return oa;
}

// Sends n messages [ "data", payload(i), i ] from another thread of a (options `oa`) to a
// peer whose handler blocks until a's counter `held_back` shows that the sender was held
// back ("send_pauses": a paused its sends; "sender_waits": the sending thread waited for
// room in the command queue), then reads again; checks that every message arrives, in
// order, intact, and that nobody is closed. `returned_when_held`, when given, receives how
// many sends had returned by the time the counter moved.
void expect_paced_sends_arrive_in_order(int n, const std::function<Bytes(int)>& payload,
                                        const MeshOptions& oa = paced_options(),
                                        const char* held_back = "send_pauses",
                                        int* returned_when_held = nullptr) {
  // b's handler blocks, so a's queue towards b passes half its bound: a's io thread stops
  // mid-batch, and the commands it had taken wait until b reads again.
  auto blocker = std::make_shared<Blocker>();
  MeshSocket a(oa);
  auto b = make_node();
  const Gate::OpenAtExit guard{blocker->gate};
  std::mutex mu;
  std::vector<std::int64_t> got;
  std::int64_t damaged = -1;
  b->register_handler(Blocker::handler(blocker));
  b->register_handler([&](Message& m, Connection&) {
    std::lock_guard<std::mutex> lock(mu);
    const auto i = m.packets()[3].as_int();  // [type, "data", payload, i]
    if (damaged < 0 && m.packets()[2].as_bin() != payload(static_cast<int>(i))) damaged = i;
    got.push_back(i);
    return true;
  });
  ASSERT_TRUE(link(a, *b));
  ASSERT_TRUE(a.send({"block"}));
  ASSERT_TRUE(wait_until([&] { return blocker->blocked.load(); }));
  std::atomic<int> returned{0};
  std::thread sender([&] {
    for (int i = 0; i < n; ++i) {
      if (!a.send({"data", payload(i), i})) return;
      ++returned;
    }
  });
  // a holds its sender back while b does not read; then b reads again.
  const bool held = wait_until([&] { return a.status().counter(held_back) > 0; });
  if (returned_when_held) *returned_when_held = returned.load();
  blocker->unblock();
  sender.join();
  ASSERT_TRUE(held) << held_back << " never moved (" << returned.load() << " of " << n
                    << " sends returned): the test did not reach the path it is about";
  ASSERT_TRUE(wait_until([&] {
    std::lock_guard<std::mutex> lock(mu);
    return got.size() >= static_cast<std::size_t>(n);
  })) << got.size();
  std::lock_guard<std::mutex> lock(mu);
  for (int i = 0; i < n; ++i) ASSERT_EQ(got[i], i) << "in order, none lost";
  EXPECT_EQ(damaged, -1) << "message " << damaged << " arrived with another payload";
  EXPECT_EQ(a.status().counter("slow_peers_closed"), 0);
}

/// What `s` receives (recv(), oldest first) until `n` messages have come or the deadline
/// passes.
std::vector<Message> receive(MeshSocket& s, std::size_t n) {
  std::vector<Message> got;
  wait_until([&] {
    for (auto& m : s.recv(1024)) got.push_back(std::move(m));
    return got.size() >= n;
  });
  return got;
}

TEST(Options, PacedSendsResumeInOrderWhenThePeerReadsAgain) {
  // 2,000 x 16 KiB: more than the kernel buffers and the bound.
  const Bytes chunk = noise(16u << 10, 2);
  expect_paced_sends_arrive_in_order(2000, [&](int) { return chunk; });
}

TEST(Options, SmallAndLargeSendsKeepTheirOrderAndBytes) {
  // Small frames travel through the command queue by value, large ones by reference: a
  // stream that alternates them (sizes from 0 to 1,800 bytes around the 1 KiB boundary,
  // and every third one 16 KiB) must come out in the order, and with the bytes, it went in.
  const Bytes chunk = noise(16u << 10, 3);
  expect_paced_sends_arrive_in_order(3000, [&](int i) {
    if (i % 3 == 0) return chunk;
    const auto size = static_cast<std::size_t>((i * 37) % 1800);
    return Bytes(chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(size));
  });
}

TEST(Options, LargeFramesKeepTheirBytesWhileTheirBuffersGoRound) {
  // A large frame goes by reference, and once written its buffer comes back for the
  // sender's next frames (net::FramePool): 3,000 distinct 4 KiB payloads, held back by a
  // peer that stops reading and then let go, must each arrive as it was sent.
  const Bytes chunk = noise(8192, 5);
  expect_paced_sends_arrive_in_order(3000, [&](int i) {
    const auto start = static_cast<std::ptrdiff_t>((i * 131) % 4096);  // distinct windows
    return Bytes(chunk.begin() + start, chunk.begin() + start + 4096);
  });
}

TEST(Options, RelayingToASlowPeerClosesItAtTheBound) {
  // a -> b -> c, c stops reading. a's sends are paced by b, which keeps reading; b relays
  // to c without pacing, so b's queue towards c hits the bound and b closes c.
  auto blocker = std::make_shared<Blocker>();
  MeshOptions ob = loopback();
  ob.max_queued_bytes_per_peer = 256u << 10;
  ob.max_outgoing = 0;
  MeshSocket b(ob);
  MeshOptions fixed = loopback();
  fixed.max_outgoing = 0;
  fixed.auto_reconnect = false;
  MeshSocket a(fixed), c(fixed);
  const Gate::OpenAtExit guard{blocker->gate};
  c.register_handler(Blocker::handler(blocker));
  ASSERT_TRUE(link(a, b));
  ASSERT_TRUE(link(b, c));
  ASSERT_TRUE(a.send({"block"}));
  ASSERT_TRUE(wait_until([&] { return blocker->blocked.load(); }));
  const Bytes chunk = noise(64u << 10, 2);
  for (int i = 0; i < 1024 && b.status().counter("slow_peers_closed") == 0; ++i)
    ASSERT_TRUE(a.send({chunk, i}));
  EXPECT_TRUE(wait_until([&] { return b.status().counter("slow_peers_closed") == 1; }))
      << b.status().to_string();
  EXPECT_TRUE(wait_until([&] { return b.routing_table().count(c.id()) == 0; }));
  EXPECT_EQ(b.routing_table().count(a.id()), 1u) << "only the slow peer is closed";
}

TEST(Options, SendBackpressureLosesNothing) {
  // A tiny command queue: the sending thread keeps blocking until the io thread catches up.
  MeshOptions oa = loopback();
  oa.max_pending_commands = 8;
  oa.max_outgoing = 0;
  MeshSocket a(oa);
  MeshOptions ob = loopback();
  ob.max_outgoing = 0;
  MeshSocket b(ob);
  ASSERT_TRUE(link(a, b));
  constexpr int n = 5000;
  for (int i = 0; i < n; ++i) ASSERT_TRUE(a.send({i}));
  const std::vector<Message> got = receive(b, n);
  ASSERT_GE(got.size(), static_cast<std::size_t>(n)) << got.size();
  for (int i = 0; i < n; ++i) ASSERT_EQ(got[i].packets()[1], Value(i)) << "in order, none lost";
}

TEST(Options, SendsQueuedWhileTheIoThreadIsBusyKeepTheirOrder) {
  // a's io thread blocks in a handler while the test thread queues 5,000 sends of 0 to
  // 999 bytes: several segments of the command queue (1,024 commands or 96 KiB of frames
  // each) wait at once, and must run oldest first, each with its own bytes.
  auto blocker = std::make_shared<Blocker>();
  MeshOptions oa = loopback();
  oa.max_outgoing = 0;
  MeshSocket a(oa);
  auto b = make_node();
  const Gate::OpenAtExit guard{blocker->gate};
  a.register_handler(Blocker::handler(blocker));
  ASSERT_TRUE(link(a, *b));
  ASSERT_TRUE(b->send({"block"}));
  ASSERT_TRUE(wait_until([&] { return blocker->blocked.load(); }));
  const Bytes chunk = noise(1000, 7);
  auto payload = [&](int i) { return Bytes(chunk.begin(), chunk.begin() + (i * 37) % 1000); };
  constexpr int n = 5000;
  for (int i = 0; i < n; ++i) ASSERT_TRUE(a.send({payload(i), i}));
  EXPECT_EQ(a.status().counter("sender_waits"), 0u) << "the sends did not all queue at once";
  blocker->unblock();
  const std::vector<Message> got = receive(*b, n);
  ASSERT_GE(got.size(), static_cast<std::size_t>(n)) << got.size();
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(got[i].packets()[2], Value(i)) << "in order, none lost";
    ASSERT_EQ(got[i].packets()[1].as_bin(), payload(i)) << "message " << i;
  }
}

TEST(Options, LargeSendsWaitingForABackloggedPeerAreBoundedInBytes) {
  // 64 sends of 1 MiB to a peer that does not read: far fewer commands than
  // max_pending_commands, so only the byte bound can stop the sending thread. It must block
  // (sender_waits) once the kernel buffers, the peer's queue (paced at 2 of its 4 MiB) and
  // 1 MiB of waiting commands are full, instead of queueing all 64 MiB; then everything
  // arrives when the peer reads.
  MeshOptions oa = loopback();  // 4 MiB per peer: a 1 MiB frame fits
  oa.max_pending_command_bytes = 1u << 20;
  oa.max_outgoing = 0;
  constexpr int n = 64;
  const Bytes chunk = noise(1u << 20, 4);
  int returned_when_blocked = n;
  ASSERT_NO_FATAL_FAILURE(expect_paced_sends_arrive_in_order(
      n, [&](int) { return chunk; }, oa, "sender_waits", &returned_when_blocked));
  EXPECT_LT(returned_when_blocked, n);
}

TEST(Options, AMessageLargerThanThePendingByteBoundStillGoes) {
  // The bound is checked before a command is queued: one command always fits into a queue
  // below it, so a 1 MiB message gets through a 64 KiB bound instead of waiting forever.
  MeshOptions oa = loopback();
  oa.max_pending_command_bytes = 64u << 10;
  oa.max_outgoing = 0;
  MeshSocket a(oa);
  auto b = make_node();
  ASSERT_TRUE(link(a, *b));
  const Bytes chunk = noise(1u << 20, 5);
  constexpr int n = 8;
  for (int i = 0; i < n; ++i) ASSERT_TRUE(a.send({chunk, i}));
  const std::vector<Message> got = receive(*b, n);
  ASSERT_GE(got.size(), static_cast<std::size_t>(n)) << got.size();
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(got[i].packets()[2], Value(i)) << "in order, none lost";
    EXPECT_EQ(got[i].packets()[1].as_bin(), chunk);
  }
}

TEST(Options, RepliesFromAnotherThreadCountAgainstThePendingByteBound) {
  // b answers every message of a's with 1 MiB from the test thread (reply() queues a
  // command holding its packets); a does not read, so b's replies back up and the
  // replying thread must block on b's byte bound.
  auto blocker = std::make_shared<Blocker>();
  MeshOptions ob = loopback();
  ob.max_pending_command_bytes = 1u << 20;
  ob.max_outgoing = 0;
  MeshSocket b(ob);
  auto a = make_node();
  const Gate::OpenAtExit guard{blocker->gate};
  a->register_handler(Blocker::handler(blocker));
  ASSERT_TRUE(link(*a, b));
  ASSERT_TRUE(a->send({"ask"}));
  auto asked = b.recv_for(10s);
  ASSERT_TRUE(asked);
  ASSERT_TRUE(b.send({"block"}));
  ASSERT_TRUE(wait_until([&] { return blocker->blocked.load(); }));
  const Bytes chunk = noise(1u << 20, 6);
  constexpr int n = 64;
  std::thread replier([&] {
    for (int i = 0; i < n; ++i)
      if (!asked->reply({chunk, i})) return;
  });
  const bool waited = wait_until([&] { return b.status().counter("sender_waits") > 0; });
  blocker->unblock();
  replier.join();
  EXPECT_TRUE(waited) << "64 replies of 1 MiB were queued without waiting";
}

TEST(Options, DebugLevelFiveLogsHandlersAndEveryMessage) {
  std::mutex mu;
  std::vector<std::pair<int, std::string>> lines;
  MeshOptions ob = loopback();
  ob.debug_level = 5;
  ob.log = [&](int level, std::string_view text) {
    std::lock_guard<std::mutex> lock(mu);
    lines.emplace_back(level, std::string(text));
  };
  MeshSocket b(ob);
  b.register_handler([](Message&, Connection&) { return false; });
  auto a = make_node();
  ASSERT_TRUE(link(*a, b));
  ASSERT_TRUE(a->send({"logged"}));
  ASSERT_TRUE(next_message(b));
  std::lock_guard<std::mutex> lock(mu);
  auto has = [&](const std::string& needle, int level) {
    for (const auto& [l, t] : lines)
      if (l == level && t.find(needle) != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(has("handler:", 5));
  EXPECT_TRUE(has("'logged'", 5)) << "the message in";
  EXPECT_TRUE(has("out ", 5)) << "messages out (the handshake, peers)";
  for (const auto& [l, t] : lines) EXPECT_LE(l, 5);
}

TEST(Options, DebugLevelZeroIsSilent) {
  std::atomic<int> count{0};
  MeshOptions o = loopback();
  o.log = [&](int, std::string_view) { ++count; };
  MeshSocket a(o);
  auto b = make_node();
  ASSERT_TRUE(link(a, *b));
  EXPECT_EQ(count.load(), 0);
}

TEST(Options, BlockingCallsOnTheIoThreadAreRefused) {
  std::atomic<int> refused{0}, ran{0};
  auto a = make_node(), b = make_node();
  b->register_handler([&](Message&, Connection&) {
    ++ran;
    try {
      (void)b->recv_for(1ms);
    } catch (const UsageError&) {
      ++refused;
    }
    try {
      b->close();
    } catch (const UsageError&) {
      ++refused;
    }
    // Non-blocking calls are fine here.
    (void)b->routing_table();
    (void)b->status();
    (void)b->recv();
    return false;
  });
  b->on("message", [&](MeshSocket& s) {
    try {
      (void)s.recv_for(1ms);
    } catch (const UsageError&) {
      ++refused;
    }
  });
  ASSERT_TRUE(link(*a, *b));
  ASSERT_TRUE(a->send({"x"}));
  ASSERT_TRUE(wait_until([&] { return refused == 3; }));
  EXPECT_EQ(ran.load(), 1);
  EXPECT_FALSE(b->closed());
}

TEST(Options, DestroyingTheSocketInItsOwnListenerIsSafe) {
  std::atomic<bool> gone{false};
  auto a = make_node();
  auto b = make_node();
  MeshSocket* raw = b.release();
  raw->on("message", [&](MeshSocket& s) {
    delete &s;  // the destructor cannot join its own thread: it detaches it
    gone = true;
  });
  ASSERT_TRUE(link(*a, *raw));
  ASSERT_TRUE(a->send({"bye"}));
  ASSERT_TRUE(wait_until([&] { return gone.load(); }));
  EXPECT_TRUE(wait_until([&] { return a->routing_table().empty(); }));
}

}  // namespace
}  // namespace p2p
