#include "core/bulk_buffer.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <new>
#include <utility>

namespace p2p::core {

void populate_pages(const void* p, std::size_t n) noexcept {
#ifdef MADV_POPULATE_WRITE
  static const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto first = (reinterpret_cast<std::uintptr_t>(p) + page - 1) & ~(page - 1);
  const auto last = (reinterpret_cast<std::uintptr_t>(p) + n) & ~(page - 1);
  if (last > first)
    (void)::madvise(reinterpret_cast<void*>(first), last - first, MADV_POPULATE_WRITE);
#else
  (void)p;
  (void)n;
#endif
}

namespace {

/// An anonymous mapping of `bytes` (a multiple of huge_page_bytes) starting on a
/// huge_page_bytes boundary, or nullptr. The kernel only backs aligned 2 MiB ranges with
/// huge pages, and mmap aligns to 4 KiB: map one huge page more, then unmap the slack.
void* map_aligned(std::size_t bytes) noexcept {
  constexpr std::size_t align = BulkBuffer::huge_page_bytes;
  const std::size_t span = bytes + align;
  void* p = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  const auto start = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t aligned = (start + align - 1) & ~(std::uintptr_t{align} - 1);
  const std::size_t head = aligned - start;
  if (head != 0) ::munmap(p, head);
  if (align - head != 0) ::munmap(reinterpret_cast<void*>(aligned + bytes), align - head);
  void* block = reinterpret_cast<void*>(aligned);
#ifdef MADV_HUGEPAGE
  (void)::madvise(block, bytes, MADV_HUGEPAGE);  // a hint: it fails where THP is off
#endif
  return block;
}

}  // namespace

BulkBuffer::BulkBuffer(std::size_t bytes, bool zeroed) : size_(bytes) {
  if (bytes >= huge_page_bytes) {
    const std::size_t rounded = (bytes + huge_page_bytes - 1) & ~(huge_page_bytes - 1);
    if (rounded >= bytes) {  // else the size overflowed: let the heap refuse it
      data_ = map_aligned(rounded);
      if (data_ != nullptr) {
        mapped_bytes_ = rounded;
        return;
      }
    }
  }
  data_ = zeroed ? std::calloc(1, bytes == 0 ? 1 : bytes) : std::malloc(bytes == 0 ? 1 : bytes);
  if (data_ == nullptr) throw std::bad_alloc();
  // glibc maps blocks from 128 KiB fresh, so their pages are always new; smaller ones may
  // be reused heap, for which the call only walks the page table.
  if (bytes >= populate_bytes) populate_pages(data_, bytes);
}

BulkBuffer::~BulkBuffer() {
  release();
}

BulkBuffer::BulkBuffer(BulkBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      mapped_bytes_(std::exchange(other.mapped_bytes_, 0)) {}

BulkBuffer& BulkBuffer::operator=(BulkBuffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    mapped_bytes_ = std::exchange(other.mapped_bytes_, 0);
  }
  return *this;
}

void BulkBuffer::release() noexcept {
  if (data_ == nullptr) return;
  if (mapped_bytes_ != 0)
    ::munmap(data_, mapped_bytes_);
  else
    std::free(data_);
  data_ = nullptr;
  size_ = 0;
  mapped_bytes_ = 0;
}

}  // namespace p2p::core
