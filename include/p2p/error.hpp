// Error values. Everything that parses untrusted input returns one of these instead of
// throwing: a hostile peer must never be able to unwind through the event loop.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace p2p {

enum class Errc {
  truncated,          ///< input ended in the middle of a value or frame
  malformed,          ///< bytes that are not valid for the format
  depth_exceeded,     ///< msgpack nesting deeper than the configured limit
  too_large,          ///< a size above a configured bound (frame, output, element count)
  checksum_mismatch,  ///< sha256 in the frame does not match the body
  compression,        ///< a codec failed, or a method that is not supported
  protocol,           ///< well-formed bytes that break the mesh protocol
  invalid_argument,   ///< an API caller passed something unusable
  io,                 ///< the operating system refused (bind, connect, read, write)
  closed,             ///< the socket or connection is closed
};

/// Short stable name of an error code, e.g. "too_large".
const char* errc_name(Errc code) noexcept;

struct Error {
  Errc code;
  std::string message;  ///< human-readable detail; never parsed

  /// "too_large: frame of 4294967295 bytes exceeds the 4194304 byte limit"
  std::string to_string() const { return std::string(errc_name(code)) + ": " + message; }
};

/// Thrown only at API boundaries for caller mistakes (never for peer input).
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Either a T or an Error. A small stand-in for C++23 std::expected.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { return checked(); }
  const T& value() const& { return const_cast<Result*>(this)->checked(); }
  T&& value() && { return std::move(checked()); }
  T* operator->() { return &checked(); }
  const T* operator->() const { return &const_cast<Result*>(this)->checked(); }
  T& operator*() & { return checked(); }
  const T& operator*() const& { return const_cast<Result*>(this)->checked(); }

  const Error& error() const {
    if (ok()) throw UsageError("Result::error() called on a value");
    return std::get<1>(v_);
  }

 private:
  T& checked() {
    if (!ok()) throw UsageError("Result holds an error: " + std::get<1>(v_).to_string());
    return std::get<0>(v_);
  }
  std::variant<T, Error> v_;
};

/// Success or an Error, for operations with no value.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT: implicit by design

  bool ok() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return ok(); }
  const Error& error() const {
    if (!failed_) throw UsageError("Status::error() called on success");
    return error_;
  }

 private:
  Error error_{Errc::malformed, {}};
  bool failed_ = false;
};

}  // namespace p2p
