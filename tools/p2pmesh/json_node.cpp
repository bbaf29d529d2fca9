// `p2pmesh node --json`: one JSON object per line in, one per line out (docs/cli.md).
#include <cstdio>
#include <deque>
#include <mutex>
#include <string>

#include "json_packets.hpp"
#include "line_reader.hpp"
#include "message_log.hpp"
#include "nodes.hpp"
#include "p2p/mesh_socket.hpp"

namespace p2p::cli {

namespace {

/// Writes whole lines to stdout; events (io thread) and answers (command thread) never
/// interleave within a line.
class Out {
 public:
  void line(const Json& j) {
    const std::string text = j.dump(-1, ' ', false, Json::error_handler_t::replace);
    std::lock_guard lock(mu_);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }

 private:
  std::mutex mu_;
};

/// Tells the failures of dials the user asked for from those of the engine's own dials
/// (self-healing re-dials, peers-list entries, indirect replies), which are routine while a
/// peer is away and would drown real errors. The engine's dials always expect a peer id; a
/// `connect` expects one only when given "id". So a dial failure is automatic when it names
/// a peer that no `connect` still waiting for its outcome asked for. The one doubt (an
/// engine dial to an id a pending `connect` also names) is reported as the user's: an error
/// too many rather than one lost.
class UserDials {
 public:
  void asked(const std::string& id) {
    if (id.empty()) return;
    std::lock_guard lock(mu_);
    if (ids_.size() >= kMax) ids_.pop_front();  // outcomes never seen (a peer with another id)
    ids_.push_back(id);
  }
  /// The dial to `id` ended (failed, or the peer joined); true if the user had asked for it.
  bool settle(const std::string& id) {
    std::lock_guard lock(mu_);
    for (auto it = ids_.begin(); it != ids_.end(); ++it) {
      if (*it == id) {
        ids_.erase(it);
        return true;
      }
    }
    return false;
  }

 private:
  static constexpr std::size_t kMax = 256;
  std::mutex mu_;
  std::deque<std::string> ids_;
};

Json message_json(const LoggedMessage& m) {
  Json packets = Json::array();
  for (const auto& p : m.msg.packets()) packets.push_back(value_to_json(p));
  return Json{{"index", m.index},         {"recv_ns", m.recv_ns}, {"packets", packets},
              {"sender", m.msg.sender()}, {"time", m.msg.time()}, {"id", m.msg.id()}};
}

Json connection_json(const Connection& c) {
  Json j{{"id", c.id()},
         {"addr", Json::array({c.addr().host, c.addr().port})},
         {"outgoing", c.outgoing()}};
  j["compression"] =
      c.compression() ? Json(std::string(wire::compression_name(*c.compression()))) : Json(nullptr);
  return j;
}

Result<Array> packets_arg(const Json& cmd) {
  if (!cmd.contains("packets")) return Array{};
  const Json& p = cmd["packets"];
  if (!p.is_array()) return Error{Errc::invalid_argument, "packets must be an array"};
  auto v = json_to_value(p, "packets");
  if (!v) return v.error();
  return std::move(v).value().as_array();
}

template <class T>
Result<T> uint_arg(const Json& cmd, const char* name, T fallback, T max) {
  if (!cmd.contains(name)) return fallback;
  const Json& v = cmd[name];
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<std::int64_t>() >= 0))
    return Error{Errc::invalid_argument, std::string(name) + " must be a non-negative integer"};
  const auto u = v.get<std::uint64_t>();
  if (u > static_cast<std::uint64_t>(max))
    return Error{Errc::invalid_argument, std::string(name) + " is too large"};
  return static_cast<T>(u);
}

class JsonNode {
 public:
  JsonNode(MeshSocket& sock, MessageLog& log, Out& out, UserDials& dials)
      : sock_(sock), log_(log), out_(out), dials_(dials) {}

  /// Runs one command line; returns false after `quit`.
  bool run(const std::string& line) {
    Json cmd;
    try {
      cmd = Json::parse(line);
    } catch (const Json::parse_error& e) {
      out_.line(
          {{"re", nullptr}, {"ok", false}, {"error", std::string("malformed JSON: ") + e.what()}});
      return true;
    }
    if (!cmd.is_object() || !cmd.contains("cmd") || !cmd["cmd"].is_string()) {
      out_.line(
          {{"re", nullptr}, {"ok", false}, {"error", "expected an object with a \"cmd\" string"}});
      return true;
    }
    const std::string name = cmd["cmd"];
    Json answer{{"re", name}, {"ok", true}};
    bool keep_going = true;
    Status st = dispatch(name, cmd, answer, keep_going);
    if (!st) {
      answer["ok"] = false;
      answer["error"] = st.error().message;
    }
    out_.line(answer);
    return keep_going;
  }

