#include "net/runtime.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <utility>

#include "core/bulk_buffer.hpp"
#include "net/asio.hpp"
#include "net/clock.hpp"
#include "net/lan_address.hpp"

namespace p2p::net {

namespace {

using tcp = asio::ip::tcp;

template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

/// Whether an item (handler, listener, I/O completion) of any runtime is running on this
/// thread. A call from inside one never waits for room in a command queue, not even another
/// socket's: that socket's io thread may itself be waiting for room in ours (two sockets
/// whose handlers send through each other), and an io thread asleep stops its own socket's
/// I/O.
thread_local int items_on_this_thread = 0;

/// How long a link the node closed may keep flushing what was queued before it (a peers
/// list, a last whisper) before the socket is closed regardless.
constexpr auto linger_timeout = std::chrono::seconds(2);
/// Commands from other threads run in batches of this many per strand turn, so that write
/// completions and reads interleave with a burst of user sends.
constexpr std::size_t inbox_batch = 256;
/// Frames queued by commands of one batch before they are handed to the links (pacing
/// granularity: a batch overshoots a link's high-water mark by at most this much).
constexpr std::size_t inbox_pump_bytes = 64u << 10;
/// A segment of the command queue holds this many commands, and this many bytes of small
/// frames. Both vectors stay below glibc's mmap threshold (128 KiB), so a new segment comes
/// from the heap and a freed one goes back to it, without mmap/munmap calls; 1,024 commands
/// are four of drain_inbox()'s batches.
constexpr std::size_t inbox_segment_items = 1024;
constexpr std::size_t inbox_segment_bytes = 96u << 10;
/// Emptied segments kept for reuse: up to inbox_spare_segments while commands flow (each
/// tick frees those its interval did not need), inbox_idle_spare_segments once a whole tick
/// went by without a take. A steady stream cycles through the queued segments plus one or
/// two; an idle node keeps one segment (~190 KiB, resident only where a burst touched it)
/// rather than its burst's peak.
constexpr std::size_t inbox_spare_segments = 4;
constexpr std::size_t inbox_idle_spare_segments = 1;

/// A link's first read buffer. Idle links are most links of a busy node (1,000 of them must
/// cost little), so a buffer starts at one page and doubles, up to read_chunk, only while
/// reads fill it.
constexpr std::size_t initial_read_buffer = 4096;
/// Kept for status(): enough to see a pattern, small enough to copy into every snapshot.
constexpr std::size_t max_recent_errors = 32;

/// A clean close by the peer, as opposed to an I/O failure worth recording.
bool is_peer_close(const std::error_code& ec) {
  return ec == asio::error::eof || ec == asio::ssl::error::stream_truncated ||
         ec == asio::error::connection_reset || ec == asio::error::connection_aborted ||
         ec == asio::error::broken_pipe;
}

std::variant<tcp::socket, Link::TlsStream> make_stream(tcp::socket socket,
                                                       asio::ssl::context* tls) {
  if (tls)
    return std::variant<tcp::socket, Link::TlsStream>(std::in_place_index<1>, std::move(socket),
                                                      *tls);
  return std::variant<tcp::socket, Link::TlsStream>(std::in_place_index<0>, std::move(socket));
}

std::string random_hex(std::size_t bytes) {
  std::random_device rd;
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes; ++i) {
    const auto b = static_cast<unsigned>(rd()) & 0xff;
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

}  // namespace

// ---- Link -----------------------------------------------------------------------------------

Link::Link(core::ConnId conn, bool out, core::Address remote_addr, tcp::socket socket,
           asio::ssl::context* tls_ctx, std::size_t max_queued, std::size_t read_chunk)
    : id(conn),
      outgoing(out),
      remote(std::move(remote_addr)),
      phase(Phase::connecting),
      // TLS links write one frame per record (Runtime::start_write): no coalescing there.
      queue(max_queued,
            tls_ctx ? WriteQueue::Gather::by_reference : WriteQueue::Gather::coalesce_small),
      read_chunk_max(read_chunk),
      read_buf(std::min(read_chunk, initial_read_buffer)),
      stream_(make_stream(std::move(socket), tls_ctx)) {}

tcp::socket& Link::socket() noexcept {
  return is_tls() ? std::get<1>(stream_).next_layer() : std::get<0>(stream_);
}

// ---- construction ---------------------------------------------------------------------------

Runtime::Runtime(asio::io_context& ioc, RuntimeConfig config)
    : ioc_(ioc),
      strand_(asio::make_strand(ioc)),
      cfg_(std::move(config)),
      acceptor_(strand_),
      tick_timer_(strand_),
      accept_retry_(strand_),
      resolver_(strand_),
      protocol_(cfg_.node.protocol),
      // What the queues may hold, saturated: bounds of SIZE_MAX ("unbounded") must not wrap.
      frame_pool_(FramePool::create(cfg_.max_pending_bytes > SIZE_MAX - cfg_.max_queued_bytes
                                        ? SIZE_MAX
                                        : cfg_.max_pending_bytes + cfg_.max_queued_bytes)) {
  // recycle_segment() never allocates (it runs where nothing may throw).
  spare_segments_.reserve(inbox_spare_segments);
}

Runtime::~Runtime() = default;

Result<std::shared_ptr<Runtime>> Runtime::create(asio::io_context& ioc, RuntimeConfig config) {
  const std::string enc = config.node.protocol.encryption();  // a copy: config moves below
  if (enc != "Plaintext" && enc != "SSL")
    return Error{Errc::invalid_argument,
                 "encryption '" + enc + "' is not supported (use \"Plaintext\" or \"SSL\")"};
  if (config.read_chunk == 0 || config.max_batch_buffers == 0 || config.tick_interval.count() <= 0)
    return Error{Errc::invalid_argument, "read_chunk, batch caps and tick_interval must be > 0"};
  std::shared_ptr<Runtime> rt(new Runtime(ioc, std::move(config)));
  RuntimeConfig& cfg = rt->cfg_;

  if (enc == "SSL") {
    auto tls = TlsContext::create(cfg.tls);
    if (!tls) return tls.error();
    rt->tls_ = std::move(tls).value();
  }

  // ---- bind ----
  const bool wildcard = is_wildcard_host(cfg.bind_host);
  tcp::endpoint ep;
  std::error_code ec;
  if (wildcard) {
    const bool v6 = cfg.bind_host == "::" || cfg.bind_host == "[::]";
    ep = tcp::endpoint(v6 ? tcp::v6() : tcp::v4(), cfg.bind_port);
  } else {
    const auto addr = asio::ip::make_address(cfg.bind_host, ec);
    if (!ec) {
      ep = tcp::endpoint(addr, cfg.bind_port);
    } else {
      tcp::resolver resolver(ioc);
      auto results = resolver.resolve(cfg.bind_host, std::to_string(cfg.bind_port), ec);
      if (ec || results.empty())
        return Error{Errc::io, "cannot resolve '" + cfg.bind_host + "': " + ec.message()};
      ep = results.begin()->endpoint();
      for (const auto& r : results) {  // prefer IPv4, as the references do
        if (r.endpoint().address().is_v4()) {
          ep = r.endpoint();
          break;
        }
      }
    }
  }
  auto& acc = rt->acceptor_;
  const std::string where = cfg.bind_host + ":" + std::to_string(cfg.bind_port);
  if (acc.open(ep.protocol(), ec); ec)
    return Error{Errc::io, "cannot open a socket for " + where + ": " + ec.message()};
  acc.set_option(tcp::acceptor::reuse_address(true), ec);
  if (acc.bind(ep, ec); ec) return Error{Errc::io, "cannot bind " + where + ": " + ec.message()};
  if (acc.listen(asio::socket_base::max_listen_connections, ec); ec)
    return Error{Errc::io, "cannot listen on " + where + ": " + ec.message()};
  rt->port_ = acc.local_endpoint(ec).port();

  // ---- the advertised address ----
  std::string host = wildcard ? lan_address() : ep.address().to_string();
  std::uint16_t port = rt->port_;
  if (cfg.out_addr) {
    if (!cfg.out_addr->host.empty()) host = cfg.out_addr->host;
    if (cfg.out_addr->port != 0) port = cfg.out_addr->port;
  }
  rt->out_addr_ = core::Address{host, port};

  // ---- the node ----
  core::NodeConfig ncfg = cfg.node;
  ncfg.out_addr = rt->out_addr_;
  if (ncfg.id_salt.empty()) ncfg.id_salt = random_hex(16);
  if (ncfg.seed == 0) ncfg.seed = std::random_device{}() * 0x100000001ULL + std::random_device{}();
  if (!ncfg.log && cfg.log) ncfg.log = cfg.log;
  if (ncfg.log_level == 0) ncfg.log_level = cfg.log_level;
  rt->node_ = std::make_unique<core::Node>(std::move(ncfg));
  rt->id_ = rt->node_->id();
  rt->log(1, "listening on " + ep.address().to_string() + ":" + std::to_string(rt->port_) + " as " +
                 rt->out_addr_.to_string() + " (" + enc + ")");
  rt->publish(true);
  return rt;
}

void Runtime::start(Hooks hooks) {
  if (started_) return;
  started_ = true;
  hooks_ = std::move(hooks);
  asio::post(strand_, [self = shared_from_this()] {
    self->item([&] {
      self->accept_loop();
      self->tick_loop();
    });
  });
}

// ---- items and the outbox
// ------------------------------------------------------------------------

template <class F>
void Runtime::item(F&& f) {
  std::lock_guard<std::mutex> lock(item_mu_);
  if (closed_) return;
  struct Running {
    Running() noexcept { ++items_on_this_thread; }
    ~Running() { --items_on_this_thread; }
  } running;
  try {
    f();
    pump();
  } catch (const std::exception& e) {
    // Nothing may unwind into the event loop: an exception here would end io_context::run.
    record_error(std::string("internal error: ") + e.what());
  }
}

bool Runtime::submit(std::function<void(core::Node&, core::Time)> fn, std::size_t bytes) {
  if (on_strand()) {
    // Inside an item (a handler or listener): act now, the enclosing item pumps.
    if (closed_) return false;
    fn(*node_, now());
    return true;
  }
  return enqueue(NodeCall{std::move(fn), bytes});
}

bool Runtime::submit_send(core::PreparedMessage message) {
  if (on_strand()) {
    if (closed_) return false;
    InboxItem item(std::move(message));
    run_inbox_item(item, now());
    return true;
  }
  if (message.raw && message.raw->size() <= inline_frame_max) {
    // The frame is copied into the inbox and freed here, by the thread that allocated it.
    core::SharedFrame frame = std::move(message.raw);
    return enqueue(InlineSend{std::move(message), 0, frame->size()}, *frame);
  }
  return enqueue(std::move(message));
}

bool Runtime::submit_send(const core::EncodedMessage& message, Bytes& buffer) {
  if (on_strand()) return submit_send(core::adopt_message(message, std::move(buffer)));
  if (message.frame.size() > inline_frame_max) {
    // The frame goes by reference, in the buffer; the caller gets a recycled one for its
    // next message (see FramePool).
    buffer.resize(message.frame.size());
    core::PreparedMessage prepared =
        core::adopt_message(message, frame_pool_->share(std::move(buffer)));
    buffer = frame_pool_->take();
    return submit_send(std::move(prepared));
  }
  core::PreparedMessage header;
  header.id = message.id;
  header.flag = message.flag;
  header.time = message.time;
  return enqueue(InlineSend{std::move(header), 0, message.frame.size()}, message.frame);
}

bool Runtime::enqueue(InboxItem item, ByteView inline_frame) {
  const std::size_t bytes = held_bytes(item);
  InboxSegment fresh;  // declared before the lock, so that an unused one is freed after it
  std::unique_lock<std::mutex> lock(inbox_mu_);
  for (;;) {
    // On an io thread, or in any socket's handler or listener, the command is queued
    // beyond the bound instead (see items_on_this_thread).
    if (inbox_full() && !on_io_thread() && items_on_this_thread == 0) {
      // Wait until the queue is down to half, not for one free place: a producer woken per
      // command would pay a futex wake-up and a context switch for every send.
      ++room_waiters_;
      sender_waits_.fetch_add(1, std::memory_order_relaxed);
      inbox_room_.wait(lock, [&] { return !accepting_ || inbox_has_room(); });
      --room_waiters_;
    }
    if (!accepting_) return false;
    if (!inbox_.empty() && inbox_.back().items.size() < inbox_segment_items &&
        inbox_.back().bytes.size() + inline_frame.size() <= inbox_segment_bytes)
      break;
    if (!spare_segments_.empty()) {
      inbox_.push_back(std::move(spare_segments_.back()));
      spare_segments_.pop_back();
      break;
    }
    if (fresh.items.capacity() != 0) {
      inbox_.push_back(std::exchange(fresh, InboxSegment()));
      break;
    }
    // A new segment is made with the lock released. Behind a backlog (a burst), its pages
    // are faulted in at once: filled under the lock instead, it faults page by page as the
    // copies reach them, and each fault (~11 us on the benchmark VM) holds the io thread
    // off the mutex, so that it sleeps on it and must be woken. The first segment of an
    // idle queue is left to fault as it fills: a node that sends now and then should not
    // hold a whole segment's pages for it. Then everything is checked again: the queue
    // moved meanwhile.
    const bool burst = !inbox_.empty();
    lock.unlock();
    fresh = ready_segment(burst);
    lock.lock();
  }
  InboxSegment& segment = inbox_.back();
  inbox_peak_since_tick_ = std::max(inbox_peak_since_tick_, inbox_.size());
  if (!inline_frame.empty()) {
    auto& send = std::get<InlineSend>(item);
    send.offset = segment.bytes.size();
    segment.bytes.insert(segment.bytes.end(), inline_frame.begin(), inline_frame.end());
  }
  segment.items.push_back(std::move(item));
  segment.held += bytes;
  ++inbox_items_;
  inbox_held_bytes_ += bytes;
  if (!drain_posted_ && !paused_) {
    drain_posted_ = true;
    asio::post(strand_, [self = shared_from_this()] { self->drain_inbox(); });
  }
  // Made but not needed (another producer added a segment meanwhile): kept for reuse.
  if (fresh.items.capacity() != 0) recycle_segment(std::move(fresh), inbox_spare_segments);
  return true;
}

std::size_t Runtime::held_bytes(const InboxItem& item) noexcept {
  if (const auto* send = std::get_if<InlineSend>(&item)) return send->size;
  if (const auto* message = std::get_if<core::PreparedMessage>(&item))
    return message->raw ? message->raw->size() : 0;
  return std::get<NodeCall>(item).bytes;
}

void Runtime::run_inbox_item(InboxItem& item, core::Time t) {
  if (auto* call = std::get_if<NodeCall>(&item)) {
    call->fn(*node_, t);
    return;
  }
  core::PreparedMessage message;
  if (auto* send = std::get_if<InlineSend>(&item)) {
    // Allocated here, freed here (after its last write): no arena shared with the sender.
    const auto first = taken_.bytes.begin() + static_cast<std::ptrdiff_t>(send->offset);
    send->message.raw =
        std::make_shared<const Bytes>(first, first + static_cast<std::ptrdiff_t>(send->size));
    message = std::move(send->message);
  } else {
    message = std::move(std::get<core::PreparedMessage>(item));
  }
  Status sent = node_->send_prepared(std::move(message), t);
  if (!sent) {
    ++rt_counters_.commands_refused;
    record_error("send refused: " + sent.error().to_string());
  }
}

bool Runtime::inbox_full() const noexcept {
  return queued() >= cfg_.max_pending_commands || queued_bytes() >= cfg_.max_pending_bytes;
}

bool Runtime::inbox_has_room() const noexcept {
  return queued() <= cfg_.max_pending_commands / 2 && queued_bytes() <= cfg_.max_pending_bytes / 2;
}

Runtime::InboxSegment Runtime::ready_segment(bool fault_in) {
  InboxSegment segment;
  segment.items.reserve(inbox_segment_items);
  segment.bytes.reserve(inbox_segment_bytes);
  if (fault_in) {
    core::populate_pages(segment.items.data(), segment.items.capacity() * sizeof(InboxItem));
    core::populate_pages(segment.bytes.data(), segment.bytes.capacity());
  }
  return segment;
}

void Runtime::recycle_segment(InboxSegment segment, std::size_t keep) noexcept {
  // Only segments sized by new_segment() are kept (a moved-from one has no capacity).
  if (segment.items.capacity() != inbox_segment_items || spare_segments_.size() >= keep) return;
  segment.items.clear();
  segment.bytes.clear();
  segment.held = 0;
  spare_segments_.push_back(std::move(segment));
}

void Runtime::take_inbox() {
  if (taken_next_ < taken_.items.size()) return;  // the last take has not all run yet
  // The commands of the last take go on the io thread, outside the lock (their frames were
  // allocated here too, see InlineSend). drain_inbox() has normally destroyed them already,
  // once they all ran; this covers a drain that did not get that far.
  taken_.items.clear();
  taken_next_ = 0;
  std::lock_guard<std::mutex> lock(inbox_mu_);
  // One segment per take: a producer sending as fast as it can meets the io thread on the
  // mutex (a futex call) once per ~1,000 commands at most.
  recycle_segment(std::move(taken_), inbox_spare_segments);
  taken_ = InboxSegment();
  if (inbox_.empty()) {
    taken_left_ = taken_left_bytes_ = taken_unrun_bytes_ = 0;
    return;
  }
  taken_ = std::move(inbox_.front());
  inbox_.pop_front();
  inbox_items_ -= taken_.items.size();
  inbox_held_bytes_ -= taken_.held;
  taken_left_ = taken_.items.size();
  taken_left_bytes_ = taken_unrun_bytes_ = taken_.held;
}

void Runtime::release_burst_capacity() noexcept {
  // Segments are kept for reuse while a burst lasts. Once the queue is empty the burst is
  // over, and an idle node must not hold its peak for the rest of its life.
  recycle_segment(std::move(taken_), inbox_idle_spare_segments);
  taken_ = InboxSegment();
  taken_next_ = 0;
  while (spare_segments_.size() > inbox_idle_spare_segments) spare_segments_.pop_back();
}

void Runtime::release_inbox_if_unused() {
  std::lock_guard<std::mutex> lock(inbox_mu_);
  // The most segments queued at once since the last tick (counting those still queued at
  // it): 0 means none was queued, so none was taken either, all interval long.
  const std::size_t needed = std::exchange(inbox_peak_since_tick_, inbox_.size());
  if (needed == 0 && queued() == 0 && !running_taken_) {
    release_burst_capacity();
    return;
  }
  // Still in use: keep as many spares as the interval had segments queued at once, so that
  // a trickle of sends after a burst does not hold the burst's spares.
  while (spare_segments_.size() > std::max(needed, inbox_idle_spare_segments))
    spare_segments_.pop_back();
}

std::size_t Runtime::spare_inbox_segments() {
  std::lock_guard<std::mutex> lock(inbox_mu_);
  return spare_segments_.size();
}

Runtime::InboxItem& Runtime::next_taken() noexcept {
  // Counted as run before it runs: a command that throws is not rerun.
  InboxItem& item = taken_.items[taken_next_++];
  taken_unrun_bytes_ -= std::min(taken_unrun_bytes_, held_bytes(item));
  return item;
}

void Runtime::drop_taken() noexcept {
  taken_next_ = 0;
  taken_unrun_bytes_ = 0;
  taken_.items.clear();
  taken_.bytes.clear();
  taken_.held = 0;
  std::lock_guard<std::mutex> lock(inbox_mu_);
  taken_left_ = 0;
  taken_left_bytes_ = 0;
}

void Runtime::drain_inbox() {
  take_inbox();
  item([&] {
    // At most inbox_batch commands per strand turn, so that reads and write completions
    // interleave with a burst. Commands run one at a time, and their output is executed
    // (pumped) every `inbox_pump_bytes` of frames: pacing then stops the batch soon after
    // a peer's write queue passes its high-water mark, while a burst of small sends still
    // becomes one snapshot and one gathered write per group.
    // One clock read per batch: the batch lasts microseconds, and the node's clock only
    // times handshakes, stalls and expiry.
    const core::Time t = now();
    const std::size_t end = std::min(taken_.items.size(), taken_next_ + inbox_batch);
    running_taken_ = true;
    while (taken_next_ < end && !closed_ && backlogged_links_ == 0) {
      // The next send's seen-cache slot loads while this one runs (a cache miss per
      // message once the cache is large).
      if (taken_next_ + 1 < end) {
        const InboxItem& next = taken_.items[taken_next_ + 1];
        if (const auto* m = std::get_if<core::PreparedMessage>(&next))
          node_->prefetch(*m);
        else if (const auto* send = std::get_if<InlineSend>(&next))
          node_->prefetch(send->message);
      }
      run_inbox_item(next_taken(), t);
      if (node_->outbox_frame_bytes() >= inbox_pump_bytes) pump();
    }
  });
  running_taken_ = false;
  if (closed_) drop_taken();
  if (taken_next_ == taken_.items.size()) {
    // All run: what the commands captured goes now, outside the lock (a destructor may
    // submit), rather than with the next take. The segment keeps its capacity.
    taken_.items.clear();
    taken_next_ = 0;
  }
  std::lock_guard<std::mutex> lock(inbox_mu_);
  // What pacing left unrun stays taken, and runs first when the links drain.
  taken_left_ = taken_.items.size() - taken_next_;
  taken_left_bytes_ = taken_unrun_bytes_;
  if (room_waiters_ > 0 && inbox_has_room()) inbox_room_.notify_all();
  // An empty queue is not the end of a burst: the io thread often catches up with a
  // producer that is still sending. Freeing the spare segments then gave their memory back
  // to the kernel (a heap trim, whose TLB shootdown interrupts the other CPU too) for the
  // producer to fault in again moments later. The tick frees them once the queue has stayed
  // unused for a whole interval (release_inbox_if_unused()).
  if (closed_ || !accepting_ || queued() == 0 || paused_) {
    drain_posted_ = false;  // set_paused(false) or the next submit() posts again
    return;
  }
  // More to do: yield the strand to reads and write completions, then go on.
  asio::post(strand_, [self = shared_from_this()] { self->drain_inbox(); });
}

void Runtime::set_paused(bool paused) {
  std::lock_guard<std::mutex> lock(inbox_mu_);
  paused_ = paused;
  if (!paused && queued() > 0 && !drain_posted_ && accepting_) {
    drain_posted_ = true;
    asio::post(strand_, [self = shared_from_this()] { self->drain_inbox(); });
  }
}

void Runtime::update_backlog(Link& link) {
  // Hysteresis: pause above half the bound, resume below an eighth, so that a queue
  // hovering at the mark does not toggle the pause on every frame.
  const std::size_t queued = link.phase == Link::Phase::closed ? 0 : link.queue.queued_bytes();
  if (!link.backlogged && queued >= cfg_.max_queued_bytes / 2) {
    link.backlogged = true;
    if (backlogged_links_++ == 0) {
      ++rt_counters_.send_pauses;
      set_paused(true);
    }
  } else if (link.backlogged && queued <= cfg_.max_queued_bytes / 8) {
    link.backlogged = false;
    if (--backlogged_links_ == 0) set_paused(false);
  }
}

void Runtime::close_stalled_links() {
  if (writes_in_flight_ == 0) return;  // only a write in flight can stall; spare the scan
  const auto now_steady = std::chrono::steady_clock::now();
  std::vector<std::shared_ptr<Link>> stalled;
  for (const auto& [conn, link] : links_)
    if (link->writing && now_steady - link->last_write_progress > cfg_.write_stall_timeout)
      stalled.push_back(link);
  for (const auto& link : stalled) {
    ++rt_counters_.slow_peers_closed;
    const std::string why = "slow peer: no write completed for " +
                            std::to_string(cfg_.write_stall_timeout.count()) + " ms";
    record_error("closing " + link->remote.to_string() + ": " + why);
    fail_link(link, why);
  }
}

void Runtime::pump() {
  while (!closed_ && !node_->outbox_empty()) {
    std::vector<core::Command> cmds = std::move(commands_);
    node_->take_outbox(cmds);
    // Whoever learns of these commands' effects (an event, a delivery, or a peer answering
    // what we send) must find the snapshot already showing what caused them. That includes
    // the errors the events report: they are recorded here, with the counters that count
    // them, so no snapshot shows the one without the other.
    for (const auto& c : cmds)
      if (const auto* e = std::get_if<core::EventCmd>(&c)) record_event_error(*e);
    publish(false);
    for (auto& c : cmds) {
      if (closed_) break;
      execute(c);
    }
    cmds.clear();
    commands_ = std::move(cmds);
    start_due_writes();
  }
  publish(false);
}

void Runtime::start_due_writes() {
  for (const auto& link : writes_due_) {
    link->write_due = false;
    if (link->phase == Link::Phase::open && !link->writing && !link->queue.idle()) {
      link->last_write_progress = std::chrono::steady_clock::now();
      start_write(link);
    }
  }
  writes_due_.clear();
}

void Runtime::execute(core::Command& cmd) {
  std::visit(Overloaded{
                 [&](core::SendCmd& c) { send_frame(c.conn, std::move(c.frame)); },
                 [&](core::DialCmd& c) { dial(c); },
                 [&](core::CloseCmd& c) { close_by_node(c.conn, c.reason); },
                 [&](core::DeliverCmd& c) {
                   if (hooks_.deliver) hooks_.deliver(std::move(c.msg));
                 },
                 [&](core::EventCmd& c) {
                   if (hooks_.event) hooks_.event(c);
                 },
             },
             cmd);
}

void Runtime::record_event_error(const core::EventCmd& e) {
  if (e.kind == core::EventKind::dial_failed)
    record_error("dial failed: " + e.detail);
  else if (e.kind == core::EventKind::handshake_failed)
    record_error("handshake failed on connection " + std::to_string(e.conn) + ": " + e.detail);
}

void Runtime::publish(bool force_tables) {
  const bool closed = closed_;
  const std::uint64_t tables_version = node_->tables_version();
  std::lock_guard<std::mutex> lock(snap_mu_);
  snap_.counters = node_->counters();
  snap_.runtime = rt_counters_;
  snap_.connections = closed ? 0 : node_->connection_count();
  snap_.seen_cache = node_->seen_cache_size();
  snap_.closed = closed;
  if (force_tables || closed || tables_version != published_tables_version_) {
    snap_.routing = closed ? std::vector<core::PeerInfo>{} : node_->routing_table();
    snap_.awaiting = closed ? std::vector<core::PendingInfo>{} : node_->awaiting();
    snap_.outgoing = closed ? 0 : node_->outgoing_count();
    published_tables_version_ = tables_version;
  }
  if (errors_dirty_) {
    snap_.errors.assign(errors_.begin(), errors_.end());
    errors_dirty_ = false;
  }
}

Snapshot Runtime::snapshot() const {
  if (!on_strand()) {
    std::lock_guard<std::mutex> lock(snap_mu_);
    Snapshot s = snap_;
    // Counted by the waiting thread itself: current, even while the io thread is idle.
    s.runtime.sender_waits = sender_waits_.load(std::memory_order_relaxed);
    return s;
  }
  Snapshot s;
  const bool closed = closed_;
  s.closed = closed;
  s.counters = node_->counters();
  s.runtime = rt_counters_;
  s.runtime.sender_waits = sender_waits_.load(std::memory_order_relaxed);
  s.errors.assign(errors_.begin(), errors_.end());
  s.seen_cache = node_->seen_cache_size();
  if (!closed) {
    s.routing = node_->routing_table();
    s.awaiting = node_->awaiting();
    s.connections = node_->connection_count();
    s.outgoing = node_->outgoing_count();
  }
  return s;
}

const Link* Runtime::link(core::ConnId conn) const {
  auto it = links_.find(conn);
  return it == links_.end() ? nullptr : it->second.get();
}

void Runtime::log(int level, const std::string& text) const {
  if (cfg_.log && level <= cfg_.log_level) cfg_.log(level, text);
}

void Runtime::record_error(std::string what) {
  log(1, what);
  errors_.push_back(RecentError{std::chrono::system_clock::now(), std::move(what)});
  while (errors_.size() > max_recent_errors) errors_.pop_front();
  errors_dirty_ = true;
}

// ---- accepting ------------------------------------------------------------------------------

void Runtime::accept_loop() {
  acceptor_.async_accept(
      strand_, [self = shared_from_this()](const std::error_code& ec, tcp::socket socket) {
        self->item([&] { self->on_accept(ec, std::move(socket)); });
      });
}

void Runtime::on_accept(const std::error_code& ec, tcp::socket socket) {
  if (ec) {
    if (ec == asio::error::operation_aborted) return;
    ++rt_counters_.accept_errors;
    record_error("accept failed: " + ec.message());
    // Out of descriptors and the like: retry shortly instead of spinning.
    accept_retry_.expires_after(std::chrono::milliseconds(100));
    accept_retry_.async_wait([self = shared_from_this()](const std::error_code& e) {
      self->item([&] {
        if (!e) self->accept_loop();
      });
    });
    return;
  }
  accept_loop();
  ++rt_counters_.accepted;
  configure_socket(socket);
  std::error_code e;
  const auto rep = socket.remote_endpoint(e);
  if (e) return;  // already gone
  core::Address remote{rep.address().to_string(), rep.port()};
  const core::ConnId conn = node_->on_incoming(remote, now());
  auto link = std::make_shared<Link>(conn, false, std::move(remote), std::move(socket),
                                     tls_ ? &tls_->context() : nullptr, cfg_.max_queued_bytes,
                                     cfg_.read_chunk);
  link->node_connected = true;
  links_[conn] = link;
  log(2, "accepted connection " + std::to_string(conn) + " from " + link->remote.to_string());
  if (!link->is_tls()) {
    link_ready(link);
    return;
  }
  link->phase = Link::Phase::tls_handshake;
  link->tls().async_handshake(
      asio::ssl::stream_base::server, [self = shared_from_this(), link](const std::error_code& he) {
        self->item([&] {
          if (link->phase != Link::Phase::tls_handshake) return;
          if (he) {
            ++self->rt_counters_.tls_failures;
            self->record_error("TLS handshake with " + link->remote.to_string() +
                               " failed: " + he.message());
            self->fail_link(link, "TLS handshake failed: " + he.message());
            return;
          }
          self->link_ready(link);
        });
      });
}

void Runtime::tick_loop() {
  tick_timer_.expires_after(cfg_.tick_interval);
  tick_timer_.async_wait([self = shared_from_this()](const std::error_code& ec) {
    self->item([&] {
      if (ec) return;
      self->node_->tick(now());
      self->close_stalled_links();
      self->frame_pool_->release_if_unused();
      self->release_inbox_if_unused();
      self->tick_loop();
    });
  });
}

// ---- dialling -------------------------------------------------------------------------------

void Runtime::dial(const core::DialCmd& cmd) {
  auto link = std::make_shared<Link>(cmd.conn, true, cmd.addr, tcp::socket(strand_),
                                     tls_ ? &tls_->context() : nullptr, cfg_.max_queued_bytes,
                                     cfg_.read_chunk);
  links_[cmd.conn] = link;
  log(2, "dialling " + cmd.addr.to_string() + " as connection " + std::to_string(cmd.conn));
  std::error_code ec;
  const auto addr = asio::ip::make_address(cmd.addr.host, ec);
  if (!ec) {
    connect_endpoints(link, {tcp::endpoint(addr, cmd.addr.port)}, 0, {});
    return;
  }
  resolver_.async_resolve(
      cmd.addr.host, std::to_string(cmd.addr.port),
      [self = shared_from_this(), link](const std::error_code& re,
                                        tcp::resolver::results_type results) {
        self->item([&] {
          if (link->phase != Link::Phase::connecting) return;
          if (re || results.empty()) {
            ++self->rt_counters_.dial_errors;
            self->dial_failed(link, "cannot resolve " + link->remote.host + ": " + re.message());
            return;
          }
          std::vector<tcp::endpoint> eps;
          for (const auto& r : results) eps.push_back(r.endpoint());
          self->connect_endpoints(link, std::move(eps), 0, {});
        });
      });
}

void Runtime::connect_endpoints(std::shared_ptr<Link> link, std::vector<tcp::endpoint> eps,
                                std::size_t next, std::string last_error) {
  if (next >= eps.size()) {
    ++rt_counters_.dial_errors;
    dial_failed(link, last_error.empty() ? "no address to connect to" : last_error);
    return;
  }
  std::error_code ig;
  if (link->socket().is_open()) link->socket().close(ig);
  const tcp::endpoint ep = eps[next];
  link->socket().async_connect(ep, [self = shared_from_this(), link, eps = std::move(eps),
                                    next](const std::error_code& ec) {
    self->item([&] {
      if (link->phase != Link::Phase::connecting) return;
      if (ec) {
        self->connect_endpoints(link, eps, next + 1,
                                "connect to " + eps[next].address().to_string() + ":" +
                                    std::to_string(eps[next].port()) + " failed: " + ec.message());
        return;
      }
      self->dial_connected(link);
    });
  });
}

void Runtime::configure_socket(tcp::socket& socket) {
  std::error_code e;
  socket.set_option(tcp::no_delay(true), e);
  const auto timeout = cfg_.dead_link_timeout;
  if (timeout.count() <= 0) return;
  // An idle link is probed after a third of the timeout, then every sixth, and dropped
  // after two unanswered probes; a link with unacknowledged data is dropped after the
  // timeout. Failures are ignored: the options only shorten how long a dead link lingers.
  const int secs = static_cast<int>(
      std::max<std::int64_t>(3, std::chrono::duration_cast<std::chrono::seconds>(timeout).count()));
  const int idle = std::max(1, secs / 3), interval = std::max(1, secs / 6), probes = 2;
  const unsigned user_timeout = static_cast<unsigned>(timeout.count());
  socket.set_option(asio::socket_base::keep_alive(true), e);
  const int fd = socket.native_handle();
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof probes);
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout);
}

