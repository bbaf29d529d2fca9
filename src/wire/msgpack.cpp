// msgpack codec for p2p::Value.
//
// Encoding goes through msgpack-cxx's packer, which already picks the smallest width for
// integers (fixint / uint8..64 / negative fixint / int8..64), str (fixstr / str8 / 16 / 32),
// bin (8 / 16 / 32), arrays and maps: the same choices as py2p's umsgpack and msgpack-python.
// Floats are the exception: msgpack-cxx 4.x packs an integral float such as 1.0 as an integer,
// while py2p and js2p send float64 `cb` (and we must keep float32 `ca`), so floats are written
// here directly. The packer writes through detail::Writer into a buffer sized beforehand by
// encoded_size(): one allocation per message, no per-byte vector growth (this halved the
// instructions per encode_body of a handshake, 2750 -> 1330, measured with callgrind).
//
// Decoding is a hand-written recursive descent rather than msgpack::unpack + conversion:
// unpack first builds a msgpack::object tree in a zone (24 bytes per element, plus a copy of
// every str/bin unless referenced), which would then be walked again and copied into Values;
// its unpack_limit bounds are fixed per type, not "what the remaining bytes can hold"; it
// accepts ext types we reject; and it reports errors through several exception types. A
// direct decoder is one pass, checks every count against the bytes left before reserving,
// bounds recursion by DecodeLimits::max_depth and never throws. Measured on a 207-byte
// handshake body: decode_body costs ~3100 instructions including building every Value and its
// allocations; msgpack::unpack alone, before any conversion, costs ~2200.
#include "p2p/wire/msgpack.hpp"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <msgpack/pack.hpp>
#include <string>
#include <type_traits>
#include <utility>

#include "wire/msgpack_codec.hpp"