 private:
  Status dispatch(const std::string& name, const Json& cmd, Json& answer, bool& keep_going) {
    try {
      if (name == "connect") return connect(cmd);
      if (name == "send") return send(cmd, answer);
      if (name == "recv") {
        Json list = Json::array();
        for (const auto& m : log_.drain()) list.push_back(message_json(*m));
        answer["messages"] = list;
        return {};
      }
      if (name == "reply") return reply(cmd);
      if (name == "request_peers") return sock_.request_peers();
      if (name == "state") return state(answer);
      if (name == "burst") return burst(cmd, answer);
      if (name == "wait") return wait(cmd, answer);
      if (name == "events") {
        if (!cmd.contains("on") || !cmd["on"].is_boolean())
          return Error{Errc::invalid_argument, "events needs \"on\": true|false"};
        events_on = cmd["on"].get<bool>();
        return {};
      }
      if (name == "reset") {
        log_.reset();
        baseline_ = sock_.status();
        return {};
      }
      if (name == "quit") {
        keep_going = false;
        return {};
      }
    } catch (const Json::exception& e) {
      return Error{Errc::invalid_argument, e.what()};
    } catch (const UsageError& e) {
      return Error{Errc::invalid_argument, e.what()};
    }
    return Error{Errc::invalid_argument, "unknown command '" + name + "'"};
  }

  Status connect(const Json& cmd) {
    if (!cmd.contains("host") || !cmd["host"].is_string())
      return Error{Errc::invalid_argument, "connect needs \"host\""};
    auto port = uint_arg<std::uint16_t>(cmd, "port", 0, 65535);
    if (!port) return port.error();
    std::string id =
        cmd.contains("id") && cmd["id"].is_string() ? cmd["id"].get<std::string>() : "";
    dials_.asked(id);  // before the dial: its failure may be reported before connect returns
    return sock_.connect(cmd["host"], *port, id);
  }

  Status send(const Json& cmd, Json& answer) {
    auto packets = packets_arg(cmd);
    if (!packets) return packets.error();
    auto flag = uint_arg<std::uint8_t>(cmd, "flag", flags::broadcast, 255);
    if (!flag) return flag.error();
    auto type = uint_arg<std::uint8_t>(cmd, "type", flags::broadcast, 255);
    if (!type) return type.error();
    answer["t_ns"] = monotonic_ns();
    return sock_.send(std::move(packets).value(), *flag, *type);
  }

  Status reply(const Json& cmd) {
    auto index = uint_arg<std::uint64_t>(cmd, "index", UINT64_MAX, UINT64_MAX);
    if (!index || *index == UINT64_MAX)
      return Error{Errc::invalid_argument, "reply needs \"index\""};
    auto msg = log_.get(*index);
    if (!msg)
      return Error{Errc::invalid_argument, "no message with index " + std::to_string(*index)};
    auto packets = packets_arg(cmd);
    if (!packets) return packets.error();
    return msg->reply(std::move(packets).value());
  }

  Status state(Json& answer) {
    answer["id"] = sock_.id();
    answer["protocol_id"] = sock_.protocol().id();
    answer["out_addr"] = Json::array({sock_.out_addr().host, sock_.out_addr().port});
    Json awaiting = Json::array();
    for (const auto& c : sock_.awaiting_ids()) awaiting.push_back(connection_json(c));
    answer["awaiting"] = awaiting;
    Json table = Json::array();
    for (const auto& [id, c] : sock_.routing_table()) table.push_back(connection_json(c));
    answer["routing_table"] = table;
    answer["received"] = log_.received();
    const MeshStatus st = sock_.status();
    auto since_reset = [&](const char* name) {
      const auto base = baseline_ ? baseline_->counter(name) : 0;
      return st.counter(name) - base;
    };
    answer["bcast_copies"] = since_reset("broadcast_copies_in");
    answer["bcast_dups"] = since_reset("duplicates_dropped");
    Json counters = Json::object();
    for (const auto& [k, v] : st.counters) counters[k] = v;
    Json errors = Json::array();
    for (const auto& e : st.recent_errors) errors.push_back(e.what);
    answer["status"] = Json{{"counters", counters},        {"recent_errors", errors},
                            {"peers", st.peers},           {"connections", st.connections},
                            {"recv_queue", st.recv_queue}, {"seen_cache", st.seen_cache}};
    return {};
  }