void Runtime::dial_connected(const std::shared_ptr<Link>& link) {
  configure_socket(link->socket());
  if (!link->is_tls()) {
    link->node_connected = true;
    node_->on_dial_connected(link->id, now());
    link_ready(link);
    return;
  }
  link->phase = Link::Phase::tls_handshake;
  link->tls().async_handshake(
      asio::ssl::stream_base::client, [self = shared_from_this(), link](const std::error_code& he) {
        self->item([&] {
          if (link->phase != Link::Phase::tls_handshake) return;
          if (he) {
            ++self->rt_counters_.tls_failures;
            self->dial_failed(link, "TLS handshake failed: " + he.message());
            return;
          }
          link->node_connected = true;
          self->node_->on_dial_connected(link->id, now());
          self->link_ready(link);
        });
      });
}

void Runtime::dial_failed(const std::shared_ptr<Link>& link, const std::string& reason) {
  // The node raises a dial_failed event, which records the error.
  fail_link(link, reason);
}

void Runtime::link_ready(const std::shared_ptr<Link>& link) {
  link->phase = Link::Phase::open;
  start_read(link);
  if (!link->writing && !link->queue.idle()) {
    link->last_write_progress = std::chrono::steady_clock::now();
    start_write(link);
  }
}

// ---- reading --------------------------------------------------------------------------------

