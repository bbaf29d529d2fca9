// rss_floor: the resident memory an idle node cannot go below while it links the shared
// libraries p2pmesh links. It loads them all (libssl, libcrypto, zlib, libbz2, liblzma,
// libsnappy, libstdc++), hashes once with the SHA-256 calls p2pmesh uses, parks one thread
// in epoll_wait as an idle io thread does, and does nothing else. bench/run.py reads its
// VmRSS beside the idle MeshSocket's (`p2p_bench_mesh hub`), the same way: what the hub
// holds above this floor is p2pmesh's own; the floor is the libraries' loading (their
// relocations, and the pages around every page touched, which the kernel maps in 64 KiB
// blocks).
//
//   rss_floor      prints {"event":"ready"}, then waits for its stdin to close
#define OPENSSL_SUPPRESS_DEPRECATED  // the low-level SHA256_* calls, as src/wire/ids.cpp
#include <bzlib.h>
#include <lzma.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <snappy.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <thread>

namespace {

/// One function of every library, so the linker records each as needed (also where it
/// links with --as-needed) although the floor calls none of them: loading them is the point.
void* const libraries[] = {
    reinterpret_cast<void*>(&TLS_method),
    reinterpret_cast<void*>(&zlibVersion),
    reinterpret_cast<void*>(&BZ2_bzlibVersion),
    reinterpret_cast<void*>(&lzma_version_string),
    reinterpret_cast<void*>(static_cast<size_t (*)(size_t)>(&snappy::MaxCompressedLength)),
};

}  // namespace

int main() {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, "floor", 5);
  SHA256_Final(digest, &ctx);

  const int poller = epoll_create1(EPOLL_CLOEXEC);
  const int stop = eventfd(0, EFD_CLOEXEC);
  if (poller < 0 || stop < 0) {
    std::perror("rss_floor: epoll_create1/eventfd");
    return 1;
  }
  epoll_event watch{};
  watch.events = EPOLLIN;
  if (epoll_ctl(poller, EPOLL_CTL_ADD, stop, &watch) != 0) {
    std::perror("rss_floor: epoll_ctl");
    return 1;
  }
  std::thread io([poller] {
    epoll_event ev{};
    while (epoll_wait(poller, &ev, 1, -1) < 0 && errno == EINTR) {
    }
  });

  // Reading the digest and the table into a volatile keeps both: an optimiser may drop
  // what nothing reads, and the libraries with the table.
  volatile std::uintptr_t sink = digest[0];
  for (void* f : libraries) sink = sink + reinterpret_cast<std::uintptr_t>(f);
  std::printf("{\"event\":\"ready\"}\n");
  std::fflush(stdout);

  char buf[256];
  while (read(STDIN_FILENO, buf, sizeof buf) > 0) {
  }
  const std::uint64_t one = 1;
  if (write(stop, &one, sizeof one) != sizeof one) std::perror("rss_floor: eventfd write");
  io.join();
  return 0;
}
