#include "p2p/error.hpp"

namespace p2p {

const char* errc_name(Errc code) noexcept {
  switch (code) {
    case Errc::truncated:
      return "truncated";
    case Errc::malformed:
      return "malformed";
    case Errc::depth_exceeded:
      return "depth_exceeded";
    case Errc::too_large:
      return "too_large";
    case Errc::checksum_mismatch:
      return "checksum_mismatch";
    case Errc::compression:
      return "compression";
    case Errc::protocol:
      return "protocol";
    case Errc::invalid_argument:
      return "invalid_argument";
    case Errc::io:
      return "io";
    case Errc::closed:
      return "closed";
  }
  return "unknown";
}

}  // namespace p2p
