#include "simulator.hpp"

#include <algorithm>
#include <utility>
#include <variant>

namespace p2p::sim {
namespace {

// Tags folded into the trace hash, so different records never alias.
enum TraceTag : std::uint64_t {
  kEvent = 1,
  kSend,
  kDial,
  kClose,
  kDeliver,
  kRaise,
  kUser,
};

std::uint64_t hash_text(std::string_view s) {
  return hash_bytes(as_bytes(s));
}

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

constexpr std::uint16_t kListenPort = 4444;
constexpr std::uint16_t kFirstEphemeralPort = 32768;
constexpr std::uint16_t kEphemeralPorts = 28232;  // Linux's default range, 32768..60999
constexpr int kMaxRetransmissions = 8;            // a frame is delayed, never lost

}  // namespace

Simulator::Simulator(SimConfig config)
    : config_(std::move(config)), rng_(mix64(config_.seed ^ 0x51a7e5eed0000001ULL)) {}

Simulator::~Simulator() = default;

core::Address Simulator::default_address(NodeIndex i) {
  const std::uint32_t n = i + 1;
  return core::Address{"10." + std::to_string((n >> 16) & 0xff) + "." +
                           std::to_string((n >> 8) & 0xff) + "." + std::to_string(n & 0xff),
                       kListenPort};
}

core::Time Simulator::now() const noexcept {
  return core::Time{now_, config_.base_utc + static_cast<std::uint64_t>(now_ / 1s)};
}

NodeIndex Simulator::add_node(core::NodeConfig config) {
  const auto index = static_cast<NodeIndex>(nodes_.size());
  const std::uint64_t identity = fold(fold(0x1d, config_.seed), index);
  if (config.out_addr.host.empty()) config.out_addr = default_address(index);
  config.id_salt = "sim-" + std::to_string(identity);
  config.seed = mix64(identity);
  const std::string addr = config.out_addr.to_string();
  if (by_address_.contains(addr)) throw UsageError("two simulated nodes at " + addr);

  SimNode sn;
  sn.node = std::make_unique<core::Node>(std::move(config));
  by_address_.emplace(addr, index);
  by_id_.emplace(sn.node->id(), index);
  nodes_.push_back(std::move(sn));
  trace(kUser, index, identity);

  // Each node ticks at its own phase, so a million-node tick does not land on one instant.
  Event tick;
  tick.kind = EventKind::tick;
  tick.target = index;
  tick.at = now_ + Duration(rng_.below(static_cast<std::uint64_t>(config_.tick_interval.count())));
  schedule(std::move(tick));
  flush(index);
  return index;
}

std::optional<NodeIndex> Simulator::index_of(const core::PeerId& id) const {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  return it->second;
}

std::optional<NodeIndex> Simulator::index_of(const core::Address& addr) const {
  auto it = by_address_.find(addr.to_string());
  if (it == by_address_.end()) return std::nullopt;
  return it->second;
}

// ---- acting as a user ------------------------------------------------------------------------

Result<core::ConnId> Simulator::connect(NodeIndex from, NodeIndex to, bool with_id) {
  std::optional<core::PeerId> id;
  if (with_id) id = node(to).id();
  trace(kUser, from, to);
  auto r = node(from).connect(node(to).out_addr(), id, now());
  flush(from);
  return r;
}

Result<std::size_t> Simulator::broadcast(NodeIndex from, const Array& packets, std::uint8_t type) {
  trace(kUser, from, type);
  core::Node& n = node(from);
  Status s = n.send(packets, flags::broadcast, type, now());
  // The frames this send queued carry the new broadcast: the first one registers it.
  std::vector<core::Command> cmds = n.take_outbox();
  std::optional<std::size_t> index;
  for (core::Command& c : cmds) {
    if (auto* send = std::get_if<core::SendCmd>(&c); send && send->frame) {
      const FrameInfo info = tracker_.classify_send(send->frame, from, now_, nodes_.size());
      if (info.broadcast >= 0) index = static_cast<std::size_t>(info.broadcast);
    }
  }
  for (core::Command& c : cmds) execute(from, c);
  flush(from);
  if (!s) return s.error();
  if (!index) return Error{Errc::closed, "the node has no peer to send the broadcast to"};
  return *index;
}

Status Simulator::whisper(NodeIndex from, const Array& packets, std::uint8_t type) {
  trace(kUser, from, type);
  Status s = node(from).send(packets, flags::whisper, type, now());
  flush(from);
  return s;
}

Status Simulator::reply(NodeIndex from, const core::Message& to, const Array& packets) {
  trace(kUser, from);
  Status s = node(from).reply(to, packets, now());
  flush(from);
  return s;
}

void Simulator::act(NodeIndex i, const std::function<void(core::Node&, core::Time)>& action) {
  trace(kUser, i);
  action(node(i), now());
  flush(i);
}

// ---- the event loop --------------------------------------------------------------------------

void Simulator::schedule(Event e) {
  if (e.kind != EventKind::tick) ++network_pending_;
  queue_.push(std::move(e));
}

bool Simulator::step() {
  if (queue_.empty()) return false;
  Event e = queue_.pop();
  if (e.kind != EventKind::tick) --network_pending_;
  now_ = std::max(now_, e.at);
  ++stats_.events;
  trace(kEvent, static_cast<std::uint64_t>(now_.count()),
        (static_cast<std::uint64_t>(e.kind) << 40) ^ (std::uint64_t{e.target} << 1) ^ e.side);
  dispatch(e);
  return true;
}

void Simulator::run_until(Duration t) {
  while (!queue_.empty() && queue_.top().at <= t) step();
  now_ = std::max(now_, t);
}

bool Simulator::run_until(const std::function<bool()>& done, Duration timeout) {
  const Duration deadline = now_ + timeout;
  if (done()) return true;
  while (!queue_.empty() && queue_.top().at <= deadline) {
    step();
    if (done()) return true;
  }
  now_ = std::max(now_, deadline);
  return done();
}

bool Simulator::run_until_quiet(Duration timeout) {
  return run_until([this] { return network_pending_ == 0; }, timeout);
}

void Simulator::dispatch(Event& e) {
  switch (e.kind) {
    case EventKind::tick: {
      nodes_[e.target].node->tick(now());
      flush(e.target);
      Event next;
      next.kind = EventKind::tick;
      next.target = e.target;
      next.at = now_ + config_.tick_interval;
      schedule(std::move(next));
      break;
    }
    case EventKind::incoming:
      on_incoming(e.target);
      break;
    case EventKind::dial_connected: {
      Endpoint& dialer = links_[e.target].end[0];
      if (dialer.state != EndState::dialing) break;  // closed or cut meanwhile
      dialer.state = EndState::open;
      const NodeIndex n = dialer.node;
      nodes_[n].node->on_dial_connected(dialer.conn, now());
      flush(n);
      break;
    }
    case EventKind::dial_failed:
      if (links_[e.target].end[0].state == EndState::dialing) {
        notify_gone(e.target, 0, links_[e.target].reason);
      }
      break;
    case EventKind::bytes: {
      const Link& link = links_[e.target];
      const Endpoint to = link.end[e.side];
      if (link.cut || to.state != EndState::open) {
        if (e.last_chunk) ++stats_.frames_lost;
        break;
      }
      if (e.last_chunk) {
        ++stats_.frames_delivered;
        tracker_.count_received(e.broadcast, to.node, now_);
      }
      nodes_[to.node].node->on_bytes(to.conn, ByteView(e.frame->data() + e.offset, e.length),
                                     now());
      flush(to.node);
      break;
    }
    case EventKind::remote_closed: {
      const Link& link = links_[e.target];
      const EndState st = link.end[e.side].state;
      if (st != EndState::dialing && st != EndState::open) break;
      notify_gone(e.target, e.side, link.cut ? link.reason : "connection closed by peer");
      break;
    }
    case EventKind::local_closed: {
      const Link& link = links_[e.target];
      const Endpoint me = link.end[e.side];
      const std::string reason = link.local_reason[e.side];
      nodes_[me.node].node->on_closed(me.conn, reason, now());
      flush(me.node);
      break;
    }
  }
}

void Simulator::notify_gone(std::uint32_t link, int side, const std::string& reason) {
  Endpoint& ep = links_[link].end[side];
  const bool never_connected = ep.state == EndState::dialing;
  ep.state = EndState::closed;
  const Endpoint copy = ep;
  const std::string why = reason;  // `reason` may live in links_, which flush() can grow
  if (never_connected) {
    nodes_[copy.node].node->on_dial_failed(copy.conn, why, now());
  } else {
    nodes_[copy.node].node->on_closed(copy.conn, why, now());
  }
  flush(copy.node);
}

void Simulator::on_incoming(std::uint32_t li) {
  Link& link = links_[li];
  if (link.end[0].state != EndState::dialing) return;  // the dialer gave up meanwhile
  const NodeIndex a = link.end[0].node;
  const NodeIndex b = link.end[1].node;
  if (link.cut || !reachable(a, b)) {
    ++stats_.dials_unreachable;
    link.reason = "unreachable (partition)";
    Event fail;
    fail.kind = EventKind::dial_failed;
    fail.target = li;
    fail.at = std::max(now_, link.dialed_at + config_.dial_timeout);
    schedule(std::move(fail));
    return;
  }
  const core::Address remote{nodes_[a].node->out_addr().host,
                             static_cast<std::uint16_t>(kFirstEphemeralPort + next_ephemeral_)};
  next_ephemeral_ = static_cast<std::uint16_t>((next_ephemeral_ + 1) % kEphemeralPorts);
  const core::ConnId conn = nodes_[b].node->on_incoming(remote, now());
  link.end[1].conn = conn;
  link.end[1].state = EndState::open;
  if (!nodes_[b].links.emplace(conn, li).second) ++anomalies_.duplicate_dial_id;

  // The SYN-ACK: nothing the acceptor writes may reach the dialer before it, so it sets the
  // FIFO floor of that direction.
  Event done;
  done.kind = EventKind::dial_connected;
  done.target = li;
  done.at = now_ + propagation();
  link.last_arrival[0] = done.at;
  schedule(std::move(done));
  flush(b);
}

void Simulator::flush(NodeIndex i) {
  core::Node& n = *nodes_[i].node;
  // Executing a command never calls back into a node (everything goes through the queue),
  // so this loop only repeats if the engine queues commands lazily.
  while (!n.outbox_empty()) {
    std::vector<core::Command> cmds = n.take_outbox();
    for (core::Command& c : cmds) execute(i, c);
  }
}

void Simulator::execute(NodeIndex i, core::Command& cmd) {
  std::visit(Overloaded{
                 [&](core::SendCmd& c) { on_send(i, c); },
                 [&](core::DialCmd& c) { on_dial(i, c); },
                 [&](core::CloseCmd& c) { on_close(i, c); },
                 [&](core::DeliverCmd& c) {
                   ++stats_.deliveries;
                   ++nodes_[i].delivered;
                   tracker_.count_delivered(c.msg.id, i);
                   trace(kDeliver, i, hash_bytes(c.msg.id));
                   if (config_.record) {
                     nodes_[i].inbox.push_back(std::move(c.msg));
                     nodes_[i].inbox_times.push_back(now_);
                   }
                 },
                 [&](core::EventCmd& c) {
                   trace(kRaise, i, static_cast<std::uint64_t>(c.kind) ^ (c.conn << 8));
                   if (config_.record) events_.push_back(EventRecord{i, now_, std::move(c)});
                 },
             },
             cmd);
}

int Simulator::side_of(const Link& link, NodeIndex node, core::ConnId conn) const {
  return link.end[0].node == node && link.end[0].conn == conn ? 0 : 1;
}

Duration Simulator::propagation() {
  Duration d = config_.link.latency;
  if (config_.link.jitter > Duration::zero()) {
    d += Duration(rng_.below(static_cast<std::uint64_t>(config_.link.jitter.count()) + 1));
  }
  return d;
}

Duration Simulator::arrival_time(std::size_t bytes, Link& link, int dir) {
  const LinkModel& m = config_.link;
  const Duration start = std::max(now_, link.queue_free[dir]);
  Duration serialization{0};
  if (m.bandwidth_bytes_per_s > 0) {
    serialization = Duration(static_cast<std::int64_t>(
        static_cast<double>(bytes) * 1e9 / static_cast<double>(m.bandwidth_bytes_per_s)));
  }
  link.queue_free[dir] = start + serialization;
  Duration arrival = start + serialization + propagation();
  if (m.loss > 0) {
    Duration rto = std::max(m.min_rto, 4 * m.latency);  // RTO >= 2 x RTT
    for (int i = 0; i < kMaxRetransmissions && rng_.chance(m.loss); ++i) {
      ++stats_.retransmissions;
      arrival += rto;
      rto *= 2;
    }
  }
  arrival = std::max(arrival, link.last_arrival[dir]);  // TCP is FIFO
  link.last_arrival[dir] = arrival;
  return arrival;
}

void Simulator::on_send(NodeIndex i, core::SendCmd& cmd) {
  auto it = nodes_[i].links.find(cmd.conn);
  if (it == nodes_[i].links.end() || !cmd.frame) {
    ++anomalies_.unknown_conn;
    return;
  }
  const std::uint32_t li = it->second;
  Link& link = links_[li];
  const int s = side_of(link, i, cmd.conn);
  if (link.end[s].state == EndState::closed) {
    ++anomalies_.send_on_closed;
    return;
  }
  if (link.end[s].state == EndState::dialing) {
    ++anomalies_.send_before_connect;
    return;
  }
  const std::size_t size = cmd.frame->size();
  ++stats_.frames_sent;
  stats_.bytes_sent += size;
  const FrameInfo info = tracker_.classify_send(cmd.frame, i, now_, nodes_.size());
  trace(kSend, (std::uint64_t{i} << 32) ^ cmd.conn, info.hash);
  if (link.cut) {
    ++stats_.frames_lost;  // the cut is being reported to both sides
    return;
  }
  tracker_.count_sent(info.broadcast, i);

  const int dir = 1 - s;
  const Duration at = arrival_time(size, link, dir);
  std::uint32_t chunks = 1;
  const LinkModel& m = config_.link;
  if (size >= 2 && m.max_chunks >= 2 && rng_.chance(m.split_probability)) {
    chunks = 2 + static_cast<std::uint32_t>(rng_.below(m.max_chunks - 1));
  }
  std::vector<std::uint32_t> cuts;
  cuts.reserve(chunks + 1);
  cuts.push_back(0);
  for (std::uint32_t k = 1; k < chunks; ++k) {
    cuts.push_back(1 + static_cast<std::uint32_t>(rng_.below(size - 1)));
  }
  cuts.push_back(static_cast<std::uint32_t>(size));
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  for (std::size_t k = 0; k + 1 < cuts.size(); ++k) {
    Event e;
    e.kind = EventKind::bytes;
    e.at = at;
    e.target = li;
    e.side = static_cast<std::uint8_t>(dir);
    e.offset = cuts[k];
    e.length = cuts[k + 1] - cuts[k];
    e.last_chunk = k + 2 == cuts.size();
    e.broadcast = info.broadcast;
    e.frame = cmd.frame;
    schedule(std::move(e));
  }
}

void Simulator::on_dial(NodeIndex i, core::DialCmd& cmd) {
  ++stats_.dials;
  trace(kDial, (std::uint64_t{i} << 32) ^ cmd.conn, hash_text(cmd.addr.to_string()));
  if (nodes_[i].links.contains(cmd.conn)) {
    ++anomalies_.duplicate_dial_id;
    return;
  }
  const auto li = static_cast<std::uint32_t>(links_.size());
  links_.emplace_back();
  Link& link = links_.back();
  link.end[0] = Endpoint{i, cmd.conn, EndState::dialing};
  link.dialed_at = now_;
  nodes_[i].links.emplace(cmd.conn, li);

  Event e;
  e.target = li;
  const std::optional<NodeIndex> target = index_of(cmd.addr);
  if (!target) {
    ++stats_.dials_refused;
    link.reason = "connection refused";
    e.kind = EventKind::dial_failed;
    e.at = now_ + 2 * config_.link.latency;  // SYN out, RST back
  } else if (!reachable(i, *target)) {
    ++stats_.dials_unreachable;
    link.reason = "unreachable (partition)";
    e.kind = EventKind::dial_failed;
    e.at = now_ + config_.dial_timeout;
  } else {
    link.end[1].node = *target;
    e.kind = EventKind::incoming;
    e.at = now_ + propagation();
  }
  schedule(std::move(e));
}

void Simulator::on_close(NodeIndex i, core::CloseCmd& cmd) {
  auto it = nodes_[i].links.find(cmd.conn);
  if (it == nodes_[i].links.end()) {
    ++anomalies_.unknown_conn;
    return;
  }
  const std::uint32_t li = it->second;
  Link& link = links_[li];
  const int s = side_of(link, i, cmd.conn);
  if (link.end[s].state == EndState::closed) return;  // already gone; nothing to report
  ++stats_.closes;
  trace(kClose, (std::uint64_t{i} << 32) ^ cmd.conn);
  link.end[s].state = EndState::closed;
  link.local_reason[s] = cmd.reason;

  Event local;
  local.kind = EventKind::local_closed;
  local.target = li;
  local.side = static_cast<std::uint8_t>(s);
  local.at = now_;
  schedule(std::move(local));

  // The FIN follows the data already written in that direction.
  const int o = 1 - s;
  const EndState other = link.end[o].state;
  if (!link.cut && (other == EndState::open || other == EndState::dialing)) {
    Event fin;
    fin.kind = EventKind::remote_closed;
    fin.target = li;
    fin.side = static_cast<std::uint8_t>(o);
    fin.at = std::max(now_ + propagation(), link.last_arrival[o]);
    link.last_arrival[o] = fin.at;
    schedule(std::move(fin));
  }
}

// ---- partitions ------------------------------------------------------------------------------

bool Simulator::reachable(NodeIndex a, NodeIndex b) const {
  if (nodes_.at(a).group != nodes_.at(b).group) return false;
  return !cuts_.contains(std::minmax(a, b));
}

void Simulator::partition(const std::vector<std::vector<NodeIndex>>& groups) {
  for (SimNode& n : nodes_) n.group = 0;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    for (NodeIndex i : groups[g]) nodes_.at(i).group = static_cast<std::uint32_t>(g + 1);
  }
  trace(kUser, groups.size());
  cut_links_across();
}

