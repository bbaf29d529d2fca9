// Internal building blocks of the msgpack codec, shared by msgpack.cpp and message.cpp so
// that message bodies can be encoded and decoded in place, without a temporary Value array.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "p2p/bytes.hpp"
#include "p2p/error.hpp"
#include "p2p/value.hpp"
#include "p2p/wire/msgpack.hpp"

namespace p2p::wire::detail {

// ---- encoding ---------------------------------------------------------------------------

/// Exactly the number of bytes encode(v) appends, so callers can reserve once.
std::size_t encoded_size(const Value& v);
std::size_t uint_size(std::uint64_t u) noexcept;
std::size_t str_header_size(std::size_t length) noexcept;
std::size_t array_header_size(std::size_t count) noexcept;

/// Writes msgpack into memory the caller has already sized (with encoded_size() and the
/// *_size() helpers): no capacity check or vector bookkeeping per write, yet every write is
/// still bounds-checked, so a size miscalculation aborts instead of corrupting memory.
class Writer {
 public:
  Writer(std::uint8_t* begin, std::uint8_t* end) noexcept : pos_(begin), end_(end) {}

  void value(const Value& v);
  void uint(std::uint64_t u);
  void str(std::string_view s);          ///< throws UsageError above 4 GiB - 1
  void array_header(std::size_t count);  ///< throws UsageError above 2^32 - 1

  /// The Stream interface msgpack::packer writes through.
  void write(const char* data, std::size_t size) {
    if (size > static_cast<std::size_t>(end_ - pos_)) overflow();
    if (size == 0) return;  // an empty bin's data() may be null, which memcpy must not get
    std::memcpy(pos_, data, size);
    pos_ += size;
  }

 private:
  [[noreturn]] static void overflow();

  std::uint8_t* pos_;
  std::uint8_t* end_;
};

// ---- decoding ---------------------------------------------------------------------------

/// A bounds-checked cursor over one msgpack buffer. Reports failure by returning false and
/// keeping the first error; it never throws on bad input.
class Reader {
 public:
  Reader(ByteView data, const DecodeLimits& limits) noexcept
      : begin_(data.data()),
        pos_(data.data()),
        end_(data.data() + data.size()),
        max_depth_(limits.max_depth),
        reserve_budget_(data.size()) {}

  bool at_end() const noexcept { return pos_ == end_; }
  std::size_t offset() const noexcept { return static_cast<std::size_t>(pos_ - begin_); }

  /// True when the next byte starts an array (fixarray, array16 or array32).
  bool next_is_array() const noexcept;

  /// Consumes an array header that opens nesting level `level` (1 for a top-level array).
  /// Checks `count` against the bytes left and `level` against the depth limit.
  bool read_array_header(std::size_t& count, std::size_t level);

  /// Reads one value enclosed by `depth` containers (0 at the top level) into `out`. A str,
  /// bin or array already in `out` keeps its storage for the new value of its type. On
  /// failure `out` is left partly decoded.
  bool read_value(Value& out, std::size_t depth);
  /// Reads `count` values enclosed by `depth` containers into `items`, reusing the values
  /// it holds (as read_value() does) and dropping the ones past `count`.
  bool read_items(std::size_t count, Array& items, std::size_t depth);

  /// Reads a str or a bin straight into `out` (ids travel as either); any other type fails
  /// with Errc::protocol, since the msgpack itself is fine.
  bool read_str_or_bin(std::string& out, bool& is_bin);

  /// Claims `values` from the reserve budget (see below); false when it is spent, and the
  /// caller should then let its vector grow as elements decode instead of reserving.
  bool take_reserve(std::size_t values) noexcept;

  const Error& error() const noexcept { return error_; }

 private:
  bool fail(Errc code, std::string message);
  /// True when `n` more bytes are there; the failure path is out of line, off the hot path.
  bool need(std::size_t n, const char* what) {
    return static_cast<std::size_t>(end_ - pos_) >= n || fail_truncated(n, what);
  }
  bool fail_truncated(std::size_t n, const char* what);
  template <class T>
  T load_be() noexcept;  // caller has checked need(sizeof(T))
  bool read_length(std::size_t width, std::size_t& length, const char* what);
  bool read_str(std::size_t length, Value& out);
  bool read_bin(std::size_t length, Value& out);
  bool read_array(std::size_t count, Value& out, std::size_t depth);
  bool read_map(std::size_t count, Value& out, std::size_t depth);
  bool check_container(std::size_t count, std::size_t values_per_entry, std::size_t level,
                       const char* what);

  const std::uint8_t* begin_;
  const std::uint8_t* pos_;
  const std::uint8_t* end_;
  std::size_t max_depth_;
  // Values the containers decoded so far may still reserve ahead of reading them. Every real
  // element costs at least one input byte, so honest input never runs out of this budget,
  // while nested containers that each claim "all the bytes left" cannot multiply memory by
  // the depth: past the budget, vectors grow only as elements actually decode.
  std::size_t reserve_budget_;
  Error error_{Errc::malformed, {}};
};

}  // namespace p2p::wire::detail
