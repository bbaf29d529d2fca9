#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "p2p/value.hpp"

namespace {

using p2p::Array;
using p2p::Bytes;
using p2p::Map;
using p2p::Value;
using p2p::ValueTypeError;

TEST(Value, TypesOfEachAlternative) {
  EXPECT_EQ(Value().type(), Value::Type::nil);
  EXPECT_EQ(Value(nullptr).type(), Value::Type::nil);
  EXPECT_EQ(Value(true).type(), Value::Type::boolean);
  EXPECT_EQ(Value(7).type(), Value::Type::integer);
  EXPECT_EQ(Value(-7).type(), Value::Type::integer);
  EXPECT_EQ(Value(1.5f).type(), Value::Type::float32);
  EXPECT_EQ(Value(1.5).type(), Value::Type::float64);
  EXPECT_EQ(Value("s").type(), Value::Type::str);
  EXPECT_EQ(Value(Bytes{1}).type(), Value::Type::bin);
  EXPECT_EQ(Value::array({1}).type(), Value::Type::array);
  EXPECT_EQ(Value::map({{"k", 1}}).type(), Value::Type::map);
}

TEST(Value, TypeNames) {
  EXPECT_STREQ(p2p::type_name(Value::Type::nil), "nil");
  EXPECT_STREQ(p2p::type_name(Value::Type::boolean), "bool");
  EXPECT_STREQ(p2p::type_name(Value::Type::integer), "int");
  EXPECT_STREQ(p2p::type_name(Value::Type::float32), "float32");
  EXPECT_STREQ(p2p::type_name(Value::Type::float64), "float64");
  EXPECT_STREQ(p2p::type_name(Value::Type::str), "str");
  EXPECT_STREQ(p2p::type_name(Value::Type::bin), "bin");
  EXPECT_STREQ(p2p::type_name(Value::Type::array), "array");
  EXPECT_STREQ(p2p::type_name(Value::Type::map), "map");
}

TEST(Value, IntegersNormaliseBySign) {
  // Non-negative integers of any C++ type are one value, whatever their signedness.
  EXPECT_EQ(Value(5), Value(std::uint8_t{5}));
  EXPECT_EQ(Value(5), Value(std::uint64_t{5}));
  EXPECT_FALSE(Value(5).is_negative_int());
  EXPECT_TRUE(Value(-5).is_negative_int());
  EXPECT_NE(Value(5), Value(-5));
  EXPECT_NE(Value(1), Value(1.0));
  EXPECT_NE(Value(1.0f), Value(1.0));
}

TEST(Value, CheckedIntegerAccessors) {
  const auto u64max = std::numeric_limits<std::uint64_t>::max();
  const auto i64min = std::numeric_limits<std::int64_t>::min();
  EXPECT_EQ(Value(u64max).as_uint(), u64max);
  EXPECT_EQ(Value(i64min).as_int(), i64min);
  EXPECT_EQ(Value(42).as_int(), 42);
  EXPECT_EQ(Value(42).as_uint(), 42u);
  EXPECT_THROW((void)Value(u64max).as_int(), ValueTypeError);
  EXPECT_THROW((void)Value(-1).as_uint(), ValueTypeError);
  EXPECT_THROW((void)Value("1").as_int(), ValueTypeError);
  EXPECT_THROW((void)Value(1.0).as_uint(), ValueTypeError);
}

TEST(Value, AsDoubleAcceptsFloatsAndIntegers) {
  EXPECT_EQ(Value(2.5).as_double(), 2.5);
  EXPECT_EQ(Value(2.5f).as_double(), 2.5);
  EXPECT_EQ(Value(-3).as_double(), -3.0);
  EXPECT_EQ(Value(3u).as_double(), 3.0);
  EXPECT_THROW((void)Value(true).as_double(), ValueTypeError);
}

TEST(Value, CheckedAccessorsReturnContents) {
  EXPECT_TRUE(Value(true).as_bool());
  EXPECT_EQ(Value("abc").as_str(), "abc");
  EXPECT_EQ(Value(Bytes{0, 1}).as_bin(), (Bytes{0, 1}));
  EXPECT_EQ(Value::array({1, "x"}).as_array(), (Array{1, "x"}));
  EXPECT_EQ(Value::map({{"k", 1}}).as_map(), (Map{{"k", 1}}));
}

TEST(Value, MismatchNamesExpectedAndActualType) {
  try {
    (void)Value(Bytes{1}).as_str();
    FAIL() << "as_str() on a bin did not throw";
  } catch (const ValueTypeError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("expected str"), std::string::npos) << what;
    EXPECT_NE(what.find("got bin"), std::string::npos) << what;
  }
  try {
    (void)Value::array({}).as_map();
    FAIL() << "as_map() on an array did not throw";
  } catch (const ValueTypeError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("expected map"), std::string::npos) << what;
    EXPECT_NE(what.find("got array"), std::string::npos) << what;
  }
  EXPECT_THROW((void)Value().as_bool(), ValueTypeError);
  EXPECT_THROW((void)Value(1).as_bin(), ValueTypeError);
  EXPECT_THROW((void)Value("x").as_array(), ValueTypeError);
  // ValueTypeError is a UsageError: callers may catch either.
  EXPECT_THROW((void)Value().as_str(), p2p::UsageError);
}

