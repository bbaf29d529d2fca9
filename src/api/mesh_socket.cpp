// MeshSocket: the thread-safe facade over one net::Runtime.
#include "p2p/mesh_socket.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <mutex>
#include <thread>

#include "api/access.hpp"
#include "net/asio.hpp"
#include "net/clock.hpp"
#include "net/runtime.hpp"

namespace p2p {

namespace {

using detail::Access;

/// The default sink: one line per call on standard error, stamped and tagged with the port
/// so that several nodes in one process can be told apart.
LogSink stderr_sink(std::shared_ptr<std::string> tag) {
  return [tag = std::move(tag)](int level, std::string_view text) {
    const auto now = std::chrono::system_clock::now();
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
        1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[16];
    std::strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
    std::fprintf(stderr, "%s.%03d p2pmesh%s [%d] %.*s\n", stamp, static_cast<int>(ms), tag->c_str(),
                 level, static_cast<int>(text.size()), text.data());
  };
}

void append_counters(MeshStatus& out, const core::Counters& c, const net::RuntimeCounters& r) {
  auto& v = out.counters;
  v = {{"frames_in", c.frames_in},
       {"frames_out", c.frames_out},
       {"bytes_in", c.bytes_in},
       {"bytes_out", c.bytes_out},
       {"messages_delivered", c.messages_delivered},
       {"messages_handled", c.messages_handled},
       {"broadcasts_sent", c.broadcasts_sent},
       {"broadcasts_relayed", c.broadcasts_relayed},
       {"broadcast_copies_in", c.broadcast_copies_in},
       {"duplicates_dropped", c.duplicates_dropped},
       {"expired_dropped", c.expired_dropped},
       {"seen_evicted", c.seen_evicted},
       {"handshakes_completed", c.handshakes_completed},
       {"handshake_failures", c.handshake_failures},
       {"wrong_protocol", c.wrong_protocol},
       {"self_connections", c.self_connections},
       {"duplicate_connections", c.duplicate_connections},
       {"protocol_errors", c.protocol_errors},
       {"checksum_failures", c.checksum_failures},
       {"oversize_frames", c.oversize_frames},
       {"connections_refused", c.connections_refused},
       {"timeouts", c.timeouts},
       {"dials", c.dials},
       {"dial_failures", c.dial_failures},
       {"reconnect_dials", c.reconnect_dials},
       {"requests_sent", c.requests_sent},
       {"requests_answered", c.requests_answered},
       {"requests_expired", c.requests_expired},
       {"replies_indirect", c.replies_indirect},
       {"ignored", c.ignored},
       {"accepted", r.accepted},
       {"accept_errors", r.accept_errors},
       {"dial_errors", r.dial_errors},
       {"tls_failures", r.tls_failures},
       {"slow_peers_closed", r.slow_peers_closed},
       {"io_errors", r.io_errors},
       {"peer_eofs", r.peer_eofs},
       {"bytes_read", r.bytes_read},
       {"bytes_written", r.bytes_written},
       {"reads", r.reads},
       {"write_batches", r.write_batches},
       {"callback_exceptions", r.callback_exceptions},
       {"commands_refused", r.commands_refused},
       {"send_pauses", r.send_pauses},
       {"sender_waits", r.sender_waits}};
}

}  // namespace

// ---- events -----------------------------------------------------------------------------------

std::string_view event_name(Event e) noexcept {
  switch (e) {
    case Event::connect:
      return "connect";
    case Event::message:
      return "message";
    case Event::disconnect:
      return "disconnect";
    case Event::peer_joined:
      return "peer_joined";
    case Event::dial_failed:
      return "dial_failed";
    case Event::handshake_failed:
      return "handshake_failed";
  }
  return "unknown";
}

Event event_from_name(std::string_view name) {
  for (Event e : {Event::connect, Event::message, Event::disconnect, Event::peer_joined,
                  Event::dial_failed, Event::handshake_failed})
    if (event_name(e) == name) return e;
  throw UsageError("unknown event '" + std::string(name) +
                   "' (connect, message, disconnect, peer_joined, dial_failed, "
                   "handshake_failed)");
}

// ---- Impl -------------------------------------------------------------------------------------

struct MeshSocket::Impl {
  MeshSocket* self = nullptr;