void Runtime::start_read(const std::shared_ptr<Link>& link) {
  auto handler = [self = shared_from_this(), link](const std::error_code& ec, std::size_t n) {
    self->item([&] { self->on_read(link, ec, n); });
  };
  auto buf = asio::buffer(link->read_buf);
  if (link->is_tls())
    link->tls().async_read_some(buf, std::move(handler));
  else
    link->plain().async_read_some(buf, std::move(handler));
}

void Runtime::on_read(const std::shared_ptr<Link>& link, const std::error_code& ec, std::size_t n) {
  if (link->phase != Link::Phase::open) return;  // closing: the node has forgotten it
  if (ec) {
    if (is_peer_close(ec)) {
      ++rt_counters_.peer_eofs;
      fail_link(link, "closed by peer (" + ec.message() + ")");
    } else {
      ++rt_counters_.io_errors;
      record_error("read from " + link->remote.to_string() + " failed: " + ec.message());
      fail_link(link, "read failed: " + ec.message());
    }
    return;
  }
  ++rt_counters_.reads;
  rt_counters_.bytes_read += n;
  // Handed straight to the node: its frame reader copies only a frame cut by the read.
  node_->on_bytes(link->id, ByteView(link->read_buf.data(), n), now());
  if (n == link->read_buf.size() && n < link->read_chunk_max)  // a busy link: read more at once
    link->read_buf.resize(std::min(n * 2, link->read_chunk_max));
  if (link->phase == Link::Phase::open) start_read(link);
}