void Simulator::cut(NodeIndex a, NodeIndex b) {
  cuts_.insert(std::minmax(a, b));
  trace(kUser, a, b);
  cut_links_across();
}

void Simulator::restore(NodeIndex a, NodeIndex b) {
  cuts_.erase(std::minmax(a, b));
  trace(kUser, a, b);
}

void Simulator::heal() {
  for (SimNode& n : nodes_) n.group = 0;
  cuts_.clear();
  trace(kUser);
}

void Simulator::cut_links_across() {
  for (std::uint32_t li = 0; li < links_.size(); ++li) {
    Link& link = links_[li];
    if (link.cut || link.end[1].state == EndState::none) continue;  // a SYN in flight checks
    const auto live = [](EndState s) { return s == EndState::dialing || s == EndState::open; };
    if (!live(link.end[0].state) && !live(link.end[1].state)) continue;
    if (reachable(link.end[0].node, link.end[1].node)) continue;
    link.cut = true;
    link.reason = "link cut (partition)";
    ++stats_.links_cut;
    for (std::uint8_t side = 0; side < 2; ++side) {
      if (!live(link.end[side].state)) continue;
      Event e;
      e.kind = EventKind::remote_closed;
      e.target = li;
      e.side = side;
      e.at = now_;
      schedule(std::move(e));
    }
  }
}

