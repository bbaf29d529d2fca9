// core::Node: what happens to each frame a peer sends us.
#include <algorithm>
#include <utility>

#include "core/node_impl.hpp"
#include "p2p/flags.hpp"

namespace p2p::core {

namespace {

/// The bytes of a str or bin value (ids and request ids travel as either).
bool bytes_arg(const Value& v, std::string& out, bool& is_bin) {
  if (const auto* s = v.if_str()) {
    out = *s;
    is_bin = false;
    return true;
  }
  if (const auto* b = v.if_bin()) {
    out.assign(b->begin(), b->end());
    is_bin = true;
    return true;
  }
  return false;
}

/// A small non-negative integer (a flag or a port), or -1.
std::int64_t small_uint(const Value& v, std::uint64_t max) {
  if (!v.is_int() || v.is_negative_int()) return -1;
  const std::uint64_t u = v.as_uint();
  return u <= max ? static_cast<std::int64_t>(u) : -1;
}

/// [host, port] as both references write it.
bool address_arg(const Value& v, Address& out) {
  const Array* a = v.if_array();
  if (!a || a->size() != 2) return false;
  std::string host;
  bool is_bin = false;
  if (!bytes_arg((*a)[0], host, is_bin) || host.empty() || host.size() > 255) return false;
  const auto port = small_uint((*a)[1], 65535);
  if (port <= 0) return false;
  out = Address{std::move(host), static_cast<std::uint16_t>(port)};
  return true;
}

// Ids are base58 of a SHA-384 (about 66 characters); anything far longer is hostile.
constexpr std::size_t max_id_bytes = 128;

}  // namespace

void Node::Impl::protocol_violation(Conn& c, const std::string& why) {
  ++counters.protocol_errors;
  log(1, "protocol violation on connection " + std::to_string(c.id) + " (" + c.remote.to_string() +
             "): " + why);
  if (!c.handshaked) {
    ++counters.handshake_failures;
    event(EventKind::handshake_failed, c.id, {}, why);
  }
  close_conn(c, why);
}

namespace {

/// Adds what `v`'s buffers hold to `total`; false once `total` passes `limit`.
bool add_kept(const Value& v, std::size_t& total, std::size_t limit) noexcept {
  if (const std::string* s = v.if_str())
    total += s->capacity();
  else if (const Bytes* b = v.if_bin())
    total += b->capacity();
  else if (const Array* a = v.if_array()) {
    total += a->capacity() * sizeof(Value);
    for (const Value& item : *a)
      if (total > limit || !add_kept(item, total, limit)) return false;
  } else if (const Map* m = v.if_map()) {
    total += m->capacity() * sizeof(Map::value_type);
    for (const auto& [key, value] : *m)
      if (total > limit || !add_kept(key, total, limit) || !add_kept(value, total, limit))
        return false;
  }
  return total <= limit;
}

}  // namespace

std::size_t kept_bytes(const wire::Body& body, std::size_t limit) noexcept {
  std::size_t total = body.sender.capacity() + body.payload.capacity() * sizeof(Value);
  for (const Value& v : body.payload)
    if (total > limit || !add_kept(v, total, limit)) break;
  return total;
}

void Node::Impl::on_frame(Conn& c, ByteView content, Time now) {
  ++counters.frames_in;
  auto opened = wire::open_frame_view(content, c.try_order, config.limits.max_body_bytes);
  if (!opened && opened.error().code == Errc::checksum_mismatch &&
      c.try_order.size() < config.compression.size()) {
    // Frames already in flight when a peer renegotiates still use its previous methods
    // (py2p sends renegotiate/compression [] and then a snappy-compressed resend). Every
    // method we advertised is acceptable, and the checksum decides, so try them all.
    opened = wire::open_frame_view(content, config.compression, config.limits.max_body_bytes);
  }
  if (!opened) {
    if (opened.error().code == Errc::checksum_mismatch) ++counters.checksum_failures;
    // A body over max_body_bytes (a compression bomb) is refused like a frame over
    // max_frame_bytes, and counted with them.
    if (opened.error().code == Errc::too_large) ++counters.oversize_frames;
    protocol_violation(c, opened.error().to_string());
    return;
  }
  seen.prefetch(opened->id);  // a broadcast's de-duplication, while the body decodes
  // A frame that arrives while another one's handlers run (the runtime never does this, a
  // handler driving the engine directly could) decodes into a body of its own.
  wire::Body own;
  wire::Body& body = inbound_in_use ? own : inbound;
  auto decoded =
      wire::decode_body_into(opened->body, body, wire::DecodeLimits{config.limits.max_depth});
  if (!decoded) {
    protocol_violation(c, "undecodable body: " + decoded.error().to_string());
  } else {
    struct InUse {
      bool& flag;
      bool was;
      ~InUse() { flag = was; }
    } in_use{inbound_in_use, std::exchange(inbound_in_use, true)};
    dispatch(c, body, *opened, content, now);
  }
  // Only a small body's buffers are worth keeping for the next frame (inbound_keep_bytes),
  // whether it decoded or failed part way. Most frames are small, so the walk usually looks
  // at a handful of values; one with many is also one whose buffers go.
  if (&body == &inbound && kept_bytes(inbound, Node::inbound_keep_bytes) > Node::inbound_keep_bytes)
    inbound = wire::Body();
}

void Node::Impl::dispatch(Conn& c, wire::Body& body, const wire::OpenedView& opened,
                          ByteView content, Time now) {
  if (config.log && config.log_level >= 5)
    log(5, "in  " + std::to_string(c.id) + " " + Value(body.payload).repr());
  switch (body.msg_type) {
    case flags::renegotiate:
      handle_renegotiate(c, body, now);
      return;
    case flags::broadcast: {
      ++counters.broadcast_copies_in;
      if (!c.handshaked) {
        ++counters.ignored;  // a compliant peer always handshakes first
        return;
      }
      if (body.time + SeenCache::window_seconds < now.utc) {
        ++counters.expired_dropped;
        return;
      }
      if (!seen.insert(opened.id, body.time)) {
        ++counters.duplicates_dropped;
        return;
      }
      relay(c, body, opened, content);
      handle_message(c, body, opened, now);
      return;
    }
    case flags::whisper:
      handle_message(c, body, opened, now);
      return;
    default:
      ++counters.ignored;
      return;
  }
}

void Node::Impl::relay(Conn& from, const wire::Body& body, const wire::OpenedView& opened,
                       ByteView content) {
  // Forward to every peer except the original sender AND the link it came from: the
  // protocol allows skipping the previous hop, and it cuts the copies of a flood from
  // n(n-1) to (n-1)^2 without losing reachability.
  FrameSet frames(opened.body, opened.id);
  frames.set_received(opened.method, content);
  bool any = false;
  for (const auto& [pid, cid] : routing) {
    if (cid == from.id || pid == body.sender) continue;
    Conn* c = find(cid);
    if (!c) continue;
    send_frame(*c, frames.get(c->info.compression));
    any = true;
  }
  if (any) ++counters.broadcasts_relayed;
}

void Node::Impl::handle_message(Conn& c, wire::Body& body, const wire::OpenedView& opened,
                                Time now) {
  if (body.payload.empty()) {
    ++counters.ignored;
    return;
  }
  const std::int64_t sub = small_uint(body.payload[0], 255);
  const bool whisper = body.msg_type == flags::whisper;
  // Link-level messages are only accepted as whispers: a handshake or peers list that
  // arrived as a broadcast would otherwise be relayed and acted on by every node.
  if (sub == flags::handshake && whisper) return handle_handshake(c, body, now);
  if (!c.handshaked) {
    ++counters.ignored;
    return;
  }
  if (sub == flags::peers && whisper) return handle_peers(c, body, now);
  if (sub == flags::request) return handle_request(c, body, now);
  if (sub == flags::response) return handle_response(c, body, now);

  // The body's sender and packets are lent to the message and taken back when it is done
  // (also when a handler throws), for the next frame's decode. Only a message queued for
  // recv() keeps them.
  Message msg;
  msg.msg_type = body.msg_type;
  msg.sender.swap(body.sender);
  msg.sender_is_bin = body.sender_is_bin;
  msg.time = body.time;
  msg.packets.swap(body.payload);
  msg.id = opened.id;
  msg.via = c.id;
  struct TakeBack {
    Message& from;
    wire::Body& to;
    bool keep = true;
    ~TakeBack() {
      if (!keep) return;
      to.sender.swap(from.sender);
      to.payload.swap(from.packets);
    }
  } take_back{msg, body};
  const ConnId cid = c.id;
  // Handlers may register handlers, send, or close links. Registration only appends, so
  // the chain as it was when the message arrived is its first `count` entries; each call
  // holds its handler alive and re-finds the connection.
  const std::size_t count = handlers.size();
  for (std::size_t i = 0; i < count && i < handlers.size(); ++i) {
    const std::shared_ptr<Handler> h = handlers[i];
    Conn* live = find(cid);
    LinkView view{cid, live && live->handshaked ? &live->info : nullptr};
    if ((*h)(msg, view)) {
      ++counters.messages_handled;
      return;
    }
  }
  if (sub == flags::broadcast || sub == flags::whisper) {
    ++counters.messages_delivered;
    take_back.keep = false;
    emit(DeliverCmd{std::move(msg)});
  } else {
    ++counters.ignored;
  }
}

void Node::Impl::handle_renegotiate(Conn& c, const wire::Body& body, Time now) {
  const auto& p = body.payload;
  const std::int64_t sub = p.empty() ? -1 : small_uint(p[0], 255);
  if (sub == flags::compression && p.size() == 2 && p[1].is_array()) {
    std::vector<std::uint8_t> methods;
    for (const auto& m : p[1].as_array()) {
      const auto f = small_uint(m, 255);
      if (f < 0) return protocol_violation(c, "renegotiate: compression list of non-integers");
      methods.push_back(static_cast<std::uint8_t>(f));
    }
    const bool changed = methods != c.info.advertised;
    const auto theirs = set_peer_methods(c, std::move(methods));
    log(2, "compression renegotiated on connection " + std::to_string(c.id));
    if (changed) {
      // Answer with what we both have, in our order, so the peer settles on the same set.
      Array ours;
      for (auto m : config.compression)
        if (std::find(theirs.begin(), theirs.end(), m) != theirs.end())
          ours.emplace_back(static_cast<std::uint8_t>(m));
      send_internal(c, flags::renegotiate, Array{Value(flags::compression), Value(ours)}, now);
    }
    return;
  }
  if (sub == flags::resend) {
    // Resend the last user-level message once, with the link's current compression. Only
    // once per message: py2p asks for a resend whenever handling *any* message fails, and
    // answering every ask could ping-pong forever.
    if (c.last_frame && !c.last_resent) {
      c.last_resent = true;
      FrameSet frames(ByteView(*c.last_frame).subspan(wire::raw_frame_overhead), c.last_id);
      frames.set_raw(c.last_frame);
      send_frame(c, frames.get(c.info.compression));
    }
    return;
  }
  ++counters.ignored;
}

std::vector<wire::Compression> Node::Impl::set_peer_methods(Conn& c,
                                                            std::vector<std::uint8_t> advertised) {
  std::vector<wire::Compression> theirs;
  for (auto f : advertised)
    if (auto m = wire::compression_from_flag(f)) theirs.push_back(*m);
  c.info.advertised = std::move(advertised);
  tables_changed();
  // We write with the first of OUR methods the peer has; we read by trying the peer's
  // methods that we also have, in the PEER's order (the receiver's rule of protocol.md).
  c.info.compression = wire::choose_compression(config.compression, theirs);
  c.try_order.clear();
  for (auto m : theirs)
    if (std::find(config.compression.begin(), config.compression.end(), m) !=
        config.compression.end())
      c.try_order.push_back(m);
  return theirs;
}

void Node::Impl::handle_handshake(Conn& c, const wire::Body& body, Time now) {
  const auto& p = body.payload;
  // Exactly [handshake, id, protocol_id, [host, port], [methods...]], as the references
  // require ("5 elements counting from the sub-flag").
  if (p.size() != 5)
    return protocol_violation(c, "handshake with " + std::to_string(p.size()) + " elements");
  PeerId pid;
  bool is_bin = false;
  if (!bytes_arg(p[1], pid, is_bin) || pid.empty() || pid.size() > max_id_bytes)
    return protocol_violation(c, "handshake: bad id");
  std::string prot;
  bool prot_bin = false;
  if (!bytes_arg(p[2], prot, prot_bin)) return protocol_violation(c, "handshake: bad protocol id");
  Address addr;
  if (!address_arg(p[3], addr)) return protocol_violation(c, "handshake: bad address");
  const Array* methods = p[4].if_array();
  if (!methods || methods->size() > 64)
    return protocol_violation(c, "handshake: bad compression list");
  std::vector<std::uint8_t> advertised;
  for (const auto& m : *methods) {
    const auto f = small_uint(m, 255);
    if (f < 0) return protocol_violation(c, "handshake: bad compression flag");
    advertised.push_back(static_cast<std::uint8_t>(f));
  }

  if (prot != config.protocol.id()) {
    ++counters.wrong_protocol;
    ++counters.handshake_failures;
    log(1, "peer at " + c.remote.to_string() + " is on another subnet (" + prot + ")");
    event(EventKind::handshake_failed, c.id, pid, "wrong protocol " + prot);
    close_conn(c, "wrong protocol");
    return;
  }
  if (pid == id) {
    ++counters.self_connections;
    event(EventKind::handshake_failed, c.id, pid, "connected to ourselves");
    close_conn(c, "connected to ourselves");
    return;
  }
  if (c.handshaked) {
    // js2p repeats its handshake on the same link; the same id again is harmless.
    if (pid != c.info.id) return protocol_violation(c, "second handshake with another id");
    return;
  }
  install_peer(c, std::move(pid), is_bin, std::move(addr), std::move(advertised), now);
}

void Node::Impl::install_peer(Conn& c, PeerId pid, bool is_bin, Address addr,
                              std::vector<std::uint8_t> advertised, Time now) {
  if (auto it = routing.find(pid); it != routing.end() && it->second != c.id) {
    // Both sides dialled each other. Keep the link dialled by the node with the larger id
    // (py2p's rule), which both ends compute alike, and close the other.
    Conn* old = find(it->second);
    const bool we_are_larger = wire::compare_base58_int(id, pid) > 0;
    const bool keep_new =
        old == nullptr || (c.outgoing == we_are_larger && old->outgoing != c.outgoing);
    ++counters.duplicate_connections;
    if (!keep_new) {
      close_conn(c, "duplicate connection");
      return;
    }
    close_conn(*old, "duplicate connection");
  }
  c.info.id = pid;
  c.info.id_is_bin = is_bin;
  c.info.conn = c.id;
  c.info.addr = addr;
  c.info.outgoing = c.outgoing;
  set_peer_methods(c, std::move(advertised));
  set_handshaked(c, true);
  routing[pid] = c.id;
  ++counters.handshakes_completed;
  remember_peer(pid, is_bin, addr);
  if (auto k = known.find(pid); k != known.end()) k->second.failures = 0;
  log(1, "peer " + pid.substr(0, 12) + " at " + addr.to_string() + " joined");
  if (routing.size() == 1) event(EventKind::connect, c.id, pid, "");
  event(EventKind::peer_joined, c.id, pid, "");
  send_peers(c, now);
  // Whispers of indirect replies that waited for this link.
  auto queued = std::move(c.after_handshake);
  c.after_handshake.clear();
  for (auto& q : queued) {
    Array payload;
    payload.emplace_back(flags::whisper);
    payload.insert(payload.end(), q.packets.begin(), q.packets.end());
    send_internal(c, flags::whisper, payload, now);
  }
}

void Node::Impl::handle_peers(Conn& c, const wire::Body& body, Time now) {
  const auto& p = body.payload;
  const Array* list = p.size() == 2 ? p[1].if_array() : nullptr;
  if (!list) {
    ++counters.ignored;
    return;
  }
  (void)c;
  // A peers list is advice, not a command: malformed entries are skipped, and only the
  // first max_known_peers entries are looked at.
  std::size_t looked = 0;
  for (const auto& entry : *list) {
    if (++looked > config.limits.max_known_peers) break;
    const Array* e = entry.if_array();
    if (!e || e->size() != 2) continue;
    Address addr;
    PeerId pid;
    bool is_bin = false;
    if (!address_arg((*e)[0], addr) || !bytes_arg((*e)[1], pid, is_bin) || pid.empty() ||
        pid.size() > max_id_bytes || pid == id)
      continue;
    remember_peer(pid, is_bin, addr);
    if (outgoing_count() < config.max_outgoing && !routing.contains(pid)) {
      (void)dial(addr, pid, is_bin, now, false);  // refusals (already dialling...) are fine
    }
  }
}

void Node::Impl::handle_request(Conn& c, const wire::Body& body, Time now) {
  const auto& p = body.payload;
  std::string a;
  bool a_bin = false;
  if (p.size() == 2 && bytes_arg(p[1], a, a_bin) && a == "*") {
    // request_peers; py2p only accepts bin '*' and never answers (bug 2). We accept both.
    send_peers(c, now);
    return;
  }
  std::string target;
  bool target_bin = false;
  if (p.size() == 3 && bytes_arg(p[1], a, a_bin) && bytes_arg(p[2], target, target_bin)) {
    auto it = routing.find(target);
    Conn* t = it == routing.end() ? nullptr : find(it->second);
    if (!t) return;  // the request flood goes on without us
    ++counters.requests_answered;
    // As the references do: a broadcast `response` to the link the request came from, which
    // relays it on until it reaches the requester.
    Array payload{Value(flags::response), p[1],
                  Value::array({Value::array({Value(t->info.addr.host), Value(t->info.addr.port)}),
                                id_value(target, t->info.id_is_bin)})};
    send_internal(c, flags::broadcast, payload, now);
    return;
  }
  ++counters.ignored;
}

void Node::Impl::handle_response(Conn& c, const wire::Body& body, Time now) {
  (void)c;
  const auto& p = body.payload;
  std::string rid;
  bool rid_bin = false;
  if (p.size() != 3 || !bytes_arg(p[1], rid, rid_bin)) {
    ++counters.ignored;
    return;
  }
  auto it = requests.find(rid);
  if (it == requests.end()) return;  // someone else's request: the flood carries it on
  const Array* info = p[2].if_array();
  Address addr;
  PeerId target;
  bool target_bin = false;
  if (!info || info->size() != 2 || !address_arg((*info)[0], addr) ||
      !bytes_arg((*info)[1], target, target_bin) || target != it->second.target) {
    ++counters.ignored;
    return;
  }
  PendingRequest pending = std::move(it->second);
  requests.erase(it);
  if (auto r = routing.find(target); r != routing.end()) {
    // Connected meanwhile: deliver directly.
    if (Conn* t = find(r->second)) {
      Array payload;
      payload.emplace_back(flags::whisper);
      payload.insert(payload.end(), pending.packets.begin(), pending.packets.end());
      send_internal(*t, flags::whisper, payload, now);
    }
    return;
  }
  // A link to the target already on its way? Queue behind its handshake.
  for (auto& [cid, other] : conns) {
    if (!other.closing && other.expected_id == target) {
      other.after_handshake.push_back(QueuedWhisper{std::move(pending.packets)});
      return;
    }
  }
  auto dialed = dial(addr, target, target_bin, now, false);
  if (!dialed) {
    log(1, "indirect reply: cannot dial " + addr.to_string() + ": " + dialed.error().message);
    return;
  }
  find(*dialed)->after_handshake.push_back(QueuedWhisper{std::move(pending.packets)});
}

}  // namespace p2p::core
