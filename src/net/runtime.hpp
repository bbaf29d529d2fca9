// net::Runtime: puts one core::Node on real sockets.
//
// The runtime executes the node's outbox (SendCmd, DialCmd, CloseCmd, DeliverCmd, EventCmd)
// and feeds it inputs (a connection accepted, a dial done or failed, bytes read, a connection
// gone, the passage of time). It makes no protocol decision of its own: which peers to dial,
// what to send, when to close a hostile peer are all the node's.
//
// Threading. Everything that touches the node or a socket runs as an "item" on one strand of
// the io_context: an Asio completion handler, the tick timer, or a batch of commands posted
// by other threads through submit(). Items hold `item_mu_` while they run, which gives
// close() a way to wait for the running item to end from any thread; user handlers and event
// listeners run inside items, i.e. on the io thread. Other threads read a snapshot (routing
// table, counters, errors) that items publish, so a query never waits for user code.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "core/node.hpp"
#include "net/asio.hpp"
#include "net/frame_pool.hpp"
#include "net/tls.hpp"
#include "net/write_queue.hpp"

namespace p2p::net {

using LogFn = std::function<void(int level, const std::string& text)>;

struct RuntimeConfig {
  /// The node's configuration. out_addr, id_salt and seed are filled in by the runtime when
  /// left empty / zero (out_addr from the bound address, salt and seed at random).
  core::NodeConfig node;
  std::string bind_host = "0.0.0.0";
  std::uint16_t bind_port = 0;
  /// Advertised address; host "" means the bound/LAN address, port 0 the bound port.
  std::optional<core::Address> out_addr;
  TlsSettings tls;  ///< used when node.protocol.encryption() is "SSL"
  /// Bytes that may wait in one connection's write queue before the peer is closed as too
  /// slow. 4 MiB is one maximum-size frame (core::Limits::max_frame_bytes): a peer that
  /// cannot absorb that much is stalled, not merely busy (a LAN drains 4 MiB in ~40 ms),
  /// and with max_connections = 128 the worst case stays near 512 MiB.
  std::size_t max_queued_bytes = 4u << 20;
  /// Largest read: large reads hand many frames to the node per system call, and the frame
  /// reader copies only a frame that straddles two reads. A link's buffer starts at 4 KiB
  /// and grows to this while reads fill it, so idle links stay small.
  std::size_t read_chunk = 64u << 10;
  /// Period of node.tick(): handshake and stall timeouts, cache expiry, self-healing.
  std::chrono::milliseconds tick_interval{250};
  /// Caps of one gathered write: buffers (a large frame, or a chunk of up to 64 KiB of small
  /// ones, see WriteQueue) and bytes. Asio passes 16 buffers to each sendmsg(), so a full
  /// batch of chunks takes a few calls, of up to max_batch_bytes each.
  std::size_t max_batch_buffers = 256;
  std::size_t max_batch_bytes = 1u << 20;
  /// Commands from other threads waiting for the io thread, and the bytes of the frames
  /// and payloads they hold. Beyond either, submit() from a thread that is not an io
  /// thread waits until both are down to half: a producer that outruns the io thread is
  /// slowed down instead of growing the process. The count alone would let 65,536 commands
  /// of 4 MiB each (256 GiB) wait for a backlogged peer.
  std::size_t max_pending_commands = 65536;
  std::size_t max_pending_bytes = 16u << 20;
  /// A connection with bytes to write that completes no write for this long is closed as
  /// stalled (its peer stopped reading). Long enough for a 4 MiB frame on a slow link.
  std::chrono::milliseconds write_stall_timeout{30'000};
  /// Keep-alive and TCP_USER_TIMEOUT: a vanished peer's link closes after about this long
  /// (see MeshOptions::dead_link_timeout). 0: the system's defaults.
  std::chrono::milliseconds dead_link_timeout{30'000};
  LogFn log;
  int log_level = 0;
};

/// What the runtime itself saw (the node counts protocol events in core::Counters).
struct RuntimeCounters {
  std::uint64_t accepted = 0;           ///< incoming TCP connections accepted
  std::uint64_t accept_errors = 0;      ///< accept() failures (e.g. out of descriptors)
  std::uint64_t dial_errors = 0;        ///< resolve / connect failures
  std::uint64_t tls_failures = 0;       ///< TLS handshakes that failed (incl. verification)
  std::uint64_t slow_peers_closed = 0;  ///< peers closed for exceeding max_queued_bytes
  std::uint64_t io_errors = 0;          ///< reads or writes that failed (not a clean EOF)
  std::uint64_t peer_eofs = 0;          ///< connections the peer closed
  std::uint64_t bytes_read = 0, bytes_written = 0;
  std::uint64_t reads = 0, write_batches = 0;
  std::uint64_t callback_exceptions = 0;  ///< user handlers / listeners that threw
  std::uint64_t commands_refused = 0;     ///< user commands the node refused (see errors)
  std::uint64_t send_pauses = 0;  ///< times a peer's backlog paused commands from other threads
  /// Times a thread calling send(), reply(), ... waited for room in the command queue
  /// (max_pending_commands / max_pending_bytes). Counted by the waiting thread.
  std::uint64_t sender_waits = 0;
};

struct RecentError {
  std::chrono::system_clock::time_point when;
  std::string what;
};

/// A consistent picture of the node for threads other than the io thread.
struct Snapshot {
  std::vector<core::PeerInfo> routing;
  std::vector<core::PendingInfo> awaiting;
  core::Counters counters;
  RuntimeCounters runtime;
  std::vector<RecentError> errors;  ///< oldest first
  std::size_t connections = 0;
  std::size_t seen_cache = 0;
  std::size_t outgoing = 0;
  bool closed = false;
};

class Runtime;

/// One TCP or TLS connection: the stream, its write queue and its read buffer. Owned by the
/// runtime's map while open and by every pending Asio handler, so buffers outlive the
/// operations that use them.
class Link {
 public:
  using tcp = asio::ip::tcp;
  using TlsStream = asio::ssl::stream<tcp::socket>;

  Link(core::ConnId id, bool outgoing, core::Address remote, tcp::socket socket,
       asio::ssl::context* tls, std::size_t max_queued, std::size_t read_chunk);

  tcp::socket& socket() noexcept;
  bool is_tls() const noexcept { return stream_.index() == 1; }
  TlsStream& tls() { return std::get<1>(stream_); }
  tcp::socket& plain() { return std::get<0>(stream_); }

  const core::ConnId id;
  const bool outgoing;
  core::Address remote;
  enum class Phase { connecting, tls_handshake, open, closing, closed } phase;
  /// The node knows this connection as established: incoming ones from the accept on,
  /// outgoing ones once on_dial_connected was fed. Decides on_closed vs on_dial_failed.
  bool node_connected = false;
  bool writing = false;
  /// Frames were queued during the current pump; its write starts when the pump ends, so
  /// that one burst of commands becomes one gathered write.
  bool write_due = false;
  /// Above the high-water mark: commands from other threads wait until it drains.
  bool backlogged = false;
  /// When a write last completed, or was started on an idle link (stall detection).
  std::chrono::steady_clock::time_point last_write_progress;
  WriteQueue queue;
  const std::size_t read_chunk_max;  ///< read_buf grows up to this (RuntimeConfig::read_chunk)
  std::vector<std::uint8_t> read_buf;
  std::optional<asio::steady_timer> linger;  ///< bounds how long a closing link flushes

 private:
  std::variant<tcp::socket, TlsStream> stream_;
};

class Runtime : public std::enable_shared_from_this<Runtime> {
 public:
  struct Hooks {
    std::function<void(core::Message&&)> deliver;      ///< a message for recv(); on the strand
    std::function<void(const core::EventCmd&)> event;  ///< a node event; on the strand
  };

  /// Binds the listening socket (synchronously, so that port() is known and a bind error
  /// surfaces at once), creates the TLS context and the node. Nothing runs until start().
  static Result<std::shared_ptr<Runtime>> create(asio::io_context& ioc, RuntimeConfig config);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  /// Starts accepting and ticking. Call once.
  void start(Hooks hooks);

  /// Runs `fn` against the node as one item, followed by executing the outbox. From the
  /// strand (a handler or listener) it runs at once and its outbox is executed when the
  /// enclosing item ends; from any other thread it is queued, in order. Returns false when
  /// the runtime is closed (fn does not run). When max_pending_commands are already queued,
  /// a caller that is not on an io thread waits for room (an io thread never waits).
  /// `bytes` is what the command holds (a payload it will send), for max_pending_bytes.
  ///
  /// Pacing: while a connection's write queue is above half of max_queued_bytes, queued
  /// commands wait (and so, once the queue is full, do their callers): the node's own
  /// sends go at the pace of its slowest peer instead of getting that peer closed. A peer
  /// that stops reading altogether is closed after write_stall_timeout.
  bool submit(std::function<void(core::Node&, core::Time)> fn, std::size_t bytes = 0);
  /// submit() of node.send_prepared(message): the common command, queued without a
  /// std::function (and its allocation). A refusal is counted and recorded like any
  /// command's.
  bool submit_send(core::PreparedMessage message);
  /// The same for a message encoded into `buffer` (core::encode_message): a small frame is
  /// copied into the queue and `buffer` is left for the caller's next message; a large one
  /// takes `buffer` over (it is left empty), so neither way allocates a second copy.
  bool submit_send(const core::EncodedMessage& message, Bytes& buffer);
  /// Frames up to this size travel by value through the inbox (InlineSend): the sizes glibc
  /// serves from its per-thread caches, where a cross-thread free costs most relative to
  /// the frame. Copying a larger frame would cost more than its allocation.
  static constexpr std::size_t inline_frame_max = 1024;

  /// True on the thread currently running this runtime's strand (inside an item).
  bool on_strand() const noexcept { return strand_.running_in_this_thread(); }
  /// True on any thread currently running the io_context (own or shared).
  bool on_io_thread() const noexcept { return ioc_.get_executor().running_in_this_thread(); }

  /// Closes the runtime: afterwards no item runs (no handler, listener or node input). From
  /// another thread it first runs the commands already submitted (a send accepted before
  /// close() is not dropped) and lets the write queues drain, for at most `linger`; then it
  /// waits for the running item, if any, to end. The listener and
  /// the connections are closed on the strand: at once when called there, else as soon as
  /// the io_context runs the posted shutdown (io_closed() says when). Idempotent.
  void close();
  /// Ready once the sockets are closed (see close()).
  std::shared_future<void> io_closed() const { return io_closed_future_; }
  bool closed() const noexcept;

  /// The node; only on the strand.
  core::Node& node() noexcept { return *node_; }
  const core::Node& node() const noexcept { return *node_; }

  /// Live on the strand, the last published snapshot elsewhere.
  Snapshot snapshot() const;

  std::uint16_t port() const noexcept { return port_; }
  const core::Address& out_addr() const noexcept { return out_addr_; }
  const core::PeerId& id() const noexcept { return id_; }
  const Protocol& protocol() const noexcept { return protocol_; }
  /// Our certificate's SHA-256 fingerprint; empty for Plaintext.
  std::string tls_fingerprint() const { return tls_ ? tls_->fingerprint() : std::string(); }
  /// The remote address and direction of a live connection (for a Connection handed to a
  /// handler before the handshake completed). Strand only.
  const Link* link(core::ConnId conn) const;

  /// Logs through the configured sink.
  void log(int level, const std::string& text) const;
  /// Whether log(level, ...) would print: hot paths test it before building the text.
  bool logs(int level) const noexcept { return cfg_.log && level <= cfg_.log_level; }
  /// Records an error for status() and logs it at level 1. Strand only.
  void record_error(std::string what);
  RuntimeCounters& counters() noexcept { return rt_counters_; }  ///< strand only
  /// Emptied command-queue segments kept for reuse (for tests). Any thread.
  std::size_t spare_inbox_segments();

 private:
  Runtime(asio::io_context& ioc, RuntimeConfig config);

  template <class F>
  void item(F&& f);
  void pump();
  void execute(core::Command& cmd);
  /// The recent error a failed dial or handshake reports; other events report none.
  void record_event_error(const core::EventCmd& e);
  /// Copies the counters to the snapshot, and the routing views when the node's tables
  /// changed since the last copy (or `force_tables`): rebuilding them is the costly part.
  void publish(bool force_tables);
  void drain_inbox();

  void accept_loop();
  void on_accept(const std::error_code& ec, asio::ip::tcp::socket socket);
  void tick_loop();

  void dial(const core::DialCmd& cmd);
  void connect_endpoints(std::shared_ptr<Link> link, std::vector<asio::ip::tcp::endpoint> eps,
                         std::size_t next, std::string last_error);
  void dial_connected(const std::shared_ptr<Link>& link);
  /// TCP_NODELAY, keep-alive and TCP_USER_TIMEOUT on a new connection.
  void configure_socket(asio::ip::tcp::socket& socket);
  void dial_failed(const std::shared_ptr<Link>& link, const std::string& reason);
  void link_ready(const std::shared_ptr<Link>& link);

  void start_read(const std::shared_ptr<Link>& link);
  void on_read(const std::shared_ptr<Link>& link, const std::error_code& ec, std::size_t n);
  void send_frame(core::ConnId conn, core::SharedFrame frame);
  void start_write(const std::shared_ptr<Link>& link);
  /// Starts the writes send_frame() deferred during a pump.
  void start_due_writes();
  void on_write(const std::shared_ptr<Link>& link, const std::error_code& ec, std::size_t n);
  /// Backlog accounting for pacing (see submit).
  void update_backlog(Link& link);
  void set_paused(bool paused);
  void close_stalled_links();
  /// Closes the acceptor, the timers and every connection. Strand only.
  void shutdown_io();
  /// On the strand: runs every submitted command, then reports flushed once no link has
  /// anything left to write.
  void begin_flush();
  void check_flushed();

  /// The node asked to close `conn`: flush what is queued (briefly), then close.
  void close_by_node(core::ConnId conn, const std::string& reason);
  /// The connection failed or the peer left: close now and tell the node.
  void fail_link(const std::shared_ptr<Link>& link, const std::string& reason);
  /// Shuts the socket down and marks the link closed (no node input).
  void finish_close(const std::shared_ptr<Link>& link);

  asio::io_context& ioc_;
  asio::strand<asio::io_context::executor_type> strand_;
  RuntimeConfig cfg_;
  std::shared_ptr<TlsContext> tls_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer tick_timer_;
  asio::steady_timer accept_retry_;
  asio::ip::tcp::resolver resolver_;
  std::unique_ptr<core::Node> node_;
  std::uint16_t port_ = 0;
  core::Address out_addr_;
  core::PeerId id_;
  Protocol protocol_;
  Hooks hooks_;
  bool started_ = false;

  // ---- strand-only state (guarded by item_mu_ for close()) ----
  std::mutex item_mu_;
  std::atomic<bool> closed_{false};
  bool errors_dirty_ = true;
  std::map<core::ConnId, std::shared_ptr<Link>> links_;
  std::set<std::shared_ptr<Link>> closing_;  ///< flushing before they close
  RuntimeCounters rt_counters_;
  std::size_t backlogged_links_ = 0;
  std::size_t writes_in_flight_ = 0;               ///< links with `writing` set
  std::vector<core::Command> commands_;            ///< reused by pump()
  std::vector<std::shared_ptr<Link>> writes_due_;  ///< links whose write pump() starts
  std::uint64_t published_tables_version_ = 0;     ///< node_->tables_version() in snap_
  std::deque<RecentError> errors_;

  // ---- commands from other threads ----
  std::mutex inbox_mu_;
  std::condition_variable inbox_room_;
  bool accepting_ = true;
  bool drain_posted_ = false;
  bool paused_ = false;  ///< mirror of backlogged_links_ > 0, for submit()
  /// The most segments inbox_ held since the last tick, counting those it held at the tick.
  std::size_t inbox_peak_since_tick_ = 0;
  /// A send whose frame travels by value in the inbox's byte buffer: `message.raw` is empty,
  /// and the io thread rebuilds it from `size` bytes at `offset`. Small frames go this way so
  /// that a frame is allocated and freed on the same thread: one allocated by the sender
  /// and freed by the io thread (after its write) goes back through glibc's arena lock,
  /// which both threads then fight over once per message.
  struct InlineSend {
    core::PreparedMessage message;
    std::size_t offset = 0;
    std::size_t size = 0;
  };
  /// Any other call on the node, with the bytes of the payload it holds.
  struct NodeCall {
    std::function<void(core::Node&, core::Time)> fn;
    std::size_t bytes = 0;
  };
  /// A command from another thread: an encoded send, or any call on the node.
  using InboxItem = std::variant<core::PreparedMessage, InlineSend, NodeCall>;
  /// The bytes an item counts against max_pending_bytes.
  static std::size_t held_bytes(const InboxItem& item) noexcept;
  /// A run of queued commands, with the frames of its InlineSends. Its vectors are sized
  /// once, for inbox_segment_items and inbox_segment_bytes, and never grow.
  struct InboxSegment {
    std::vector<InboxItem> items;
    std::vector<std::uint8_t> bytes;
    std::size_t held = 0;  ///< held_bytes() of items
  };
  /// The queue is a FIFO of fixed-size segments that the io thread takes one at a time and
  /// gives back once it has run them. A burst that outruns the io thread fills more
  /// segments instead of doubling one vector the size of the backlog: nothing is copied
  /// as the queue grows, and in a steady stream the same few segments go round, so neither
  /// side allocates or faults in fresh pages. back() is the segment being filled.
  std::deque<InboxSegment> inbox_;
  std::vector<InboxSegment> spare_segments_;  ///< emptied, their capacity kept
  std::size_t inbox_items_ = 0;               ///< items in inbox_
  std::size_t inbox_held_bytes_ = 0;          ///< held_bytes() of inbox_'s items
  std::size_t taken_left_ = 0;        ///< taken by the io thread, not run yet (counts as queued)
  std::size_t taken_left_bytes_ = 0;  ///< their held_bytes(), as of the last drain
  std::size_t room_waiters_ = 0;      ///< producers waiting for the queue to shrink
  std::atomic<std::uint64_t> sender_waits_{0};  ///< RuntimeCounters::sender_waits
  std::size_t queued() const noexcept { return inbox_items_ + taken_left_; }  ///< under lock
  std::size_t queued_bytes() const noexcept {                                 ///< under lock
    return inbox_held_bytes_ + taken_left_bytes_;
  }
  /// Under lock: a producer must wait (the queue is at one of its bounds).
  bool inbox_full() const noexcept;
  /// Under lock: waiting producers may go on (the queue is down to half of both bounds).
  bool inbox_has_room() const noexcept;
  /// A new empty segment, with its pages faulted in when `fault_in`; called without the
  /// lock.
  static InboxSegment ready_segment(bool fault_in);
  /// Under lock: keeps `segment` (emptied) for reuse, up to `keep` spares; else frees it.
  void recycle_segment(InboxSegment segment, std::size_t keep) noexcept;
  /// Buffers of large frames, back from their last write, for the senders' next frames;
  /// bounded by what the command queue and one write queue may hold, and emptied by the
  /// tick once unused for a whole tick interval.
  std::shared_ptr<FramePool> frame_pool_;
  // The io thread's side (touched on the strand only): the last take, run in order from
  // taken_next_, across strand turns if pacing stops it.
  InboxSegment taken_;
  std::size_t taken_next_ = 0;
  std::size_t taken_unrun_bytes_ = 0;  ///< held_bytes() of the taken items not run yet
  bool running_taken_ = false;         ///< drain_inbox() is running taken_'s commands
  /// Queues `item`; a non-empty `inline_frame` is the frame of an InlineSend, copied into
  /// the segment's bytes.
  bool enqueue(InboxItem item, ByteView inline_frame = {});
  /// On the strand: when the last take has run, gives its segment back and takes the
  /// oldest queued one.
  void take_inbox();
  /// On the strand, under inbox_mu_, with nothing queued: keeps one spare segment and frees
  /// the others, so that an idle node does not hold a burst's peak.
  void release_burst_capacity() noexcept;
  /// On the strand, from the tick: release_burst_capacity() once a whole tick interval went
  /// by without a take and the queue is empty; otherwise frees the spares beyond the most
  /// segments queued at once during the interval.
  void release_inbox_if_unused();
  /// On the strand: the next item of the last take, counted as run.
  InboxItem& next_taken() noexcept;
  /// On the strand: drops the rest of the last take (the runtime is closing).
  void drop_taken() noexcept;
  void run_inbox_item(InboxItem& item, core::Time now);

  std::atomic<bool> flush_started_{false};  ///< one close() waits for the flush, once
  bool flushing_ = false;                   ///< close() waits for the write queues to drain
  std::promise<void> flushed_;
  bool flushed_set_ = false;
  std::promise<void> io_closed_;
  std::shared_future<void> io_closed_future_ = io_closed_.get_future().share();

  // ---- snapshot for other threads ----
  mutable std::mutex snap_mu_;
  Snapshot snap_;
};

}  // namespace p2p::net
