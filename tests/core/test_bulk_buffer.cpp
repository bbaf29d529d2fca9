// BulkBuffer: heap memory for small tables, a 2 MiB-aligned mapping for large ones.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "core/bulk_buffer.hpp"

namespace p2p::core {
namespace {

bool all_zero(const BulkBuffer& b) {
  const auto* p = static_cast<const std::uint8_t*>(b.data());
  for (std::size_t i = 0; i < b.size(); ++i)
    if (p[i] != 0) return false;
  return true;
}

TEST(BulkBuffer, ASmallBufferComesFromTheHeapZeroedWhenAsked) {
  BulkBuffer b(4096, true);
  EXPECT_FALSE(b.mapped());
  EXPECT_EQ(b.size(), 4096u);
  EXPECT_TRUE(all_zero(b));
  std::memset(b.data(), 0xAB, b.size());  // writable to its last byte (ASan checks)
}

TEST(BulkBuffer, ALargeBufferIsMappedOnA2MiBBoundaryAndZeroed) {
  // Not a multiple of 2 MiB: the mapping is rounded up, the size is what was asked.
  const std::size_t bytes = BulkBuffer::huge_page_bytes * 2 + 12345;
  BulkBuffer b(bytes, false);
  ASSERT_TRUE(b.mapped());
  EXPECT_EQ(b.size(), bytes);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b.data()) % BulkBuffer::huge_page_bytes, 0u);
  EXPECT_TRUE(all_zero(b));  // a fresh anonymous mapping, whatever `zeroed` said
  std::memset(b.data(), 0xCD, b.size());
  EXPECT_EQ(static_cast<const std::uint8_t*>(b.data())[bytes - 1], 0xCD);
}

TEST(BulkBuffer, MovingHandsOverTheMemory) {
  BulkBuffer a(BulkBuffer::huge_page_bytes, true);
  void* const p = a.data();
  static_cast<std::uint8_t*>(p)[7] = 42;
  BulkBuffer b(std::move(a));
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move): checking the moved-from
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(b.data(), p);
  BulkBuffer c(64, true);
  c = std::move(b);  // frees c's heap block, takes b's mapping
  EXPECT_EQ(c.data(), p);
  EXPECT_TRUE(c.mapped());
  EXPECT_EQ(static_cast<const std::uint8_t*>(c.data())[7], 42);
}

TEST(BulkBuffer, AHeapBufferFromPopulateBytesIsResidentAtOnce) {
  {
    // Where the kernel lacks MADV_POPULATE_WRITE (before 5.14) the pages fault in later.
    void* probe = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(probe, MAP_FAILED);
    const bool supported = ::madvise(probe, 4096, MADV_POPULATE_WRITE) == 0;
    ::munmap(probe, 4096);
    if (!supported) GTEST_SKIP() << "no MADV_POPULATE_WRITE";
  }
  // 512 KiB: above glibc's mmap threshold, so fresh pages that nothing has touched yet.
  BulkBuffer b(BulkBuffer::populate_bytes * 8, true);
  ASSERT_FALSE(b.mapped());
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto first = (reinterpret_cast<std::uintptr_t>(b.data()) + page - 1) & ~(page - 1);
  const auto last = (reinterpret_cast<std::uintptr_t>(b.data()) + b.size()) & ~(page - 1);
  std::vector<unsigned char> resident((last - first) / page);
  ASSERT_EQ(::mincore(reinterpret_cast<void*>(first), last - first, resident.data()), 0);
  std::size_t in = 0;
  for (unsigned char r : resident) in += r & 1;
  EXPECT_EQ(in, resident.size()) << "pages resident before any was written";
}

}  // namespace
}  // namespace p2p::core
