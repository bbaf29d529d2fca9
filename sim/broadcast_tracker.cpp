#include "broadcast_tracker.hpp"

#include <algorithm>
#include <cstring>

#include "p2p/flags.hpp"
#include "p2p/wire/compression.hpp"
#include "p2p/wire/frame.hpp"
#include "p2p/wire/message.hpp"
#include "rng.hpp"

namespace p2p::sim {
namespace {

// Enough for any frame the engine may build (its own bound is Limits::max_body_bytes).
constexpr std::size_t kMaxBody = std::size_t{1} << 26;
// Distinct frames remembered. Clearing is always safe: an entry only saves a decode.
constexpr std::size_t kMaxCached = std::size_t{1} << 16;

/// The main flag of a body without decoding it: the first element of the msgpack array,
/// when it is a positive fixint (it always is on the wire).
std::optional<std::uint8_t> peek_main_flag(ByteView body) {
  if (body.empty()) return std::nullopt;
  std::size_t at = 0;
  const std::uint8_t head = body[0];
  if (head >= 0x91 && head <= 0x9f) {
    at = 1;
  } else if (head == 0xdc) {
    at = 3;
  } else if (head == 0xdd) {
    at = 5;
  } else {
    return std::nullopt;
  }
  if (at >= body.size() || body[at] > 0x7f) return std::nullopt;
  return body[at];
}

}  // namespace

std::size_t BroadcastTracker::DigestHash::operator()(const wire::Digest256& d) const noexcept {
  std::size_t h;  // a sha256 is uniformly distributed already
  std::memcpy(&h, d.data(), sizeof h);
  return h;
}

FrameInfo BroadcastTracker::classify_send(const core::SharedFrame& frame, NodeIndex from,
                                          Duration at, std::size_t node_count) {
  if (auto it = cache_.find(frame.get()); it != cache_.end()) return it->second.info;
  FrameInfo info = inspect(frame, from, at, node_count);
  if (cache_.size() >= kMaxCached) cache_.clear();
  cache_.emplace(frame.get(), Cached{frame, info});
  return info;
}

FrameInfo BroadcastTracker::inspect(const core::SharedFrame& frame, NodeIndex from, Duration at,
                                    std::size_t node_count) {
  FrameInfo info;
  const Bytes& bytes = *frame;
  info.hash = hash_bytes(bytes);
  if (bytes.size() < wire::frame_header_size + wire::checksum_size) {
    ++unreadable_;
    return info;
  }
  const ByteView content = ByteView(bytes).subspan(wire::frame_header_size);

  // Raw frames (handshakes, links without a common codec) verify directly; only the rest
  // needs a codec search. A raw body starts with a msgpack array header, so other first
  // bytes skip the wasted hash.
  Bytes opened;
  ByteView body = content.subspan(wire::checksum_size);
  wire::Digest256 id{};
  bool raw = false;
  if (peek_main_flag(body)) {
    id = wire::sha256(body);
    raw = std::equal(id.begin(), id.end(), content.begin());
  }
  if (!raw) {
    auto r = wire::open_frame(content, wire::all_compressions, kMaxBody);
    if (!r) {
      ++unreadable_;
      return info;
    }
    opened = std::move(r->body);
    body = opened;
    id = r->id;
  }
  if (peek_main_flag(body) != flags::broadcast) return info;

  if (auto it = by_id_.find(id); it != by_id_.end()) {
    info.broadcast = it->second;
    return info;
  }
  Tracked t;
  t.id = id;
  t.origin = from;
  t.start = at;
  if (auto decoded = wire::decode_body(body); decoded && !decoded->payload.empty()) {
    const Value& sub = decoded->payload.front();
    if (sub.is_int() && !sub.is_negative_int()) t.sub_flag = sub.as_uint();
  }
  t.nodes.resize(node_count);
  info.broadcast = static_cast<std::int32_t>(tracked_.size());
  by_id_.emplace(id, info.broadcast);
  tracked_.push_back(std::move(t));
  return info;
}

BroadcastTracker::PerNode& BroadcastTracker::slot(Tracked& t, NodeIndex n) {
  if (n >= t.nodes.size()) t.nodes.resize(n + 1);  // a node added after the broadcast began
  return t.nodes[n];
}

void BroadcastTracker::count_sent(std::int32_t b, NodeIndex from) {
  if (b < 0) return;
  Tracked& t = tracked_[static_cast<std::size_t>(b)];
  ++t.copies;
  ++slot(t, from).sent;
}

void BroadcastTracker::count_received(std::int32_t b, NodeIndex at, Duration when) {
  if (b < 0) return;
  Tracked& t = tracked_[static_cast<std::size_t>(b)];
  ++t.copies_received;
  PerNode& p = slot(t, at);
  if (p.received++ == 0) p.first = when;
}

void BroadcastTracker::count_delivered(const wire::Digest256& id, NodeIndex at) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;  // a whisper, or a broadcast we never saw on the wire
  ++slot(tracked_[static_cast<std::size_t>(it->second)], at).delivered;
}

std::optional<std::size_t> BroadcastTracker::find(const wire::Digest256& id) const {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  return static_cast<std::size_t>(it->second);
}

BroadcastReport BroadcastTracker::report(std::size_t b, std::size_t node_count) const {
  const Tracked& t = tracked_.at(b);
  BroadcastReport r;
  r.id_hex = wire::digest_hex(t.id);
  r.origin = t.origin;
  r.sub_flag = t.sub_flag;
  r.start = t.start;
  r.nodes = node_count;
  r.copies = t.copies;
  r.copies_received = t.copies_received;
  Duration last{0};
  for (std::size_t n = 0; n < t.nodes.size() && n < node_count; ++n) {
    const PerNode& p = t.nodes[n];
    r.max_copies_sent = std::max(r.max_copies_sent, p.sent);
    r.max_copies_received = std::max(r.max_copies_received, p.received);
    if (p.delivered > 0) ++r.delivered;
    if (p.delivered > 1) ++r.delivered_more_than_once;
    if (n == t.origin || p.received == 0) continue;
    ++r.reached;
    last = std::max(last, p.first - t.start);
  }
  r.time_to_last = last;
  if (node_count > 0 && r.reached == node_count - 1) r.time_to_all = last;
  // Every copy beyond a node's first is a duplicate; the origin's echoes count too.
  if (r.reached > 0) {
    r.duplicate_ratio =
        static_cast<double>(t.copies_received - r.reached) / static_cast<double>(r.reached);
  }
  return r;
}

}  // namespace p2p::sim
