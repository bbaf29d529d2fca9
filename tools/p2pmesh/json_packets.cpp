#include "json_packets.hpp"

#include <openssl/evp.h>

#include <cmath>

namespace p2p::cli {

std::string base64_encode(ByteView data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(),
                                static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

Result<Bytes> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0)
    return Error{Errc::invalid_argument, "base64 length is not a multiple of 4"};
  Bytes out(text.size() / 4 * 3);
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return Error{Errc::invalid_argument, "invalid base64"};
  // EVP_DecodeBlock keeps the bytes that '=' padding stands for; drop them.
  std::size_t len = static_cast<std::size_t>(n);
  for (std::size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) --len;
  out.resize(len);
  return out;
}

Result<Value> json_to_value(const Json& j, const std::string& where) {
  switch (j.type()) {
    case Json::value_t::null:
      return Value(nullptr);
    case Json::value_t::boolean:
      return Value(j.get<bool>());
    case Json::value_t::number_integer:
      return Value(j.get<std::int64_t>());
    case Json::value_t::number_unsigned:
      return Value(j.get<std::uint64_t>());
    case Json::value_t::number_float:
      return Value(j.get<double>());
    case Json::value_t::string:
      return Value(j.get<std::string>());
    case Json::value_t::array: {
      Array a;
      a.reserve(j.size());
      for (std::size_t i = 0; i < j.size(); ++i) {
        auto v = json_to_value(j[i], where + "[" + std::to_string(i) + "]");
        if (!v) return v.error();
        a.push_back(std::move(v).value());
      }
      return Value(std::move(a));
    }
    case Json::value_t::object: {
      if (j.size() == 1 && j.contains("b64")) {
        if (!j["b64"].is_string())
          return Error{Errc::invalid_argument, where + ": b64 must be a string"};
        auto b = base64_decode(j["b64"].get_ref<const std::string&>());
        if (!b) return Error{Errc::invalid_argument, where + ": " + b.error().message};
        return Value(std::move(b).value());
      }
      Map m;
      for (const auto& [k, v] : j.items()) {
        auto conv = json_to_value(v, where + "." + k);
        if (!conv) return conv.error();
        m.emplace_back(Value(k), std::move(conv).value());
      }
      return Value(std::move(m));
    }
    default:
      return Error{Errc::invalid_argument, where + ": unsupported JSON value"};
  }
}

Json value_to_json(const Value& v) {
  switch (v.type()) {
    case Value::Type::nil:
      return nullptr;
    case Value::Type::boolean:
      return v.as_bool();
    case Value::Type::integer:
      if (v.is_negative_int()) return v.as_int();
      return v.as_uint();
    case Value::Type::float32:
    case Value::Type::float64: {
      const double d = v.as_double();
      if (!std::isfinite(d)) return nullptr;  // JSON has no NaN or infinity
      return d;
    }
    case Value::Type::str:
      return v.as_str();
    case Value::Type::bin:
      return Json{{"b64", base64_encode(v.as_bin())}};
    case Value::Type::array: {
      Json a = Json::array();
      for (const auto& x : v.as_array()) a.push_back(value_to_json(x));
      return a;
    }
    case Value::Type::map: {
      bool str_keys = true;
      for (const auto& [k, x] : v.as_map()) str_keys &= k.is_str();
      if (str_keys) {
        Json o = Json::object();
        for (const auto& [k, x] : v.as_map()) o[k.as_str()] = value_to_json(x);
        return o;
      }
      Json pairs = Json::array();
      for (const auto& [k, x] : v.as_map())
        pairs.push_back(Json::array({value_to_json(k), value_to_json(x)}));
      return Json{{"map", pairs}};
    }
  }
  return nullptr;
}

}  // namespace p2p::cli