namespace p2p::wire {

namespace detail {

namespace {

constexpr std::size_t max_msgpack_length = std::numeric_limits<std::uint32_t>::max();

using Packer = msgpack::packer<Writer>;

[[noreturn, gnu::cold]] void too_long(std::size_t n, const char* what) {
  throw UsageError(std::string("msgpack cannot encode a ") + what + " of " + std::to_string(n) +
                   " (the format's limit is 2^32 - 1)");
}

std::uint32_t checked_length(std::size_t n, const char* what) {
  if (n > max_msgpack_length) too_long(n, what);
  return static_cast<std::uint32_t>(n);
}

template <class T>
void put_float(Writer& w, std::uint8_t tag, T bits) {
  char buf[1 + sizeof(T)];
  buf[0] = static_cast<char>(tag);
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    buf[1 + i] = static_cast<char>(bits >> (8 * (sizeof(T) - 1 - i)));
  }
  w.write(buf, sizeof buf);
}

// Dispatches with the inline is_*() / if_*() tests rather than type(): this runs per element.
void pack_value(Packer& pk, Writer& w, const Value& v) {
  if (v.is_int()) {
    if (v.is_negative_int()) {
      pk.pack_int64(v.as_int());
    } else {
      pk.pack_uint64(v.as_uint());
    }
  } else if (const std::string* s = v.if_str()) {
    const std::uint32_t n = checked_length(s->size(), "str");
    pk.pack_str(n);
    pk.pack_str_body(s->data(), n);
  } else if (const Bytes* b = v.if_bin()) {
    const std::uint32_t n = checked_length(b->size(), "bin");
    pk.pack_bin(n);
    pk.pack_bin_body(reinterpret_cast<const char*>(b->data()), n);
  } else if (const Array* items = v.if_array()) {
    pk.pack_array(checked_length(items->size(), "array"));
    for (const Value& item : *items) pack_value(pk, w, item);
  } else if (const Map* entries = v.if_map()) {
    pk.pack_map(checked_length(entries->size(), "map"));
    for (const auto& [key, value] : *entries) {
      pack_value(pk, w, key);
      pack_value(pk, w, value);
    }
  } else if (v.is_nil()) {
    pk.pack_nil();
  } else if (v.is_bool()) {
    v.as_bool() ? pk.pack_true() : pk.pack_false();
  } else if (v.type() == Value::Type::float32) {
    put_float(w, 0xca, std::bit_cast<std::uint32_t>(static_cast<float>(v.as_double())));
  } else {
    put_float(w, 0xcb, std::bit_cast<std::uint64_t>(v.as_double()));
  }
}

std::size_t int_size(std::int64_t i) noexcept {
  if (i >= -32) return 1;
  if (i >= std::numeric_limits<std::int8_t>::min()) return 2;
  if (i >= std::numeric_limits<std::int16_t>::min()) return 3;
  if (i >= std::numeric_limits<std::int32_t>::min()) return 5;
  return 9;
}

std::size_t bin_header_size(std::size_t n) noexcept {
  return n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
}

}  // namespace

std::size_t uint_size(std::uint64_t u) noexcept {
  if (u < 0x80) return 1;
  if (u < 0x100) return 2;
  if (u < 0x10000) return 3;
  if (u < 0x100000000) return 5;
  return 9;
}

std::size_t str_header_size(std::size_t n) noexcept {
  return n < 32 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
}

// Maps use the same header widths as arrays.
std::size_t array_header_size(std::size_t n) noexcept {
  return n < 16 ? 1 : n < 0x10000 ? 3 : 5;
}

std::size_t encoded_size(const Value& v) {
  if (v.is_int()) return v.is_negative_int() ? int_size(v.as_int()) : uint_size(v.as_uint());
  if (const std::string* s = v.if_str()) return str_header_size(s->size()) + s->size();
  if (const Bytes* b = v.if_bin()) return bin_header_size(b->size()) + b->size();
  if (const Array* items = v.if_array()) {
    std::size_t n = array_header_size(items->size());
    for (const Value& item : *items) n += encoded_size(item);
    return n;
  }
  if (const Map* entries = v.if_map()) {
    std::size_t n = array_header_size(entries->size());
    for (const auto& [key, value] : *entries) n += encoded_size(key) + encoded_size(value);
    return n;
  }
  if (v.is_nil() || v.is_bool()) return 1;
  return v.type() == Value::Type::float32 ? 5 : 9;
}

// ---- Writer -------------------------------------------------------------------------------

void Writer::overflow() {
  // encoded_size() and the packer disagree: a bug here, never a property of the input.
  std::fputs("p2pmesh: msgpack Writer overflow (encoded size miscalculated)\n", stderr);
  std::abort();
}

void Writer::value(const Value& v) {
  Packer pk(*this);
  pack_value(pk, *this, v);
}

void Writer::uint(std::uint64_t u) {
  Packer(*this).pack_uint64(u);
}

void Writer::str(std::string_view s) {
  const std::uint32_t n = checked_length(s.size(), "str");
  Packer pk(*this);
  pk.pack_str(n);
  pk.pack_str_body(s.data(), n);
}

void Writer::array_header(std::size_t count) {
  Packer(*this).pack_array(checked_length(count, "array"));
}

// ---- Reader -------------------------------------------------------------------------------

namespace {

// Builds the decoded value over `out` (a fresh nil in practice) instead of move-assigning a
// temporary: assignment goes through two variant visits per element. Every Value constructor
// used here is noexcept, so `out` is never left destroyed.
template <class T>
void set(Value& out, T&& arg) noexcept {
  static_assert(std::is_nothrow_constructible_v<Value, T&&>);
  std::destroy_at(&out);
  std::construct_at(&out, std::forward<T>(arg));
}

}  // namespace

bool Reader::fail(Errc code, std::string message) {
  error_ = Error{code, std::move(message) + " at offset " + std::to_string(offset())};
  return false;
}

bool Reader::fail_truncated(std::size_t n, const char* what) {
  return fail(Errc::truncated, std::string(what) + " needs " + std::to_string(n) + " bytes, " +
                                   std::to_string(end_ - pos_) + " left");
}

template <class T>
T Reader::load_be() noexcept {
  using U = std::make_unsigned_t<T>;
  U u = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) u = static_cast<U>((u << 8) | pos_[i]);
  pos_ += sizeof(T);
  return static_cast<T>(u);
}

bool Reader::read_length(std::size_t width, std::size_t& length, const char* what) {
  if (!need(width, what)) return false;
  switch (width) {
    case 1:
      length = load_be<std::uint8_t>();
      break;
    case 2:
      length = load_be<std::uint16_t>();
      break;
    default:
      length = load_be<std::uint32_t>();
      break;
  }
  return true;
}

bool Reader::take_reserve(std::size_t values) noexcept {
  if (values > reserve_budget_) return false;
  reserve_budget_ -= values;
  return true;
}

