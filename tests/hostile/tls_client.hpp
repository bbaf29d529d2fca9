// A TLS client for hostile tests, every step bounded by a deadline: a blocking Asio call
// on a node that misbehaves would hang the test instead of failing it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "mesh_test_util.hpp"
#include "net/asio.hpp"

namespace p2p::hostile {

class TlsClient {
 public:
  /// Connects to 127.0.0.1:port; with `handshake`, also completes the TLS handshake.
  TlsClient(std::uint16_t port, bool handshake) {
    ctx_.set_verify_mode(asio::ssl::verify_none);
    std::error_code ec;
    stream_.next_layer().connect({asio::ip::make_address("127.0.0.1"), port}, ec);
    ok_ = !ec;
    if (!ok_ || !handshake) return;
    ok_ = false;
    stream_.async_handshake(asio::ssl::stream_base::client,
                            [this](const std::error_code& e) { ok_ = !e; });
    run();
  }

  bool ok() const { return ok_; }

  bool write(ByteView data) {
    bool done = false;
    asio::async_write(stream_, asio::buffer(data.data(), data.size()),
                      [&](const std::error_code& e, std::size_t) { done = !e; });
    run();
    return done;
  }

  /// Reads (and discards) until the node ends the stream; false if it is still open at the
  /// deadline.
  bool wait_closed(std::chrono::milliseconds limit = p2p::testing::deadline) {
    bool ended = false;
    read_loop(ended);
    ioc_.restart();
    ioc_.run_for(limit);
    return ended;
  }

 private:
  void run() {
    ioc_.restart();
    ioc_.run_for(p2p::testing::deadline);
  }
  void read_loop(bool& ended) {
    stream_.async_read_some(asio::buffer(buf_),
                            [this, &ended](const std::error_code& e, std::size_t) {
                              if (e) {
                                ended = true;
                                ioc_.stop();
                                return;
                              }
                              read_loop(ended);
                            });
  }

  asio::io_context ioc_;
  asio::ssl::context ctx_{asio::ssl::context::tls_client};
  asio::ssl::stream<asio::ip::tcp::socket> stream_{ioc_, ctx_};
  std::uint8_t buf_[4096];
  bool ok_ = false;
};

}  // namespace p2p::hostile
