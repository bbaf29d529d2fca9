// The engine's receive path without sockets or threads: K distinct 64-byte broadcasts from
// one handshaked peer, fed to a core::Node in 64 KiB reads as the runtime does (frame reader,
// checksum, body decoding, de-duplication, delivery). Per-message cost at K = 10^4 and
// K = 10^6 shows what the seen cache costs once it outgrows the CPU caches; the one-hop
// benchmark (p2p_one_hop) measures the same across processes, with the machine's noise.
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

/// K broadcast frames back to back, each with a distinct 64-byte payload.
Bytes broadcasts(std::size_t k) {
  Bytes stream;
  std::string payload(64, 'x');
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

void receive_broadcasts(benchmark::State& state) {
  const auto k = static_cast<std::size_t>(state.range(0));
  const Bytes stream = broadcasts(k);
  const core::Time now{std::chrono::seconds(1), utc_base};
  std::vector<core::Command> outbox;
  for (auto _ : state) {
    state.PauseTiming();
    {
      core::Node node(config());
      const core::ConnId peer = node.on_incoming({"10.0.0.2", 4001}, now);
      node.on_bytes(peer, handshake(node.config().protocol), now);
      node.take_outbox(outbox);
      outbox.clear();
      state.ResumeTiming();
      for (std::size_t at = 0; at < stream.size(); at += read_size) {
        const std::size_t n = std::min(read_size, stream.size() - at);
        node.on_bytes(peer, ByteView(stream.data() + at, n), now);
        node.take_outbox(outbox);  // the deliveries, as the runtime's pump takes them
        outbox.clear();
      }
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

}  // namespace

BENCHMARK(receive_broadcasts)
    ->Arg(10'000)
    ->Arg(1'000'000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