  // io: an own context and thread, or the caller's context.
  std::shared_ptr<asio::io_context> owned_ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread thread;
  std::shared_ptr<net::Runtime> rt;
  std::shared_ptr<detail::SocketHandle> handle = std::make_shared<detail::SocketHandle>();

  // recv queue
  mutable std::mutex q_mu;
  std::condition_variable q_cv;
  std::deque<Message> queue;
  std::size_t max_queue = 65536;
  std::size_t max_body = 0;  ///< limits.max_body_bytes, for encoding on callers' threads
  std::uint64_t recv_dropped = 0;
  bool queue_closed = false;

  // listeners
  struct ListenerEntry {
    Event event;
    Listener fn;
    bool once;
  };
  std::mutex l_mu;
  std::vector<ListenerEntry> listeners;
  /// How many listeners wait for "message": deliver() skips fire() (and the sender copy it
  /// needs) when none does. Written under l_mu, read without it: a listener added while a
  /// message is being delivered may miss that one message, as if added just after it.
  std::atomic<std::size_t> message_listeners{0};
  bool listeners_closed = false;  ///< under l_mu

  std::mutex close_mu;
  bool close_done = false;

  void init(MeshSocket* owner, MeshOptions o);
  void deliver(core::Message&& m);
  void on_event(const core::EventCmd& e);
  void fire(Event event, const std::string& peer, const std::string& detail);
  core::Handler wrap(Handler fn);
  void shutdown(bool from_destructor);
};

void MeshSocket::Impl::init(MeshSocket* owner, MeshOptions o) {
  self = owner;
  max_queue = std::max<std::size_t>(1, o.max_recv_queue);
  max_body = o.limits.max_body_bytes;

  auto tag = std::make_shared<std::string>();
  LogSink sink = o.log ? std::move(o.log) : stderr_sink(tag);

  net::RuntimeConfig cfg;
  cfg.node.protocol = o.protocol;
  cfg.node.compression = o.compression;
  cfg.node.max_outgoing = o.max_outgoing;
  cfg.node.auto_reconnect = o.auto_reconnect;
  cfg.node.limits = o.limits;
  cfg.bind_host = o.addr;
  cfg.bind_port = o.port;
  if (o.out_addr) cfg.out_addr = core::Address{o.out_addr->host, o.out_addr->port};
  cfg.tls = net::TlsSettings{o.tls.cert_file, o.tls.key_file, o.tls.ca_file, o.tls.pinned_sha256};
  cfg.max_queued_bytes = o.max_queued_bytes_per_peer;
  cfg.read_chunk = o.read_buffer_bytes;
  cfg.tick_interval = o.tick_interval;
  cfg.write_stall_timeout = o.write_stall_timeout;
  cfg.dead_link_timeout = o.dead_link_timeout;
  cfg.max_pending_commands = std::max<std::size_t>(1, o.max_pending_commands);
  cfg.max_pending_bytes = std::max<std::size_t>(1, o.max_pending_command_bytes);
  cfg.log = [sink](int level, const std::string& text) { sink(level, text); };
  cfg.log_level = o.debug_level;

  asio::io_context* ioc = o.io_context;
  if (!ioc) {
    owned_ioc = std::make_shared<asio::io_context>(1);
    ioc = owned_ioc.get();
  }
  auto created = net::Runtime::create(*ioc, std::move(cfg));
  if (!created) {
    const Error& e = created.error();
    if (e.code == Errc::io) throw SocketError(e);
    throw UsageError(e.to_string());
  }
  rt = std::move(created).value();
  *tag = "[" + std::to_string(rt->port()) + "]";
  handle->rt = rt.get();

  rt->start(net::Runtime::Hooks{
      [this](core::Message&& m) { deliver(std::move(m)); },
      [this](const core::EventCmd& e) { on_event(e); },
  });
  if (owned_ioc) {
    work.emplace(owned_ioc->get_executor());
    // The thread holds the context too: if the socket is destroyed by its own handler the
    // thread is detached, and the context must outlive the run() it is inside.
    // Named after the port, so that top -H, perf and gdb tell a process's sockets apart.
    std::string name = "p2p-io-" + std::to_string(rt->port());
    thread = std::thread([ioc_ref = owned_ioc, name = std::move(name)] {
      // At most 15 characters ("p2p-io-65535" is 12); a failure only leaves the old name.
      (void)pthread_setname_np(pthread_self(), name.c_str());
      for (;;) {
        try {
          ioc_ref->run();
          return;
        } catch (...) {
          // Runtime items catch everything they can; keep the loop alive regardless.
        }
      }
    });
  }
}

void MeshSocket::Impl::deliver(core::Message&& m) {
  Message msg = Access::message(std::move(m), handle);
  const bool heard = message_listeners.load(std::memory_order_relaxed) > 0;
  std::string sender = heard ? msg.sender() : std::string();
  {
    std::lock_guard<std::mutex> lock(q_mu);
    if (queue.size() >= max_queue) {
      // The oldest goes: a reader that fell behind cares most about what is new.
      queue.pop_front();
      ++recv_dropped;
    }
    queue.push_back(std::move(msg));
  }
  q_cv.notify_one();
  if (heard) fire(Event::message, sender, {});
}

void MeshSocket::Impl::on_event(const core::EventCmd& e) {
  switch (e.kind) {
    case core::EventKind::connect:
      return fire(Event::connect, e.peer, e.detail);
    case core::EventKind::peer_joined:
      return fire(Event::peer_joined, e.peer, e.detail);
    case core::EventKind::peer_left:
      return fire(Event::disconnect, e.peer, e.detail);
    case core::EventKind::dial_failed:
      return fire(Event::dial_failed, e.peer, e.detail);
    case core::EventKind::handshake_failed:
      return fire(Event::handshake_failed, e.peer, e.detail);
  }
}

void MeshSocket::Impl::fire(Event event, const std::string& peer, const std::string& detail) {
  std::vector<Listener> due;
  {
    std::lock_guard<std::mutex> lock(l_mu);
    // One pass that keeps the rest in order: erasing each `once` listener where it stands
    // would be quadratic in the listeners waiting (a caller may have added many).
    std::erase_if(listeners, [&](ListenerEntry& l) {
      if (l.event != event) return false;
      if (!l.once) {
        due.push_back(l.fn);
        return false;
      }
      if (event == Event::message) --message_listeners;
      due.push_back(std::move(l.fn));
      return true;
    });
  }
  if (due.empty()) return;
  // A listener may destroy the socket: from here on only locals are touched, and the
  // runtime (kept alive by the item running us) says whether to go on.
  std::shared_ptr<net::Runtime> runtime = rt;
  MeshSocket* sock = self;
  const EventInfo info{event, peer, detail};
  if (runtime->logs(5))
    runtime->log(5, "event " + std::string(event_name(event)) +
                        (peer.empty() ? "" : " " + peer.substr(0, 12)));
  for (auto& fn : due) {
    if (runtime->closed()) return;
    try {
      fn(*sock, info);
    } catch (const std::exception& ex) {
      ++runtime->counters().callback_exceptions;
      runtime->record_error(std::string("a '") + std::string(event_name(event)) +
                            "' listener threw: " + ex.what());
    } catch (...) {
      ++runtime->counters().callback_exceptions;
      runtime->record_error(std::string("a '") + std::string(event_name(event)) +
                            "' listener threw");
    }
  }
}

core::Handler MeshSocket::Impl::wrap(Handler fn) {
  // The node owns the wrapper and the runtime owns the node, so a raw runtime pointer is
  // valid whenever the wrapper runs.
  // The Message and Connection the handler gets are kept by the wrapper and refilled for
  // each message, so that their buffers and their reference to the socket are reused: a
  // new pair per message cost an allocation, a free and four atomic operations, ~12% of
  // the receiver's CPU for a small broadcast (docs/testing.md, "Reusing what a handler
  // gets"). The handler sees them by reference, for the call only; what it copies or moves
  // out is its own. One pair per wrapper is enough: handlers of a socket run one at a time
  // on its strand, and only the read path dispatches messages, so a wrapper is never
  // reached again while it runs.
  return [runtime = rt.get(), owner = handle, fn = std::move(fn), msg = Message(),
          conn = Connection()](core::Message& m, const core::LinkView& link) mutable -> bool {
    if (runtime->closed()) return true;
    // The message's packets are lent to the user's Message and given back afterwards (also
    // when the handler throws), for the next handler or for recv(): no copy per handler.
    Access::lend(msg, std::move(m), owner);
    struct GiveBack {
      Message& from;
      core::Message& to;
      ~GiveBack() { Access::give_back(std::move(from), to); }
    } give_back{msg, m};
    Access::describe(conn, link, *runtime, owner);
    if (runtime->logs(5))
      runtime->log(
          5, "handler: message " + msg.id().substr(0, 16) + " from " + msg.sender().substr(0, 12));
    try {
      return fn(msg, conn);
    } catch (const std::exception& ex) {
      ++runtime->counters().callback_exceptions;
      runtime->record_error(std::string("a handler threw: ") + ex.what());
    } catch (...) {
      ++runtime->counters().callback_exceptions;
      runtime->record_error("a handler threw");
    }
    return false;
  };
}

void MeshSocket::Impl::shutdown(bool from_destructor) {
  if (!rt) return;  // construction failed
  const bool on_io = rt->on_io_thread();
  if (on_io && !from_destructor)
    throw UsageError(
        "MeshSocket::close() called on an io thread (from a handler or listener): it would "
        "wait for the thread it runs on. Call it from another thread, or use disconnect().");
  std::lock_guard<std::mutex> lock(close_mu);
  if (close_done) return;
  close_done = true;
  {
    // From now on a Message or Connection kept by the user cannot reach the runtime.
    std::lock_guard<std::mutex> hl(handle->mu);
    handle->rt = nullptr;
  }
  // Waits for the running item (handler, listener) to end, unless it is ours; no callback
  // runs after this.
  rt->close();
  // A reply or Connection::send that took the runtime just before it was cleared may still
  // be in it: close() has refused it if it waited for room, so this wait is short. The
  // runtime outlives it.
  handle->wait_for_callers();
  {
    std::lock_guard<std::mutex> ql(q_mu);
    queue_closed = true;
  }
  q_cv.notify_all();
  {
    std::lock_guard<std::mutex> ll(l_mu);
    listeners.clear();
    message_listeners = 0;
    listeners_closed = true;
  }
  if (owned_ioc) {
    const bool own_thread = thread.get_id() == std::this_thread::get_id();
    // Our io thread closes the sockets (see Runtime::close), then stops.
    if (!own_thread) rt->io_closed().wait();
    work.reset();
    owned_ioc->stop();
    if (thread.joinable()) {
      if (own_thread)
        thread.detach();  // destroyed by its own handler: the thread ends on its own
      else
        thread.join();
    }
  }
}

// ---- MeshSocket -----------------------------------------------------------------------------

MeshSocket::MeshSocket(std::string addr, std::uint16_t port, Protocol protocol,
                       std::optional<Endpoint> out_addr, int debug_level)
    : impl_(std::make_unique<Impl>()) {
  MeshOptions o;
  o.addr = std::move(addr);
  o.port = port;
  o.protocol = std::move(protocol);
  o.out_addr = std::move(out_addr);
  o.debug_level = debug_level;
  impl_->init(this, std::move(o));
}

MeshSocket::MeshSocket(MeshOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->init(this, std::move(options));
}

MeshSocket::~MeshSocket() {
  try {
    impl_->shutdown(true);
  } catch (...) {
    // A destructor must not throw; shutdown(true) only throws on allocation failure.
  }
}

void MeshSocket::close() {
  impl_->shutdown(false);
}
bool MeshSocket::closed() const noexcept {
  return impl_->rt->closed();
}

Status MeshSocket::connect(const std::string& host, std::uint16_t port, std::string id) {
  if (host.empty() || port == 0)
    return Error{Errc::invalid_argument, "connect needs a host and a non-zero port"};
  Impl* impl = impl_.get();
  return detail::run_command(
      *impl->rt, "connect",
      [impl, addr = core::Address{host, port}, id = std::move(id)](core::Node& n,
                                                                   core::Time t) -> Status {
        auto r = n.connect(addr, id.empty() ? std::nullopt : std::optional<std::string>(id), t);
        if (r) return {};
        // Listeners hear of a refused dial the same way as of a failed one.
        impl->fire(Event::dial_failed, id, addr.to_string() + ": " + r.error().message);
        return r.error();
      });
}

Status MeshSocket::send(const Array& packets, std::uint8_t flag, std::uint8_t type) {
  if (flag != flags::broadcast && flag != flags::whisper)
    return Error{Errc::invalid_argument, "flag must be flags::broadcast or flags::whisper"};
  // Encoding and hashing happen here, on the caller's thread: the io thread, which every
  // peer's traffic shares, only de-duplicates and queues the frame. The frame is encoded
  // into a buffer this thread keeps: a small one is copied into the queue and the buffer
  // serves the next send; a large one takes the buffer with it.
  thread_local Bytes buffer;
  auto encoded = core::encode_message(buffer, impl_->rt->id(), packets, flag, type,
                                      net::utc_seconds(), impl_->max_body);
  if (!encoded) {
    if (buffer.size() > net::Runtime::inline_frame_max) Bytes().swap(buffer);  // a refused giant
    return encoded.error();
  }
  if (impl_->rt->on_strand()) {
    // From a handler: the node's answer is known at once.
    return detail::run_command(
        *impl_->rt, "send",
        [m = core::adopt_message(*encoded, std::move(buffer))](
            core::Node& n, core::Time t) mutable { return n.send_prepared(std::move(m), t); });
  }
  if (!impl_->rt->submit_send(*encoded, buffer)) return detail::closed_error();
  return {};
}

std::optional<Message> MeshSocket::recv() {
  std::lock_guard<std::mutex> lock(impl_->q_mu);
  if (impl_->queue.empty()) return std::nullopt;
  Message m = std::move(impl_->queue.front());
  impl_->queue.pop_front();
  return m;
}

std::vector<Message> MeshSocket::recv(std::size_t n) {
  std::vector<Message> out;
  std::lock_guard<std::mutex> lock(impl_->q_mu);
  const std::size_t k = std::min(n, impl_->queue.size());
  out.reserve(k);
  for (std::size_t i = 0; i < k; ++i) {
    out.push_back(std::move(impl_->queue.front()));
    impl_->queue.pop_front();
  }
  return out;
}

std::optional<Message> MeshSocket::recv_for(std::chrono::milliseconds timeout) {
  if (impl_->rt->on_io_thread())
    throw UsageError(
        "MeshSocket::recv_for() called on an io thread (from a handler or listener): the "
        "message it waits for would be delivered by this very thread. Use recv() there.");
  std::unique_lock<std::mutex> lock(impl_->q_mu);
  impl_->q_cv.wait_for(lock, timeout, [&] { return !impl_->queue.empty() || impl_->queue_closed; });
  if (impl_->queue.empty()) return std::nullopt;
  Message m = std::move(impl_->queue.front());
  impl_->queue.pop_front();
  return m;
}

void MeshSocket::register_handler(Handler handler) {
  if (!handler) throw UsageError("register_handler: empty handler");
  (void)detail::run_command(
      *impl_->rt, "register_handler",
      [wrapped = impl_->wrap(std::move(handler))](core::Node& n, core::Time) mutable {
        n.register_handler(std::move(wrapped));
        return Status{};
      });
}

void MeshSocket::add_listener(Event event, Listener fn, bool once) {
  if (!fn) throw UsageError("on/once: empty listener");
  std::lock_guard<std::mutex> lock(impl_->l_mu);
  if (impl_->listeners_closed) return;
  impl_->listeners.push_back(Impl::ListenerEntry{event, std::move(fn), once});
  if (event == Event::message) ++impl_->message_listeners;
}

std::map<std::string, Connection> MeshSocket::routing_table() const {
  std::map<std::string, Connection> out;
  for (const auto& p : impl_->rt->snapshot().routing)
    out.emplace(p.id, Access::connection(p, impl_->handle));
  return out;
}

std::vector<Connection> MeshSocket::awaiting_ids() const {
  std::vector<Connection> out;
  for (const auto& p : impl_->rt->snapshot().awaiting)
    out.push_back(Access::connection(p, impl_->handle));
  return out;
}

std::vector<Connection> MeshSocket::outgoing() const {
  std::vector<Connection> out;
  for (const auto& p : impl_->rt->snapshot().routing)
    if (p.outgoing) out.push_back(Access::connection(p, impl_->handle));
  return out;
}

MeshStatus MeshSocket::status() const {
  const net::Snapshot s = impl_->rt->snapshot();
  MeshStatus out;
  append_counters(out, s.counters, s.runtime);
  {
    std::lock_guard<std::mutex> lock(impl_->q_mu);
    out.counters.emplace_back("recv_dropped", impl_->recv_dropped);
    out.recv_queue = impl_->queue.size();
  }
  for (const auto& e : s.errors) out.recent_errors.push_back({e.when, e.what});
  out.peers = s.routing.size();
  out.awaiting = s.awaiting.size();
  out.outgoing = s.outgoing;
  out.connections = s.connections;
  out.seen_cache = s.seen_cache;
  out.closed = s.closed;
  return out;
}

const std::string& MeshSocket::id() const noexcept {
  return impl_->rt->id();
}
const Protocol& MeshSocket::protocol() const noexcept {
  return impl_->rt->protocol();
}
std::uint16_t MeshSocket::port() const noexcept {
  return impl_->rt->port();
}
Endpoint MeshSocket::out_addr() const {
  const auto& a = impl_->rt->out_addr();
  return Endpoint{a.host, a.port};
}
std::string MeshSocket::certificate_fingerprint() const {
  return impl_->rt->tls_fingerprint();
}

Status MeshSocket::disconnect(const Connection& conn) {
  return detail::run_command(*impl_->rt, "disconnect",
                             [c = conn.conn_id()](core::Node& n, core::Time) {
                               n.disconnect(c, "closed by user");
                               return Status{};
                             });
}

Status MeshSocket::disconnect(std::string_view peer_id) {
  return detail::run_command(*impl_->rt, "disconnect",
                             [pid = std::string(peer_id)](core::Node& n, core::Time) -> Status {
                               const core::PeerInfo* p = n.peer(pid);
                               if (!p) return Error{Errc::invalid_argument, "no peer " + pid};
                               n.disconnect(p->conn, "closed by user");
                               return {};
                             });
}

Status MeshSocket::request_peers() {
  return detail::run_command(*impl_->rt, "request_peers", [](core::Node& n, core::Time t) {
    n.request_peers(t);
    return Status{};
  });
}

}  // namespace p2p