TEST(Value, UncheckedAccessorsReturnNullOnMismatch) {
  const Value s("x");
  EXPECT_NE(s.if_str(), nullptr);
  EXPECT_EQ(s.if_bin(), nullptr);
  EXPECT_EQ(s.if_array(), nullptr);
  EXPECT_EQ(s.if_map(), nullptr);
  Value a = Value::array({1});
  Array* items = a.if_array();
  ASSERT_NE(items, nullptr);
  items->push_back(2);
  EXPECT_EQ(a, Value::array({1, 2}));
  Value str("ab");
  std::string* text = str.if_str();
  ASSERT_NE(text, nullptr);
  *text += "c";
  EXPECT_EQ(str, Value("abc"));
  EXPECT_EQ(str.if_bin(), nullptr);
  Value bin = Value::bin(p2p::as_bytes("xy"));
  Bytes* raw = bin.if_bin();
  ASSERT_NE(raw, nullptr);
  (*raw)[0] = 'z';
  EXPECT_EQ(bin, Value::bin(p2p::as_bytes("zy")));
  EXPECT_EQ(bin.if_str(), nullptr);
}

TEST(Value, BytesOfStrAndBin) {
  const Value str("id");
  const Value bin = Value::bin(p2p::as_bytes("raw"));
  std::string_view out = "stale";
  EXPECT_TRUE(str.bytes_of(out));
  EXPECT_EQ(out, "id");
  EXPECT_TRUE(bin.bytes_of(out));
  EXPECT_EQ(out, "raw");
  EXPECT_FALSE(Value(1).bytes_of(out));
  EXPECT_TRUE(out.empty());
}

TEST(Value, FindLooksUpStrKeysOnly) {
  const Value m = Value::map({{1, "int key"},
                              {Value::bin(p2p::as_bytes("k")), "bin key"},
                              {"k", "str key"},
                              {"k", "duplicate"}});
  ASSERT_NE(m.find("k"), nullptr);
  EXPECT_EQ(*m.find("k"), Value("str key"));  // the first match, in map order
  EXPECT_EQ(m.find("absent"), nullptr);
  EXPECT_EQ(Value::array({"k"}).find("k"), nullptr);
}

TEST(Value, MapKeepsInsertionOrderInEquality) {
  EXPECT_NE(Value::map({{"a", 1}, {"b", 2}}), Value::map({{"b", 2}, {"a", 1}}));
}

// Expected strings are what CPython 3.11 prints for repr() of the same values.
TEST(ValueRepr, Scalars) {
  EXPECT_EQ(Value().repr(), "None");
  EXPECT_EQ(Value(true).repr(), "True");
  EXPECT_EQ(Value(false).repr(), "False");
  EXPECT_EQ(Value(std::numeric_limits<std::uint64_t>::max()).repr(), "18446744073709551615");
  EXPECT_EQ(Value(std::numeric_limits<std::int64_t>::min()).repr(), "-9223372036854775808");
  EXPECT_EQ(Value(0).repr(), "0");
}

