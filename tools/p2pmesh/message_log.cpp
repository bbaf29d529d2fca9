#include "message_log.hpp"

#include <time.h>

#include <algorithm>

namespace p2p::cli {

std::int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::shared_ptr<const LoggedMessage> MessageLog::add(Message&& msg) {
  const std::int64_t now = monotonic_ns();
  // Built outside the lock: the command thread's recv and wait contend for it.
  auto m = std::make_shared<LoggedMessage>(LoggedMessage{0, now, std::move(msg)});
  std::lock_guard lock(mu_);
  m->index = next_index_++;
  held_.push_back(m);
  if (held_.size() > capacity_) held_.pop_front();
  pending_.push_back(m);
  if (pending_.size() > capacity_) {
    pending_.pop_front();
    ++dropped_;
  }
  if (received_ == 0) first_ns_ = now;
  last_ns_ = now;
  ++received_;
  if (wake_at_ != 0 && received_ >= wake_at_) {
    wake_at_ = 0;
    cv_.notify_all();
  }
  return m;
}

std::optional<Message> MessageLog::get(std::uint64_t index) const {
  std::lock_guard lock(mu_);
  if (held_.empty() || index < held_.front()->index || index > held_.back()->index)
    return std::nullopt;
  return held_[index - held_.front()->index]->msg;
}

std::vector<std::shared_ptr<const LoggedMessage>> MessageLog::drain() {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<const LoggedMessage>> out(std::make_move_iterator(pending_.begin()),
                                                        std::make_move_iterator(pending_.end()));
  pending_.clear();
  return out;
}

MessageLog::WaitResult MessageLog::wait(std::uint64_t count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  wake_at_ = std::max<std::uint64_t>(count, 1);
  const bool ok = cv_.wait_for(lock, timeout, [&] { return received_ >= count; });
  wake_at_ = 0;
  return WaitResult{ok, received_, first_ns_, last_ns_};
}

void MessageLog::reset() {
  std::lock_guard lock(mu_);
  received_ = 0;
  first_ns_ = last_ns_ = 0;
}

std::uint64_t MessageLog::received() const {
  std::lock_guard lock(mu_);
  return received_;
}

std::uint64_t MessageLog::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

}  // namespace p2p::cli
