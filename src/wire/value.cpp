#include "p2p/value.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace p2p {

namespace {

[[noreturn]] void type_mismatch(const char* expected, Value::Type actual) {
  throw ValueTypeError(std::string("p2p::Value: expected ") + expected + ", got " +
                       type_name(actual));
}

void append_hex_escape(std::string& out, std::uint8_t byte) {
  static constexpr char digits[] = "0123456789abcdef";
  out += "\\x";
  out.push_back(digits[byte >> 4]);
  out.push_back(digits[byte & 0x0f]);
}

// Python picks single quotes unless the text contains a ' and no ", so that the common case
// needs no escaping; we follow it to make logs read like py2p's.
char pick_quote(std::string_view text) {
  const bool has_single = text.find('\'') != std::string_view::npos;
  const bool has_double = text.find('"') != std::string_view::npos;
  return has_single && !has_double ? '"' : '\'';
}

// Escapes shared by str and bytes reprs; false when `c` needs the caller's own treatment.
bool append_common_escape(std::string& out, char c, char quote) {
  switch (c) {
    case '\\':
      out += "\\\\";
      return true;
    case '\n':
      out += "\\n";
      return true;
    case '\r':
      out += "\\r";
      return true;
    case '\t':
      out += "\\t";
      return true;
    default:
      break;
  }
  if (c == quote) {
    out.push_back('\\');
    out.push_back(c);
    return true;
  }
  return false;
}

// Length of the well-formed UTF-8 sequence at the start of `s`, or 0 when it is not one
// (overlong forms, surrogates and code points above U+10FFFF included).
std::size_t utf8_sequence_length(std::string_view s) {
  const auto b0 = static_cast<std::uint8_t>(s[0]);
  std::size_t len = 0;
  std::uint32_t cp = 0;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    len = 2;
    cp = b0 & 0x1fu;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    len = 3;
    cp = b0 & 0x0fu;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    len = 4;
    cp = b0 & 0x07u;
  } else {
    return 0;
  }
  if (s.size() < len) return 0;
  for (std::size_t i = 1; i < len; ++i) {
    const auto b = static_cast<std::uint8_t>(s[i]);
    if ((b & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3fu);
  }
  const bool overlong = (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
  const bool surrogate = cp >= 0xd800 && cp <= 0xdfff;
  if (overlong || surrogate || cp > 0x10ffff) return 0;
  return len;
}

void append_str_repr(std::string& out, std::string_view s) {
  const char quote = pick_quote(s);
  out.push_back(quote);
  for (std::size_t i = 0; i < s.size();) {
    const char c = s[i];
    const auto byte = static_cast<std::uint8_t>(c);
    if (byte < 0x80) {
      if (!append_common_escape(out, c, quote)) {
        if (byte < 0x20 || byte == 0x7f) {
          append_hex_escape(out, byte);
        } else {
          out.push_back(c);
        }
      }
      ++i;
      continue;
    }
    const std::size_t len = utf8_sequence_length(s.substr(i));
    if (len == 0) {
      // Not text Python could hold; show the raw byte rather than emit broken UTF-8.
      append_hex_escape(out, byte);
      ++i;
    } else if (len == 2 && byte == 0xc2 && static_cast<std::uint8_t>(s[i + 1]) < 0xa0) {
      // U+0080..U+009F are control characters: Python prints them as \x80..\x9f.
      append_hex_escape(out, static_cast<std::uint8_t>(s[i + 1]));
      i += 2;
    } else {
      out.append(s.substr(i, len));
      i += len;
    }
  }
  out.push_back(quote);
}

void append_bin_repr(std::string& out, const Bytes& b) {
  const std::string_view text = as_chars(b);
  const char quote = pick_quote(text);
  out += 'b';
  out.push_back(quote);
  for (const char c : text) {
    const auto byte = static_cast<std::uint8_t>(c);
    if (append_common_escape(out, c, quote)) continue;
    if (byte < 0x20 || byte >= 0x7f) {
      append_hex_escape(out, byte);
    } else {
      out.push_back(c);
    }
  }
  out.push_back(quote);
}

// Python's repr(float): the shortest digits that round-trip, in positional notation when the
// decimal exponent is in [-4, 16), otherwise as d.ddde+XX; integral values keep a ".0".
template <class F>
void append_float_repr(std::string& out, F f) {
  if (std::isnan(f)) {
    out += "nan";
    return;
  }
  if (std::isinf(f)) {
    out += f < 0 ? "-inf" : "inf";
    return;
  }
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, f, std::chars_format::scientific);
  const std::string_view sci(buf, static_cast<std::size_t>(res.ptr - buf));
  // sci looks like "-1.2345e+02" or "5e-07".
  const std::size_t e_pos = sci.find('e');
  std::string_view mantissa = sci.substr(0, e_pos);
  const int exponent = std::atoi(std::string(sci.substr(e_pos + 1)).c_str());
  if (!mantissa.empty() && mantissa[0] == '-') {
    out.push_back('-');
    mantissa.remove_prefix(1);
  }
  std::string digits;
  for (const char c : mantissa) {
    if (c != '.') digits.push_back(c);
  }
  if (exponent < -4 || exponent >= 16) {
    out.push_back(digits[0]);
    if (digits.size() > 1) {
      out.push_back('.');
      out.append(digits, 1);
    }
    out.push_back('e');
    out.push_back(exponent < 0 ? '-' : '+');
    const int magnitude = std::abs(exponent);
    if (magnitude < 10) out.push_back('0');
    out += std::to_string(magnitude);
    return;
  }
  if (exponent < 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-exponent - 1), '0');
    out += digits;
    return;
  }
  const auto int_digits = static_cast<std::size_t>(exponent) + 1;
  if (digits.size() <= int_digits) {
    out += digits;
    out.append(int_digits - digits.size(), '0');
    out += ".0";
  } else {
    out.append(digits, 0, int_digits);
    out.push_back('.');
    out.append(digits, int_digits);
  }
}

