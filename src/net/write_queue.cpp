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

const std::vector<asio::const_buffer>& WriteQueue::start_coalesced_batch(std::size_t max_buffers,
                                                                         std::size_t max_bytes) {
  batch_.clear();
  const std::size_t first = in_flight_frames_;
  if (first >= frames_.size()) return batch_;
  if (frames_[first]->size() >= max_bytes || first + 1 == frames_.size()) {
    // One frame (or one big frame): no copy needed.
    const auto& f = *frames_[first];
    batch_.emplace_back(f.data(), f.size());
    in_flight_frames_ += 1;
    in_flight_bytes_ = f.size();
    return batch_;
  }
  staging_.clear();
  std::size_t taken = 0;
  for (std::size_t i = first; i < frames_.size() && taken < max_buffers; ++i) {
    const auto& f = *frames_[i];
    if (taken > 0 && staging_.size() + f.size() > max_bytes) break;
    staging_.insert(staging_.end(), f.begin(), f.end());
    ++taken;
  }
  batch_.emplace_back(staging_.data(), staging_.size());
  in_flight_frames_ += taken;
  in_flight_bytes_ = staging_.size();
  return batch_;
}

void WriteQueue::finish_batch() {
  for (std::size_t i = 0; i < in_flight_frames_ && !frames_.empty(); ++i) frames_.pop_front();
  queued_bytes_ -= std::min(queued_bytes_, in_flight_bytes_);
  in_flight_frames_ = 0;
  in_flight_bytes_ = 0;
  batch_.clear();
  // Keep a small staging buffer for the next batch, but do not pin a huge one.
  if (staging_.capacity() > (256u << 10)) std::vector<std::uint8_t>().swap(staging_);
}

void WriteQueue::drop_waiting() noexcept {
  while (frames_.size() > in_flight_frames_) frames_.pop_back();
  queued_bytes_ = in_flight_bytes_;
}

}  // namespace p2p::net