// ---- writing --------------------------------------------------------------------------------

void Runtime::send_frame(core::ConnId conn, core::SharedFrame frame) {
  auto it = links_.find(conn);
  if (it == links_.end()) return;
  std::shared_ptr<Link> link = it->second;
  if (!link->queue.push(std::move(frame))) {
    ++rt_counters_.slow_peers_closed;
    const std::string why = "slow peer: more than " + std::to_string(link->queue.max_bytes()) +
                            " bytes queued for writing";
    record_error("closing " + link->remote.to_string() + ": " + why);
    fail_link(link, why);
    return;
  }
  update_backlog(*link);
  // The write starts when the pump has executed every command it took (start_due_writes).
  if (link->phase == Link::Phase::open && !link->writing && !link->write_due) {
    link->write_due = true;
    writes_due_.push_back(std::move(link));
  }
}

void Runtime::start_write(const std::shared_ptr<Link>& link) {
  link->writing = true;
  ++writes_in_flight_;
  ++rt_counters_.write_batches;
  auto handler = [self = shared_from_this(), link](const std::error_code& ec, std::size_t n) {
    self->item([&] { self->on_write(link, ec, n); });
  };
  if (link->is_tls()) {
    // One frame per TLS record, so one frame per write: asio::ssl linearises up to 8 KiB of
    // a buffer sequence into one record. py2p reads a TLS link 1024 bytes at a time only
    // until its current frame is complete, and bytes of a later frame left inside its SSL
    // object are not seen by its select() until more data arrives, so the tail of a burst
    // stalls there (interop bug P1). A record that ends where its frame ends leaves nothing
    // behind. The cost is one record and one system call per frame on TLS links.
    const auto& bufs = link->queue.start_batch(1, cfg_.max_batch_bytes);
    asio::async_write(link->tls(), bufs, std::move(handler));
  } else {
    const auto& bufs = link->queue.start_batch(cfg_.max_batch_buffers, cfg_.max_batch_bytes);
    // asio::transfer_all() hands each sendmsg() at most 64 KiB; a batch goes in as few
    // calls as the socket's buffer allows instead.
    const std::size_t per_call = cfg_.max_batch_bytes;
    asio::async_write(
        link->plain(), bufs,
        [per_call](const std::error_code& ec, std::size_t) -> std::size_t {
          return ec ? 0 : per_call;
        },
        std::move(handler));
  }
}