bool Reader::check_container(std::size_t count, std::size_t values_per_entry, std::size_t level,
                             const char* what) {
  if (level > max_depth_) {
    return fail(Errc::depth_exceeded, std::string(what) + " nested " + std::to_string(level) +
                                          " deep, the limit is " + std::to_string(max_depth_));
  }
  // Every element takes at least one byte, so a count the rest of the input cannot hold is
  // rejected before anything is allocated for it.
  const auto left = static_cast<std::size_t>(end_ - pos_);
  if (count > left / values_per_entry) {
    return fail(Errc::truncated, std::string(what) + " of " + std::to_string(count) +
                                     " entries cannot fit in the " + std::to_string(left) +
                                     " bytes left");
  }
  return true;
}

bool Reader::next_is_array() const noexcept {
  if (pos_ == end_) return false;
  const std::uint8_t b = *pos_;
  return (b & 0xf0) == 0x90 || b == 0xdc || b == 0xdd;
}

bool Reader::read_array_header(std::size_t& count, std::size_t level) {
  if (!need(1, "array")) return false;
  const std::uint8_t b = *pos_;
  if ((b & 0xf0) == 0x90) {
    ++pos_;
    count = b & 0x0f;
  } else if (b == 0xdc || b == 0xdd) {
    ++pos_;
    if (!read_length(b == 0xdc ? 2 : 4, count, "array length")) return false;
  } else {
    return fail(Errc::malformed, "expected an array");
  }
  return check_container(count, 1, level, "array");
}

// A str, bin or array decoded over a value of the same type reuses its storage: a node
// decodes every frame into one Body (decode_body_into), so that a stream of similar messages
// costs no allocation per message once the first has sized the buffers.

bool Reader::read_str(std::size_t length, Value& out) {
  if (!need(length, "str")) return false;
  const char* text = reinterpret_cast<const char*>(pos_);
  if (std::string* reused = out.if_str())
    reused->assign(text, length);
  else
    set(out, std::string(text, length));
  pos_ += length;
  return true;
}

bool Reader::read_bin(std::size_t length, Value& out) {
  if (!need(length, "bin")) return false;
  if (Bytes* reused = out.if_bin())
    reused->assign(pos_, pos_ + length);
  else
    set(out, Bytes(pos_, pos_ + length));
  pos_ += length;
  return true;
}

bool Reader::read_str_or_bin(std::string& out, bool& is_bin) {
  if (!need(1, "str or bin")) return false;
  const std::uint8_t b = *pos_++;
  std::size_t length = 0;
  bool ok = true;
  if ((b & 0xe0) == 0xa0) {
    length = b & 0x1f;
    is_bin = false;
  } else if (b == 0xd9 || b == 0xda || b == 0xdb) {
    ok = read_length(std::size_t{1} << (b - 0xd9), length, "str length");
    is_bin = false;
  } else if (b == 0xc4 || b == 0xc5 || b == 0xc6) {
    ok = read_length(std::size_t{1} << (b - 0xc4), length, "bin length");
    is_bin = true;
  } else {
    --pos_;
    return fail(Errc::protocol, "expected a str or bin");
  }
  if (!ok || !need(length, is_bin ? "bin" : "str")) return false;
  out.assign(reinterpret_cast<const char*>(pos_), length);
  pos_ += length;
  return true;
}

bool Reader::read_array(std::size_t count, Value& out, std::size_t depth) {
  if (!check_container(count, 1, depth + 1, "array")) return false;
  if (!out.is_array()) set(out, Array());
  return read_items(count, *out.if_array(), depth + 1);
}

bool Reader::read_items(std::size_t count, Array& items, std::size_t depth) {
  if (take_reserve(count)) items.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    Value& item = i < items.size() ? items[i] : items.emplace_back();
    if (!read_value(item, depth)) return false;
  }
  if (items.size() > count)
    items.erase(items.begin() + static_cast<std::ptrdiff_t>(count), items.end());
  return true;
}

bool Reader::read_map(std::size_t count, Value& out, std::size_t depth) {
  if (!check_container(count, 2, depth + 1, "map")) return false;
  Map entries;
  if (take_reserve(2 * count)) entries.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    auto& [key, value] = entries.emplace_back();
    if (!read_value(key, depth + 1) || !read_value(value, depth + 1)) return false;
  }
  set(out, std::move(entries));
  return true;
}