// ---- observations ----------------------------------------------------------------------------

std::size_t Simulator::edges() const {
  std::vector<std::pair<NodeIndex, NodeIndex>> pairs;
  for (NodeIndex i = 0; i < nodes_.size(); ++i) {
    for (const core::PeerInfo& p : nodes_[i].node->routing_table()) {
      if (auto j = index_of(p.id)) pairs.push_back(std::minmax(i, *j));
    }
  }
  std::sort(pairs.begin(), pairs.end());
  return static_cast<std::size_t>(std::unique(pairs.begin(), pairs.end()) - pairs.begin());
}

std::vector<std::string> Simulator::audit() const {
  std::vector<std::string> problems;
  const auto live = [](EndState s) { return s == EndState::dialing || s == EndState::open; };
  std::vector<std::size_t> open_at(nodes_.size());
  for (const Link& link : links_) {
    for (const Endpoint& end : link.end) {
      if (live(end.state)) ++open_at[end.node];
    }
  }
  for (NodeIndex i = 0; i < nodes_.size(); ++i) {
    const core::Node& n = *nodes_[i].node;
    const std::string who = "node " + std::to_string(i);
    if (n.connection_count() != open_at[i]) {
      problems.push_back(who + " counts " + std::to_string(n.connection_count()) +
                         " connections, the network has " + std::to_string(open_at[i]) + " open");
    }
    for (const core::PeerInfo& p : n.routing_table()) {
      const std::string entry = who + " conn " + std::to_string(p.conn);
      auto it = nodes_[i].links.find(p.conn);
      if (it == nodes_[i].links.end()) {
        problems.push_back(entry + ": routing entry on a connection the network never had");
        continue;
      }
      const Link& link = links_[it->second];
      const int s = side_of(link, i, p.conn);
      const Endpoint& other = link.end[1 - s];
      if (link.end[s].state != EndState::open) {
        problems.push_back(entry + ": routing entry on a connection the network closed");
        continue;
      }
      if (other.state != EndState::open) {
        problems.push_back(entry + ": routing entry whose other end is closed");
        continue;
      }
      const std::optional<NodeIndex> j = index_of(p.id);
      if (!j || *j != other.node) {
        problems.push_back(entry + ": routing entry for node " +
                           (j ? std::to_string(*j) : std::string("?")) + " on a link to node " +
                           std::to_string(other.node));
        continue;
      }
      const core::PeerInfo* back = nodes_[other.node].node->peer(n.id());
      if (!back) {
        problems.push_back(entry + ": node " + std::to_string(other.node) +
                           " does not list it back");
      } else if (back->conn != other.conn) {
        problems.push_back(entry + ": node " + std::to_string(other.node) +
                           " lists it back on another connection (" + std::to_string(back->conn) +
                           " instead of " + std::to_string(other.conn) + ")");
      }
    }
  }
  return problems;
}

std::vector<BroadcastReport> Simulator::reports() const {
  std::vector<BroadcastReport> out;
  out.reserve(tracker_.size());
  for (std::size_t b = 0; b < tracker_.size(); ++b) out.push_back(report(b));
  return out;
}

void Simulator::trace(std::uint64_t a, std::uint64_t b, std::uint64_t c) {
  trace_ = fold(fold(fold(trace_, a), b), c);
}

}  // namespace p2p::sim
