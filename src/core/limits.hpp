// The core's bounds are the public MeshLimits (include/p2p/limits.hpp): one definition, so
// the defaults and their reasons cannot drift apart.
#pragma once

#include "p2p/limits.hpp"

namespace p2p::core {

using Limits = MeshLimits;

}  // namespace p2p::core
