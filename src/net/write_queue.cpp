#include "net/write_queue.hpp"

#include <algorithm>

namespace p2p::net {

bool WriteQueue::push(core::SharedFrame frame) {
  if (!frame || frame->empty()) return true;  // nothing to write is trivially written
  const std::size_t n = frame->size();
  if (!frames_.empty() && queued_bytes_ + n > max_bytes_) return false;
  queued_bytes_ += n;
  frames_.push_back(std::move(frame));
  return true;
}

const std::vector<asio::const_buffer>& WriteQueue::start_batch(std::size_t max_buffers,
                                                               std::size_t max_bytes) {
  batch_.clear();
  std::size_t bytes = 0;
  for (std::size_t i = in_flight_frames_; i < frames_.size() && batch_.size() < max_buffers; ++i) {
    const auto& f = *frames_[i];
    if (!batch_.empty() && bytes + f.size() > max_bytes) break;
    batch_.emplace_back(f.data(), f.size());
    bytes += f.size();
  }
  in_flight_frames_ += batch_.size();
  in_flight_bytes_ = bytes;
  return batch_;
}

void WriteQueue::finish_batch() {
  for (std::size_t i = 0; i < in_flight_frames_ && !frames_.empty(); ++i) frames_.pop_front();
  queued_bytes_ -= std::min(queued_bytes_, in_flight_bytes_);
  in_flight_frames_ = 0;
  in_flight_bytes_ = 0;
  batch_.clear();
}

void WriteQueue::drop_waiting() noexcept {
  while (frames_.size() > in_flight_frames_) frames_.pop_back();
  queued_bytes_ = in_flight_bytes_;
}

}  // namespace p2p::net
