#include "p2p/wire/frame.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "wire/compression_codecs.hpp"

namespace p2p::wire {

namespace {

constexpr std::size_t max_frame_content = std::numeric_limits<std::uint32_t>::max();

void put_u32_be(std::uint8_t* at, std::uint32_t v) noexcept {
  at[0] = static_cast<std::uint8_t>(v >> 24);
  at[1] = static_cast<std::uint8_t>(v >> 16);
  at[2] = static_cast<std::uint8_t>(v >> 8);
  at[3] = static_cast<std::uint8_t>(v);
}

std::uint32_t get_u32_be(const std::uint8_t* at) noexcept {
  return (std::uint32_t{at[0]} << 24) | (std::uint32_t{at[1]} << 16) | (std::uint32_t{at[2]} << 8) |
         std::uint32_t{at[3]};
}

bool checksum_matches(ByteView content) noexcept {
  if (content.size() < checksum_size) return false;
  const Digest256 actual = sha256(content.subspan(checksum_size));
  return std::equal(actual.begin(), actual.end(), content.begin());
}

Digest256 leading_digest(ByteView content) noexcept {
  Digest256 id{};
  std::copy_n(content.begin(), checksum_size, id.begin());
  return id;
}

}  // namespace

Result<Bytes> make_frame(ByteView body, const Digest256& id, std::optional<Compression> method) {
  const ByteView pieces[] = {ByteView(id), body};
  Bytes frame;
  if (!method) {
    frame.reserve(frame_header_size + checksum_size + body.size());
    frame.resize(frame_header_size);
    frame.insert(frame.end(), id.begin(), id.end());
    frame.insert(frame.end(), body.begin(), body.end());
  } else {
    frame.resize(frame_header_size);
    Status status = detail::compress_pieces(*method, pieces, frame);
    if (!status) return status.error();
  }
  const std::size_t content = frame.size() - frame_header_size;
  if (content > max_frame_content) {
    return Error{Errc::too_large, "frame content of " + std::to_string(content) +
                                      " bytes does not fit the 32-bit length"};
  }
  put_u32_be(frame.data(), static_cast<std::uint32_t>(content));
  return frame;
}

Result<Bytes> make_frame(ByteView body, std::optional<Compression> method) {
  return make_frame(body, sha256(body), method);
}

Result<Digest256> seal_raw_frame(std::span<std::uint8_t> buffer) {
  static_assert(raw_frame_overhead == frame_header_size + checksum_size);
  if (buffer.size() < raw_frame_overhead)
    return Error{Errc::invalid_argument, "seal_raw_frame: no room for the frame header"};
  const std::size_t content = buffer.size() - frame_header_size;
  if (content > max_frame_content) {
    return Error{Errc::too_large, "frame content of " + std::to_string(content) +
                                      " bytes does not fit the 32-bit length"};
  }
  const Digest256 id = sha256(ByteView(buffer).subspan(raw_frame_overhead));
  put_u32_be(buffer.data(), static_cast<std::uint32_t>(content));
  std::copy(id.begin(), id.end(), buffer.begin() + frame_header_size);
  return id;
}

Result<OpenedView> open_frame_view(ByteView content, std::span<const Compression> try_order,
                                   std::size_t max_body) {
  const std::size_t max_content = max_body > std::numeric_limits<std::size_t>::max() - checksum_size
                                      ? std::numeric_limits<std::size_t>::max()
                                      : max_body + checksum_size;
  bool some_method_too_large = false;
  for (auto it = try_order.begin(); it != try_order.end(); ++it) {
    const Compression method = *it;
    if (std::find(try_order.begin(), it, method) != it) continue;  // already tried
    Result<Bytes> plain = decompress(method, content, max_content);
    if (!plain) {
      // Keep going: the bytes may be raw (js2p's second handshake arrives uncompressed on a
      // compressed link) and a raw frame can look like a huge snappy length header.
      some_method_too_large |= plain.error().code == Errc::too_large;
      continue;
    }
    if (!checksum_matches(*plain)) continue;
    OpenedView opened;
    opened.id = leading_digest(*plain);
    opened.storage = std::move(*plain);
    opened.body = ByteView(opened.storage).subspan(checksum_size);
    opened.method = method;
    return opened;
  }
  if (content.size() > max_content) {
    return Error{Errc::too_large,
                 "frame body of " + std::to_string(content.size() - checksum_size) +
                     " bytes exceeds the " + std::to_string(max_body) + " byte limit"};
  }
  if (checksum_matches(content)) {
    OpenedView opened;
    opened.id = leading_digest(content);
    opened.body = content.subspan(checksum_size);
    return opened;
  }
  if (some_method_too_large) {
    return Error{Errc::too_large, "frame decompresses to more than the " +
                                      std::to_string(max_body) +
                                      " byte body limit and is not a valid uncompressed frame"};
  }
  return Error{Errc::checksum_mismatch, "no method of " + std::to_string(try_order.size()) +
                                            " nor the raw bytes carry a matching sha256 (" +
                                            std::to_string(content.size()) + " content bytes)"};
}

Result<OpenedFrame> open_frame(ByteView content, std::span<const Compression> try_order,
                               std::size_t max_body) {
  auto view = open_frame_view(content, try_order, max_body);
  if (!view) return view.error();
  OpenedFrame opened;
  opened.body.assign(view->body.begin(), view->body.end());
  opened.id = view->id;
  opened.method = view->method;
  return opened;
}

Status FrameReader::feed(ByteView chunk, const std::function<void(ByteView content)>& on_frame) {
  if (failed_) return *failed_;
  // Reads a header, failing the reader for lengths it will never accept.
  auto announced = [this](const std::uint8_t* header) -> Result<std::size_t> {
    const std::uint32_t length = get_u32_be(header);
    if (length == 0) {
      failed_ = Error{Errc::malformed, "frame of length 0"};
      return *failed_;
    }
    if (length > max_frame_) {
      failed_ =
          Error{Errc::too_large, "frame of " + std::to_string(length) + " bytes exceeds the " +
                                     std::to_string(max_frame_) + " byte limit"};
      return *failed_;
    }
    return std::size_t{length};
  };

  while (!chunk.empty()) {
    if (!buffer_.empty()) {
      // Continue a partial frame: complete its header first, then its content.
      if (buffer_.size() < frame_header_size) {
        const std::size_t take = std::min(frame_header_size - buffer_.size(), chunk.size());
        buffer_.insert(buffer_.end(), chunk.begin(), chunk.begin() + take);
        chunk = chunk.subspan(take);
        if (buffer_.size() < frame_header_size) return {};
        if (Result<std::size_t> length = announced(buffer_.data()); !length) {
          buffer_.clear();
          return length.error();
        }
      }
      const std::size_t whole = frame_header_size + get_u32_be(buffer_.data());
      const std::size_t take = std::min(whole - buffer_.size(), chunk.size());
      buffer_.insert(buffer_.end(), chunk.begin(), chunk.begin() + take);
      chunk = chunk.subspan(take);
      if (buffer_.size() < whole) return {};
      // Hand the frame out of a local so that the reader is consistent even if on_frame
      // throws, and reuse the allocation unless it was a big one.
      Bytes frame = std::move(buffer_);
      buffer_.clear();
      on_frame(ByteView(frame).subspan(frame_header_size));
      constexpr std::size_t kept_capacity = 64 * 1024;
      if (frame.capacity() <= kept_capacity) {
        frame.clear();
        buffer_ = std::move(frame);
      }
      continue;
    }
    if (chunk.size() < frame_header_size) {
      buffer_.assign(chunk.begin(), chunk.end());
      return {};
    }
    Result<std::size_t> length = announced(chunk.data());
    if (!length) return length.error();
    const std::size_t whole = frame_header_size + *length;
    if (chunk.size() >= whole) {
      on_frame(chunk.subspan(frame_header_size, *length));  // zero-copy: wholly in this chunk
      chunk = chunk.subspan(whole);
      continue;
    }
    buffer_.assign(chunk.begin(), chunk.end());
    return {};
  }
  return {};
}

}  // namespace p2p::wire