bool Reader::read_value(Value& out, std::size_t depth) {
  if (!need(1, "value")) return false;
  const std::uint8_t b = *pos_++;
  if (b <= 0x7f) {
    set(out, static_cast<std::uint64_t>(b));
    return true;
  }
  if (b >= 0xe0) {
    set(out, static_cast<std::int64_t>(static_cast<std::int8_t>(b)));
    return true;
  }
  if ((b & 0xe0) == 0xa0) return read_str(b & 0x1f, out);
  if ((b & 0xf0) == 0x90) return read_array(b & 0x0f, out, depth);
  if ((b & 0xf0) == 0x80) return read_map(b & 0x0f, out, depth);

  std::size_t length = 0;
  switch (b) {
    case 0xc0:
      set(out, nullptr);
      return true;
    case 0xc2:
      set(out, false);
      return true;
    case 0xc3:
      set(out, true);
      return true;

    case 0xc4:
      return read_length(1, length, "bin8 length") && read_bin(length, out);
    case 0xc5:
      return read_length(2, length, "bin16 length") && read_bin(length, out);
    case 0xc6:
      return read_length(4, length, "bin32 length") && read_bin(length, out);

    case 0xca:
      if (!need(4, "float32")) return false;
      set(out, std::bit_cast<float>(load_be<std::uint32_t>()));
      return true;
    case 0xcb:
      if (!need(8, "float64")) return false;
      set(out, std::bit_cast<double>(load_be<std::uint64_t>()));
      return true;

    case 0xcc:
      if (!need(1, "uint8")) return false;
      set(out, load_be<std::uint8_t>());
      return true;
    case 0xcd:
      if (!need(2, "uint16")) return false;
      set(out, load_be<std::uint16_t>());
      return true;
    case 0xce:
      if (!need(4, "uint32")) return false;
      set(out, load_be<std::uint32_t>());
      return true;
    case 0xcf:
      if (!need(8, "uint64")) return false;
      set(out, load_be<std::uint64_t>());
      return true;
    // Signed encodings of non-negative numbers are legal; Value stores them as unsigned.
    case 0xd0:
      if (!need(1, "int8")) return false;
      set(out, load_be<std::int8_t>());
      return true;
    case 0xd1:
      if (!need(2, "int16")) return false;
      set(out, load_be<std::int16_t>());
      return true;
    case 0xd2:
      if (!need(4, "int32")) return false;
      set(out, load_be<std::int32_t>());
      return true;
    case 0xd3:
      if (!need(8, "int64")) return false;
      set(out, load_be<std::int64_t>());
      return true;

    case 0xd9:
      return read_length(1, length, "str8 length") && read_str(length, out);
    case 0xda:
      return read_length(2, length, "str16 length") && read_str(length, out);
    case 0xdb:
      return read_length(4, length, "str32 length") && read_str(length, out);

    case 0xdc:
      return read_length(2, length, "array16 length") && read_array(length, out, depth);
    case 0xdd:
      return read_length(4, length, "array32 length") && read_array(length, out, depth);
    case 0xde:
      return read_length(2, length, "map16 length") && read_map(length, out, depth);
    case 0xdf:
      return read_length(4, length, "map32 length") && read_map(length, out, depth);

    case 0xc1:
      --pos_;
      return fail(Errc::malformed, "byte 0xc1 is never used by msgpack");
    default:
      // 0xc7-0xc9 and 0xd4-0xd8: ext types, which neither py2p nor js2p sends.
      --pos_;
      return fail(Errc::malformed,
                  "msgpack ext type (0x" + to_hex(ByteView(&b, 1)) + ") is not supported");
  }
}

}  // namespace detail

void encode(const Value& v, Bytes& out) {
  const std::size_t old_size = out.size();
  const std::size_t needed = old_size + detail::encoded_size(v);
  // Grow geometrically when appending, so a loop of encode() calls into one buffer stays
  // linear; a fresh buffer gets exactly its size.
  if (needed > out.capacity()) out.reserve(std::max(needed, 2 * out.capacity()));
  out.resize(needed);
  detail::Writer w(out.data() + old_size, out.data() + needed);
  w.value(v);
}

Bytes encode(const Value& v) {
  Bytes out;
  encode(v, out);
  return out;
}

Result<Value> decode(ByteView data, const DecodeLimits& limits) {
  detail::Reader reader(data, limits);
  Value v;
  if (!reader.read_value(v, 0)) return reader.error();
  if (!reader.at_end()) {
    return Error{Errc::malformed, std::to_string(data.size() - reader.offset()) +
                                      " trailing bytes after the msgpack value"};
  }
  return v;
}

}  // namespace p2p::wire