void append_repr(std::string& out, const Value& v);

void append_repr(std::string& out, const Array& items) {
  out.push_back('[');
  bool first = true;
  for (const Value& item : items) {
    if (!first) out += ", ";
    first = false;
    append_repr(out, item);
  }
  out.push_back(']');
}

void append_repr(std::string& out, const Map& entries) {
  out.push_back('{');
  bool first = true;
  for (const auto& [key, value] : entries) {
    if (!first) out += ", ";
    first = false;
    append_repr(out, key);
    out += ": ";
    append_repr(out, value);
  }
  out.push_back('}');
}

void append_repr(std::string& out, const Value& v) {
  switch (v.type()) {
    case Value::Type::nil:
      out += "None";
      return;
    case Value::Type::boolean:
      out += v.as_bool() ? "True" : "False";
      return;
    case Value::Type::integer:
      out += v.is_negative_int() ? std::to_string(v.as_int()) : std::to_string(v.as_uint());
      return;
    case Value::Type::float32:
      append_float_repr(out, static_cast<float>(v.as_double()));
      return;
    case Value::Type::float64:
      append_float_repr(out, v.as_double());
      return;
    case Value::Type::str:
      append_str_repr(out, v.as_str());
      return;
    case Value::Type::bin:
      append_bin_repr(out, v.as_bin());
      return;
    case Value::Type::array:
      append_repr(out, v.as_array());
      return;
    case Value::Type::map:
      append_repr(out, v.as_map());
      return;
  }
}

}  // namespace

const char* type_name(Value::Type t) noexcept {
  switch (t) {
    case Value::Type::nil:
      return "nil";
    case Value::Type::boolean:
      return "bool";
    case Value::Type::integer:
      return "int";
    case Value::Type::float32:
      return "float32";
    case Value::Type::float64:
      return "float64";
    case Value::Type::str:
      return "str";
    case Value::Type::bin:
      return "bin";
    case Value::Type::array:
      return "array";
    case Value::Type::map:
      return "map";
  }
  return "unknown";
}

Value::Type Value::type() const noexcept {
  // Indices follow the order of the alternatives in v_.
  switch (v_.index()) {
    case 0:
      return Type::nil;
    case 1:
      return Type::boolean;
    case 2:
    case 3:
      return Type::integer;
    case 4:
      return Type::float32;
    case 5:
      return Type::float64;
    case 6:
      return Type::str;
    case 7:
      return Type::bin;
    case 8:
      return Type::array;
    default:
      return Type::map;
  }
}

bool Value::as_bool() const {
  if (const bool* b = std::get_if<bool>(&v_)) return *b;
  type_mismatch("bool", type());
}

std::int64_t Value::as_int() const {
  if (const auto* i = std::get_if<std::int64_t>(&v_)) return *i;
  if (const auto* u = std::get_if<std::uint64_t>(&v_)) {
    if (*u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      throw ValueTypeError("p2p::Value: integer " + std::to_string(*u) + " does not fit in int64");
    }
    return static_cast<std::int64_t>(*u);
  }
  type_mismatch("int", type());
}

std::uint64_t Value::as_uint() const {
  if (const auto* u = std::get_if<std::uint64_t>(&v_)) return *u;
  if (const auto* i = std::get_if<std::int64_t>(&v_)) {
    throw ValueTypeError("p2p::Value: expected a non-negative int, got " + std::to_string(*i));
  }
  type_mismatch("int", type());
}

double Value::as_double() const {
  if (const auto* d = std::get_if<double>(&v_)) return *d;
  if (const auto* f = std::get_if<float>(&v_)) return *f;
  if (const auto* i = std::get_if<std::int64_t>(&v_)) return static_cast<double>(*i);
  if (const auto* u = std::get_if<std::uint64_t>(&v_)) return static_cast<double>(*u);
  type_mismatch("float or int", type());
}

const std::string& Value::as_str() const {
  if (const auto* s = if_str()) return *s;
  type_mismatch("str", type());
}

const Bytes& Value::as_bin() const {
  if (const auto* b = if_bin()) return *b;
  type_mismatch("bin", type());
}

const Array& Value::as_array() const {
  if (const auto* a = if_array()) return *a;
  type_mismatch("array", type());
}

const Map& Value::as_map() const {
  if (const auto* m = if_map()) return *m;
  type_mismatch("map", type());
}

bool Value::bytes_of(std::string_view& out) const noexcept {
  if (const auto* s = if_str()) {
    out = *s;
    return true;
  }
  if (const auto* b = if_bin()) {
    out = as_chars(*b);
    return true;
  }
  out = {};
  return false;
}

const Value* Value::find(std::string_view key) const noexcept {
  const Map* m = if_map();
  if (m == nullptr) return nullptr;
  for (const auto& [k, v] : *m) {
    const std::string* s = k.if_str();
    if (s != nullptr && *s == key) return &v;
  }
  return nullptr;
}

std::string Value::repr() const {
  std::string out;
  append_repr(out, *this);
  return out;
}

}  // namespace p2p