void Runtime::on_write(const std::shared_ptr<Link>& link, const std::error_code& ec,
                       std::size_t n) {
  link->writing = false;
  --writes_in_flight_;
  if (link->phase == Link::Phase::closed) return;
  if (ec) {
    if (link->phase == Link::Phase::closing) {
      finish_close(link);
    } else if (is_peer_close(ec)) {
      ++rt_counters_.peer_eofs;
      fail_link(link, "closed by peer (" + ec.message() + ")");
    } else {
      ++rt_counters_.io_errors;
      record_error("write to " + link->remote.to_string() + " failed: " + ec.message());
      fail_link(link, "write failed: " + ec.message());
    }
    return;
  }
  rt_counters_.bytes_written += n;
  link->queue.finish_batch();
  link->last_write_progress = std::chrono::steady_clock::now();
  update_backlog(*link);
  if (!link->queue.idle()) {
    start_write(link);
    return;
  }
  if (link->phase == Link::Phase::closing) finish_close(link);
  check_flushed();
}

// ---- closing --------------------------------------------------------------------------------

void Runtime::close_by_node(core::ConnId conn, const std::string& reason) {
  auto it = links_.find(conn);
  if (it != links_.end()) {
    std::shared_ptr<Link> link = std::move(it->second);
    links_.erase(it);
    log(2, "closing connection " + std::to_string(conn) + ": " + reason);
    if (link->phase == Link::Phase::open && (link->writing || !link->queue.idle())) {
      link->phase = Link::Phase::closing;
      closing_.insert(link);
      link->linger.emplace(strand_);
      link->linger->expires_after(linger_timeout);
      link->linger->async_wait([self = shared_from_this(), link](const std::error_code& ec) {
        self->item([&] {
          if (!ec) self->finish_close(link);
        });
      });
    } else {
      finish_close(link);
    }
  }
  node_->on_closed(conn, reason, now());
}

