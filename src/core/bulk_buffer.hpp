// BulkBuffer: the storage of a table that may grow to many MiB (the seen cache's ring and
// index), allocated so that its growth costs few page faults.
#pragma once

#include <cstddef>

namespace p2p::core {

/// Faults in the whole pages of [p, p + n) now, in one system call, rather than one page
/// fault each when they are first written. On the benchmark VM a fault costs ~11 us and
/// this ~6 us a page (bench/ceilings/page_faults, docs/testing.md). Best effort: before
/// Linux 5.14 the call fails and the pages fault in as they are written.
void populate_pages(const void* p, std::size_t n) noexcept;

/// A block of memory that cannot grow in place: a larger table takes a new BulkBuffer and
/// copies its entries over. Below huge_page_bytes it comes from the heap, its pages faulted
/// in at once from populate_bytes on. From huge_page_bytes on it
/// is an anonymous mapping aligned to 2 MiB with transparent huge pages requested, so that
/// the kernel can back it with 2 MiB pages: one fault per 2 MiB instead of one per 4 KiB. On
/// the benchmark VM a 4 KiB fault costs ~11 us and a 2 MiB one ~130 us
/// (bench/ceilings/page_faults), and a seen cache growing to its 10^6 entries took ~6,000
/// faults per node, the largest cost left in a stream of broadcasts (docs/testing.md).
/// Without transparent huge pages the mapping simply uses 4 KiB pages.
class BulkBuffer {
 public:
  /// The size from which a buffer is mapped on huge pages: one huge page on x86-64 and
  /// arm64. Smaller tables stay on the heap, where a 2 MiB page would mostly hold nothing.
  static constexpr std::size_t huge_page_bytes = std::size_t{2} << 20;
  /// Heap buffers from this size have their pages faulted in at once (populate_pages()):
  /// a table is filled soon after it is made (an index at once, by the rehash that follows
  /// its allocation), and one call costs about half of the faults it replaces.
  static constexpr std::size_t populate_bytes = std::size_t{64} << 10;

  BulkBuffer() = default;
  /// `bytes` of memory, all zero when `zeroed` (a mapping always is). Throws
  /// std::bad_alloc when there is no memory.
  BulkBuffer(std::size_t bytes, bool zeroed);
  ~BulkBuffer();
  BulkBuffer(BulkBuffer&& other) noexcept;
  BulkBuffer& operator=(BulkBuffer&& other) noexcept;
  BulkBuffer(const BulkBuffer&) = delete;
  BulkBuffer& operator=(const BulkBuffer&) = delete;

  void* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  /// Whether the buffer is a huge-page mapping (for tests).
  bool mapped() const noexcept { return mapped_bytes_ != 0; }

 private:
  void release() noexcept;
  void* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t mapped_bytes_ = 0;  ///< length of the mapping; 0 for heap memory
};

}  // namespace p2p::core
