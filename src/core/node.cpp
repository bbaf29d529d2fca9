// core::Node: connection life cycle, user commands, timers and self-healing.
// Incoming message handling lives in node_dispatch.cpp.
#include <algorithm>
#include <utility>

#include "core/node_impl.hpp"
#include "p2p/flags.hpp"
#include "p2p/wire/ids.hpp"

namespace p2p::core {

using namespace std::chrono_literals;

namespace {

/// py2p renders its out_addr tuple like this before hashing it into the node id; the form
/// only matters for uniqueness, but matching it costs nothing.
std::string py_addr_text(const Address& a) {
  return "('" + a.host + "', " + std::to_string(a.port) + ")";
}

}  // namespace

// ---- FrameSet -----------------------------------------------------------------------------

std::size_t FrameSet::slot(std::optional<wire::Compression> m) {
  if (!m) return 0;
  for (std::size_t i = 0; i < wire::all_compressions.size(); ++i)
    if (wire::all_compressions[i] == *m) return i + 1;
  return 0;
}

SharedFrame FrameSet::get(std::optional<wire::Compression> method) {
  SharedFrame& cached = cache_[slot(method)];
  if (cached) return cached;
  if (has_in_ && in_method_ == method) {
    // Forward the bytes exactly as they arrived: no re-encoding, no recompression.
    auto frame = std::make_shared<Bytes>();
    frame->reserve(wire::frame_header_size + in_content_.size());
    const auto n = static_cast<std::uint32_t>(in_content_.size());
    frame->push_back(static_cast<std::uint8_t>(n >> 24));
    frame->push_back(static_cast<std::uint8_t>(n >> 16));
    frame->push_back(static_cast<std::uint8_t>(n >> 8));
    frame->push_back(static_cast<std::uint8_t>(n));
    frame->insert(frame->end(), in_content_.begin(), in_content_.end());
    cached = std::move(frame);
    return cached;
  }
  auto made = wire::make_frame(body_, id_, method);
  if (!made && method) made = wire::make_frame(body_, id_, std::nullopt);  // raw always opens
  if (!made) return nullptr;
  cached = std::make_shared<const Bytes>(std::move(made).value());
  return cached;
}

// ---- Impl helpers -----------------------------------------------------------------------------

Node::Impl::Impl(NodeConfig cfg)
    : config(std::move(cfg)),
      rng(config.seed),
      seen(config.limits.seen_cache_entries, config.seed) {
  id = wire::node_id(py_addr_text(config.out_addr), config.protocol.id(), config.id_salt);
}

void Node::Impl::log(int level, const std::string& text) const {
  if (config.log && level <= config.log_level) config.log(level, text);
}

// Never inlined: inlined into dial(), GCC 12 reports a false maybe-uninitialized inside
// std::variant's move constructor.
[[gnu::noinline]] void Node::Impl::emit(Command&& cmd) {
  outbox.emplace_back(std::move(cmd));
}

Conn* Node::Impl::find(ConnId c) {
  auto it = conns.find(c);
  return it == conns.end() ? nullptr : &it->second;
}

void Node::Impl::count_in_tally(const Conn& c, int sign) noexcept {
  const auto add = [sign](std::size_t& n, bool in) {
    if (in) n += static_cast<std::size_t>(sign);  // -1 wraps to subtract one
  };
  add(tally.outgoing, c.outgoing && !c.closing);
  add(tally.awaiting, !c.handshaked && !c.closing);
}

Conn& Node::Impl::add_conn(ConnId cid, bool outgoing, const Address& remote) {
  Conn& c =
      conns.try_emplace(cid, cid, outgoing, remote, config.limits.max_frame_bytes).first->second;
  count_in_tally(c, 1);
  tables_changed();
  return c;
}

void Node::Impl::erase_conn(ConnId cid) {
  auto it = conns.find(cid);
  if (it == conns.end()) return;
  count_in_tally(it->second, -1);
  if (it->second.reader.has_partial()) --tally.partial;
  conns.erase(it);
  tables_changed();
}

void Node::Impl::set_handshaked(Conn& c, bool handshaked) {
  count_in_tally(c, -1);
  c.handshaked = handshaked;
  count_in_tally(c, 1);
  tables_changed();
}

void Node::Impl::set_closing(Conn& c) {
  count_in_tally(c, -1);
  c.closing = true;
  count_in_tally(c, 1);
  tables_changed();
}

void Node::Impl::event(EventKind kind, ConnId conn, PeerId peer, std::string detail) {
  emit(EventCmd{kind, conn, std::move(peer), std::move(detail)});
}

Value Node::Impl::id_value(const PeerId& pid, bool is_bin) const {
  // Ids go back out in the msgpack type they arrived in: py2p keys its routing table by the
  // exact object (bin), js2p by string, so each must see its own kind.
  if (is_bin) return Value::bin(as_bytes(pid));
  return Value(pid);
}

void Node::Impl::send_frame(Conn& c, SharedFrame frame) {
  if (!frame || c.closing || c.dialing) return;
  ++counters.frames_out;
  counters.bytes_out += frame->size();
  outbox_frame_bytes += frame->size();
  emit(SendCmd{c.id, std::move(frame)});
}

void Node::Impl::send_internal(Conn& c, std::uint8_t flag, const Array& payload, Time now,
                               bool raw) {
  Bytes body = wire::encode_body(flag, id, now.utc, payload);
  const auto digest = wire::sha256(body);
  if (flag == flags::broadcast) seen.insert(digest, now.utc);
  auto frame = wire::make_frame(body, digest, raw ? std::nullopt : c.info.compression);
  if (!frame) frame = wire::make_frame(body, digest, std::nullopt);
  if (!frame) return;
  if (config.log && config.log_level >= 5)  // repr() of a peers list is costly: only when read
    log(5, "out " + c.info.id.substr(0, 8) + " " + Value(payload).repr());
  send_frame(c, std::make_shared<const Bytes>(std::move(frame).value()));
}

void Node::Impl::send_handshake(Conn& c, Time now) {
  Array advertised;
  for (auto m : config.compression) advertised.emplace_back(static_cast<std::uint8_t>(m));
  Array payload{Value(flags::handshake), Value(id), Value(config.protocol.id()),
                Value::array({Value(config.out_addr.host), Value(config.out_addr.port)}),
                Value(std::move(advertised))};
  // The handshake is always uncompressed: the peer cannot know our methods before it.
  send_internal(c, flags::whisper, payload, now, /*raw=*/true);
}

Array Node::Impl::peer_list_for(ConnId exclude) {
  Array list;
  for (const auto& [pid, cid] : routing) {
    if (cid == exclude) continue;
    const Conn* c = find(cid);
    if (!c) continue;
    list.push_back(Value::array({Value::array({Value(c->info.addr.host), Value(c->info.addr.port)}),
                                 id_value(pid, c->info.id_is_bin)}));
  }
  std::shuffle(list.begin(), list.end(), rng);  // as py2p: spread dials across the table
  return list;
}

void Node::Impl::send_peers(Conn& c, Time now) {
  send_internal(c, flags::whisper, Array{Value(flags::peers), Value(peer_list_for(c.id))}, now);
}

void Node::Impl::remove_from_routing(Conn& c) {
  if (!c.handshaked) return;
  set_handshaked(c, false);
  auto it = routing.find(c.info.id);
  if (it != routing.end() && it->second == c.id) {
    routing.erase(it);
    event(EventKind::peer_left, c.id, c.info.id, "");
  }
}

void Node::Impl::close_conn(Conn& c, const std::string& reason) {
  if (c.closing) return;
  log(1,
      "closing connection " + std::to_string(c.id) + " to " + c.remote.to_string() + ": " + reason);
  remove_from_routing(c);
  set_closing(c);
  emit(CloseCmd{c.id, reason});
}

void Node::Impl::remember_peer(const PeerId& pid, bool is_bin, const Address& addr) {
  if (pid == id || addr.port == 0) return;
  auto it = known.find(pid);
  if (it != known.end()) {
    it->second.addr = addr;
    it->second.id_is_bin = is_bin;
    return;
  }
  if (known.size() >= config.limits.max_known_peers) {
    // Forget the peer that failed most: it is the least likely to come back.
    auto worst = std::max_element(known.begin(), known.end(), [](const auto& a, const auto& b) {
      return a.second.failures < b.second.failures;
    });
    known.erase(worst);
  }
  known.emplace(pid, KnownPeer{addr, is_bin, 0, {}});
}

Result<ConnId> Node::Impl::dial(const Address& addr, std::optional<PeerId> pid, bool id_is_bin,
                                Time now, bool reconnect) {
  if (addr.host.empty() || addr.port == 0)
    return Error{Errc::invalid_argument, "cannot dial " + addr.to_string()};
  if (addr == config.out_addr) return Error{Errc::invalid_argument, "refusing to dial ourselves"};
  if (pid && *pid == id) return Error{Errc::invalid_argument, "refusing to dial our own id"};
  if (pid && routing.contains(*pid))
    return Error{Errc::invalid_argument, "already connected to that id"};
  for (const auto& [cid, c] : conns) {
    if (c.closing) continue;
    if (c.outgoing && c.remote == addr)
      return Error{Errc::invalid_argument, "already connected or dialling " + addr.to_string()};
    if (c.handshaked && c.info.addr == addr)
      return Error{Errc::invalid_argument, "already connected to " + addr.to_string()};
    if (pid && c.expected_id == pid)
      return Error{Errc::invalid_argument, "already dialling that id"};
  }
  if (conns.size() >= config.limits.max_connections)
    return Error{Errc::too_large, "connection limit reached"};
  const ConnId cid = next_conn++;
  Conn& c = add_conn(cid, true, addr);
  c.expected_id = std::move(pid);
  c.dialing = true;
  c.reconnect_dial = reconnect;
  c.opened_at = now.mono;
  c.info.id_is_bin = id_is_bin;
  ++counters.dials;
  if (reconnect) ++counters.reconnect_dials;
  log(1, "dialling " + addr.to_string());
  emit(DialCmd{cid, addr});
  return cid;
}

bool Node::Impl::redial(const PeerId& pid, KnownPeer& kp, Time now) {
  // Exponential backoff with jitter: min, 2 min, 4 min ... capped at max, times [0.5, 1.5).
  const auto& lim = config.limits;
  std::chrono::nanoseconds base = lim.reconnect_backoff_min;
  for (std::uint32_t i = 0; i < kp.failures && base < lim.reconnect_backoff_max; ++i) base *= 2;
  base = std::min<std::chrono::nanoseconds>(base, lim.reconnect_backoff_max);
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  kp.next_attempt =
      now.mono + std::chrono::duration_cast<std::chrono::nanoseconds>(base * jitter(rng));
  return static_cast<bool>(dial(kp.addr, pid, kp.id_is_bin, now, true));
}

void Node::Impl::self_heal(Time now) {
  if (!config.auto_reconnect) return;
  std::size_t out = outgoing_count();
  if (out >= config.max_outgoing) return recover_lost(now);
  // Candidates in a random order, so that many nodes healing at once spread their dials.
  std::vector<std::map<PeerId, KnownPeer>::iterator> candidates;
  for (auto it = known.begin(); it != known.end(); ++it) {
    if (routing.contains(it->first) || it->second.next_attempt > now.mono) continue;
    candidates.push_back(it);
  }
  std::shuffle(candidates.begin(), candidates.end(), rng);
  for (auto it : candidates) {
    if (out >= config.max_outgoing) break;
    if (redial(it->first, it->second, now)) ++out;
  }
  // Still short of links: ask neighbours for more addresses every peer_request_interval.
  // py2p peers (the ones with bin ids) are skipped: py2p cannot answer `request *`
  // (protocol.md bug 2) and would drop compression on the link instead.
  if (outgoing_count() < config.max_outgoing && !routing.empty() &&
      now.mono - last_peer_refresh >= config.limits.peer_request_interval) {
    last_peer_refresh = now.mono;
    for (const auto& [pid, cid] : routing) {
      Conn* c = find(cid);
      if (c && !c->info.id_is_bin)
        send_internal(*c, flags::whisper, Array{Value(flags::request), Value("*")}, now);
    }
  }
}

void Node::Impl::recover_lost(Time now) {
  // A peer that is connected again (either way) or forgotten needs no recovery.
  std::erase_if(lost, [&](const PeerId& p) { return routing.contains(p) || !known.contains(p); });
  std::size_t out = outgoing_count();
  const std::size_t cap = config.max_outgoing + config.limits.recovery_links;
  for (const PeerId& pid : lost) {
    if (out >= cap) break;
    KnownPeer& kp = known.find(pid)->second;
    if (kp.next_attempt > now.mono) continue;
    if (redial(pid, kp, now)) ++out;
  }
}

// ---- Node: inputs -------------------------------------------------------------------------------

Node::Node(NodeConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Node::~Node() = default;

ConnId Node::on_incoming(const Address& remote, Time now) {
  Impl& s = *impl_;
  s.last_now = now;
  const ConnId cid = s.next_conn++;
  Conn& c = s.add_conn(cid, false, remote);
  c.opened_at = now.mono;
  // The new connection itself counts, hence `>`.
  if (s.conns.size() > s.config.limits.max_connections ||
      s.awaiting_count() > s.config.limits.max_awaiting) {
    ++s.counters.connections_refused;
    s.close_conn(c, "connection limit reached");
    return cid;
  }
  s.log(1, "incoming connection from " + remote.to_string());
  s.send_handshake(c, now);
  return cid;
}

void Node::on_dial_connected(ConnId conn, Time now) {
  Impl& s = *impl_;
  s.last_now = now;
  Conn* c = s.find(conn);
  if (!c || !c->dialing) return;
  c->dialing = false;
  c->opened_at = now.mono;
  if (c->closing) return;
  s.send_handshake(*c, now);
}

void Node::on_dial_failed(ConnId conn, const std::string& reason, Time now) {
  Impl& s = *impl_;
  s.last_now = now;
  Conn* c = s.find(conn);
  if (!c) return;
  ++s.counters.dial_failures;
  if (c->expected_id) {
    auto it = s.known.find(*c->expected_id);
    if (it != s.known.end()) ++it->second.failures;
  }
  s.log(1, "dial to " + c->remote.to_string() + " failed: " + reason);
  s.event(EventKind::dial_failed, conn, c->expected_id.value_or(PeerId{}),
          c->remote.to_string() + ": " + reason);
  s.erase_conn(conn);
}

void Node::on_bytes(ConnId conn, ByteView data, Time now) {
  Impl& s = *impl_;
  s.last_now = now;
  Conn* c = s.find(conn);
  if (!c || c->closing) return;
  s.counters.bytes_in += data.size();
  const bool had_partial = c->reader.has_partial();
  bool completed = false;
  auto status = c->reader.feed(data, [&](ByteView content) {
    // `c` stays valid: connections are only erased by on_closed, which the runtime never
    // calls from inside this function.
    completed = true;
    if (!c->closing) s.on_frame(*c, content, now);
  });
  // A new partial frame starts its stall clock; bytes that continue one do not reset it.
  if (c->reader.has_partial() && (!had_partial || completed)) c->partial_since = now.mono;
  if (c->reader.has_partial() != had_partial) had_partial ? --s.tally.partial : ++s.tally.partial;
  if (!status && !c->closing) {
    if (status.error().code == Errc::too_large) ++s.counters.oversize_frames;
    s.protocol_violation(*c, status.error().to_string());
  }
}

void Node::on_closed(ConnId conn, const std::string& reason, Time now) {
  Impl& s = *impl_;
  s.last_now = now;
  Conn* c = s.find(conn);
  if (!c) return;
  s.log(1, "connection " + std::to_string(conn) + " closed: " + reason);
  if (c->handshaked && c->outgoing && !c->closing && s.config.limits.recovery_links > 0) {
    // We did not close it: the peer vanished (crash, partition). Remember it for recovery;
    // after a partition it may be the only link between the two sides.
    std::erase(s.lost, c->info.id);
    s.lost.push_back(c->info.id);
    if (s.lost.size() > std::max<std::size_t>(s.config.max_outgoing, 1))
      s.lost.erase(s.lost.begin());
  }
  s.remove_from_routing(*c);
  if (c->dialing) {
    ++s.counters.dial_failures;
    s.event(EventKind::dial_failed, conn, c->expected_id.value_or(PeerId{}),
            c->remote.to_string() + ": " + reason);
  }
  s.erase_conn(conn);
}

void Node::tick(Time now) {
  Impl& s = *impl_;
  s.last_now = now;
  const auto& lim = s.config.limits;
  // Only connections awaiting a handshake or holding a partial frame can time out.
  if (s.tally.awaiting > 0 || s.tally.partial > 0) {
    for (auto& [cid, c] : s.conns) {
      if (c.closing) continue;
      if (c.dialing || !c.handshaked) {
        if (now.mono - c.opened_at > lim.handshake_timeout) {
          ++s.counters.timeouts;
          if (!c.dialing) ++s.counters.handshake_failures;
          s.close_conn(c, c.dialing ? "dial timed out" : "handshake timed out");
          continue;
        }
      }
      if (c.reader.has_partial() && now.mono - c.partial_since > lim.stalled_frame_timeout) {
        ++s.counters.timeouts;
        s.close_conn(c, "partial frame stalled");
      }
    }
  }
  s.seen.expire(now.utc);
  for (auto it = s.requests.begin(); it != s.requests.end();) {
    if (it->second.deadline <= now.mono) {
      ++s.counters.requests_expired;
      s.log(1, "indirect reply to " + it->second.target.substr(0, 8) + " expired unanswered");
      it = s.requests.erase(it);
    } else {
      ++it;
    }
  }
  s.self_heal(now);
}

// ---- Node: user commands ------------------------------------------------------------------------

Result<EncodedMessage> encode_message(Bytes& buffer, const PeerId& sender, const Array& packets,
                                      std::uint8_t flag, std::uint8_t type, std::uint64_t time,
                                      std::size_t max_body) {
  static_assert(PreparedMessage::raw_overhead == wire::raw_frame_overhead);
  if (flag != flags::broadcast && flag != flags::whisper)
    return Error{Errc::invalid_argument, "flag must be broadcast (0) or whisper (2)"};
  // Encoded once, straight into the uncompressed frame every raw link shares; the body the
  // other methods compress is a view into it.
  const std::size_t size =
      wire::encode_body_into(buffer, flag, sender, time, type, packets, wire::raw_frame_overhead);
  const std::size_t body_size = size - wire::raw_frame_overhead;
  if (body_size > max_body)
    return Error{Errc::too_large,
                 "message of " + std::to_string(body_size) + " bytes exceeds max_body_bytes"};
  auto sealed = wire::seal_raw_frame(std::span<std::uint8_t>(buffer.data(), size));
  if (!sealed) return sealed.error();
  EncodedMessage m;
  m.frame = ByteView(buffer.data(), size);
  m.id = *sealed;
  m.flag = flag;
  m.time = time;
  return m;
}

PreparedMessage adopt_message(const EncodedMessage& encoded, Bytes&& buffer) {
  buffer.resize(encoded.frame.size());
  return adopt_message(encoded, std::make_shared<const Bytes>(std::move(buffer)));
}

PreparedMessage adopt_message(const EncodedMessage& encoded, SharedFrame frame) {
  PreparedMessage m;
  m.id = encoded.id;
  m.flag = encoded.flag;
  m.time = encoded.time;
  m.raw = std::move(frame);
  return m;
}

Result<PreparedMessage> prepare_message(const PeerId& sender, const Array& packets,
                                        std::uint8_t flag, std::uint8_t type, std::uint64_t time,
                                        std::size_t max_body) {
  Bytes buffer;
  auto encoded = encode_message(buffer, sender, packets, flag, type, time, max_body);
  if (!encoded) return encoded.error();
  return adopt_message(*encoded, std::move(buffer));
}

Status Node::Impl::admit_broadcast(UserMessage& m) {
  // A broadcast's id is the hash of its body, time included, and receivers drop a repeated
  // (id, time). Two identical broadcasts in one second would therefore be one message and
  // the second silently lost everywhere (as in py2p and js2p). So a repeat is stamped with
  // the next second not yet used for that payload: a distinct message, one second early.
  while (!seen.insert(m.id, m.time)) {
    auto body = wire::decode_body(m.body());
    if (!body || body->payload.empty() || !body->payload[0].is_int())
      return Error{Errc::malformed, "restamping a broadcast: cannot decode our own body"};
    const auto type = static_cast<std::uint8_t>(body->payload[0].as_uint());
    const std::span<const Value> packets(body->payload.data() + 1, body->payload.size() - 1);
    auto again = prepare_message(id, Array(packets.begin(), packets.end()), m.flag, type,
                                 m.time + 1, config.limits.max_body_bytes);
    if (!again) return again.error();
    m = std::move(*again);
  }
  ++counters.broadcasts_sent;
  return {};
}

Result<Node::Impl::UserMessage> Node::Impl::make_user_message(const Array& packets,
                                                              std::uint8_t flag, std::uint8_t type,
                                                              Time now) {
  auto m = prepare_message(id, packets, flag, type, now.utc, config.limits.max_body_bytes);
  if (!m) return m.error();
  if (flag == flags::broadcast) {
    Status admitted = admit_broadcast(*m);
    if (!admitted) return admitted.error();
  }
  return m;
}

void Node::Impl::send_user_message(Conn& c, const UserMessage& m, FrameSet& frames) {
  send_frame(c, frames.get(c.info.compression));
  c.last_frame = m.raw;
  c.last_id = m.id;
  c.last_resent = false;
}

Status Node::send(const Array& packets, std::uint8_t flag, std::uint8_t type, Time now) {
  auto m =
      prepare_message(impl_->id, packets, flag, type, now.utc, impl_->config.limits.max_body_bytes);
  if (!m) return m.error();
  return send_prepared(std::move(*m), now);
}

void Node::prefetch(const PreparedMessage& message) const noexcept {
  if (message.flag == flags::broadcast) impl_->seen.prefetch(message.id);
}

Status Node::send_prepared(PreparedMessage message, Time now) {
  Impl& s = *impl_;
  s.last_now = now;
  if (message.flag == flags::broadcast) {
    Status admitted = s.admit_broadcast(message);
    if (!admitted) return admitted;
  }
  FrameSet frames(message.body(), message.id);
  frames.set_raw(message.raw);
  for (const auto& [pid, cid] : s.routing)
    if (Conn* c = s.find(cid)) s.send_user_message(*c, message, frames);
  return {};
}

Status Node::send_to(ConnId conn, const Array& packets, std::uint8_t flag, std::uint8_t type,
                     Time now) {
  Impl& s = *impl_;
  s.last_now = now;
  Conn* c = s.find(conn);
  if (!c || c->closing || !c->handshaked)
    return Error{Errc::closed, "no established connection " + std::to_string(conn)};
  auto m = s.make_user_message(packets, flag, type, now);
  if (!m) return m.error();
  FrameSet frames(m->body(), m->id);
  frames.set_raw(m->raw);
  s.send_user_message(*c, *m, frames);
  return {};
}

Result<ConnId> Node::connect(const Address& addr, std::optional<PeerId> id, Time now) {
  impl_->last_now = now;
  return impl_->dial(addr, std::move(id), false, now, false);
}

void Node::disconnect(ConnId conn, const std::string& reason) {
  Conn* c = impl_->find(conn);
  if (c) impl_->close_conn(*c, reason);
}

Status Node::reply(const Message& to, const Array& packets, Time now) {
  Impl& s = *impl_;
  s.last_now = now;
  if (to.sender == s.id) return Error{Errc::invalid_argument, "cannot reply to our own message"};
  if (auto it = s.routing.find(to.sender); it != s.routing.end())
    return send_to(it->second, packets, flags::whisper, flags::whisper, now);
  if (s.requests.size() >= s.config.limits.max_pending_requests)
    return Error{Errc::too_large, "too many indirect replies pending"};
  // Indirect: ask the network where the sender is. The request id only has to be unique.
  Bytes seed(to.sender.begin(), to.sender.end());
  const std::string salt = std::to_string(now.utc) + ":" + std::to_string(++s.request_counter);
  seed.insert(seed.end(), salt.begin(), salt.end());
  const auto h = wire::sha384(seed);
  std::string request_id = wire::base58_encode_int(h);
  s.requests[request_id] = PendingRequest{
      to.sender, to.sender_is_bin, packets,
      now.mono +
          std::chrono::duration_cast<std::chrono::nanoseconds>(s.config.limits.request_timeout)};
  ++s.counters.requests_sent;
  ++s.counters.replies_indirect;
  s.log(2, "indirect reply: requesting the address of " + to.sender.substr(0, 8));
  return send(Array{Value(request_id), s.id_value(to.sender, to.sender_is_bin)}, flags::broadcast,
              flags::request, now);
}

void Node::request_peers(Time now) {
  Impl& s = *impl_;
  s.last_now = now;
  for (const auto& [pid, cid] : s.routing) {
    Conn* c = s.find(cid);
    if (c) s.send_internal(*c, flags::whisper, Array{Value(flags::request), Value("*")}, now);
  }
}

void Node::register_handler(Handler handler) {
  impl_->handlers.push_back(std::make_shared<Handler>(std::move(handler)));
}

// ---- outputs and views --------------------------------------------------------------------------

std::vector<Command> Node::take_outbox() {
  std::vector<Command> out;
  take_outbox(out);
  return out;
}
void Node::take_outbox(std::vector<Command>& into) {
  into.clear();
  into.swap(impl_->outbox);
  impl_->outbox_frame_bytes = 0;
}
std::size_t Node::outbox_frame_bytes() const noexcept {
  return impl_->outbox_frame_bytes;
}
bool Node::outbox_empty() const noexcept {
  return impl_->outbox.empty();
}

const PeerId& Node::id() const noexcept {
  return impl_->id;
}
const Protocol& Node::protocol() const noexcept {
  return impl_->config.protocol;
}
const Address& Node::out_addr() const noexcept {
  return impl_->config.out_addr;
}
const NodeConfig& Node::config() const noexcept {
  return impl_->config;
}

std::vector<PeerInfo> Node::routing_table() const {
  std::vector<PeerInfo> out;
  for (const auto& [pid, cid] : impl_->routing) {
    if (const Conn* c = impl_->find(cid)) out.push_back(c->info);
  }
  return out;
}

const PeerInfo* Node::peer(const PeerId& pid) const {
  auto it = impl_->routing.find(pid);
  if (it == impl_->routing.end()) return nullptr;
  const Conn* c = impl_->find(it->second);
  return c ? &c->info : nullptr;
}

std::vector<PendingInfo> Node::awaiting() const {
  std::vector<PendingInfo> out;
  for (const auto& [cid, c] : impl_->conns) {
    if (c.handshaked || c.closing) continue;
    out.push_back(PendingInfo{cid, c.outgoing, c.remote, c.expected_id});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.conn < b.conn; });
  return out;
}

std::size_t Node::outgoing_count() const noexcept {
  return impl_->outgoing_count();
}
std::size_t Node::awaiting_count() const noexcept {
  return impl_->awaiting_count();
}
std::size_t Node::inbound_kept_bytes() const noexcept {
  return kept_bytes(impl_->inbound, SIZE_MAX);
}
std::uint64_t Node::tables_version() const noexcept {
  return impl_->tables_version;
}
std::size_t Node::connection_count() const noexcept {
  return impl_->conns.size();
}
const Counters& Node::counters() const noexcept {
  impl_->counters.seen_evicted = impl_->seen.evicted();
  return impl_->counters;
}
void Node::reset_counters() noexcept {
  impl_->counters = Counters{};
  impl_->seen.reset_evicted();
}
std::size_t Node::seen_cache_size() const noexcept {
  return impl_->seen.size();
}

std::size_t Node::known_peer_count() const noexcept {
  return impl_->known.size();
}

}  // namespace p2p::core
