# p2p_options: compile flags every p2pmesh target shares (warnings, sanitizers).
add_library(p2p_options INTERFACE)
target_compile_options(p2p_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align -Woverloaded-virtual
  -Wnull-dereference -Wimplicit-fallthrough)
if(P2P_WERROR)
  target_compile_options(p2p_options INTERFACE -Werror)
endif()

if(P2P_SANITIZE)
  set(_san -fsanitize=${P2P_SANITIZE} -fno-omit-frame-pointer)
  if(P2P_SANITIZE MATCHES "undefined")
    list(APPEND _san -fno-sanitize-recover=undefined)
  endif()
  # Sanitize the whole build (tests and tools too), so that instrumented and
  # uninstrumented code never share a std::vector across a call.
  add_compile_options(${_san})
  add_link_options(${_san})
endif()
