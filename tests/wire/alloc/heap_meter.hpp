// Measures the peak of live heap bytes over a scope, by replacing the global operator new
// and delete of this test binary (heap_meter.cpp). Not thread-safe by design: tests that
// use it run the measured code on the calling thread only.
#pragma once

#include <cstddef>

namespace p2p::test {

class HeapMeter {
 public:
  HeapMeter();   ///< starts measuring from the current live bytes
  ~HeapMeter();  ///< stops measuring
  HeapMeter(const HeapMeter&) = delete;
  HeapMeter& operator=(const HeapMeter&) = delete;

  /// Highest number of bytes allocated since construction and live at the same time.
  std::size_t peak() const;
};

}  // namespace p2p::test
