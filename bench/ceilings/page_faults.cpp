// page_faults: what it costs this machine to give a process fresh memory, per 4 KiB page.
//
//   page_faults [--mib M] [--rounds R] [--chunk-kib C]
//
// Each round maps M MiB of anonymous memory and writes one byte per 4 KiB page, three times:
// with transparent huge pages off, letting each write fault its page in ("fault"); the same
// after faulting the pages in C KiB at a time with madvise(MADV_POPULATE_WRITE) ("populate";
// C = 96 is the command queue's segment); and in a core::BulkBuffer, the library's mapping
// aligned to 2 MiB with MADV_HUGEPAGE (M >= 2; "huge": one fault per 2 MiB where the
// kernel has transparent huge pages; "thp_faults" counts the huge pages it gave, from
// /proc/vmstat, so a machine without them shows 0 there and 4 KiB costs). Prints one JSON
// line with the medians over R rounds, in microseconds per 4 KiB page. On a VM whose page
// tables the hypervisor shadows, the first two are far above bare metal's fraction of a
// microsecond; this is why the runtime keeps memory it has touched for reuse, faults in a
// burst's new queue segments outside its lock, and puts large tables on huge pages
// (docs/testing.md).
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "core/bulk_buffer.hpp"

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

/// Microseconds per page to map `bytes`, optionally populate it in `chunk` pieces, and write
/// one byte per page; -1 when the mapping or the populate call fails.
double us_per_page(std::size_t bytes, std::size_t page, std::size_t chunk, bool populate) {
  void* mapped = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED) return -1;
  auto* p = static_cast<volatile char*>(mapped);
#ifdef MADV_NOHUGEPAGE
  (void)::madvise(mapped, bytes, MADV_NOHUGEPAGE);
#endif
  double result = -1;
  const auto t0 = std::chrono::steady_clock::now();
  bool ok = true;
  if (populate) {
#ifdef MADV_POPULATE_WRITE
    for (std::size_t off = 0; off < bytes && ok; off += chunk)
      ok = ::madvise(static_cast<char*>(mapped) + off, std::min(chunk, bytes - off),
                     MADV_POPULATE_WRITE) == 0;
#else
    ok = false;
#endif
  }
  for (std::size_t off = 0; off < bytes; off += page) p[off] = 1;
  const auto t1 = std::chrono::steady_clock::now();
  if (ok)
    result = std::chrono::duration<double, std::micro>(t1 - t0).count() /
             static_cast<double>(bytes / page);
  ::munmap(mapped, bytes);
  return result;
}

/// The huge pages the kernel has handed out so far (thp_fault_alloc), or -1 if unknown.
long long thp_faults() {
  std::FILE* f = std::fopen("/proc/vmstat", "r");
  if (f == nullptr) return -1;
  char name[64];
  long long value = 0, found = -1;
  while (std::fscanf(f, "%63s %lld", name, &value) == 2)
    if (std::string_view(name) == "thp_fault_alloc") found = value;
  std::fclose(f);
  return found;
}

/// Microseconds per 4 KiB page to write one byte per page of a core::BulkBuffer of
/// `bytes`: the library's own huge-page mapping, measured rather than imitated. -1 when the
/// buffer is not such a mapping (below BulkBuffer::huge_page_bytes, or the mmap failed).
double huge_us_per_page(std::size_t bytes, std::size_t page) {
  p2p::core::BulkBuffer buffer(bytes, false);
  if (!buffer.mapped()) return -1;
  auto* p = static_cast<volatile char*>(buffer.data());
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t off = 0; off < bytes; off += page) p[off] = 1;
  const auto t1 = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::micro>(t1 - t0).count() /
         static_cast<double>(bytes / page);
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "page_faults: %s\nusage: page_faults [--mib M] [--rounds R] [--chunk-kib C]\n", why);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t mib = 64, rounds = 5, chunk_kib = 96;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 >= argc) usage("missing value");
    const long v = std::strtol(argv[++i], nullptr, 10);
    if (v <= 0 || v > 4096) usage("values must be 1..4096");
    if (arg == "--mib")
      mib = static_cast<std::size_t>(v);
    else if (arg == "--rounds")
      rounds = static_cast<std::size_t>(v);
    else if (arg == "--chunk-kib")
      chunk_kib = static_cast<std::size_t>(v);
    else
      usage("unknown argument");
  }
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t bytes = mib << 20;
  std::vector<double> fault, populate, huge;
  const long long thp_before = thp_faults();
  for (std::size_t r = 0; r < rounds; ++r) huge.push_back(huge_us_per_page(bytes, page));
  const long long thp_after = thp_faults();
  for (std::size_t r = 0; r < rounds; ++r) {
    fault.push_back(us_per_page(bytes, page, chunk_kib << 10, false));
    populate.push_back(us_per_page(bytes, page, chunk_kib << 10, true));
  }
  const double f = median(fault), p = median(populate), h = median(huge);
  if (f < 0) usage("mmap failed");
  // Other processes may take huge pages meanwhile: the count is an upper bound.
  const long long thp = thp_before < 0 || thp_after < 0 ? -1 : thp_after - thp_before;
  std::printf(
      "{\"ceiling\":\"page_faults\",\"mib\":%zu,\"rounds\":%zu,\"chunk_kib\":%zu,"
      "\"fault_us_per_page\":%.3f,\"populate_us_per_page\":%s,\"huge_us_per_page\":%s,"
      "\"thp_faults\":%lld,\"thp_faults_expected\":%zu}\n",
      mib, rounds, chunk_kib, f, p < 0 ? "null" : std::to_string(p).c_str(),
      h < 0 ? "null" : std::to_string(h).c_str(), thp, rounds * (bytes >> 21));
  return 0;
}
