// page_faults: what it costs this machine to give a process fresh memory, per 4 KiB page.
//
//   page_faults [--mib M] [--rounds R] [--chunk-kib C]
//
// Each round maps M MiB of anonymous memory (transparent huge pages off, so every page is
// its own fault) and writes one byte per page, twice: once letting each write fault its
// page in ("fault"), once after faulting the pages in C KiB at a time with
// madvise(MADV_POPULATE_WRITE) ("populate"; C = 96 is the command queue's segment). Prints
// one JSON line with the medians over R rounds, in microseconds per page. On a VM whose
// page tables the hypervisor shadows, both are far above bare metal's fraction of a
// microsecond; this is why the runtime keeps memory it has touched for reuse and faults in
// a burst's new queue segments outside its lock (docs/testing.md).
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
  std::vector<double> fault, populate;
  for (std::size_t r = 0; r < rounds; ++r) {
    fault.push_back(us_per_page(bytes, page, chunk_kib << 10, false));
    populate.push_back(us_per_page(bytes, page, chunk_kib << 10, true));
  }
  const double f = median(fault), p = median(populate);
  if (f < 0) usage("mmap failed");
  std::printf(
      "{\"ceiling\":\"page_faults\",\"mib\":%zu,\"rounds\":%zu,\"chunk_kib\":%zu,"
      "\"fault_us_per_page\":%.3f,\"populate_us_per_page\":%s}\n",
      mib, rounds, chunk_kib, f, p < 0 ? "null" : std::to_string(p).c_str());
  return 0;
}