  Status burst(const Json& cmd, Json& answer) {
    auto count = uint_arg<std::uint64_t>(cmd, "count", 0, 100'000'000);
    if (!count) return count.error();
    auto size = uint_arg<std::size_t>(cmd, "size", 64, 64u << 20);
    if (!size) return size.error();
    if (*size < 10)
      return Error{Errc::invalid_argument, "size must be at least 10 (the sequence number)"};
    Bytes payload(*size, 0x61);
    const auto t0 = monotonic_ns();
    for (std::uint64_t i = 0; i < *count; ++i) {
      // The first 10 bytes: the zero-padded decimal sequence number (the bench reads it).
      std::uint64_t v = i;
      for (int d = 9; d >= 0; --d, v /= 10)
        payload[static_cast<std::size_t>(d)] = static_cast<std::uint8_t>('0' + v % 10);
      if (Status st = sock_.send(Array{Value(payload)}); !st) return st;
    }
    answer["t0_ns"] = t0;
    answer["t1_ns"] = monotonic_ns();
    return {};
  }

  Status wait(const Json& cmd, Json& answer) {
    auto count = uint_arg<std::uint64_t>(cmd, "count", 1, UINT64_MAX);
    if (!count) return count.error();
    double timeout = 10;
    if (cmd.contains("timeout")) {
      if (!cmd["timeout"].is_number() || cmd["timeout"].get<double>() < 0)
        return Error{Errc::invalid_argument, "timeout must be a number of seconds"};
      timeout = cmd["timeout"].get<double>();
    }
    auto r =
        log_.wait(*count, std::chrono::milliseconds(static_cast<std::int64_t>(timeout * 1000)));
    answer["ok"] = r.ok;
    answer["received"] = r.received;
    answer["first_ns"] = r.first_ns;
    answer["last_ns"] = r.last_ns;
    if (!r.ok) answer["error"] = "timed out";
    return {};
  }

 public:
  std::atomic<bool> events_on{true};

 private:
  MeshSocket& sock_;
  MessageLog& log_;
  Out& out_;
  UserDials& dials_;
  std::optional<MeshStatus> baseline_;
};

}  // namespace

int run_json_node(const NodeArgs& args) {
  Out out;
  auto [sock, exit_code, error] = open_node_socket(args);
  if (!sock) {
    out.line({{"event", "error"}, {"error", error}});
    std::fprintf(stderr, "p2pmesh: %s\n", error.c_str());
    return exit_code;
  }
  MessageLog log;
  UserDials dials;
  JsonNode node(*sock, log, out, dials);
  // The last handler sees every user-level message: it numbers and keeps it, and takes it
  // (the JSON interface keeps its own queue for `recv`, so indices stay consistent).
  sock->register_handler([&](Message& msg, Connection&) {
    const auto m = log.add(std::move(msg));
    if (node.events_on) {
      Json ev = message_json(*m);
      ev["event"] = "message";
      out.line(ev);
    }
    return true;
  });
  auto report = [&](const EventInfo& e) {
    out.line({{"event", "error"}, {"error", std::string(event_name(e.event)) + ": " + e.detail}});
  };
  sock->on(Event::dial_failed, [&out, &dials, report](const EventInfo& e) {
    if (e.peer.empty() || dials.settle(e.peer)) return report(e);
    out.line({{"event", "auto_dial_failed"}, {"peer", e.peer}, {"error", e.detail}});
  });
  sock->on(Event::handshake_failed, report);
  sock->on(Event::peer_joined, [&dials](const EventInfo& e) { dials.settle(e.peer); });
  for (const auto& c : args.connect) {
    auto ep = parse_endpoint(c);
    if (Status st = sock->connect(ep->host, ep->port); !st)
      out.line({{"event", "error"}, {"error", st.error().message}});
  }
  out.line({{"event", "ready"},
            {"id", sock->id()},
            {"port", sock->port()},
            {"protocol_id", sock->protocol().id()}});

  LineReader reader;
  while (auto line = reader.next_line()) {
    if (reader.truncated()) {
      out.line({{"re", nullptr}, {"ok", false}, {"error", "line too long"}});
      continue;
    }
    if (line->find_first_not_of(" \t") == std::string::npos) continue;
    if (!node.run(*line)) break;
  }
  sock->close();
  out.line({{"event", "bye"}});
  return 0;
}

}  // namespace p2p::cli
