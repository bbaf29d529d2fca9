#include "heap_meter.hpp"

#include <cstdlib>
#include <new>

namespace {

// Each block carries its size in a header, so that delete can subtract it. The header keeps
// the maximum fundamental alignment of the block that follows.
constexpr std::size_t header_size = alignof(std::max_align_t);

bool metering = false;
std::size_t live = 0;
std::size_t peak_live = 0;

void* allocate(std::size_t size) {
  auto* raw = static_cast<unsigned char*>(std::malloc(size + header_size));
  if (raw == nullptr) throw std::bad_alloc();
  *reinterpret_cast<std::size_t*>(raw) = size;
  if (metering) {
    live += size;
    if (live > peak_live) peak_live = live;
  }
  return raw + header_size;
}

void release(void* p) noexcept {
  if (p == nullptr) return;
  auto* raw = static_cast<unsigned char*>(p) - header_size;
  const std::size_t size = *reinterpret_cast<std::size_t*>(raw);
  if (metering) live = size <= live ? live - size : 0;
  std::free(raw);
}

}  // namespace

void* operator new(std::size_t size) {
  return allocate(size);
}
void* operator new[](std::size_t size) {
  return allocate(size);
}
void operator delete(void* p) noexcept {
  release(p);
}
void operator delete[](void* p) noexcept {
  release(p);
}
void operator delete(void* p, std::size_t) noexcept {
  release(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  release(p);
}

namespace p2p::test {

HeapMeter::HeapMeter() {
  live = 0;
  peak_live = 0;
  metering = true;
}

HeapMeter::~HeapMeter() {
  metering = false;
}

std::size_t HeapMeter::peak() const {
  return peak_live;
}

}  // namespace p2p::test
