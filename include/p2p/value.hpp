// p2p::Value: one msgpack value, as carried in message packets.
//
// The type set is exactly what py2p and js2p exchange: nil, bool, integers (signed and
// unsigned, up to 64 bits), float32/float64, str, bin, array and map. str and bin stay
// distinct, because both reference implementations keep them distinct (a py2p `bytes` packet
// is not equal to a `str` one).
#pragma once

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "p2p/bytes.hpp"
#include "p2p/error.hpp"

namespace p2p {

class Value;
using Array = std::vector<Value>;
/// Maps keep the order they were built or decoded in; keys may be any value.
using Map = std::vector<std::pair<Value, Value>>;

/// Thrown by the checked accessors (as_str(), as_int(), ...) on a type mismatch.
class ValueTypeError : public UsageError {
 public:
  using UsageError::UsageError;
};

class Value {
 public:
  enum class Type : std::uint8_t { nil, boolean, integer, float32, float64, str, bin, array, map };

  Value() noexcept = default;
  Value(std::nullptr_t) noexcept {}  // NOLINT: implicit, so `nullptr` is a packet
  Value(bool b) noexcept : v_(b) {}  // NOLINT
  // Left unformatted: clang-format 14 (Debian 12's) splits a requires clause badly.
  // clang-format off
  template <std::integral T>
    requires(!std::same_as<T, bool>)
  Value(T i) noexcept {  // NOLINT
    // clang-format on
    if constexpr (std::is_signed_v<T>) {
      if (i < 0) {
        v_ = static_cast<std::int64_t>(i);
        return;
      }
    }
    v_ = static_cast<std::uint64_t>(i);
  }
  Value(float f) noexcept : v_(f) {}                   // NOLINT
  Value(double d) noexcept : v_(d) {}                  // NOLINT
  Value(const char* s) : v_(std::string(s)) {}         // NOLINT
  Value(std::string s) noexcept : v_(std::move(s)) {}  // NOLINT
  Value(std::string_view s) : v_(std::string(s)) {}    // NOLINT
  Value(Bytes b) noexcept : v_(std::move(b)) {}        // NOLINT
  Value(Array a) noexcept : v_(std::move(a)) {}        // NOLINT
  Value(Map m) noexcept : v_(std::move(m)) {}          // NOLINT

  /// A bin value from any bytes, e.g. Value::bin(as_bytes("raw")).
  static Value bin(ByteView b) { return Value(Bytes(b.begin(), b.end())); }
  /// An array from a brace list: Value::array({"a", 1, nullptr}).
  static Value array(std::initializer_list<Value> items) { return Value(Array(items)); }
  /// A map from a brace list of pairs: Value::map({{"k", 1}}).
  static Value map(std::initializer_list<std::pair<Value, Value>> items) {
    return Value(Map(items));
  }

  Type type() const noexcept;
  bool is_nil() const noexcept { return v_.index() == 0; }
  bool is_bool() const noexcept { return v_.index() == 1; }
  bool is_int() const noexcept { return v_.index() == 2 || v_.index() == 3; }
  bool is_float() const noexcept { return v_.index() == 4 || v_.index() == 5; }
  bool is_str() const noexcept { return v_.index() == 6; }
  bool is_bin() const noexcept { return v_.index() == 7; }
  bool is_array() const noexcept { return v_.index() == 8; }
  bool is_map() const noexcept { return v_.index() == 9; }
  /// True for a negative integer (stored as int64); non-negative integers are uint64.
  bool is_negative_int() const noexcept { return v_.index() == 2; }

  // Unchecked-by-exception accessors: nullptr when the type differs.
  const std::string* if_str() const noexcept { return std::get_if<std::string>(&v_); }
  const Bytes* if_bin() const noexcept { return std::get_if<Bytes>(&v_); }
  const Array* if_array() const noexcept { return std::get_if<Array>(&v_); }
  const Map* if_map() const noexcept { return std::get_if<Map>(&v_); }
  std::string* if_str() noexcept { return std::get_if<std::string>(&v_); }
  Bytes* if_bin() noexcept { return std::get_if<Bytes>(&v_); }
  Array* if_array() noexcept { return std::get_if<Array>(&v_); }
  Map* if_map() noexcept { return std::get_if<Map>(&v_); }

  // Checked accessors: throw ValueTypeError on a mismatch or an out-of-range integer.
  bool as_bool() const;
  std::int64_t as_int() const;    ///< any integer that fits in int64
  std::uint64_t as_uint() const;  ///< any non-negative integer
  double as_double() const;       ///< a float of either width, or an integer
  const std::string& as_str() const;
  const Bytes& as_bin() const;
  const Array& as_array() const;
  const Map& as_map() const;

  /// The bytes of a str or a bin (ids travel as either), or nullopt-like empty view + false.
  bool bytes_of(std::string_view& out) const noexcept;

  /// Map lookup by str key; nullptr when absent or not a map.
  const Value* find(std::string_view key) const noexcept;

  /// Python-like rendering for logs and the CLI: 'text', b'\x00', 12, [..], {..}.
  std::string repr() const;

  friend bool operator==(const Value& a, const Value& b) noexcept { return a.v_ == b.v_; }

 private:
  std::variant<std::monostate, bool, std::int64_t, std::uint64_t, float, double, std::string, Bytes,
               Array, Map>
      v_;
};

const char* type_name(Value::Type t) noexcept;

}  // namespace p2p
