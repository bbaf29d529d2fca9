// net::Runtime driven directly (no MeshSocket): gathered writes, large reads, creation
// errors and the outbox commands it executes.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <random>
#include <thread>

#include "net/asio.hpp"
#include "net/runtime.hpp"

namespace p2p::net {
namespace {

using namespace std::chrono_literals;

template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds limit = 20s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return pred();
}

RuntimeConfig config(const std::string& encryption = "Plaintext") {
  RuntimeConfig c;
  c.node.protocol = Protocol("mesh", encryption);
  c.node.max_outgoing = 0;
  c.node.auto_reconnect = false;
  c.bind_host = "127.0.0.1";
  return c;
}

/// Runtimes on one io_context run by one thread; records deliveries and events.
class RuntimeTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (auto& rt : runtimes_) rt->close();
    for (auto& rt : runtimes_) rt->io_closed().wait();  // the io thread closes the sockets
    work_.reset();
    ioc_.stop();
    if (io_.joinable()) io_.join();
  }

  std::shared_ptr<Runtime> start(RuntimeConfig c = config()) {
    auto created = Runtime::create(ioc_, std::move(c));
    EXPECT_TRUE(created.ok()) << (created.ok() ? "" : created.error().to_string());
    auto rt = std::move(created).value();
    rt->start(Runtime::Hooks{[this](core::Message&& m) {
                               std::lock_guard<std::mutex> lock(mu_);
                               delivered_.push_back(std::move(m));
                             },
                             [this](const core::EventCmd& e) {
                               std::lock_guard<std::mutex> lock(mu_);
                               events_.push_back(e);
                             }});
    runtimes_.push_back(rt);
    if (!io_.joinable()) io_ = std::thread([this] { ioc_.run(); });
    return rt;
  }

  std::size_t delivered() {
    std::lock_guard<std::mutex> lock(mu_);
    return delivered_.size();
  }
  std::size_t events(core::EventKind kind) {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<std::size_t>(std::count_if(events_.begin(), events_.end(),
                                                  [&](const auto& e) { return e.kind == kind; }));
  }

  void connect(Runtime& a, Runtime& b) {
    const core::Address to{"127.0.0.1", b.port()};
    ASSERT_TRUE(a.submit([to](core::Node& n, core::Time t) { (void)n.connect(to, {}, t); }));
    ASSERT_TRUE(wait_until(
        [&] { return a.snapshot().routing.size() == 1 && b.snapshot().routing.size() == 1; }));
  }

  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(ioc_);
  std::thread io_;
  std::vector<std::shared_ptr<Runtime>> runtimes_;
  std::mutex mu_;
  std::vector<core::Message> delivered_;
  std::vector<core::EventCmd> events_;
};

TEST_F(RuntimeTest, GathersQueuedFramesIntoFewWrites) {
  auto a = start(), b = start();
  connect(*a, *b);
  const auto before = a->snapshot().runtime.write_batches;
  constexpr int n = 2000;
  // One item: every SendCmd lands in the write queue before the first write completes.
  ASSERT_TRUE(a->submit([](core::Node& node, core::Time t) {
    for (int i = 0; i < n; ++i) (void)node.send(Array{Value(i)}, flags::broadcast, 0, t);
  }));
  ASSERT_TRUE(wait_until([&] { return delivered() == n; })) << delivered();
  const auto batches = a->snapshot().runtime.write_batches - before;
  EXPECT_LE(batches, n / 16) << "frames were written one by one";
  EXPECT_LT(b->snapshot().runtime.reads, static_cast<std::uint64_t>(n) / 4)
      << "reads should carry many frames each";
}

TEST_F(RuntimeTest, BurstMixingSmallAndLargeFramesArrivesIntactAndInOrder) {
  // A plaintext link copies small frames into chunks and sends large ones by reference
  // (WriteQueue): interleaved in one burst, both must arrive whole and in sending order.
  auto a = start(), b = start();
  connect(*a, *b);
  constexpr int n = 1500;  // ~2.5 MB queued at once: under the 4 MiB a peer may have waiting
  // Random bytes: a link that negotiated compression must not shrink the large ones.
  auto payload_of = [](int i) {
    const std::size_t size = i % 3 == 0   ? 10     // coalesced
                             : i % 3 == 1 ? 1800   // coalesced: just under small_frame_max
                                          : 3000;  // by reference
    std::mt19937 bits(static_cast<std::uint32_t>(i));
    Bytes payload(size);
    for (auto& byte : payload) byte = static_cast<std::uint8_t>(bits());
    return payload;
  };
  ASSERT_TRUE(a->submit([&](core::Node& node, core::Time t) {
    for (int i = 0; i < n; ++i)
      ASSERT_TRUE(node.send(Array{Value(i), Value(payload_of(i))}, flags::broadcast, 0, t));
  }));
  ASSERT_TRUE(wait_until([&] { return delivered() == n; })) << delivered();
  std::lock_guard<std::mutex> lock(mu_);
  for (int i = 0; i < n; ++i) {
    const Array& packets = delivered_[static_cast<std::size_t>(i)].packets;
    ASSERT_EQ(packets.size(), 3u);
    ASSERT_EQ(packets[1].as_int(), i) << "out of order";
    ASSERT_EQ(packets[2].as_bin(), payload_of(i));
  }
}

