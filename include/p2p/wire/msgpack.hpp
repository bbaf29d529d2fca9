// msgpack encoding and decoding of p2p::Value, matching py2p's and js2p's choices of width.
#pragma once

#include <cstddef>

#include "p2p/bytes.hpp"
#include "p2p/error.hpp"
#include "p2p/value.hpp"

namespace p2p::wire {

struct DecodeLimits {
  /// Deepest nesting of arrays/maps accepted. Real messages nest 3-4 levels (a peers list);
  /// 64 leaves room for user data while keeping recursion far from the stack limit.
  std::size_t max_depth = 64;
};

/// Appends the msgpack encoding of `v` to `out`, picking the smallest width for every
/// integer, string, bin, array and map, as py2p does (float64 stays float64, float32 stays
/// float32).
void encode(const Value& v, Bytes& out);
Bytes encode(const Value& v);

/// Decodes exactly one value spanning all of `data`. Never reads out of bounds, never
/// allocates more than a small multiple of `data.size()`: every element count is checked
/// against the bytes that remain before anything is reserved.
Result<Value> decode(ByteView data, const DecodeLimits& limits = {});

}  // namespace p2p::wire
