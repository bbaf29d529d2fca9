// Internals shared by the files of the public API: the handle that Message and Connection
// use to reach their socket, and the builders of those value types.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>

#include "core/node.hpp"
#include "net/clock.hpp"
#include "net/runtime.hpp"
#include "p2p/message.hpp"
#include "wire/msgpack_codec.hpp"

namespace p2p::detail {

/// How a Message or a Connection reaches the socket it came from. close() clears `rt`
/// under `mu`, so a value kept after its socket is gone finds nullptr instead of a
/// dangling runtime, then waits until no call that took `rt` earlier is still in it
/// (`callers`). The lock is not held during a call: from a user thread a call may wait for
/// room in the command queue, and the io thread that makes the room may need the handle
/// meanwhile (a handler that replies or sends on a Connection).
struct SocketHandle {
  std::mutex mu;
  std::condition_variable idle;  ///< notified when `callers` drops to 0
  net::Runtime* rt = nullptr;
  std::size_t callers = 0;

  /// Blocks until the calls in progress have left the runtime. Call after clearing `rt`
  /// and closing the runtime, so that a call waiting for room has been refused.
  void wait_for_callers() {
    std::unique_lock<std::mutex> lock(mu);
    idle.wait(lock, [&] { return callers == 0; });
  }
};

inline Error closed_error() {
  return Error{Errc::closed, "the socket is closed"};
}

/// The msgpack size of `packets`: what a command carrying them holds, for
/// MeshOptions::max_pending_command_bytes.
inline std::size_t packets_bytes(const Array& packets) {
  std::size_t n = 0;
  for (const Value& v : packets) n += wire::detail::encoded_size(v);
  return n;
}

/// Runs a node command: at once on the io thread (returning its result), else queued for
/// the io thread (errors found there are logged and recorded in status()). `bytes` is the
/// payload the command holds while it waits (see Runtime::submit).
template <class F>
Status run_command(net::Runtime& rt, const char* what, F&& f, std::size_t bytes = 0) {
  if (rt.on_strand()) {
    if (rt.closed()) return closed_error();
    Status s = f(rt.node(), net::now());
    if (!s) {
      ++rt.counters().commands_refused;
      rt.record_error(std::string(what) + " refused: " + s.error().to_string());
    }
    return s;
  }
  const bool queued = rt.submit(
      [rt_ptr = &rt, what, fn = std::forward<F>(f)](core::Node& n, core::Time t) mutable {
        Status s = fn(n, t);
        if (!s) {
          ++rt_ptr->counters().commands_refused;
          rt_ptr->record_error(std::string(what) + " refused: " + s.error().to_string());
        }
      },
      bytes);
  if (!queued) return closed_error();
  return {};
}

/// run_command through a handle (Message::reply, Connection::send).
template <class F>
Status run_command(const std::shared_ptr<SocketHandle>& handle, const char* what, F&& f,
                   std::size_t bytes = 0) {
  if (!handle) return Error{Errc::closed, "this value does not belong to a socket"};
  net::Runtime* rt = nullptr;
  {
    std::lock_guard<std::mutex> lock(handle->mu);
    if (!handle->rt) return closed_error();
    rt = handle->rt;
    ++handle->callers;
  }
  struct Leave {
    SocketHandle& handle;
    ~Leave() {
      std::lock_guard<std::mutex> lock(handle.mu);
      if (--handle.callers == 0) handle.idle.notify_all();
    }
  } leave{*handle};
  return run_command(*rt, what, std::forward<F>(f), bytes);
}

struct Access {
  static Message message(core::Message&& m, std::shared_ptr<SocketHandle> owner) {
    Message out;
    lend(out, std::move(m), owner);
    return out;
  }
  /// message() into an existing value, which a handler wrapper reuses from message to
  /// message: the owner is copied only when it differs (a copy is two atomic operations on
  /// its count, per message, and a handler that keeps nothing never changes it).
  static void lend(Message& out, core::Message&& m, const std::shared_ptr<SocketHandle>& owner) {
    out.packets_ = std::move(m.packets);
    out.sender_ = std::move(m.sender);
    out.sender_is_bin_ = m.sender_is_bin;
    out.time_ = m.time;
    out.digest_ = m.id;
    out.type_ = m.msg_type;
    out.via_ = m.via;
    if (out.owner_ != owner) out.owner_ = owner;
  }
  /// Undoes message(): the packets and sender go back to the engine's message, for the
  /// next handler or for recv(); the user may have changed the packets, as in py2p where
  /// every handler sees the same object.
  static void give_back(Message&& from, core::Message& to) {
    to.packets = std::move(from.packets_);
    to.sender = std::move(from.sender_);
  }
  /// The fields node.reply() reads (the packets are not needed).
  static core::Message reply_target(const Message& m) {
    core::Message out;
    out.msg_type = m.type_;
    out.sender = m.sender_;
    out.sender_is_bin = m.sender_is_bin_;
    out.time = m.time_;
    out.id = m.digest_;
    out.via = m.via_;
    return out;
  }
  static const std::shared_ptr<SocketHandle>& owner(const Message& m) { return m.owner_; }

  static Connection connection(const core::PeerInfo& p, std::shared_ptr<SocketHandle> owner) {
    Connection c;
    describe(c, p);
    c.owner_ = std::move(owner);
    return c;
  }
  /// Sets everything of `c` but its owner to describe the peer `p`. Assigning into an
  /// existing value keeps its strings' buffers (see the LinkView overload).
  static void describe(Connection& c, const core::PeerInfo& p) {
    c.id_.assign(p.id);
    c.addr_.host.assign(p.addr.host);
    c.addr_.port = p.addr.port;
    c.outgoing_ = p.outgoing;
    c.established_ = true;
    c.compression_ = p.compression;
    c.conn_ = p.conn;
  }
  static Connection connection(const core::PendingInfo& p, std::shared_ptr<SocketHandle> owner) {
    Connection c;
    c.id_ = p.expected_id.value_or(std::string());
    c.addr_ = Endpoint{p.addr.host, p.addr.port};
    c.outgoing_ = p.outgoing;
    c.conn_ = p.conn;
    c.owner_ = std::move(owner);
    return c;
  }
  /// Sets `c` to describe the link a handler's message arrived on (strand only: reads the
  /// runtime's links), as connection() would build it, in a value a handler wrapper reuses
  /// from message to message: the strings keep their buffers (a peer id, ~65 characters,
  /// took an allocation and a free per message) and the owner is copied only when it
  /// differs.
  static void describe(Connection& c, const core::LinkView& v, const net::Runtime& rt,
                       const std::shared_ptr<SocketHandle>& owner) {
    if (v.peer) {
      describe(c, *v.peer);  // its conn is v.conn
    } else {
      c.id_.clear();
      c.addr_.host.clear();
      c.addr_.port = 0;
      c.outgoing_ = false;
      c.established_ = false;
      c.compression_.reset();
      c.conn_ = v.conn;
      if (const net::Link* l = rt.link(v.conn)) {
        c.addr_.host.assign(l->remote.host);
        c.addr_.port = l->remote.port;
        c.outgoing_ = l->outgoing;
      }
    }
    if (c.owner_ != owner) c.owner_ = owner;
  }
  static const std::shared_ptr<SocketHandle>& owner(const Connection& c) { return c.owner_; }
};

}  // namespace p2p::detail