TEST(ValueRepr, StrQuotingAndEscapes) {
  EXPECT_EQ(Value("text").repr(), "'text'");
  EXPECT_EQ(Value("it's").repr(), "\"it's\"");
  EXPECT_EQ(Value("a\"b").repr(), "'a\"b'");
  EXPECT_EQ(Value("both'\"").repr(), "'both\\'\"'");
  EXPECT_EQ(Value(std::string("\x00\n\t\\\r\x7f", 6)).repr(), "'\\x00\\n\\t\\\\\\r\\x7f'");
  EXPECT_EQ(Value("h\xc3\xa9llo").repr(), "'h\xc3\xa9llo'");
  EXPECT_EQ(Value("\xc2\x85").repr(), "'\\x85'");  // U+0085, a C1 control
  EXPECT_EQ(Value("\xe2\x82\xac\xf0\x9f\x98\x80").repr(), "'\xe2\x82\xac\xf0\x9f\x98\x80'");
  // Not UTF-8 (Python could not hold it): raw bytes are shown escaped, never emitted.
  EXPECT_EQ(Value("a\xff"
                  "b")
                .repr(),
            "'a\\xffb'");
  EXPECT_EQ(Value("\xc3").repr(), "'\\xc3'");                    // truncated sequence
  EXPECT_EQ(Value("\xc0\xaf").repr(), "'\\xc0\\xaf'");           // overlong '/'
  EXPECT_EQ(Value("\xed\xa0\x80").repr(), "'\\xed\\xa0\\x80'");  // surrogate
}

TEST(ValueRepr, BinQuotingAndEscapes) {
  EXPECT_EQ(Value::bin(p2p::as_bytes(std::string_view("\x00'a\"", 4))).repr(), "b'\\x00\\'a\"'");
  EXPECT_EQ(Value::bin(p2p::as_bytes("it's")).repr(), "b\"it's\"");
  EXPECT_EQ(Value(Bytes{0xff, 0x7f, '~', ' ', '\\'}).repr(), "b'\\xff\\x7f~ \\\\'");
  EXPECT_EQ(Value(Bytes{}).repr(), "b''");
}

TEST(ValueRepr, FloatsAsPythonPrintsThem) {
  const std::pair<double, const char*> cases[] = {
      {1.0, "1.0"},
      {0.1, "0.1"},
      {1e16, "1e+16"},
      {1e15, "1000000000000000.0"},
      {1.5e-5, "1.5e-05"},
      {0.0001, "0.0001"},
      {0.00012345, "0.00012345"},
      {-0.0, "-0.0"},
      {123.456, "123.456"},
      {1e22, "1e+22"},
      {5e-324, "5e-324"},
      {1.7976931348623157e+308, "1.7976931348623157e+308"},
      {2.5, "2.5"},
      {100.0, "100.0"},
      {-1e-7, "-1e-07"},
      {1234567890123456.7, "1234567890123456.8"},
      {9999999999999998.0, "9999999999999998.0"},
      {std::numeric_limits<double>::infinity(), "inf"},
      {-std::numeric_limits<double>::infinity(), "-inf"},
      {std::nan(""), "nan"},
  };
  for (const auto& [d, text] : cases) EXPECT_EQ(Value(d).repr(), text) << text;
  // float32 shows its own shortest digits (Python would widen it first: 0.10000000149011612).
  EXPECT_EQ(Value(0.1f).repr(), "0.1");
  EXPECT_EQ(Value(1.5f).repr(), "1.5");
}

TEST(ValueRepr, Containers) {
  const Value v =
      Value::array({nullptr, true, false, 1, -1, std::numeric_limits<std::uint64_t>::max(), "a",
                    Value::bin(p2p::as_bytes("b")), Value::array({}), Value::map({}),
                    Value::map({{"k", Value::array({1.5})}})});
  EXPECT_EQ(v.repr(),
            "[None, True, False, 1, -1, 18446744073709551615, 'a', b'b', [], {}, {'k': [1.5]}]");
  EXPECT_EQ(Value::map({{1, "x"}, {Value::array({}), nullptr}}).repr(), "{1: 'x', []: None}");
}

}  // namespace
