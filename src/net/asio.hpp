// Every Asio header the runtime uses, included in one place.
//
// GCC 12 reports -Wnull-dereference inside Asio's scheduler (scheduler.ipp) once it inlines
// it at -O2; the warning is about Asio's code, not ours, and -Werror would turn it into a
// build failure. The diagnostic state is tracked by source location, so silencing it around
// these includes only affects Asio's lines.
#pragma once

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
// GCC's ThreadSanitizer build warns that it does not model the fences of Asio's
// std_fenced_block; Asio's queues are mutex-protected, which TSan does model.
#pragma GCC diagnostic ignored "-Wtsan"
#endif
#include <asio/buffer.hpp>
#include <asio/connect.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <asio/post.hpp>
#include <asio/read.hpp>
#include <asio/ssl.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/write.hpp>
#pragma GCC diagnostic pop
