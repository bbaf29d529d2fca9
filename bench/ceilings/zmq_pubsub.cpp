// zmq_pubsub: the ZeroMQ PUB/SUB ceiling the p2pmesh one-hop benchmark is compared with.
//
//   zmq_pubsub [--count K] [--size S]
//
// Two processes (fork) over tcp://127.0.0.1 with Debian's libzmq: the subscriber binds, the
// publisher connects and sends K messages of S bytes. High-water marks are unlimited so no
// message is dropped. Rate = K / (time from the subscriber's go signal to its K-th message),
// measured at the subscriber. Before the go, the publisher sends "hello" messages until the
// subscription has propagated (PUB drops messages nobody has subscribed to yet: the slow
// joiner), so every counted message is one the subscriber really gets.
//
// Prints one JSON line.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#include <zmq.hpp>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

std::size_t arg(int argc, char** argv, const char* name, std::size_t fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::strtoull(argv[i + 1], nullptr, 10);
  return fallback;
}

/// The publisher: connects to `endpoint`, says hello until `go_fd` is readable, then sends
/// `count` data messages and waits for the subscriber's end (EOF on go_fd).
void publish(const std::string& endpoint, int go_fd, std::size_t count, std::size_t size) {
  zmq::context_t ctx(1);
  zmq::socket_t pub(ctx, zmq::socket_type::pub);
  pub.set(zmq::sockopt::sndhwm, 0);
  pub.connect(endpoint);
  const char hello = 'H';
  pollfd p{go_fd, POLLIN, 0};
  while (poll(&p, 1, 1) == 0) pub.send(zmq::const_buffer(&hello, 1), zmq::send_flags::none);
  char go = 0;
  if (read(go_fd, &go, 1) != 1) die("go");
  std::vector<char> data(size, 'D');
  for (std::size_t i = 0; i < count; ++i)
    pub.send(zmq::const_buffer(data.data(), data.size()), zmq::send_flags::none);
  // Keep the socket open until the subscriber has everything (it closes the pipe then).
  while (read(go_fd, &go, 1) > 0) {
  }
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  const std::size_t count = arg(argc, argv, "--count", 1'000'000);
  const std::size_t size = std::max<std::size_t>(1, arg(argc, argv, "--size", 64));
  int endpoint_pipe[2], go_pipe[2];
  if (pipe(endpoint_pipe) != 0 || pipe(go_pipe) != 0) die("pipe");

  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    alarm(600);  // bounded even if the subscriber dies
    close(endpoint_pipe[1]);
    close(go_pipe[1]);
    char buf[256] = {};
    ssize_t n = read(endpoint_pipe[0], buf, sizeof buf - 1);
    if (n <= 0) die("endpoint");
    publish(std::string(buf, static_cast<std::size_t>(n)), go_pipe[0], count, size);
    _exit(0);
  }
  close(endpoint_pipe[0]);
  close(go_pipe[0]);

  double seconds = 0;
  {
    zmq::context_t ctx(1);
    zmq::socket_t sub(ctx, zmq::socket_type::sub);
    sub.set(zmq::sockopt::rcvhwm, 0);
    sub.set(zmq::sockopt::subscribe, "");
    sub.bind("tcp://127.0.0.1:*");
    const std::string endpoint = sub.get(zmq::sockopt::last_endpoint);
    if (write(endpoint_pipe[1], endpoint.data(), endpoint.size()) !=
        static_cast<ssize_t>(endpoint.size()))
      die("endpoint");
    close(endpoint_pipe[1]);

    zmq::message_t msg;
    do {  // hellos until the subscription works
      if (!sub.recv(msg, zmq::recv_flags::none)) die("recv");
    } while (msg.size() != 1 || *static_cast<const char*>(msg.data()) != 'H');
    const auto t0 = Clock::now();
    const char go = 'G';
    if (write(go_pipe[1], &go, 1) != 1) die("go");
    for (std::size_t got = 0; got < count;) {
      if (!sub.recv(msg, zmq::recv_flags::none)) die("recv");
      if (msg.size() == size && *static_cast<const char*>(msg.data()) == 'D') ++got;
    }
    seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    close(go_pipe[1]);
    sub.set(zmq::sockopt::linger, 0);
  }
  waitpid(child, nullptr, 0);
  std::printf(
      "{\"workload\":\"zmq_pubsub\",\"impl\":\"zmq\",\"count\":%zu,\"size\":%zu,"
      "\"seconds\":%.6f,\"msgs_per_s\":%.1f,\"payload_bytes_per_s\":%.1f}\n",
      count, size, seconds, static_cast<double>(count) / seconds,
      static_cast<double>(count * size) / seconds);
  return 0;
}
