// Micro-benchmarks of the wire layer: body encode/decode, sha256, frames, and every codec.
// Each runs at a 64 B and a 4 KiB user payload. Payload bytes are text-like (compressible
// about 2-4x, like typical application messages), not zeros and not random.
#include <benchmark/benchmark.h>

#include <optional>
#include <string>
#include <vector>

#include "p2p/value.hpp"
#include "p2p/wire/compression.hpp"
#include "p2p/wire/frame.hpp"
#include "p2p/wire/ids.hpp"
#include "p2p/wire/message.hpp"

namespace {

using namespace p2p;
using namespace p2p::wire;

constexpr std::size_t payload_sizes[] = {64, 4096};
const std::string sender = "5KrpxpDnR1m15fq5ef37Q1kPhZZgCJA968jx7AYZR7MwnX33orm6vyxsWe8tYrwxKh";

Bytes payload_bytes(std::size_t size) {
  static constexpr std::string_view words[] = {"mesh ",  "peer ",   "frame ", "the ",
                                               "value ", "sensor ", "42 ",    "ok "};
  Bytes out;
  std::uint32_t x = 2463534242u;
  while (out.size() < size) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    if (x % 5 == 0) {
      out.push_back(static_cast<std::uint8_t>(x >> 8));
    } else {
      const std::string_view w = words[x % std::size(words)];
      out.insert(out.end(), w.begin(), w.end());
    }
  }
  out.resize(size);
  return out;
}

/// A broadcast body [0x00, sender, time, 0x00, bin(payload)] as p2pmesh sends it.
Bytes body_with_payload(std::size_t size) {
  const Value payload[] = {Value(0), Value(payload_bytes(size))};
  return encode_body(0x00, sender, 1795270384, payload);
}

void encode_body_bench(benchmark::State& state, std::size_t size) {
  const Value payload[] = {Value(0), Value(payload_bytes(size))};
  std::size_t bytes = 0;
  for (auto _ : state) {
    Bytes body = encode_body(0x00, sender, 1795270384, payload);
    bytes += body.size();
    benchmark::DoNotOptimize(body);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  state.SetItemsProcessed(state.iterations());
}

void decode_body_bench(benchmark::State& state, std::size_t size) {
  const Bytes body = body_with_payload(size);
  for (auto _ : state) {
    Result<Body> decoded = decode_body(body);
    benchmark::DoNotOptimize(decoded);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
  state.SetItemsProcessed(state.iterations());
}

void sha256_bench(benchmark::State& state, std::size_t size) {
  const Bytes body = body_with_payload(size);
  for (auto _ : state) benchmark::DoNotOptimize(sha256(body));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
  state.SetItemsProcessed(state.iterations());
}

void make_frame_bench(benchmark::State& state, std::size_t size,
                      std::optional<Compression> method) {
  const Bytes body = body_with_payload(size);
  const Digest256 id = sha256(body);
  for (auto _ : state) {
    Result<Bytes> frame = make_frame(body, id, method);
    benchmark::DoNotOptimize(frame);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
  state.SetItemsProcessed(state.iterations());
}

/// The receive path: a chunk holding 64 frames, split by FrameReader and each opened
/// (decompressed, checksum verified). Bytes and items count bodies.
void read_frames_bench(benchmark::State& state, std::size_t size,
                       std::optional<Compression> method) {
  constexpr int frames_per_chunk = 64;
  const Bytes body = body_with_payload(size);
  Bytes chunk;
  for (int i = 0; i < frames_per_chunk; ++i) {
    const Bytes frame = make_frame(body, method).value();
    chunk.insert(chunk.end(), frame.begin(), frame.end());
  }
  std::vector<Compression> order;
  if (method) order.push_back(*method);
  FrameReader reader(std::size_t{4} << 20);
  std::size_t opened = 0;
  for (auto _ : state) {
    Status s = reader.feed(chunk, [&](ByteView content) {
      Result<OpenedFrame> frame = open_frame(content, order, std::size_t{4} << 20);
      opened += frame.ok();
      benchmark::DoNotOptimize(frame);
    });
    if (!s) state.SkipWithError(s.error().to_string().c_str());
  }
  if (opened != static_cast<std::size_t>(state.iterations()) * frames_per_chunk) {
    state.SkipWithError("a frame did not open");
  }
  state.SetBytesProcessed(
      static_cast<std::int64_t>(state.iterations() * frames_per_chunk * body.size()));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * frames_per_chunk));
}

void compress_bench(benchmark::State& state, std::size_t size, Compression method) {
  const Bytes input = body_with_payload(size);
  std::size_t out_size = 0;
  for (auto _ : state) {
    Result<Bytes> out = compress(method, input);
    out_size = out->size();
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * input.size()));
  state.SetItemsProcessed(state.iterations());
  state.counters["ratio"] = static_cast<double>(input.size()) / static_cast<double>(out_size);
}

void decompress_bench(benchmark::State& state, std::size_t size, Compression method) {
  const Bytes input = body_with_payload(size);
  const Bytes packed = compress(method, input).value();
  for (auto _ : state) {
    Result<Bytes> out = decompress(method, packed, std::size_t{4} << 20);
    benchmark::DoNotOptimize(out);
  }
  // Throughput in uncompressed bytes, so codecs compare on the same scale.
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * input.size()));
  state.SetItemsProcessed(state.iterations());
}

std::string method_name(std::optional<Compression> m) {
  return m ? std::string(compression_name(*m)) : "raw";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::optional<Compression>> framings = {std::nullopt};
  framings.insert(framings.end(), all_compressions.begin(), all_compressions.end());
  for (std::size_t size : payload_sizes) {
    // Appended rather than "/" + to_string(size): GCC 12 at -O3 reports a false -Wrestrict
    // (GCC bug 105329) for that operator+.
    std::string n = "/";
    n += std::to_string(size);
    benchmark::RegisterBenchmark(("encode_body" + n).c_str(), encode_body_bench, size);
    benchmark::RegisterBenchmark(("decode_body" + n).c_str(), decode_body_bench, size);
    benchmark::RegisterBenchmark(("sha256" + n).c_str(), sha256_bench, size);
    for (auto m : framings) {
      benchmark::RegisterBenchmark(("make_frame/" + method_name(m) + n).c_str(), make_frame_bench,
                                   size, m);
    }
    for (auto m : framings) {
      benchmark::RegisterBenchmark(("read_frames/" + method_name(m) + n).c_str(), read_frames_bench,
                                   size, m);
    }
    for (Compression m : all_compressions) {
      benchmark::RegisterBenchmark(("compress/" + method_name(m) + n).c_str(), compress_bench, size,
                                   m);
      benchmark::RegisterBenchmark(("decompress/" + method_name(m) + n).c_str(), decompress_bench,
                                   size, m);
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
