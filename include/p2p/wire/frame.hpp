// Frames: `uint32 BE length | C(sha256(body) ++ body)`, and an incremental reader.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>

#include "p2p/bytes.hpp"
#include "p2p/error.hpp"
#include "p2p/wire/compression.hpp"
#include "p2p/wire/ids.hpp"

namespace p2p::wire {

inline constexpr std::size_t frame_header_size = 4;
inline constexpr std::size_t checksum_size = 32;

/// Builds a whole frame (header included) around `body` whose sha256 is `id`, compressed
/// with `method` when given. Fails only when the codec fails or the result would not fit the
/// 32-bit length.
Result<Bytes> make_frame(ByteView body, const Digest256& id,
                         std::optional<Compression> method = std::nullopt);
/// Convenience: computes the id itself.
Result<Bytes> make_frame(ByteView body, std::optional<Compression> method = std::nullopt);

/// Bytes before the body in an uncompressed frame: the length header and the checksum.
inline constexpr std::size_t raw_frame_overhead = 4 + 32;
/// Turns `buffer` = [raw_frame_overhead spare bytes][body] into the uncompressed frame of
/// that body in place, and returns the body's sha256 (its id). Errc::too_large when the
/// content would not fit the 32-bit length.
Result<Digest256> seal_raw_frame(std::span<std::uint8_t> buffer);
inline Result<Digest256> seal_raw_frame(Bytes& buffer) {
  return seal_raw_frame(std::span<std::uint8_t>(buffer));
}

struct OpenedFrame {
  Bytes body;                         ///< uncompressed msgpack body (checksum stripped)
  Digest256 id{};                     ///< sha256(body), the message id
  std::optional<Compression> method;  ///< how it was compressed; nullopt for raw
};

/// Opens the content of one frame (the bytes after the length header) with the receiver's
/// rule of the protocol: try each method of `try_order` (the sender's advertised list,
/// intersected with ours, in the sender's order) and accept the first whose output carries a
/// matching checksum; then take the bytes as uncompressed. Errc::checksum_mismatch when
/// nothing verifies; Errc::too_large when a body would exceed `max_body`.
Result<OpenedFrame> open_frame(ByteView content, std::span<const Compression> try_order,
                               std::size_t max_body);

/// open_frame() without copying an uncompressed body: `body` views the `content` passed in
/// (raw frame) or `storage` (decompressed). Valid while both live; moving an OpenedView
/// keeps the view valid (the vector's buffer moves with it).
struct OpenedView {
  ByteView body;
  Digest256 id{};
  std::optional<Compression> method;
  Bytes storage;
};
Result<OpenedView> open_frame_view(ByteView content, std::span<const Compression> try_order,
                                   std::size_t max_body);

/// Splits a byte stream into frame contents. Takes arbitrary chunks; a frame that lies
/// wholly inside one chunk is handed out without a copy, only partial frames are buffered.
/// The announced length is checked against `max_frame` from the header alone, before a byte
/// of the frame is buffered.
class FrameReader {
 public:
  explicit FrameReader(std::size_t max_frame) : max_frame_(max_frame) {}

  /// Feeds `chunk`; calls `on_frame(content)` for each complete frame, in order. The view is
  /// valid only during the call. After an error the reader stays failed (the stream is
  /// unrecoverable) and every later feed returns the same error.
  Status feed(ByteView chunk, const std::function<void(ByteView content)>& on_frame);

  /// True while a partial frame (or partial header) is buffered: a stall detector reads it.
  bool has_partial() const noexcept { return !buffer_.empty(); }
  /// Bytes currently buffered for a partial frame.
  std::size_t buffered() const noexcept { return buffer_.size(); }
  std::size_t max_frame() const noexcept { return max_frame_; }

 private:
  std::size_t max_frame_;
  Bytes buffer_;
  std::optional<Error> failed_;
};

}  // namespace p2p::wire
