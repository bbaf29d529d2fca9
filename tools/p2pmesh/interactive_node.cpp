// `p2pmesh node`: a node for people. Lines typed are broadcast; /commands do the rest.
#include <cstdio>
#include <ctime>
#include <mutex>
#include <sstream>

#include "line_reader.hpp"
#include "message_log.hpp"
#include "nodes.hpp"
#include "p2p/mesh_socket.hpp"

namespace p2p::cli {

namespace {

constexpr const char* help_text =
    "Type a line to broadcast it to the mesh. Commands:\n"
    "  /whisper ID TEXT   send TEXT to the direct peer whose id starts with ID\n"
    "  /reply N TEXT      reply to received message number N\n"
    "  /peers             list the routing table\n"
    "  /status            counters and recent errors\n"
    "  /help              this text\n"
    "  /quit              leave (so do Ctrl-C and end of input)\n";

std::string short_id(const std::string& id) {
  return id.size() > 12 ? id.substr(0, 12) + "..." : id;
}

std::string utc_text(std::uint64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

class Console {
 public:
  template <class... A>
  void print(const char* fmt, A... a) {
    std::lock_guard lock(mu_);
    std::printf(fmt, a...);
    std::fflush(stdout);
  }

 private:
  std::mutex mu_;
};

std::pair<std::string, std::string> split_word(const std::string& s) {
  const auto sp = s.find(' ');
  if (sp == std::string::npos) return {s, ""};
  return {s.substr(0, sp), s.substr(sp + 1)};
}

}  // namespace

int run_interactive_node(const NodeArgs& args) {
  auto [sock, exit_code, error] = open_node_socket(args);
  if (!sock) {
    std::fprintf(stderr, "p2pmesh: %s\n", error.c_str());
    return exit_code;
  }
  Console con;
  MessageLog log;
  sock->register_handler([&](Message& msg, Connection&) {
    const auto m = log.add(std::move(msg));
    const Message& logged = m->msg;
    con.print("[%llu] %s %s %s: %s\n", static_cast<unsigned long long>(m->index),
              utc_text(logged.time()).c_str(),
              logged.type() == flags::whisper ? "whisper" : "broadcast",
              short_id(logged.sender()).c_str(), Value(logged.packets()).repr().c_str());
    return true;
  });
  sock->on(Event::peer_joined,
           [&](const EventInfo& e) { con.print("* peer joined: %s\n", short_id(e.peer).c_str()); });
  sock->on(Event::disconnect,
           [&](const EventInfo& e) { con.print("* peer left: %s\n", short_id(e.peer).c_str()); });
  sock->on(Event::dial_failed,
           [&](const EventInfo& e) { con.print("* dial failed: %s\n", e.detail.c_str()); });
  sock->on(Event::handshake_failed,
           [&](const EventInfo& e) { con.print("* handshake refused: %s\n", e.detail.c_str()); });

  con.print("p2pmesh node %s listening on port %u (%s, subnet '%s', advertised %s)\n",
            sock->id().c_str(), static_cast<unsigned>(sock->port()),
            sock->protocol().encryption().c_str(), sock->protocol().subnet().c_str(),
            sock->out_addr().to_string().c_str());
  con.print("Type /help for commands.\n");
  for (const auto& c : args.connect) {
    auto ep = parse_endpoint(c);
    if (Status st = sock->connect(ep->host, ep->port); !st)
      con.print("! %s\n", st.error().message.c_str());
  }

  LineReader reader;
  while (auto line = reader.next_line(1u << 20)) {
    if (line->empty()) continue;
    if ((*line)[0] != '/') {
      if (Status st = sock->send(Array{Value(*line)}); !st)
        con.print("! %s\n", st.error().message.c_str());
      continue;
    }
    auto [cmd, rest] = split_word(*line);
    if (cmd == "/quit") break;
    if (cmd == "/help") {
      con.print("%s", help_text);
    } else if (cmd == "/peers") {
      auto table = sock->routing_table();
      con.print("%zu peer(s)\n", table.size());
      for (const auto& [id, c] : table)
        con.print("  %s %s %s %s\n", id.c_str(), c.addr().to_string().c_str(),
                  c.outgoing() ? "out" : "in",
                  c.compression() ? std::string(wire::compression_name(*c.compression())).c_str()
                                  : "none");
    } else if (cmd == "/status") {
      con.print("%s\n", sock->status().to_string().c_str());
    } else if (cmd == "/whisper") {
      auto [prefix, text] = split_word(rest);
      const Connection* target = nullptr;
      auto table = sock->routing_table();
      for (const auto& [id, c] : table)
        if (!prefix.empty() && id.rfind(prefix, 0) == 0) target = &c;
      if (!target) {
        con.print("! no peer whose id starts with '%s' (see /peers)\n", prefix.c_str());
      } else if (Status st = target->send(flags::whisper, flags::whisper, Array{Value(text)});
                 !st) {
        con.print("! %s\n", st.error().message.c_str());
      }
    } else if (cmd == "/reply") {
      auto [num, text] = split_word(rest);
      char* end = nullptr;
      const unsigned long long n = std::strtoull(num.c_str(), &end, 10);
      auto msg = (end && *end == '\0' && !num.empty()) ? log.get(n) : std::nullopt;
      if (!msg) {
        con.print("! no message number '%s'\n", num.c_str());
      } else if (Status st = msg->reply(Array{Value(text)}); !st) {
        con.print("! %s\n", st.error().message.c_str());
      }
    } else {
      con.print("! unknown command %s (try /help)\n", cmd.c_str());
    }
  }
  con.print("shutting down\n");
  sock->close();
  return 0;
}

}  // namespace p2p::cli
