// Prints blast::plugins::send_error by name in Boost.Test messages (found by ADL), shared by the
// plugin test suites.
#pragma once

#include <ostream>

#include "plugins/host/transport_plugin.hpp"

namespace blast::plugins {
inline std::ostream& operator<<(std::ostream& os, send_error e) {
  static const char* const names[] = {"none",      "retryable", "rate_limited",
                                      "permanent", "invalid",   "internal"};
  auto i = static_cast<size_t>(e);
  return i < 6 ? os << names[i] : os << "send_error(" << i << ")";
}
} // namespace blast::plugins
