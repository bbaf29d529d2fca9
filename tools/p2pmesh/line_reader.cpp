#include "line_reader.hpp"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

namespace p2p::cli {

namespace {
std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) {
  g_stop.store(true);
}
}  // namespace

LineReader::LineReader() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a closed stdout is an error to report, not a death
}

void LineReader::stop() noexcept {
  g_stop.store(true);
}
bool LineReader::stopped() noexcept {
  return g_stop.load();
}

std::optional<std::string> LineReader::next_line(std::size_t max_line) {
  truncated_ = false;
  bool skipping = false;
  for (;;) {
    const auto nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }
    if (buffer_.size() > max_line) {
      // Keep the head, drop the rest of this line as it arrives.
      truncated_ = true;
      skipping = true;
      buffer_.resize(max_line);
    }
    if (eof_) {
      if (buffer_.empty()) return std::nullopt;
      std::string line;
      line.swap(buffer_);
      return line;
    }
    if (g_stop.load()) return std::nullopt;
    pollfd pfd{STDIN_FILENO, POLLIN, 0};
    const int r = poll(&pfd, 1, 200);
    if (r < 0 && errno != EINTR) return std::nullopt;
    if (r <= 0) continue;
    char buf[65536];
    const ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      eof_ = true;
      continue;
    }
    if (n == 0) {
      eof_ = true;
      continue;
    }
    std::string_view chunk(buf, static_cast<std::size_t>(n));
    if (skipping) {
      const auto end = chunk.find('\n');
      if (end == std::string_view::npos) continue;
      buffer_.push_back('\n');
      chunk.remove_prefix(end + 1);
      skipping = false;
    }
    buffer_.append(chunk);
  }
}

}  // namespace p2p::cli
