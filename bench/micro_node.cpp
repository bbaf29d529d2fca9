// The engine's receive path without sockets or threads: K distinct 64-byte broadcasts from
// one handshaked peer, fed to a core::Node in 64 KiB reads as the runtime does (frame reader,
// checksum, body decoding, de-duplication, delivery). Per-message cost at K = 10^4 and
// K = 10^6 shows what the seen cache costs once it outgrows the CPU caches; the one-hop
// benchmark (p2p_one_hop) measures the same across processes, with the machine's noise.
//
// receive_duplicates feeds the same K broadcasts a second time: the copies a mesh node
// mostly receives (in a flood of the 1,024-node bench, 6 of every 7), which it only counts
// and drops. Its arguments are K and the payload size.
//
//   build-release/bench/micro_node [--benchmark_repetitions=3]
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "core/node.hpp"
#include "p2p/flags.hpp"
#include "p2p/protocol.hpp"
#include "p2p/value.hpp"
#include "p2p/wire/frame.hpp"
#include "p2p/wire/message.hpp"

namespace {

using namespace p2p;

constexpr std::uint64_t utc_base = 1'500'000'000;
constexpr std::size_t read_size = 64 * 1024;
const std::string peer_id(64, 'P');

core::NodeConfig config() {
  core::NodeConfig c;
  c.protocol = Protocol("mesh", "Plaintext");
  c.out_addr = core::Address{"10.0.0.1", 4000};
  c.id_salt = "bench";
  c.compression = {};
  c.max_outgoing = 0;
  c.auto_reconnect = false;
  return c;
}

Bytes handshake(const Protocol& protocol) {
  const Array payload{Value(flags::handshake), Value(peer_id), Value(protocol.id()),
                      Value::array({Value("10.0.0.2"), Value(4001)}), Value::array({})};
  return wire::make_frame(wire::encode_body(flags::whisper, peer_id, utc_base, payload)).value();
}

/// K broadcast frames back to back, each with a distinct payload of `size` (>= 8) bytes.
Bytes broadcasts(std::size_t k, std::size_t size = 64) {
  Bytes stream;
  std::string payload(size, 'x');
  for (std::size_t i = 0; i < k; ++i) {
    for (std::size_t b = 0, v = i; b < 8; ++b, v >>= 4)
      payload[b] = static_cast<char>('a' + v % 16);
    const Array packets{Value(flags::broadcast), Value(payload)};
    const Bytes frame =
        wire::make_frame(wire::encode_body(flags::broadcast, peer_id, utc_base, packets)).value();
    stream.insert(stream.end(), frame.begin(), frame.end());
  }
  return stream;
}

/// Opens a connection from the benchmark's peer and completes its handshake.
core::ConnId handshaked_peer(core::Node& node, core::Time now, std::vector<core::Command>& outbox) {
  const core::ConnId peer = node.on_incoming({"10.0.0.2", 4001}, now);
  node.on_bytes(peer, handshake(node.config().protocol), now);
  node.take_outbox(outbox);
  outbox.clear();
  return peer;
}

/// Feeds `stream` in reads of read_size, taking the outbox as the runtime's pump does.
void feed(core::Node& node, core::ConnId peer, const Bytes& stream, core::Time now,
          std::vector<core::Command>& outbox) {
  for (std::size_t at = 0; at < stream.size(); at += read_size) {
    const std::size_t n = std::min(read_size, stream.size() - at);
    node.on_bytes(peer, ByteView(stream.data() + at, n), now);
    node.take_outbox(outbox);
    outbox.clear();
  }
}

void receive_broadcasts(benchmark::State& state) {
  const auto k = static_cast<std::size_t>(state.range(0));
  const Bytes stream = broadcasts(k);
  const core::Time now{std::chrono::seconds(1), utc_base};
  std::vector<core::Command> outbox;
  for (auto _ : state) {
    state.PauseTiming();
    {
      core::Node node(config());
      const core::ConnId peer = handshaked_peer(node, now, outbox);
      state.ResumeTiming();
      feed(node, peer, stream, now, outbox);
      state.PauseTiming();
      if (node.counters().messages_delivered != k) {
        const auto& c = node.counters();
        std::fprintf(stderr,
                     "delivered %llu of %zu (frames_in %llu, handshakes %llu, errors %llu)\n",
                     static_cast<unsigned long long>(c.messages_delivered), k,
                     static_cast<unsigned long long>(c.frames_in),
                     static_cast<unsigned long long>(c.handshakes_completed),
                     static_cast<unsigned long long>(c.protocol_errors));
        state.SkipWithError("a broadcast was lost");
      }
    }  // the node's teardown is not part of receiving
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * k));
}

void receive_duplicates(benchmark::State& state) {
  const auto k = static_cast<std::size_t>(state.range(0));
  const Bytes stream = broadcasts(k, static_cast<std::size_t>(state.range(1)));
  const core::Time now{std::chrono::seconds(1), utc_base};
  std::vector<core::Command> outbox;
  for (auto _ : state) {
    state.PauseTiming();
    {
      core::Node node(config());
      const core::ConnId peer = handshaked_peer(node, now, outbox);
      feed(node, peer, stream, now, outbox);  // the first copies, delivered
      state.ResumeTiming();
      feed(node, peer, stream, now, outbox);
      state.PauseTiming();
      if (node.counters().duplicates_dropped != k || node.counters().messages_delivered != k)
        state.SkipWithError("a copy was not dropped as a duplicate");
    }
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * k));
}

}  // namespace

BENCHMARK(receive_duplicates)
    ->Args({10'000, 64})
    ->Args({10'000, 4096})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK(receive_broadcasts)
    ->Arg(10'000)
    ->Arg(1'000'000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