TEST_F(RuntimeTest, CommandQueueKeepsItsSegmentsUntilATickPassesUnused) {
  // A burst fills several segments of the command queue. Emptied, they stay for the next
  // burst even when the queue runs dry; the tick frees all but one once a whole interval
  // went by without a take.
  RuntimeConfig c = config();
  c.tick_interval = 1s;  // the check below must come before the second tick after the burst
  auto rt = start(c);
  std::mutex gate;
  std::unique_lock<std::mutex> closed_gate(gate);
  ASSERT_TRUE(rt->submit([&](core::Node&, core::Time) { std::lock_guard<std::mutex> wait(gate); }));
  constexpr int n = 4000;  // about four segments of 1,024 commands, queued behind the gate
  std::atomic<int> ran{0};
  for (int i = 0; i < n; ++i)
    ASSERT_TRUE(rt->submit([&](core::Node&, core::Time) { ran.fetch_add(1); }));
  closed_gate.unlock();
  ASSERT_TRUE(wait_until([&] { return ran.load() == n; }));
  EXPECT_GE(rt->spare_inbox_segments(), 2u) << "an emptied queue freed its burst's segments";
  EXPECT_TRUE(wait_until([&] { return rt->spare_inbox_segments() <= 1; }))
      << rt->spare_inbox_segments() << " segments kept by an idle queue";
}

TEST_F(RuntimeTest, CommandQueueTrimsItsSparesToWhatATickNeeded) {
  // After a burst, a trickle of commands (one segment queued at a time) keeps the queue in
  // use, tick after tick: the spares the burst left must still go, down to one.
  RuntimeConfig c = config();
  c.tick_interval = 100ms;
  auto rt = start(c);
  std::mutex gate;
  std::unique_lock<std::mutex> closed_gate(gate);
  ASSERT_TRUE(rt->submit([&](core::Node&, core::Time) { std::lock_guard<std::mutex> wait(gate); }));
  std::atomic<int> ran{0};
  for (int i = 0; i < 4000; ++i)
    ASSERT_TRUE(rt->submit([&](core::Node&, core::Time) { ran.fetch_add(1); }));
  closed_gate.unlock();
  ASSERT_TRUE(wait_until([&] { return ran.load() == 4000; }));
  int sent = 4000;
  EXPECT_TRUE(wait_until([&] {
    // One command every 20 ms: several per tick, so no tick finds the queue unused.
    EXPECT_TRUE(rt->submit([&](core::Node&, core::Time) { ran.fetch_add(1); }));
    ++sent;
    std::this_thread::sleep_for(20ms);
    return rt->spare_inbox_segments() <= 1;
  })) << rt->spare_inbox_segments()
      << " spares kept by a trickle";
  EXPECT_TRUE(wait_until([&] { return ran.load() == sent; }));
}

TEST_F(RuntimeTest, ReportsTheBoundPortAndAddress) {
  auto a = start();
  EXPECT_NE(a->port(), 0);
  EXPECT_EQ(a->out_addr(), (core::Address{"127.0.0.1", a->port()}));
  RuntimeConfig c = config();
  c.out_addr = core::Address{"", 7777};  // keep the host, advertise another port
  auto b = start(std::move(c));
  EXPECT_EQ(b->out_addr(), (core::Address{"127.0.0.1", 7777}));
}

TEST_F(RuntimeTest, CreationErrors) {
  auto a = start();
  RuntimeConfig taken = config();
  taken.bind_port = a->port();
  auto r = Runtime::create(ioc_, std::move(taken));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::io);
  auto bad = Runtime::create(ioc_, config("rot13"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::invalid_argument);
  RuntimeConfig host = config();
  host.bind_host = "no-such-host.invalid";
  EXPECT_FALSE(Runtime::create(ioc_, std::move(host)).ok());
}

TEST_F(RuntimeTest, DialsByHostName) {
  auto a = start(), b = start();
  const core::Address to{"localhost", b->port()};
  ASSERT_TRUE(a->submit([to](core::Node& n, core::Time t) { (void)n.connect(to, {}, t); }));
  EXPECT_TRUE(wait_until([&] { return b->snapshot().routing.size() == 1; }));
}

TEST_F(RuntimeTest, UnresolvableHostIsADialFailure) {
  auto a = start();
  const core::Address to{"no-such-host.invalid", 4444};
  ASSERT_TRUE(a->submit([to](core::Node& n, core::Time t) { (void)n.connect(to, {}, t); }));
  EXPECT_TRUE(wait_until([&] { return events(core::EventKind::dial_failed) == 1; }));
  EXPECT_EQ(a->snapshot().runtime.dial_errors, 1u);
  EXPECT_TRUE(a->snapshot().awaiting.empty());
}

TEST_F(RuntimeTest, ClosedRuntimeRefusesCommands) {
  auto a = start();
  a->close();
  EXPECT_TRUE(a->closed());
  EXPECT_FALSE(a->submit([](core::Node&, core::Time) { ADD_FAILURE() << "ran after close"; }));
  EXPECT_TRUE(a->snapshot().closed);
  a->close();  // idempotent
}

}  // namespace
}  // namespace p2p::net
