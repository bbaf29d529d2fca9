#include "net/write_queue.hpp"

#include <algorithm>
#include <utility>

namespace p2p::net {

namespace {
/// A new chunk's first capacity: a lone small frame on a quiet link allocates little, and a
/// chunk that fills doubles up to chunk_max (a power of two), never beyond.
constexpr std::size_t first_chunk_capacity = 4096;
static_assert(WriteQueue::small_frame_max <= first_chunk_capacity);
}  // namespace

bool WriteQueue::push(core::SharedFrame frame) {
  if (!frame || frame->empty()) return true;  // nothing to write is trivially written
  const std::size_t n = frame->size();
  if (!entries_.empty() && queued_bytes_ + n > max_bytes_) return false;
  queued_bytes_ += n;
  if (coalesce_ && n <= small_frame_max) {
    append_small(*frame);
    return true;
  }
  entries_.push_back(Entry{std::move(frame), {}, 1});
  return true;
}

void WriteQueue::append_small(const Bytes& frame) {
  // Only a waiting chunk grows: the one in flight is being read by the kernel.
  if (entries_.size() > in_flight_entries_) {
    Entry& last = entries_.back();
    if (!last.frame && last.chunk.size() + frame.size() <= chunk_max) {
      if (last.chunk.capacity() < last.chunk.size() + frame.size())
        last.chunk.reserve(std::min(chunk_max, 2 * last.chunk.capacity()));
      last.chunk.insert(last.chunk.end(), frame.begin(), frame.end());
      ++last.frames;
      return;
    }
  }
  Entry fresh;
  if (spare_.capacity() != 0)
    fresh.chunk = std::exchange(spare_, Bytes());  // a busy link: its last chunk's buffer
  else
    fresh.chunk.reserve(first_chunk_capacity);
  fresh.chunk.assign(frame.begin(), frame.end());
  entries_.push_back(std::move(fresh));
}

const std::vector<asio::const_buffer>& WriteQueue::start_batch(std::size_t max_buffers,
                                                               std::size_t max_bytes) {
  batch_.clear();
  std::size_t bytes = 0;
  for (std::size_t i = in_flight_entries_; i < entries_.size() && batch_.size() < max_buffers;
       ++i) {
    const Entry& e = entries_[i];
    const Bytes& b = e.bytes();
    if (!batch_.empty() && bytes + b.size() > max_bytes) break;
    batch_.emplace_back(b.data(), b.size());
    bytes += b.size();
  }
  in_flight_entries_ += batch_.size();
  in_flight_bytes_ = bytes;
  return batch_;
}

void WriteQueue::finish_batch() {
  for (std::size_t i = 0; i < in_flight_entries_ && !entries_.empty(); ++i) {
    Entry& written = entries_.front();
    if (!written.frame && written.chunk.capacity() == chunk_max && spare_.capacity() == 0) {
      written.chunk.clear();
      spare_ = std::move(written.chunk);
    }
    entries_.pop_front();
  }
  // Nothing left to send: the link may stay quiet for long, and 1,000 idle links must
  // cost little, so the spare goes too.
  if (entries_.empty()) spare_ = Bytes();
  queued_bytes_ -= std::min(queued_bytes_, in_flight_bytes_);
  in_flight_entries_ = 0;
  in_flight_bytes_ = 0;
  batch_.clear();
}

void WriteQueue::drop_waiting() noexcept {
  while (entries_.size() > in_flight_entries_) entries_.pop_back();
  queued_bytes_ = in_flight_bytes_;
}

std::size_t WriteQueue::queued_frames() const noexcept {
  std::size_t frames = 0;
  for (const Entry& e : entries_) frames += e.frames;
  return frames;
}

}  // namespace p2p::net
