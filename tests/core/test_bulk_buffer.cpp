// BulkBuffer: heap memory for small tables, a 2 MiB-aligned mapping for large ones.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <utility>

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

}  // namespace
}  // namespace p2p::core