void Runtime::fail_link(const std::shared_ptr<Link>& link, const std::string& reason) {
  auto it = links_.find(link->id);
  const bool known = it != links_.end() && it->second == link;
  if (known) links_.erase(it);
  finish_close(link);
  if (!known) return;  // the node closed it first and was told then
  if (link->node_connected)
    node_->on_closed(link->id, reason, now());
  else
    node_->on_dial_failed(link->id, reason, now());
}

void Runtime::finish_close(const std::shared_ptr<Link>& link) {
  if (link->phase == Link::Phase::closed) return;
  link->phase = Link::Phase::closed;
  closing_.erase(link);
  std::error_code ig;
  link->socket().shutdown(tcp::socket::shutdown_both, ig);
  link->socket().close(ig);
  if (link->linger) link->linger->cancel();
  link->queue.drop_waiting();
  update_backlog(*link);  // a closed link holds nobody back
}

void Runtime::begin_flush() {
  item([&] {
    // Everything submitted before close() runs, pacing or not: send() returned ok for it.
    // close() has stopped new submissions, so each take gets what was left, oldest first.
    for (take_inbox(); taken_next_ < taken_.items.size(); take_inbox()) {
      while (taken_next_ < taken_.items.size()) {
        run_inbox_item(next_taken(), now());
        pump();
      }
    }
    drop_taken();
    flushing_ = true;
    check_flushed();
  });
}

