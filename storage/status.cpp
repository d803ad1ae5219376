// Names of the storage error codes, for logs and error messages.
// The strings are stable: operators grep for them.
#include "storage/status.hpp"

namespace blast::storage {

const char* to_string(errc code) {
  switch (code) {
    case errc::ok:
      return "ok";
    case errc::io_error:
      return "io_error";
    case errc::corruption:
      return "corruption";
    case errc::not_found:
      return "not_found";
    case errc::invalid_argument:
      return "invalid_argument";
    case errc::busy:
      return "busy";
    case errc::shutting_down:
      return "shutting_down";
  }
  // Only reachable through a cast of an out-of-range number.
  return "unknown";
}

} // namespace blast::storage
