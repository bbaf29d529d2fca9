// Reads lines from standard input without blocking shutdown: Ctrl-C, SIGTERM or a stop
// request end the wait within a fraction of a second.
#pragma once

#include <atomic>
#include <optional>
#include <string>

namespace p2p::cli {

class LineReader {
 public:
  /// Installs SIGINT/SIGTERM handlers that make next_line() return nullopt.
  LineReader();

  /// The next line (without its newline), or nullopt at end of input, on a signal, or
  /// after stop(). Lines longer than `max_line` bytes are cut there, the rest dropped (a
  /// scripting peer cannot grow memory without bound); truncated() reports it.
  std::optional<std::string> next_line(std::size_t max_line = 64u << 20);
  bool truncated() const noexcept { return truncated_; }

  /// Makes next_line() return nullopt (from any thread).
  static void stop() noexcept;
  static bool stopped() noexcept;

 private:
  std::string buffer_;
  bool eof_ = false;
  bool truncated_ = false;
};

}  // namespace p2p::cli