void Runtime::check_flushed() {
  if (!flushing_ || flushed_set_) return;
  for (const auto& [conn, link] : links_)
    if (link->phase == Link::Phase::open && (link->writing || !link->queue.idle())) return;
  flushed_set_ = true;
  flushed_.set_value();
}

void Runtime::close() {
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    accepting_ = false;
  }
  inbox_room_.notify_all();
  const bool strand = on_strand();
  // Not on an io thread: the strand may need this very thread to run the flush.
  if (!on_io_thread() && !closed_ && !flush_started_.exchange(true)) {
    // Graceful part: the queued commands run and the queued frames go out, for at most
    // linger_timeout (a peer that does not read, or an io_context nobody runs, cannot hold
    // close() longer).
    auto flushed = flushed_.get_future();
    asio::post(strand_, [self = shared_from_this()] { self->begin_flush(); });
    flushed.wait_for(linger_timeout);
  }
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    inbox_.clear();  // whatever could not run in time (called from a handler: nothing runs)
    inbox_items_ = 0;
    inbox_held_bytes_ = 0;
  }
  {
    std::unique_lock<std::mutex> lock(item_mu_, std::defer_lock);
    if (!strand) lock.lock();  // wait for the item running on the io thread, if any
    if (closed_) return;
    closed_ = true;  // from here on no item runs: no handler, no listener, no node input
    log(1, "closing");
    publish(true);
  }
  // The sockets themselves are closed on the strand: Asio's composed operations (a
  // gathered write, a TLS record) run intermediate steps there, outside any item, and a
  // socket must not be closed under their feet from another thread.
  if (strand)
    shutdown_io();
  else
    asio::post(strand_, [self = shared_from_this()] { self->shutdown_io(); });
}

void Runtime::shutdown_io() {
  std::error_code ig;
  acceptor_.close(ig);
  tick_timer_.cancel();
  accept_retry_.cancel();
  resolver_.cancel();
  for (auto& [conn, link] : links_) finish_close(link);
  links_.clear();
  const auto closing = closing_;
  for (const auto& link : closing) finish_close(link);
  closing_.clear();
  // What the flush had no time for: nothing runs any more. A command that closed the
  // runtime from inside drain_inbox() is still running: drain_inbox() drops them after it.
  if (!running_taken_) drop_taken();
  io_closed_.set_value();
}

bool Runtime::closed() const noexcept {
  return closed_;
}

}  // namespace p2p::net
