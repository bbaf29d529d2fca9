// Every public method from several threads at once, ending with close() while they run.
// Meant for the ThreadSanitizer build (label `runtime`), but a useful crash test anywhere.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "mesh_test_util.hpp"

namespace p2p {
namespace {

using namespace p2p::testing;

class Hammer : public ::testing::TestWithParam<std::string> {};

TEST_P(Hammer, OneSocketFromManyThreads) {
  // Declared first, so that it also watches the sockets' destructors.
  const Watchdog watchdog("Hammer.OneSocketFromManyThreads", 3 * deadline);
  std::atomic<int> events{0}, handled{0};
  auto peer = make_node(GetParam());
  auto other = make_node(GetParam());
  auto sock = make_node(GetParam());
  sock->on("message", [&] { ++events; });
  sock->register_handler([&](Message& m, Connection& c) {
    ++handled;
    if (m.packets().size() > 1 && m.packets()[1] == Value("echo"))
      (void)c.send(flags::whisper, flags::whisper, {"echoed"});
    return false;
  });
  ASSERT_TRUE(link(*sock, *peer));

  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> sent{0}, received{0}, queries{0}, dials{0};
  std::atomic<int> pending_once{0};
  std::vector<std::thread> threads;
  // Senders.
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; !stop && i < 50000; ++i) {
        if (!sock->send({"from", t, i})) break;
        ++sent;
      }
    });
  }
  // A peer that talks back, so the handler, replies and events run meanwhile.
  threads.emplace_back([&] {
    for (int i = 0; !stop; ++i) {
      (void)peer->send({"echo", i});  // distinct: identical sends in one second are one message
      if (auto m = peer->recv_for(1ms)) (void)m->reply({"re"});
    }
  });
  // Receivers.
  threads.emplace_back([&] {
    while (!stop) {
      if (auto m = sock->recv()) {
        ++received;
        (void)m->reply({"thanks"});
      }
      received += sock->recv(16).size();
      if (sock->recv_for(1ms)) ++received;
    }
  });
  // Connect / disconnect churn.
  threads.emplace_back([&] {
    while (!stop) {
      (void)sock->connect("127.0.0.1", other->port());
      ++dials;
      for (const auto& [id, c] : sock->routing_table())
        if (id == other->id()) (void)sock->disconnect(c);
      (void)sock->request_peers();
    }
  });
  // Queries and listener churn.
  threads.emplace_back([&] {
    while (!stop) {
      (void)sock->routing_table();
      (void)sock->awaiting_ids();
      (void)sock->outgoing();
      (void)sock->status().to_string();
      // A bounded number of one-shot listeners waiting: "connect" does not fire while the
      // socket stays linked, and an unbounded pile would only measure the test's memory.
      if (pending_once < 64) {
        ++pending_once;
        sock->once("connect", [&] { --pending_once; });
      }
      ++queries;
    }
  });

  // Not ASSERT: the threads must be stopped and joined whatever happens.
  EXPECT_TRUE(wait_until([&] {
    return sent > 2000 && received > 20 && queries > 100 && dials > 20 && handled > 10;
  })) << "sent "
      << sent << " received " << received << " queries " << queries << " dials " << dials
      << " handled " << handled;
  sock->close();  // while every thread is still busy
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_TRUE(sock->closed());
  EXPECT_FALSE(sock->send({"late"}).ok());
  EXPECT_TRUE(sock->routing_table().empty());
  EXPECT_GT(events.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(Mesh, Hammer, ::testing::Values("Plaintext", "SSL"));

TEST(Backpressure, AThreadWaitingForRoomDoesNotHoldUpAHandlersSend) {
  // A thread whose reply() waits for room in a's full command queue must hold nothing that
  // a's io thread needs to make that room. Here the io thread, in a handler, sends on a
  // Connection meanwhile. Both calls reach the runtime through the socket's shared handle;
  // reply() used to keep the handle's lock while it waited, and the two threads deadlocked
  // (found by Hammer.OneSocketFromManyThreads under load).
  const Watchdog watchdog("AThreadWaitingForRoomDoesNotHoldUpAHandlersSend", 3 * deadline);
  MeshOptions oa = loopback();
  oa.max_pending_commands = 4;
  oa.max_outgoing = 0;
  Gate gate;
  std::atomic<bool> in_handler{false}, handler_sent{false};
  MeshSocket a(oa);
  const Gate::OpenAtExit open_gate{gate};
  auto b = make_node();
  a.register_handler([&](Message& m, Connection& c) {
    if (m.packets().size() < 2 || m.packets()[1] != Value("block")) return false;
    in_handler = true;
    gate.wait_for(deadline);
    handler_sent = c.send(flags::whisper, flags::whisper, {"from the handler"}).ok();
    return true;
  });
  ASSERT_TRUE(link(a, *b));
  ASSERT_TRUE(b->send({"reply to me"}));
  const std::optional<Message> kept = a.recv_for(deadline);
  ASSERT_TRUE(kept.has_value());
  ASSERT_TRUE(b->send({"block"}));
  ASSERT_TRUE(wait_until([&] { return in_handler.load(); }));

  // The io thread is held in the handler: 4 replies fill the queue, the 5th waits for room.
  constexpr int replies = 8;
  std::atomic<int> replied{0};
  std::thread replier([&] {
    for (int i = 0; i < replies; ++i) {
      if (!kept->reply({i}).ok()) break;
      ++replied;
    }
  });
  const bool waiting = wait_until([&] { return a.status().counter("sender_waits") >= 1; });
  gate.open();
  // Deadlocked, the join below never returns, and the watchdog ends the process.
  EXPECT_TRUE(wait_until([&] { return replied == replies && handler_sent; }))
      << "deadlock? " << replied << " of " << replies
      << " replies queued, handler sent: " << handler_sent << ", replies waited: " << waiting;
  replier.join();
  EXPECT_TRUE(waiting) << "the replies never had to wait for room";
  std::vector<Message> got;
  EXPECT_TRUE(wait_until([&] {
    for (auto& m : b->recv(16)) got.push_back(std::move(m));
    return got.size() == replies + 1;
  })) << got.size();
}

TEST(Backpressure, HandlersOfTwoSocketsSendingToEachOtherDoNotWait) {
  // Two sockets, each with its own io thread, whose handlers send through each other (a
  // bridge). With both command queues full, a handler that waited for room in the other's
  // queue would wait for an io thread that waits for its own: calls from a handler never
  // wait (MeshOptions::max_pending_commands). They used to, when the other socket ran on
  // another io_context.
  const Watchdog watchdog("HandlersOfTwoSocketsSendingToEachOtherDoNotWait", 3 * deadline);
  MeshOptions o = loopback();
  o.max_pending_commands = 4;
  o.max_outgoing = 0;
  Gate gate;
  std::atomic<bool> b_blocked{false}, b_sent{false};
  std::atomic<int> a_sent{0};
  constexpr int forwards = 8;
  MeshSocket a(o), b(o);
  const Gate::OpenAtExit open_gate{gate};
  auto to_a = make_node(), to_b = make_node();
  // a forwards one message to b `forwards` times; b, once the gate opens, sends one to a.
  a.register_handler([&](Message& m, Connection&) {
    if (m.packets().size() < 2 || m.packets()[1] != Value("forward")) return false;
    for (int i = 0; i < forwards; ++i) {
      if (!b.send({"from a", i}).ok()) break;
      ++a_sent;
    }
    return true;
  });
  b.register_handler([&](Message& m, Connection&) {
    if (m.packets().size() < 2 || m.packets()[1] != Value("block")) return false;
    b_blocked = true;
    gate.wait_for(deadline);
    b_sent = a.send({"from b"}).ok();
    return true;
  });
  ASSERT_TRUE(link(a, *to_a));
  ASSERT_TRUE(link(b, *to_b));

  // b's io thread is held in its handler; a's handler fills b's queue (4 commands).
  ASSERT_TRUE(to_b->send({"block"}));
  ASSERT_TRUE(wait_until([&] { return b_blocked.load(); }));
  ASSERT_TRUE(to_a->send({"forward"}));
  ASSERT_TRUE(wait_until([&] { return a_sent >= 4; }));
  // a's queue full too (its io thread is still in the handler, or has finished it).
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(a.send({"from the test", i}));
  gate.open();
  EXPECT_TRUE(wait_until([&] { return a_sent == forwards && b_sent; }))
      << "a sent " << a_sent << " of " << forwards << ", b sent: " << b_sent;
  EXPECT_EQ(b.status().counter("sender_waits"), 0u);
  EXPECT_EQ(a.status().counter("sender_waits"), 0u);
  std::vector<Message> at_a, at_b;
  EXPECT_TRUE(wait_until([&] {
    for (auto& m : to_a->recv(16)) at_a.push_back(std::move(m));
    for (auto& m : to_b->recv(16)) at_b.push_back(std::move(m));
    return at_a.size() == 5 && at_b.size() == forwards;
  })) << at_a.size()
      << " at a's peer, " << at_b.size() << " at b's";
}

/// The names of this process's threads (/proc/self/task/*/comm).
std::multiset<std::string> thread_names() {
  std::multiset<std::string> names;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (std::getline(comm, name)) names.insert(name);
  }
  return names;
}

TEST(IoThread, IsNamedAfterItsSocketsPort) {
  auto node = make_node();
  const std::string name = "p2p-io-" + std::to_string(node->port());
  // The thread names itself as it starts, which may be just after the constructor returns.
  EXPECT_TRUE(wait_until([&] { return thread_names().count(name) == 1; }));
  node->close();  // joins the io thread
  EXPECT_EQ(thread_names().count(name), 0u);
}

}  // namespace
}  // namespace p2p
