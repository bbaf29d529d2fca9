#include "net/frame_pool.hpp"

#include <new>
#include <utility>

namespace p2p::net {

/// Hands the buffer back to the pool, then frees the vector object.
struct FramePool::GiveBack {
  std::shared_ptr<FramePool> pool;
  void operator()(const Bytes* frame) const noexcept;
};

core::SharedFrame FramePool::share(Bytes&& buffer) {
  // `new Bytes` rather than make_shared: the deleter must be able to move the buffer out,
  // and only an object created non-const may be modified through the deleter's pointer.
  // Should the control block's allocation throw, shared_ptr calls the deleter itself.
  return core::SharedFrame(new Bytes(std::move(buffer)), GiveBack{shared_from_this()});
}

void FramePool::GiveBack::operator()(const Bytes* frame) const noexcept {
  Bytes* owned = const_cast<Bytes*>(frame);  // created non-const in share()
  pool->give_back(std::move(*owned));
  delete owned;
}

Bytes FramePool::take() {
  std::lock_guard<std::mutex> lock(mu_);
  taken_since_release_ = true;
  if (kept_.empty()) return {};
  Bytes buffer = std::move(kept_.back());
  kept_.pop_back();
  kept_bytes_ -= buffer.capacity();
  return buffer;
}

void FramePool::give_back(Bytes&& buffer) noexcept {
  const std::size_t capacity = buffer.capacity();
  if (capacity == 0 || capacity > max_buffer_capacity) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (kept_bytes_ + capacity > max_bytes_) return;
  buffer.clear();
  try {
    kept_.push_back(std::move(buffer));
  } catch (const std::bad_alloc&) {
    return;  // no room to remember it: `buffer` (not moved from) is freed instead
  }
  kept_bytes_ += capacity;
}

bool FramePool::release_if_unused() {
  std::vector<Bytes> released;  // freed outside the lock
  {
    std::lock_guard<std::mutex> lock(mu_);
    const bool unused = !taken_since_release_;
    taken_since_release_ = false;
    if (!unused || kept_.capacity() == 0) return false;
    released.swap(kept_);  // the vector's own room too
    kept_bytes_ = 0;
  }
  return true;
}

std::size_t FramePool::kept() const {
  std::lock_guard<std::mutex> lock(mu_);
  return kept_.size();
}

std::size_t FramePool::kept_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return kept_bytes_;
}

}  // namespace p2p::net
